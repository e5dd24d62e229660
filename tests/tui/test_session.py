"""The wizard's decisions, without any screen: what is accepted, what is recorded, what is left."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.engine import scan
from auditor.models import Category, Confidence, Finding, FixSafety, Severity, Step
from auditor.tui.session import Decision, Scope, Session
from tests.helpers import FIXTURES


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Session:
    root = tmp_path_factory.mktemp("wizard") / "app"
    shutil.copytree(FIXTURES / "sloppy_fastapi", root)
    session = Session(root=root)
    session.scanned(scan(root, use_cache=False))
    return session


def unauthenticated(session: Session, method: str, path: str) -> Finding:
    """A PR201 finding on a real route of the fixture (the rule's own finding when it exists)."""
    route = next(r for r in session.result.index.routes if r.path == path and method in r.methods)
    for finding in session.result.findings:
        if finding.rule == "PR201" and session.route_of(finding) == route:
            return finding
    return Finding(
        rule="PR201", name="unauthenticated-route", step=Step.INFRASTRUCTURE, category=Category.AUTH,
        severity=Severity.HIGH, confidence=Confidence.MEDIUM, path=route.relpath, line=route.line,
        col=route.col, end_line=route.end_line, message="no authentication on this route",
    )


def test_findings_of_a_step_come_most_severe_first(session: Session):
    for step in Step:
        ranks = [f.severity.rank for f in session.findings(step)]
        assert ranks == sorted(ranks, reverse=True)
        assert all(f.step == step for f in session.findings(step))


def test_accept_safe_takes_only_undecided_safe_fixes(session: Session):
    step = Step.LOGGING
    safe = [f for f in session.findings(step) if f.fix_safety == FixSafety.SAFE]
    assert safe, "the fixture has print() calls with a safe fix"
    session.decide(safe[0], Decision.SKIP)
    assert session.accept_safe(step) == len(safe) - 1
    assert session.decision(safe[0]) == Decision.SKIP
    assert set(session.accepted()) == set(safe[1:])
    assert safe[0] in session.by_hand()
    for finding in safe:
        session.decide(finding, Decision.PENDING)
    assert session.accepted() == []


def test_not_a_problem_and_public_route_become_config_answers(session: Session):
    finding = session.findings(Step.DATA_MODEL)[0]
    route_finding = unauthenticated(session, "GET", "/tasks/{task_id}")
    assert session.question(route_finding) == "Is GET /tasks/{task_id} meant to be public (no login needed)?"
    assert session.question(finding) is None
    session.decide(finding, Decision.NOT_A_PROBLEM)
    assert session.public_entries(route_finding) == ["GET /tasks/{task_id}"], "one entry per method, not the bare path"
    session.decide(route_finding, Decision.PUBLIC, session.public_entries(route_finding))
    answers = session.answers()
    assert answers.ignores == {finding.path: [finding.rule]}
    assert answers.public_routes == ["GET /tasks/{task_id}"]
    assert session.has_unwritten_work
    edit = session.config_edit()
    assert '"GET /tasks/{task_id}"' in edit.diff() and finding.rule in edit.diff()
    assert not (session.root / "pyproject.toml").exists(), "nothing is written before apply"
    session.decide(finding, Decision.PENDING)
    session.decide(route_finding, Decision.PENDING)
    assert session.answers().is_empty and session.config_edit() is None


def test_projected_scores_count_what_the_answers_remove(session: Session):
    finding = session.findings(Step.STAGING)[0]
    before = session.result.scores()[Step.STAGING]
    session.decide(finding, Decision.NOT_A_PROBLEM)
    after = session.projected_scores()[Step.STAGING]
    assert after["findings"] == before["findings"] - 1 and after["score"] > before["score"]
    session.decide(finding, Decision.PENDING)


def test_a_rescan_keeps_decisions_of_findings_still_there(session: Session):
    finding = session.findings(Step.VALIDATION)[0]
    session.decide(finding, Decision.SKIP)
    session.scanned(scan(session.root, use_cache=False))
    assert session.decision(finding) == Decision.SKIP
    session.decide(finding, Decision.PENDING)


def test_a_finding_without_an_automatic_fix_cannot_be_accepted(session: Session):
    by_hand = next(f for f in session.result.findings if not f.fixable)
    assert session.decide(by_hand, Decision.ACCEPT) is False
    assert session.decision(by_hand) == Decision.PENDING
    assert by_hand not in session.accepted() and by_hand in session.by_hand()
    assert session.accept_safe(by_hand.step) >= 0 and session.decision(by_hand) == Decision.PENDING
    for finding in session.findings(by_hand.step):
        session.decide(finding, Decision.PENDING)


def test_not_a_problem_reaches_as_far_as_chosen(session: Session):
    finding = next(f for f in session.result.findings if f.path.endswith(".py") and len(session.silenced(f, Scope.EVERYWHERE)) > 1)
    line, file, everywhere = (session.silenced(finding, scope) for scope in Scope)
    assert line == [f for f in session.result.findings if (f.rule, f.path, f.line) == (finding.rule, finding.path, finding.line)]
    assert set(line) <= set(file) <= set(everywhere)
    assert {f.path for f in everywhere} > {finding.path} or len(everywhere) > len(file)

    session.decide(finding, Decision.NOT_A_PROBLEM, scope=Scope.EVERYWHERE)
    assert session.answers().everywhere == [finding.rule] and not session.answers().ignores
    assert f'+ignore = ["{finding.rule}"]' in session.config_edit().diff()

    session.decide(finding, Decision.NOT_A_PROBLEM, scope=Scope.LINE)
    assert session.answers().is_empty, "a line answer is a comment in the code, not config"
    edits, refused = session.comment_edits()
    assert not refused and [e.label for e in edits] == [finding.path]
    added = [l for l in edits[0].diff().splitlines() if l.startswith("+") and not l.startswith("+++")]
    assert len(added) == 1 and f"# prodready: ignore[{finding.rule}]" in added[0]
    source_line = session.result.index.source(finding.path).splitlines()[finding.line - 1]
    assert added[0][1:].startswith(source_line.rstrip()), "the comment goes at the end of the finding's own line"
    session.decide(finding, Decision.PENDING)


def test_a_line_comment_follows_its_line_when_a_fix_changes_the_file_above_it():
    from auditor.tui.suppressions import moved_line, suppressed_texts

    original = "import os\n\n\ndef f():\n    print('x')\n"
    fixed = "import logging\nimport os\n\nlogger = logging.getLogger(__name__)\n\n\ndef f():\n    print('x')\n"
    assert moved_line(original, fixed, 5) == 8
    assert moved_line(original, original.replace("print('x')", "print('y')"), 5) is None, "a rewritten line is not guessed at"
    texts, refused = suppressed_texts(Path("/nonexistent"), {"a.py": original}, {"a.py": {5: {"PR502"}}}, {"a.py": fixed})
    assert not refused
    assert texts["a.py"][1].splitlines()[7] == "    print('x')  # prodready: ignore[PR502]  not a problem here (answered in the wizard)"

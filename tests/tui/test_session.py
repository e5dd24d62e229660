"""The wizard's decisions, without any screen: what is accepted, what is recorded, what is left."""

from __future__ import annotations

import shutil

import pytest

from auditor.engine import scan
from auditor.models import Category, Confidence, Finding, FixSafety, Severity, Step
from auditor.tui.session import Decision, Session
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
    session.decide(route_finding, Decision.PUBLIC, "/tasks/{task_id}")
    answers = session.answers()
    assert answers.ignores == {finding.path: [finding.rule]}
    assert answers.public_routes == ["/tasks/{task_id}"]
    assert session.has_unwritten_work
    edit = session.config_edit()
    assert '"/tasks/{task_id}"' in edit.diff() and finding.rule in edit.diff()
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

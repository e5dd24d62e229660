"""One `fix` reaches a fixed point: right after applying, a second `fix` proposes nothing.

The plan rescans its own result; what its fixes raised is fixed in further rounds of the same
run, and a plan that does not settle within the cap says so (a bug, which these tests catch).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import pytest

import fixers.pipeline.plan as plan_module
from auditor.models import FixSafety
from fixers import apply_plan, plan_fixes
from fixers.base import Fixer
from fixers.registry import FIXERS, FixerSpec
from tests.helpers import FIXTURES, scan_project, write_project


def unsettled(plan) -> list[str]:
    return [note for note in plan.notes if "did not settle" in note]


@pytest.mark.parametrize("include_review", [False, True], ids=["safe", "include-review"])
@pytest.mark.parametrize("app", ["sloppy_fastapi", "sloppy_flask", "careful_app"])
def test_a_second_fix_after_apply_proposes_nothing(app, include_review, tmp_path):
    root = tmp_path / app
    # sloppy_fastapi is a link to the demo app: copy what it points to, never edit it in place.
    shutil.copytree(FIXTURES / app, root, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".prodready"))
    plan = plan_fixes(scan_project(root), include_review=include_review)
    assert not unsettled(plan), unsettled(plan)
    apply_plan(plan, rescan=False)
    again = plan_fixes(scan_project(root), include_review=include_review)
    assert again.is_empty, [(f.finding.rule, f.finding.location, f.fixer) for f in again.fixes] or again.diff()


# -- the loop itself, with fixers of the tests' own ---------------------------------------------------


@dataclass(frozen=True)
class SpecFor(FixerSpec):
    """A registry entry whose fixer class is given directly."""

    fixer: type = Fixer

    def load(self):
        return self.fixer(self)


class ChattyLoggingFixer(Fixer):
    """Sets logging up for PR501, and leaves a print() behind, which PR502 then reports."""

    def fix_file(self, relpath, findings, ws):
        text = ws.read(relpath)
        ws.write(relpath, "import logging\n\nlogging.basicConfig(level=logging.INFO)\nprint('logging is set up')\n" + text)
        return {f: None for f in findings}


APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
def index():
    return {}
"""


def test_what_the_first_round_raises_is_fixed_in_the_same_run(tmp_path, monkeypatch):
    print_fixer = next(spec for spec in FIXERS if "PR502" in spec.codes)  # the real print-to-logger fixer
    chatty = SpecFor("chatty-logging", ("PR501",), FixSafety.SAFE, "test", "", ChattyLoggingFixer)
    monkeypatch.setattr(plan_module, "FIXERS", (chatty, print_fixer))
    root = write_project(tmp_path / "app", {"app.py": APP})
    result = scan_project(root)
    assert [f.rule for f in result.findings if f.rule in ("PR501", "PR502")] == ["PR501"]

    plan = plan_fixes(result, [f for f in result.findings if f.rule == "PR501"])
    assert [(f.fixer, f.finding.rule) for f in plan.fixes] == [("chatty-logging", "PR501")]
    assert [(f.fixer, f.finding.rule, f.finding.path) for f in plan.follow_ups] == [("print-to-logger", "PR502", "app.py")]
    assert "fixes themselves raised" in plan.summary()
    (edit,) = plan.edits
    assert edit.old == APP.lstrip("\n")  # one edit from the bytes on disk to the last round's text
    assert "print(" not in edit.new and "logging is set up" in edit.new
    assert not unsettled(plan)

    apply_plan(plan, rescan=False)
    after = scan_project(root)
    assert not [f for f in after.findings if f.rule in ("PR501", "PR502")]


class EndlessFixer(Fixer):
    """Fixes each print by writing another print into a new module: never settles."""

    calls = 0

    def fix_file(self, relpath, findings, ws):
        type(self).calls += 1
        ws.write(relpath, ws.read(relpath).replace("print(", "str("))
        ws.write(f"more_{type(self).calls}.py", "from fastapi import FastAPI\n\n\ndef hello():\n    print('and one more')\n")
        return {f: None for f in findings}


def test_a_plan_that_never_settles_says_so_after_the_cap(tmp_path, monkeypatch):
    endless = SpecFor("endless", ("PR502",), FixSafety.SAFE, "test", "", EndlessFixer)
    monkeypatch.setattr(plan_module, "FIXERS", (endless,))
    EndlessFixer.calls = 0
    root = write_project(tmp_path / "app", {"app.py": APP.replace("return {}", "print('hello')\n    return {}")})
    plan = plan_fixes(scan_project(root))
    assert EndlessFixer.calls == plan_module.MAX_ROUNDS
    (note,) = unsettled(plan)
    assert f"after {plan_module.MAX_ROUNDS} rounds" in note and "PR502" in note and "bug" in note


def test_findings_that_only_move_or_reword_are_not_new():
    """A finding whose line moved, whose message changed (a count of places) or whose anchor moved
    to another file is the same finding; only what is left over is new."""
    from auditor.models import Category, Confidence, Finding, Severity, Step

    def finding(rule, path, line, message):
        return Finding(
            rule=rule, name="n", step=Step.STAGING, category=Category.STAGING, severity=Severity.LOW,
            confidence=Confidence.HIGH, path=path, line=line, col=0, end_line=line, message=message,
        )  # fmt: skip

    before = [finding("PR401", "a.py", 3, "read here and in 2 other modules"), finding("PR420", "main.py", 1, "no .env.example")]
    after = [
        finding("PR401", "a.py", 9, "read here and in 3 other modules"),
        finding("PR420", "settings.py", 30, "no .env.example"),
        finding("PR401", "b.py", 2, "read here and in 3 other modules"),
    ]
    assert plan_module.raised(before, after) == [after[2]]


class EarlyPrintFixer(Fixer):
    """Replaces print() with a helper from app/log.py, a module only a later fixer creates."""

    def fix_file(self, relpath, findings, ws):
        text = ws.read(relpath).replace("print(", "log_it(")
        ws.write(relpath, "from app.log import log_it\n" + text)
        return {f: None for f in findings}


class LateLogModuleFixer(Fixer):
    """Sets logging up for PR501 in a new app/log.py, which also defines the helper."""

    def fix_file(self, relpath, findings, ws):
        ws.write("app/log.py", "import logging\n\nlogging.basicConfig()\n\n\ndef log_it(*args):\n    logging.getLogger('app').info(*args)\n")
        return {f: None for f in findings}


def test_a_fix_refused_for_what_a_later_fix_creates_is_made_in_the_same_run(tmp_path, monkeypatch):
    early = SpecFor("early-print", ("PR502",), FixSafety.SAFE, "test", "", EarlyPrintFixer)
    late = SpecFor("late-log", ("PR501",), FixSafety.SAFE, "test", "", LateLogModuleFixer)
    monkeypatch.setattr(plan_module, "FIXERS", (early, late))
    root = write_project(tmp_path / "app", {"app/__init__.py": "", "app/main.py": APP.replace("return {}", "print('hit')\n    return {}")})
    result = scan_project(root)
    chosen = [f for f in result.findings if f.rule in ("PR501", "PR502")]
    assert sorted(f.rule for f in chosen) == ["PR501", "PR502"]

    plan = plan_fixes(result, chosen)
    # Round 1 refused the print fix (app.log did not exist yet); round 2 made it, for the same finding.
    assert sorted((f.fixer, f.finding.rule) for f in plan.fixes) == [("early-print", "PR502"), ("late-log", "PR501")]
    assert {f.finding for f in plan.fixes} == set(chosen) and not plan.skipped and not plan.follow_ups
    main = next(e.new for e in plan.edits if e.relpath == "app/main.py")
    assert "from app.log import log_it" in main and "log_it('hit')" in main


class GeneratedModuleFixer(Fixer):
    """Sets logging up for PR501 and writes a module with a print() into a git-ignored folder."""

    def fix_file(self, relpath, findings, ws):
        ws.write(relpath, "import logging\n\nlogging.basicConfig()\n" + ws.read(relpath))
        ws.write("generated/extra.py", "from fastapi import FastAPI\n\n\ndef hello():\n    print('hi')\n")
        return {f: None for f in findings}


def test_a_new_module_a_scan_would_not_see_raises_nothing(tmp_path, monkeypatch):
    """The rescan sees what a scan after applying would: not a module in a git-ignored folder."""
    print_fixer = next(spec for spec in FIXERS if "PR502" in spec.codes)
    generated = SpecFor("generated", ("PR501",), FixSafety.SAFE, "test", "", GeneratedModuleFixer)
    monkeypatch.setattr(plan_module, "FIXERS", (generated, print_fixer))
    root = write_project(tmp_path / "app", {"app.py": APP, ".gitignore": "generated/\n"})
    result = scan_project(root)
    plan = plan_fixes(result, [f for f in result.findings if f.rule == "PR501"])
    assert [f.fixer for f in plan.fixes] == ["generated"] and plan.follow_ups == []
    assert "print('hi')" in next(e.new for e in plan.edits if e.relpath == "generated/extra.py")
    apply_plan(plan, rescan=False)
    assert not [f for f in scan_project(root).findings if f.rule in ("PR501", "PR502")]

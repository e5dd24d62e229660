"""The fix engine: plans, diffs, composition, apply (checks, atomic writes, backups), undo."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import textwrap
import threading

import pytest

from auditor.models import FixSafety
from fixers import (
    FileEdit,
    LockedError,
    NothingToUndoError,
    OutsideProjectError,
    ReadOnlyFileError,
    StaleFileError,
    UndoConflictError,
    UnparsableResultError,
    WriteError,
    apply_plan,
    plan_fixes,
    preview,
    safety_for,
    undo,
)
from fixers.registry import FIXERS
from fixers.pipeline.storage import project_lock
from tests.fixers.helpers import at, digest, finding
from tests.helpers import scan_project, write_project

APP = """
import asyncio

from fastapi import FastAPI

app = FastAPI()


@app.post("/signup")
async def signup():
    print("new signup")
    asyncio.create_task(send_welcome())
    return {}
"""


def project(tmp_path, files=None):
    root = write_project(tmp_path / "proj", files or {"app.py": APP})
    return root, scan_project(root)


def test_registry_answers_each_code_once_and_declares_safety():
    codes = [code for spec in FIXERS for code in spec.codes]
    assert len(codes) == len(set(codes))
    assert safety_for("PR502") is FixSafety.SAFE
    assert safety_for("PR301") is FixSafety.REVIEW
    assert safety_for("PR999") is None
    for spec in FIXERS:
        assert spec.description and spec.load().spec is spec


def test_rule_docs_state_the_safety_of_their_fix():
    from auditor.rules.base import all_rules

    for code, rule in all_rules().items():
        safety = safety_for(code)
        if safety is not None:
            section = rule.doc.split("## Fix safety", 1)[1].strip().lower()
            assert section.startswith(safety.value), f"{code}: the doc's Fix safety section disagrees with the fixer ({safety.value})"


def only(result, code):
    return [f for f in result.findings if f.rule == code]


def prints_plan(result):
    """The plan of the print fixes alone: one file, whatever other fixers exist."""
    return plan_fixes(result, only(result, "PR502"))


def edit_of(plan, relpath):
    return next(e for e in plan.edits if e.relpath == relpath)


def test_plan_lists_edits_fixes_and_a_git_style_diff(tmp_path):
    root, result = project(tmp_path)
    plan = plan_fixes(result, only(result, "PR502"))
    assert not plan.is_empty
    assert plan.files_changed == ["app.py"]
    assert [f.finding.rule for f in plan.fixes] == ["PR502"]
    edit = plan.edits[0]
    assert edit.old == (root / "app.py").read_text()
    assert 'logger.info("new signup")' in edit.new
    diff = plan.diff()
    assert diff.startswith("diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ ")
    assert '-    print("new signup")\n+    logger.info("new signup")\n' in diff
    assert "\033[" not in diff and "\033[32m+" in plan.diff(color=True)


def test_fixes_on_one_file_compose(tmp_path):
    """The print fix and the task fix both land in app.py, each on the text the other left."""
    root, result = project(tmp_path)
    print_line, _ = at(APP, "print(")
    task_line, task_col = at(APP, "asyncio.create_task")
    chosen = [finding("PR502", "app.py", print_line, 4), finding("PR340", "app.py", task_line, task_col)]
    plan = plan_fixes(result, chosen)
    assert [f.finding.rule for f in plan.fixes] == ["PR502", "PR340"]
    new = plan.edits[0].new
    assert 'logger.info("new signup")' in new
    assert "_keep_task(asyncio.create_task(send_welcome()))" in new
    assert new.count("logger = logging.getLogger(__name__)") == 1
    compile(new, "app.py", "exec")


def test_planning_reports_progress_fixer_by_fixer(tmp_path):
    _, result = project(tmp_path)
    chosen = [f for f in result.findings if f.rule in {"PR502", "PR340"}]
    calls = []
    plan_fixes(result, chosen, progress=lambda *call: calls.append(call))
    assert calls == [("print-to-logger", 0, 2), ("keep-task-reference", 1, 2)]


def test_a_finding_after_lines_moved_by_an_earlier_fix_is_still_found(tmp_path):
    """The logging fix inserts lines above; the task finding keeps its scan-time line."""
    source = APP.replace('    print("new signup")\n', "")
    root, result = project(tmp_path, {"app.py": source})
    line, col = at(source, "asyncio.create_task")
    chosen = [finding("PR501", "app.py", 1), finding("PR340", "app.py", line, col)]
    plan = plan_fixes(result, chosen)
    assert not plan.skipped, plan.skipped
    assert "_keep_task(asyncio.create_task(send_welcome()))" in next(e.new for e in plan.edits if e.relpath == "app.py")


def test_dry_run_writes_nothing_and_apply_writes_exactly_the_plan(tmp_path):
    root, result = project(tmp_path)
    before = digest(root)
    plan = prints_plan(result)
    plan.diff()
    assert digest(root) == before
    report = apply_plan(plan)
    assert report.changed == ["app.py"]
    assert (root / "app.py").read_text() == plan.edits[0].new
    assert [f.rule for f in report.findings_gone] == [f.finding.rule for f in plan.fixes]
    assert not report.findings_left


def test_apply_then_undo_restores_every_byte_and_deletes_created_files(tmp_path):
    root, result = project(tmp_path, {"app.py": APP, "requirements.txt": "fastapi\n"})
    (root / "app.py").chmod(0o640)
    before = digest(root)
    plan = plan_fixes(result, [finding("PR501", "app.py", 1)] + only(result, "PR502"))
    assert "logging_setup.py" in plan.files_changed
    report = apply_plan(plan)
    # The app reads the logging settings and passes them; .env.example lists them.
    assert report.created == [".env.example", "logging_setup.py"]
    assert stat.S_IMODE((root / "app.py").stat().st_mode) == 0o640  # mode kept by the atomic write
    assert (report.backup_dir / "manifest.json").is_file()
    assert digest(root) != before

    restored = undo(root)
    assert restored.restored == ["app.py"] and restored.deleted == [".env.example", "logging_setup.py"]
    assert digest(root) == before
    assert stat.S_IMODE((root / "app.py").stat().st_mode) == 0o640
    with pytest.raises(NothingToUndoError):
        undo(root)


def test_second_plan_after_apply_proposes_nothing(tmp_path):
    root, result = project(tmp_path)
    line, col = at(APP, "asyncio.create_task")
    apply_plan(plan_fixes(result, only(result, "PR502") + [finding("PR501", "app.py", 1), finding("PR340", "app.py", line, col)]))
    after = scan_project(root)
    again = plan_fixes(after, [f for f in after.findings if f.rule in {"PR340", "PR501", "PR502"}])
    assert again.is_empty, again.diff()


def test_preview_is_the_fix_of_one_finding(tmp_path):
    source = APP.replace('    print("new signup")\n', '    print("new signup")\n    print("second")\n')
    root, result = project(tmp_path, {"app.py": source})
    prints = [f for f in result.findings if f.rule == "PR502"]
    plan = preview(result, prints[1])
    assert [f.finding for f in plan.fixes] == [prints[1]]
    assert 'print("new signup")' in plan.edits[0].new and 'logger.info("second")' in plan.edits[0].new


def test_review_fixes_need_include_review(tmp_path):
    files = {
        "app.py": textwrap.dedent(
            """
            from fastapi import FastAPI
            app = FastAPI()
            @app.post('/signup')
            def signup(payload: dict):
                return {'email': payload['email']}
            """
        )
    }
    root, result = project(tmp_path, files)
    assert any(f.rule == "PR301" for f in result.findings)
    assert not any(f.finding.rule == "PR301" for f in plan_fixes(result).fixes)
    assert any(f.finding.rule == "PR301" for f in plan_fixes(result, include_review=True).fixes)


# -- refusals: nothing is written ------------------------------------------------------------------


def test_stale_file_is_refused(tmp_path):
    root, result = project(tmp_path)
    plan = prints_plan(result)
    (root / "app.py").write_text(APP + "\n# edited after the scan\n")
    before = digest(root)
    with pytest.raises(StaleFileError, match="app.py changed on disk since the scan"):
        apply_plan(plan)
    assert digest(root) == before


def test_file_changed_between_scan_and_plan_is_refused(tmp_path):
    root, result = project(tmp_path)
    (root / "app.py").write_text(APP.replace("new signup", "edited"))
    with pytest.raises(StaleFileError):
        prints_plan(result)


def test_unparsable_result_is_refused(tmp_path):
    root, result = project(tmp_path)
    plan = prints_plan(result)
    good = plan.edits[0]
    bad = "def broken(:\n"
    plan.edits[0] = FileEdit(good.relpath, good.old, bad, good.base, bad.encode())
    before = digest(root)
    with pytest.raises(UnparsableResultError) as caught:
        apply_plan(plan)
    assert "\n" not in str(caught.value) and "app.py" in str(caught.value)
    assert digest(root) == before


def test_fixer_output_that_does_not_compile_is_skipped_not_planned(tmp_path, monkeypatch):
    import libcst as cst

    from fixers import logs

    monkeypatch.setattr(logs.PrintToLogger, "logger_call", lambda self, call: call.with_changes(func=cst.Name("class")))
    root, result = project(tmp_path)
    plan = plan_fixes(result, [f for f in result.findings if f.rule == "PR502"])
    assert plan.is_empty
    assert "the fixed app.py would not compile (line" in plan.skipped[0][1]


def test_a_crashing_fixer_is_reported_and_the_others_still_run(tmp_path, monkeypatch):
    from fixers import logs

    def crash(self, call):
        raise RuntimeError("boom")

    monkeypatch.setattr(logs.PrintToLogger, "logger_call", crash)
    root, result = project(tmp_path)
    line, col = at(APP, "asyncio.create_task")
    plan = plan_fixes(result, [f for f in result.findings if f.rule == "PR502"] + [finding("PR340", "app.py", line, col)])
    assert [f.finding.rule for f in plan.fixes] == ["PR340"]
    assert plan.skipped[0][1] == "internal error in the print-to-logger fixer: RuntimeError: boom"


def test_read_only_file_is_refused(tmp_path):
    root, result = project(tmp_path)
    plan = prints_plan(result)
    (root / "app.py").chmod(0o444)
    try:
        with pytest.raises(ReadOnlyFileError, match="app.py is read-only"):
            apply_plan(plan)
        assert (root / "app.py").read_text() == APP.lstrip("\n")
    finally:
        (root / "app.py").chmod(0o644)


def test_path_outside_the_project_is_refused(tmp_path):
    root, result = project(tmp_path)
    plan = prints_plan(result)
    plan.edits.append(FileEdit("../outside.py", None, "x = 1\n", None, b"x = 1\n"))
    with pytest.raises(OutsideProjectError, match="outside the project"):
        apply_plan(plan)
    assert not (tmp_path / "outside.py").exists()
    assert (root / "app.py").read_text() == APP.lstrip("\n")


def test_symlink_leaving_the_project_is_refused(tmp_path):
    root, result = project(tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    plan = prints_plan(result)
    plan.edits.append(FileEdit("link/new.py", None, "x = 1\n", None, b"x = 1\n"))
    with pytest.raises(OutsideProjectError):
        apply_plan(plan)
    assert not (outside / "new.py").exists()


def test_a_failed_write_puts_back_every_file(tmp_path, monkeypatch):
    from fixers.pipeline import apply as apply_module

    files = {"app.py": APP + "\nimport other  # noqa: E402\n", "other.py": "from fastapi import FastAPI\ndef f():\n    print('x')\n"}
    root, result = project(tmp_path, files)
    plan = plan_fixes(result, only(result, "PR502"))
    assert plan.files_changed == ["app.py", "other.py"]
    before = digest(root)
    real = apply_module.atomic_write
    calls = []

    def failing(path, data, mode=None):
        calls.append(path)
        if path.name == "other.py" and len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(path, data, mode)

    monkeypatch.setattr(apply_module, "atomic_write", failing)
    with pytest.raises(WriteError, match="could not write other.py: No space left on device"):
        apply_plan(plan)
    assert digest(root) == before


def test_a_second_apply_waits_for_the_lock(tmp_path):
    root, result = project(tmp_path)
    plan = prints_plan(result)
    with project_lock(root):
        with pytest.raises(LockedError, match=f"pid {os.getpid()}"):
            apply_plan(plan)
    assert (root / "app.py").read_text() == APP.lstrip("\n")
    apply_plan(plan)  # the lock is released


def test_concurrent_applies_do_not_interleave(tmp_path):
    root, result = project(tmp_path)
    plans = [prints_plan(result), prints_plan(result)]
    outcomes = []

    def run(plan):
        try:
            apply_plan(plan, rescan=False)
            outcomes.append("applied")
        except (LockedError, StaleFileError) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=run, args=(p,)) for p in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One writes; the other finds the lock taken, or (when it came second) a file changed under it.
    assert sorted(outcomes) in (["LockedError", "applied"], ["StaleFileError", "applied"])
    assert (root / "app.py").read_text() == edit_of(plans[0], "app.py").new


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    root, result = project(tmp_path)
    (root / ".prodready").mkdir()
    (root / ".prodready" / "lock").write_text("999999999")
    apply_plan(prints_plan(result))
    assert not (root / ".prodready" / "lock").exists()


def test_undo_refuses_when_files_changed_since(tmp_path):
    root, result = project(tmp_path)
    apply_plan(prints_plan(result))
    (root / "app.py").write_text("edited by hand\n")
    with pytest.raises(UndoConflictError, match="app.py changed since the fix was applied"):
        undo(root)
    assert (root / "app.py").read_text() == "edited by hand\n"


def test_undo_goes_back_one_apply_at_a_time(tmp_path):
    root, result = project(tmp_path)
    original = digest(root)
    print_line, _ = at(APP, "print(")
    apply_plan(plan_fixes(result, [finding("PR502", "app.py", print_line, 4)]))
    middle = digest(root)
    text = (root / "app.py").read_text()
    line, col = at(text, "asyncio.create_task")
    assert apply_plan(plan_fixes(scan_project(root), [finding("PR340", "app.py", line, col)])).changed == ["app.py"]
    undo(root)
    assert digest(root) == middle
    undo(root)
    assert digest(root) == original


def test_backups_stay_out_of_git_and_out_of_the_scan(tmp_path):
    root, result = project(tmp_path)
    apply_plan(prints_plan(result))
    assert (root / ".prodready" / ".gitignore").read_text() == "*\n"
    assert not any(f.path.startswith(".prodready") for f in scan_project(root).findings)


def test_nothing_to_apply(tmp_path):
    root, result = project(tmp_path, {"app.py": "x = 1\n"})
    plan = prints_plan(result)
    assert plan.is_empty and plan.diff() == ""
    assert apply_plan(plan).backup_dir is None


def test_diff_applies_with_git(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root, result = project(tmp_path, {"app.py": APP, "requirements.txt": "fastapi"})
    plan = plan_fixes(result, [finding("PR501", "app.py", 1)] + only(result, "PR502"))
    patch = tmp_path / "fix.patch"
    patch.write_text(plan.diff())
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "apply", "--check", str(patch)], cwd=root, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=root, check=True)
    assert (root / "app.py").read_text() == edit_of(plan, "app.py").new
    assert (root / "logging_setup.py").read_text() == edit_of(plan, "logging_setup.py").new

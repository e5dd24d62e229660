"""`fix --verify`: the project's own tests decide which fix groups stay (real runs, real fixers).

The fixture tests/fixtures/verify_prints has a test that reads what greet() prints (capsys):
the print-to-logger fix (PR502) breaks it; the other safe fixes (logging setup, error handler,
staging files) do not.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.engine import scan
from fixers.pipeline.plan import plan_fixes
from fixers.pipeline.verify import VerifyError, fix_groups, suite_style, verify_plan
from tests.fixers.helpers import digest
from tests.helpers import FIXTURES


def copy_fixture(tmp_path: Path, name: str = "app") -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / "verify_prints", root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return root


def own_tests(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_app.py", *args],
        cwd=root, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_group_that_breaks_a_test_is_rolled_back_the_others_stay_and_the_tree_is_untouched(tmp_path):
    root = copy_fixture(tmp_path)
    (root / "tests" / "test_known_bad.py").write_text("def test_already_failing():\n    assert 1 == 2\n")
    before = digest(root)
    plan = plan_fixes(scan(root, use_cache=False))
    groups = fix_groups(plan)
    assert "print-to-logger" in groups and "logging-setup" in groups

    seen = []
    report = verify_plan(plan, progress=lambda what, done, most: seen.append(what))

    assert digest(root) == before
    assert report.status == "verified"
    assert [group.fixer for group in report.rolled_back] == ["print-to-logger"]
    assert list(report.rolled_back[0].failures) == ["tests/test_app.py::test_greet_prints_the_greeting"]
    assert "assert '' == 'hello ada\\n'" in report.rolled_back[0].output()
    # the test failing before any fix is noted, never blamed on a fix
    assert report.before == (2, 1) and report.after == (2, 1)
    assert fix_groups(report.plan) == [g for g in groups if g != "print-to-logger"]
    reasons = {finding.rule: reason for finding, reason in report.plan.skipped}
    assert reasons["PR502"] == (
        "with this fix, your test tests/test_app.py::test_greet_prints_the_greeting fails "
        "(AssertionError: assert '' == 'hello ada\\n')"
    )
    assert all("print(message)" not in edit.old or "print(message)" in edit.new for edit in report.plan.edits if edit.old)
    assert seen[0] == "running your tests on an untouched copy of the project" and len(seen) == report.runs

    # the verified plan, written for real, keeps the app's own tests green
    from fixers.pipeline.apply import apply_plan

    apply_plan(report.plan, rescan=False)
    assert (root / "app" / "logging_setup.py").exists()
    done = own_tests(root)
    assert done.returncode == 0, done.stdout[-2000:]


def test_cli_verified_dry_run_says_what_it_runs_writes_nothing_and_apply_keeps_the_tests_green(tmp_path, capsys):
    root = copy_fixture(tmp_path)
    before = digest(root)
    flags = ["--verify", "--no-cache", "--no-progress", "--select", "PR501,PR502"]
    code = main(["fix", str(root), *flags])
    out, err = capsys.readouterr()
    assert code == 1 and digest(root) == before
    assert "--verify runs your project's own tests (your code) in a separate process on a copy" in err
    assert "`prodready scan` never runs your code" in err
    assert "verify: before the fixes 2 passed" in err
    assert "verify: rolled back print-to-logger (1 fix(es)): with this fix, your test tests/test_app.py::test_greet_prints_the_greeting fails" in err
    assert ">       assert capsys.readouterr().out == \"hello ada\\n\"" in err  # the failing test's own output
    assert "-    print(message)" not in out and "+from app.logging_setup import" in out

    code = main(["fix", str(root), "--apply", *flags])
    out, err = capsys.readouterr()
    assert code == 0
    assert "print(message)" in (root / "app" / "main.py").read_text()
    assert "fixed    app/main.py" in out
    done = own_tests(root)
    assert done.returncode == 0, done.stdout[-2000:]


def test_budget_spent_before_the_culprit_is_found_leaves_out_every_unverified_group(tmp_path):
    root = copy_fixture(tmp_path)
    plan = plan_fixes(scan(root, use_cache=False, overrides={"select": ["PR501", "PR502"]}))
    report = verify_plan(plan, max_runs=2)
    assert report.runs == 2
    assert report.plan.is_empty and not report.rolled_back
    assert report.unverified == fix_groups(plan)
    assert "budget (2 runs" in report.budget_note and "test_greet_prints_the_greeting" in report.budget_note
    assert {f for f, _ in report.plan.skipped} >= {fix.finding for fix in plan.fixes}
    assert any("verification budget ran out" in reason for _, reason in report.plan.skipped)


def test_unittest_suites_run_too(tmp_path):
    root = copy_fixture(tmp_path)
    shutil.rmtree(root / "tests")
    (root / "pytest.ini").unlink()
    (root / "tests.py").write_text(
        "import contextlib, io, unittest\n\nfrom app.main import greet\n\n\n"
        "class Greeting(unittest.TestCase):\n"
        "    def test_prints(self):\n"
        "        out = io.StringIO()\n"
        "        with contextlib.redirect_stdout(out):\n"
        "            greet('ada')\n"
        "        self.assertEqual(out.getvalue(), 'hello ada\\n')\n"
    )
    assert suite_style(root) == "unittest"
    result = scan(root, use_cache=False, overrides={"select": ["PR502"]})
    report = verify_plan(plan_fixes(result))
    assert [g.fixer for g in report.rolled_back] == ["print-to-logger"]
    assert list(report.rolled_back[0].failures) == ["tests.Greeting.test_prints"]
    assert report.how.startswith("unittest, with ")
    assert report.plan.is_empty and report.runs == 2


def test_no_tests_says_so_and_offers_the_failure_path_tests(tmp_path):
    root = copy_fixture(tmp_path)
    shutil.rmtree(root / "tests")
    plan = plan_fixes(scan(root, use_cache=False, overrides={"select": ["PR502"]}))
    report = verify_plan(plan)
    assert report.status == "no-tests" and report.plan is plan and report.runs == 0
    assert "no tests found" in report.lines()[0] and "PR431" in report.lines()[0]


def test_tests_that_cannot_start_stop_the_cli_with_one_line_and_exit_2(tmp_path, capsys):
    root = copy_fixture(tmp_path)
    (root / "tests" / "conftest.py").write_text("import no_such_module_anywhere\n")
    before = digest(root)
    with pytest.raises(VerifyError, match="before any fix"):
        verify_plan(plan_fixes(scan(root, use_cache=False, overrides={"select": ["PR502"]})))
    code = main(["fix", str(root), "--apply", "--verify", "--no-cache", "--no-progress", "--select", "PR502"])
    _, err = capsys.readouterr()
    assert code == 2
    last = err.strip().splitlines()[-1]
    assert "--verify cannot run your tests as they are, before any fix" in last and "no_such_module_anywhere" in last
    assert digest(root) == before


def suite(outcomes: dict[str, str], timed_out: bool = False, collect: dict[str, str] | None = None):
    from fixers.pipeline.runner import Isolation, RunResult
    from fixers.pipeline.verify import Outcome, SuiteRun

    run = RunResult(["pytest"], None if timed_out else 1, "last line of output", 3.0, timed_out, 3.0, Isolation((), False, ""))
    return SuiteRun(
        {test: Outcome(status, f"{status} message") for test, status in outcomes.items()},
        run,
        {module: Outcome("error", message) for module, message in (collect or {}).items()},
    )


def test_what_counts_as_newly_broken():
    from fixers.pipeline.verify import newly_broken

    baseline = suite({"t.py::a": "passed", "t.py::b": "passed", "t.py::c": "failed", "t.py::d": "skipped", "u.py::e": "passed"})
    after = suite({"t.py::a": "passed", "t.py::b": "error", "t.py::c": "failed", "t.py::d": "failed", "t.py::new": "failed"})
    broken = newly_broken(baseline, after)
    # b errors now; e vanished; c failed before; d never passed; the new test is not the baseline's
    assert sorted(broken) == ["t.py::b", "u.py::e"]
    assert broken["u.py::e"].status == "missing" and "exit code 1" in broken["u.py::e"].message

    hung = newly_broken(baseline, suite({"t.py::a": "passed"}, timed_out=True))
    assert sorted(hung) == ["t.py::b", "u.py::e"]
    assert hung["u.py::e"].message == "the tests did not finish: timed out after 3 s"

    unloadable = newly_broken(baseline, suite({"t.py::a": "passed", "t.py::b": "passed"}, collect={"u.py": "NameError: name 'logger' is not defined"}))
    assert list(unloadable) == ["u.py::e"]
    assert unloadable["u.py::e"].message == "u.py cannot be imported any more: NameError: name 'logger' is not defined"


def test_a_file_changed_since_the_plan_is_refused_before_any_test_runs(tmp_path):
    from fixers import StaleFileError

    root = copy_fixture(tmp_path)
    plan = plan_fixes(scan(root, use_cache=False, overrides={"select": ["PR502"]}))
    main_py = root / "app" / "main.py"
    main_py.write_text(main_py.read_text() + "\n# edited meanwhile\n")
    seen = []
    with pytest.raises(StaleFileError):
        verify_plan(plan, progress=lambda *args: seen.append(args))
    assert seen == []


def test_two_groups_that_each_break_a_test_are_both_rolled_back_in_few_runs(tmp_path):
    root = copy_fixture(tmp_path)
    main_py = root / "app" / "main.py"
    main_py.write_text(main_py.read_text() + '\n\n@app.get("/boom")\ndef boom():\n    raise RuntimeError("boom")\n')
    (root / "tests" / "test_errors.py").write_text(
        "import pytest\n\nfrom app.main import app\n\n\n"
        "def test_unexpected_errors_reach_the_test_client():\n"
        "    app.config['TESTING'] = True\n"
        "    with pytest.raises(RuntimeError):\n"
        "        app.test_client().get('/boom')\n"
    )
    before = digest(root)
    plan = plan_fixes(scan(root, use_cache=False))
    groups = fix_groups(plan)
    assert groups[:3] == ["logging-setup", "print-to-logger", "global-exception-handler"]
    report = verify_plan(plan)
    assert [g.fixer for g in report.rolled_back] == ["print-to-logger", "global-exception-handler"]
    assert list(report.rolled_back[1].failures) == ["tests/test_errors.py::test_unexpected_errors_reach_the_test_client"]
    assert fix_groups(report.plan) == [g for g in groups if g not in ("print-to-logger", "global-exception-handler")]
    # baseline, all, 2 halvings, without the first culprit, 1 halving (the passing prefix is kept), without the second
    assert report.runs == 7
    assert report.before == (3, 0) and report.after == (3, 0)
    assert digest(root) == before


def test_a_fix_whose_new_dependency_is_not_installed_says_to_install_it():
    from fixers.pipeline.verify import Outcome, RolledBack, missing_dependency

    failures = {"tests/test_api.py::test_login": Outcome("error", "ModuleNotFoundError: No module named 'pydantic_settings'")}
    assert missing_dependency(failures, ["alembic>=1.13", "pydantic-settings>=2"]) == "pydantic-settings>=2"
    assert missing_dependency(failures, ["alembic>=1.13"]) is None  # missing, but not something the fix adds
    other = {"t.py::a": Outcome("failed", "AssertionError: assert 500 == 200")}
    assert missing_dependency(other, ["pydantic-settings>=2"]) is None
    reason = RolledBack("settings-object", [], failures, "pydantic-settings>=2").reason()
    assert reason == (
        "with this fix, your test tests/test_api.py::test_login fails: it needs pydantic-settings>=2, which is not "
        "installed where your tests run; install it, then run `prodready fix --verify` again"
    )

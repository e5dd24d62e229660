"""Verified apply: the project's own tests, before and after the fixes, on copies of the project.

`verify_plan(plan)` runs the tests on an untouched copy (the baseline), then on a copy with the
plan written into it. A test that passed before and fails after is blamed on one fix group (the
fixes of one fixer): plans made of the first groups in registry order are tried, halving the
range each run, until the first group whose addition breaks the test is found. That group is
rolled back (its findings become skipped, with the failing test and its output as the reason)
and the rest is run again, until the tests pass or the budget of runs and time is spent; what
could not be cleared by then is dropped too. The plan returned has passed the tests as it is.

Tests that already failed at the baseline are noted and ignored. The user's tree is never
written: every run works in a fresh copy (see runner.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from auditor.models import Finding
from fixers.pipeline.apply import validate
from fixers.pipeline.errors import FixError
from fixers.pipeline.plan import FixPlan, plan_fixes
from fixers.pipeline.runner import DEFAULT_TIMEOUT, SKIPPED_DIRS, RunResult, Sandbox
from fixers.pipeline.workspace import inside

MAX_RUNS = 20  # test-suite runs per verification, the baseline included
MAX_SECONDS = 900.0  # for all runs together
FAILURE_TAIL = 40  # lines of a failing test's report kept

WHAT_IT_RUNS = (
    "--verify runs your project's own tests (your code) in a separate process on a copy of the "
    "project, with no network but 127.0.0.1; `prodready scan` never runs your code."
)

Progress = Callable[[str, int, int], None]  # (what runs now, runs done, the most runs it may take)


class VerifyError(FixError):
    """The project's tests cannot be run at all (the baseline does not start)."""


@dataclass(frozen=True)
class Outcome:
    status: str  # passed | failed | error | skipped | missing
    message: str = ""  # one line: "AssertionError: assert '' == 'hello\n'"
    text: str = ""  # the report's last lines

    @property
    def broken(self) -> bool:
        return self.status in ("failed", "error", "missing")


@dataclass
class SuiteRun:
    outcomes: dict[str, Outcome]  # test id -> outcome
    run: RunResult
    collect_errors: dict[str, Outcome] = field(default_factory=dict)  # module -> why it did not load

    @property
    def passed(self) -> set[str]:
        return {test for test, o in self.outcomes.items() if o.status == "passed"}

    def counts(self) -> tuple[int, int]:
        """(passed, failing) among the tests (the rehearsal's probes are counted apart)."""
        tests = [o for t, o in self.outcomes.items() if not t.startswith(PROBE_PREFIX)]
        failed = sum(1 for o in tests if o.broken) + len(self.collect_errors)
        return sum(1 for o in tests if o.status == "passed"), failed


class Check(Protocol):
    """Something run on a copy of the project that reports outcomes by id: the test suite here;
    the rehearsal's happy-path probes can be another (`verify_plan(plan, check=...)`). A check
    that needs the copy untouched after running the tests on it copies it first."""

    name: str

    def run(self, sandbox: Sandbox, copy: Path, timeout: float) -> SuiteRun: ...


PROBE_PREFIX = "happy path: "  # ids of the rehearsal's happy-path probes among the outcomes


@dataclass
class Both:
    """Two checks on the same copy, their outcomes together (the tests' run stands for both)."""

    first: Check | None  # the project's tests, None when it has none
    second: Check
    name: str = ""

    def run(self, sandbox: Sandbox, copy: Path, timeout: float) -> SuiteRun:
        second = self.second.run(sandbox, copy, timeout)  # it copies the copy: the tests see it untouched
        if self.first is None:
            return second
        first = self.first.run(sandbox, copy, timeout)
        first.outcomes.update(second.outcomes)
        first.run.duration += second.run.duration
        return first


# -- finding and running the project's tests --------------------------------------------------------

_PYTEST_PLUGIN = '''\
"""prodready's reporter: one JSON line per test phase and per collection error."""
import json, os

_OUT = os.environ["PRODREADY_OUTCOMES"]


def _write(record):
    with open(_OUT, "a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\\n")


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message.splitlines()[0]
    lines = [line for line in report.longreprtext.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def pytest_runtest_logreport(report):
    if report.passed and report.when != "call":
        return
    status = report.outcome
    if hasattr(report, "wasxfail"):
        status = "skipped"
    elif report.failed and report.when != "call":
        status = "error"
    _write({"id": report.nodeid, "status": status, "message": "" if report.passed else _message(report),
            "text": "" if report.passed else report.longreprtext[-8000:]})


def pytest_collectreport(report):
    if report.failed:
        _write({"collect": report.nodeid, "status": "error", "message": _message(report),
                "text": report.longreprtext[-8000:]})
'''

_UNITTEST_RUNNER = '''\
import json, os, sys, unittest

_OUT = open(os.environ["PRODREADY_OUTCOMES"], "a", encoding="utf-8")


class Result(unittest.TextTestResult):
    def _record(self, test, status, err=None):
        text = self._exc_info_to_string(err, test) if err else ""
        lines = [line for line in text.splitlines() if line.strip()]
        _OUT.write(json.dumps({"id": test.id(), "status": status, "message": lines[-1] if lines else "",
                               "text": text[-8000:]}) + "\\n")
        _OUT.flush()

    def addSuccess(self, test):
        super().addSuccess(test); self._record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err); self._record(test, "failed", err)

    def addError(self, test, err):
        super().addError(test, err); self._record(test, "error", err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason); self._record(test, "skipped")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err); self._record(test, "skipped")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test); self._record(test, "failed")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            self._record(subtest, "failed" if failed else "error", err)


suite = unittest.defaultTestLoader.discover(".")
result = unittest.TextTestRunner(resultclass=Result, verbosity=1).run(suite)
sys.exit(0 if result.wasSuccessful() else 1)
'''


def _project_files(root: Path):
    """The project's .py files, without descending into SKIPPED_DIRS or other virtualenvs."""
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS and not os.path.isfile(os.path.join(folder, d, "pyvenv.cfg"))]
        for name in filenames:
            if name.endswith(".py"):
                yield Path(folder) / name


def has_tests(root: Path) -> bool:
    """Whether the project has tests --verify can run (the wizard turns verify on then)."""
    return suite_style(root) is not None


def suite_style(root: Path) -> str | None:
    """"pytest" where files pytest collects exist (test_*.py, *_test.py), "unittest" where only
    unittest's own pattern finds tests (tests.py, test*.py built on unittest), else None."""
    names = [p.name for p in _project_files(Path(root)) if p.name.startswith("test") or p.name.endswith("_test.py")]
    if any(name.startswith("test_") or name.endswith("_test.py") for name in names):
        return "pytest"
    unittest_files = [p for p in _project_files(Path(root)) if p.name.startswith("test") and "unittest" in _head(p)]
    return "unittest" if unittest_files else None


def _head(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:20_000]
    except OSError:
        return ""


def _read_outcomes(path: Path) -> tuple[dict[str, Outcome], dict[str, Outcome]]:
    """Test id -> outcome (the worst phase wins: a teardown error makes a passed test an error)."""
    outcomes: dict[str, Outcome] = {}
    collect: dict[str, Outcome] = {}
    rank = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return outcomes, collect
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:  # a line cut by a kill on timeout
            continue
        outcome = Outcome(record["status"], record.get("message", ""), record.get("text", ""))
        if "collect" in record:
            collect[record["collect"]] = outcome
            continue
        previous = outcomes.get(record["id"])
        if previous is None or rank.get(outcome.status, 3) > rank.get(previous.status, 3):
            outcomes[record["id"]] = outcome
    return outcomes, collect


@dataclass
class ProjectTests:
    """The project's own test suite, run with pytest or unittest in the project's Python."""

    style: str  # "pytest" | "unittest"
    name: str = "tests"

    def run(self, sandbox: Sandbox, copy: Path, timeout: float) -> SuiteRun:
        helper = sandbox.dir / "prodready_helpers"
        helper.mkdir(exist_ok=True)
        record = sandbox.dir / f"outcomes-{copy.name}.jsonl"
        record.unlink(missing_ok=True)
        if self.style == "pytest":
            (helper / "prodready_outcomes.py").write_text(_PYTEST_PLUGIN, encoding="utf-8")
            args = ["{python}", "-m", "pytest", "-p", "prodready_outcomes", "-p", "no:cacheprovider", "-p", "no:randomly", "-q"]
        else:
            (helper / "prodready_unittest.py").write_text(_UNITTEST_RUNNER, encoding="utf-8")
            args = ["{python}", str(helper / "prodready_unittest.py")]
        run = sandbox.run(args, cwd=copy, timeout=timeout, env={"PRODREADY_OUTCOMES": str(record)}, path=[helper])
        outcomes, collect = _read_outcomes(record)
        # Paths as the user knows them: app/main.py, not /tmp/prodready-run-.../copy-3/app/main.py.
        inside_copy = f"{copy}{os.sep}"
        run.output = run.output.replace(inside_copy, "")
        for found in (outcomes, collect):
            for key, outcome in found.items():
                found[key] = Outcome(outcome.status, outcome.message.replace(inside_copy, ""), outcome.text.replace(inside_copy, ""))
        return SuiteRun(outcomes, run, collect)


def find_tests(sandbox: Sandbox) -> tuple[ProjectTests | None, str]:
    """The project's tests and how they will run, or None and why not (in plain words)."""
    style = suite_style(sandbox.root)
    if style is None:
        return None, "no tests found in the project"
    if style == "pytest":
        probe = sandbox.run(["{python}", "-c", "import pytest"], cwd=sandbox.tmp, timeout=60)
        if probe.ok:
            return ProjectTests("pytest"), f"pytest, with {sandbox.python.describe()}"
        if any("unittest" in _head(p) for p in _project_files(sandbox.root) if p.name.startswith("test")):
            return ProjectTests("unittest"), f"unittest (pytest is not installed there), with {sandbox.python.describe()}"
        raise VerifyError(
            f"--verify cannot run your tests: pytest is not installed in {sandbox.python.describe()}; "
            "install it there (pip install pytest) or leave --verify out"
        )
    return ProjectTests("unittest"), f"unittest, with {sandbox.python.describe()}"


# -- comparing runs ---------------------------------------------------------------------------------


def newly_broken(baseline: SuiteRun, after: SuiteRun) -> dict[str, Outcome]:
    """The tests that passed at the baseline and do not pass now (failed, errored, did not run)."""
    broken = {}
    for test in sorted(baseline.passed):
        outcome = after.outcomes.get(test)
        if outcome is None:
            outcome = _why_missing(test, after)
        if outcome.broken:
            broken[test] = outcome
    return broken


def _why_missing(test: str, after: SuiteRun) -> Outcome:
    if after.run.timed_out:
        return Outcome("error", f"the tests did not finish: {after.run.describe()}", _tail(after.run.output))
    for module, error in after.collect_errors.items():
        if test.startswith(module.split("::")[0]) or not module:
            return Outcome("error", f"{module or 'the tests'} cannot be imported any more: {error.message}", error.text)
    # pytest stopped before running anything (a conftest that no longer imports): its "E " line says why
    errors = [line[1:].strip() for line in after.run.output.splitlines() if line.startswith("E  ")]
    message = f"did not run: {errors[-1]}" if errors else "did not run" + (f" ({after.run.describe()})" if not after.run.ok else "")
    return Outcome("missing", message, _tail(after.run.output))


def missing_dependency(failures: dict[str, Outcome], dependencies: Sequence[str]) -> str | None:
    """The requirement the plan adds whose module the failing tests could not import, if any
    ("slowapi>=0.1.9" for "No module named 'slowapi'")."""
    for outcome in failures.values():
        found = re.search(r"No module named '([\w.]+)'", f"{outcome.message}\n{outcome.text}")
        if not found:
            continue
        module = found.group(1).split(".")[0].lower()
        for requirement in dependencies:
            name = re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]
            if name.lower().replace("-", "_") == module:
                return requirement
    return None


def _tail(text: str, lines: int = FAILURE_TAIL) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# -- the report -------------------------------------------------------------------------------------


@dataclass
class RolledBack:
    """A fix group taken out of the plan because a test that passed before fails with it."""

    fixer: str
    findings: list[Finding]
    failures: dict[str, Outcome]  # test id -> how it failed with the group in
    needs: str | None = None  # a dependency the fix adds that the project's Python lacks

    def reason(self) -> str:
        tests = list(self.failures)
        first = self.failures[tests[0]]
        probes = [t for t in tests if t.startswith(PROBE_PREFIX)]
        if probes:  # the app itself stops working, whatever the tests say
            # the step that answered wrong (not one left unreached after it), earliest first
            order = ("signup", "login", "create", "list")
            probes.sort(key=lambda t: (self.failures[t].status == "missing", next((i for i, w in enumerate(order) if t[len(PROBE_PREFIX):].startswith(w)), 9)))
            more = f" and {len(probes) - 1} more" if len(probes) > 1 else ""
            outcome = self.failures[probes[0]]
            why = "not reached" if outcome.status == "missing" else outcome.message
            return f"with this fix, the rehearsal's {probes[0]}{more} no longer answers 2xx ({why})"
        named = f"your test {tests[0]} fails"
        if len(tests) > 1:
            named = f"your tests {tests[0]} and {len(tests) - 1} more fail"
        if self.needs:
            return (
                f"with this fix, {named}: it needs {self.needs}, which is not installed where your tests run; "
                "install it, then run `prodready fix --verify` again"
            )
        return f"with this fix, {named}" + (f" ({first.message})" if first.message else "")

    def output(self) -> str:
        test, outcome = next(iter(self.failures.items()))
        return f"{test}\n{_tail(outcome.text) if outcome.text else outcome.message}"


@dataclass
class VerifyReport:
    plan: FixPlan  # what is safe to apply: it passed the tests as it is
    status: str  # "verified" | "no-tests" | "nothing-to-verify"
    how: str = ""  # how the tests ran: "pytest, with /path/python (the project's .venv/)"
    isolation: str = ""
    before: tuple[int, int] | None = None  # (passed, failing) at the baseline
    after: tuple[int, int] | None = None  # (passed, failing) with the final plan
    new_tests: tuple[int, int] | None = None  # tests the fixes add: (passed, failing)
    new_failures: dict[str, Outcome] = field(default_factory=dict)  # those of them that fail
    rolled_back: list[RolledBack] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)  # groups dropped when the budget ran out
    budget_note: str = ""
    happy: tuple[int, int] | None = None  # the app's happy paths: 2xx before the fixes, and still 2xx with them
    runs: int = 0
    seconds: float = 0.0

    def lines(self, output: bool = False) -> list[str]:
        """The outcome in plain words, one line each (the CLI prints them; the wizard shows them);
        with `output`, the failing test's report under each group rolled back."""
        if self.status == "nothing-to-verify":
            return ["verify: no fix to check"]
        if self.status == "no-tests":
            return [
                "verify: no tests found in the project, so the fixes were checked only statically (names "
                "resolve, rules re-run). The failure-path tests of PR431's fix give the app a first test suite."
            ]
        out = [f"verify: your tests ran with {self.how}; {self.isolation}"]
        passed, failing = self.before or (0, 0)
        out.append(f"verify: before the fixes {passed} passed" + (f", {failing} already failing (ignored)" if failing else ""))
        if self.after is not None:
            passed, failing = self.after
            out.append(f"verify: with the fixes {passed} passed" + (f", {failing} failing (none of them passed before)" if failing else ""))
        if self.happy:
            out.append(f"verify: the app's happy paths: {self.happy[0]} answered 2xx before the fixes, {self.happy[1]} of them with the fixes")
        if self.new_tests:
            passed, failing = self.new_tests
            out.append(f"verify: tests the fixes add: {passed} passed" + (f", {failing} failing" if failing else ""))
            for test, outcome in list(self.new_failures.items())[:3]:
                out.append(f"verify:   {test} fails: {outcome.message}")
        for group in self.rolled_back:
            out.append(f"verify: rolled back {group.fixer} ({len(group.findings)} fix(es)): {group.reason()}")
            if output:
                out.extend("    " + line for line in group.output().splitlines())
        if self.budget_note:
            out.append(f"verify: {self.budget_note}")
        out.append(f"verify: {self.runs} test run(s), {self.seconds:.0f} s")
        return out


# -- the search -------------------------------------------------------------------------------------


def fix_groups(plan: FixPlan) -> list[str]:
    """The plan's fixers, in the order the plan ran them (registry order)."""
    groups: list[str] = []
    for fix in plan.fixes:
        if fix.fixer not in groups:
            groups.append(fix.fixer)
    return groups


@dataclass
class _Search:
    plan: FixPlan
    include_review: bool
    sandbox: Sandbox
    check: Check
    timeout: float
    max_runs: int
    max_seconds: float
    progress: Progress | None
    started: float = field(default_factory=time.monotonic)
    runs: int = 0
    last_duration: float = 0.0
    plans: dict[tuple[str, ...], FixPlan] = field(default_factory=dict)

    def plan_for(self, groups: Sequence[str]) -> FixPlan:
        key = tuple(groups)
        if key not in self.plans:
            if key == tuple(fix_groups(self.plan)):
                self.plans[key] = self.plan
            else:
                findings = [f.finding for f in self.plan.fixes if f.fixer in key]
                self.plans[key] = plan_fixes(self.plan.result, findings, include_review=self.include_review) if findings else FixPlan(self.plan.result)
        return self.plans[key]

    def can_run(self) -> bool:
        elapsed = time.monotonic() - self.started
        return self.runs < self.max_runs and elapsed + self.last_duration <= self.max_seconds

    def run(self, what: str, groups: Sequence[str] | None) -> SuiteRun:
        """The check on a fresh copy: untouched (groups None) or with those groups' edits."""
        if self.progress:
            self.progress(what, self.runs, self.max_runs)
        files = None
        if groups is not None:
            files = {edit.relpath: edit.new_bytes or edit.new.encode("utf-8") for edit in self.plan_for(groups).edits}
        self.runs += 1
        copy = self.sandbox.copy(f"copy-{self.runs}", files)
        try:
            result = self.check.run(self.sandbox, copy, self.timeout)
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        self.last_duration = result.run.duration
        return result


def verify_plan(
    plan: FixPlan,
    *,
    include_review: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    max_runs: int = MAX_RUNS,
    max_seconds: float = MAX_SECONDS,
    progress: Progress | None = None,
    check: Check | None = None,
    isolate: bool = True,
    also: Check | None = None,
) -> VerifyReport:
    """Run the project's tests without and with the plan; roll back the fix groups that break
    a test that passed. Raises VerifyError when the tests cannot run at all."""
    if plan.is_empty:
        return VerifyReport(plan, "nothing-to-verify")
    for edit in plan.edits:  # what apply would refuse (a file changed since the plan), refused before the long runs
        validate(edit, inside(Path(plan.root), edit.relpath))
    with Sandbox(Path(plan.root), isolate=isolate) as sandbox:
        how = ""
        if check is None:
            check, how = find_tests(sandbox)
            if check is None and also is None:
                return VerifyReport(plan, "no-tests", isolation=sandbox.isolation.description)
        if also is not None:  # the rehearsal's happy paths beside the tests (or alone)
            how = f"{how}; and {also.name}" if check is not None else also.name
            check = Both(check, also, how)
        search = _Search(plan, include_review, sandbox, check, timeout, max(max_runs, 2), max_seconds, progress)
        report = VerifyReport(plan, "verified", how=how or check.name, isolation=sandbox.isolation.description)
        baseline = search.run("running your tests on an untouched copy of the project", None)
        _check_baseline(baseline, timeout)
        if not baseline.outcomes:
            report.status = "no-tests"
            return _finish(report, search)
        report.before = baseline.counts()
        # A fix that makes the tests hang should not cost the whole timeout on every run.
        search.timeout = min(timeout, 5 * baseline.run.duration + 60)
        verified, final_run = _search_groups(search, baseline, report)
        report.plan = _final_plan(plan, search.plan_for(verified), report)
        report.after, report.new_tests = _after_counts(baseline, final_run)
        report.new_failures = {
            t: o for t, o in final_run.outcomes.items() if t not in baseline.outcomes and o.broken and not t.startswith(PROBE_PREFIX)
        }
        green = [t for t, o in baseline.outcomes.items() if t.startswith(PROBE_PREFIX) and o.status == "passed"]
        if green:
            report.happy = (len(green), sum(1 for t in green if getattr(final_run.outcomes.get(t), "status", "") == "passed"))
        return _finish(report, search)


def _search_groups(search: _Search, baseline: SuiteRun, report: VerifyReport) -> tuple[list[str], SuiteRun]:
    """The fix groups that pass the tests together, and that run. Groups blamed for a broken
    test go to report.rolled_back; those the budget left unchecked to report.unverified."""
    groups = fix_groups(search.plan)
    passing: dict[tuple[str, ...], SuiteRun] = {(): baseline}  # runs known to break nothing
    after = search.run("running your tests with the fixes", groups)
    broken = newly_broken(baseline, after)
    lo = 0  # groups[:lo] passes (0: no fix, the baseline); it stays a passing prefix as culprits go
    def kept(upto: int) -> tuple[list[str], SuiteRun]:
        """groups[:upto], which passed (or, should a flaky test blur that, no fix at all)."""
        run = passing.get(tuple(groups[:upto]))
        return (groups[:upto], run) if run is not None else ([], baseline)

    while broken:
        lo = min(lo, len(groups) - 1)  # a flaky test may have passed the whole list once
        hi, failures = len(groups), broken  # groups[:hi] breaks a test
        while hi - lo > 1 and search.can_run():
            mid = (lo + hi) // 2
            trial = search.run(f"looking for the fix that breaks {next(iter(broken))}: trying the first {mid} of {len(groups)} fix groups", groups[:mid])
            trial_broken = newly_broken(baseline, trial)
            if trial_broken:
                hi, failures = mid, trial_broken
            else:
                lo = mid
                passing[tuple(groups[:mid])] = trial
        if hi - lo > 1:  # out of budget: keep what passed
            report.unverified = groups[lo:]
            report.budget_note = _budget_note(search, groups[lo:], broken)
            return kept(lo)
        culprit = groups[hi - 1]
        needs = missing_dependency(failures, search.plan_for(groups[:hi]).dependencies)
        report.rolled_back.append(
            RolledBack(culprit, [f.finding for f in search.plan.fixes if f.fixer == culprit], failures, needs)
        )
        last = hi == len(groups)
        groups = groups[: hi - 1] + groups[hi:]
        if last:  # what is left is groups[:lo], which passed
            return kept(lo)
        if not search.can_run():
            report.unverified = groups[lo:]
            report.budget_note = _budget_note(search, groups[lo:], broken)
            return kept(lo)
        after = search.run(f"running your tests without {culprit}", groups)
        broken = newly_broken(baseline, after)
    return groups, after


def _check_baseline(baseline: SuiteRun, timeout: float) -> None:
    run = baseline.run
    tests = [t for t in baseline.outcomes if not t.startswith(PROBE_PREFIX)]  # the probes do not say the tests ran
    if run.timed_out and not tests:
        raise VerifyError(
            f"--verify cannot run your tests: they did not finish within {timeout:g} s "
            "(give them more time with --verify-timeout SECONDS)"
        )
    if tests or run.returncode == 5:  # pytest: 5 means no tests were collected
        return
    if run.returncode == 0 and not baseline.collect_errors:
        return  # ran, but reported no test (an empty suite)
    last = [line for line in run.output.strip().splitlines() if line.strip()]
    detail = next((e.message for e in baseline.collect_errors.values() if e.message), last[-1] if last else run.describe())
    raise VerifyError(f"--verify cannot run your tests as they are, before any fix ({run.describe()}): {detail}")


def _after_counts(baseline: SuiteRun, final: SuiteRun) -> tuple[tuple[int, int], tuple[int, int] | None]:
    known = set(baseline.outcomes)
    tests = {t: o for t, o in final.outcomes.items() if not t.startswith(PROBE_PREFIX)}
    old = {t: o for t, o in tests.items() if t in known}
    new = {t: o for t, o in tests.items() if t not in known}
    after = (sum(1 for o in old.values() if o.status == "passed"), sum(1 for o in old.values() if o.broken))
    added = (sum(1 for o in new.values() if o.status == "passed"), sum(1 for o in new.values() if o.broken))
    return after, added if new else None


def _budget_note(search: _Search, groups: Sequence[str], broken: dict[str, Outcome]) -> str:
    test = next(iter(broken), "a test")
    return (
        f"the verification budget ({search.max_runs} runs, {search.max_seconds:.0f} s) ran out while looking "
        f"for the fix that breaks {test}: {', '.join(groups)} left out as not verified"
    )


def _final_plan(original: FixPlan, verified: FixPlan, report: VerifyReport) -> FixPlan:
    """The verified plan, with every finding of the original plan that it no longer fixes
    skipped for a reason the user can read."""
    if verified is original:
        return original
    final = FixPlan(
        original.result,
        edits=list(verified.edits),
        fixes=list(verified.fixes),
        dependencies=list(verified.dependencies),
        notes=list(verified.notes),
    )
    reasons: dict[Finding, str] = {}
    for group in report.rolled_back:
        for finding in group.findings:
            reasons[finding] = group.reason()
    for fix in original.fixes:
        if fix.fixer in report.unverified:
            reasons[fix.finding] = (
                "could not be checked against your tests: the verification budget ran out while looking "
                "for the fix that breaks one of them"
            )
    skipped = list(original.skipped)
    seen = {finding for finding, _ in skipped}
    fixed = {fix.finding for fix in final.fixes}
    for finding, reason in verified.skipped:
        if finding not in seen and finding not in reasons:
            skipped.append((finding, reason))
            seen.add(finding)
    for fix in original.fixes:
        if fix.finding not in fixed and fix.finding not in seen:
            skipped.append((fix.finding, reasons.get(fix.finding, "left out with the fixes it depends on")))
            seen.add(fix.finding)
    final.skipped = skipped
    return final


def _finish(report: VerifyReport, search: _Search) -> VerifyReport:
    report.runs = search.runs
    report.seconds = time.monotonic() - search.started
    return report

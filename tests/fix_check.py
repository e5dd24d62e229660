"""The promise of `prodready fix` checked on a whole app: run its own tests, apply the fixes of
one mode (safe, or all with review), then check that the tests still pass, that no changed
module uses a name it does not define, that `alembic upgrade head` works on a fresh database
where the project has migrations, that a second plan proposes nothing and that `undo` puts
every byte back. Shared by tests/test_fixes_keep_apps_green.py (fixture apps, in CI) and
benchmarks/real_apps.py (public apps, by hand)."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

# What a test run or the fixer's own bookkeeping leaves behind: not part of the project's bytes.
IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".prodready", ".venv", "venv", ".git", ".mypy_cache", ".ruff_cache", "instance"}
IGNORED_SUFFIXES = (".pyc", ".db", ".sqlite", ".sqlite3", "-journal", "-wal", "-shm", ".log")


def tree_hashes(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every project file."""
    hashes = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRS]
        for name in files:
            if name.endswith(IGNORED_SUFFIXES):
                continue
            path = Path(folder, name)
            hashes[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def hash_differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    changed = sorted(p for p in before.keys() & after.keys() if before[p] != after[p])
    return [f"changed: {p}" for p in changed] + [f"missing: {p}" for p in sorted(before.keys() - after.keys())] + [
        f"left behind: {p}" for p in sorted(after.keys() - before.keys())
    ]


@dataclass
class TestRun:
    returncode: int
    passed: int
    failed: int
    errors: int
    output: str
    seconds: float

    @property
    def green(self) -> bool:
        return self.returncode == 0 and self.failed == 0 and self.errors == 0 and self.passed > 0

    @property
    def failures(self) -> list[str]:
        """The ids of failing tests with their one-line reasons, from pytest's short summary."""
        lines = self.output.splitlines()
        failed = [line for line in lines if re.match(r"(FAILED|ERROR) \S", line)]
        if failed and all(" - " in line for line in failed):
            return failed
        # A module that cannot be imported (or a conftest: then no test is listed at all) gets no
        # reason on its summary line: its error lines say why.
        return failed + ([line.strip() for line in lines if line.startswith("E  ")][-3:] or lines[-3:])

    def brief(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.errors} errors"


def _count(pattern: str, line: str) -> int:
    found = re.search(rf"(\d+) {pattern}", line)
    return int(found.group(1)) if found else 0


def run_tests(root: Path, python: str = sys.executable, timeout: float = 300, args: tuple[str, ...] = ()) -> TestRun:
    """The project's own test suite in a subprocess, in the project folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "APP_ENV", "PYTHONPATH", "VIRTUAL_ENV"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [python, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *args],
            cwd=root,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return TestRun(-1, 0, 0, 1, output + f"\n(timed out after {timeout:.0f} s)", time.perf_counter() - started)
    output = done.stdout + done.stderr
    summary = next((line for line in reversed(done.stdout.splitlines()) if re.search(r"\d+ (passed|failed|error)", line)), "")
    return TestRun(
        done.returncode, _count("passed", summary), _count("failed", summary), _count("errors?", summary), output, time.perf_counter() - started
    )


def undefined_names(root: Path, relpaths) -> set[tuple[str, str]]:
    """(file, name) for every name pyflakes finds undefined in these Python files."""
    from pyflakes import checker, messages

    found = set()
    for relpath in relpaths:
        path = root / relpath
        if not relpath.endswith(".py") or not path.is_file():
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source, filename=relpath)
        except SyntaxError as exc:
            found.add((relpath, f"<syntax error: {exc.msg} line {exc.lineno}>"))
            continue
        for message in checker.Checker(tree, filename=relpath).messages:
            if isinstance(message, (messages.UndefinedName, messages.UndefinedLocal, messages.UndefinedExport)):
                found.add((relpath, message.message_args[0]))
    return found


def python_files(root: Path) -> list[str]:
    return [p for p in tree_hashes(root) if p.endswith(".py")]


def migrations_problem(root: Path, python: str = sys.executable) -> str | None:
    """`alembic upgrade head` on a fresh SQLite database (the URL through DATABASE_URL, as the
    migrations prodready writes read it): what fails, or None."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="prodready-migrate-") as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "APP_ENV", "PYTHONPATH"))}
        env.update(DATABASE_URL=f"sqlite:///{folder}/migrated.db", PYTHONDONTWRITEBYTECODE="1")
        try:
            done = subprocess.run([python, "-m", "alembic", "upgrade", "head"], cwd=root, capture_output=True, text=True, env=env, timeout=120)
        except subprocess.TimeoutExpired:
            return "alembic upgrade head on a fresh SQLite database did not finish in 120 s"
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip() and not line.startswith("(Background on")]
    errors = [line for line in lines if "Error" in line.split(":")[0]] or lines
    return "alembic upgrade head on a fresh SQLite database fails: " + (errors[-1][:300] if errors else f"exit {done.returncode}")


@dataclass
class FixOutcome:
    """What one mode of fixes did to one app, and every way it broke the promise."""

    mode: str
    fixes: int = 0
    skipped: int = 0
    rolled_back: int = 0  # fixes the plan itself took back after checking their output
    changed: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    tests: TestRun | None = None
    second_plan: list[str] = field(default_factory=list)  # "rule path: fixer" the second run would still fix
    undo_identical: bool | None = None
    plan_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


ROLLED_BACK = re.compile(r"not fixed automatically|rolled back|undefined|is not defined", re.IGNORECASE)


def apply_and_check(root: Path, include_review: bool, baseline: TestRun | None, python: str = sys.executable, timeout: float = 300) -> FixOutcome:
    """Fix `root` in place (a copy!), check it, and undo. `baseline`: the tests before any fix
    (None: the project has no runnable tests; only the static checks are made)."""
    from auditor.engine import scan
    from fixers import apply_plan, plan_fixes, undo

    outcome = FixOutcome("all" if include_review else "safe")
    before_bytes = tree_hashes(root)
    started = time.perf_counter()
    result = scan(root, use_cache=False)
    plan = plan_fixes(result, include_review=include_review)
    outcome.plan_seconds = time.perf_counter() - started
    outcome.fixes = len(plan.fixes)
    outcome.skipped = len(plan.skipped)
    outcome.rolled_back = sum(1 for _, reason in plan.skipped if ROLLED_BACK.search(reason))
    touched = [e.relpath for e in plan.edits]
    undefined_before = undefined_names(root, touched)
    report = apply_plan(plan)
    outcome.changed, outcome.created = report.changed, report.created
    try:
        new_undefined = sorted(undefined_names(root, touched) - undefined_before)
        for relpath, name in new_undefined:
            outcome.problems.append(f"undefined name {name!r} in {relpath}")
        if baseline is not None:
            outcome.tests = run_tests(root, python, timeout)
            if not outcome.tests.green:
                outcome.problems.append(f"tests after the fixes: {outcome.tests.brief()}: " + "; ".join(outcome.tests.failures[:8]))
        if (root / "alembic.ini").is_file():
            problem = migrations_problem(root, python)
            if problem:
                outcome.problems.append(problem)
        after = report.rescan if report.rescan is not None else scan(root, use_cache=False)
        again = plan_fixes(after, include_review=include_review)
        if not again.is_empty:
            outcome.second_plan = [f"{p.finding.rule} {p.finding.path}:{p.finding.line} ({p.fixer})" for p in again.fixes] or [
                f"edits {e.relpath}" for e in again.edits
            ]
            outcome.problems.append("a second plan still proposes: " + "; ".join(outcome.second_plan[:8]))
    finally:
        if report.backup_dir is not None:
            undo(root)
        differences = hash_differences(before_bytes, tree_hashes(root))
        outcome.undo_identical = not differences
        if differences:
            outcome.problems.append("undo did not restore every byte: " + "; ".join(differences[:8]))
    return outcome

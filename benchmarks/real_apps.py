"""Fixes on public apps that were not written for prodready: do their own tests stay green?

    python -m benchmarks.real_apps CHECKOUT [CHECKOUT ...] [--modes safe,all] [--no-verify]
    PRODREADY_REAL_APPS="/tmp/flasky /tmp/flaskr-tdd" python -m benchmarks.real_apps

Outside CI (it installs each app's requirements from PyPI and runs its tests). For each checkout
(a plain folder or a git clone; the checkout itself is never written):

1. copy it to /tmp/prodready-real-apps/<name>/project and create a virtualenv in the copy's
   `.venv/` with the app's requirements (the Python and the requirement files come from KNOWN
   below when the folder's name is there; `PATH:PYTHON` picks the interpreter by hand);
2. run the app's own tests (the "before" figure);
3. for each mode (safe fixes, then all fixes with review): plan the fixes, install the
   requirements the plan adds into the venv (what the user is told to do), run `--verify`
   (verify_plan: tests before and after on copies, fix groups that break a passing test are
   rolled back), apply the verified plan, run the tests again, plan a second time, then `undo`
   and compare every file's bytes with the state before the apply.

Prints one table: tests passing before / after safe / after all, fixes applied of those
planned, fixes rolled back by --verify, what a second run would still propose (fixes --verify
rolled back are proposed again, by design), and whether undo was byte-identical; then the
details (which fix groups were rolled back and why, which tests fail).

Apps used for the figures in the closing note (get them with `git clone`):
  https://github.com/miguelgrinberg/flasky            Flask, Flask-Login, Flask-HTTPAuth API, unittest
  https://github.com/mjhea0/flaskr-tdd                 Flask + Flask-SQLAlchemy, pytest
  https://github.com/erev0s/VAmPI                      Flask/connexion, no test suite (static checks only)
  https://github.com/Krit-Jain/NSS-OpenProject-2026   FastAPI + SQLAlchemy 2 + Alembic + JWT, pytest
(nsidnev/fastapi-realworld-example-app needs a PostgreSQL server and passes DATABASE_URL and
SECRET_KEY through the environment, which --verify's sandbox does not: not used.)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fix_check import TestRun, hash_differences, run_tests, tree_hashes, undefined_names  # noqa: E402

WORK = Path(os.environ.get("PRODREADY_REAL_APPS_WORK", "/tmp/prodready-real-apps"))
PYENV = Path.home() / ".pyenv" / "versions"


@dataclass(frozen=True)
class AppSetup:
    python: str = ""  # a Python version from pyenv ("3.7"), or empty: the Python running this script
    requirements: tuple[str, ...] = ("requirements.txt",)
    extra: tuple[str, ...] = ("pytest",)  # installed on top (the tests' runner)
    pytest_args: tuple[str, ...] = ()
    tests: bool = True  # False: the app has no test suite; only the static checks run
    # Files written into the working copy first: what the app's CI sets up around its tests
    # (--verify passes no environment variable through, so a conftest.py sets them).
    files: tuple[tuple[str, str], ...] = ()


# What each app needs to run its tests here, by the checkout folder's name.
KNOWN = {
    # 2017 pins (Flask 0.12, SQLAlchemy 1.1, itsdangerous' TimedJSONWebSignatureSerializer): Python 3.7.
    "flasky": AppSetup(
        python="3.7",
        requirements=("requirements/dev.txt",),
        pytest_args=("tests", "--ignore=tests/test_selenium.py"),
        files=(("conftest.py", 'import os\n\nos.environ.setdefault("SERVER_NAME", "localhost")  # config.py reads it at import\n'),),
    ),
    "flaskr-tdd": AppSetup(pytest_args=("tests",)),
    "VAmPI": AppSetup(tests=False, requirements=()),
    # FastAPI + SQLAlchemy 2 + Alembic + JWT; app/database/database.py needs DATABASE_URL at import.
    "NSS-OpenProject-2026": AppSetup(
        pytest_args=("tests",),
        files=(("conftest.py", 'import os\n\nos.environ.setdefault("DATABASE_URL", "sqlite:///./app.db")\n'),),
    ),
}


def pyenv_python(version: str) -> str:
    if not version:
        return sys.executable
    for folder in sorted(PYENV.glob(f"{version}*"), reverse=True):
        candidate = folder / "bin" / "python"
        if candidate.is_file():
            return str(candidate)
    raise SystemExit(f"no Python {version} under {PYENV}: install it, or give CHECKOUT:PYTHON")


def pip(venv_python: str, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    command = [venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:  # pip's resolver backtracking through every version of a conflict
        return subprocess.CompletedProcess(command, 1, "", f"pip gave up after {timeout:.0f} s (no versions that fit the app's pins)")


def make_venv(project: Path, base_python: str, setup: AppSetup) -> tuple[str, str]:
    """The project's .venv with its requirements; returns (its python, a note on what failed)."""
    venv = project / ".venv"
    python = str(venv / "bin" / "python")
    if not Path(python).exists():
        subprocess.run([base_python, "-m", "venv", str(venv)], check=True, timeout=300)
    notes = []
    for requirements in setup.requirements:
        if (project / requirements).is_file():
            done = pip(python, "-r", str(project / requirements))
            if done.returncode:
                notes.append(f"pip -r {requirements}: {done.stderr.strip().splitlines()[-1:]}")
    if setup.extra:
        done = pip(python, *setup.extra)
        if done.returncode:
            notes.append(f"pip {' '.join(setup.extra)}: {done.stderr.strip().splitlines()[-1:]}")
    return python, "; ".join(notes)


@dataclass
class ModeResult:
    mode: str
    planned: int = 0
    applied: int = 0
    rolled_back: list[str] = field(default_factory=list)  # "fixer (n fixes): reason"
    rolled_back_fixes: int = 0
    tests: TestRun | None = None
    second_run: list[str] = field(default_factory=list)
    undo_identical: bool | None = None
    new_undefined: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    pip_note: str = ""
    seconds: float = 0.0
    error: str = ""


@dataclass
class AppResult:
    name: str
    before: TestRun | None = None
    setup_note: str = ""
    modes: dict[str, ModeResult] = field(default_factory=dict)


def run_mode(project: Path, mode: str, python: str, setup: AppSetup, verify: bool) -> ModeResult:
    from auditor.engine import scan
    from fixers import apply_plan, plan_fixes, undo
    from fixers.pipeline.verify import verify_plan

    include_review = mode == "all"
    result = ModeResult(mode)
    started = time.perf_counter()
    before_bytes = tree_hashes(project)
    plan = plan_fixes(scan(project, use_cache=False), include_review=include_review)
    result.planned = len(plan.fixes)
    # What the plan wrote into the requirements, and what its notes ask to add by hand (a
    # requirements file it could not edit): the user installs both.
    by_hand = [r.strip() for note in plan.notes if (m := re.match(r"add (.+) to your dependencies by hand", note)) for r in m.group(1).split(",")]
    result.dependencies = list(plan.dependencies) + by_hand
    if result.dependencies and setup.tests:  # the user installs what the fixes add before running the app
        # ... within the app's own pins (-c): an added package that needs newer versions fails
        # here, as `pip install -r requirements.txt` would for the user, instead of upgrading them.
        pins = [arg for r in setup.requirements if (project / r).is_file() for arg in ("-c", str(project / r))]
        done = pip(python, *result.dependencies, *pins, timeout=240)
        if done.returncode:
            lines = [line for line in done.stderr.splitlines() if line.startswith("ERROR")] or done.stderr.strip().splitlines()
            result.pip_note = lines[-1] if lines else "pip failed"
    if verify and setup.tests and not plan.is_empty:
        report = verify_plan(plan, include_review=include_review)
        for group in report.rolled_back:
            result.rolled_back.append(f"{group.fixer} ({len(group.findings)} fixes): {group.reason()}")
            result.rolled_back_fixes += len(group.findings)
        result.rolled_back += [f"{g}: not verified (out of test-run budget)" for g in report.unverified]
        result.rolled_back_fixes += sum(1 for f in plan.fixes if f.fixer in report.unverified)
        plan = report.plan
    result.applied = len(plan.fixes)
    touched = [e.relpath for e in plan.edits]
    undefined_before = undefined_names(project, touched)
    report = apply_plan(plan)
    try:
        result.new_undefined = [f"{p}: {n}" for p, n in sorted(undefined_names(project, touched) - undefined_before)]
        if setup.tests:
            result.tests = run_tests(project, python, timeout=600, args=setup.pytest_args)
        again = plan_fixes(report.rescan if report.rescan is not None else scan(project, use_cache=False), include_review=include_review)
        result.second_run = [f"{p.finding.rule} {p.finding.path}:{p.finding.line} ({p.fixer})" for p in again.fixes]
    finally:
        if report.backup_dir is not None:
            undo(project)
        differences = hash_differences(before_bytes, tree_hashes(project))
        result.undo_identical = not differences
        if differences:
            result.error = "undo: " + "; ".join(differences[:5])
    result.seconds = time.perf_counter() - started
    return result


def run_app(checkout: Path, python_override: str, modes: list[str], verify: bool) -> AppResult:
    name = checkout.name
    setup = KNOWN.get(name, AppSetup())
    project = WORK / name / "project"
    venv = project / ".venv"
    kept_venv = WORK / name / "venv-kept"
    if venv.is_dir():  # keep the installed venv across runs of this script (pip is slow)
        shutil.rmtree(kept_venv, ignore_errors=True)
        venv.rename(kept_venv)
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(checkout, project, symlinks=True, ignore=shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__", ".prodready"))
    if kept_venv.is_dir():
        kept_venv.rename(venv)
    for relpath, text in setup.files:
        (project / relpath).write_text(text, encoding="utf-8")
    result = AppResult(name)
    python = ""
    if setup.tests:
        python, result.setup_note = make_venv(project, python_override or pyenv_python(setup.python), setup)
        result.before = run_tests(project, python, timeout=600, args=setup.pytest_args)
    for mode in modes:
        try:
            result.modes[mode] = run_mode(project, mode, python, setup, verify and result.before is not None and result.before.passed > 0)
        except Exception as exc:  # one app's failure must not hide the others' figures
            result.modes[mode] = ModeResult(mode, error=f"{type(exc).__name__}: {exc}")
    return result


def _tests(run: TestRun | None) -> str:
    if run is None:
        return "-"
    total = run.passed + run.failed + run.errors
    return f"{run.passed}/{total}" if total else "0 (no run)"


def table(results: list[AppResult], modes: list[str]) -> str:
    header = ["app", "tests before"] + [f"after {m}" for m in modes]
    header += [f"{m}: applied/planned" for m in modes] + [f"{m}: rolled back" for m in modes]
    header += [f"{m}: 2nd run" for m in modes] + [f"{m}: undo identical" for m in modes]
    rows = [header]
    for r in results:
        row = [r.name, _tests(r.before)]
        row += [_tests(r.modes[m].tests) if m in r.modes else "-" for m in modes]
        row += [f"{r.modes[m].applied}/{r.modes[m].planned}" for m in modes]
        row += [str(r.modes[m].rolled_back_fixes) for m in modes]
        row += [str(len(r.modes[m].second_run)) for m in modes]
        row += ["yes" if r.modes[m].undo_identical else "NO" for m in modes]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def details(results: list[AppResult]) -> str:
    out = []
    for r in results:
        out.append(f"\n## {r.name}")
        if r.setup_note:
            out.append(f"  setup: {r.setup_note}")
        if r.before is not None and not r.before.green:
            out.append(f"  before: {r.before.brief()}: " + "; ".join(r.before.failures[:5]))
        for m in r.modes.values():
            out.append(f"  [{m.mode}] {m.applied} of {m.planned} fixes applied in {m.seconds:.0f} s; adds {', '.join(m.dependencies) or 'nothing'}")
            for line in m.rolled_back:
                out.append(f"    rolled back by --verify: {line}")
            if m.pip_note:
                out.append(f"    pip: {m.pip_note}")
            if m.tests is not None and not m.tests.green:
                out.append(f"    tests after: {m.tests.brief()}: " + "; ".join(m.tests.failures[:6]))
            for line in m.new_undefined:
                out.append(f"    new undefined name: {line}")
            for line in m.second_run[:10]:
                out.append(f"    second run proposes: {line}")
            if m.error:
                out.append(f"    error: {m.error}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="*", help="app folders (PATH or PATH:PYTHON); default: $PRODREADY_REAL_APPS")
    parser.add_argument("--modes", default="safe,all")
    parser.add_argument("--no-verify", action="store_true", help="apply the plans as planned (no test-run rollback)")
    args = parser.parse_args(argv)
    checkouts = args.checkouts or os.environ.get("PRODREADY_REAL_APPS", "").split()
    if not checkouts:
        parser.error("give the apps' checkout folders (or set PRODREADY_REAL_APPS)")
    modes = [m for m in args.modes.split(",") if m]
    results = []
    for spec in checkouts:
        path, _, python = spec.partition(":")
        checkout = Path(path).resolve()
        print(f"… {checkout.name}", file=sys.stderr, flush=True)
        results.append(run_app(checkout, python, modes, verify=not args.no_verify))
    print(table(results, modes))
    print(details(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

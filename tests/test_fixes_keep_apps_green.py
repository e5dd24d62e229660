"""Fixes never break the app: on copies of fixture apps written the way people write them (not to
please prodready), apply the safe fixes, then all fixes (review included), and check that

- the app's own tests, and the failure-path tests the fixes generate, still pass;
- pyflakes finds no new undefined name in a file the fixes changed or created;
- where the project has Alembic migrations afterwards, `alembic upgrade head` works on a fresh
  SQLite database;
- a second plan right after the apply proposes nothing;
- `undo` puts every byte back (files the fixes created are deleted).

A combination marked xfail breaks one of these today, for the reason given; the mark is strict,
so it must go as soon as the fixers are right for that app."""

from __future__ import annotations

import shutil

import pytest

from tests.fix_check import apply_and_check, run_tests
from tests.helpers import FIXTURES

APPS = {
    "fastapi_settings_alembic": FIXTURES / "apps" / "fastapi_settings_alembic",
    "flask_blueprints_httpauth": FIXTURES / "apps" / "flask_blueprints_httpauth",
    "flask_raw_sqlite": FIXTURES / "apps" / "flask_raw_sqlite",
    "sqlmodel_api": FIXTURES / "apps" / "sqlmodel_api",
    "sloppy_fastapi": FIXTURES / "sloppy_fastapi",  # the demo app (a symlink to templates/demo_app)
    "sloppy_flask": FIXTURES / "sloppy_flask",
}
MODES = ("safe", "all")

# (app, mode) -> what breaks today: the fixer, the file and the error (a strict xfail; none today).
BROKEN: dict[tuple[str, str], str] = {}


def copy_app(name: str, destination):
    """A real copy (the demo app is a symlink), without what earlier runs left behind."""
    shutil.copytree(APPS[name], destination, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".prodready", "*.db"))
    return destination


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    """Each app's own tests before any fix, run once and shared by both modes."""
    runs = {}

    def baseline(name: str):
        if name not in runs:
            runs[name] = run_tests(copy_app(name, tmp_path_factory.mktemp("baseline") / name), timeout=180)
        return runs[name]

    return baseline


@pytest.mark.parametrize("name", APPS)
def test_the_apps_own_tests_pass_before_any_fix(baselines, name):
    run = baselines(name)
    assert run.green, run.output[-3000:]


def cases():
    for name in APPS:
        for mode in MODES:
            reason = BROKEN.get((name, mode))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, mode, marks=marks, id=f"{name}-{mode}")


@pytest.mark.parametrize("name,mode", cases())
def test_fixes_keep_the_app_green(baselines, tmp_path, name, mode):
    baseline = baselines(name)
    assert baseline.green, f"{name}'s own tests fail before any fix: {baseline.brief()}"
    root = copy_app(name, tmp_path / name)
    outcome = apply_and_check(root, include_review=mode == "all", baseline=baseline, timeout=180)
    print(f"{name} ({mode}): {outcome.fixes} fixes, {outcome.skipped} skipped, tests {outcome.tests.brief() if outcome.tests else '-'}")
    assert outcome.fixes > 0, f"no fix planned for {name} ({mode}): the app no longer exercises the fixers"
    assert not outcome.problems, "\n".join(outcome.problems)


def test_the_checks_see_a_broken_app(tmp_path):
    """The checks above would notice: a failing or unloadable suite, a new undefined name, a byte
    left changed or a file left behind."""
    from tests.fix_check import hash_differences, tree_hashes, undefined_names

    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (tmp_path / "test_calc.py").write_text("from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n")
    before = tree_hashes(tmp_path)
    assert run_tests(tmp_path, timeout=60).green
    assert undefined_names(tmp_path, ["calc.py"]) == set()

    (tmp_path / "calc.py").write_text("def add(a, b):\n    return Decimal(a) + b - 1\n")
    broken = run_tests(tmp_path, timeout=60)
    assert not broken.green and broken.failed == 1
    assert broken.failures == ["FAILED test_calc.py::test_add - NameError: name 'Decimal' is not defined"]
    assert undefined_names(tmp_path, ["calc.py"]) == {("calc.py", "Decimal")}

    (tmp_path / "calc.py").write_text("import missing_module\n")
    unloadable = run_tests(tmp_path, timeout=60)
    assert not unloadable.green and any("missing_module" in line for line in unloadable.failures)

    (tmp_path / "new.py").write_text("x = 1\n")
    (tmp_path / "__pycache__").mkdir(exist_ok=True)
    (tmp_path / "__pycache__" / "calc.cpython-311.pyc").write_bytes(b"\0")
    assert hash_differences(before, tree_hashes(tmp_path)) == ["changed: calc.py", "left behind: new.py"]

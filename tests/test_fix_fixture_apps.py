"""Issue check for the step codemods: `prodready fix --apply --include-review` on copies of the
sloppy fixture apps closes at least 80% of their findings, the apps' own tests still pass, and
the generated failure-path tests run against the fixed apps (and pass more often than on the
apps as they were)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import FIXTURES, scan_project

APPS = ["sloppy_fastapi", "sloppy_flask"]
GENERATED = "tests/test_failure_paths.py"


def pytest_in(folder, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "APP_ENV"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=folder, capture_output=True, text=True, env=env, timeout=900
    )


def counts(output: str) -> tuple[int, int]:
    """(passed, failed) from pytest's summary line."""
    summary = output.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    failed = re.search(r"(\d+) failed", summary)
    return int(passed.group(1)) if passed else 0, int(failed.group(1)) if failed else 0


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    """Each app copied and fixed once; the results are shared by the tests below."""
    results = {}
    for name in APPS:
        root = tmp_path_factory.mktemp(name) / name
        shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("__pycache__", ".prodready", "*.db"))
        before = scan_project(root).findings
        done = subprocess.run(
            [sys.executable, "-m", "auditor", "fix", str(root), "--apply", "--include-review"], capture_output=True, text=True, timeout=900
        )
        assert done.returncode in (0, 1), done.stderr
        after = scan_project(root).findings
        results[name] = (root, before, after, done.stdout + done.stderr)
    return results


@pytest.mark.parametrize("name", APPS)
def test_most_findings_are_closed(fixed, name):
    root, before, after, output = fixed[name]
    closed = 1 - len(after) / len(before)
    print(f"{name}: {len(before)} findings before, {len(after)} after: {closed:.0%} closed")
    assert closed >= 0.8, sorted(f"{f.rule} {f.path}:{f.line}" for f in after)


@pytest.mark.parametrize("name", APPS)
def test_the_apps_own_tests_still_pass(fixed, name):
    root = fixed[name][0]
    done = pytest_in(root, "--ignore", GENERATED)
    assert done.returncode == 0, done.stdout[-4000:]


@pytest.mark.parametrize("name", APPS)
def test_generated_failure_path_tests_run_against_the_fixed_app(fixed, name, tmp_path):
    root = fixed[name][0]
    assert (root / GENERATED).is_file()
    after = pytest_in(root, GENERATED)
    assert "error" not in after.stdout.splitlines()[-1], after.stdout[-3000:]  # collected and ran
    # The same tests against the app as it was.
    unfixed = tmp_path / name
    shutil.copytree(FIXTURES / name, unfixed, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    shutil.copy(root / GENERATED, unfixed / GENERATED)
    before = pytest_in(unfixed, GENERATED)
    (passed_before, failed_before), (passed_after, failed_after) = counts(before.stdout), counts(after.stdout)
    print(f"{name}: failure-path tests pass {passed_before}/{passed_before + failed_before} before the fixes, {passed_after}/{passed_after + failed_after} after")
    assert passed_after + failed_after > 0
    assert passed_after > passed_before

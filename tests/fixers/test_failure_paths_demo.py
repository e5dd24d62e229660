"""The shipped demo app, fixed the way a new user fixes it, ends with every test green: its own
tests and the failure-path tests the fixes generate, after the safe fixes and after all of them.

Before, the generated tests failed on day one: signup, login and accepting an invitation answered
500 to blank bodies (no fix had validated them), and after every fix signup and login still
answered 500 to wrong-typed fields (the generated request models typed them `Any`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from auditor.engine import scan
from fixers import apply_plan, plan_fixes
from tests.helpers import FIXTURES


@pytest.mark.parametrize("include_review", [False, True], ids=["safe", "all"])
def test_the_demo_app_is_green_after_its_fixes(tmp_path, include_review):
    root = tmp_path / "demo"
    shutil.copytree(FIXTURES / "sloppy_fastapi", root, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", "*.db", ".prodready"))
    plan = plan_fixes(scan(root, use_cache=False), include_review=include_review)
    assert "tests/test_failure_paths.py" in plan.files_changed
    apply_plan(plan)
    generated = (root / "tests" / "test_failure_paths.py").read_text()
    login_routes = generated.split("LOGIN_ROUTES = [")[1].split("\n]")[0]
    assert "/auth/login" not in login_routes and "/auth/signup" not in login_routes
    if include_review:  # the request models of the same plan validate signup, login and invitations
        body_routes = generated.split("BODY_ROUTES = [")[1].split("\nDUPLICATE_ROUTES")[0]
        assert re.search(r'^    \("POST", "/auth/signup", .*, True\),$', body_routes, re.M), body_routes
        assert re.search(r'^    \("POST", "/auth/login", .*, False\),$', body_routes, re.M), body_routes
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=root, capture_output=True, text=True, timeout=600,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-5000:]
    assert not re.search(r"\d+ (failed|errors?)\b", summary), summary
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 40, summary  # the app's own tests and the generated ones all ran

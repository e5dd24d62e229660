"""`fix --verify` boots the app on each copy and checks the happy paths (signup, login, create,
list answer 2xx) beside the tests: a fix group that breaks them is rolled back with the probe as
the reason, and one that does not is kept."""

from __future__ import annotations

import dataclasses
import shutil
import pytest

from auditor.engine import scan
from auditor.rehearse.happy_check import HappyPaths
from fixers.pipeline.plan import plan_fixes
from fixers.pipeline.verify import verify_plan
from tests.helpers import write_project
from tests.rehearse.conftest import copy_app, tree_hashes

pytestmark = pytest.mark.rehearsal

# Every POST answers 500: signup and create break, while the app still starts and GETs answer.
SABOTAGE = '''

@app.middleware("http")
async def refuse_posts(request, call_next):
    from starlette.responses import Response

    if request.method == "POST":
        return Response("broken", status_code=500)
    return await call_next(request)
'''


def main_py_plan(app):
    """The plan for the findings in app/main.py (one file, a few fix groups)."""
    result = scan(app, use_cache=False)
    findings = [f for f in result.findings if f.path == "app/main.py"]
    plan = plan_fixes(result, findings, include_review=True)
    assert any(edit.relpath == "app/main.py" for edit in plan.edits)
    return plan


def sabotage(plan):
    """The same plan, with its edit of app/main.py breaking every POST, as one fix group that
    breaks the app would (one group: the whole plan is that group, no search needed)."""
    fixer = plan.fixes[0].fixer
    plan.fixes = [f for f in plan.fixes if f.fixer == fixer]
    plan.edits = [
        dataclasses.replace(e, new=e.new + SABOTAGE, new_bytes=(e.new + SABOTAGE).encode()) if e.relpath == "app/main.py" else e
        for e in plan.edits
    ]
    return plan


@pytest.fixture
def demo(tmp_path):
    app = copy_app("sloppy_fastapi", tmp_path / "demo")
    shutil.rmtree(app / "tests")  # only the happy paths can catch a breakage here
    return app


def test_a_fix_that_breaks_signup_and_create_is_rolled_back_with_the_probe_as_reason(demo, private_tmp):
    before = tree_hashes(demo)
    lines: list[str] = []
    plan = sabotage(main_py_plan(demo))
    report = verify_plan(plan, include_review=True, also=HappyPaths(say=lines.append))
    assert report.status == "verified"
    (group,) = report.rolled_back
    reason = group.reason()
    assert "the rehearsal's happy path: signup" in reason and "answered 500" in reason, reason
    assert report.plan.is_empty
    assert report.happy and report.happy[1] == report.happy[0]  # the plan kept (none) leaves them green
    assert all("happy path: signup" in why for _, why in report.plan.skipped if _ in group.findings)
    assert lines == []  # the app could be rehearsed: nothing to say about it
    assert tree_hashes(demo) == before
    assert list(private_tmp.iterdir()) == []


def test_fixes_that_keep_the_happy_paths_green_are_kept(demo, private_tmp, tmp_path, monkeypatch):
    plan = main_py_plan(demo)
    cache = tmp_path / "scan-cache"
    monkeypatch.setenv("PRODREADY_CACHE_DIR", str(cache))
    report = verify_plan(plan, include_review=True, also=HappyPaths())
    assert not cache.exists() or list(cache.rglob("*.pickle")) == []  # the copies' scans are not cached
    assert report.rolled_back == []
    assert report.plan.fixes == plan.fixes
    assert "happy paths" in report.how
    assert report.before == (0, 0)  # no tests in this copy: the probes are counted apart
    assert report.happy and report.happy[0] >= 4 and report.happy[1] == report.happy[0]  # signup and login of two users at least
    assert any(line.startswith("verify: the app's happy paths: ") for line in report.lines())


UNBOOTABLE = {
    "app/__init__.py": "",
    "app/main.py": """
        import os

        from fastapi import FastAPI

        REGION = os.environ["ACME_REGION"]  # not in any example file: the rehearsal cannot know it
        app = FastAPI(debug=True)


        @app.get("/region")
        def region():
            return {"region": REGION}
    """,
    "tests/__init__.py": "",
    "tests/test_region.py": """
        import os

        os.environ.setdefault("ACME_REGION", "eu")

        from fastapi.testclient import TestClient

        from app.main import app


        def test_region():
            assert TestClient(app).get("/region").json() == {"region": "eu"}
    """,
}


def test_an_app_that_does_not_boot_is_said_in_one_line_and_the_tests_still_verify(tmp_path, private_tmp):
    app = write_project(tmp_path / "unbootable", UNBOOTABLE)
    result = scan(app, use_cache=False)
    # (PR431's generated tests import the app without ACME_REGION: left out, they are not the point)
    plan = plan_fixes(result, [f for f in result.findings if f.rule != "PR431"], include_review=True)
    assert not plan.is_empty
    lines: list[str] = []
    report = verify_plan(plan, include_review=True, also=HappyPaths(say=lines.append))
    (line,) = lines
    assert "cannot be rehearsed" in line and "ACME_REGION" in line and "tests only" in line
    assert report.before == (1, 0) and report.rolled_back == []  # the tests alone, and they pass
    assert report.plan.fixes == plan.fixes


def test_no_rehearse_leaves_the_app_unbooted_and_checks_with_the_tests_only(tmp_path, capsys):
    from auditor.cli import main

    app = write_project(tmp_path / "unbootable", UNBOOTABLE)
    flags = ["--verify", "--include-review", "--no-cache", "--no-progress", "--ignore", "PR431"]
    main(["fix", str(app), *flags])
    err = capsys.readouterr().err
    assert "the app also boots on each copy" in err and "cannot be rehearsed" in err and "ACME_REGION" in err

    main(["fix", str(app), *flags, "--no-rehearse"])
    err = capsys.readouterr().err
    assert "boots" not in err and "rehearse" not in err and "happy paths" not in err
    assert "verify: before the fixes 1 passed" in err

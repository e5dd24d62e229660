"""The wizard runs the project's tests before writing (on by default when it has tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.models import Step
from auditor.tui.app import WizardApp
from auditor.tui.review import ReviewScreen
from auditor.tui.screenshots import drive_start, press, settle
from auditor.tui.summary import SummaryScreen
from tests.helpers import FIXTURES
from tests.tui.test_walkthrough import SIZE, text_of

pytestmark = pytest.mark.anyio


def copy_fixture(tmp_path: Path) -> Path:
    root = tmp_path / "verify_prints"
    shutil.copytree(FIXTURES / "verify_prints", root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return root


async def test_apply_runs_the_tests_first_and_leaves_out_the_fix_that_breaks_one(tmp_path: Path):
    root = copy_fixture(tmp_path)
    app = WizardApp(root, path_label="verify_prints")
    async with app.run_test(size=(100, 30)) as pilot:
        await drive_start(pilot)
        app.goto(Step.LOGGING)
        await settle(pilot)
        await press(pilot, "A", "n")
        assert isinstance(app.screen, ReviewScreen)
        assert app.session.verify is True
        assert "Your tests run first, on a copy (your code runs" in text_of(app, "#review-verify")
        await press(pilot, "v")
        assert app.session.verify is False and "v turns it on" in text_of(app, "#review-verify")
        await press(pilot, "v", "a", "y")
        assert isinstance(app.screen, SummaryScreen)
        written = text_of(app, "#summary-written")
        assert "rolled back print-to-logger" in written and "test_greet_prints_the_greeting" in written
        assert "your tests passed with the fixes" in text_of(app, "#summary-head")
    assert "    print(message)" in (root / "app" / "main.py").read_text()
    assert (root / "app" / "logging_setup.py").exists()


async def test_verify_is_off_where_the_project_has_no_tests(tmp_path: Path):
    root = copy_fixture(tmp_path)
    shutil.rmtree(root / "tests")
    app = WizardApp(root, path_label="verify_prints")
    async with app.run_test(size=(100, 30)) as pilot:
        await drive_start(pilot)
        app.goto(Step.LOGGING)
        await settle(pilot)
        await press(pilot, "A", "n")
        assert app.session.verify is False
        assert "the project has no tests" in text_of(app, "#review-verify")

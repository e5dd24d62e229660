"""Full keyboard walk-throughs of the wizard on copies of the fixture apps (Textual Pilot)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
import tomlkit
from rich.console import Console
from textual.widgets import Static

from auditor.cli import main as cli_main
from auditor.models import Category, Confidence, Finding, Severity, Step
from auditor.tui.app import WizardApp
from auditor.tui.modals import ConfirmScreen
from auditor.tui.review import ReviewScreen
from auditor.tui.screenshots import drive_start, press, settle
from auditor.tui.session import Decision
from auditor.tui.start import StartScreen
from auditor.tui.step import StepScreen
from auditor.tui.summary import SummaryScreen
from tests.helpers import FIXTURES

SIZE = (80, 24)
pytestmark = pytest.mark.anyio


def copy_fixture(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return root


def text_of(app: WizardApp, selector: str) -> str:
    """The plain text a Static shows (its content rendered the way the screen renders it)."""
    console = Console(width=200, file=io.StringIO(), record=True)
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


def sources(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.py")) if ".prodready" not in p.parts}


async def on_last_step(pilot, app: WizardApp) -> None:
    """Through the start screen to step 5 (Logging), the step before the review."""
    await drive_start(pilot)
    app.goto(Step.LOGGING)
    await settle(pilot)


async def test_full_walk_accepts_skips_applies_and_undo_restores(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    original = sources(root)
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await drive_start(pilot)
        assert isinstance(app.screen, StartScreen)
        assert "fastapi" in text_of(app, "#detected")

        await press(pilot, "enter")  # step 1: the first finding is not a problem, the next one skipped
        assert isinstance(app.screen, StepScreen) and app.screen.step == Step.DATA_MODEL
        dismissed = app.screen.current
        await press(pilot, "x", "f")  # not a problem: this rule in this file
        skipped = next(f for f in app.screen.findings if app.session.decision(f) == Decision.PENDING)
        app.screen.query_one("#findings").highlighted = app.screen.findings.index(skipped)
        await press(pilot, "s")
        assert app.session.decision(dismissed) == Decision.NOT_A_PROBLEM
        same_file = [f for f in app.session.result.findings if (f.rule, f.path) == (dismissed.rule, dismissed.path)]
        assert all(app.session.decision(f) == Decision.NOT_A_PROBLEM for f in same_file), "the answer covers the file"
        assert app.session.decision(skipped) == Decision.SKIP

        await press(pilot, "n", "n", "n", "n")  # through infrastructure, validation, staging
        assert app.screen.step == Step.LOGGING
        await press(pilot, "A")  # every safe fix of the logging step
        accepted = app.session.accepted()
        assert accepted and all(f.step == Step.LOGGING for f in accepted)
        first = accepted[0]

        await press(pilot, "n")
        assert isinstance(app.screen, ReviewScreen)
        planned = {fix.finding for fix in app.screen.plan.fixes}
        assert first in planned
        assert "pyproject.toml" in app.screen.patch_text()
        assert not (root / "pyproject.toml").exists(), "nothing is written before apply"

        await press(pilot, "a", "y")
        assert isinstance(app.screen, SummaryScreen)
        assert text_of(app, "#summary-head").startswith("Done:")
        written = text_of(app, "#summary-written")
        assert first.path in written and "prodready undo sloppy_fastapi" in written
        assert "Next, by hand" in text_of(app, "#summary-todo")

    changed = sources(root)
    assert changed[first.path] != original[first.path]
    assert "print(" not in changed[first.path].splitlines()[first.line - 1]
    config = tomlkit.parse((root / "pyproject.toml").read_text())["tool"]["prodready"]
    assert config["per-file-ignores"][dismissed.path] == [dismissed.rule]
    assert list((root / ".prodready" / "backups").iterdir())
    assert app.session.scores_before is not None
    assert app.session.result.scores()[Step.LOGGING]["score"] > app.session.scores_before[Step.LOGGING]["score"]

    assert cli_main(["undo", str(root)]) == 0
    assert sources(root) == original


async def test_apply_refused_when_a_file_changed_shows_the_error_and_writes_nothing(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await on_last_step(pilot, app)
        await press(pilot, "A", "n")
        target = root / app.session.accepted()[0].path
        target.write_text(target.read_text() + "\n# edited meanwhile\n")
        await press(pilot, "a", "y")
        assert isinstance(app.screen, ReviewScreen)
        error = text_of(app, "#review-error")
        assert "Nothing was written" in error and "changed" in error
        assert app.screen.query_one("#review-error").display
    assert target.read_text().endswith("# edited meanwhile\n")
    assert not (root / ".prodready" / "backups").exists() or not list((root / ".prodready" / "backups").iterdir())


async def test_dry_run_exports_the_patch_and_leaves_the_project_alone(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    original = sources(root)
    app = WizardApp(root, dry_run=True, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await on_last_step(pilot, app)
        await press(pilot, "A", "n")
        assert not app.screen.query("#apply"), "a dry run offers no Apply button"
        await press(pilot, "a")
        assert isinstance(app.screen, ReviewScreen)
        await press(pilot, "e", "enter")
        assert isinstance(app.screen, SummaryScreen)
        assert text_of(app, "#summary-head").startswith("Dry run")
        assert "sloppy_fastapi/prodready.patch" in text_of(app, "#summary-written")
    patch = (root / "prodready.patch").read_text()
    assert patch.startswith("diff --git") and "+logger" in patch
    assert sources(root) == original


async def test_uncertain_route_asks_and_records_a_public_route(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await drive_start(pilot)
        result = app.session.result
        route = next(r for r in result.index.routes if r.path == "/tasks/{task_id}" and "GET" in r.methods)
        if not any(f.rule == "PR201" and app.session.route_of(f) == route for f in result.findings):
            result.findings.insert(0, Finding(  # the question does not depend on which rule build is installed
                rule="PR201", name="unauthenticated-route", step=Step.INFRASTRUCTURE, category=Category.AUTH,
                severity=Severity.HIGH, confidence=Confidence.MEDIUM, path=route.relpath, line=route.line,
                col=route.col, end_line=route.end_line, message="no authentication on this route"))
        app.goto(Step.INFRASTRUCTURE)
        await settle(pilot)
        screen = app.screen
        screen.query_one("#findings").highlighted = next(
            i for i, f in enumerate(screen.findings) if f.rule == "PR201" and app.session.route_of(f) == route
        )
        await settle(pilot)
        assert "Is GET /tasks/{task_id} meant to be public" in text_of(app, "#detail-question")
        await press(pilot, "a")
        assert "meant to be public" in text_of(app, ".dialog-title")
        await press(pilot, "y")
        assert app.session.answers().public_routes == ["GET /tasks/{task_id}"], "recorded for its method only"
        app.goto("review")
        await settle(pilot)
        assert '+public-routes = ["GET /tasks/{task_id}"]' in app.screen.patch_text()


async def test_palette_offers_steps_rescan_export_and_theme(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await drive_start(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for title in ("Go to step 1: Data model", "Go to step 5: Logging", "Go to review", "Rescan", "Export report", "Toggle dark/light"):
            assert title in titles
        dark = app.current_theme.dark
        app.action_toggle_dark()
        assert app.current_theme.dark != dark
        app.action_export_report()
        await settle(pilot)
        await press(pilot, "enter")
        assert "# " in (root / "prodready-report.md").read_text()
        next(c for c in app.get_system_commands(app.screen) if c.title == "Go to step 3: Validation").callback()
        await settle(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.step == Step.VALIDATION


async def test_mouse_click_selects_a_finding_and_buttons_navigate(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await drive_start(pilot)
        await pilot.click("#begin")
        await settle(pilot)
        assert isinstance(app.screen, StepScreen)
        await pilot.click("#findings", offset=(10, 2))  # the second row inside the border
        await settle(pilot)
        assert app.screen.query_one("#findings").highlighted == 1


@pytest.mark.parametrize("name", ["sloppy_flask", "careful_app"])
async def test_walk_through_every_screen_of_the_other_fixture_apps(tmp_path: Path, name: str):
    root = copy_fixture(tmp_path, name)
    app = WizardApp(root, path_label=name)
    async with app.run_test(size=SIZE) as pilot:
        await drive_start(pilot)
        await press(pilot, "enter")
        for step in Step:
            assert app.screen.step == step
            await press(pilot, "A", "n")
        assert isinstance(app.screen, ReviewScreen)
        await press(pilot, "a")
        if isinstance(app.screen, ConfirmScreen):  # something to write: confirm it
            await press(pilot, "y")
        assert isinstance(app.screen, SummaryScreen)
        head = text_of(app, "#summary-head")
        assert head.startswith("Done:") if app.session.outcome.applied else head.startswith("Nothing was written")
        for step in Step:
            assert step.title in text_of(app, "#summary-scores")


async def test_a_scan_error_is_shown_on_the_start_screen(tmp_path: Path):
    root = copy_fixture(tmp_path, "careful_app")
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.prodready]\nfail-on = "sometimes"\n')
    app = WizardApp(root, path_label="careful_app")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        status = text_of(app, "#scan-status")
        assert status.startswith("The scan failed: invalid configuration") and "fail-on" in status
        assert app.screen.query_one("#begin").disabled
        await press(pilot, "enter")
        assert isinstance(app.screen, StartScreen)


async def test_quitting_with_accepted_fixes_asks_first(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await on_last_step(pilot, app)
        await press(pilot, "a", "q")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "n")
        assert isinstance(app.screen, StepScreen)
        await press(pilot, "q", "y")
    assert app.return_value == 0


async def test_review_drops_one_file_by_planning_again_and_applies_the_rest(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    original = sources(root)
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await on_last_step(pilot, app)
        await press(pilot, "A", "n")
        review = app.screen
        assert isinstance(review, ReviewScreen)
        files = review._files()
        listed = review.query_one("#review-files")
        assert listed.display and listed.option_count > len(files), "files, each with its fixes"
        target = next(f.path for f in app.session.accepted() if f.path in files and f.path.endswith(".py"))
        listed.highlighted = review.entries.index(("file", files.index(target)))
        await press(pilot, "d")
        review = app.screen
        dropped = [f for f in app.session.result.findings if f.path == target and app.session.decision(f) == Decision.SKIP]
        assert dropped and all(f in app.session.dropped for f in dropped)
        assert target not in review._files() and f"a/{target}" not in review.patch_text()
        assert not {fix.finding for fix in review.plan.fixes} & set(dropped), "the plan was made again without them"
        assert ("dropped", dropped[0]) in review.entries
        kept = review._files()
        await press(pilot, "a", "y")
        assert isinstance(app.screen, SummaryScreen)
        for finding in dropped:
            assert finding.rule in text_of(app, "#summary-todo") or len(app.session.by_hand()) > 8
    after = sources(root)
    assert after[target] == original[target], "the dropped file is left as it was"
    assert any(after.get(path) != original.get(path) for path in kept if path.endswith(".py"))


async def test_review_keys_jump_between_hunks_and_files_and_a_dropped_fix_comes_back(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await on_last_step(pilot, app)
        await press(pilot, "A", "n")
        review = app.screen
        assert len(review.hunks) > 2 and review.hunk_at == 0, "the first file's first hunk is shown"
        await press(pilot, "right_square_bracket", "right_square_bracket")
        assert review.hunk_at == 2
        await press(pilot, "left_square_bracket", "left_square_bracket")
        assert review.hunk_at == 0
        await press(pilot, "full_stop")
        assert review.hunks[review.hunk_at][0] == 1, "on the second file's first hunk"
        box = review.query_one("#review-diff-box")
        assert box.scroll_y > 0
        fix_entry = next(i for i, (kind, _) in enumerate(review.entries) if kind == "fix")
        finding = review.entries[fix_entry][1]
        review.query_one("#review-files").highlighted = fix_entry
        await press(pilot, "d")
        assert app.session.decision(finding) == Decision.SKIP and finding not in {f.finding for f in app.screen.plan.fixes}
        again = app.screen.entries.index(("dropped", finding))
        app.screen.query_one("#review-files").highlighted = again
        await press(pilot, "d")
        assert app.session.decision(finding) == Decision.ACCEPT and finding in {f.finding for f in app.screen.plan.fixes}


@pytest.mark.parametrize("where", ["step", "review"])
@pytest.mark.parametrize("key", ["q", "ctrl+q"])
async def test_every_quit_key_asks_when_decisions_would_be_lost(tmp_path: Path, where: str, key: str):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await on_last_step(pilot, app)
        await press(pilot, "a")
        if where == "review":
            await press(pilot, "n")
            assert isinstance(app.screen, ReviewScreen)
        await press(pilot, key)
        assert isinstance(app.screen, ConfirmScreen), f"{key} on the {where} screen asks first"
        assert "Quit" in text_of(app, ".dialog-title")
        await press(pilot, key)
        assert len([s for s in app.screen_stack if isinstance(s, ConfirmScreen)]) == 1, "asked once, not twice"
        await press(pilot, "n")
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running
        await press(pilot, key, "y")
    assert app.return_value == 0


async def test_accept_on_a_finding_without_a_fix_says_by_hand_and_records_nothing(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await drive_start(pilot)
        await press(pilot, "enter")
        screen = app.screen
        index = next(i for i, f in enumerate(screen.findings) if not f.fixable and not app.session.question(f))
        screen.query_one("#findings").highlighted = index
        await settle(pilot)
        before = text_of(app, "#score")
        await press(pilot, "a")
        finding = screen.findings[index]
        assert app.session.decision(finding) == Decision.PENDING
        assert text_of(app, "#score") == before, "no fix counted as accepted"
        assert "By hand" in text_of(app, "#detail-fix-title")
        assert screen.query_one("#findings").border_subtitle.startswith("✓ fix accepted")


@pytest.mark.parametrize(
    ("name", "database", "auth"),
    [
        ("apps/flask_blueprints_httpauth", "Flask-SQLAlchemy (server: sqlite)", "Flask-Login, Flask-HTTPAuth; a login check on"),
        ("sloppy_flask", "sqlite3 (server: sqlite)", "the project’s own check; a login check on"),
    ],
)
async def test_start_screen_reports_what_the_index_found(tmp_path: Path, name: str, database: str, auth: str):
    root = tmp_path / "app"
    shutil.copytree(FIXTURES / name, root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    app = WizardApp(root, path_label="app")
    async with app.run_test(size=(100, 30)) as pilot:
        await drive_start(pilot)
        detected = text_of(app, "#detected")
    assert f"Database   {database}" in detected
    assert f"Auth       {auth}" in detected and "JWT" not in detected


async def test_steps_left_out_by_select_say_not_checked(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi", overrides={"select": ["PR4"]})
    async with app.run_test(size=SIZE) as pilot:
        await drive_start(pilot)
        overview = text_of(app, "#overview")
        assert overview.count("not checked") == 4 and "100/100" not in overview
        app.goto(Step.DATA_MODEL)
        await settle(pilot)
        assert "not checked" in text_of(app, "#score") and "100/100" not in text_of(app, "#score")
        app.goto(Step.STAGING)
        await settle(pilot)
        assert "not checked" not in text_of(app, "#score")
        app.goto("summary")
        await settle(pilot)
        scores = text_of(app, "#summary-scores")
        assert scores.count("not checked") == 4


async def test_a_url_password_is_masked_in_the_code_panel_as_in_the_message(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=(120, 40)) as pilot:
        await drive_start(pilot)
        finding = next(f for f in app.session.result.findings if "postgres:***@" in f.message)
        app.goto(finding.step)
        await settle(pilot)
        app.screen.query_one("#findings").highlighted = app.screen.findings.index(finding)
        await settle(pilot)
        code = text_of(app, "#detail-code")
        source = app.session.result.index.source(finding.path).splitlines()[finding.line - 1]
        assert "postgres:***@" in code and "postgres:***@" not in source, "the excerpt hides what the file holds"


async def test_not_a_problem_on_this_line_writes_a_suppression_comment_next_to_the_fixes(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await on_last_step(pilot, app)
        screen = app.screen
        prints = [f for f in screen.findings if f.rule == "PR502"]
        target = next(f for f in prints if sum(g.path == f.path for g in prints) > 1)  # its file gets a fix too
        screen.query_one("#findings").highlighted = screen.findings.index(target)
        await settle(pilot)
        await press(pilot, "x")
        assert "This line" in str(app.screen.query_one("#choice-line").label)
        await press(pilot, "l")
        assert app.session.decision(target) == Decision.NOT_A_PROBLEM
        others = [f for f in prints if f != target]
        for other in others:  # the other print() calls are fixed, some in the same file as the comment
            app.session.decide(other, Decision.ACCEPT)
        await press(pilot, "n")
        assert isinstance(app.screen, ReviewScreen)
        patch = app.screen.patch_text()
        assert "# prodready: ignore[PR502]" in patch and "per-file-ignores" not in patch
        await press(pilot, "a", "y")
        assert isinstance(app.screen, SummaryScreen)
        assert target.path in text_of(app, "#summary-written")
        left = [f for f in app.session.result.findings if f.rule == "PR502"]
    assert not any(f.path == target.path and f.line == target.line for f in left)
    text = (root / target.path).read_text()
    line = next(l for l in text.splitlines() if "# prodready: ignore[PR502]" in l)
    assert text.count("# prodready: ignore") == 1 and "logger" in text, "the comment and the other fix, in one file"
    assert line.rstrip().endswith("# prodready: ignore[PR502]  not a problem here (answered in the wizard)")
    assert "print(" in line, "the line itself is left as it was"


async def test_decisions_made_after_an_apply_still_ask_before_quitting(tmp_path: Path):
    root = copy_fixture(tmp_path, "sloppy_fastapi")
    app = WizardApp(root, path_label="sloppy_fastapi")
    async with app.run_test(size=SIZE) as pilot:
        await on_last_step(pilot, app)
        await press(pilot, "A", "n", "a", "y")
        assert isinstance(app.screen, SummaryScreen) and app.session.outcome.applied
        assert not app.session.has_unwritten_work
        app.goto(Step.VALIDATION)
        await settle(pilot)
        await press(pilot, "s")  # a skip loses nothing
        assert not app.session.has_unwritten_work
        next_fixable = next(i for i, f in enumerate(app.screen.findings) if f.fixable)
        app.screen.query_one("#findings").highlighted = next_fixable
        await press(pilot, "a", "ctrl+q")
        assert isinstance(app.screen, ConfirmScreen), "an accepted fix not yet applied is a decision to lose"

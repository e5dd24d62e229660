"""The wizard's staging rehearsal: said before it runs, run in a worker with a progress bar, the
confirmed findings marked; after fixes, the same probes before and after side by side.

The first test rehearses a copy of the demo app for real. The snapshots replay two recorded
rehearsals of the demo (data/demo_before.json, data/demo_after.json: before and after its fixes)
so that a snapshot changes only when the screen does."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Static

from auditor.models import Step
from auditor.rehearse import run as run_module
from auditor.rehearse.run import Rehearsal
from auditor.tui.app import WizardApp
from auditor.tui.rehearsal import BEFORE_SETUP, WARNING, ProgressCounter, RehearsalScreen
from auditor.tui.screenshots import drive_step, press, settle
from auditor.tui.session import Outcome
from auditor.tui.step import StepScreen
from auditor.tui.widgets import FindingList

from .conftest import FIXTURES, tree_hashes

DATA = Path(__file__).with_name("data")


def make_app(tmp_path: Path) -> WizardApp:
    root = tmp_path / "taskflow"
    shutil.copytree(FIXTURES / "sloppy_fastapi", root, symlinks=False, ignore=shutil.ignore_patterns("__pycache__"))
    return WizardApp(root, path_label="taskflow")


def recorded(name: str) -> Rehearsal:
    return Rehearsal(**json.loads((DATA / f"demo_{name}.json").read_text(encoding="utf-8")))


def replay(monkeypatch, *names: str) -> list[dict]:
    """`rehearse` answers the recorded rehearsals in turn, after the progress lines a real one says."""
    calls: list[dict] = []
    queue = [recorded(name) for name in names]

    def fake(path, *, progress=None, scan_result=None, **kwargs):
        calls.append({"path": path, "scan_result": scan_result})
        for line in ("app: app.main:app (fastapi), 27 route methods", "starting the app under uvicorn on 127.0.0.1 ...",
                     "the app answers on 127.0.0.1:40000", "users: A and B signed up", "[1/11] user A's objects"):  # fmt: skip
            progress(line)
        return queue.pop(0)

    monkeypatch.setattr(run_module, "rehearse", fake)
    return calls


async def open_rehearsal(pilot, *keys: str) -> RehearsalScreen:
    """From the start (or after `keys` from where the pilot is) to the staging step, then r."""
    if keys:
        await press(pilot, *keys)
    else:
        await drive_step(4)(pilot)
    await press(pilot, "r")
    screen = pilot.app.screen
    assert isinstance(screen, RehearsalScreen)
    return screen


def test_progress_counter_follows_setup_then_probes():
    counter = ProgressCounter()
    assert counter.feed("rehearse runs your app ...") == (0, BEFORE_SETUP + 11)
    assert counter.feed("starting the app under uvicorn on 127.0.0.1 ...") == (2, BEFORE_SETUP + 11)
    assert counter.feed("users: A and B signed up and logged in") == (4, BEFORE_SETUP + 11)
    assert counter.feed("[1/9] user A's objects") == (4, BEFORE_SETUP + 9)
    assert counter.feed("  could not create a order through POST /orders/: 402") == (4, BEFORE_SETUP + 9)
    assert counter.feed("[9/9] brute_force") == (12, 13)
    assert counter.feed("app: late line") == (12, 13)  # never goes back


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def plain(renderable) -> str:
    console = Console(width=78, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


@pytest.mark.anyio
@pytest.mark.rehearsal
async def test_wizard_rehearses_the_demo_and_marks_the_confirmed_findings(tmp_path, monkeypatch):
    app = make_app(tmp_path)
    before = tree_hashes(app.session.root)
    seen: list[tuple[int, int, bool]] = []
    real = RehearsalScreen.on_rehearsal_progress

    def watch(self, message):
        seen.append((message.done, message.total, self.running))
        real(self, message)

    monkeypatch.setattr(RehearsalScreen, "on_rehearsal_progress", watch)
    async with app.run_test(size=(80, 24)) as pilot:
        await drive_step(2)(pilot)
        assert isinstance(app.screen, StepScreen) and app.screen.check_action("rehearse", ()) is False  # staging only
        screen = await open_rehearsal(pilot, "n", "n")
        assert str(screen.query_one("#rehearse-warning").render()).startswith("This starts your app locally")
        assert app.session.rehearsals == []  # nothing runs before the user says so
        await pilot.press("enter")
        await settle(pilot)
        assert not screen.running and len(app.session.rehearsals) == 1
        # Progress arrived while the worker ran (the screen kept answering), in order, up to the last probe.
        assert len(seen) >= 10 and all(running for _, _, running in seen)
        assert [done for done, _, _ in seen] == sorted(done for done, _, _ in seen)
        assert seen[-1][0] == seen[-1][1] - 1
        confirmed = {(f.rule, f.path, f.line) for f in app.session.confirmed}
        assert {("PR201", "app/routers/tasks.py", 59), ("PR240", "app/routers/users.py", 39),
                ("PR330", "app/routers/orders.py", 50), ("PR301", "app/routers/users.py", 40)} <= confirmed  # fmt: skip
        assert all(f.rule != "PR110" for f in app.session.confirmed)  # no probe is about migrations
        listed = str(screen.query_one("#rehearse-confirmed").render())
        assert "◆ PR201 step 2  app/routers/tasks.py:59" in listed and "◆ PR330 step 3  app/routers/orders.py:50" in listed
        assert "probes failed" in str(screen.query_one("#rehearse-summary").render())
        # Back on the steps, the confirmed findings carry the mark and the others do not.
        await press(pilot, "b", "b", "b")
        assert isinstance(app.screen, StepScreen) and app.screen.step == Step.INFRASTRUCTURE
        shown = app.screen.query_one(FindingList)
        marked = {f.location for i, f in enumerate(shown.findings) if "◆" in plain(shown.get_option_at_index(i).prompt)}
        assert "app/routers/tasks.py:59" in marked and "app/routers/users.py:39" in marked
        assert marked == {f.location for f in shown.findings if f in app.session.confirmed}
        assert len(marked) < len(shown.findings)  # the others carry no mark
    assert tree_hashes(app.session.root) == before  # the rehearsal ran on a copy


def test_rehearsal_screen_snapshot(snap_compare, tmp_path, monkeypatch):
    calls = replay(monkeypatch, "before")

    async def run_before(pilot) -> None:
        await open_rehearsal(pilot)
        await press(pilot, "enter")
        assert calls and calls[0]["scan_result"] is pilot.app.session.result  # the wizard's own scan, not a second one

    assert snap_compare(make_app(tmp_path), run_before=run_before, terminal_size=(80, 24))


def test_after_the_fixes_it_shows_before_and_after(snap_compare, tmp_path, monkeypatch):
    replay(monkeypatch, "before", "after")

    async def run_before(pilot) -> None:
        app = pilot.app
        await open_rehearsal(pilot)
        await press(pilot, "enter", "b")
        app.session.outcome = Outcome(applied=True)  # as the review screen leaves it after writing the fixes
        app.goto("summary")
        await settle(pilot)
        assert app.screen.check_action("rehearse", ()) is True
        await press(pilot, "R")
        screen = app.screen
        assert isinstance(screen, RehearsalScreen) and "Rehearse again" in str(screen.query_one("#rehearse-head").render())
        await press(pilot, "enter")
        text = str(screen.query_one("#rehearse-summary").render())
        assert "gaps closed, 4 still open, 0 new" in text and "No fix broke a happy path" in text
        rows = [line.split() for line in plain(screen.query_one("#rehearse-results", Static).content).splitlines()]
        assert ["cross_user", "GET", "/tasks/{task_id}", "FAILED", "passed"] in rows
        assert ["brute_force", "POST", "/auth/login", "FAILED", "passed"] in rows
        assert ["privilege", "GET", "/admin/users", "FAILED", "FAILED"] in rows
        assert rows.index(["cross_user", "GET", "/tasks/{task_id}", "FAILED", "passed"]) < rows.index(
            ["privilege", "GET", "/admin/users", "FAILED", "FAILED"]
        )  # what the fixes closed first

    assert snap_compare(make_app(tmp_path), run_before=run_before, terminal_size=(80, 24))


def test_warning_names_what_runs():
    assert "starts your app locally" in WARNING and "127.0.0.1" in WARNING and "throwaway database" in WARNING


@pytest.mark.anyio
async def test_back_during_a_rehearsal_stops_it(tmp_path, monkeypatch):
    import threading

    from auditor.rehearse.run import RehearsalError

    stopped = threading.Event()

    def slow(path, *, progress=None, cancel=None, **kwargs):
        progress("starting the app under uvicorn on 127.0.0.1 ...")
        if cancel.wait(30):  # as rehearse() does: the cancel ends it, its finally cleans up
            stopped.set()
            raise RehearsalError("the rehearsal was stopped before it finished")
        raise AssertionError("never cancelled")

    monkeypatch.setattr(run_module, "rehearse", slow)
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_rehearsal(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert screen.running
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, StepScreen) and app.session.rehearsals == []
    assert stopped.wait(10)

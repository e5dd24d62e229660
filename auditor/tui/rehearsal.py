"""The staging step's rehearsal: boot the app on 127.0.0.1 against a throwaway database, run the
failure paths, mark the findings a probe showed to be real; after the fixes are applied, run it
again and show each gap before and after side by side.

The rehearsal itself (auditor/rehearse) runs the app and the probes in subprocesses; the worker
here only waits for them and posts their progress lines, so the screen keeps answering.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, ProgressBar, Static

from auditor.tui.texts import count
from auditor.tui.widgets import StepTrail

if TYPE_CHECKING:
    from auditor.rehearse.compare import Comparison
    from auditor.rehearse.run import Rehearsal

# What the user agrees to before anything runs (their code is started, on a copy).
WARNING = (
    "This starts your app locally: your code runs in a separate process on 127.0.0.1, on a copy "
    "of the project, against a throwaway database (nothing is sent anywhere else, your files are "
    "not changed). It then sends what production traffic will: no token, another user's objects, "
    "broken bodies, the same order twice, 30 wrong passwords."
)
BEFORE_SETUP = 4  # progress units before the probes: app found, server starting, answering, users
STEP_LINE = re.compile(r"^\[(\d+)/(\d+)\]\s*(.*)$")
SETUP_LINES = (("app: ", 1), ("starting the app", 2), ("the app answers", 3), ("users:", 4))
FAILED_SHOWN = 12  # failed probes listed by name; the rest counted


class RehearsalProgress(Message):
    def __init__(self, line: str, done: int, total: int) -> None:
        super().__init__()
        self.line, self.done, self.total = line, done, total


class RehearsalDone(Message):
    def __init__(self, rehearsal: Rehearsal) -> None:
        super().__init__()
        self.rehearsal = rehearsal


class RehearsalFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class ProgressCounter:
    """Turns the rehearsal's progress lines into a position on the bar: the setup lines first,
    then the client's `[n/N] probe` lines."""

    def __init__(self) -> None:
        self.done, self.total = 0, BEFORE_SETUP + 11

    def feed(self, line: str) -> tuple[int, int]:
        step = STEP_LINE.match(line)
        if step:
            number, steps = int(step.group(1)), int(step.group(2))
            self.total = BEFORE_SETUP + steps
            self.done = max(self.done, BEFORE_SETUP + number - 1)  # that probe has just started
        else:
            for prefix, position in SETUP_LINES:
                if line.startswith(prefix):
                    self.done = max(self.done, position)
        return self.done, self.total


def confirmed_findings(result, rehearsal: Rehearsal) -> set:
    """The scan's findings the rehearsal showed to be real (a failed probe on their route)."""
    from auditor.rehearse.compare import confirmed

    return confirmed(result.findings, rehearsal) if result is not None else set()


def _route(probe: dict) -> str:
    return f"{probe['method'] or ''} {probe['path'] or ''}".strip() or "-"


def results_table(rehearsal: Rehearsal) -> Table:
    """The failed probes (the problems seen for real), most telling first."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold", expand=True)
    table.add_column("Failed probe", no_wrap=True)
    table.add_column("Route", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("Rule", no_wrap=True)
    failed = rehearsal.failed
    for probe in failed[:FAILED_SHOWN]:
        table.add_row(Text(probe["kind"], style="bold red"), _route(probe), probe["rule"] or "-")
    if len(failed) > FAILED_SHOWN:
        table.add_row(Text(f"… {len(failed) - FAILED_SHOWN} more", style="dim"), "", "")
    return table


MARK = "◆"  # the finding lists (auditor/tui/widgets.py) put the same mark on session.confirmed


def confirmed_list(findings) -> Text:
    """The confirmed findings, each with its mark, step and place in the code."""
    text = Text()
    ordered = sorted(findings, key=lambda f: (f.step.number, f.path, f.line, f.rule))
    for finding in ordered:
        text.append(f"{MARK} ", style="bold magenta")
        text.append(f"{finding.rule} ", style="bold")
        text.append(f"step {finding.step.number}  ", style="dim")
        text.append(f"{finding.location}\n")
    text.rstrip()
    return text


def summary_text(rehearsal: Rehearsal, marked: int) -> Text:
    counts = {"failed": 0, "passed": 0, "skipped": 0}
    for probe in rehearsal.probes:
        counts[probe["outcome"]] = counts.get(probe["outcome"], 0) + 1
    text = Text()
    if counts["failed"]:
        text.append(f"{counts['failed']} probes failed: ", style="bold red")
        text.append("these problems are real, the app was seen doing them. ")
    else:
        text.append("No probe failed. ", style="bold green")
    text.append(f"{counts['passed']} passed, {counts['skipped']} could not tell.\n", style="dim")
    if marked:
        text.append(f"{count(marked, 'finding')} of the scan confirmed ", style="bold")
        text.append(f"(marked {MARK} in the steps' lists):")
    from auditor.rehearse.compare import answered

    broken = [h for h in rehearsal.happy_paths if not answered(h["status"])]
    if rehearsal.users:
        text.append(f"\nUsers: {rehearsal.users}", style="yellow")
    elif broken:
        text.append("\nDid not answer 2xx: ", style="yellow")
        text.append(", ".join(f"{h['step']} ({h['status']})" for h in broken))
    return text


def comparison_table(before: Rehearsal, after: Rehearsal, comparison: Comparison) -> Table:
    """Each gap the first rehearsal found (and any new one) with its outcome before and after."""
    table = Table(box=None, padding=(0, 1), pad_edge=False, header_style="bold", expand=True)
    table.add_column("Probe", no_wrap=True)
    table.add_column("Route", overflow="ellipsis", no_wrap=True, ratio=1)
    table.add_column("Before", no_wrap=True)
    table.add_column("After", no_wrap=True)
    now = {(p["kind"], p["method"], p["path"]): p["outcome"] for p in after.probes}
    rows = []
    for probe in before.failed:
        outcome = now.get((probe["kind"], probe["method"], probe["path"]), "not run")
        rows.append((probe, outcome))
    rows.sort(key=lambda row: row[1] != "passed")  # what the fixes removed first
    rows += [(probe, "failed") for probe in comparison.new_failures]
    styles = {"passed": "bold green", "failed": "bold red"}
    for probe, outcome in rows:
        was = "passed" if probe in comparison.new_failures else "failed"
        table.add_row(
            probe["kind"], _route(probe),
            Text(was.upper() if was == "failed" else was, style=styles[was]),
            Text(outcome.upper() if outcome == "failed" else outcome, style=styles.get(outcome, "dim")),
        )  # fmt: skip
    return table


def comparison_text(before: Rehearsal, after: Rehearsal, comparison: Comparison) -> Text:
    text = Text()
    fixed, left, new = len(comparison.fixed), len(comparison.still_failing), len(comparison.new_failures)
    text.append(f"{count(fixed, 'gap')} closed", style="bold green" if fixed else "bold")
    text.append(f", {left} still open", style="bold red" if left else "dim")
    text.append(f", {new} new ", style="bold red" if new else "dim")
    text.append("(before the fixes → after them).\n")
    if comparison.broken_happy_paths:
        text.append("A fix broke the happy path: ", style="bold red")
        text.append("; ".join(comparison.broken_happy_paths))
    else:
        text.append("No fix broke a happy path: ", style="bold green")
        text.append("signup, login, create and list answer as before.", style="dim")
    return text


class RehearsalScreen(Screen):
    """Explains what will run, runs the rehearsal on the user's word, shows what it found.

    When fixes were applied after an earlier rehearsal in this session, it compares the two."""

    CSS_PATH = Path(__file__).with_name("rehearsal.tcss")
    BINDINGS = [
        Binding("enter", "run", "Rehearse now"),
        Binding("b", "back", "Back"),
        Binding("escape", "back", "Back", show=False),
        Binding("q", "app.request_quit", "Quit"),
    ]

    running = False

    def __init__(self) -> None:
        super().__init__()
        self.cancel = threading.Event()  # stops a running rehearsal when the screen goes away

    def compose(self) -> ComposeResult:
        yield StepTrail("staging")
        yield Static(self._headline(), id="rehearse-head", classes="intro")
        with VerticalScroll(id="rehearse-body"):
            yield Static(WARNING, id="rehearse-warning")
            yield ProgressBar(id="rehearse-progress", show_eta=False)
            yield Static(id="rehearse-status")
            yield Static(id="rehearse-summary")
            yield Static(id="rehearse-confirmed")
            yield Static(id="rehearse-results")
        with Horizontal(id="rehearse-buttons"):
            yield Button(self._run_label(), id="rehearse-run", variant="primary")
            yield Button("Back", id="rehearse-back")
        yield Footer(compact=True)

    @property
    def before(self) -> Rehearsal | None:
        """The rehearsal taken before the fixes were written, to compare with."""
        session = self.app.session
        applied = session.outcome is not None and session.outcome.applied
        return session.rehearsals[0] if applied and session.rehearsals else None

    def _headline(self) -> str:
        if self.before is not None:
            return "Rehearse again: the same failure paths, now with your fixes in."
        return "Staging rehearsal: run the failure paths against your app for real."

    def _run_label(self) -> str:
        return "Rehearse again" if self.before is not None else "Rehearse now"

    def on_mount(self) -> None:
        self.query_one(ProgressBar).display = False
        self.query_one("#rehearse-run", Button).focus()

    # -- running ------------------------------------------------------------------------------

    @on(Button.Pressed, "#rehearse-run")
    def action_run(self) -> None:
        if self.running or self.app.session.result is None:
            return
        self.running = True
        self.query_one("#rehearse-run", Button).disabled = True
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=BEFORE_SETUP + 11, progress=0)
        self.query_one("#rehearse-warning", Static).update(Text(WARNING, style="dim"))
        self.query_one("#rehearse-status", Static).update("Starting…")
        self.query_one("#rehearse-results", Static).update("")
        self.query_one("#rehearse-summary", Static).update("")
        self.query_one("#rehearse-confirmed", Static).update("")
        self.rehearse_worker()

    @work(thread=True, exclusive=True, group="rehearsal")
    def rehearse_worker(self) -> None:
        from auditor.rehearse.run import RehearsalError, rehearse

        counter = ProgressCounter()

        def progress(line: str) -> None:
            done, total = counter.feed(line)
            self.post_message(RehearsalProgress(line, done, total))

        session = self.app.session
        try:
            rehearsal = rehearse(session.root, scan_result=session.result, progress=progress, cancel=self.cancel)
        except RehearsalError as exc:
            self.post_message(RehearsalFailed(str(exc)))
        except Exception as exc:  # shown on the screen, not a crash of the wizard
            self.post_message(RehearsalFailed(f"{type(exc).__name__}: {exc}"))
        else:
            self.post_message(RehearsalDone(rehearsal))

    def on_rehearsal_progress(self, message: RehearsalProgress) -> None:
        self.query_one(ProgressBar).update(total=message.total, progress=message.done)
        line = STEP_LINE.sub(lambda m: f"Probe {m.group(1)} of {m.group(2)}: {m.group(3)}", message.line)
        self.query_one("#rehearse-status", Static).update(Text(line, no_wrap=True, overflow="ellipsis"))

    def on_rehearsal_failed(self, message: RehearsalFailed) -> None:
        self._finished()
        self.query_one("#rehearse-status", Static).update(Text(f"The rehearsal could not run: {message.error}", style="bold red"))

    def on_rehearsal_done(self, message: RehearsalDone) -> None:
        self._finished()
        session, rehearsal = self.app.session, message.rehearsal
        before = self.before
        session.rehearsals.append(rehearsal)
        session.confirmed = confirmed_findings(session.result, rehearsal)
        self.query_one("#rehearse-status", Static).update(
            Text(f"Done: {rehearsal.requests} requests sent to your app, which is stopped again.", style="dim")
        )
        if before is not None:
            from auditor.rehearse.compare import compare

            comparison = compare(before, rehearsal)
            self.query_one("#rehearse-summary", Static).update(comparison_text(before, rehearsal, comparison))
            self.query_one("#rehearse-results", Static).update(comparison_table(before, rehearsal, comparison))
        else:
            self.query_one("#rehearse-summary", Static).update(summary_text(rehearsal, len(session.confirmed)))
            self.query_one("#rehearse-confirmed", Static).update(confirmed_list(session.confirmed))
            self.query_one("#rehearse-results", Static).update(results_table(rehearsal))
        self.query_one("#rehearse-confirmed", Static).display = before is None and bool(session.confirmed)

    def _finished(self) -> None:
        self.running = False
        self.query_one(ProgressBar).display = False
        self.query_one("#rehearse-warning", Static).display = False  # room for the results
        button = self.query_one("#rehearse-run", Button)
        button.disabled = False
        button.label = "Rehearse again"

    # -- leaving ------------------------------------------------------------------------------

    @on(Button.Pressed, "#rehearse-back")
    def action_back(self) -> None:
        if self.running:
            self.app.notify("Stopping the rehearsal: your app is shut down and its temporary data removed.")
        self.dismiss(bool(self.app.session.confirmed))

    def on_unmount(self) -> None:
        self.cancel.set()  # back, or the wizard quit: a running rehearsal stops and cleans up


# -- screenshots (`python -m auditor.tui.rehearsal --out screenshots`) ------------------------------
# Real rehearsals of a copy of the demo app, driven as auditor/tui/screenshots.py drives the other
# screens; kept out of its SHOTS because a live rehearsal is no fixed snapshot.

# The demo's gaps a rehearsal probes, fixed between the two rehearsals of the "again" shot.
PROBED_RULES = {"PR201", "PR203", "PR212", "PR240", "PR301", "PR302", "PR320", "PR330", "PR331"}


async def drive_rehearsal(pilot) -> None:
    from auditor.tui.screenshots import drive_step, press

    await drive_step(4)(pilot)
    await press(pilot, "r", "enter")


async def drive_rehearsal_again(pilot) -> None:
    """Rehearse, write the fixes of the probed gaps (as the review screen does), rehearse again."""
    from auditor.engine import scan
    from auditor.tui.screenshots import press, settle
    from auditor.tui.session import Outcome
    from fixers.pipeline.apply import apply_plan
    from fixers.pipeline.plan import plan_fixes

    app = pilot.app
    await drive_rehearsal(pilot)
    await press(pilot, "b")
    result = app.session.result
    apply_plan(plan_fixes(result, findings=[f for f in result.findings if f.rule in PROBED_RULES], include_review=True))
    app.scanned(scan(app.session.root, use_cache=False), after_apply=True)
    app.session.outcome = Outcome(applied=True)
    app.goto("summary")
    await settle(pilot)
    await press(pilot, "R", "enter")


SHOTS = {"rehearsal": drive_rehearsal, "rehearsal-again": drive_rehearsal_again}


def main(argv: list[str] | None = None) -> int:
    import argparse
    import asyncio

    from auditor.tui.screenshots import render, shot

    parser = argparse.ArgumentParser(prog="python -m auditor.tui.rehearsal", description="Render the rehearsal screens to SVG.")
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, drive in SHOTS.items():
        print(asyncio.run(render(name, shot(drive), args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

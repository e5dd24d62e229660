"""Summary: score per step before and after, what was written, how to undo, what is left by hand."""

from __future__ import annotations

import re

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from auditor.models import Step
from auditor.tui import fixes
from auditor.tui.session import Outcome
from auditor.tui.texts import BY_HAND, count
from auditor.tui.widgets import SEVERITY_LABEL, SEVERITY_STYLE, StepTrail

TODO_SHOWN = 8


class LabelledPath:
    """`Backup: a/b/c`, wrapped only after a `/` when it does not fit (never inside a name)."""

    def __init__(self, label: str, path: str) -> None:
        self.label, self.path = label, path

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(options.max_width, 20)
        parts = re.findall(r"[^/]*/|[^/]+$", self.path)
        line = Text(self.label, style="bold")
        for part in parts:
            if line.cell_len + len(part) > width and line.plain.strip() and not line.plain.endswith(self.label):
                yield line
                line = Text("  ")
            line.append(part)
        yield line


class SummaryScreen(Screen):
    BINDINGS = [
        Binding("b", "back", "Back to steps"),
        Binding("r", "app.rescan", "Rescan"),
        Binding("R", "rehearse", "Rehearse again"),  # after an earlier rehearsal (check_action)
        Binding("q", "app.request_quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield StepTrail("summary")
        with VerticalScroll(id="summary-body"):
            yield Static(self._headline(), id="summary-head", classes="headline")
            yield Static(self._scores(), id="summary-scores")
            yield Static(self._written(), id="summary-written")
            yield Static(self._todo(), id="summary-todo")
        yield Footer()

    @property
    def outcome(self) -> Outcome:
        return self.app.session.outcome or Outcome()

    def _headline(self) -> Text:
        outcome = self.outcome
        if outcome.applied:
            written = len(outcome.changed) + len(outcome.created) + (outcome.config_written is not None)
            if outcome.verified:
                return Text(f"Done: {count(written, 'file')} written; your tests passed with the fixes.", style="bold green")
            return Text(f"Done: {count(written, 'file')} written. Run your tests now.", style="bold green")
        if outcome.patch_path is not None:
            return Text("Dry run: nothing was written to the project. The patch is saved.", style="bold")
        return Text("Nothing was written.", style="bold")

    def _scores(self) -> Table:
        session = self.app.session
        before = session.scores_before or session.result.scores()
        after = session.result.scores() if self.outcome.applied else session.projected_scores()
        table = Table(box=None, padding=(0, 2), pad_edge=False, header_style="bold")
        table.add_column("Step")
        table.add_column("Before", justify="right")
        table.add_column("After" if self.outcome.applied else "If applied", justify="right")
        table.add_column("Findings left", justify="right")
        for step in Step:
            if not session.checked(step):
                table.add_row(f"{step.number}. {step.title}", "-", Text("not checked", style="dim"), "-")
                continue
            old, new = before[step]["score"], after[step]["score"]
            style = "green" if new > old else "" if new == old else "red"
            table.add_row(f"{step.number}. {step.title}", f"{old}", Text(f"{new}", style=style), str(after[step]["findings"]))
        return table

    def _written(self) -> Group:
        outcome = self.outcome
        parts: list = []
        text = Text()
        if outcome.changed or outcome.created:
            text.append("Files changed: ", style="bold")
            text.append(", ".join(outcome.changed + [f"{p} (new)" for p in outcome.created]) + "\n")
        if outcome.config_written:
            text.append("Answers recorded in ", style="bold")
            text.append(f"{outcome.config_written} [tool.prodready]\n")
        if outcome.commented:
            text.append("Suppression comments added in ", style="bold")
            text.append(", ".join(outcome.commented) + "\n")
        if outcome.backup_dir is not None:
            parts.append(text)
            parts.append(LabelledPath("Backup: ", self.app.shown_path(outcome.backup_dir)))
            text = Text()
            text.append("Undo: ", style="bold")
            text.append(fixes.undo_command(self.app.path_label))
            text.append(" puts the code back as it was")
            text.append(" (the answers stay in the config).\n" if outcome.config_written else ".\n")
        if outcome.patch_path is not None:
            text.append("Patch: ", style="bold")
            text.append(f"{self.app.shown_path(outcome.patch_path)} (apply it with `git apply`)\n")
        if outcome.verify_lines:
            text.append("Your tests: ", style="bold")
            text.append("\n".join(outcome.verify_lines) + "\n")
        for warning in outcome.warnings:
            text.append(f"{warning}\n", style="bold red")
        text.rstrip()
        parts.append(text)
        if parts and isinstance(parts[0], Text) and not parts[0].plain:
            parts.pop(0)
        return Group(*parts)

    def _todo(self) -> Text:
        left = self.app.session.by_hand()
        text = Text()
        text.append("Next, by hand\n", style="bold underline")
        for finding in left[:TODO_SHOWN]:
            text.append(SEVERITY_LABEL[finding.severity], style=SEVERITY_STYLE[finding.severity])
            text.append(f" {finding.rule} {finding.location}", style="bold")
            text.append(f"  {finding.message}\n")
        if len(left) > TODO_SHOWN:
            text.append(f"… and {len(left) - TODO_SHOWN} more: `prodready scan` lists them all.\n", style="dim")
        for tip in BY_HAND:
            text.append(f"• {tip}\n")
        text.rstrip()
        return text

    def action_back(self) -> None:
        self.app.goto(Step.DATA_MODEL)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return bool(self.app.session.rehearsals) if action == "rehearse" else True

    def action_rehearse(self) -> None:
        from auditor.tui.rehearsal import RehearsalScreen

        self.app.push_screen(RehearsalScreen())

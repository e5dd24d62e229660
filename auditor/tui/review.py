"""Review: every accepted change, file by file and hunk by hunk, then apply (or export in a dry run).

Next to the diff (above it below 120 columns) a list of the files and the fixes that change
them: `d` drops the highlighted fix, or every fix that changes the highlighted file, from the
apply (lazygit's way of unstaging a hunk). Dropping never edits a diff by hand: the dropped
findings become "skipped" and the plan is made again from the fixes still accepted, so what is
applied is checked the same way as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from auditor.config_writer import ConfigEdit, ConfigWriteError
from auditor.engine import ScanError, scan
from auditor.models import Finding, Step
from auditor.tui import fixes
from auditor.tui.messages import ApplyDone, ApplyFailed, PlanProgress, PlanReady
from auditor.tui.modals import ConfirmScreen, SavePathScreen
from auditor.tui.diffview import DiffView
from auditor.tui.session import Decision, Outcome
from auditor.tui.texts import count
from auditor.tui.widgets import StepTrail


UNFIXED_SHOWN = 3  # accepted fixes the engine could not make, listed by name in the headline


class VerifyProgress(Message):
    """The project's tests are running around the apply: `done` runs of at most `most`."""

    def __init__(self, what: str, done: int, most: int) -> None:
        super().__init__()
        self.what, self.done, self.most = what, done, most


def project_has_tests(root: Path) -> bool:
    try:
        from fixers.pipeline.verify import has_tests
    except ImportError:  # an install without the fix engine
        return False
    return has_tests(root)


def split_hunks(diff: str) -> list[str]:
    """A file's diff cut before each `@@` line; the file header stays with the first hunk."""
    hunks: list[list[str]] = [[]]
    for line in diff.splitlines(keepends=True):
        if line.startswith("@@") and any(l.startswith("@@") for l in hunks[-1]):
            hunks.append([])
        hunks[-1].append(line)
    return ["".join(h) for h in hunks if h]


def diff_stat(diff: str) -> str:
    added = sum(1 for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++"))
    removed = sum(1 for l in diff.splitlines() if l.startswith("-") and not l.startswith("---"))
    return f"+{added} −{removed}"


class ReviewScreen(Screen):
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]

    BINDINGS = [
        Binding("a", "apply", "Apply"),
        Binding("d", "drop", "Drop/keep"),
        Binding("right_square_bracket", "hunk(1)", "Next hunk"),
        Binding("left_square_bracket", "hunk(-1)", "Prev hunk", show=False),
        Binding("full_stop", "file(1)", "Next file", show=False),
        Binding("comma", "file(-1)", "Prev file", show=False),
        Binding("tab", "app.focus_next", "List/diff", show=False),
        Binding("e", "export", "Export patch"),
        Binding("v", "toggle_verify", "Tests on/off"),
        Binding("b", "back", "Back"),
        Binding("q", "app.request_quit", "Quit"),
    ]

    plan: Any | None = None
    config_edit: ConfigEdit | None = None
    comment_edits: list[ConfigEdit] = []
    comments_refused: list[tuple[str, int]] = []
    ready = False
    applying = False
    verify_lines: list[str] = []
    verified = False

    def compose(self) -> ComposeResult:
        dry_run = self.app.session.dry_run
        yield StepTrail("review")
        yield Static("Preparing the changes…", id="review-head", classes="intro")
        if not dry_run:
            yield Static(id="review-verify", classes="intro")
        yield ProgressBar(id="plan-progress", show_eta=False)
        with Container(id="review-work"):
            yield OptionList(id="review-files")
            yield VerticalScroll(id="review-diff-box")
        yield Static(id="review-error", classes="error")
        with Horizontal(id="review-buttons"):
            if not dry_run:
                yield Button("Apply changes", id="apply", variant="primary", disabled=True, compact=True)
            yield Button("Export patch", id="export", variant="primary" if dry_run else "default", disabled=True, compact=True)
            yield Button("Back", id="back", compact=True)
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one("#review-error").display = False
        files = self.query_one("#review-files", OptionList)
        files.border_title = "Files and fixes · d drop/keep · ] [ hunks · . , files"
        files.display = False
        session = self.app.session
        if not session.dry_run:
            if session.verify is None:
                session.verify = project_has_tests(session.root)
            self._show_verify()
        self.build_plan()

    def _show_verify(self) -> None:
        text = Text()
        if self.app.session.verify:
            text.append("Your tests run first", style="bold")
            text.append(", on a copy (your code runs; no network but 127.0.0.1); a fix that breaks one is left out. v turns this off.")
        else:
            text.append("Your tests do not run before writing", style="bold")
            text.append(" (v turns it on)." if project_has_tests(self.app.session.root) else ": the project has no tests.")
        self.query_one("#review-verify", Static).update(text)

    def action_toggle_verify(self) -> None:
        session = self.app.session
        if session.dry_run or self.applying:
            return
        session.verify = not session.verify
        self._show_verify()

    @work(thread=True, exclusive=True, group="plan")
    def build_plan(self) -> None:
        session = self.app.session

        def progress(fixer: str, done: int, total: int) -> None:
            self.post_message(PlanProgress(fixer, done, total))

        try:
            plan = fixes.plan(session.result, session.accepted(), progress)
        except fixes.FixUnavailable:
            self.post_message(PlanReady(None))
        except fixes.fix_error_types() as exc:
            self.post_message(PlanReady(None, str(exc)))
        except Exception as exc:  # never a traceback in the UI
            self.post_message(PlanReady(None, f"internal error while preparing the fixes: {type(exc).__name__}: {exc}"))
        else:
            self.post_message(PlanReady(plan))

    def on_plan_progress(self, message: PlanProgress) -> None:
        if self.ready:
            return
        self.query_one("#review-head", Static).update(
            f"Preparing the changes… {message.done + 1} of {message.total}: {message.fixer}"
        )
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=message.total, progress=message.done)

    def on_plan_ready(self, message: PlanReady) -> None:
        self.plan = message.plan
        still, self.dropping_file = self.dropping_file, None
        self.ready = True
        self.query_one(ProgressBar).display = False
        self.query_one("#review-error").display = False
        if message.error:
            self._error(message.error)
        planned = {edit.relpath: edit.new for edit in self.plan.edits} if self.plan is not None else {}
        try:
            self.config_edit = self.app.session.config_edit(planned)
        except ConfigWriteError as exc:
            self.config_edit = None
            self._error(str(exc))
        self.comment_edits, self.comments_refused = self.app.session.comment_edits(planned)
        self._show_plan()
        for button in self.query(Button):
            button.disabled = False
        if self.query("#apply"):
            self.query_one("#apply", Button).label = "Apply changes" if self.patch_text() else "Finish"
        files = self.query_one("#review-files", OptionList)
        (files if files.display else self.query_one("#review-diff-box")).focus()
        if still and still in self._files():
            writers = [p.finding.rule + " " + p.finding.location for p in self.plan.fixes if still in p.files]
            self.app.notify(
                f"{still} is still changed: " + (", ".join(writers[:3]) + " also write to it; d on it again drops those." if writers else "a fix it depends on writes it."),
                title="Still in the apply",
            )

    # -- the plan, shown ----------------------------------------------------------------------

    def file_diffs(self) -> list[tuple[str, str]]:
        """(file, its diff from the disk) in patch order; answers and comments go on top of the fixes."""
        own = {edit.label: edit.diff() for edit in [*self.comment_edits, *([self.config_edit] if self.config_edit else [])]}
        parts = [(edit.relpath, edit.diff()) for edit in (self.plan.edits if self.plan is not None else []) if edit.relpath not in own]
        parts += list(own.items())
        return [(label, diff if diff.endswith("\n") else diff + "\n") for label, diff in parts if diff]

    def _show_plan(self) -> None:
        self.query_one("#review-head", Static).update(self._headline())
        box = self.query_one("#review-diff-box", VerticalScroll)
        box.remove_children()
        self.hunks: list[tuple[int, Static]] = []  # (file number, its widget), in order
        self.hunk_at = -1
        dark = self.app.current_theme.dark
        widgets = []
        for number, (_, diff) in enumerate(self.file_diffs()):
            for hunk in split_hunks(diff):
                widget = Static(DiffView(hunk, dark), classes="hunk")
                self.hunks.append((number, widget))
                widgets.append(widget)
        if not widgets:
            widgets.append(Static(Text("Nothing to write: no accepted fix changes code and no answers to record.", style="italic")))
        box.mount_all(widgets)
        self._fill_list()

    def _fill_list(self) -> None:
        """Files, each followed by the fixes that change it; then what was dropped (d keeps it again)."""
        files = self.query_one("#review-files", OptionList)
        highlighted = files.highlighted
        self.entries: list[tuple[str, Any]] = []  # ("file", number) | ("fix", Finding) | ("follow", Finding) | ("dropped", Finding)
        options: list[Option] = []
        fixes_ = list(self.plan.fixes) if self.plan is not None else []
        follow_ups = list(self.plan.follow_ups) if self.plan is not None else []
        answers = {e.label for e in self.comment_edits} | ({self.config_edit.label} if self.config_edit else set())
        labels = {label for label, _ in self.file_diffs()}
        for number, (label, diff) in enumerate(self.file_diffs()):
            row = Text(no_wrap=True, overflow="ellipsis")
            row.append(label, style="bold")
            row.append(f"  {diff_stat(diff)}", style="dim")
            if label in answers:
                row.append("  your answers", style="dim")
            options.append(Option(row))
            self.entries.append(("file", number))
            for kind, planned in [("fix", f) for f in fixes_] + [("follow", f) for f in follow_ups]:
                if self._home(planned, labels) != label and not (label in planned.files and planned.finding.path not in labels):
                    continue
                line = Text(no_wrap=True, overflow="ellipsis")
                line.append("  ")
                line.append(f"{planned.finding.rule} ", style="bold")
                line.append(planned.finding.message)
                if kind == "follow":
                    line.append("  (comes with another fix)", style="dim")
                options.append(Option(line))
                self.entries.append((kind, planned.finding))
        for finding in self.dropped():
            line = Text(no_wrap=True, overflow="ellipsis")
            line.append("dropped ", style="yellow")
            line.append(f"{finding.rule} {finding.location} ", style="strike")
            line.append(finding.message, style="dim strike")
            options.append(Option(line))
            self.entries.append(("dropped", finding))
        files.clear_options()
        files.add_options(options)
        files.display = bool(options)
        if options:
            files.highlighted = min(highlighted or 0, len(options) - 1)

    @staticmethod
    def _home(planned: Any, labels: set[str]) -> str:
        """The file a fix is listed under: its finding's file (a fixer's group may write others too)."""
        return planned.finding.path if planned.finding.path in labels else (planned.files[0] if planned.files else "")

    def dropped(self) -> list[Finding]:
        session = self.app.session
        return [f for f in session.dropped if session.decision(f) == Decision.SKIP]

    @on(OptionList.OptionHighlighted, "#review-files")
    def _entry_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        kind, value = self.entries[event.option_index] if event.option_index < len(self.entries) else ("", None)
        if kind == "file":
            self._scroll_to_file(value)
        elif kind in ("fix", "follow"):
            for index in range(event.option_index, -1, -1):
                if self.entries[index][0] == "file":
                    self._scroll_to_file(self.entries[index][1])
                    break

    def _scroll_to_file(self, number: int) -> None:
        for at, (file_number, _) in enumerate(self.hunks):
            if file_number == number:
                self._scroll_to_hunk(at)
                return

    def _scroll_to_hunk(self, at: int) -> None:
        self.hunk_at = at
        self.query_one("#review-diff-box", VerticalScroll).scroll_to_widget(self.hunks[at][1], top=True, animate=False)

    def action_hunk(self, step: int) -> None:
        if not getattr(self, "hunks", None):
            return
        self._scroll_to_hunk(max(0, min(len(self.hunks) - 1, self.hunk_at + step)))
        self._highlight_file(self.hunks[self.hunk_at][0])

    def action_file(self, step: int) -> None:
        if not getattr(self, "hunks", None):
            return
        current = self.hunks[self.hunk_at][0] if self.hunk_at >= 0 else -1
        last = self.hunks[-1][0]
        target = max(0, min(last, current + step))
        self._scroll_to_file(target)
        self._highlight_file(target)

    def _highlight_file(self, number: int) -> None:
        files = self.query_one("#review-files", OptionList)
        with self.prevent(OptionList.OptionHighlighted):
            files.highlighted = self.entries.index(("file", number))

    # -- dropping ---------------------------------------------------------------------------

    def action_drop(self) -> None:
        """Drop the highlighted fix (or every fix of the highlighted file) from the apply, or keep a dropped one again."""
        files = self.query_one("#review-files", OptionList)
        if not self.ready or self.applying or files.highlighted is None or not getattr(self, "entries", None):
            return
        session = self.app.session
        kind, value = self.entries[files.highlighted]
        if kind == "dropped":
            session.decide(value, Decision.ACCEPT)
            session.dropped.remove(value)
            self.app.notify(f"{value.rule} {value.location} is back in the apply.")
        elif kind == "fix":
            self._drop([value])
        elif kind == "follow":
            self.app.notify("This fix comes with another one (it fixes what that one raised): drop that one instead.")
            return
        else:
            label = self.file_diffs()[value][0]
            fixes_ = list(self.plan.fixes) if self.plan is not None else []
            # The fixes of findings in this file; when none, those that write it on the side (a new module).
            findings = [p.finding for p in fixes_ if p.finding.path == label] or [p.finding for p in fixes_ if label in p.files]
            if not findings:
                self.app.notify(
                    f"{label} records your answers (not a problem, public): change those on the step screens."
                )
                return
            self.dropping_file = label
            self._drop(findings)
        self.replan()

    def _drop(self, findings: list[Finding]) -> None:
        session = self.app.session
        for finding in findings:
            session.decide(finding, Decision.SKIP)
            if finding not in session.dropped:
                session.dropped.append(finding)
        self.app.notify(
            f"Dropped {count(len(findings), 'fix', 'fixes')} from the apply ({'; '.join(f.rule + ' ' + f.location for f in findings[:3])})."
        )

    dropping_file: str | None = None

    def replan(self) -> None:
        """The plan again, from the fixes still accepted (each dropped one is now skipped)."""
        self.ready = False
        for button in self.query(Button):
            button.disabled = True
        self.query_one("#review-head", Static).update("Preparing the changes again without what you dropped…")
        self.build_plan()

    def refresh_theme(self) -> None:
        if self.ready:
            self._show_plan()

    def _headline(self) -> Text:
        session = self.app.session
        accepted = session.accepted()
        planned = {fix.finding for fix in self.plan.fixes} if self.plan is not None else set()
        files = self._files()
        text = Text()
        text.append(f"{count(len(planned), 'fix', 'fixes')} ready", style="bold")
        text.append(f", {count(len(files), 'file')} to change")
        dropped = self.dropped()
        if dropped:
            text.append(f", {len(dropped)} dropped")
        if self.plan is not None and self.plan.dependencies:
            text.append("\nDependencies to add: ", style="bold")
            text.append(", ".join(self.plan.dependencies))
        reasons = dict(self.plan.skipped) if self.plan is not None else {}
        unfixed = [f for f in accepted if f.fixable and f not in planned]
        from fixers.pipeline.plan import why_not_fixed

        for finding in unfixed[:UNFIXED_SHOWN]:
            reason = reasons.get(finding, "no automatic fix yet")
            text.append(f"\nNot fixed automatically: {finding.rule} {finding.location}: {why_not_fixed(reason)}", style="yellow")
        if len(unfixed) > UNFIXED_SHOWN:
            text.append(f"\n… and {len(unfixed) - UNFIXED_SHOWN} more not fixed automatically.", style="yellow")
        for relpath, line in self.comments_refused[:UNFIXED_SHOWN]:
            text.append(f"\nNo comment fits on {relpath}:{line} (a fix changes that line, or it is inside a string): answer it again for the file.", style="yellow")
        if session.dry_run:
            text.append("\nDry run: nothing is written to the project; export the patch instead.", style="italic")
        return text

    def _files(self) -> list[str]:
        return [label for label, _ in self.file_diffs()]

    def patch_text(self) -> str:
        """Every change as one patch, file by file; the answers share the diff of the file they go in."""
        return "".join(diff for _, diff in self.file_diffs())

    def _error(self, message: str) -> None:
        error = self.query_one("#review-error", Static)
        error.update(Text(message, style="bold"))
        error.display = True
        self.app.notify(message, title="Cannot apply", severity="error")

    # -- actions ----------------------------------------------------------------------------

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        if not self.ready or self.app.session.dry_run:
            if self.app.session.dry_run:
                self.app.notify("Dry run: use Export patch (e) to save the changes as a patch file.")
            return
        if not self.patch_text():
            self.app.session.outcome = Outcome()
            self.app.goto("summary")
            return
        files = len(self._files())
        body = (
            f"{count(files, 'file')} will be written. A backup of the code is kept, and "
            f"`{fixes.undo_command(self.app.path_label)}` puts it back."
        )
        if self.app.session.verify:
            body += " First your tests run on a copy of the project (this runs your code); a fix that breaks one is left out."

        def answered(yes: bool | None) -> None:
            if yes:
                self.applying = True
                self.query_one("#review-head", Static).update("Writing the changes, then scanning again…")
                for button in self.query(Button):
                    button.disabled = True
                self.run_apply()

        self.app.push_screen(ConfirmScreen("Write these changes?", body, yes="Apply", no="Not yet"), answered)

    @work(thread=True, exclusive=True, group="apply")
    def run_apply(self) -> None:
        session = self.app.session
        report = None
        plan = self.plan
        try:
            if session.verify and plan is not None and not plan.is_empty:
                plan = self._verified(plan)
            if plan is not None and not plan.is_empty:
                report = fixes.apply(plan)
        except fixes.fix_error_types() as exc:
            self.post_message(ApplyFailed(str(exc)))
            return
        except Exception as exc:  # never a traceback in the UI
            self.post_message(ApplyFailed(f"internal error while applying: {type(exc).__name__}: {exc}"))
            return
        written, warning = None, ""
        try:
            edit = session.config_edit()  # again, from the files as the fixes left them
            if edit is not None:
                edit.write()
                written = edit.label
        except ConfigWriteError as exc:
            warning = f"answers not recorded: {exc}"
        commented: list[str] = []
        try:
            for comment in session.comment_edits()[0]:  # on the files as the fixes left them, too
                comment.write()
                commented.append(comment.label)
        except ConfigWriteError as exc:
            warning = (warning + "; " if warning else "") + f"suppression comments not added: {exc}"
        self.commented = commented
        result = getattr(report, "rescan", None)
        if result is None or written or commented:
            try:
                result = scan(session.root, overrides=self.app.overrides)
            except ScanError:
                result = None
        self.post_message(ApplyDone(report, written, result, warning))

    def _verified(self, plan: Any) -> Any:
        """The plan once the project's tests ran without and with it (in the apply worker)."""
        from fixers.pipeline.verify import VerifyError, verify_plan

        try:
            report = verify_plan(
                plan, include_review=True, progress=lambda what, done, most: self.post_message(VerifyProgress(what, done, most))
            )
        except VerifyError as exc:
            message = str(exc).removeprefix("--verify ")
            raise VerifyError(f"{message} (press v to write the changes without running your tests)") from None
        self.verify_lines = [line.removeprefix("verify: ") for line in report.lines()]
        self.verified = report.status == "verified"
        return report.plan

    def on_verify_progress(self, message: VerifyProgress) -> None:
        self.query_one("#review-head", Static).update(
            f"Running your tests before writing (run {message.done + 1}, at most {message.most}): {message.what}…"
        )
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=message.most, progress=message.done)

    def on_apply_failed(self, message: ApplyFailed) -> None:
        self.applying = False
        self.query_one(ProgressBar).display = False
        self.query_one("#review-head", Static).update(self._headline())
        for button in self.query(Button):
            button.disabled = False
        self._error(f"Nothing was written: {message.error}")

    def on_apply_done(self, message: ApplyDone) -> None:
        session = self.app.session
        report = message.report
        session.outcome = Outcome(
            applied=True,
            changed=list(report.changed) if report is not None else [],
            created=list(report.created) if report is not None else [],
            backup_dir=report.backup_dir if report is not None else None,
            config_written=message.config_written,
            commented=list(getattr(self, "commented", [])),
            warnings=[message.warning] if message.warning else [],
            verify_lines=list(self.verify_lines),
            verified=self.verified,
        )
        if message.result is not None:
            self.app.scanned(message.result, after_apply=True)
        self.app.goto("summary")

    @on(Button.Pressed, "#export")
    def action_export(self) -> None:
        if not self.ready:
            return
        text = self.patch_text()
        if not text:
            self.app.notify("Nothing to export: no accepted fix changes code.")
            return

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                self._error(f"cannot write {path}: {exc.strerror}")
                return
            if self.app.session.dry_run:  # the summary says where the patch is
                self.app.session.outcome = Outcome(patch_path=path)
                self.app.goto("summary")
            else:
                shown = self.app.shown_path(path)
                self.app.notify(f"Patch saved to {shown}. Apply it with `git apply`.", title="Exported")

        self.app.push_screen(SavePathScreen("Save the changes as a patch file", self.app.session.root / "prodready.patch"), chosen)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.app.goto(list(Step)[-1])


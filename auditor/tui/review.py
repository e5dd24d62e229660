"""Review: every accepted change as one diff, file by file, then apply (or export in a dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, ProgressBar, Static

from auditor.config_writer import ConfigEdit, ConfigWriteError
from auditor.engine import ScanError, scan
from auditor.models import Step
from auditor.tui import fixes
from auditor.tui.messages import ApplyDone, ApplyFailed, PlanProgress, PlanReady
from auditor.tui.modals import ConfirmScreen, SavePathScreen
from auditor.tui.session import Outcome
from auditor.tui.texts import count
from auditor.tui.widgets import StepTrail, syntax_theme


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


class ReviewScreen(Screen):
    BINDINGS = [
        Binding("a", "apply", "Apply"),
        Binding("e", "export", "Export patch"),
        Binding("v", "toggle_verify", "Run tests on/off"),
        Binding("b", "back", "Back"),
        Binding("q", "app.request_quit", "Quit", show=False),
    ]

    plan: Any | None = None
    config_edit: ConfigEdit | None = None
    ready = False
    applying = False
    verify_lines: list[str] = []
    verified = False

    def compose(self) -> ComposeResult:
        dry_run = self.app.session.dry_run
        yield StepTrail("review")
        yield Static("Preparing the changes…", id="review-head", classes="intro")
        if not dry_run:
            yield Static(id="review-verify")
        yield ProgressBar(id="plan-progress", show_eta=False)
        with VerticalScroll(id="review-diff-box"):
            yield Static(id="review-diff")
        yield Static(id="review-error", classes="error")
        with Horizontal(id="review-buttons"):
            if not dry_run:
                yield Button("Apply changes", id="apply", variant="primary", disabled=True)
            yield Button("Export patch", id="export", variant="primary" if dry_run else "default", disabled=True)
            yield Button("Back", id="back")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#review-error").display = False
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
        self.query_one(ProgressBar).update(total=message.total, progress=message.done)

    def on_plan_ready(self, message: PlanReady) -> None:
        self.plan = message.plan
        self.ready = True
        self.query_one(ProgressBar).display = False
        if message.error:
            self._error(message.error)
        planned = {edit.relpath: edit.new for edit in self.plan.edits} if self.plan is not None else {}
        try:
            self.config_edit = self.app.session.config_edit(planned)
        except ConfigWriteError as exc:
            self.config_edit = None
            self._error(str(exc))
        self._show_plan()
        for button in self.query(Button):
            button.disabled = False
        if not self.patch_text() and self.query("#apply"):
            self.query_one("#apply", Button).label = "Finish"
        self.query_one("#review-diff-box").focus()  # arrows and page keys scroll the diff

    def _show_plan(self) -> None:
        self.query_one("#review-head", Static).update(self._headline())
        diff = self.patch_text()
        box = self.query_one("#review-diff", Static)
        if diff:
            box.update(Syntax(diff, "diff", theme=syntax_theme(self.app.current_theme.dark), word_wrap=False))
        else:
            box.update(Text("Nothing to write: no accepted fix changes code and no answers to record.", style="italic"))

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
        if files:
            text.append(": " + ", ".join(files))
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
        by_hand = [f for f in accepted if f not in planned]
        if by_hand:
            text.append(f"\n{count(len(by_hand), 'accepted finding')} to change by hand: the summary lists them.")
        if session.dry_run:
            text.append("\nDry run: nothing is written to the project; export the patch instead.", style="italic")
        return text

    def _files(self) -> list[str]:
        files = list(self.plan.files_changed) if self.plan is not None else []
        if self.config_edit is not None and self.config_edit.label not in files:
            files.append(self.config_edit.label)
        return files

    def patch_text(self) -> str:
        """Every change as one patch, file by file; the answers share the config file's diff."""
        config_label = self.config_edit.label if self.config_edit is not None else None
        parts = [edit.diff() for edit in (self.plan.edits if self.plan is not None else []) if edit.relpath != config_label]
        if self.config_edit is not None:
            parts.append(self.config_edit.diff())
        return "".join(p if p.endswith("\n") else p + "\n" for p in parts if p)

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
        result = getattr(report, "rescan", None)
        if result is None or written:
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


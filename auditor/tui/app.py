"""The wizard app: holds the session, moves between screens, offers the palette commands."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from auditor.models import Finding, Step
from auditor.tui.modals import ConfirmScreen, SavePathScreen
from auditor.tui.session import Session
from auditor.tui.texts import count

if TYPE_CHECKING:  # the engine loads in the scan worker, after the first screen is up
    from auditor.engine import ScanResult
    from auditor.tui.fixes import Preview


def display_path(path: Path) -> str:
    """The path as the user would type it: relative to the current folder, or with ~."""
    path = path.resolve()
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            relative = path.relative_to(base).as_posix()
        except ValueError:
            continue
        return (prefix + relative) if relative != "." else (prefix.rstrip("/") or ".")
    return str(path)


class WizardApp(App[int]):
    """`prodready wizard PATH`: scan, five steps, review, apply, summary."""

    CSS_PATH = Path(__file__).with_name("wizard.tcss")  # absolute: subclasses elsewhere still find it
    TITLE = "prodready"
    BINDINGS = [
        Binding("ctrl+t", "toggle_dark", "Dark/light", show=False),
        # Textual's own ctrl+q quits at once: here it asks first, as q does, when decisions would be lost.
        Binding("ctrl+q", "request_quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        root: Path,
        *,
        dry_run: bool = False,
        path_label: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.session = Session(root=Path(root).resolve(), dry_run=dry_run)
        self.overrides = overrides  # config overrides for every scan, as the CLI's --select gives
        # What the screens print for the project path (tests pass a fixed label: no temp paths on screen).
        self.path_label = path_label or display_path(self.session.root)
        self.previews: dict[Finding, Preview] = {}
        self.selection: dict[Step, int] = {}  # highlighted finding per step, kept across visits
        self.resume_step: Step | None = None

    def on_mount(self) -> None:
        from auditor.tui.start import StartScreen

        self.push_screen(StartScreen())

    # -- state --------------------------------------------------------------------------------

    def scanned(self, result: ScanResult, after_apply: bool = False) -> None:
        if after_apply:
            self.session.rescanned_after_apply(result)
        else:
            self.session.scanned(result)
        self.previews.clear()

    def shown_path(self, path: Path | str) -> str:
        """A path inside the project, shown relative to the project's label."""
        try:
            return f"{self.path_label.rstrip('/')}/{Path(path).resolve().relative_to(self.session.root).as_posix()}"
        except ValueError:
            return str(path)

    # -- navigation ---------------------------------------------------------------------------

    def goto(self, target: Step | str) -> None:
        """Show a step, "start", "review" or "summary" in place of the current screen."""
        from auditor.tui.review import ReviewScreen
        from auditor.tui.start import StartScreen
        from auditor.tui.step import StepScreen
        from auditor.tui.summary import SummaryScreen

        if self.session.result is None and target != "start":
            self.notify("Wait for the scan to finish first.")
            return
        if isinstance(target, Step):
            self.resume_step = target
            screen: Screen = StepScreen(target)
        elif target == "review":
            screen = ReviewScreen()
        elif target == "summary":
            screen = SummaryScreen()
        else:
            screen = StartScreen(rescan=False)
        self.switch_screen(screen)

    def action_rescan(self) -> None:
        from auditor.tui.start import StartScreen

        self.switch_screen(StartScreen(rescan=True))

    # -- palette commands ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if self.session.result is not None:
            for step in Step:
                yield SystemCommand(
                    f"Go to step {step.number}: {step.title}",
                    f"Show the {step.title.lower()} findings",
                    lambda step=step: self.goto(step),
                )
            yield SystemCommand("Go to review", "See every accepted change as one diff", lambda: self.goto("review"))
            yield SystemCommand("Export report", "Save the findings as a Markdown report", self.action_export_report)
        yield SystemCommand("Rescan", "Scan the project again (your decisions are kept)", self.action_rescan)
        yield SystemCommand("Toggle dark/light", "Switch between the dark and the light theme", self.action_toggle_dark)

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.current_theme.dark else "textual-dark"
        refresh = getattr(self.screen, "refresh_theme", None)
        if refresh is not None:
            refresh()

    def action_export_report(self) -> None:
        from auditor.report import FORMATS

        result = self.session.result
        if result is None:
            return

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            try:
                path.write_text(FORMATS["markdown"](result, color=False) + "\n", encoding="utf-8")
            except OSError as exc:
                self.notify(f"cannot write {self.shown_path(path)}: {exc.strerror}", title="Export failed", severity="error")
            else:
                self.notify(f"Report saved to {self.shown_path(path)}.", title="Exported")

        self.push_screen(SavePathScreen("Save the report (Markdown)", self.session.root / "prodready-report.md"), chosen)

    def action_request_quit(self) -> None:
        if not self.session.has_unwritten_work:
            self.exit(0)
            return
        if isinstance(self.screen, ConfirmScreen) and self.screen.id == "confirm-quit":
            return  # already asking

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        decided = self.session.unwritten_count()
        body = (
            f"You decided {count(decided, 'finding')} (fixes to apply, answers to record) and nothing "
            "is written yet. Quitting now loses those decisions."
        )
        self.push_screen(
            ConfirmScreen("Quit without writing anything?", body, yes="Quit", no="Stay", id="confirm-quit"), answered
        )

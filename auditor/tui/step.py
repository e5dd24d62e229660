"""One screen per step: why it matters, the readiness score, the findings and their fixes."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static, TabbedContent, TabPane

from auditor.models import Finding, Step
from auditor.tui import fixes
from auditor.tui.messages import PreviewReady
from auditor.tui.modals import ChoiceScreen, ConfirmScreen
from auditor.tui.session import Decision, Scope
from auditor.tui.texts import INTROS, count
from auditor.tui.widgets import FindingDetail, FindingList, ModelTable, StepTrail, score_text


class StepScreen(Screen):
    # Below 120 columns the list sits above the detail (compact rows); from 120 they sit side by side.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    BINDINGS = [
        Binding("r", "rehearse", "Rehearse now"),  # the staging step only (check_action); first, to fit in 80 columns
        Binding("a", "accept", "Accept"),
        Binding("s", "skip", "Skip"),
        Binding("x", "not_a_problem", "Not a problem"),
        Binding("A", "accept_safe", "All safe"),
        Binding("b", "back", "Back"),
        Binding("n", "next", "Next"),
        Binding("space", "more", "More", show=False),
        Binding("m", "models", "Models", show=False),
        Binding("q", "app.request_quit", "Quit"),
    ]

    def __init__(self, step: Step) -> None:
        super().__init__()
        self.step = step

    def compose(self) -> ComposeResult:
        session = self.app.session
        self.findings = session.findings(self.step)
        headline, more = INTROS[self.step]
        yield StepTrail(self.step.value)
        yield Static(f"Step {self.step.number} of 5 · {headline}", id="intro", classes="intro")
        yield Static(more, id="intro-more", classes="intro")
        yield Static(score_text(self.step, session), id="score")
        if self.step == Step.DATA_MODEL:
            with TabbedContent(id="tabs"):
                with TabPane(f"Findings ({len(self.findings)})", id="tab-findings"):
                    yield from self._work_area()
                with TabPane(f"Models ({self._model_count()})", id="tab-models"):
                    yield ModelTable(session.result, id="models")
        else:
            yield from self._work_area()
        yield Footer(compact=True, show_command_palette=False)

    def _work_area(self) -> ComposeResult:
        with Container(id="work"):
            yield FindingList(self.findings, self.app.session, id="findings")
            yield FindingDetail(id="detail")

    def _model_count(self) -> int:
        index = self.app.session.result.index
        return len(index.models) + len([t for t in index.sql_tables if not t.name.startswith("__")])

    def on_mount(self) -> None:
        finding_list = self.query_one(FindingList)
        if not self.findings:
            finding_list.display = False
            self.query_one(FindingDetail).show_intro(INTROS[self.step][1])
            return
        finding_list.highlighted = min(self.app.selection.get(self.step, 0), len(self.findings) - 1)
        finding_list.focus()

    # -- showing a finding --------------------------------------------------------------------

    @property
    def current(self) -> Finding | None:
        return self.query_one(FindingList).current if self.findings else None

    @on(OptionList.OptionHighlighted, "#findings")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.app.selection[self.step] = event.option_index
        self._show_current()

    def _show_current(self) -> None:
        finding = self.current
        if finding is None:
            return
        preview = self.app.previews.get(finding)
        self.query_one(FindingDetail).show(finding, self.app.session, preview, self.app.current_theme.dark)
        if preview is None:
            self.load_preview(finding)

    @work(thread=True, exclusive=True, group="preview")
    def load_preview(self, finding: Finding) -> None:
        self.post_message(PreviewReady(finding, fixes.preview(self.app.session.result, finding)))

    def on_preview_ready(self, message: PreviewReady) -> None:
        self.app.previews[message.finding] = message.preview
        if message.finding == self.current:
            self._show_current()

    def refresh_theme(self) -> None:
        self._show_current()

    # -- decisions ----------------------------------------------------------------------------

    def _decided(
        self, finding: Finding, decision: Decision, routes: list[str] | None = None, advance: bool = True, scope: Scope = Scope.FILE
    ) -> None:
        self.app.session.decide(finding, decision, routes, scope)
        finding_list = self.query_one(FindingList)
        finding_list.refresh_marks()
        self.query_one("#score", Static).update(score_text(self.step, self.app.session))
        if advance and finding_list.highlighted is not None and finding_list.highlighted < len(self.findings) - 1:
            finding_list.highlighted += 1
        else:
            self._show_current()

    @on(OptionList.OptionSelected, "#findings")
    def _selected(self) -> None:
        """Enter or a click on the highlighted finding: answer its question, or accept its fix."""
        finding = self.current
        if finding is not None and self.app.session.question(finding):
            self._ask(finding)

    def action_accept(self) -> None:
        finding = self.current
        if finding is None:
            return
        if self.app.session.question(finding):
            self._ask(finding)
        elif not finding.fixable:
            self.app.notify(
                "No automatic fix for this one: change it by hand (it stays on the summary's to-do list). "
                "s skips it, x says it is not a problem.",
                title="By hand",
            )
        else:
            self._decided(finding, Decision.ACCEPT)

    def action_skip(self) -> None:
        if (finding := self.current) is not None:
            self._decided(finding, Decision.SKIP)

    def action_accept_safe(self) -> None:
        accepted = self.app.session.accept_safe(self.step)
        self.query_one(FindingList).refresh_marks()
        self.query_one("#score", Static).update(score_text(self.step, self.app.session))
        self._show_current()
        self.app.notify(f"Accepted {count(accepted, 'safe fix', 'safe fixes')}." if accepted else "No undecided safe fixes here.")

    def action_not_a_problem(self) -> None:
        finding = self.current
        if finding is None:
            return
        if self.app.session.question(finding):
            self._ask(finding)
            return
        session = self.app.session
        in_file = len(session.silenced(finding, Scope.FILE))
        everywhere = len(session.silenced(finding, Scope.EVERYWHERE))
        choices = []
        if finding.path.endswith(".py"):
            choices.append((Scope.LINE.value, "l", f"This line: a # prodready: ignore[{finding.rule}] comment"))
        choices.append((Scope.FILE.value, "f", f"This file: {finding.rule} in {finding.path}, {count(in_file, 'finding')}"))
        choices.append((Scope.EVERYWHERE.value, "e", f"Everywhere: {finding.rule} in every file, {count(everywhere, 'finding')}"))
        body = (
            f"prodready stops reporting {finding.rule} ({finding.name}) there. Nothing is written "
            "before the review; file and everywhere go to [tool.prodready]."
        )

        def answered(choice: str | None) -> None:
            if not choice:
                return
            scope = Scope(choice)
            for other in session.silenced(finding, scope):
                session.decide(other, Decision.NOT_A_PROBLEM, scope=scope)
            self._decided(finding, Decision.NOT_A_PROBLEM, scope=scope)

        self.app.push_screen(ChoiceScreen("Not a problem: silence it where?", body, choices), answered)

    def _ask(self, finding: Finding) -> None:
        entries = self.app.session.public_entries(finding)
        body = (
            f"Yes: {' and '.join(entries) or 'the route'} is recorded as public by design in "
            "[tool.prodready] public-routes and will not be reported again.\nNo: "
            + ("its fix (adding a login check) is accepted." if finding.fixable else "it stays on your to-do list.")
        )

        def answered(public: bool | None) -> None:
            if public:
                if entries:
                    self._decided(finding, Decision.PUBLIC, entries)
                else:
                    self._decided(finding, Decision.NOT_A_PROBLEM)
            elif public is False:
                self._decided(finding, Decision.ACCEPT if finding.fixable else Decision.SKIP)

        question = self.app.session.question(finding) or "Is this meant to be public?"
        self.app.push_screen(ConfirmScreen(question, body, yes="Yes, public", no="No, needs login"), answered)

    # -- navigation ---------------------------------------------------------------------------

    def action_next(self) -> None:
        steps = list(Step)
        index = steps.index(self.step)
        self.app.goto(steps[index + 1] if index + 1 < len(steps) else "review")

    def action_back(self) -> None:
        steps = list(Step)
        index = steps.index(self.step)
        self.app.goto(steps[index - 1] if index else "start")

    def action_more(self) -> None:
        """Page through the finding's details without leaving the list (back to the top at the end)."""
        detail = self.query_one(FindingDetail)
        if detail.scroll_y >= detail.max_scroll_y:
            detail.scroll_home(animate=False)
        else:
            detail.scroll_page_down(animate=False)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return self.step == Step.STAGING if action == "rehearse" else True

    def action_rehearse(self) -> None:
        from auditor.tui.rehearsal import RehearsalScreen

        self.app.push_screen(RehearsalScreen(), lambda _: self.query_one(FindingList).refresh_marks() if self.findings else None)

    def action_models(self) -> None:
        if self.step == Step.DATA_MODEL:
            tabs = self.query_one(TabbedContent)
            tabs.active = "tab-findings" if tabs.active == "tab-models" else "tab-models"
            # Focus follows the visible pane (a focused widget in a hidden pane would switch back).
            (self.query_one(ModelTable) if tabs.active == "tab-models" else self.query_one(FindingList)).focus()

"""The wizard's widgets: step trail, score, findings list, finding detail, models table."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from auditor.masking import mask_secrets
from auditor.models import Finding, Severity, Step
from auditor.tui.diffview import DiffView
from auditor.tui.session import Decision, Session
from auditor.tui.texts import count

if TYPE_CHECKING:
    from auditor.engine import ScanResult
    from auditor.tui.fixes import Preview

SEVERITY_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan"}
SEVERITY_LABEL = {Severity.HIGH: "HIGH", Severity.MEDIUM: "MED ", Severity.LOW: "LOW "}
CODE_CONTEXT = 2  # lines shown around the finding
CODE_MAX_LINES = 14
COLUMNS_WIDTH = 22  # the models table wraps column names at this width


def syntax_theme(dark: bool) -> str:
    return "monokai" if dark else "default"


def lowercase_first(sentence: str) -> str:
    """ "Adds an index" -> "adds an index" (a fix summary read after a colon); "SQL" stays."""
    return sentence[:1].lower() + sentence[1:] if sentence[1:2].islower() else sentence


class StepTrail(Static):
    """Where the user is: Start › 1 Data model › 2 Infrastructure › ... › Review › Summary.

    When the full trail does not fit, the other stops shrink to their numbers.
    """

    STOPS = [("start", "Start")] + [(s.value, f"{s.number} {s.title}") for s in Step] + [
        ("review", "Review"),
        ("summary", "Summary"),
    ]

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def render(self) -> Text:
        full = self._trail(short=False)
        return full if full.cell_len <= self.size.width - 2 else self._trail(short=True)

    def _trail(self, short: bool) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (key, label) in enumerate(self.STOPS):
            if i:
                text.append(" › ", style="dim")
            if key == self.current:
                text.append(label, style="bold reverse")
            else:
                text.append(label.split()[0] if short else label, style="dim")
        return text


def score_text(step: Step, session: Session) -> Text:
    """`Readiness 79/100 ████████░░  3 findings · 1 fix accepted` (or "not checked" under --select)."""
    if not session.checked(step):
        return Text.assemble(("Readiness ", "bold"), ("not checked", "bold dim"), ("  no rule of this step was selected", "dim"))
    scores = session.result.scores()[step] if session.result else {"score": 100, "findings": 0}
    score = scores["score"]
    filled = round(score / 10)
    style = "green" if score >= 90 else "yellow" if score >= 70 else "red"
    text = Text("Readiness ", style="bold")
    text.append(f"{score}/100 ", style=f"bold {style}")
    text.append("█" * filled, style=style)
    text.append("░" * (10 - filled), style="dim")
    text.append(" ")
    findings = session.findings(step)
    accepted = sum(1 for f in findings if session.decision(f) == Decision.ACCEPT and f.fixable)
    decided = sum(1 for f in findings if session.decision(f) != Decision.PENDING)
    text.append(f"  {count(len(findings), 'finding')}", style="bold")
    if findings:
        text.append(f" · {decided} decided · {count(accepted, 'fix', 'fixes')} accepted", style="dim")
    return text


LEGEND = "✓ fix accepted · – skipped · ✗ not a problem · blank: not decided"


def fix_tag(finding: Finding) -> Text:
    if not finding.fixable:
        return Text("by hand", style="yellow")
    return Text(f"{finding.fix_safety.value if finding.fix_safety else 'review'} fix", style="green")


def finding_prompt(finding: Finding, decision: Decision, confirmed: bool = False) -> Table:
    """One row: decision mark, severity, what is wrong (cut to fit), where, and whether a fix exists."""
    row = Table.grid(padding=(0, 1), expand=True)
    row.add_column(width=1, no_wrap=True)
    row.add_column(width=4, no_wrap=True)
    row.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
    row.add_column(no_wrap=True, overflow="ellipsis", max_width=24)
    row.add_column(no_wrap=True, width=10)
    row.add_row(
        Text(decision.mark, style="bold green" if decision == Decision.ACCEPT else "bold"),
        Text(SEVERITY_LABEL[finding.severity], style=SEVERITY_STYLE[finding.severity]),
        Text.assemble(("◆ ", "bold magenta") if confirmed else "", finding.message),  # ◆: a rehearsal saw it happen
        Text(f"{finding.path.rsplit('/', 1)[-1]}:{finding.line}", style="dim"),  # the full path is in the detail
        fix_tag(finding),
    )
    return row


class FindingList(OptionList):
    """The step's findings, one row each: decision, severity, what is wrong, file:line, fix or by hand."""

    def on_mount(self) -> None:
        self.border_subtitle = LEGEND + (" · ◆ seen in the rehearsal" if self.session.confirmed else "")

    def __init__(self, findings: list[Finding], session: Session, **kwargs) -> None:
        self.findings = findings
        self.session = session
        super().__init__(*(self._option(i, f) for i, f in enumerate(findings)), **kwargs)

    def _option(self, index: int, finding: Finding) -> Option:
        return Option(finding_prompt(finding, self.session.decision(finding), finding in self.session.confirmed), id=f"finding-{index}")

    @property
    def current(self) -> Finding | None:
        index = self.highlighted
        return self.findings[index] if index is not None and index < len(self.findings) else None

    def refresh_marks(self) -> None:
        for index, finding in enumerate(self.findings):
            self.replace_option_prompt_at_index(index, finding_prompt(finding, self.session.decision(finding), finding in self.session.confirmed))


class FindingDetail(VerticalScroll):
    """One finding: what goes wrong for real users, the message, the code, the fix as a diff."""

    DEFAULT_CLASSES = "detail"

    def on_mount(self) -> None:
        self.border_subtitle = "space: more"

    def compose(self) -> ComposeResult:
        yield Static(id="detail-title")
        yield Static(id="detail-impact")
        yield Static(id="detail-question", classes="question")
        yield Static(id="detail-code", classes="code")
        yield Static(id="detail-fix-title", classes="section")
        yield Static(id="detail-fix", classes="code")

    def show_intro(self, text: str) -> None:
        self._set("#detail-title", Text("Nothing to fix in this step.", style="bold green"))
        self._set("#detail-impact", text)
        for part in ("#detail-question", "#detail-code", "#detail-fix-title", "#detail-fix"):
            self._set(part, "")

    def show(self, finding: Finding, session: Session, preview: Preview | None, dark: bool) -> None:
        from auditor.rules.base import all_rules

        rule = all_rules().get(finding.rule)
        title = Text()
        title.append(f"{finding.rule} {finding.name}", style="bold")
        decision = session.decision(finding)
        label = decision.label if finding.fixable or decision != Decision.PENDING else "to change by hand"
        title.append(f"  {finding.severity.value} severity · {label}", style="dim")
        title.append(f"\n{finding.location}", style="dim")
        title.append(f"\n{finding.message}")
        self._set("#detail-title", title)
        impact = Text()
        if rule is not None and rule.impact:
            impact.append("What goes wrong for real users: ", style="bold")
            impact.append(rule.impact)
        self._set("#detail-impact", impact)
        question = session.question(finding)
        self._set("#detail-question", Text(f"{question}  Press Enter to answer.", style="bold") if question else "")
        self._set("#detail-code", self._code(finding, session.result, dark))
        self._set("#detail-fix-title", self._fix_title(finding, rule, preview))
        if preview is not None and preview.diff:
            self._set("#detail-fix", DiffView(preview.diff, dark))
        else:
            self._set("#detail-fix", "")
        self.scroll_home(animate=False)

    def _fix_title(self, finding: Finding, rule, preview: Preview | None) -> Text:
        text = Text()
        if not finding.fixable:
            text.append("By hand: no automatic fix for this one.", style="bold")
            if rule is not None and rule.fix_summary:
                text.append(" What the fix does (make it yourself): " + lowercase_first(rule.fix_summary))
            else:
                text.append(f" `prodready explain {finding.rule}` says what to change.")
            return text
        safety = finding.fix_safety.value if finding.fix_safety else "review"
        text.append(f"Proposed fix ({safety}): ", style="bold")
        if rule is not None and rule.fix_summary:
            text.append(rule.fix_summary)
        if preview is None:
            text.append("\npreparing the diff…", style="dim italic")
        elif preview.note:
            text.append(f"\n{preview.note}", style="italic")
        return text

    def _code(self, finding: Finding, result: ScanResult | None, dark: bool) -> Syntax | str:
        if result is None:
            return ""
        lines = result.index.source(finding.path).splitlines()
        if not lines:
            return ""
        first = max(1, finding.line - CODE_CONTEXT)
        last = min(len(lines), max(finding.end_line, finding.line) + CODE_CONTEXT, first + CODE_MAX_LINES - 1)
        lexer = "sql" if finding.path.endswith(".sql") else "python" if finding.path.endswith(".py") else "text"
        return Syntax(
            mask_secrets("\n".join(lines[first - 1 : last])),  # as masked as the message above it
            lexer,
            theme=syntax_theme(dark),
            line_numbers=True,
            start_line=first,
            highlight_lines={finding.line},
            word_wrap=True,  # long lines wrap under their line number instead of being cut
        )

    def _set(self, selector: str, content) -> None:
        widget = self.query_one(selector, Static)
        widget.update(content)
        widget.display = bool(content)


class ModelTable(DataTable):
    """The models and tables found: name, columns, keys, indexes (the schema, not just its gaps)."""

    def __init__(self, result: ScanResult, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.result = result

    def on_mount(self) -> None:
        self.add_columns("model", "columns", "indexes", "keys", "file")
        for relpath, model in self.result.index.models:
            self._add(model.name, relpath, model.columns, model.indexed, model.unique_sets)
        for table in self.result.index.sql_tables:
            if not table.name.startswith("__"):
                self._add(table.name, table.path, table.columns, table.indexed, table.unique_sets)

    def _add(self, name: str, relpath: str, columns, indexed, unique_sets) -> None:
        names = textwrap.wrap(", ".join(c.name for c in columns), COLUMNS_WIDTH) or ["-"]
        keys = [f"PK {c.name}" for c in columns if c.primary_key]
        keys += [f"FK {c.name}→{c.foreign_key}" for c in columns if c.foreign_key]
        indexes = [c.name + (" (unique)" if c.unique else "") for c in columns if c.index or c.unique]
        indexes += ["(" + ", ".join(cols) + ")" for cols in indexed]
        indexes += ["unique (" + ", ".join(cols) + ")" for cols in unique_sets]
        self.add_row(
            Text(name, style="bold"),
            "\n".join(names),
            "\n".join(indexes) or "none",
            "\n".join(keys) or "-",
            relpath,
            height=max(1, len(names), len(keys), len(indexes)),
        )

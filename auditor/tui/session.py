"""What the user decided during one wizard run (no textual here: screens read and update it).

A decision per finding: accept its fix (only when there is one), skip it, "not a problem" (on
this line: a suppression comment; in this file: per-file-ignores; everywhere: ignore) or, for
an unauthenticated route, "public by design" (its methods and path join `public-routes`).
Nothing is written until the review screen applies the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.config_writer import Answers, ConfigEdit, plan_answers
from auditor.models import Finding, FixSafety, Step
from auditor.scoring import step_scores

if TYPE_CHECKING:
    from auditor.engine import ScanResult
    from auditor.index.project import Route

# Rules whose findings may be intended: the wizard asks instead of assuming.
PUBLIC_ROUTE_QUESTION = {"PR201"}


class Scope(str, Enum):
    """How far a "not a problem" answer reaches."""

    LINE = "line"  # a `# prodready: ignore[CODE]` comment on the finding's line
    FILE = "file"  # per-file-ignores
    EVERYWHERE = "everywhere"  # ignore


def most_severe_first(finding: Finding) -> tuple:
    return (-finding.severity.rank, *finding.sort_key())


class Decision(str, Enum):
    PENDING = "pending"
    ACCEPT = "accept"
    SKIP = "skip"
    NOT_A_PROBLEM = "not-a-problem"
    PUBLIC = "public"

    @property
    def mark(self) -> str:
        return {"pending": " ", "accept": "✓", "skip": "–", "not-a-problem": "✗", "public": "✗"}[self.value]

    @property
    def label(self) -> str:
        return {
            "pending": "not decided",
            "accept": "fix accepted",
            "skip": "skipped",
            "not-a-problem": "not a problem here",
            "public": "public by design",
        }[self.value]


@dataclass
class Session:
    root: Path
    dry_run: bool = False
    result: ScanResult | None = None
    scores_before: dict[Step, dict[str, int]] | None = None
    decisions: dict[Finding, Decision] = field(default_factory=dict)
    public_routes: dict[Finding, list[str]] = field(default_factory=dict)  # "GET /path" entries
    scopes: dict[Finding, Scope] = field(default_factory=dict)  # for NOT_A_PROBLEM decisions
    dropped: list[Finding] = field(default_factory=list)  # accepted fixes dropped at the review (now skipped)
    outcome: Outcome | None = None
    verify: bool | None = None  # run the project's tests around apply; None: on when it has tests
    rehearsals: list = field(default_factory=list)  # the staging rehearsals run in this session, oldest first
    confirmed: set = field(default_factory=set)  # findings the last rehearsal showed to be real

    # -- scanning -------------------------------------------------------------------------

    def scanned(self, result: ScanResult) -> None:
        """A new scan: keep the decisions about findings that are still there."""
        self.result = result
        if self.scores_before is None:
            self.scores_before = result.scores()
        still = set(result.findings)
        self.decisions = {f: d for f, d in self.decisions.items() if f in still}
        self.public_routes = {f: r for f, r in self.public_routes.items() if f in still}
        self.scopes = {f: s for f, s in self.scopes.items() if f in still}

    def rescanned_after_apply(self, result: ScanResult) -> None:
        self.result = result
        self.decisions.clear()
        self.public_routes.clear()
        self.scopes.clear()
        self.dropped.clear()

    def checked(self, step: Step) -> bool:
        """Whether any rule of the step ran (a `--select PR4` leaves the other steps unchecked)."""
        if not self.result:
            return True
        from auditor.rules.base import all_rules

        config = self.result.config
        return any(rule.step() == step and config.rule_enabled(code) for code, rule in all_rules().items())

    # -- findings -------------------------------------------------------------------------

    def findings(self, step: Step) -> list[Finding]:
        """The step's findings, most severe first (then by file and line)."""
        if not self.result:
            return []
        return sorted((f for f in self.result.findings if f.step == step), key=most_severe_first)

    def decision(self, finding: Finding) -> Decision:
        return self.decisions.get(finding, Decision.PENDING)

    def decide(
        self, finding: Finding, decision: Decision, routes: list[str] | None = None, scope: Scope = Scope.FILE
    ) -> bool:
        """Record a decision; False (and nothing recorded) for accepting a finding without a fix."""
        if decision == Decision.ACCEPT and not finding.fixable:
            return False
        self.public_routes.pop(finding, None)
        self.scopes.pop(finding, None)
        if decision == Decision.PENDING:
            self.decisions.pop(finding, None)
            return True
        self.decisions[finding] = decision
        if decision == Decision.PUBLIC and routes:
            self.public_routes[finding] = list(routes)
        if decision == Decision.NOT_A_PROBLEM:
            self.scopes[finding] = scope
        return True

    def accept_safe(self, step: Step) -> int:
        """Accept every undecided safe fix of the step; returns how many."""
        count = 0
        for finding in self.findings(step):
            if finding.fixable and finding.fix_safety == FixSafety.SAFE and self.decision(finding) == Decision.PENDING:
                self.decisions[finding] = Decision.ACCEPT
                count += 1
        return count

    def accepted(self) -> list[Finding]:
        return [f for f in self.result.findings if self.decision(f) == Decision.ACCEPT] if self.result else []

    def by_hand(self) -> list[Finding]:
        """What is left for the user (most severe first): skipped or undecided."""
        if not self.result:
            return []
        return [
            f for f in sorted(self.result.findings, key=most_severe_first)
            if self.decision(f) in (Decision.PENDING, Decision.SKIP)
        ]

    def route_of(self, finding: Finding) -> Route | None:
        """The route a finding points at (its decorator or handler lines)."""
        if not self.result:
            return None
        for route in self.result.index.routes:
            if route.relpath != finding.path:
                continue
            span = route.handler.span
            if route.line <= finding.line <= max(route.end_line, span.end_line) or span.line <= finding.line <= span.end_line:
                return route
        return None

    def question(self, finding: Finding) -> str | None:
        """A plain yes/no question when the finding may be intended, else None."""
        if finding.rule not in PUBLIC_ROUTE_QUESTION:
            return None
        route = self.route_of(finding)
        return f"Is {route.label() if route else 'this route'} meant to be public (no login needed)?"

    def public_entries(self, finding: Finding) -> list[str]:
        """The `public-routes` entries for the finding's route, one per method ("GET /tasks/{id}")."""
        route = self.route_of(finding)
        if route is None:
            return []
        return [f"{method} {route.path}" for method in route.methods] or [route.path]

    def silenced(self, finding: Finding, scope: Scope) -> list[Finding]:
        """What a "not a problem" on this finding silences at that scope."""
        if scope == Scope.LINE:
            return [f for f in self.result.findings if (f.rule, f.path, f.line) == (finding.rule, finding.path, finding.line)]
        if scope == Scope.FILE:
            return [f for f in self.result.findings if f.rule == finding.rule and f.path == finding.path]
        return [f for f in self.result.findings if f.rule == finding.rule]

    def same_rule_in_file(self, finding: Finding) -> list[Finding]:
        return self.silenced(finding, Scope.FILE)

    # -- answers for [tool.prodready] -----------------------------------------------------

    def answers(self) -> Answers:
        answers = Answers()
        for finding, decision in self.decisions.items():
            if decision == Decision.NOT_A_PROBLEM:
                scope = self.scopes.get(finding, Scope.FILE)
                if scope == Scope.EVERYWHERE:
                    answers.ignore_everywhere(finding.rule)
                elif scope == Scope.FILE:
                    answers.ignore(finding.path, finding.rule)
            elif decision == Decision.PUBLIC:
                for entry in self.public_routes.get(finding, []):
                    answers.make_public(entry)
        return answers

    def suppressed_lines(self) -> dict[str, dict[int, set[str]]]:
        """The "not a problem on this line" answers: file -> line -> rule codes."""
        lines: dict[str, dict[int, set[str]]] = {}
        for finding, decision in self.decisions.items():
            if decision == Decision.NOT_A_PROBLEM and self.scopes.get(finding) == Scope.LINE:
                lines.setdefault(finding.path, {}).setdefault(finding.line, set()).add(finding.rule)
        return lines

    def comment_edits(self, planned: dict[str, str] | None = None) -> tuple[list[ConfigEdit], list[tuple[str, int]]]:
        """The suppression comments as edits of the files as they are on disk (the accepted
        fixes' `planned` texts included), and the (file, line) pairs no comment could go on."""
        lines = self.suppressed_lines()
        if not lines or not self.result:
            return [], []
        from auditor.tui.suppressions import suppressed_texts

        originals = {relpath: self.result.index.source(relpath) for relpath in lines}
        texts, refused = suppressed_texts(self.root, originals, lines, planned or {})
        edits = []
        for relpath, (_, after) in texts.items():
            path = self.root / relpath
            disk = path.read_text(encoding="utf-8") if path.is_file() else ""
            edits.append(ConfigEdit(path, disk, after, relpath))
        return edits, refused

    def config_edit(self, planned: dict[str, str] | None = None) -> ConfigEdit | None:
        """The answers as an edit of the config file (on top of `planned` texts, see plan_answers)."""
        if not self.result:
            return None
        return plan_answers(self.root, self.result.config_path, self.answers(), planned)

    def projected_scores(self) -> dict[Step, dict[str, int]]:
        """The scores once the accepted fixes and the answers are in (for a dry run's summary)."""
        gone = {Decision.NOT_A_PROBLEM, Decision.PUBLIC}
        left = [
            f
            for f in self.result.findings
            if self.decision(f) not in gone and not (self.decision(f) == Decision.ACCEPT and f.fixable)
        ]
        return step_scores(left)

    def unwritten_count(self) -> int:
        return sum(1 for d in self.decisions.values() if d in (Decision.ACCEPT, Decision.NOT_A_PROBLEM, Decision.PUBLIC))

    @property
    def has_unwritten_work(self) -> bool:
        # An apply clears the decisions (the rescan starts afresh), so any decision here was made
        # since: it is lost on quit. A dry run's exported patch is where its decisions went.
        if self.outcome is not None and self.outcome.patch_path is not None:
            return False
        return any(d in (Decision.ACCEPT, Decision.NOT_A_PROBLEM, Decision.PUBLIC) for d in self.decisions.values())


@dataclass
class Outcome:
    """What the end of the wizard did: applied (with a backup), exported a patch, or nothing."""

    applied: bool = False
    changed: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    backup_dir: Path | None = None
    config_written: str | None = None
    commented: list[str] = field(default_factory=list)  # files that got a "not a problem" comment
    patch_path: Path | None = None
    warnings: list[str] = field(default_factory=list)
    verify_lines: list[str] = field(default_factory=list)  # what running the project's tests found
    verified: bool = False  # the tests ran, and the changes written passed them

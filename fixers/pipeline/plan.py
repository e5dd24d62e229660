"""From findings to a FixPlan: every edit, new file and dependency a run would write.

The dry run prints `plan.diff()`; `apply_plan(plan)` writes exactly `plan.edits`, nothing else.
"""

from __future__ import annotations

import gc
import hashlib
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.models import Finding, FixSafety
from fixers.base import check_output
from fixers.pipeline.deps import add_requirements
from fixers.pipeline.diff import colorize, file_diff
from fixers.pipeline.errors import FixError
from fixers.registry import FIXERS, spec_for
from fixers.pipeline.workspace import Skip, Workspace


@dataclass(frozen=True)
class FileEdit:
    relpath: str
    old: str | None  # None: a new file
    new: str
    base: bytes | None = None  # exact bytes on disk when planned (the stale check compares these)
    new_bytes: bytes = b""

    @property
    def is_new(self) -> bool:
        return self.old is None

    @property
    def base_hash(self) -> str | None:
        return hashlib.sha256(self.base).hexdigest() if self.base is not None else None

    def diff(self) -> str:
        return file_diff(self.relpath, self.old, self.new)


@dataclass(frozen=True)
class PlannedFix:
    finding: Finding
    fixer: str
    safety: FixSafety
    description: str
    files: tuple[str, ...]  # files the fixer changed for this finding's group


@dataclass
class FixPlan:
    result: Any  # the ScanResult the plan was made from
    edits: list[FileEdit] = field(default_factory=list)
    fixes: list[PlannedFix] = field(default_factory=list)  # the findings the plan was asked to fix
    follow_ups: list[PlannedFix] = field(default_factory=list)  # what those fixes raised, fixed in later rounds
    skipped: list[tuple[Finding, str]] = field(default_factory=list)  # fixable, but not this time: why
    dependencies: list[str] = field(default_factory=list)  # requirements added to the project
    notes: list[str] = field(default_factory=list)  # what the user still has to do by hand

    @property
    def root(self):
        return self.result.root

    @property
    def is_empty(self) -> bool:
        return not self.edits

    @property
    def files_changed(self) -> list[str]:
        return [e.relpath for e in self.edits]

    def diff(self, color: bool = False) -> str:
        text = "".join(edit.diff() for edit in self.edits)
        return colorize(text) if color else text

    def to_json(self) -> dict:
        """The plan as `prodready fix --format json` prints it (version 1; keys are only added)."""

        def fix(planned: PlannedFix) -> dict:
            f = planned.finding
            return {
                "rule": f.rule, "path": f.path, "line": f.line, "fixer": planned.fixer,
                "safety": planned.safety.value, "files": list(planned.files),
            }  # fmt: skip

        return {
            "version": 1,
            "root": str(self.root),
            "fixes": [fix(p) for p in self.fixes],
            "follow_ups": [fix(p) for p in self.follow_ups],
            "not_fixed": [{"rule": f.rule, "path": f.path, "line": f.line, "reason": reason} for f, reason in self.skipped],
            "diff": self.diff(),
            "dependencies": list(self.dependencies),
            "notes": list(self.notes),
        }

    def summary(self) -> str:
        if self.is_empty:
            return "nothing to fix"
        created = sum(1 for e in self.edits if e.is_new)
        parts = [f"{len(self.fixes)} fix{'es' if len(self.fixes) != 1 else ''}"]
        if self.follow_ups:
            parts[0] += f" (+{len(self.follow_ups)} for what the fixes themselves raised)"
        parts.append(f"{len(self.edits) - created} file(s) changed")
        if created:
            parts.append(f"{created} created")
        if self.dependencies:
            parts.append("adds " + ", ".join(self.dependencies))
        return ", ".join(parts)


def why_not_fixed(reason: str) -> str:
    """A skip reason as shown after "not fixed automatically:" (which already says it is left by hand)."""
    return reason.removeprefix("by hand: ")


def selected_findings(result, findings: Iterable[Finding] | None, include_review: bool) -> list[Finding]:
    """The findings a plan answers: explicit ones as given (the caller chose them), else every
    fixable finding of the scan whose fix is safe (or reviewed, with include_review)."""
    if findings is not None:
        return [f for f in findings if spec_for(f.rule) is not None]
    allowed = allowed_safety(include_review)
    return [f for f in result.findings if (spec := spec_for(f.rule)) is not None and spec.safety in allowed]


MAX_ROUNDS = 4  # rounds of fixes in one plan (as Ruff's fix loop): the first, and what it raised


def allowed_safety(include_review: bool) -> set[FixSafety]:
    return {FixSafety.SAFE, FixSafety.REVIEW} if include_review else {FixSafety.SAFE}


def plan_fixes(
    result,
    findings: Iterable[Finding] | None = None,
    include_review: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> FixPlan:
    """Every chosen fix, fixer by fixer in registry order, on one in-memory workspace.

    Then the rules run again on the result: what the fixes themselves raised (a setting their
    code reads that no example file lists...) is fixed in another round on top, and so are the
    findings a fix was refused for when a later fix changed what they depend on, until nothing
    changes (a fixed point): a second `fix` right after applying proposes nothing.

    `progress(fixer name, fixers done, fixers to run)` is called before each fixer runs (a
    project with a hundred findings takes seconds of libcst work)."""
    chosen = selected_findings(result, findings, include_review)
    ws = Workspace(result.root, result.index)
    plan = FixPlan(result)
    with ONE_PLAN_AT_A_TIME, cyclic_gc_paused():
        outcomes = run_round(plan, ws, chosen, progress)
        plan.fixes.extend(fix for _, fix, _, _ in outcomes if fix is not None)
        plan.skipped.extend((finding, reason) for finding, fix, reason, _ in outcomes if fix is None)
        if plan.fixes:
            settle(plan, ws, allowed_safety(include_review), outcomes, progress)
    fixed = {p.finding for p in [*plan.fixes, *plan.follow_ups]}  # a fixer's notes (ws.note) follow its fixes
    plan.notes.extend(dict.fromkeys(t for t, found in ws.notes if fixed.intersection(found) and t not in plan.notes))
    for state in ws.changed():
        if state.text is not None:
            plan.edits.append(FileEdit(state.relpath, state.original, state.text, state.base, state.encode()))
    return plan


# The wizard may ask for two plans at once (a preview and the review, in two threads). They share
# the codemods' caches and the paused collector, and planning is CPU work that threads could not
# share anyway: the second waits for the first.
ONE_PLAN_AT_A_TIME = threading.RLock()


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Planning makes and drops millions of libcst nodes, freed by reference counting; the
    cyclic collector's passes over every tree kept in the parse cache took a sixth of the
    planning time. It is paused meanwhile: the few cycles made (tracebacks of skipped fixes)
    wait for its next pass."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# (finding, its fix or None, why it was not fixed or None, the texts right after its fixer ran)
Outcome = tuple[Finding, "PlannedFix | None", "str | None", Any]


def run_round(
    plan: FixPlan,
    ws: Workspace,
    chosen: list[Finding],
    progress: Callable[[str, int, int], None] | None,
) -> list[Outcome]:
    """One round: every fixer on its findings in registry order, then the requirements the fixes
    need (added to plan.dependencies). Returns what became of each finding."""
    work = [(spec, group) for spec in FIXERS if (group := [f for f in chosen if f.rule in spec.codes])]
    results: list[Outcome] = []
    for done, (spec, group) in enumerate(work):
        if progress:
            progress(spec.name, done, len(work))
        checkpoint = ws.checkpoint()
        try:
            outcomes = spec.load().fix(group, ws)
            problem = check_output(ws, checkpoint)  # each unit was checked; this catches a fixer that is not
            if problem:
                ws.rollback(checkpoint)
                outcomes = {f: outcomes.get(f) or problem for f in group}
        except Skip as exc:
            ws.rollback(checkpoint)
            outcomes = {f: str(exc) for f in group}
        except FixError:
            raise  # the project changed under the plan: nothing sensible can be planned
        except Exception as exc:  # a bug in one fixer must not take the others down
            ws.rollback(checkpoint)
            outcomes = {f: f"internal error in the {spec.name} fixer: {type(exc).__name__}: {exc}" for f in group}
        touched = tuple(ws.changed_since(checkpoint))
        after = ws.checkpoint()
        for finding in group:
            reason = outcomes.get(finding, "the fixer did not handle it")
            fix = PlannedFix(finding, spec.name, spec.safety, spec.description, touched) if reason is None else None
            results.append((finding, fix, reason, after))
    if any(fix for _, fix, _, _ in results) and ws.requirements:
        checkpoint = ws.checkpoint()
        try:
            plan.dependencies += add_requirements(ws, sorted(ws.requirements))
        except Exception as exc:  # an unparsable pyproject.toml: keep the code fixes, say so
            ws.rollback(checkpoint)
            note = f"add {', '.join(sorted(ws.requirements))} to your dependencies by hand ({exc})"
            if note not in plan.notes:
                plan.notes.append(note)
    return results


def settle(plan: FixPlan, ws: Workspace, allowed: set[FixSafety], first: list[Outcome], progress=None) -> None:
    """Rescan the planned texts and, in further rounds, fix the findings the plan's own output
    raised (at rules whose fixes are allowed) and retry the ones a fix was refused for when a
    later fix changed the texts since; until a round changes nothing."""
    from fixers.pipeline.rescan import Rescanner

    codes = {code for spec in FIXERS if spec.safety in allowed for code in spec.codes}
    rescanner = Rescanner(plan.result, codes)
    asked = {id(p.finding) for p in plan.fixes} | {id(f) for f, _ in plan.skipped}
    # Refused findings: (the finding as first reported, as last reported, the texts when refused).
    refused = [(finding, finding, after) for finding, fix, _, after in first if fix is None]
    outcomes = first
    scanned = plan.result.findings
    for round_number in range(2, MAX_ROUNDS + 2):
        found, index = rescanner.scan({s.relpath: s.text for s in ws.files.values() if s.changed})
        fixed = {id(finding) for finding, fix, _, _ in outcomes if fix is not None}
        new = raised([f for f in scanned if id(f) not in fixed], found)  # a removed finding cannot hide a new one
        retry: dict[int, Finding] = {}  # id of the finding in this scan -> as first reported
        for original, last, when in refused:
            if ws.changed_since(when):
                current = same_finding(last, found, taken={*retry, *map(id, new)})
                if current is not None:
                    retry[id(current)] = original
        if not new and not retry:
            return
        if round_number > MAX_ROUNDS:
            if new:
                listed = ", ".join(f"{f.rule} {f.location}" for f in new[:5])
                plan.notes.append(
                    f"the fixes did not settle after {MAX_ROUNDS} rounds: each round raised new findings ({listed}); "
                    "this is a bug in prodready, please report it"
                )
            return
        ws.new_round(index)
        checkpoint = ws.checkpoint()
        outcomes = run_round(plan, ws, [*new, *(f for f in found if id(f) in retry)], progress)
        refused = []
        for finding, fix, reason, after in outcomes:
            original = retry.get(id(finding), finding)
            if fix is not None:
                plan.skipped = [(f, r) for f, r in plan.skipped if f is not original]
                # A finding the plan was asked to fix, fixed at last, or one its fixes raised.
                (plan.fixes if id(original) in asked else plan.follow_ups).append(replace(fix, finding=original))
                continue
            refused.append((original, finding, after))
            if any(f is original for f, _ in plan.skipped):
                plan.skipped = [(f, reason if f is original else r) for f, r in plan.skipped]  # the latest reason
            else:
                plan.skipped.append((original, reason))
        if not ws.changed_since(checkpoint):
            return  # the fixers could do nothing more: what is left is in plan.skipped
        scanned = found


def same_finding(finding: Finding, found: list[Finding], taken: set[int]) -> Finding | None:
    """The finding of a later scan that is `finding` (same rule and file; same message if any)."""
    candidates = [f for f in found if id(f) not in taken and f.rule == finding.rule and f.path == finding.path]
    return next((f for f in candidates if f.message == finding.message), candidates[0] if candidates else None)


def raised(before: list[Finding], after: list[Finding]) -> list[Finding]:
    """The findings of `after` that are not in `before`. A finding's line moves when a fix edits
    the lines above it, its message can change (a count of places), and a project-wide finding
    moves to another file (its anchor): as many findings are matched as there were before, by
    rule, file and message first, then by rule and file, then by rule alone."""
    old, left = list(before), list(after)
    for identity in (
        lambda f: (f.rule, f.path, f.message),
        lambda f: (f.rule, f.path),
        lambda f: f.rule,
    ):
        pool: dict = defaultdict(list)
        for finding in old:
            pool[identity(finding)].append(finding)
        unmatched = []
        for finding in left:
            bucket = pool.get(identity(finding))
            if bucket:
                bucket.pop()
            else:
                unmatched.append(finding)
        left, old = unmatched, [f for bucket in pool.values() for f in bucket]
    return left


def preview(result, finding: Finding) -> FixPlan:
    """The fix of one finding alone (the wizard shows it before asking)."""
    return plan_fixes(result, [finding], include_review=True)

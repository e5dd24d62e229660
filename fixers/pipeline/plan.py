"""From findings to a FixPlan: every edit, new file and dependency a run would write.

The dry run prints `plan.diff()`; `apply_plan(plan)` writes exactly `plan.edits`, nothing else.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.models import Finding, FixSafety
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
    fixes: list[PlannedFix] = field(default_factory=list)
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

    def summary(self) -> str:
        if self.is_empty:
            return "nothing to fix"
        created = sum(1 for e in self.edits if e.is_new)
        parts = [f"{len(self.fixes)} fix{'es' if len(self.fixes) != 1 else ''}", f"{len(self.edits) - created} file(s) changed"]
        if created:
            parts.append(f"{created} created")
        if self.dependencies:
            parts.append("adds " + ", ".join(self.dependencies))
        return ", ".join(parts)


def selected_findings(result, findings: Iterable[Finding] | None, include_review: bool) -> list[Finding]:
    """The findings a plan answers: explicit ones as given (the caller chose them), else every
    fixable finding of the scan whose fix is safe (or reviewed, with include_review)."""
    if findings is not None:
        return [f for f in findings if spec_for(f.rule) is not None]
    allowed = {FixSafety.SAFE, FixSafety.REVIEW} if include_review else {FixSafety.SAFE}
    return [f for f in result.findings if (spec := spec_for(f.rule)) is not None and spec.safety in allowed]


def plan_fixes(
    result,
    findings: Iterable[Finding] | None = None,
    include_review: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> FixPlan:
    """Every chosen fix, fixer by fixer in registry order, on one in-memory workspace.

    `progress(fixer name, fixers done, fixers to run)` is called before each fixer runs (a
    project with a hundred findings takes seconds of libcst work)."""
    chosen = selected_findings(result, findings, include_review)
    ws = Workspace(result.root, result.index)
    plan = FixPlan(result)
    work = [(spec, group) for spec in FIXERS if (group := [f for f in chosen if f.rule in spec.codes])]
    for done, (spec, group) in enumerate(work):
        if progress:
            progress(spec.name, done, len(work))
        checkpoint = ws.checkpoint()
        try:
            outcomes = spec.load().fix(group, ws)
        except Skip as exc:
            ws.rollback(checkpoint)
            outcomes = {f: str(exc) for f in group}
        except FixError:
            raise  # the project changed under the plan: nothing sensible can be planned
        except Exception as exc:  # a bug in one fixer must not take the others down
            ws.rollback(checkpoint)
            outcomes = {f: f"internal error in the {spec.name} fixer: {type(exc).__name__}: {exc}" for f in group}
        touched = tuple(ws.changed_since(checkpoint))
        for finding in group:
            reason = outcomes.get(finding, "the fixer did not handle it")
            if reason is None:
                plan.fixes.append(PlannedFix(finding, spec.name, spec.safety, spec.description, touched))
            else:
                plan.skipped.append((finding, reason))
    if plan.fixes and ws.requirements:
        checkpoint = ws.checkpoint()
        try:
            plan.dependencies = add_requirements(ws, sorted(ws.requirements))
        except Exception as exc:  # an unparsable pyproject.toml: keep the code fixes, say so
            ws.rollback(checkpoint)
            plan.notes.append(f"add {', '.join(sorted(ws.requirements))} to your dependencies by hand ({exc})")
    fixed = {p.finding for p in plan.fixes}
    plan.notes.extend(dict.fromkeys(text for text, found in ws.notes if fixed.intersection(found)))
    for state in ws.changed():
        if state.text is not None:
            plan.edits.append(FileEdit(state.relpath, state.original, state.text, state.base, state.encode()))
    return plan


def preview(result, finding: Finding) -> FixPlan:
    """The fix of one finding alone (the wizard shows it before asking)."""
    return plan_fixes(result, [finding], include_review=True)

"""The wizard's door to the fix engine (`fixers`), so screens never deal with its absence.

Every call goes to the same functions `prodready fix` uses. When the fix engine (or one of its
functions) is not installed, the calls answer "no automatic fix yet" instead of failing.
libcst is only imported on first use, inside a worker, so the first screen stays fast.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from auditor.engine import ScanResult
    from auditor.models import Finding

NO_FIX = "no automatic fix yet: the finding explains what to change by hand"


class FixUnavailable(Exception):
    """The fix engine cannot do this (not installed, or no fixer for this rule)."""


@dataclass
class Preview:
    diff: str  # unified diff, "" when there is nothing to show
    note: str = ""  # why there is no diff, or what else the fix adds (dependencies)


def _fixers() -> Any:
    try:
        import fixers
    except ImportError as exc:
        raise FixUnavailable(NO_FIX) from exc
    return fixers


def _function(name: str) -> Any:
    function = getattr(_fixers(), name, None)
    if function is None:
        raise FixUnavailable(NO_FIX)
    return function


def fix_error_types() -> tuple[type[BaseException], ...]:
    """The fix engine's own error (one clear line), plus what the file system can raise."""
    error = getattr(_safe_fixers(), "FixError", None)
    return (error, OSError) if isinstance(error, type) else (OSError,)


def _safe_fixers() -> Any:
    try:
        return _fixers()
    except FixUnavailable:
        return None


def preview(result: ScanResult, finding: Finding) -> Preview:
    """The diff of this one finding's fix alone (never raises: problems become the note)."""
    if not finding.fixable:
        return Preview("", NO_FIX)
    try:
        plan = _function("preview")(result, finding)
    except FixUnavailable as exc:
        return Preview("", str(exc))
    except Exception as exc:  # the fix engine's own errors, or a bug in one fixer: say so, go on
        return Preview("", f"the fix cannot be prepared: {exc}")
    if plan.is_empty:
        reasons = [reason for _, reason in getattr(plan, "skipped", [])]
        return Preview("", f"no automatic fix here: {reasons[0]}" if reasons else "the fix has nothing to change here")
    notes = list(getattr(plan, "notes", []) or [])
    deps = list(getattr(plan, "dependencies", []) or [])
    if deps:
        notes.insert(0, f"also adds the dependency {', '.join(deps)}")
    return Preview(plan.diff(color=False), "; ".join(notes))


def plan(result: ScanResult, findings: list[Finding]) -> Any | None:
    """One FixPlan for every accepted finding (review fixes included: the user accepted each)."""
    fixable = [f for f in findings if f.fixable]
    if not fixable:
        return None
    plan = _function("plan_fixes")(result, findings=fixable, include_review=True)
    return None if plan.is_empty else plan


def apply(plan: Any) -> Any:
    return _function("apply_plan")(plan)


def undo_command(root: Path | str) -> str:
    return f"prodready undo {shlex.quote(str(root))}"

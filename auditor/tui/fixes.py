"""The wizard's door to the fix engine (`fixers`), so screens never deal with its absence.

Every call goes to the same functions `prodready fix` uses. When the fix engine (or one of its
functions) is not installed, the calls answer "no automatic fix yet" instead of failing.
libcst is only imported on first use, inside a worker, so the first screen stays fast.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
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


def _engine() -> Any:
    try:
        import fixers
    except ImportError as exc:  # an install without the fix engine: findings are still shown
        raise FixUnavailable(NO_FIX) from exc
    return fixers


def fix_error_types() -> tuple[type[BaseException], ...]:
    """The fix engine's own error (its str() is one clear line), plus what the file system raises."""
    try:
        return (_engine().FixError, OSError)
    except FixUnavailable:
        return (OSError,)


def preview(result: ScanResult, finding: Finding) -> Preview:
    """The diff of this one finding's fix alone (never raises: problems become the note)."""
    if not finding.fixable:
        return Preview("", NO_FIX)
    try:
        plan = _engine().preview(result, finding)
    except FixUnavailable as exc:
        return Preview("", str(exc))
    except Exception as exc:  # the fix engine's own errors, or a bug in one fixer: say so, go on
        return Preview("", f"the fix cannot be prepared: {exc}")
    if plan.is_empty:
        reasons = [reason for skipped, reason in plan.skipped if skipped == finding] or [reason for _, reason in plan.skipped]
        from fixers.pipeline.plan import why_not_fixed

        return Preview("", f"Not fixed automatically: {why_not_fixed(reasons[0])}" if reasons else "the fix has nothing to change here")
    notes = list(plan.notes)
    if plan.dependencies:
        notes.insert(0, f"also adds the dependency {', '.join(plan.dependencies)}")
    return Preview(plan.diff(color=False), "; ".join(notes))


def plan(result: ScanResult, findings: list[Finding], progress: Callable[[str, int, int], None] | None = None) -> Any | None:
    """One FixPlan for every accepted fixable finding (review fixes included: the user accepted
    each one), or None when none of them has a fixer. `progress` as for fixers.plan_fixes."""
    fixable = [f for f in findings if f.fixable]
    return _engine().plan_fixes(result, findings=fixable, include_review=True, progress=progress) if fixable else None


def apply(plan: Any) -> Any:
    """Write the plan (stale check, compile check, atomic write, backup) and rescan."""
    return _engine().apply_plan(plan)


def undo_command(root: Path | str) -> str:
    return f"prodready undo {shlex.quote(str(root))}"

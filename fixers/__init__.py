"""Codemods that fix what the auditor finds: plans, diffs, atomic apply and undo.

Never imports textual: the CLI and the wizard both drive these functions. libcst is imported
only when a plan loads a fixer, never while scanning.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# name -> the submodule that defines it. Loaded on first use: the scan reads only
# fixers.registry, and should not pay for the plan/apply machinery it never runs.
_EXPORTS = {
    "ApplyReport": "pipeline.apply", "apply_plan": "pipeline.apply",
    "DamagedBackupError": "pipeline.errors", "FixError": "pipeline.errors", "LockedError": "pipeline.errors", "NotWritableError": "pipeline.errors",
    "NothingToUndoError": "pipeline.errors", "OutsideProjectError": "pipeline.errors", "ReadOnlyFileError": "pipeline.errors",
    "StaleFileError": "pipeline.errors", "UndoConflictError": "pipeline.errors", "UnparsableResultError": "pipeline.errors", "WriteError": "pipeline.errors",
    "FileEdit": "pipeline.plan", "FixPlan": "pipeline.plan", "PlannedFix": "pipeline.plan", "plan_fixes": "pipeline.plan", "preview": "pipeline.plan",
    "FixerSpec": "registry", "all_fixers": "registry", "safety_for": "registry",
    "UndoReport": "pipeline.undo", "undo": "pipeline.undo",
}  # fmt: skip

if TYPE_CHECKING:
    from fixers.pipeline.apply import ApplyReport, apply_plan
    from fixers.pipeline.errors import (
        DamagedBackupError,
        FixError,
        LockedError,
        NotWritableError,
        NothingToUndoError,
        OutsideProjectError,
        ReadOnlyFileError,
        StaleFileError,
        UndoConflictError,
        UnparsableResultError,
        WriteError,
    )
    from fixers.pipeline.plan import FileEdit, FixPlan, PlannedFix, plan_fixes, preview
    from fixers.registry import FixerSpec, all_fixers, safety_for
    from fixers.pipeline.undo import UndoReport, undo


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fixers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fixers.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ApplyReport",
    "DamagedBackupError",
    "FileEdit",
    "FixError",
    "FixPlan",
    "FixerSpec",
    "LockedError",
    "NotWritableError",
    "NothingToUndoError",
    "OutsideProjectError",
    "PlannedFix",
    "ReadOnlyFileError",
    "StaleFileError",
    "UndoConflictError",
    "UndoReport",
    "UnparsableResultError",
    "WriteError",
    "all_fixers",
    "apply_plan",
    "plan_fixes",
    "preview",
    "safety_for",
    "undo",
]

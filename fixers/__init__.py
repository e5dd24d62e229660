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
    "ApplyReport": "apply", "apply_plan": "apply",
    "DamagedBackupError": "errors", "FixError": "errors", "LockedError": "errors", "NotWritableError": "errors",
    "NothingToUndoError": "errors", "OutsideProjectError": "errors", "ReadOnlyFileError": "errors",
    "StaleFileError": "errors", "UndoConflictError": "errors", "UnparsableResultError": "errors", "WriteError": "errors",
    "FileEdit": "plan", "FixPlan": "plan", "PlannedFix": "plan", "plan_fixes": "plan", "preview": "plan",
    "FixerSpec": "registry", "all_fixers": "registry", "safety_for": "registry",
    "UndoReport": "undo", "undo": "undo",
}  # fmt: skip

if TYPE_CHECKING:
    from fixers.apply import ApplyReport, apply_plan
    from fixers.errors import (
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
    from fixers.plan import FileEdit, FixPlan, PlannedFix, plan_fixes, preview
    from fixers.registry import FixerSpec, all_fixers, safety_for
    from fixers.undo import UndoReport, undo


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

"""Codemods that fix what the auditor finds: plans, diffs, atomic apply and undo.

Never imports textual: the CLI and the wizard both drive these functions. libcst is imported
only when a plan loads a fixer, never while scanning.
"""

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

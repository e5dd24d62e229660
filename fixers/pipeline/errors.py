"""Why a fix cannot be applied or undone. Each message is one line a user can act on."""

from __future__ import annotations


class FixError(Exception):
    """Base class: nothing was written when one of these is raised."""


class StaleFileError(FixError):
    def __init__(self, relpath: str, detail: str = "changed on disk since the scan") -> None:
        super().__init__(f"{relpath} {detail}; scan again and review the new diff")
        self.relpath = relpath


class UnparsableResultError(FixError):
    def __init__(self, relpath: str, detail: str) -> None:
        super().__init__(f"the fixed {relpath} would not be valid: {detail}; nothing was written")
        self.relpath = relpath


class ReadOnlyFileError(FixError):
    def __init__(self, relpath: str) -> None:
        super().__init__(f"{relpath} is read-only; make it writable or leave its fixes out")
        self.relpath = relpath


class OutsideProjectError(FixError):
    def __init__(self, relpath: str) -> None:
        super().__init__(f"{relpath} is outside the project folder; refusing to write there")
        self.relpath = relpath


class LockedError(FixError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"another prodready fix or undo is running on this project ({detail}); try again when it ends")


class WriteError(FixError):
    def __init__(self, relpath: str, reason: str, unrestored: list[str] | None = None) -> None:
        if unrestored:  # putting back failed too (the disk is gone or full): the backup still has them
            shown = ", ".join(unrestored[:3]) + (f" and {len(unrestored) - 3} more" if len(unrestored) > 3 else "")
            after = f"{shown} could not be put back; `prodready undo` restores them from the backup"
        else:
            after = "every file was put back as it was"
        super().__init__(f"could not write {relpath}: {reason}; {after}")
        self.relpath = relpath
        self.unrestored = unrestored or []


class NotWritableError(FixError):
    """The backup or the lock cannot be written (read-only file system, disk full): refused before any edit."""

    def __init__(self, relpath: str, reason: str) -> None:
        super().__init__(f"cannot write {relpath}: {reason}; nothing was written")
        self.relpath = relpath


class NothingToUndoError(FixError):
    def __init__(self) -> None:
        super().__init__("nothing to undo: no applied fix is recorded in .prodready/backups")


class DamagedBackupError(FixError):
    def __init__(self, backup: str, what: str, detail: str) -> None:
        super().__init__(
            f"cannot undo: {what} in {backup} is damaged ({detail}); nothing was restored "
            f"(the saved originals are in {backup}/files)"
        )


class UndoConflictError(FixError):
    def __init__(self, relpaths: list[str]) -> None:
        shown = ", ".join(relpaths[:3]) + (f" and {len(relpaths) - 3} more" if len(relpaths) > 3 else "")
        super().__init__(f"cannot undo: {shown} changed since the fix was applied; restore them by hand from the backup")
        self.relpaths = relpaths

"""`prodready undo`: put the project back exactly as it was before the last apply.

Each file is judged by its hash: still as the fix left it -> restored; already as it was before
-> nothing to do (an apply cut short, or an undo cut short and run again); anything else -> a
conflict, and nothing is written. So an apply that was interrupted (manifest still "applying")
is undone like a finished one, and an interrupted undo can simply be run again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fixers.pipeline.errors import DamagedBackupError, NothingToUndoError, UndoConflictError
from fixers.pipeline.storage import STATE_DIR, atomic_write, backups_dir, project_lock, read_manifest, sha256, write_manifest
from fixers.pipeline.workspace import inside


@dataclass
class UndoReport:
    backup_dir: Path
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"restored {len(self.restored)} file(s), deleted {len(self.deleted)} created file(s)"


@dataclass
class UndoPlan:
    restore: list[dict] = field(default_factory=list)  # manifest entries still as the fix left them
    delete: list[dict] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def anything_written(self) -> bool:
        return bool(self.restore or self.delete or self.conflicts)


def _current_hash(path: Path) -> str | None:
    try:
        return sha256(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        return None


def undo_plan(root: Path, manifest: dict) -> UndoPlan:
    for relative in manifest.get("created_dirs", []):
        inside(root, relative)  # a tampered manifest is refused before anything is written
    plan = UndoPlan()
    for entry in manifest["changed"]:
        now = _current_hash(inside(root, entry["path"]))
        if now == entry["after"]:
            plan.restore.append(entry)
        elif now != entry["before"]:
            plan.conflicts.append(entry["path"])
    for entry in manifest["created"]:
        now = _current_hash(inside(root, entry["path"]))
        if now == entry["after"]:
            plan.delete.append(entry)
        elif now is not None:
            plan.conflicts.append(entry["path"])
    return plan


def last_applied(root: Path) -> tuple[Path, dict, UndoPlan] | None:
    """The newest backup whose fix is (at least partly) on disk."""
    folder = backups_dir(root)
    if not folder.is_dir():
        return None
    for backup in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
        manifest = read_manifest(backup)  # raises on a damaged one: it may be the apply to undo
        if manifest is None or manifest["state"] not in ("applied", "applying"):
            continue
        plan = undo_plan(root, manifest)
        if manifest["state"] == "applied" or plan.anything_written:  # "applying": cut short
            return backup, manifest, plan
    return None


def saved_copies(backup: Path, entries: list[dict]) -> dict[str, bytes]:
    """The saved originals, each checked against its hash before anything is written."""
    shown = f"{STATE_DIR}/backups/{backup.name}"
    copies = {}
    for entry in entries:
        try:
            data = (backup / "files" / entry["path"]).read_bytes()
        except OSError as exc:
            raise DamagedBackupError(shown, f"the saved copy of {entry['path']}", exc.strerror or "unreadable") from None
        if sha256(data) != entry["before"]:
            raise DamagedBackupError(shown, f"the saved copy of {entry['path']}", "its bytes do not match the manifest")
        copies[entry["path"]] = data
    return copies


def undo(root: Path) -> UndoReport:
    root = Path(root).resolve()
    with project_lock(root):
        found = last_applied(root)
        if found is None:
            raise NothingToUndoError()
        backup, manifest, plan = found
        if plan.conflicts:
            raise UndoConflictError(plan.conflicts)
        copies = saved_copies(backup, plan.restore)
        report = UndoReport(backup)
        for entry in plan.restore:
            atomic_write(inside(root, entry["path"]), copies[entry["path"]], entry["mode"])
            report.restored.append(entry["path"])
        for entry in plan.delete:
            inside(root, entry["path"]).unlink()
            report.deleted.append(entry["path"])
        for relative in reversed(manifest.get("created_dirs", [])):
            try:
                inside(root, relative).rmdir()
            except OSError:
                pass  # the user put other files there since: keep them
        manifest["state"] = "undone"
        manifest["undone_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_manifest(backup, manifest)
    return report

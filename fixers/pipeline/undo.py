"""`prodready undo`: put the project back exactly as it was before the last apply.

Each file is judged by its hash: still as the fix left it -> restored; already as it was before
-> nothing to do (an apply cut short, or an undo cut short and run again); anything else -> a
conflict, and nothing is written. So an apply that was interrupted (manifest still "applying")
is undone like a finished one, and an interrupted undo can simply be run again.

`force=True` undoes over conflicts: the changed files are first copied as they are now into the
backup's `kept-at-undo/` folder (all of them, before anything is restored), so the edits made
since the apply are never lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fixers.pipeline.errors import DamagedBackupError, FixError, NothingToUndoError, NotWritableError, UndoConflictError
from fixers.pipeline.storage import STATE_DIR, atomic_write, backups_dir, project_lock, read_manifest, sha256, write_manifest
from fixers.pipeline.workspace import inside


KEPT_FOLDER = "kept-at-undo"  # inside the backup: the versions `undo --force` replaced


class ChangedSinceApplyError(UndoConflictError):
    """Files changed since the apply: names the backup, every file, and the way out (--force)."""

    def __init__(self, relpaths: list[str], backup: str) -> None:
        shown = ", ".join(relpaths[:3]) + (f" and {len(relpaths) - 3} more" if len(relpaths) > 3 else "")
        FixError.__init__(
            self,
            f"cannot undo: {shown} changed since the fix was applied (backup in {backup}); nothing was restored. "
            f"`prodready undo --force` keeps a copy of the current version(s) in {backup}/{KEPT_FOLDER}/ and then restores the backup",
        )
        self.relpaths = relpaths
        self.backup = backup


@dataclass
class UndoReport:
    backup_dir: Path
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # changed since the apply: copied to kept_dir first

    @property
    def kept_dir(self) -> Path:
        return self.backup_dir / KEPT_FOLDER

    def summary(self) -> str:
        text = f"restored {len(self.restored)} file(s), deleted {len(self.deleted)} created file(s)"
        if self.kept:
            text += f"; your later edits to {len(self.kept)} file(s) are kept in {STATE_DIR}/backups/{self.backup_dir.name}/{KEPT_FOLDER}"
        return text


@dataclass
class UndoPlan:
    restore: list[dict] = field(default_factory=list)  # manifest entries still as the fix left them
    delete: list[dict] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    conflict_entries: list[tuple[str, dict]] = field(default_factory=list)  # ("changed" | "created", entry)

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
            plan.conflict_entries.append(("changed", entry))
    for entry in manifest["created"]:
        now = _current_hash(inside(root, entry["path"]))
        if now == entry["after"]:
            plan.delete.append(entry)
        elif now is not None:
            plan.conflicts.append(entry["path"])
            plan.conflict_entries.append(("created", entry))
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


def keep_current_versions(root: Path, backup: Path, relpaths: list[str]) -> list[str]:
    """Copy each file as it is now into the backup's kept-at-undo/ folder (missing ones skipped).
    All copies are written before the undo touches the project; a failed copy stops it."""
    kept = []
    for relpath in relpaths:
        source = inside(root, relpath)
        try:
            data = source.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            continue  # deleted since the apply: nothing to keep
        target = backup / KEPT_FOLDER / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data, source.stat().st_mode & 0o7777)
        kept.append(relpath)
    return kept


def undo(root: Path, force: bool = False) -> UndoReport:
    """Restore the last apply. A file changed since then refuses the undo (naming the backup and
    the files), unless `force`: then its current version is kept in the backup first."""
    root = Path(root).resolve()
    with project_lock(root):
        found = last_applied(root)
        if found is None:
            raise NothingToUndoError()
        backup, manifest, plan = found
        shown = f"{STATE_DIR}/backups/{backup.name}"
        if plan.conflicts and not force:
            raise ChangedSinceApplyError(plan.conflicts, shown)
        forced_restore = [entry for kind, entry in plan.conflict_entries if kind == "changed"]
        forced_delete = [entry for kind, entry in plan.conflict_entries if kind == "created"]
        copies = saved_copies(backup, plan.restore + forced_restore)  # checked before anything is written
        report = UndoReport(backup)
        if plan.conflicts:
            try:
                report.kept = keep_current_versions(root, backup, plan.conflicts)
            except OSError as exc:
                raise NotWritableError(f"{shown}/{KEPT_FOLDER}", f"{exc.strerror or exc}; the current versions could not be kept") from None
            plan.restore += forced_restore
            plan.delete += forced_delete
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

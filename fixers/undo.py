"""`prodready undo`: put the project back exactly as it was before the last apply."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fixers.errors import NothingToUndoError, UndoConflictError
from fixers.storage import atomic_write, backups_dir, project_lock, read_manifest, sha256, write_manifest
from fixers.workspace import inside


@dataclass
class UndoReport:
    backup_dir: Path
    restored: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"restored {len(self.restored)} file(s), deleted {len(self.deleted)} created file(s)"


def last_applied(root: Path) -> tuple[Path, dict] | None:
    folder = backups_dir(root)
    if not folder.is_dir():
        return None
    for backup in sorted((p for p in folder.iterdir() if p.is_dir()), reverse=True):
        manifest = read_manifest(backup)
        if manifest and manifest.get("state") == "applied":
            return backup, manifest
    return None


def _current_hash(path: Path) -> str | None:
    try:
        return sha256(path.read_bytes())
    except (FileNotFoundError, IsADirectoryError):
        return None


def undo(root: Path) -> UndoReport:
    root = Path(root).resolve()
    with project_lock(root):
        found = last_applied(root)
        if found is None:
            raise NothingToUndoError()
        backup, manifest = found
        entries = manifest["changed"] + manifest["created"]
        conflicts = [e["path"] for e in entries if _current_hash(inside(root, e["path"])) != e["after"]]
        if conflicts:
            raise UndoConflictError(conflicts)
        report = UndoReport(backup)
        for entry in manifest["changed"]:
            atomic_write(inside(root, entry["path"]), (backup / "files" / entry["path"]).read_bytes(), entry["mode"])
            report.restored.append(entry["path"])
        for entry in manifest["created"]:
            inside(root, entry["path"]).unlink()
            report.deleted.append(entry["path"])
        for relative in reversed(manifest.get("created_dirs", [])):
            try:
                (root / relative).rmdir()
            except OSError:
                pass  # the user put other files there since: keep them
        manifest["state"] = "undone"
        manifest["undone_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        write_manifest(backup, manifest)
    return report

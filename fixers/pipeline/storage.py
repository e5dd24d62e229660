"""The project's `.prodready/` folder: the lock, backups and manifests, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from auditor.atomic import atomic_write
from fixers.pipeline.errors import DamagedBackupError, LockedError, NotWritableError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt

STATE_DIR = ".prodready"
MANIFEST = "manifest.json"
STATES = ("applying", "applied", "rolled-back", "undone")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def state_dir(root: Path) -> Path:
    folder = root / STATE_DIR
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():  # backups are not the project's files
        ignore.write_text("*\n", encoding="utf-8")
    return folder


def backups_dir(root: Path) -> Path:
    return root / STATE_DIR / "backups"


def new_backup_dir(root: Path) -> Path:
    base = state_dir(root) / "backups"
    base.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    folder = base / stamp
    folder.mkdir()
    return folder


def is_read_only(path: Path) -> bool:
    return not path.stat().st_mode & stat.S_IWUSR


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_manifest(folder: Path, manifest: dict) -> None:
    atomic_write(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))


def read_manifest(folder: Path) -> dict | None:
    """A backup's manifest; None when there is none (the apply stopped before writing any file).
    A manifest that is there but unreadable is refused: nobody can tell what it would undo."""
    shown = f"{STATE_DIR}/backups/{folder.name}"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise DamagedBackupError(shown, MANIFEST, detail) from None
    if not _well_formed(manifest):
        raise DamagedBackupError(shown, MANIFEST, "entries missing or of the wrong type")
    return manifest


def _well_formed(manifest) -> bool:
    try:
        return (
            manifest["state"] in STATES
            and all(isinstance(e["path"], str) and isinstance(e["after"], str) for e in manifest["changed"] + manifest["created"])
            and all(isinstance(e["before"], str) and isinstance(e["mode"], int) for e in manifest["changed"])
            and all(isinstance(d, str) for d in manifest.get("created_dirs", []))
        )
    except (KeyError, TypeError):
        return False


def not_writable(root: Path, exc: OSError) -> NotWritableError:
    """The one-line refusal for an OSError met while preparing to write (nothing written yet)."""
    try:
        where = Path(exc.filename).relative_to(root).as_posix() if exc.filename else STATE_DIR
    except ValueError:
        where = str(exc.filename)
    return NotWritableError(where, exc.strerror or str(exc))


def _try_lock(fd: int) -> bool:
    """Take the OS lock on the open lock file without waiting. The OS drops it when its holder
    ends, however it ends: a crashed run leaves no lock to clean up, and no pid to trust."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _holder(lock: Path) -> str:
    try:
        pid = lock.read_text(encoding="utf-8").strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else f"{STATE_DIR}/lock"


@contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """One fix or undo at a time per project; the second refuses at once (LockedError)."""
    lock = root / STATE_DIR / "lock"
    fd = None
    try:
        state_dir(root)
        while fd is None:
            fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
            if not _try_lock(fd):
                os.close(fd)
                raise LockedError(_holder(lock))
            # The holder before us deletes the file on release; if that happened after we opened
            # it, we locked a file nobody else will see: open the path again.
            try:
                same = os.stat(lock).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                fd = None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
    except OSError as exc:
        if fd is not None:
            os.close(fd)
        raise not_writable(root, exc) from None
    try:
        yield
    finally:
        if fcntl is not None:  # deleted while still held (see above); Windows cannot delete an open file
            lock.unlink(missing_ok=True)
        os.close(fd)

"""The project's `.prodready/` folder: the lock, backups and manifests, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from fixers.errors import LockedError

STATE_DIR = ".prodready"
MANIFEST = "manifest.json"


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


def atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write to a temporary file next to `path`, then rename it over: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_manifest(folder: Path, manifest: dict) -> None:
    atomic_write(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"))


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def project_lock(root: Path) -> Iterator[None]:
    """One fix or undo at a time per project. A lock left by a dead process is taken over."""
    lock = state_dir(root) / "lock"
    for attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text(encoding="utf-8").strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if attempt == 0 and pid and not _pid_alive(pid):
                lock.unlink(missing_ok=True)
                continue
            raise LockedError(f"pid {pid}" if pid else str(lock.relative_to(root))) from None
    else:  # pragma: no cover - the loop always breaks or raises
        raise LockedError(str(lock))
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)

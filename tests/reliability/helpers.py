"""Shared by the reliability tests: byte-exact snapshots of a project tree, copies of the
fixture apps, a simulated read-only file system."""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import os
import shutil
import stat
from pathlib import Path

from tests.helpers import FIXTURES

# What a run may leave besides the project's own files: prodready's backups, Python's caches.
NOT_THE_PROJECT = {".prodready", "__pycache__", ".pytest_cache"}
FIXTURE_APPS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def print_routes(*names: str) -> dict[str, str]:
    """A small Flask project: one module per name, each with a print() the safe fix rewrites."""
    return {
        f"app/{name}.py": (
            "from flask import Flask\n\napp = Flask(__name__)\n\n\n"
            f'@app.get("/{name}")\ndef {name}():\n    print("serving {name}")\n    return []\n'
        )
        for name in names
    }


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and folder under root: (sha256 of the bytes or "dir", permission bits).
    Comparing two snapshots checks contents, modes, created files and created folders."""
    state = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if NOT_THE_PROJECT & set(relative.parts):
            continue
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode):
            state[relative.as_posix()] = ("dir", stat.S_IMODE(info.st_mode))
        else:
            state[relative.as_posix()] = (hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(info.st_mode))
    return state


def copy_app(name: str, target: Path) -> Path:
    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns(*NOT_THE_PROJECT))
    return target


def read_only_filesystem(monkeypatch, root: Path) -> None:
    """Every write under root fails with EROFS, as on a read-only mount (chmod does not stop
    root, who runs CI here, so the system calls are patched instead)."""
    root = Path(root).resolve()

    def under(path) -> bool:
        try:
            resolved = Path(os.fsdecode(path)).resolve()
        except TypeError:  # a file descriptor
            return False
        return resolved == root or root in resolved.parents

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(path))

    writes = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def guard(real, *, flags_at=None, mode_at=None):
        def patched(path, *args, **kwargs):
            if under(path):
                if flags_at is not None and not (args[flags_at - 1] if len(args) >= flags_at else kwargs.get("flags", 0)) & writes:
                    return real(path, *args, **kwargs)
                if mode_at is not None:
                    mode = args[mode_at - 1] if len(args) >= mode_at else kwargs.get("mode", "r")
                    if not any(c in mode for c in "wax+"):
                        return real(path, *args, **kwargs)
                refuse(path)
            return real(path, *args, **kwargs)

        return patched

    monkeypatch.setattr(os, "open", guard(os.open, flags_at=1))
    monkeypatch.setattr(io, "open", guard(io.open, mode_at=1))
    monkeypatch.setattr(builtins, "open", guard(builtins.open, mode_at=1))
    for name in ("mkdir", "unlink", "remove", "rmdir", "chmod"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))
    for name in ("replace", "rename"):
        real = getattr(os, name)
        monkeypatch.setattr(os, name, lambda src, dst, *a, _real=real, **k: refuse(dst) if under(dst) or under(src) else _real(src, dst, *a, **k))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **k: False if mode & os.W_OK and under(path) else real_access(path, mode, **k))

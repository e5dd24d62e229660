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
# The sample apps themselves. Not: apps/ (a folder of apps, checked with their own tests in
# tests/test_fixes_keep_apps_green.py) and verify_* (made so that a fix breaks their tests).
FIXTURE_APPS = sorted(
    p.name for p in FIXTURES.iterdir()
    if p.is_dir() and not p.name.startswith(("_", ".", "verify_")) and p.name != "apps"
)  # fmt: skip


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

    def under(*paths) -> bool:
        for path in paths:
            if isinstance(path, int):  # a file descriptor: already open
                continue
            resolved = Path(os.fsdecode(path)).resolve()
            if resolved == root or root in resolved.parents:
                return True
        return False

    def refusing(real, writes=lambda args, kwargs: True, paths=1):
        def patched(*args, **kwargs):
            if under(*args[:paths]) and writes(args[paths:], kwargs):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fsdecode(args[paths - 1]))
            return real(*args, **kwargs)

        return patched

    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    opens_for_writing = lambda args, kwargs: bool((args[0] if args else kwargs.get("flags", 0)) & write_flags)  # noqa: E731
    mode_writes = lambda args, kwargs: any(c in (args[0] if args else kwargs.get("mode", "r")) for c in "wax+")  # noqa: E731
    monkeypatch.setattr(os, "open", refusing(os.open, opens_for_writing))
    monkeypatch.setattr(io, "open", refusing(io.open, mode_writes))
    monkeypatch.setattr(builtins, "open", refusing(builtins.open, mode_writes))
    for name in ("mkdir", "unlink", "remove", "rmdir", "chmod"):
        monkeypatch.setattr(os, name, refusing(getattr(os, name)))
    for name in ("replace", "rename"):
        monkeypatch.setattr(os, name, refusing(getattr(os, name), paths=2))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: not (mode & os.W_OK and under(path)) and real_access(path, mode, **kw))

"""Find the files to scan: Python sources plus the few other files rules look at.

Honours .gitignore files (nested ones too) and `[tool.prodready] exclude`, skips virtualenvs,
site-packages, node_modules, build and cache folders, follows directory symlinks only when
they do not lead back into a folder already walked (a loop is reported once), and never
reads a file over the size cap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from auditor.models import Diagnostic

if TYPE_CHECKING:
    import pathspec

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", ".venv", "venv", ".env", "env", "site-packages", "dist-packages",
        "node_modules", "__pycache__", "build", "dist", ".tox", ".nox", ".mypy_cache",
        ".pytest_cache", ".ruff_cache", ".eggs", ".prodready", ".idea", ".vscode", "htmlcov",
    }
)  # fmt: skip

# Non-Python files some rules read (schema files, migration and environment config).
OTHER_SUFFIXES = frozenset({".sql", ".ini", ".toml", ".cfg", ".txt", ".example", ".staging", ".yaml", ".yml"})
OTHER_NAMES = frozenset({".env", ".env.example", ".env.staging", ".env.production", "Procfile", "Dockerfile"})


@dataclass
class Discovery:
    root: Path
    python_files: list[str] = field(default_factory=list)  # POSIX paths relative to root
    other_files: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    mtimes: dict[str, int] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _gitignore_spec(lines: list[str]) -> pathspec.PathSpec:
    import pathspec  # imported on first use: it costs more than walking a small tree

    return pathspec.GitIgnoreSpec.from_lines(lines)


def _load_ignore(folder: Path) -> pathspec.PathSpec | None:
    path = folder / ".gitignore"
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return _gitignore_spec(lines)


def _is_virtualenv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").exists()


def discover(root: Path, exclude: list[str] | None = None, max_file_size: int = 2_000_000) -> Discovery:
    root = root.resolve()
    found = Discovery(root=root)
    excluded = _gitignore_spec(exclude) if exclude else None
    # Each entry: (relative folder prefix, spec) applying to paths below that folder.
    ignores: list[tuple[str, pathspec.PathSpec]] = []
    seen_dirs: set[tuple[int, int]] = set()

    def ignored(rel: str, is_dir: bool) -> bool:
        probe = rel + "/" if is_dir else rel
        if excluded is not None and excluded.match_file(probe):
            return True
        for prefix, spec in ignores:
            if (not prefix or rel.startswith(prefix)) and spec.match_file(probe[len(prefix) :]):
                return True
        return False

    def walk(folder: Path, rel_folder: str) -> None:
        try:
            info = folder.stat()
        except OSError as exc:
            found.diagnostics.append(Diagnostic(path=rel_folder or ".", kind="unreadable", message=f"cannot open folder: {exc.strerror}"))
            return
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            found.diagnostics.append(
                Diagnostic(path=rel_folder, kind="symlink-loop", message="symlink leads back to a folder already scanned; not followed")
            )
            return
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            found.diagnostics.append(
                Diagnostic(path=rel_folder or ".", kind="unreadable", message=f"cannot list folder: {exc.strerror}")
            )
            return
        spec = _load_ignore(folder)
        if spec is not None:
            ignores.append((rel_folder + "/" if rel_folder else "", spec))
        for entry in entries:
            rel = f"{rel_folder}/{entry.name}" if rel_folder else entry.name
            try:
                is_dir = entry.is_dir()  # follows symlinks
                is_file = not is_dir and entry.is_file()
            except OSError as exc:  # ELOOP on a self-referencing link, EACCES...
                kind = "symlink-loop" if exc.errno == 40 else "unreadable"
                found.diagnostics.append(Diagnostic(path=rel, kind=kind, message=f"cannot follow: {exc.strerror}"))
                continue
            if is_dir:
                if entry.name in SKIP_DIRS or entry.name.endswith(".egg-info") or ignored(rel, True):
                    continue
                child = Path(entry.path)
                if _is_virtualenv(child):
                    continue
                walk(child, rel)
                continue
            if not is_file:
                if entry.is_symlink():
                    found.diagnostics.append(Diagnostic(path=rel, kind="unreadable", message="broken symlink; skipped"))
                continue
            is_python = entry.name.endswith((".py", ".pyi")) and not entry.name.endswith(".pyi")
            is_other = not is_python and (
                entry.name in OTHER_NAMES or os.path.splitext(entry.name)[1] in OTHER_SUFFIXES
            )
            if not (is_python or is_other) or ignored(rel, False):
                continue
            try:
                stat = entry.stat()
            except OSError as exc:
                found.diagnostics.append(Diagnostic(path=rel, kind="unreadable", message=f"cannot stat: {exc.strerror}"))
                continue
            if stat.st_size > max_file_size:
                if is_python:
                    found.diagnostics.append(
                        Diagnostic(
                            path=rel,
                            kind="too-large",
                            message=f"skipped: {stat.st_size / 1_000_000:.1f} MB is over the {max_file_size / 1_000_000:.1f} MB cap (max-file-size)",
                        )
                    )
                continue
            if is_python:
                found.python_files.append(rel)
                found.sizes[rel] = stat.st_size
                found.mtimes[rel] = stat.st_mtime_ns
            else:
                found.other_files.append(rel)
        if spec is not None:
            ignores.pop()

    walk(root, "")
    return found

"""Rehearsals run on copies of the fixture apps (never inside the repository), each with its
own temporary folder so a test can check that nothing is left behind."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def copy_app(name: str, dest: Path) -> Path:
    """A real copy (symlinks followed: sloppy_fastapi links to the shipped demo app)."""
    shutil.copytree(FIXTURES / name, dest, symlinks=False)
    return dest


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Temporary folders made by the rehearsal (the sandbox) go here, to be counted after."""
    folder = tmp_path / "tempdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder

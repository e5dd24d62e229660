"""The repository stays small: no build artefact or data dump is committed by accident.

A tracked file over 1 MB fails this test unless it is listed in ALLOWED_LARGE_FILES with the
reason it has to live in the repository.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIMIT = 1_000_000  # bytes
ALLOWED_LARGE_FILES: dict[str, str] = {
    # "path/in/repo": "why it must be committed",
}


def tracked_files() -> list[str]:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    done = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip("not a git checkout (an sdist or an installed copy): nothing is tracked")
    return [name for name in done.stdout.split("\0") if name]


def large_files(names: list[str], root: Path, limit: int = LIMIT) -> list[tuple[str, int]]:
    found = []
    for name in names:
        path = root / name
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            if size > limit and name not in ALLOWED_LARGE_FILES:
                found.append((name, size))
    return found


def test_no_tracked_file_over_1_mb_outside_the_allow_list():
    offenders = large_files(tracked_files(), REPO)
    assert not offenders, "tracked files over 1 MB (remove them or add them to ALLOWED_LARGE_FILES with a reason): " + ", ".join(
        f"{name} ({size / 1e6:.1f} MB)" for name, size in offenders
    )


def test_the_check_sees_a_large_file_and_respects_the_allow_list(tmp_path, monkeypatch):
    (tmp_path / "big.bin").write_bytes(b"\0" * (LIMIT + 1))
    (tmp_path / "small.txt").write_text("ok")
    assert large_files(["big.bin", "small.txt"], tmp_path) == [("big.bin", LIMIT + 1)]
    monkeypatch.setitem(ALLOWED_LARGE_FILES, "big.bin", "a fixture that has to be large")
    assert large_files(["big.bin", "small.txt"], tmp_path) == []


def test_every_allow_listed_file_is_still_tracked_and_still_large():
    # A stale entry would let a new file of the same name in without anyone deciding it.
    names = set(tracked_files())
    for name in ALLOWED_LARGE_FILES:
        assert name in names, f"{name} is allow-listed but no longer tracked: remove the entry"
        assert (REPO / name).stat().st_size > LIMIT, f"{name} is allow-listed but under 1 MB now: remove the entry"

"""Bad input: each case gets one clear message and the scan goes on with the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def prodready(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRODREADY_NO_CACHE="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "auditor", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )


def test_empty_directory_says_so_and_exits_2(tmp_path):
    proc = prodready("scan", str(tmp_path))
    assert proc.returncode == 2  # nothing to audit is not a clean pass
    assert proc.stderr == f"prodready: nothing to audit: no Python files under {tmp_path}\n"
    assert "/100" not in proc.stdout


def test_no_python_files(tmp_path):
    (tmp_path / "README.md").write_text("# hello\n")
    (tmp_path / "schema.sql").write_text("CREATE TABLE t (id INTEGER PRIMARY KEY);\n")
    proc = prodready("scan", str(tmp_path))
    assert proc.returncode == 2 and "no Python files under" in proc.stderr


def test_huge_file_is_skipped_with_its_size(tmp_path):
    (tmp_path / "generated.py").write_bytes(b"x = 1\n" * (50_000_000 // 6))
    (tmp_path / "app.py").write_text("import requests\nrequests.get('https://a')\n")
    proc = prodready("scan", str(tmp_path))
    assert proc.returncode == 1
    assert "generated.py: skipped: 50.0 MB is over the 2.0 MB cap (max-file-size)" in proc.stdout
    assert "PR250 app.py:2" in proc.stdout


def test_python2_code_is_named(tmp_path):
    (tmp_path / "old.py").write_text("print 'hello'\n")
    proc = prodready("scan", str(tmp_path))
    assert "old.py: syntax error at line 1: Missing parentheses in call to 'print'" in proc.stdout
    assert "(this looks like Python 2 code); skipped" in proc.stdout


def test_coding_cookie_is_honoured(tmp_path):
    (tmp_path / "latin.py").write_bytes(b"# -*- coding: latin-1 -*-\nname = '\xe9t\xe9'\nimport requests\nrequests.get(name)\n")
    proc = prodready("scan", str(tmp_path))
    assert "PR250 latin.py:4" in proc.stdout and "not valid text" not in proc.stdout


def _deny(monkeypatch, paths: set[Path]) -> None:
    """Make reads of `paths` fail with EACCES (chmod alone does not stop root, who runs CI here)."""
    import errno

    real_read_bytes, real_scandir = Path.read_bytes, os.scandir

    def read_bytes(self):
        if self in paths:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_read_bytes(self)

    def scandir(path="."):
        if Path(path) in paths:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    monkeypatch.setattr(os, "scandir", scandir)


def test_permission_denied_on_a_file_and_a_folder(tmp_path, monkeypatch, capsys):
    from auditor.cli import main

    (tmp_path / "app.py").write_text("import requests\nrequests.get('https://a')\n")
    (tmp_path / "secret.py").write_text("x = 1\n")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "m.py").write_text("x = 1\n")
    _deny(monkeypatch, {tmp_path / "secret.py", tmp_path / "locked"})
    assert main(["scan", str(tmp_path), "--no-cache"]) == 1
    out = capsys.readouterr().out
    assert "secret.py: cannot read: Permission denied" in out
    assert "locked: cannot list folder: Permission denied" in out
    assert "PR250 app.py:2" in out


def test_unreadable_root_folder_is_an_error(tmp_path, monkeypatch, capsys):
    from auditor.cli import main

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert main(["scan", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"prodready: error: permission denied: cannot read folder {tmp_path}\n"

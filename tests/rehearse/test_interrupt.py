"""Ctrl+C during a rehearsal: the app's process group is stopped and the temporary data removed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import copy_app

pytestmark = pytest.mark.rehearsal


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to find what is left running")
def test_ctrl_c_stops_the_app_and_removes_its_data(tmp_path):
    app = copy_app("sloppy_fastapi", tmp_path / "demo")
    private = tmp_path / "tempdir"
    private.mkdir()
    env = {**os.environ, "TMPDIR": str(private)}
    cli = subprocess.Popen(
        [sys.executable, "-m", "auditor", "rehearse", str(app)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    seen = ""
    while "the app answers on" not in seen and time.monotonic() < deadline:
        seen += cli.stderr.readline()
    assert "the app answers on" in seen, seen
    assert processes_mentioning(str(private))  # the server is running from the private folder
    cli.send_signal(signal.SIGINT)
    out, err = cli.communicate(timeout=30)
    assert cli.returncode == 2
    assert "stopped" in err or "interrupted" in err
    deadline = time.monotonic() + 15
    while processes_mentioning(str(private)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(private)) == []
    assert list(private.iterdir()) == []

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
    # A users hook that takes its time: Ctrl+C surely lands while the app and the hook run (the
    # demo's probes alone can finish before the signal on a busy machine).
    (app / "pyproject.toml").write_text('[tool.prodready.rehearse]\nusers = "rehearsal_users:make_users"\n')
    (app / "rehearsal_users.py").write_text("import time\n\n\ndef make_users(base_url):\n    time.sleep(120)\n")
    private = tmp_path / "tempdir"
    private.mkdir()
    env = {**os.environ, "TMPDIR": str(private)}
    cli = subprocess.Popen(
        [sys.executable, "-m", "auditor", "rehearse", str(app)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl+C as in a terminal, even when the tests run where SIGINT is ignored (a background job)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    seen = ""
    while "the app answers on" not in seen and time.monotonic() < deadline:
        seen += cli.stderr.readline()
    assert "the app answers on" in seen, seen
    assert processes_mentioning(str(private))  # the server is running from the private folder
    cli.send_signal(signal.SIGINT)
    out, err = cli.communicate(timeout=30)
    assert cli.returncode == 2, err
    assert "stopped" in err or "interrupted" in err
    deadline = time.monotonic() + 15
    while processes_mentioning(str(private)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = processes_mentioning(str(private))
    assert left == [], [(Path(f"/proc/{pid}/cmdline").read_bytes(), Path(f"/proc/{pid}/stat").read_text()) for pid in left]
    assert list(private.iterdir()) == []


def test_a_cancelled_rehearsal_stops_the_app_and_removes_its_data(tmp_path, private_tmp, monkeypatch):
    """The wizard's screen going away (Back, or quitting) sets `cancel`: the rehearsal ends at once."""
    import threading

    from auditor.rehearse import run
    from auditor.rehearse.run import RehearsalError, rehearse

    memory = tmp_path / "shm"
    memory.mkdir()
    monkeypatch.setattr(run, "MEMORY_DIRS", (str(memory),))
    app = copy_app("sloppy_fastapi", tmp_path / "demo")
    cancel = threading.Event()
    said = []

    def progress(line: str) -> None:
        said.append(line)
        if line.startswith("[2/"):
            cancel.set()

    started = time.monotonic()
    with pytest.raises(RehearsalError, match="stopped before it finished"):
        rehearse(app, progress=progress, cancel=cancel)
    assert time.monotonic() - started < 60 and not any(line.startswith("[11/") for line in said)
    deadline = time.monotonic() + 15
    while processes_mentioning(str(private_tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(private_tmp)) == []
    assert list(private_tmp.iterdir()) == [] and list(memory.iterdir()) == []

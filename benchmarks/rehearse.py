"""Rehearsal timing on the demo app: `prodready rehearse` from process start to the last probe.

Each run is a fresh process on a fresh copy of the app, as a user would start it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed_rehearsal(app: Path, env: dict[str, str]) -> float:
    prodready = shutil.which("prodready", path=os.path.dirname(sys.executable)) or "prodready"
    with tempfile.TemporaryDirectory(prefix="prodready-rehearse-") as work:
        copy = Path(work) / app.name
        shutil.copytree(app, copy, symlinks=False)
        started = time.perf_counter()
        done = subprocess.run(
            [prodready, "rehearse", str(copy), "--no-progress"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, check=False,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"prodready rehearse failed: {done.stderr.strip()[-300:]}")
    return elapsed


def rehearse_timings(app: Path, runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    return {"rehearse: demo app": [_timed_rehearsal(app, env) for _ in range(max(1, runs - 1))]}

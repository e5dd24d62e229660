"""Fix timings on the demo app: planning every fix, and planning then verifying them.

Each figure runs in a fresh process (`prodready fix`), as a user would start it, on a fresh copy of
the app so that no run sees another's cache or output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed_fix(app: Path, flags: list[str], env: dict[str, str]) -> float:
    prodready = shutil.which("prodready", path=os.path.dirname(sys.executable)) or "prodready"
    with tempfile.TemporaryDirectory(prefix="prodready-fixes-") as work:
        copy = Path(work) / app.name
        shutil.copytree(app, copy, symlinks=False)
        started = time.perf_counter()
        done = subprocess.run(
            [prodready, "fix", str(copy), "--include-review", "--no-progress", *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, check=False,
        )
        elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise RuntimeError(f"prodready fix {' '.join(flags)} failed: {done.stderr.strip()[-300:]}")
    return elapsed


# Planning alone: the plan made after the scan, in a fresh process whose modules (the fixers,
# libcst) are loaded; imports and the scan are not counted.
_PLAN_ONLY = """
import sys, time
from auditor.engine import scan
from fixers import plan_fixes
from fixers.registry import FIXERS
for spec in FIXERS:
    spec.load()
result = scan(sys.argv[1])
started = time.perf_counter()
plan_fixes(result, include_review=True)
print(time.perf_counter() - started)
"""


def _timed_planning(app: Path, env: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory(prefix="prodready-plan-") as work:
        copy = Path(work) / app.name
        shutil.copytree(app, copy, symlinks=False)
        done = subprocess.run([sys.executable, "-c", _PLAN_ONLY, str(copy)], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"planning failed: {done.stderr.strip()[-300:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _supports_verify(env: dict[str, str]) -> bool:
    prodready = shutil.which("prodready", path=os.path.dirname(sys.executable)) or "prodready"
    shown = subprocess.run([prodready, "fix", "--help"], capture_output=True, text=True, env=env, check=False)
    return "--verify" in shown.stdout


def fix_timings(app: Path, runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    env = dict(env, PRODREADY_NO_CACHE="1")
    results = {
        "planning alone: demo app": [_timed_planning(app, env) for _ in range(runs)],
        "plan every fix: demo app": [_timed_fix(app, [], env) for _ in range(runs)],
    }
    if _supports_verify(env):
        results["plan + verify every fix: demo app"] = [_timed_fix(app, ["--verify"], env) for _ in range(max(1, runs - 1))]
    return results

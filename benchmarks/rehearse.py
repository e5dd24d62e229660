"""Rehearsal timing on the demo app: `prodready rehearse` from process start to the last probe.

Each run is a fresh process on a fresh copy of the app, as a user would start it. Run alone,
`python -m benchmarks.rehearse [--runs N]` also shows where the time goes (from the progress
lines: start and scan, database, server boot, users, each probe) and the load average, since
the machine is often shared.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEMO = Path(__file__).resolve().parents[1] / "templates" / "demo_app"
# progress line -> the phase that starts with it
PHASES = (
    (re.compile(r"^rehearse runs your app"), "start and scan"),
    (re.compile(r"^database: "), "database choice"),
    (re.compile(r"^starting the app"), "server boot"),
    (re.compile(r"^the app answers"), "users"),
    (re.compile(r"^\[\d+/\d+\] (.+)$"), None),  # one phase per probe step, named by the line
)


def _prodready() -> str:
    return shutil.which("prodready", path=os.path.dirname(sys.executable)) or "prodready"


def _timed_rehearsal(app: Path, env: dict[str, str], phases: dict[str, list[float]] | None = None) -> float:
    with tempfile.TemporaryDirectory(prefix="prodready-rehearse-") as work:
        copy = Path(work) / app.name
        shutil.copytree(app, copy, symlinks=False)
        started = time.perf_counter()
        process = subprocess.Popen(
            [_prodready(), "rehearse", str(copy)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        marks: list[tuple[str, float]] = []
        tail: list[str] = []
        for line in process.stderr:
            tail = (tail + [line])[-20:]
            for pattern, name in PHASES:
                match = pattern.match(line)
                if match:
                    marks.append((name or match.group(1).strip(), time.perf_counter() - started))
        process.wait()
        elapsed = time.perf_counter() - started
    if process.returncode not in (0, 1):
        raise RuntimeError(f"prodready rehearse failed: {''.join(tail).strip()[-300:]}")
    if phases is not None:
        marks.append(("(end)", elapsed))
        phases.setdefault("process start", []).append(marks[0][1] if marks else elapsed)
        for (name, at), (_, following) in zip(marks, marks[1:]):
            phases.setdefault(name, []).append(following - at)
    return elapsed


def rehearse_timings(app: Path, runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    return {"rehearse: demo app": [_timed_rehearsal(app, env) for _ in range(max(1, runs - 1))]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.rehearse", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    env = dict(os.environ)
    phases: dict[str, list[float]] = {}
    totals = []
    print(f"{os.cpu_count()} cores; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for _ in range(args.runs):
        totals.append(_timed_rehearsal(DEMO, env, phases))
        print(f"  run: {totals[-1]:.2f} s (load average {os.getloadavg()[0]:.2f})", flush=True)
    width = max(len(name) for name in phases)
    print(f"\n{'phase':{width}}  median s")
    for name, values in phases.items():
        print(f"{name:{width}}  {statistics.median(values):8.2f}")
    print(f"\nrehearse: demo app  min {min(totals):.2f} s, median {statistics.median(totals):.2f} s (target < 20 s)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Side-by-side timings on one tree, in one run (this machine is noisy; compare ratios).

    python -m benchmarks [PATH] [--runs N]

PATH defaults to the Python standard library. Measures:
  floor          read + ast.parse of the same files, one process (the cost of just parsing)
  cold           `prodready scan` with the cache off, every rule enabled
  warm           `prodready scan` with a warm cache
  touch          warm cache after one file's mtime moved (its content hash says: unchanged)
  rescan         warm cache after one file's content changed (that file is analysed again),
                 without and with a [tool.prodready] table
  bandit         `bandit -r` on the same tree, when bandit is installed
  wizard         time to the first screen on the fixture apps (from process start), and how the
                 UI answers while the wizard scans the tree (benchmarks/wizard.py)
  fixes          planning every fix (--include-review) on a copy of the demo app, and planning then
                 verifying them against the app's own tests (benchmarks/fixes.py)
and peak RSS of the cold scan. Prints min and median of several runs, then the ratios.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from auditor.analyze import decode_source
from auditor.discovery import discover


def floor(root: Path, files: list[str]) -> None:
    for relpath in files:
        try:
            ast.parse(decode_source((root / relpath).read_bytes()))
        except (SyntaxError, ValueError, UnicodeDecodeError):
            pass


def timed(fn, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def run_cmd(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)


FIXTURE_APPS = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
WIZARD_APPS = ("careful_app", "sloppy_fastapi", "sloppy_flask")


def first_screen(app: Path, env: dict[str, str]) -> float:
    """Seconds from starting the process to the wizard's first screen (headless, 100x32)."""
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "benchmarks.wizard", "first-screen", str(app)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("first-screen"):
                elapsed = time.perf_counter() - started
                child.stdout.read()  # let it finish its scan and exit
                return elapsed
    raise RuntimeError(f"the wizard did not start on {app}")


def wizard_responsiveness(root: Path, env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.wizard", "responsive", str(root)],
        capture_output=True, text=True, env=dict(env, PRODREADY_NO_CACHE="1"),
    ).stdout
    return json.loads(out.strip().splitlines()[-1]) if out.strip() else {}


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc (Linux)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue  # it exited meanwhile
    return total


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(largest single process, all processes together) in MB, the parallel workers included.

    The sum counts pages the forked workers share with the parent once per process: an upper bound."""
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    with subprocess.Popen([sys.executable, "-c", probe, *argv], stdout=subprocess.PIPE, text=True, env=env) as proc:
        together = 0
        while proc.poll() is None:
            together = max(together, _tree_rss_kb(proc.pid))
            time.sleep(0.05)
        largest = int((proc.stdout.read() if proc.stdout else "").strip() or 0)
    return largest / 1024, together / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=sysconfig.get_paths()["stdlib"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-bandit", action="store_true", help="skip bandit (it takes minutes)")
    parser.add_argument("--no-wizard", action="store_true", help="skip the wizard figures")
    parser.add_argument("--no-fixes", action="store_true", help="skip the plan and verify figures")
    args = parser.parse_args(argv)
    source = Path(args.path).resolve()
    # Work on a copy of the Python files: the touch and rescan figures change one of them.
    work = Path(tempfile.mkdtemp(prefix="prodready-tree-"))
    root = work / source.name
    for relpath in discover(source).python_files:
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relpath, root / relpath)
    found = discover(root)
    files = found.python_files
    prodready = shutil.which("prodready", path=os.path.dirname(sys.executable)) or "prodready"
    cache = tempfile.mkdtemp(prefix="prodready-bench-")
    env = dict(os.environ, PRODREADY_CACHE_DIR=cache)
    # Bytecode is written as an installed wheel has it (pip compiles at install): without it every
    # run would compile prodready's own modules again and time that instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    scan = [prodready, "scan", str(root), "--format", "json", "--no-progress"]
    print(f"tree: copy of {source} ({len(files)} Python files, {sum(found.sizes.values()) / 1e6:.1f} MB), {os.cpu_count()} cores")

    results: dict[str, list[float]] = {}
    results["floor (read + ast.parse)"] = timed(lambda: floor(root, files), args.runs)
    results["prodready cold"] = timed(lambda: run_cmd([*scan, "--no-cache"], env), args.runs)
    run_cmd(scan, env)  # fill the cache
    results["prodready warm"] = timed(lambda: run_cmd(scan, env), args.runs)
    victim = root / files[len(files) // 2]
    results["prodready touch (1 mtime moved)"] = timed(lambda: (os.utime(victim), run_cmd(scan, env)), args.runs)
    edits = iter(range(1_000_000))

    def rescan() -> None:
        with open(victim, "a", encoding="utf-8") as handle:  # new content: that file is analysed again
            handle.write(f"\n_benchmark_edit_{next(edits)} = 1\n")
        run_cmd(scan, env)

    results["prodready rescan (1 file changed)"] = timed(rescan, args.runs)
    config = root / "pyproject.toml"  # the same settings as no table: the results stay cached
    config.write_text('[tool.prodready]\nfail-on = "low"\n', encoding="utf-8")
    run_cmd(scan, env)  # validates the table once
    results["prodready rescan, [tool.prodready] table"] = timed(rescan, args.runs)
    config.unlink()
    bandit = shutil.which("bandit", path=os.path.dirname(sys.executable)) or shutil.which("bandit")
    if bandit and not args.no_bandit:
        results["bandit -r"] = timed(lambda: run_cmd([bandit, "-r", "-q", "-f", "json", str(root)], env), max(1, args.runs - 1))
    apps = [FIXTURE_APPS / name for name in WIZARD_APPS] if not args.no_wizard else []
    for app in apps:
        results[f"wizard first screen: {app.name}"] = [first_screen(app, env) for _ in range(args.runs)]
    ui = wizard_responsiveness(root, env) if apps else {}
    if not args.no_fixes:
        from benchmarks.fixes import fix_timings

        results.update(fix_timings(FIXTURE_APPS / "sloppy_fastapi", args.runs, env))
        from benchmarks.rehearse import rehearse_timings

        results.update(rehearse_timings(FIXTURE_APPS / "sloppy_fastapi", args.runs, env))
    rss = peak_rss_mb([*scan, "--no-cache"], env)
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)

    width = max(len(k) for k in results)
    print(f"\n{'':{width}}   min s  median s")
    for name, times in results.items():
        print(f"{name:{width}}  {min(times):6.2f}  {statistics.median(times):8.2f}")
    base = min(results["floor (read + ast.parse)"])
    cold = min(results["prodready cold"])
    print(f"\ncold / floor       {cold / base:5.2f}x   (target <= 1.5x)")
    if "bandit -r" in results:
        print(f"bandit / cold      {min(results['bandit -r']) / cold:5.2f}x   (target >= 5x)")
    print(f"rescan             {min(results['prodready rescan (1 file changed)']):5.2f}s   (target < 0.5 s)")
    print(f"peak RSS cold      {rss[1]:5.0f} MB  (all processes together; largest one {rss[0]:.0f} MB; target < 500 MB)")
    if apps:
        slowest = max(min(results[f"wizard first screen: {app.name}"]) for app in apps)
        print(f"wizard 1st screen  {slowest:5.2f}s   (slowest fixture app; target < 1 s)")
    if "planning alone: demo app" in results:
        print(f"planning alone     {min(results['planning alone: demo app']):5.2f}s   (demo app, every fix, after the scan; target < 3 s)")
    if "plan every fix: demo app" in results:
        print(f"plan every fix     {min(results['plan every fix: demo app']):5.2f}s   (`prodready fix --include-review`: process start and scan included)")
    if "rehearse: demo app" in results:
        print(f"rehearse           {min(results['rehearse: demo app']):5.2f}s   (demo app, every probe; target < 20 s)")
    if ui:
        print(
            f"wizard scanning the tree: {ui['scan_s']} s, {ui['progress_updates']} progress updates, "
            f"event loop late by {ui['stall_median_ms']} ms median / {ui['stall_max_ms']} ms max, "
            f"{ui['keys']} key presses answered in at most {ui['key_max_ms']} ms"
        )
    return 0

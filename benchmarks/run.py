"""Side-by-side timings on one tree, in one run (this machine is noisy; compare ratios).

    python -m benchmarks [PATH] [--runs N]

PATH defaults to the Python standard library. Measures:
  floor          read + ast.parse of the same files, one process (the cost of just parsing)
  cold           `prodready scan` with the cache off, every rule enabled
  warm           `prodready scan` with a warm cache
  rescan         warm cache after touching one file
  bandit         `bandit -r` on the same tree, when bandit is installed
and peak RSS of the cold scan. Prints min and median of several runs, then the ratios.
"""

from __future__ import annotations

import argparse
import ast
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


def peak_rss_mb(argv: list[str], env: dict[str, str]) -> float:
    probe = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, env=env).stdout
    return int(out.strip() or 0) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=sysconfig.get_paths()["stdlib"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    source = Path(args.path).resolve()
    # Work on a copy of the Python files: the rescan figure touches one file's mtime.
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
    scan = [prodready, "scan", str(root), "--format", "json", "--no-progress"]
    print(f"tree: copy of {source} ({len(files)} Python files, {sum(found.sizes.values()) / 1e6:.1f} MB), {os.cpu_count()} cores")

    results: dict[str, list[float]] = {}
    results["floor (read + ast.parse)"] = timed(lambda: floor(root, files), args.runs)
    results["prodready cold"] = timed(lambda: run_cmd([*scan, "--no-cache"], env), args.runs)
    run_cmd(scan, env)  # fill the cache
    results["prodready warm"] = timed(lambda: run_cmd(scan, env), args.runs)
    victim = root / files[len(files) // 2]

    def rescan() -> None:
        os.utime(victim)  # a new mtime: that one file is analysed again
        run_cmd(scan, env)

    results["prodready rescan (1 file changed)"] = timed(rescan, args.runs)
    bandit = shutil.which("bandit", path=os.path.dirname(sys.executable)) or shutil.which("bandit")
    if bandit:
        results["bandit -r"] = timed(lambda: run_cmd([bandit, "-r", "-q", "-f", "json", str(root)], env), max(1, args.runs - 1))
    rss = peak_rss_mb([*scan, "--no-cache"], env)
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)

    width = max(len(k) for k in results)
    print(f"\n{'':{width}}   min s  median s")
    for name, times in results.items():
        print(f"{name:{width}}  {min(times):6.2f}  {statistics.median(times):8.2f}")
    base = min(results["floor (read + ast.parse)"])
    cold = min(results["prodready cold"])
    print(f"\ncold / floor       {cold / base:5.2f}x   (target <= 2x)")
    if "bandit -r" in results:
        print(f"bandit / cold      {min(results['bandit -r']) / cold:5.2f}x   (target >= 5x)")
    print(f"rescan             {min(results['prodready rescan (1 file changed)']):5.2f}s   (target < 0.5 s)")
    print(f"peak RSS cold      {rss:5.0f} MB  (target < 500 MB)")
    return 0

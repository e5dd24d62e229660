"""The checks every step codemod's tests share: fix real findings of a small project end to end,
then verify the result compiles, the rules no longer fire, and a second plan proposes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fixers import apply_plan, plan_fixes
from fixers.base import check_compiles
from tests.helpers import scan_project, write_project


def fix_project(tmp_path: Path, files: dict[str, str] | str, codes: set[str], skipped_ok: bool = False):
    """Write the project, fix the findings of `codes`, and check the result. Returns
    (root, plan, scan after)."""
    root = write_project(tmp_path, files)
    before = scan_project(root)
    found = [f for f in before.findings if f.rule in codes]
    assert found, f"no {sorted(codes)} finding in the input: {[f.rule for f in before.findings]}"
    plan = plan_fixes(before, found, include_review=True)
    if not skipped_ok:
        assert not plan.skipped, plan.skipped
    assert plan.fixes, plan.skipped
    report = apply_plan(plan)
    for relpath in report.changed + report.created:
        if relpath.endswith(".py"):
            assert check_compiles(relpath, (root / relpath).read_text()) is None, relpath
    after = scan_project(root)
    from collections import Counter

    wanted = Counter((f.rule, f.path) for f in found)
    fixed = Counter((p.finding.rule, p.finding.path) for p in plan.fixes)
    left = Counter((f.rule, f.path) for f in after.findings if f.rule in codes)
    for key, count in fixed.items():
        assert left[key] == wanted[key] - count, f"{key} still reported after the fix: {[f for f in after.findings if (f.rule, f.path) == key]}"
    again = plan_fixes(after, [f for f in after.findings if f.rule in codes], include_review=True)
    assert again.is_empty, again.diff()
    return root, plan, after


def read(root: Path, relpath: str) -> str:
    return (root / relpath).read_text()


def run_python(root: Path, code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter inside the project (the fixed app, really imported)."""
    import os

    environment = {**os.environ, "PYTHONPATH": str(root), **(env or {})}
    environment.pop("APP_ENV", None) if env is None or "APP_ENV" not in env else None
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, env=environment, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done

"""Two `prodready fix --apply` runs on one project never interleave: the project lock lets one
write while the other refuses with a clear line, and a run that dies holding the lock does
not block the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from auditor.cli import main
from fixers import LockedError, apply_plan, plan_fixes, undo
from fixers.pipeline.storage import project_lock
from tests.helpers import scan_project, write_project
from tests.reliability.helpers import print_routes, snapshot

REPO = Path(__file__).resolve().parents[2]

FILES = print_routes("orders", "users", "items", "reports")

# Runs `prodready fix --apply` with two changes: it waits after planning until the other run has
# planned too (so both reach the apply together), and each file write takes 0.3 s.
RACER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path

    import fixers
    from fixers.pipeline import apply as apply_module

    root, ready, other = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    real_apply, real_write = fixers.apply_plan, apply_module.atomic_write

    def together(plan, rescan=True):
        ready.touch()
        deadline = time.monotonic() + 120
        while not other.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
        return real_apply(plan, rescan)

    def slow(path, data, mode=None):
        time.sleep(0.3)
        real_write(path, data, mode)

    fixers.apply_plan, apply_module.atomic_write = together, slow
    from auditor.cli import main

    sys.exit(main(["fix", root, "--apply", "--select", "PR502", "--no-cache", "--no-progress"]))
    """
)


def env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO), PRODREADY_NO_CACHE="1")


def test_two_real_applies_at_once_give_one_clean_apply(tmp_path):
    root = write_project(tmp_path / "proj", FILES)
    reference = write_project(tmp_path / "reference", FILES)
    assert main(["fix", str(reference), "--apply", "--select", "PR502", "--no-cache", "--no-progress"]) == 0
    original = snapshot(root)

    script = tmp_path / "racer.py"
    script.write_text(RACER)
    flags = [tmp_path / "a.ready", tmp_path / "b.ready"]
    runs = [
        subprocess.Popen(
            [sys.executable, str(script), str(root), str(mine), str(theirs)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
        )  # fmt: skip
        for mine, theirs in (flags, flags[::-1])
    ]
    results = [(run.pid, *run.communicate(timeout=300), run.returncode) for run in runs]

    (winner,) = [r for r in results if r[3] == 0]
    (loser,) = [r for r in results if r[3] != 0]
    # The holder's pid, or the lock file's path when the loser looked between the winner taking
    # the lock and writing its pid into it.
    locked = [
        f"prodready: error: another prodready fix or undo is running on this project ({holder}); try again when it ends\n"
        for holder in (f"pid {winner[0]}", ".prodready/lock")
    ]
    # The loser met the lock, or (had it come after the winner was done) a file the winner changed.
    stale = [f"prodready: error: app/{n}.py changed on disk since the scan; scan again and review the new diff\n" for n in ("items", "orders", "reports", "users")]
    assert loser[3] == 2 and loser[1] == "" and loser[2] in [*locked, *stale], loser[2]
    assert winner[1].count("fixed    app/") == 4

    assert snapshot(root) == snapshot(reference)  # exactly one apply's bytes
    assert len(list((root / ".prodready" / "backups").iterdir())) == 1
    assert not (root / ".prodready" / "lock").exists()
    undo(root)
    assert snapshot(root) == original


def test_taking_over_a_stale_lock_is_not_a_race(tmp_path, monkeypatch):
    """A lock file left by a dead run, and four runs starting at once: only one may hold the
    lock at a time, even when checking the dead run takes a while."""
    root = tmp_path
    (root / ".prodready").mkdir()
    (root / ".prodready" / "lock").write_text("999999999")
    real_kill = os.kill

    def slow_kill(pid, sig):  # a slow "is that process alive?" check widens any race window
        time.sleep(0.05)
        return real_kill(pid, sig)

    monkeypatch.setattr(os, "kill", slow_kill)
    start = threading.Barrier(4)
    holders, most, refused = [], [], []

    def contender():
        start.wait()
        try:
            with project_lock(root):
                holders.append(1)
                most.append(len(holders))
                time.sleep(0.2)
                holders.pop()
        except LockedError:
            refused.append(1)

    threads = [threading.Thread(target=contender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(most) == 1 and len(most) + len(refused) == 4 and most


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from fixers.pipeline.storage import project_lock

    with project_lock(Path(sys.argv[1])):
        print("locked", flush=True)
        time.sleep(120)
    """
)


def test_a_run_killed_while_holding_the_lock_does_not_block_the_next(tmp_path):
    root = write_project(tmp_path / "proj", FILES)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True, env=env())
    try:
        assert holder.stdout.readline() == "locked\n"
        result = scan_project(root)
        plan = plan_fixes(result, [f for f in result.findings if f.rule == "PR502"])
        with pytest.raises(LockedError, match=rf"\(pid {holder.pid}\)"):
            apply_plan(plan, rescan=False)
        os.kill(holder.pid, signal.SIGKILL)  # no finally block runs: the lock file stays behind
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert (root / ".prodready" / "lock").exists()
    report = apply_plan(plan, rescan=False)
    assert len(report.changed) == 4

"""The wizard, timed from outside as a person would see it (run headless, in a child process).

    python -m benchmarks.wizard first-screen PATH   prints "first-screen" once the start screen is up,
                                                    then "results S" when the scan's overview shows
    python -m benchmarks.wizard responsive PATH     scans PATH inside the wizard and prints what the
                                                    event loop did meanwhile (one JSON line)

The parent (benchmarks/run.py) times the first line from the moment it starts the process, so
interpreter start-up and every import count.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

TICK = 0.02  # the probe's own timer: any delay beyond it is time the UI could not react
KEY_EVERY = 0.5  # seconds between key presses during the scan


async def first_screen(path: Path) -> None:
    from auditor.tui.app import WizardApp
    from auditor.tui.start import StartScreen

    started = time.perf_counter()
    app = WizardApp(path, path_label="project")
    async with app.run_test(size=(100, 32)) as pilot:
        while not isinstance(app.screen, StartScreen):
            await pilot.pause()
        print("first-screen", flush=True)
        while app.session.result is None:
            await asyncio.sleep(TICK)
        print(f"results {time.perf_counter() - started:.3f}", flush=True)


async def responsive(path: Path) -> None:
    from textual.widgets import ProgressBar

    from auditor.tui.app import WizardApp
    from auditor.tui.start import StartScreen

    app = WizardApp(path, path_label="project")
    async with app.run_test(size=(100, 32)) as pilot:
        while not isinstance(app.screen, StartScreen):
            await pilot.pause()
        bar = app.screen.query_one(ProgressBar)
        started = last = last_key = time.perf_counter()
        stalls: list[float] = []
        keys: list[float] = []
        progress_seen: set[float] = set()
        while app.session.result is None:
            await asyncio.sleep(TICK)
            now = time.perf_counter()
            stalls.append(now - last - TICK)
            last = now
            if bar.progress:
                progress_seen.add(bar.progress)
            if now - last_key >= KEY_EVERY:
                await pilot.press("tab")  # moves the focus; returns once the app has handled it
                keys.append(time.perf_counter() - now)
                last = last_key = time.perf_counter()
            if now - started > 600:
                break
        stalls.sort()
        print(json.dumps({
            "scan_s": round(time.perf_counter() - started, 2),
            "progress_updates": len(progress_seen),
            "stall_median_ms": round(1000 * stalls[len(stalls) // 2], 1) if stalls else 0.0,
            "stall_max_ms": round(1000 * max(stalls, default=0.0), 1),
            "keys": len(keys),
            "key_max_ms": round(1000 * max(keys, default=0.0), 1),
        }), flush=True)


def main() -> None:
    mode, path = sys.argv[1], Path(sys.argv[2])
    asyncio.run(first_screen(path) if mode == "first-screen" else responsive(path))


if __name__ == "__main__":
    main()

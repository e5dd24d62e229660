"""Render every wizard screen to SVG: `python -m auditor.tui.screenshots [--out screenshots]`.

Each shot opens the wizard on a fresh copy of the bundled demo app, drives it with Textual's
Pilot (the same way the snapshot tests do, with the same `drive_*` functions) and saves the
screen with `save_screenshot()`. The project path is shown as a fixed label, never a temp path.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from auditor.tui.app import WizardApp

LABEL = "taskflow"
SIZE = (80, 24)
Drive = Callable[[Pilot], Awaitable[None]]


async def settle(pilot: Pilot) -> None:
    """Wait for the scan/preview/plan workers and the screen updates they cause."""
    app = pilot.app
    for _ in range(200):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(worker.is_running for worker in app.workers):
            break
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


async def drive_start(pilot: Pilot) -> None:
    await settle(pilot)
    if pilot.app.session.result is None:
        raise RuntimeError("the scan did not finish")


async def press(pilot: Pilot, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def drive_step(number: int) -> Drive:
    async def drive(pilot: Pilot) -> None:
        await drive_start(pilot)
        await press(pilot, "enter", *["n"] * (number - 1))

    return drive


async def drive_models(pilot: Pilot) -> None:
    await drive_step(1)(pilot)
    await press(pilot, "m")


async def drive_not_a_problem(pilot: Pilot) -> None:
    await drive_step(1)(pilot)
    await press(pilot, "x")


async def drive_long_diff(pilot: Pilot) -> None:
    """Step 2 on the outbound call whose fix (a timeout) lands past column 80: the diff wraps."""
    await drive_step(2)(pilot)
    screen = pilot.app.screen
    index = next(i for i, f in enumerate(screen.findings) if f.rule == "PR250" and f.path.endswith("orders.py"))
    screen.query_one("#findings").highlighted = index
    await settle(pilot)
    # Scroll the detail to the changed lines (what `space` pages to).
    detail, fix = screen.query_one("#detail"), screen.query_one("#detail-fix")
    rows = fix.content.plain_rows(fix.content_region.width)
    first = next(i for i, row in enumerate(rows) if row.startswith(("-", "+")))
    detail.scroll_to(y=fix.virtual_region.y + max(first - 2, 0), animate=False)
    await settle(pilot)


async def drive_quit(pilot: Pilot) -> None:
    """Accept a fix, then press q: the wizard asks before losing the decision."""
    await drive_step(5)(pilot)
    await press(pilot, "a", "q")


async def drive_review(pilot: Pilot) -> None:
    """Accept the safe fixes of validation and logging, skip one finding, then review."""
    await drive_step(2)(pilot)
    await press(pilot, "s", "n", "A", "n", "n", "A", "n")


async def drive_summary(pilot: Pilot) -> None:
    """Apply the reviewed changes (or export them as a patch in a dry run)."""
    await drive_review(pilot)
    if pilot.app.session.dry_run:
        await press(pilot, "e", "enter")
    else:
        await press(pilot, "a", "y")


def shot(drive: Drive) -> Drive:
    """A drive whose screen is captured: transient toasts are cleared so captures are repeatable."""

    async def capture(pilot: Pilot) -> None:
        await drive(pilot)
        pilot.app.clear_notifications()
        await settle(pilot)

    return capture


SHOTS: dict[str, Drive] = {
    name: shot(drive)
    for name, drive in {
        "start": drive_start,
        "step-1-data-model": drive_step(1),
        "step-1-models": drive_models,
        "not-a-problem": drive_not_a_problem,
        "step-2-infrastructure": drive_step(2),
        "step-3-validation": drive_step(3),
        "step-4-staging": drive_step(4),
        "step-5-logging": drive_step(5),
        "step-2-long-diff": drive_long_diff,
        "review": drive_review,
        "quit": drive_quit,
        "summary": drive_summary,
    }.items()
}


def copy_sample(target: Path) -> Path:
    from auditor.commands.wizard import IGNORED_IN_COPY, demo_source

    shutil.copytree(demo_source(), target, ignore=shutil.ignore_patterns(*IGNORED_IN_COPY))
    return target


async def render(name: str, drive: Drive, out: Path, size: tuple[int, int] = SIZE) -> Path:
    with tempfile.TemporaryDirectory(prefix="prodready-shot-") as folder:
        app = WizardApp(copy_sample(Path(folder) / LABEL), path_label=LABEL)
        async with app.run_test(size=size) as pilot:
            await drive(pilot)
            return Path(app.save_screenshot(f"{name}.svg", str(out)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auditor.tui.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"), help="folder for the SVGs (default: screenshots)")
    parser.add_argument("--only", nargs="*", choices=sorted(SHOTS), help="render only these screens")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or SHOTS:
        print(asyncio.run(render(name, SHOTS[name], args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

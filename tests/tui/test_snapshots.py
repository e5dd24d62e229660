"""SVG snapshots of every wizard screen at 80x24 (pytest-textual-snapshot).

The wizard runs on a copy of the sloppy FastAPI fixture with a fixed set of rules, a fixed
project label and no toasts, so a snapshot changes only when a screen does. After a deliberate
change: `pytest tests/tui/test_snapshots.py --snapshot-update`, then look at the new SVGs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditor.tui.app import WizardApp
from auditor.tui.screenshots import SHOTS
from tests.helpers import FIXTURES

RULES = ["PR103", "PR104", "PR250", "PR320", "PR430", "PR502"]


def make_app(tmp_path: Path, dry_run: bool = False) -> WizardApp:
    root = tmp_path / "taskflow"
    shutil.copytree(FIXTURES / "sloppy_fastapi", root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return WizardApp(root, dry_run=dry_run, path_label="taskflow", overrides={"select": RULES})


BOTH_SIZES = ["step-2-long-diff", "review", "quit"]


@pytest.mark.parametrize("name", [name for name in SHOTS if name != "summary" and name not in BOTH_SIZES])
def test_screen(snap_compare, tmp_path: Path, name: str):
    assert snap_compare(make_app(tmp_path), run_before=SHOTS[name], terminal_size=(80, 24))


def test_summary_after_a_dry_run(snap_compare, tmp_path: Path):
    # A dry run: the summary then names the exported patch instead of a timestamped backup folder.
    assert snap_compare(make_app(tmp_path, dry_run=True), run_before=SHOTS["summary"], terminal_size=(80, 24))


def test_wide_step_screen_puts_list_and_detail_side_by_side(snap_compare, tmp_path: Path):
    assert snap_compare(make_app(tmp_path), run_before=SHOTS["step-5-logging"], terminal_size=(130, 36))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("name", BOTH_SIZES)
def test_screen_at_both_sizes(snap_compare, tmp_path: Path, name: str, size: tuple[int, int]):
    """The step with a diff line longer than the panel (wrapped, the changed words marked), the
    review with its list of files and fixes, and the question before quitting."""
    assert snap_compare(make_app(tmp_path), run_before=SHOTS[name], terminal_size=size)

"""The Textual wizard: five steps as screens, diffs before anything is written.

Only the wizard imports textual; the scanner, rules and fixers stay headless.
"""

from __future__ import annotations

from pathlib import Path


def run_wizard(root: Path, *, dry_run: bool = False) -> int:
    from auditor.tui.app import WizardApp

    return WizardApp(root, dry_run=dry_run).run() or 0

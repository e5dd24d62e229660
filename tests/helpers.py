"""Small helpers shared by the tests: write a project to a folder, scan it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from auditor.config import Config
from auditor.engine import ScanResult, scan

FIXTURES = Path(__file__).parent / "fixtures"


def write_project(root: Path, example: str | dict[str, str]) -> Path:
    files = {"app.py": example} if isinstance(example, str) else example
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def scan_project(root: Path, select: list[str] | None = None, **config: object) -> ScanResult:
    """Scan with settings spelled as in TOML or in Python (validated as a real config would be)."""
    return scan(root, config=Config.from_toml({"select": select or [], **config}), use_cache=False)


def scan_example(tmp_path: Path, example: str | dict[str, str], select: list[str] | None = None) -> ScanResult:
    return scan_project(write_project(tmp_path, example), select)


def codes(result: ScanResult) -> list[str]:
    return [f.rule for f in result.findings]

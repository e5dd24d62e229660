"""Report formats for `prodready scan --format ...`: each a function ScanResult -> str."""

from __future__ import annotations

from collections.abc import Callable

from auditor.engine import ScanResult
from auditor.report.github import render_github
from auditor.report.html import render_html
from auditor.report.json_report import render_json
from auditor.report.markdown import render_markdown
from auditor.report.sarif import render_sarif
from auditor.report.text import render_text

FORMATS: dict[str, Callable[..., str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "markdown": render_markdown,
    "github": render_github,
    "html": render_html,
}

__all__ = ["FORMATS", "ScanResult"]

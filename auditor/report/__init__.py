"""Report formats for `prodready scan --format ...`: each a function ScanResult -> str.

A format's module is imported only when it is used (the HTML report pulls in jinja2 and
the fix engine; a CI scan printing JSON should not pay for them).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

_RENDERERS = {
    "text": "auditor.report.text:render_text",
    "json": "auditor.report.json_report:render_json",
    "sarif": "auditor.report.sarif:render_sarif",
    "markdown": "auditor.report.markdown:render_markdown",
    "github": "auditor.report.github:render_github",
    "html": "auditor.report.html:render_html",
}


class _Formats(Mapping):
    def __getitem__(self, name: str) -> Callable[..., str]:
        module, _, function = _RENDERERS[name].partition(":")
        return getattr(importlib.import_module(module), function)

    def __iter__(self) -> Iterator[str]:
        return iter(_RENDERERS)

    def __len__(self) -> int:
        return len(_RENDERERS)


FORMATS: Mapping[str, Callable[..., str]] = _Formats()

__all__ = ["FORMATS"]

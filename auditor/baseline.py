"""Baselines: record today's findings once, then report only the new ones.

A finding's fingerprint is its rule, its file and the source of the lines it flags with all
whitespace removed, never its line number, so an edit above a finding, or reformatting it,
does not bring it back. When the same code appears several times in one file (two identical
`requests.get(url)` lines), the baseline keeps a count per fingerprint: the first N occurrences
in file order are known, any more are new.

The file is JSON, one entry per finding, sorted, so a baseline reviews well in a pull request.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

from auditor.engine import ScanResult
from auditor.models import Finding

FORMAT = 1
# A finding spanning a whole function is fingerprinted by its beginning only, so an edit deep in
# the body does not make it new; whitespace is dropped so reformatting (black, ruff format) is not.
MAX_LINES = 12
MAX_CHARS = 240
_SPACE = re.compile(r"\s+")
_OWN_COMMENT = re.compile(r"#\s*prodready:.*$")
_MAGIC_COMMA = re.compile(r",([)\]}])")  # formatters add or drop it when they split a call


class BaselineError(Exception):
    """The baseline file is missing or not one of ours: one line for the user."""


def normalised_lines(source_lines: list[str], finding: Finding) -> str:
    end = min(finding.end_line, finding.line + MAX_LINES - 1)
    flagged = source_lines[finding.line - 1 : end]
    text = "".join(_SPACE.sub("", _OWN_COMMENT.sub("", line)) for line in flagged)
    return _MAGIC_COMMA.sub(r"\1", text)[:MAX_CHARS]


def fingerprint(finding: Finding, source_lines: list[str]) -> str:
    text = "\0".join((finding.rule, finding.path, normalised_lines(source_lines, finding)))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def fingerprinted(result: ScanResult) -> list[tuple[Finding, str]]:
    """Every finding of the scan with its fingerprint, in report order."""
    lines: dict[str, list[str]] = {}
    out = []
    for finding in result.findings:
        if finding.path not in lines:
            lines[finding.path] = result.index.source(finding.path).splitlines()
        out.append((finding, fingerprint(finding, lines[finding.path])))
    return out


def write_baseline(result: ScanResult, path: str | Path) -> int:
    """Record the scan's findings in `path`; returns how many."""
    entries = [
        {"fingerprint": fp, "rule": f.rule, "path": f.path, "line": f.line, "message": f.message}
        for f, fp in sorted(fingerprinted(result), key=lambda pair: (pair[0].path, pair[0].line, pair[0].rule))
    ]
    document = {"version": FORMAT, "tool": "prodready", "findings": entries}
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return len(entries)


def load_baseline(path: str | Path) -> Counter[str]:
    """Fingerprint -> how many findings with it the baseline accepted."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline file not found: {path} (create it with --write-baseline)") from None
    except (OSError, ValueError) as exc:
        raise BaselineError(f"cannot read baseline {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("tool") != "prodready" or not isinstance(document.get("findings"), list):
        raise BaselineError(f"{path} is not a prodready baseline")
    if document.get("version") != FORMAT:
        raise BaselineError(f"{path}: baseline format {document.get('version')} is not supported (expected {FORMAT})")
    return Counter(entry["fingerprint"] for entry in document["findings"] if isinstance(entry, dict) and "fingerprint" in entry)


def new_findings(result: ScanResult, known: Counter[str]) -> list[Finding]:
    """The findings the baseline does not account for."""
    seen: Counter[str] = Counter()
    fresh = []
    # Occurrences are counted in file order so the extra copy of a duplicated line is the new one.
    for finding, fp in sorted(fingerprinted(result), key=lambda pair: (pair[0].path, pair[0].line, pair[0].col)):
        seen[fp] += 1
        if seen[fp] > known[fp]:
            fresh.append(finding)
    return sorted(fresh, key=Finding.sort_key)


def filter_new(result: ScanResult, baseline_path: str | Path) -> list[Finding]:
    """Findings that are new since the baseline at `baseline_path` (for the CLI and the wizard)."""
    return new_findings(result, load_baseline(baseline_path))

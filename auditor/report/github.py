"""GitHub Actions workflow commands: each finding becomes an annotation on the pull request's diff.

`::error file=app/routes.py,line=12,endLine=20,col=5,title=PR301 unvalidated-request-body::message`
Paths are made relative to the workspace ($GITHUB_WORKSPACE, else the current folder) so the
annotations land on the right file when a subfolder is scanned.
"""

from __future__ import annotations

import os
from pathlib import Path

from auditor.engine import ScanResult
from auditor.models import Finding, Severity

LEVEL = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workspace_prefix(root: Path) -> str:
    """The scanned root relative to the workspace, as a path prefix ('' when it is the workspace)."""
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or Path.cwd()).resolve()
    try:
        relative = root.resolve().relative_to(workspace)
    except ValueError:
        return ""  # scanned outside the workspace: paths stay relative to the scanned root
    return "" if str(relative) == "." else relative.as_posix() + "/"


def annotation(finding: Finding, prefix: str, fixme_reason: str | None) -> str:
    title = f"{finding.rule} {finding.name}"
    message = finding.message
    if fixme_reason is not None:
        title += " (known debt)"
        message += f" [fixme: {fixme_reason}]" if fixme_reason else " [fixme]"
    props = {
        "file": prefix + finding.path,
        "line": str(finding.line),
        "endLine": str(finding.end_line),
        "col": str(finding.col + 1),
        "title": title,
    }
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in props.items())
    return f"::{LEVEL[finding.severity]} {rendered}::{escape_data(message)}"


def render_github(result: ScanResult, **_: object) -> str:
    prefix = workspace_prefix(result.root)
    lines = []
    for finding in result.findings:
        fixme = result.fixme.get(finding)
        lines.append(annotation(finding, prefix, fixme.reason if fixme else None))
    for diag in result.diagnostics:
        where = f"file={escape_property(prefix + diag.path)}," if diag.path != "." else ""
        lines.append(f"::warning {where}title=prodready {diag.kind}::{escape_data(diag.message)}")
    from auditor.scoring import audit_gap

    gap = audit_gap(result)
    if gap is not None:
        lines.append(f"::warning title=prodready {gap[0]}::{escape_data(gap[1])}")
    known = sum(1 for f in result.findings if f in result.fixme)
    lines.append(
        f"prodready: {len(result.findings)} findings in {result.files} files"
        f" ({known} known debt, {len(result.suppressed)} suppressed)"
    )
    return "\n".join(lines)

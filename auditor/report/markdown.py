"""Markdown report for pull-request comments and CI summaries."""

from __future__ import annotations

from auditor.engine import ScanResult
from auditor.scoring import audit_gap, step_status


def render_markdown(result: ScanResult, **_: object) -> str:
    status = step_status(result)
    gap = audit_gap(result)
    out = ["# prodready report", "", f"`{result.root}` — {result.files} files, {len(result.findings)} findings", ""]
    if gap is not None:
        out += [f"**{gap[1][0].upper()}{gap[1][1:]}.** The five steps review a FastAPI or Flask backend, so no readiness scores are given.", ""]
    out += ["| step | score | findings |", "| --- | ---: | ---: |"]
    for step, entry in status.items():
        score = entry["score"] if "score" in entry else "—" if entry["checked"] else "not checked"
        out.append(f"| {step.number}. {step.title} | {score} | {entry['findings']} |")
    for step, findings in result.by_step().items():
        if not findings:
            continue
        out += ["", f"## {step.number}. {step.title}", "", "| severity | rule | location | message |", "| --- | --- | --- | --- |"]
        for f in findings:
            message = f.message.replace("|", "\\|")
            if f in result.fixme:
                reason = result.fixme[f].reason.replace("|", "\\|")
                message += f" **(known debt{': ' + reason if reason else ''})**"
            out.append(f"| {f.severity.value} | `{f.rule}` {f.name} | `{f.path}:{f.line}` | {message} |")
    if result.suppressed:
        out += ["", "## Suppressed in the code", "", "| rule | location | reason |", "| --- | --- | --- |"]
        for f, suppression in result.suppressed:
            reason = (suppression.reason or "(no reason given)").replace("|", "\\|")
            out.append(f"| `{f.rule}` {f.name} | `{f.path}:{f.line}` | {reason} |")
    if result.diagnostics:
        out += ["", "## Files not analysed", ""] + [f"- `{d.path}`: {d.message}" for d in result.diagnostics]
    return "\n".join(out) + "\n"

"""Markdown report for pull-request comments and CI summaries."""

from __future__ import annotations

from auditor.engine import ScanResult


def render_markdown(result: ScanResult, **_: object) -> str:
    scores = result.scores()
    out = ["# prodready report", "", f"`{result.root}` — {result.files} files, {len(result.findings)} findings", ""]
    out += ["| step | score | findings |", "| --- | ---: | ---: |"]
    for step, entry in scores.items():
        out.append(f"| {step.number}. {step.title} | {entry['score']} | {entry['findings']} |")
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

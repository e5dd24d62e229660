"""Console report: findings grouped by the five steps, a score per step, then file problems."""

from __future__ import annotations

from auditor.engine import ScanResult
from auditor.models import Severity, Step
from auditor.scoring import audit_gap, not_scored_reason, step_status

MARK = {Severity.HIGH: "HIGH", Severity.MEDIUM: "MED ", Severity.LOW: "LOW "}


def render_text(result: ScanResult, color: bool = False, **_: object) -> str:
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    sev_color = {Severity.HIGH: "31;1", Severity.MEDIUM: "33", Severity.LOW: "36"}
    lines: list[str] = []
    status = step_status(result)
    gap = audit_gap(result)
    for step, findings in result.by_step().items():
        entry = status[step]
        count = f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"
        if "score" in entry:
            header = f"{step.number}. {step.title} — score {entry['score']}/100, {count}"
        elif not entry["checked"]:
            header = f"{step.number}. {step.title} — {not_scored_reason(result, step, status)}"
        else:
            header = f"{step.number}. {step.title} — {count}"
        if gap and not findings and entry["checked"]:
            continue  # no app: only the steps that found something are worth a line
        lines.append(paint(header, "1"))
        for finding in findings:
            sev = paint(MARK[finding.severity], sev_color[finding.severity])
            fix = f" [fix: {finding.fix_safety.value}]" if finding.fixable and finding.fix_safety else ""
            debt = result.fixme.get(finding)
            tag = f" (known debt{': ' + debt.reason if debt.reason else ''})" if debt else ""
            lines.append(f"  {sev} {finding.rule} {finding.path}:{finding.line}:{finding.col + 1} {finding.message}{fix}{tag}")
        lines.append("")
    if result.diagnostics:
        lines.append(paint(f"Files with problems ({len(result.diagnostics)}), scanned around:", "1"))
        for diag in result.diagnostics:
            lines.append(f"  {diag.path}: {diag.message}")
        lines.append("")
    if gap is not None:
        lines.append(paint(f"{gap[1][0].upper()}{gap[1][1:]}.", "1"))
        tail = "; the findings above still apply." if result.findings else ": nothing to audit."
        lines.append(f"The five steps review a FastAPI or Flask backend, so no readiness scores are given{tail}")
        lines.append("")
    suppressed = f", {len(result.suppressed)} suppressed" if result.suppressed else ""
    lines.append(
        f"{len(result.findings)} finding{'s' if len(result.findings) != 1 else ''} in {result.files} files"
        f"{suppressed} ({result.duration:.2f}s). `prodready explain CODE` explains a rule; `prodready fix` shows the fixes."
    )
    return "\n".join(lines)


def step_line(step: Step, score: int) -> str:
    return f"{step.title}: {score}/100"

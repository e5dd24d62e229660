"""Console report: findings grouped by the five steps, a score per step, then file problems."""

from __future__ import annotations

from auditor.engine import ScanResult
from auditor.models import Severity, Step

MARK = {Severity.HIGH: "HIGH", Severity.MEDIUM: "MED ", Severity.LOW: "LOW "}


def render_text(result: ScanResult, color: bool = False, **_: object) -> str:
    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    sev_color = {Severity.HIGH: "31;1", Severity.MEDIUM: "33", Severity.LOW: "36"}
    lines: list[str] = []
    scores = result.scores()
    for step, findings in result.by_step().items():
        score = scores[step]["score"]
        header = f"{step.number}. {step.title} — score {score}/100, {len(findings)} finding{'s' if len(findings) != 1 else ''}"
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
    suppressed = f", {len(result.suppressed)} suppressed" if result.suppressed else ""
    lines.append(
        f"{len(result.findings)} finding{'s' if len(result.findings) != 1 else ''} in {result.files} files"
        f"{suppressed} ({result.duration:.2f}s). `prodready explain CODE` explains a rule; `prodready fix` shows the fixes."
    )
    return "\n".join(lines)


def step_line(step: Step, score: int) -> str:
    return f"{step.title}: {score}/100"

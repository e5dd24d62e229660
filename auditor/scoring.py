"""Readiness score per step: 100 minus a weight per finding, never below 0."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.models import Finding, Severity, Step

WEIGHTS = {Severity.HIGH: 15, Severity.MEDIUM: 7, Severity.LOW: 2}


def step_scores(findings: Iterable[Finding]) -> dict[Step, dict[str, int]]:
    table = {step: {"findings": 0, "score": 100} for step in Step}
    for finding in findings:
        entry = table[finding.step]
        entry["findings"] += 1
        entry["score"] = max(0, entry["score"] - WEIGHTS[finding.severity])
    return table

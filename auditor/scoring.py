"""Readiness score per step, 0-100.

Each finding adds a weight by severity; the score is 100 * K / (K + weight). It never hits a
floor, so fixing findings always moves it, even on a step that starts with dozens of gaps
(one high finding gives 80, one low 97).
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.models import Finding, Severity, Step

WEIGHTS = {Severity.HIGH: 15, Severity.MEDIUM: 7, Severity.LOW: 2}
K = 60


def score(weight: int) -> int:
    return round(100 * K / (K + weight))


def step_scores(findings: Iterable[Finding]) -> dict[Step, dict[str, int]]:
    weights = {step: 0 for step in Step}
    counts = {step: 0 for step in Step}
    for finding in findings:
        weights[finding.step] += WEIGHTS[finding.severity]
        counts[finding.step] += 1
    return {step: {"findings": counts[step], "score": score(weights[step])} for step in Step}

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


# -- what a report may claim -------------------------------------------------------------------
# A score says "this step was reviewed and this is what was found". A step whose rules were all
# left out (--select PR4, ignore = ["PR1"]) was not reviewed, and a folder without a web app has
# nothing the steps could review: neither gets a score, so neither reads as "100/100 ready".

NO_PYTHON_FILES = "no-python-files"
NO_WEB_APP = "no-web-app"


def checked_steps(config) -> set[Step]:
    """Steps with at least one rule the configuration (and --select/--ignore) leaves enabled."""
    from auditor.rules.base import all_rules

    return {cls.step() for code, cls in all_rules().items() if config.rule_enabled(code)}


def audit_gap(result) -> tuple[str, str] | None:
    """(kind, message) when the scanned folder has nothing the steps review, else None."""
    where = str(result.root)
    if result.files == 0:
        return NO_PYTHON_FILES, f"no Python files under {where}"
    if not result.index.frameworks:
        files = f"{result.files} Python file{'s' if result.files != 1 else ''}"
        return NO_WEB_APP, f"{files}, no FastAPI or Flask app found under {where}"
    return None


def step_status(result) -> dict[Step, dict]:
    """Per step: `findings`, `checked` and, only when the step was checked and there is a web app
    to audit, `score`."""
    scored = audit_gap(result) is None
    checked = checked_steps(result.config)
    status = {}
    for step, entry in step_scores(result.findings).items():
        row = {"findings": entry["findings"]}
        if scored and step in checked:
            row["score"] = entry["score"]
        row["checked"] = step in checked
        status[step] = row
    return status


def not_scored_reason(result, step: Step, status: dict[Step, dict]) -> str:
    """Why `step` has no score, in a few words (for the reports)."""
    if not status[step]["checked"]:
        return "not checked (no rule of this step selected)"
    gap = audit_gap(result)
    return "no score (no web app to audit)" if gap and gap[0] == NO_WEB_APP else "no score (nothing to audit)"

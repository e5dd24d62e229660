"""Shared by the fixer tests: findings made by hand (for rules still being written), codemod
targets, and projects written to a temporary folder."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

from auditor.models import STEP_BY_HUNDRED, Category, Confidence, Finding, Severity
from fixers.cst import Target
from fixers.registry import safety_for

CATEGORY_BY_CODE = {
    "PR230": Category.CONNECTION_POOL,
    "PR231": Category.CONNECTION_POOL,
    "PR301": Category.VALIDATION,
    "PR340": Category.ASYNC_ERRORS,
    "PR341": Category.ASYNC_ERRORS,
    "PR342": Category.ASYNC_ERRORS,
    "PR344": Category.ASYNC_ERRORS,
    "PR501": Category.LOGGING,
    "PR502": Category.LOGGING,
    "PR510": Category.LOGGING,
}


def finding(rule: str, path: str, line: int, col: int = 0) -> Finding:
    """A finding as a rule would report it (the fixers only read rule, path, line and col)."""
    safety = safety_for(rule)
    return Finding(
        rule=rule,
        name=rule.lower(),
        step=STEP_BY_HUNDRED[int(rule[2])],
        category=CATEGORY_BY_CODE.get(rule, Category.LOGGING),
        severity=Severity.MEDIUM,
        confidence=Confidence.HIGH,
        path=path,
        line=line,
        col=col,
        end_line=line,
        message="test finding",
        fixable=safety is not None,
        fix_safety=safety,
    )


def at(source: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """(line, column in bytes) of the n-th occurrence of needle in source (dedented like the tests)."""
    source = textwrap.dedent(source).lstrip("\n")
    start = -1
    for _ in range(occurrence):
        start = source.index(needle, start + 1)
    line = source.count("\n", 0, start) + 1
    col = len(source[source.rfind("\n", 0, start) + 1 : start].encode())
    return line, col


def targets(source: str, rule: str, *needles: str) -> list[Target]:
    """Codemod targets at each needle (the first occurrence of each)."""
    found = []
    for needle in needles:
        line, col = at(source, needle)
        found.append(Target(finding(rule, "app.py", line, col), line, col))
    return found


def digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root (.prodready, .git and __pycache__ left out)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not {".prodready", ".git", "__pycache__"} & set(p.parts)
    }

"""What a rule is, and the registry every face of prodready reads.

A rule is one small class, like a Ruff rule or a Fixit lint rule: its code, name, category,
severity and confidence; a doc in Ruff's sections; VALID and INVALID example snippets that a
single parametrized test runs for every registered rule.

Two kinds:
- `ModuleRule`: looks at one module at a time through `visit_<Node>` methods. These run in
  the parsing workers during the one shared walk of the tree.
- `ProjectRule`: looks at the whole `ProjectIndex` (routes, models, engines...) once.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from typing import Any, ClassVar

from auditor.models import (
    CATEGORIES_BY_STEP,
    STEP_BY_HUNDRED,
    Category,
    Confidence,
    Finding,
    FixSafety,
    Severity,
    Step,
)
from auditor.walk import ModuleContext

Example = str | dict[str, str]  # one module's source, or {relative path: source} for a project


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[Category]
    severity: ClassVar[Severity] = Severity.MEDIUM
    confidence: ClassVar[Confidence] = Confidence.HIGH
    # Plain words for the wizard: what goes wrong for real users, and what the fix changes.
    impact: ClassVar[str] = ""
    fix_summary: ClassVar[str] = ""
    doc: ClassVar[str] = ""  # Ruff sections: What it does / Why is this bad in production / Example / Use instead / Fix safety
    VALID: ClassVar[list[Example]] = []
    INVALID: ClassVar[list[Example]] = []
    # "request": findings count only on code a route or background job reaches, not on tests,
    # CLI commands, scripts, clients in the repo or dead modules (auditor/index/roles.py).
    scope: ClassVar[str | None] = None

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options or {}

    @classmethod
    def fix(cls) -> FixSafety | None:
        """The safety of the codemod that answers this rule, from the fixers' registry."""
        return fix_safety_for(cls.code)

    @classmethod
    def step(cls) -> Step:
        return STEP_BY_HUNDRED[int(cls.code[2])]

    def make_finding(
        self,
        path: str,
        line: int,
        col: int,
        end_line: int,
        message: str,
        severity: Severity | None = None,
        confidence: Confidence | None = None,
    ) -> Finding:
        return Finding(
            rule=self.code,
            name=self.name,
            step=self.step(),
            category=self.category,
            severity=severity or self.severity,
            confidence=confidence or self.confidence,
            path=path,
            line=line,
            col=col,
            end_line=max(end_line, line),
            message=message,
            fixable=self.fix() is not None,
            fix_safety=self.fix(),
        )


class ModuleRule(Rule):
    """Sees one module; reports through `self.report(ctx, node, message)`."""

    def begin(self, ctx: ModuleContext) -> None:
        """Called before the walk of each module (reset per-module state here)."""

    def end(self, ctx: ModuleContext) -> None:
        """Called after the walk of each module."""

    def report(self, ctx: ModuleContext, node: ast.AST, message: str, **kwargs: Any) -> None:
        line = getattr(node, "lineno", 1)
        finding = self.make_finding(
            ctx.relpath,
            line,
            getattr(node, "col_offset", 0),
            getattr(node, "end_lineno", None) or line,
            message,
            **kwargs,
        )
        ctx.findings.append(finding)


class ProjectRule(Rule):
    """Sees the whole project index once."""

    def check(self, index: Any) -> Iterable[Finding]:  # index: auditor.index.ProjectIndex
        raise NotImplementedError

    def at(self, path: str, node: Any, message: str, **kwargs: Any) -> Finding:
        """A finding at an index fact or ast node that has line/col/end_line (or lineno/...)."""
        line = getattr(node, "line", None) or getattr(node, "lineno", 1)
        return self.make_finding(
            path,
            line,
            getattr(node, "col", None) or getattr(node, "col_offset", 0) or 0,
            getattr(node, "end_line", None) or getattr(node, "end_lineno", None) or line,
            message,
            **kwargs,
        )


REGISTRY: dict[str, type[Rule]] = {}


def fix_safety_for(code: str) -> FixSafety | None:
    """Fixers declare which rules they answer; the auditor only asks (fixers never import textual)."""
    try:
        from fixers.registry import safety_for
    except ImportError:  # the fix engine is not there (yet): nothing is fixable
        return None
    return safety_for(code)


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator adding a rule to the registry, checking its declaration is complete."""
    code = cls.code
    if code in REGISTRY:
        raise ValueError(f"rule code {code} registered twice")
    if not (len(code) == 5 and code.startswith("PR") and code[2:].isdigit() and int(code[2]) in STEP_BY_HUNDRED):
        raise ValueError(f"bad rule code {code!r}")
    if cls.category not in CATEGORIES_BY_STEP[cls.step()]:
        raise ValueError(f"{code}: category {cls.category.value} does not belong to step {cls.step().value}")
    for section in ("What it does", "Why is this bad in production", "Example", "Use instead", "Fix safety"):
        if f"## {section}" not in cls.doc:
            raise ValueError(f"{code}: doc lacks the '## {section}' section")
    if not cls.VALID or not cls.INVALID:
        raise ValueError(f"{code}: needs VALID and INVALID examples")
    if not cls.impact:
        raise ValueError(f"{code}: needs an `impact` sentence for the wizard")
    REGISTRY[code] = cls
    return cls


def all_rules() -> dict[str, type[Rule]]:
    import auditor.rules  # noqa: F401  (importing the package registers every rule module)

    return dict(sorted(REGISTRY.items()))


def resolve_codes(codes: list[str]) -> list[str]:
    """Check codes/prefixes given on the command line; raise ValueError naming an unknown one."""
    known = all_rules()
    for code in codes:
        code = code.upper()
        if not any(k.startswith(code) for k in known):
            raise ValueError(f"unknown rule code {code!r} (see `prodready rules`)")
    return [c.upper() for c in codes]

"""Request-time limits: a max_length on the string fields of request models (PR302), and
handlers that block the event loop run in FastAPI's thread pool instead (PR343)."""

from __future__ import annotations

import re

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor

from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, fix_with
from fixers.rewrite import code_of, set_keyword, transform

FIELDS = re.compile(r"string fields? (.+?) ha(?:s|ve) no max_length")
LONG_TEXT = re.compile(r"(description|message|body|text|content|notes?|comment|bio|details?)$", re.I)


def max_length(field: str) -> int:
    if "email" in field.lower():
        return 320
    if "password" in field.lower():
        return 128
    if LONG_TEXT.search(field):
        return 10_000
    return 255


class StringLimits(FixCommand):
    """`title: str` -> `title: str = Field(max_length=255)` in the request model a finding names."""

    ONLY_WHERE_TARGETED = True

    def __init__(self, context, targets=()) -> None:
        super().__init__(context, targets)
        self.wanted: set[str] = set()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        targets = [] if self.untargeted(node) else self.targets_at(node) or [t for t in self.targets if t.finding not in self.outcomes and t.line == self.span(node).start.line]
        self.current = targets
        self.wanted = set()
        for target in targets:
            match = FIELDS.search(target.finding.message)
            if match:
                self.wanted |= {name.strip() for name in match.group(1).split(",")}

    def leave_AnnAssign(self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign) -> cst.AnnAssign:
        if not self.wanted or not isinstance(original_node.target, cst.Name) or original_node.target.value not in self.wanted:
            return updated_node
        name = original_node.target.value
        limit = str(max_length(name))
        value = updated_node.value
        AddImportsVisitor.add_needed_import(self.context, "pydantic", "Field")
        if value is None:
            new = cst.parse_expression(f"Field(max_length={limit})")
        elif isinstance(value, cst.Call) and code_of(value.func).endswith("Field"):
            new = set_keyword(value, "max_length", limit)
        else:
            new = cst.parse_expression(f"Field({code_of(value)}, max_length={limit})")
        return updated_node.with_changes(value=new, equal=cst.AssignEqual())

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        if self.wanted:
            self.fixed(self.current)
        self.wanted = set()
        return updated_node


class NewModelLimits(StringLimits):
    """The same limits on request models an earlier fix of this plan generated (they were not
    there to be reported at the scan)."""

    ONLY_WHERE_TARGETED = False  # it has no targets: the classes are named

    def __init__(self, context, targets=(), classes: frozenset = frozenset()) -> None:
        super().__init__(context, targets)
        self.classes = classes

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.current = []
        self.wanted = set()
        if node.name.value in self.classes:
            for statement in node.body.body:
                small = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and _unlimited_str(small):
                    self.wanted.add(small.target.value)


def _unlimited_str(assign: cst.AnnAssign) -> bool:
    annotation = code_of(assign.annotation.annotation).replace(" ", "")
    if annotation not in {"str", "Optional[str]", "str|None"}:
        return False
    return assign.value is None or "max_length" not in code_of(assign.value)


class StringLimitsFixer(Fixer):
    def fix(self, findings, ws) -> Outcomes:
        outcomes = super().fix(findings, ws)
        for state in ws.changed():
            if state.relpath.endswith(".py") and state.text is not None:
                new = set(re.findall(r"^class (\w+)\(BaseModel\):", state.text, re.M)) - set(re.findall(r"^class (\w+)\(", state.original or "", re.M))
                if new:
                    self.guarded([], ws, lambda state=state, new=new: transform(ws, state.relpath, NewModelLimits, [], classes=frozenset(new)) and {})
        return outcomes

    def fix_file(self, relpath: str, findings: list[Finding], ws) -> Outcomes:
        return fix_with(StringLimits, relpath, findings, ws)


# -- PR343 --------------------------------------------------------------------------------------

LOOP_ONLY = re.compile(r"\b(asyncio\.(create_task|ensure_future|get_running_loop|gather|wait_for)|create_task\()")


class ThreadPoolHandler(FixCommand):
    """`async def` route handler with blocking calls and nothing to await -> `def`: FastAPI runs
    plain handlers in its thread pool, so the blocking calls no longer stop the event loop."""

    ONLY_WHERE_TARGETED = True

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if self.untargeted(original_node):
            return updated_node
        span = self.span(original_node)
        targets = [t for t in self.targets if t.finding not in self.outcomes and span.start.line <= t.line <= span.end.line]
        if not targets or original_node.asynchronous is None:
            return updated_node
        body = code_of(original_node.body)
        if re.search(r"\bawait\b|\basync\s+(for|with)\b", body):
            self.skipped(targets, "the handler also awaits: move the blocking calls into `await run_in_threadpool(...)` by hand")
            return updated_node
        if LOOP_ONLY.search(body):
            self.skipped(targets, "the handler starts asyncio tasks, which need the event loop: keep it async and move the blocking calls to a thread")
            return updated_node
        if not original_node.decorators:
            self.skipped(targets, "not a route handler: its callers await it; run the blocking calls with asyncio.to_thread by hand")
            return updated_node
        self.fixed(targets)
        return updated_node.with_changes(asynchronous=None)


class ThreadPoolFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws) -> Outcomes:
        return fix_with(ThreadPoolHandler, relpath, findings, ws)

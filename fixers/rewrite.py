"""Small libcst helpers shared by the step codemods: keyword arguments, function parameters,
statements inside a handler, and finding the route a finding is about.

Findings carry scan-time lines and earlier fixes may have moved them, so route-level fixes find
their handler by qualified name in the current text rather than by line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst
import libcst.matchers as m

from auditor.models import Finding
from fixers.cst import FixCommand, Target, code_of, dotted_name, run_codemod
from fixers.cst_dispatch import QuickVisitor
from fixers.pipeline.workspace import Skip, Workspace

NO_SPACE = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


# -- calls ------------------------------------------------------------------------------------------


def keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def set_keyword(call: cst.Call, name: str, value: cst.BaseExpression | str) -> cst.Call:
    """The call with `name=value` (replacing an existing value), keeping the call's layout."""
    if isinstance(value, str):
        value = cst.parse_expression(value)
    args = list(call.args)
    for index, arg in enumerate(args):
        if arg.keyword is not None and arg.keyword.value == name:
            args[index] = arg.with_changes(value=value)
            return call.with_changes(args=args)
    new = cst.Arg(value=value, keyword=cst.Name(name), equal=NO_SPACE)
    return call.with_changes(args=append_arg(args, new))


def append_arg(args: Sequence[cst.Arg], new: cst.Arg) -> list[cst.Arg]:
    """Append an argument before any `**kwargs`, keeping the call's layout."""
    args = list(args)
    position = next((i for i, a in enumerate(args) if a.star == "**"), len(args))
    if position == len(args):
        return append_item(args, new)
    return [*append_item(args[:position], new)[:-1], append_item(args[:position], new)[-1].with_changes(comma=COMMA), *args[position:]]


def call_name(node: cst.CSTNode) -> str:
    return dotted_name(node.func) or "" if isinstance(node, cst.Call) else ""


def tail(name: str) -> str:
    return name.rpartition(".")[2]


# -- function parameters ----------------------------------------------------------------------------


def param_names(function: cst.FunctionDef) -> set[str]:
    p = function.params
    names = {x.name.value for x in [*p.posonly_params, *p.params, *p.kwonly_params]}
    for star in (p.star_arg, p.star_kwarg):
        if isinstance(star, cst.Param):
            names.add(star.name.value)
    return names


def add_param(function: cst.FunctionDef, code: str, first: bool = False) -> cst.FunctionDef:
    """Add `name: T = default` as a parameter: after the regular parameters (before `*args`
    makes it keyword-only, which FastAPI does not mind), or first when `first` is set."""
    new = cst.parse_statement(f"def _({code}): pass").params.params[0]
    params = function.params
    if first:
        rest = list(params.params)
        return function.with_changes(params=params.with_changes(params=[new.with_changes(comma=COMMA), *rest] if rest else [new]))
    if isinstance(params.star_arg, cst.Param) or params.kwonly_params:
        kwonly = list(params.kwonly_params)
        if kwonly:
            return function.with_changes(params=params.with_changes(kwonly_params=append_item(kwonly, new)))
        return function.with_changes(params=params.with_changes(kwonly_params=[new]))
    regular = list(params.params)
    if isinstance(params.star_kwarg, cst.Param) and regular:
        # `def f(a, **kw)`: a comma already follows the last regular parameter.
        return function.with_changes(params=params.with_changes(params=[*regular, new.with_changes(comma=regular[-1].comma)]))
    return function.with_changes(params=params.with_changes(params=append_item(regular, new)))


def append_item(items: list, new):
    """Append to params/args/elements, keeping the layout (one per line with a trailing comma stays so)."""
    items = list(items)
    if not items:
        return [new]
    last = items[-1]
    if not isinstance(last.comma, cst.Comma):
        return [*items[:-1], last.with_changes(comma=COMMA), new]
    if len(items) > 1 and isinstance(items[-2].comma, cst.Comma):
        between = items[-2].comma
    else:
        between = COMMA
    return [*items[:-1], last.with_changes(comma=between), new.with_changes(comma=last.comma)]


def param_default(function: cst.FunctionDef, name: str) -> cst.BaseExpression | None:
    for param in [*function.params.params, *function.params.kwonly_params]:
        if param.name.value == name:
            return param.default
    return None


# -- statements -------------------------------------------------------------------------------------


def statements(code: str) -> list[cst.BaseStatement]:
    return list(cst.parse_module(code).body)


def body_with(function: cst.FunctionDef, index: int, new: Sequence[cst.BaseStatement]) -> cst.FunctionDef:
    """The function with statements inserted at position `index` of its body."""
    body = list(function.body.body)
    return function.with_changes(body=function.body.with_changes(body=[*body[:index], *new, *body[index:]]))


def first_statement_index(function: cst.FunctionDef) -> int:
    """Where code goes at the start of a function: after its docstring."""
    body = function.body.body
    if body and m.matches(body[0], m.SimpleStatementLine(body=[m.Expr(m.SimpleString() | m.ConcatenatedString())])):
        return 1
    return 0


def decorator_names(function: cst.FunctionDef) -> list[str]:
    names = []
    for decorator in function.decorators:
        node = decorator.decorator
        names.append(dotted_name(node.func if isinstance(node, cst.Call) else node) or "")
    return names


# -- routes -----------------------------------------------------------------------------------------


def route_at(ws: Workspace, finding: Finding):
    """The route of the scan the finding points at (its decorator or handler line)."""
    index = ws.index
    if index is None:
        raise Skip("no project index to find the route in")
    for route in index.routes:
        if route.relpath == finding.path and (route.span.line == finding.line or route.handler.span.line == finding.line):
            return route
    for route in index.routes:  # a finding inside the handler
        handler = route.handler.span
        if route.relpath == finding.path and handler.line <= finding.line <= handler.end_line:
            return route
    raise Skip("the route this finding is about was not found")


class FunctionRewrite(FixCommand):
    """Rewrite functions found by qualified name: `edits` maps qualname -> (targets, callback).
    The callback returns the new function or raises Skip (that target is skipped with its reason)."""

    def __init__(self, context, targets: Sequence[Target] = (), edits: dict | None = None) -> None:
        super().__init__(context, targets)
        self.edits: dict[str, tuple[list[Target], Callable[[cst.FunctionDef], cst.FunctionDef]]] = edits or {}
        self.stack: list[str] = []

    def walks(self, statement: cst.CSTNode) -> bool:
        """Not into other classes and functions than those an edit's qualified name starts
        with, nor into simple statements (a function defined under `if` or `try` is walked to)."""
        if isinstance(statement, (cst.ClassDef, cst.FunctionDef)):
            return any(q.partition(".")[0] == statement.name.value for q in self.edits)
        return not isinstance(statement, cst.SimpleStatementLine)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.stack.append(node.name.value)

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.stack.pop()
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        qualname = ".".join(self.stack)
        self.stack.pop()
        if qualname not in self.edits:
            return updated_node
        targets, callback = self.edits.pop(qualname)
        return self.attempt(targets, updated_node, callback)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        for targets, _ in self.edits.values():
            self.skipped(targets, "the handler was not found in the current text")
        return super().leave_Module(original_node, updated_node)


def names_used(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class Collect(QuickVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.add(name.value)

    node.visit(Collect())
    return found


def find_calls(node: cst.CSTNode, predicate: Callable[[cst.Call], bool]) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Collect(QuickVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            if predicate(call):
                found.append(call)

    node.visit(Collect())
    return found


def replace_node(tree: cst.CSTNode, old: cst.CSTNode, new: cst.CSTNode) -> cst.CSTNode:
    return tree.deep_replace(old, new)


def transform(ws: Workspace, path: str, command_cls: type[FixCommand], targets: Sequence[Target] = (), **kwargs) -> FixCommand:
    """Run a codemod over the current text of relpath and keep whatever it changed (for codemods
    whose changes are not tied to targets)."""
    return run_codemod(ws, path, command_cls, targets, keep_any_change=True, **kwargs)


def with_extra_arg(call: cst.Call, new: cst.BaseExpression) -> cst.Call:
    """`f(a)` -> `f(a, new)`; when the arguments sit on their own lines, so does the new one."""
    args = list(call.args)
    last = args[-1]
    after = last.whitespace_after_arg
    if "\n" in code_of(after):
        indent = call.whitespace_before_args
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=indent), whitespace_after_arg=cst.SimpleWhitespace(""))
        return call.with_changes(args=[*args, cst.Arg(new, whitespace_after_arg=after)])
    args[-1] = last.with_changes(comma=COMMA)
    return call.with_changes(args=[*args, cst.Arg(new)])

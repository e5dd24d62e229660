"""Bound parameters instead of SQL built from strings (PR310).

`"... WHERE email = '%s'" % email`, `"... WHERE id = " + id` and f-strings become a literal
statement with placeholders (`?` for sqlite3, `%s` for psycopg/MySQL drivers, `:name` inside
SQLAlchemy's `text()`) and the values passed separately, so the driver quotes them. A quoted
value keeps its surrounding text (`'%{q}%'` becomes one parameter `f"%{q}%"`). Values in places
SQL cannot bind (table or column names, ORDER BY) are left alone with the reason.
"""

from __future__ import annotations

import json
import re

import libcst as cst

from auditor.models import Finding
from fixers.auth import paramstyle
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, dotted_name, locate
from fixers.rewrite import code_of, tail, transform, with_extra_arg
from fixers.pipeline.workspace import Skip, Workspace

FORMAT_SPEC = re.compile(r"%(\(\w+\))?[sdifr]|%%")
BINDABLE_BEFORE = re.compile(r"(=|<|>|<=|>=|<>|!=|\blike|\bilike|\bin\s*\(|\bbetween|\band|\blimit|\boffset|\bis|\bvalues\s*\(|,|\()\s*$", re.I)
IDENTIFIER_CONTEXT = re.compile(r"\b(order\s+by|group\s+by|from|join|select|update|into|table)\b[^()=<>]*$", re.I)
QUOTES = "'"
Part = str | cst.BaseExpression


def flatten(expr: cst.BaseExpression) -> list[Part] | None:
    """The statement as literal text and expressions, in order; None when it is not built from
    literals, `+`, `%` and f-strings."""
    if isinstance(expr, cst.SimpleString):
        value = expr.evaluated_value
        return [value] if isinstance(value, str) else None
    if isinstance(expr, cst.ConcatenatedString):
        left, right = flatten(expr.left), flatten(expr.right)
        return left + right if left is not None and right is not None else None
    if isinstance(expr, cst.FormattedString):
        parts: list[Part] = []
        for part in expr.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value.replace("{{", "{").replace("}}", "}"))
            elif part.conversion is None and part.format_spec is None:
                parts.append(part.expression)
            else:
                return None
        return parts
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
        left, right = flatten(expr.left), flatten(expr.right)
        if left is None and right is None:
            return None
        return (left if left is not None else [expr.left]) + (right if right is not None else [expr.right])
    if isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Modulo) and isinstance(expr.left, cst.SimpleString):
        template = expr.left.evaluated_value
        values = [e.value for e in expr.right.elements] if isinstance(expr.right, cst.Tuple) else [expr.right]
        if not isinstance(template, str) or isinstance(expr.right, cst.Dict):
            return None
        parts = []
        position = 0
        for match in FORMAT_SPEC.finditer(template):
            parts.append(template[position : match.start()])
            if match.group(0) == "%%":
                parts.append("%")
            else:
                if match.group(1) or not values:
                    return None
                parts.append(values.pop(0))
            position = match.end()
        parts.append(template[position:])
        return parts if not values else None
    return None


def bind(parts: list[Part], style: str) -> tuple[str, list[tuple[str, str]]]:
    """(SQL with placeholders, [(parameter name, value source)]), or Skip when a value sits where
    SQL cannot take a parameter."""
    queue = list(parts)
    sql = ""
    values: list[tuple[str, str]] = []
    used: set[str] = set()
    while queue:
        part = queue.pop(0)
        if isinstance(part, str):
            sql += part
            continue
        pieces: list[Part] = [part]
        if sql.count(QUOTES) % 2:  # inside '...': the whole quoted text is one parameter
            opening = sql.rindex(QUOTES)
            if sql[opening + 1 :]:
                pieces.insert(0, sql[opening + 1 :])
            sql = sql[:opening]
            while True:
                if not queue:
                    raise Skip("a quote in the SQL is never closed")
                following = queue.pop(0)
                if isinstance(following, str) and QUOTES in following:
                    head, _, rest = following.partition(QUOTES)
                    if head:
                        pieces.append(head)
                    queue.insert(0, rest)
                    break
                pieces.append(following)
        value = _fstring(pieces)
        stripped = sql.rstrip()
        if not BINDABLE_BEFORE.search(stripped) or (IDENTIFIER_CONTEXT.search(sql) and not re.search(r"(=|<|>|\blike|\bin\s*\()\s*$", stripped, re.I)):
            raise Skip(f"`{value}` is placed where SQL cannot take a parameter (a name or ORDER BY): check it against a list of allowed values instead")
        name = _name(pieces, used)
        sql += {"qmark": "?", "format": "%s", "named": f":{name}"}[style]
        values.append((name, value))
    return sql, values


def _fstring(pieces: list[Part]) -> str:
    if len(pieces) == 1 and not isinstance(pieces[0], str):
        return code_of(pieces[0])
    if all(isinstance(p, str) for p in pieces):
        return json.dumps("".join(pieces))
    body = "".join(p.replace("{", "{{").replace("}", "}}").replace('"', '\\"') if isinstance(p, str) else "{" + code_of(p) + "}" for p in pieces)
    return f'f"{body}"'


def _name(pieces: list[Part], used: set[str]) -> str:
    expressions = [p for p in pieces if not isinstance(p, str)]
    base = "p"
    if len(expressions) == 1:
        node = expressions[0]
        if isinstance(node, cst.Name):
            base = node.value
        elif isinstance(node, cst.Subscript) and isinstance(node.slice[0].slice, cst.Index) and isinstance(node.slice[0].slice.value, cst.SimpleString):
            base = re.sub(r"\W", "_", str(node.slice[0].slice.value.evaluated_value))
        elif isinstance(node, cst.Attribute):
            base = node.attr.value
    name, n = base, 2
    while name in used:
        name, n = f"{base}{n}", n + 1
    used.add(name)
    return name


def params_expression(values: list[tuple[str, str]], style: str) -> cst.BaseExpression:
    if style == "named":
        return cst.parse_expression("{" + ", ".join(f"{json.dumps(n)}: {v}" for n, v in values) + "}")
    inner = ", ".join(v for _, v in values)
    return cst.parse_expression(f"({inner},)" if len(values) == 1 else f"({inner})")


class BindParameters(FixCommand):
    """Rewrites each statement a finding points at and passes its values to `execute()`."""

    DESCRIPTION = "Use bound parameters in SQL built from strings."

    def __init__(self, context, targets=(), style: str = "qmark") -> None:
        super().__init__(context, targets)
        self.style = style
        self.pending: dict[str, cst.BaseExpression] = {}  # variable holding a rewritten text() -> its params

    def _targets(self, node: cst.CSTNode) -> list:
        span = self.span(node)
        return [t for t in self.targets if t.finding not in self.outcomes and span.start.line <= t.line <= span.end.line]

    def _rewrite(self, expr: cst.BaseExpression, style: str) -> tuple[cst.BaseExpression, cst.BaseExpression]:
        parts = flatten(expr)
        if parts is None or all(isinstance(p, str) for p in parts):
            raise Skip("the SQL is not built from literals, +, % or an f-string")
        sql, values = bind(list(parts), style)
        return cst.SimpleString(json.dumps(sql)), params_expression(values, style)

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        """`sql = text(f"...")`: the statement is rewritten here, its values go to execute(sql)."""
        value = original_node.value
        if not (isinstance(value, cst.Call) and tail(dotted_name(value.func) or "") == "text" and value.args and len(original_node.targets) == 1):
            return updated_node
        target = original_node.targets[0].target
        targets = self._targets(original_node)
        if not targets or not isinstance(target, cst.Name):
            return updated_node
        try:
            literal, params = self._rewrite(value.args[0].value, "named")
        except Skip as exc:
            self.skipped(targets, str(exc))
            return updated_node
        self.pending[target.value] = (params, targets)
        new_text = updated_node.value.with_changes(args=[updated_node.value.args[0].with_changes(value=literal)])
        return updated_node.with_changes(value=new_text)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = original_node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "execute") or not original_node.args:
            return updated_node
        first = original_node.args[0].value
        if isinstance(first, cst.Name) and first.value in self.pending and len(original_node.args) == 1:
            params, targets = self.pending.pop(first.value)
            self.fixed(targets)
            return with_extra_arg(updated_node, params)
        targets = self._targets(first)
        if not targets:
            return updated_node
        if len(original_node.args) > 1:
            self.skipped(targets, "the statement already takes parameters besides the built string; bind the rest by hand")
            return updated_node
        is_text = isinstance(first, cst.Call) and tail(dotted_name(first.func) or "") == "text" and first.args
        style = "named" if is_text else self.style
        try:
            literal, params = self._rewrite(first.args[0].value if is_text else first, style)
        except Skip as exc:
            self.skipped(targets, str(exc))
            return updated_node
        statement = first.with_changes(args=[first.args[0].with_changes(value=literal)]) if is_text else literal
        self.fixed(targets)
        return with_extra_arg(updated_node.with_changes(args=[updated_node.args[0].with_changes(value=statement)]), params)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        for _, targets in self.pending.values():
            self.skipped(targets, "the statement is run somewhere this fix cannot follow; pass its parameters by hand")
        return super().leave_Module(original_node, updated_node)


class SqlParamsFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        command = transform(ws, relpath, BindParameters, locate(ws, findings), style=paramstyle(ws, relpath))
        outcomes = {f: command.outcomes.get(f, "no SQL statement found at this place any more") for f in findings}
        if all(reason is not None for reason in outcomes.values()):
            raise Skip(next(iter(outcomes.values())))  # nothing fixed: leave the file as it was
        return outcomes

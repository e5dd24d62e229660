"""Pagination for list routes (PR320): bounded `limit`/`offset` parameters, applied to the query.

FastAPI validates them from the signature (`Query(50, ge=1, le=100)`); Flask reads them from
the query string and clamps them. The query gets `.offset(offset).limit(limit)` (ORM, ordered by
id so pages do not overlap) or `LIMIT ... OFFSET ...` (literal SQL with bound parameters).
"""

from __future__ import annotations

import re

import libcst as cst

from auditor.models import Finding
from auditor.rules.querying import data_shape
from auditor.rules.validation import BOUNDING_CALLS
from fixers.auth import AuthRouteFixer, handler_edit, paramstyle
from fixers.base import Fixer, Outcomes
from fixers.cst import dotted_name
from fixers.cst_dispatch import QuickTransformer
from fixers.data_model import _entity_query
from fixers.rewrite import add_param, code_of, first_statement_index, param_names, statements, tail
from fixers.pipeline.workspace import Skip, Workspace

DEFAULT, MAXIMUM = 50, 100
FASTAPI_PARAMS = (f"limit: int = Query({DEFAULT}, ge=1, le={MAXIMUM})", "offset: int = Query(0, ge=0)")
FLASK_READS = (
    f'limit = min(max(request.args.get("limit", {DEFAULT}, type=int), 1), {MAXIMUM})\n'
    'offset = max(request.args.get("offset", 0, type=int), 0)\n'
)
SQL_BOUNDED = re.compile(r"\b(limit|offset)\b", re.I)
SQL_TAIL = re.compile(r";?\s*$")


def chain_methods(node: cst.BaseExpression) -> list[str]:
    names = []
    while isinstance(node, (cst.Attribute, cst.Call, cst.Await)):
        if isinstance(node, cst.Attribute):
            names.append(node.attr.value)
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        else:
            node = node.expression
    return names


class Paginate(QuickTransformer):
    """Inside one handler: every unbounded `.all()` / `.fetchall()` gets the page applied."""

    def __init__(self, shape, style: str) -> None:
        self.shape = shape
        self.style = style
        self.changed = False
        self.problem: str | None = None
        self.assignments: dict[str, cst.BaseExpression] = {}
        self.sql_rewrites: dict[str, tuple[str, cst.BaseExpression]] = {}

    chosen: cst.Call | None = None

    def visit_Call(self, node: cst.Call) -> None:
        """The first unbounded read in source order is the list the route returns."""
        func = node.func
        if self.chosen is not None or node.args or not isinstance(func, cst.Attribute) or func.attr.value not in {"all", "fetchall"}:
            return
        if not set(chain_methods(func.value)) & BOUNDING_CALLS:
            self.chosen = node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if original_node is not self.chosen:
            return updated_node
        if original_node.func.attr.value == "all":
            return self._orm(updated_node)
        return self._sql(updated_node)

    def _orm(self, call: cst.Call) -> cst.BaseExpression:
        receiver = call.func.value
        root = _entity_query(receiver)
        if root is None:
            self.problem = "the rows do not come from a query here"
            return call
        model = tail(dotted_name(root.args[0].value) or "")
        table = self.shape.by_model.get(model)
        ordered = "order_by" in chain_methods(receiver)
        if tail(dotted_name(root.func) or "") == "select":
            page = code_of(root) + ("" if ordered or table is None or "id" not in table.columns else f".order_by({model}.id)")
            new_root = cst.parse_expression(f"{page}.offset(offset).limit(limit)")
            self.changed = True
            return call.deep_replace(_find(call, root), new_root)
        expr = receiver
        if not (ordered or table is None or "id" not in table.columns):
            expr = _method(expr, "order_by", f"{model}.id")
        expr = _method(_method(expr, "offset", "offset"), "limit", "limit")
        self.changed = True
        return call.with_changes(func=call.func.with_changes(value=expr))

    def _sql(self, call: cst.Call) -> cst.BaseExpression:
        execute = call.func.value
        if not (isinstance(execute, cst.Call) and isinstance(execute.func, cst.Attribute) and execute.func.attr.value == "execute" and execute.args):
            self.problem = "the rows are not fetched from a literal SQL statement here"
            return call
        statement = execute.args[0].value
        if isinstance(statement, cst.Name) and statement.value in self.assignments:
            holder = statement.value
            statement = self.assignments[holder]
        else:
            holder = None
        text_call = statement if isinstance(statement, cst.Call) and tail(dotted_name(statement.func) or "") == "text" else None
        literal = text_call.args[0].value if text_call is not None and text_call.args else statement
        if not isinstance(literal, cst.SimpleString) or not isinstance(literal.evaluated_value, str):
            self.problem = "the SQL is built from strings: bind its parameters first (see the sql-injection fix), then page it"
            return call
        sql = literal.evaluated_value
        named = text_call is not None
        if named:
            clause = " LIMIT :limit OFFSET :offset"
        else:
            mark = "%s" if self.style == "format" else "?"
            clause = f" LIMIT {mark} OFFSET {mark}"
        new_sql = SQL_TAIL.sub("", sql) + clause
        new_literal = cst.SimpleString(f"{literal.prefix}{literal.quote}{new_sql}{literal.quote}")
        args = list(execute.args)
        if holder is None:
            args[0] = args[0].with_changes(value=statement.deep_replace(literal, new_literal) if literal is not statement else new_literal)
        else:
            self.sql_rewrites[holder] = (code_of(literal), new_literal)
        try:
            args = _with_params(args, named)
        except Skip as exc:
            self.problem = str(exc)
            return call
        self.changed = True
        return call.with_changes(func=call.func.with_changes(value=execute.with_changes(args=args)))

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
            self.assignments[node.targets[0].target.value] = node.value


def _method(receiver: cst.BaseExpression, name: str, argument: str) -> cst.Call:
    return cst.Call(cst.Attribute(receiver, cst.Name(name)), args=[cst.Arg(cst.parse_expression(argument))])


def _with_params(args: list[cst.Arg], named: bool) -> list[cst.Arg]:
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    if len(args) == 1:
        extra = '{"limit": limit, "offset": offset}' if named else "(limit, offset)"
        return [args[0].with_changes(comma=comma), cst.Arg(cst.parse_expression(extra))]
    params = args[1].value
    if named and isinstance(params, cst.Dict):
        new = cst.parse_expression("{" + code_of(params)[1:-1].rstrip().rstrip(",") + ', "limit": limit, "offset": offset}')
    elif not named and isinstance(params, (cst.Tuple, cst.List)):
        inner = code_of(params)[1:-1].rstrip().rstrip(",")
        new = cst.parse_expression(f"({inner}, limit, offset)" if inner else "(limit, offset)")
    else:
        raise Skip("the query parameters are not a literal tuple or dict")
    args[1] = args[1].with_changes(value=new)
    return args


def _find(tree: cst.CSTNode, wanted: cst.CSTNode) -> cst.CSTNode:
    from fixers.data_model import _find_equal

    found = _find_equal(tree, wanted)
    if found is None:
        raise Skip("the query was not found")
    return found


class SqlHolders(QuickTransformer):
    """Rewrites `sql = text("...")` assignments whose statement got a LIMIT."""

    def __init__(self, rewrites: dict[str, tuple[str, cst.SimpleString]]) -> None:
        self.rewrites = rewrites

    def leave_SimpleString(self, original_node: cst.SimpleString, updated_node: cst.SimpleString) -> cst.SimpleString:
        for old, new in self.rewrites.values():
            if code_of(original_node) == old:
                return new
        return updated_node


class PaginationFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        shape = data_shape(ws.index)
        imports: list[tuple[str, str]] = []

        def rewrite(route, function):
            if {"limit", "offset"} & param_names(function):
                raise Skip("the handler already has a limit or offset parameter")
            editor = Paginate(shape, paramstyle(ws, route.relpath))
            new = function.visit(editor)
            if not editor.changed:
                raise Skip(editor.problem or "no unbounded query found in the handler")
            if editor.sql_rewrites:
                new = new.visit(SqlHolders(editor.sql_rewrites))
            if route.framework == "fastapi":
                for param in FASTAPI_PARAMS:
                    new = add_param(new, param)
                imports.append(("fastapi", "Query"))
            else:
                index = first_statement_index(new)
                body = list(new.body.body)
                new = new.with_changes(body=new.body.with_changes(body=[*body[:index], *statements(FLASK_READS), *body[index:]]))
                imports.append(("flask", "request"))
            return new

        outcomes = handler_edit(ws, findings, rewrite)
        if imports:
            AuthRouteFixer._imports(ws, findings[0].path, list(dict.fromkeys(imports)), "")
        return outcomes

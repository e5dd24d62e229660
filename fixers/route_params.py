"""Types for route parameters (PR303): `task_id: int` in FastAPI, `<int:id>` in a Flask URL rule.
A malformed id then answers 404/422 before the handler runs, instead of a 500 inside it."""

from __future__ import annotations

import re

import libcst as cst

from auditor.models import Finding
from fixers.auth import handler_edit
from fixers.base import Fixer, Outcomes
from fixers.rewrite import code_of, decorator_names
from fixers.pipeline.workspace import Skip, Workspace

ID_NAME = re.compile(r"^(id|pk)$|_(id|pk)$")
PARAM = re.compile(r"`(\w+)`|<(\w+)>")


def typed_param(function: cst.FunctionDef, name: str) -> cst.FunctionDef:
    """`def f(task_id, ...)` -> `def f(task_id: int, ...)` (str for names that are not ids)."""
    params = list(function.params.params)
    for index, param in enumerate(params):
        if param.name.value == name:
            if param.annotation is not None:
                raise Skip(f"`{name}` is typed already")
            kind = "int" if ID_NAME.search(name) else "str"
            params[index] = param.with_changes(annotation=cst.Annotation(cst.Name(kind)))
            return function.with_changes(params=function.params.with_changes(params=params))
    raise Skip(f"no parameter `{name}` in the handler")


def converted_rule(function: cst.FunctionDef, owner: str, name: str) -> cst.FunctionDef:
    """`@bp.route("/<id>")` -> `@bp.route("/<int:id>")`, unless the handler glues the id into strings."""
    if re.search(rf"\+\s*{name}\b|\b{name}\s*\+", code_of(function.body)):
        raise Skip(f"the handler concatenates <{name}> into a string, which an int breaks: bind the SQL parameters first")
    decorators = list(function.decorators)
    for index, name_of in enumerate(decorator_names(function)):
        call = decorators[index].decorator
        if not (name_of.startswith(owner + ".") and isinstance(call, cst.Call) and call.args):
            continue
        rule = call.args[0].value
        if isinstance(rule, cst.SimpleString) and f"<{name}>" in rule.value:
            new_rule = rule.with_changes(value=rule.value.replace(f"<{name}>", f"<int:{name}>"))
            args = [call.args[0].with_changes(value=new_rule), *call.args[1:]]
            decorators[index] = decorators[index].with_changes(decorator=call.with_changes(args=args))
            return function.with_changes(decorators=decorators)
    raise Skip(f"the URL rule with <{name}> was not found on the handler")


class RouteParamFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        def rewrite(route, function):
            for finding in findings:
                if finding.line not in (route.span.line, route.handler.span.line):
                    continue
                match = PARAM.search(finding.message)
                name = match.group(1) or match.group(2) if match else None
                if name is None:
                    raise Skip("the parameter is not named in the finding")
                if route.framework == "fastapi":
                    function = typed_param(function, name)
                else:
                    function = converted_rule(function, route.router.rpartition(".")[2], name)
            return function

        return handler_edit(ws, findings, rewrite)

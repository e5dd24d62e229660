"""Reading a route handler's body: who the current user is, what data it touches, and whether
it compares that data with the user (directly or in a helper it calls).

Project rules use these on the few handler functions they look into (`index.function_node`).
"""

from __future__ import annotations

import ast
import re

from auditor.rules.querying import DataShape, is_query_call, sql_tables_named, sql_text
from auditor.walk import const_str, dotted

PATH_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}|<(?:\w+:)?(\w+)>")
ID_PARAM = re.compile(r"^(id|pk|uuid|slug)$|_(id|pk|uuid|slug)$")
CLAUSES = frozenset({"filter", "filter_by", "where", "get", "join", "having"})
OWNERSHIP_CALL = re.compile(r"(authori[sz]e|permission|can_|ensure_|check_|assert_|require_|verify_access|owner|member)", re.I)
SESSION_USER_KEY = re.compile(r"(user|account|uid|owner|member)", re.I)
USER_ATTRIBUTES = frozenset({"g.user", "g.current_user", "request.user", "request.state.user", "flask.g.user"})
USER_CALLS = re.compile(r"(^|\.)(get_jwt_identity|get_current_user|current_identity|get_jwt|current_user)$")  # auth.current_user(): Flask-HTTPAuth


def path_params(path: str) -> list[str]:
    return [a or b for a, b in PATH_PARAM.findall(path)]


def id_params(path: str) -> list[str]:
    return [name for name in path_params(path) if ID_PARAM.search(name)]


def handler_node(index, route) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    return index.function_node(route.relpath, route.handler.qualname)


def user_params(index, route) -> set[str]:
    """Handler parameters that receive the authenticated user (`user = Depends(get_current_user)`)."""
    facts = index.modules[route.relpath]
    names = set()
    for param in route.handler.params:
        depends_on = index.param_dependency(param, facts)
        if depends_on:
            target = depends_on if "." in depends_on else index.qualify(depends_on, facts)
            if index.is_auth_callable(target):
                names.add(param.name)
    return names


def is_user_expr(node: ast.AST, names: set[str] | frozenset[str]) -> bool:
    """Does the expression mention the current user (a user parameter, the session's user, flask-login...)?"""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and (sub.id in names or sub.id == "current_user"):
            return True
        if isinstance(sub, ast.Attribute) and dotted(sub) in USER_ATTRIBUTES:
            return True
        if isinstance(sub, ast.Subscript) and dotted(sub.value) == "session":
            key = const_str(sub.slice)
            if key and SESSION_USER_KEY.search(key):
                return True
        if isinstance(sub, ast.Call):
            name = dotted(sub.func) or ""
            if name == "session.get" and sub.args and SESSION_USER_KEY.search(const_str(sub.args[0]) or ""):
                return True
            if USER_CALLS.search(name):
                return True
    return False


def resolve_helper(index, relpath: str, call: ast.Call) -> tuple[str, ast.AST] | None:
    """The project function a call in `relpath` goes to, as (relpath, FunctionDef)."""
    name = dotted(call.func)
    if not name:
        return None
    facts = index.modules[relpath]
    if name in facts.functions:
        node = index.function_node(relpath, name)
        return (relpath, node) if node is not None else None
    head, _, rest = name.partition(".")
    if head not in facts.imports:
        return None
    resolved = index.resolve_function(facts.imports[head] + (f".{rest}" if rest else ""))
    if resolved is None:
        return None
    node = index.function_node(resolved[0], resolved[1].qualname)
    return (resolved[0], node) if node is not None else None


def _mapped_params(helper: ast.AST, call: ast.Call, wanted) -> set[str]:
    """Names the helper's parameters take for the call's arguments that satisfy `wanted(arg)`."""
    params = [a.arg for a in [*helper.args.posonlyargs, *helper.args.args]]
    if params and params[0] in {"self", "cls"}:
        params = params[1:]
    mapped = {params[i] for i, arg in enumerate(call.args) if i < len(params) and wanted(arg)}
    mapped |= {k.arg for k in call.keywords if k.arg and wanted(k.value)}
    return mapped


def checks_ownership(index, relpath: str, node: ast.AST, users: set[str] | frozenset[str], depth: int = 0) -> bool:
    """The code compares data with the current user, filters a query by it, or hands both to a check."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Compare) and is_user_expr(sub, users):
            return True
        if not isinstance(sub, ast.Call):
            continue
        args = [*sub.args, *(k.value for k in sub.keywords)]
        if not any(is_user_expr(arg, users) for arg in args):
            continue
        tail = (dotted(sub.func) or "").rpartition(".")[2]
        if tail in CLAUSES or is_query_call(sub) or OWNERSHIP_CALL.search(tail):
            return True
        if depth < 2:
            helper = resolve_helper(index, relpath, sub)
            if helper is not None:
                inner_users = _mapped_params(helper[1], sub, lambda arg: is_user_expr(arg, users))
                if inner_users and checks_ownership(index, helper[0], helper[1], inner_users, depth + 1):
                    return True
    return False


def tables_touched(node: ast.AST, shape: DataShape) -> list[str]:
    """Tables a piece of code queries: ORM model names and tables named in literal SQL."""
    found = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id in shape.by_model:
            found.append(shape.by_model[sub.id].name)
        elif isinstance(sub, ast.Attribute) and sub.attr in shape.by_model:
            found.append(shape.by_model[sub.attr].name)
        elif isinstance(sub, ast.Call) and sub.args and is_query_call(sub):
            text = sql_text(sub.args[0])
            if text:
                found += [t for t in sql_tables_named(text) if t in shape.tables]
    return list(dict.fromkeys(found))


def lookups_by(node: ast.AST, names: set[str]) -> list[ast.Call]:
    """Outermost query calls whose arguments use one of `names` (a lookup by a path id)."""
    found: list[ast.Call] = []
    inside: set[int] = set()
    for sub in ast.walk(node):
        if not isinstance(sub, ast.Call) or id(sub) in inside:
            continue
        tail = (dotted(sub.func) or "").rpartition(".")[2]
        if not (is_query_call(sub) or tail in CLAUSES):
            continue
        if any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(sub)):
            found.append(sub)
            inside |= {id(n) for n in ast.walk(sub) if n is not sub}
    return found

"""The fields a handler reads from a body it never declares (Flask's `request.get_json()`,
FastAPI's `payload: dict` or `await request.json()`), as a small JSON schema the probes fill in.

`data["name"]` is a required field, `data.get("note")` an optional one; `int(data["qty"])` and
`float(data["price"])` say the type. Read from the handler's syntax tree only."""

from __future__ import annotations

import ast

BODY_CALLS = {"get_json", "json"}  # request.get_json(), await request.json()
BODY_ATTRS = {"json", "form", "values"}  # request.json, request.form
NUMBER_CASTS = {"int": "integer", "float": "number", "Decimal": "number"}


def _is_body_source(node: ast.AST) -> bool:
    if isinstance(node, ast.Await):
        node = node.value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in BODY_CALLS and _is_request(node.func.value)
    if isinstance(node, ast.BoolOp):  # request.get_json() or {}
        return any(_is_body_source(v) for v in node.values)
    return isinstance(node, ast.Attribute) and node.attr in BODY_ATTRS and _is_request(node.value)


def _is_request(node: ast.AST) -> bool:
    return isinstance(node, ast.Name) and node.id in ("request", "req")


def _is_form(node: ast.AST) -> bool:
    """request.form (an HTML form), not request.json or request.values."""
    return isinstance(node, ast.Attribute) and node.attr == "form" and _is_request(node.value)


def body_hint(function: ast.FunctionDef | ast.AsyncFunctionDef) -> dict | None:
    names = {a.arg for a in function.args.args if a.annotation is not None and ast.unparse(a.annotation) in ("dict", "Dict", "dict[str, Any]")}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and _is_body_source(node.value):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    properties: dict[str, dict] = {}
    required: list[str] = []
    forms = {t.id for node in ast.walk(function) if isinstance(node, ast.Assign) and _is_form(node.value)
             for t in node.targets if isinstance(t, ast.Name)}  # fmt: skip
    form = reads_json = False  # a form only when nothing is read from JSON (`request.form.get(...) or request.get_json()...`)
    casts: dict[int, str] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in NUMBER_CASTS and node.args:
            casts[id(node.args[0])] = NUMBER_CASTS[node.func.id]
    for node in ast.walk(function):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            if (isinstance(node.value, ast.Name) and node.value.id in names) or _is_body_source(node.value):
                key, needed = node.slice.value, True
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                owner = node.func.value
                if (isinstance(owner, ast.Name) and owner.id in names) or _is_body_source(owner):
                    key, needed = first.value, False
        if key is None:
            continue
        owner = node.value if isinstance(node, ast.Subscript) else node.func.value
        form |= _is_form(owner) or (isinstance(owner, ast.Name) and owner.id in forms)
        reads_json |= not (_is_form(owner) or (isinstance(owner, ast.Name) and owner.id in forms))
        properties.setdefault(key, {"type": casts.get(id(node), "string")})
        if needed and key not in required:
            required.append(key)
    if not properties:
        return None
    hint = {"type": "object", "properties": properties, "required": required, "x-prodready": "read from the handler"}
    return hint | {"x-form": True} if form and not reads_json else hint

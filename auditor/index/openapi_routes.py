"""Routes declared in an OpenAPI document instead of decorators: Connexion apps.

`connexion.App(...).add_api("openapi.yml")` maps each operation of the document to a Python
function through its `operationId` (optionally under `x-openapi-router-controller`). The
handlers are plain Flask views: they read `flask.request`, and Connexion passes path and query
parameters as arguments. Without these routes a Connexion app looks like no web app at all.
"""

from __future__ import annotations

import json
import re

from auditor.index.facts import Span

ADD_API = re.compile(r"\.add_api\(\s*(?:specification\s*=\s*)?[\"']([^\"']+)[\"']")
METHODS = ("get", "post", "put", "patch", "delete", "head", "options")
PATH_PARAM = re.compile(r"{(\w+)}")


def spec_files(index) -> list[str]:
    """The OpenAPI documents a Connexion app loads (`add_api("openapi3.yml")`), found by name."""
    names: set[str] = set()
    for relpath, facts in index.modules.items():
        if "connexion" in facts.top_imports:
            names.update(m.group(1).rpartition("/")[2] for m in ADD_API.finditer(index.source(relpath)))
    return sorted(rel for rel in index.other_files if rel.rpartition("/")[2] in names) if names else []


def load(text: str, relpath: str) -> dict | None:
    try:
        if relpath.endswith(".json"):
            return json.loads(text)
        import yaml  # PyYAML comes with libcst, a dependency of prodready

        return yaml.safe_load(text)
    except Exception:  # noqa: BLE001  (an unreadable document gives no routes, not a failed scan)
        return None


def openapi_routes(index) -> list:
    """Route objects for every operation whose `operationId` names a project function."""
    from auditor.index.project import Route

    routes = []
    for spec_path in spec_files(index):
        spec = load(index.source(spec_path), spec_path)
        if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
            continue
        secured_by_default = bool(spec.get("security"))
        for path, item in spec["paths"].items():
            if not isinstance(item, dict):
                continue
            controller = item.get("x-openapi-router-controller")
            for method in METHODS:
                operation = item.get(method)
                if not isinstance(operation, dict) or not isinstance(operation.get("operationId"), str):
                    continue
                target = operation["operationId"]
                owner = operation.get("x-openapi-router-controller", controller)
                if owner and "." not in target:
                    target = f"{owner}.{target}"
                resolved = index.resolve_function(target)
                if resolved is None:
                    continue
                relpath, handler = resolved
                route = Route(
                    framework="flask",  # Connexion 2 runs on Flask: handlers read flask.request
                    methods=[method.upper()],
                    path=PATH_PARAM.sub(r"<\1>", path),  # `{id}` -> `<id>`: a text path segment
                    relpath=relpath,
                    handler=handler,
                    span=Span(handler.span.line, handler.span.col, handler.span.end_line),
                    dependencies=[],
                    decorators=list(handler.decorators),
                    hooks=[],
                    router=f"openapi:{spec_path}",
                )
                security = operation.get("security", spec.get("security"))
                if security if "security" in operation else secured_by_default:
                    route.auth.append(f"openapi security ({spec_path})")  # Connexion checks it before the handler
                index._recognise_auth(route, index.modules[relpath])
                routes.append(route)
    return routes

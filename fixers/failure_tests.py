"""Failure-path tests for the scanned app (PR431): `tests/test_failure_paths.py`, generated from its
routes and run with its own test client and fixtures (a logged-in client or auth headers when
its conftest provides them)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import PurePosixPath

from auditor.index.extract import module_name_for
from auditor.models import Finding
from auditor.rules.staging import HEALTH_PATH
from auditor.rules.webapp import is_test_or_script
from fixers.apps import find_app
from fixers.auth import module_signing
from fixers.base import Fixer, Outcomes
from fixers.templates import render
from fixers.pipeline.workspace import Skip, Workspace

PATH_PARAM = re.compile(r"\{[^}]+\}|<[^>]+>")
SIMPLE = re.compile(r"^(Optional\[)?(int|float|str|bool|EmailStr|Decimal|datetime|date)\]?( \| None)?$")
HEADERS_FIXTURE = re.compile(r"^(auth_headers|auth|headers|token_headers|authorization|auth_header)$")
CLIENT_FIXTURE = re.compile(r"^(logged_in|auth_client|authenticated_client|user_client|logged_in_client)$")
KEY_READ = re.compile(r"""\b(?:data|payload|body|json_data|form)(?:\[\s*["'](\w+)["']\s*\]|\.get\(\s*["'](\w+)["'])""")
CAST_READ = re.compile(r"""\b(int|float)\(\s*\w+(?:\[\s*["'](\w+)["']\s*\]|\.get\(\s*["'](\w+)["'])""")


def sample_value(name: str, annotation: str) -> object:
    annotation = annotation.replace("Optional[", "").rstrip("]").replace(" | None", "")
    if annotation == "int":
        return 1
    if annotation in {"float", "Decimal"}:
        return 1.5
    if annotation == "bool":
        return True
    literal = re.match(r"Literal\[\s*(['\"])(.*?)\1", annotation)
    if literal:
        return literal.group(2)
    if "email" in name.lower():
        return "failure-path@example.com"
    if annotation in {"datetime", "date"}:
        return "2030-01-01T00:00:00+00:00"
    return f"{name}-test"


def conftest_fixtures(ws: Workspace, folder: str) -> set[str]:
    names: set[str] = set()
    for relpath in (f"{folder}/conftest.py", "conftest.py"):
        text = ws.read(relpath)
        if not text:
            continue
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and any("fixture" in ast.unparse(d) for d in node.decorator_list):
                names.add(node.name)
    return names


def model_fields(index, class_name: str) -> dict[str, object] | None:
    for relpath, facts in index.modules.items():
        if class_name in facts.classes:
            for node in index.tree(relpath).body:
                if isinstance(node, ast.ClassDef) and node.name == class_name:
                    return {
                        stmt.target.id: sample_value(stmt.target.id, ast.unparse(stmt.annotation))
                        for stmt in node.body
                        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and "ClassVar" not in ast.unparse(stmt.annotation)
                    }
    return None


def handler_keys(source: str) -> dict[str, object]:
    casts = {}
    for match in CAST_READ.finditer(source):
        casts[match.group(2) or match.group(3)] = 1 if match.group(1) == "int" else 1.5
    keys: dict[str, object] = {}
    for match in KEY_READ.finditer(source):
        key = match.group(1) or match.group(2)
        keys[key] = casts.get(key, sample_value(key, "str"))
    return keys


def body_sample(ws: Workspace, route) -> dict[str, object] | None:
    """Field -> value of a request body the route reads, None when it reads none."""
    index = ws.index
    node = index.function_node(route.relpath, route.handler.qualname)
    source = ast.unparse(node) if node is not None else ""
    if route.framework == "fastapi":
        path_names = set(re.findall(r"{(\w+)", route.path))
        for param in route.handler.params:
            if param.depends_on or param.name in path_names or not param.annotation or param.default:
                continue
            annotation = param.annotation
            if annotation in {"dict", "Dict", "Any"} or annotation.startswith(("dict[", "Dict[")):
                return handler_keys(source.replace(param.name, "data"))
            if not SIMPLE.match(annotation):
                fields = model_fields(index, annotation.rpartition(".")[2])
                if fields is not None:
                    return fields
        if "request.json()" in source:
            return handler_keys(source)
        return None
    if re.search(r"get_json\(|request\.json\b|request\.form\b", source):
        return handler_keys(source)
    return None


def jwt_context(ws: Workspace) -> dict | None:
    """The app's signing key and algorithm, importable by the tests (for expired tokens)."""
    index = ws.index
    if "jwt" not in index.imported_packages:
        return None
    for relpath in sorted(index.modules):
        if is_test_or_script(relpath):
            continue
        signing = module_signing(ws.read(relpath) or "")
        if signing is None or not signing.key.isidentifier():
            continue
        module = module_name_for(relpath)
        imports = [signing.key]
        algorithm = signing.algorithm
        if algorithm.isidentifier():
            imports.append(algorithm)
        return {"key_import": f"from {module} import {', '.join(imports)}", "key": signing.key, "algorithm": algorithm}
    return None


class FailureTestsFixer(Fixer):
    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        return self.guarded(findings, ws, lambda: self.generate(findings, ws))

    def generate(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        index = ws.index
        app = find_app(ws, findings[0])
        folder = str(PurePosixPath(findings[0].path).parent) if is_test_or_script(findings[0].path) else "tests"
        folder = "tests" if folder == "." else folder
        relpath = f"{folder}/test_failure_paths.py"
        if ws.exists(relpath):
            raise Skip(f"{relpath} exists already")
        fixtures = conftest_fixtures(ws, folder)
        routes = [r for r in index.routes if not is_test_or_script(r.relpath)]
        if not routes:
            raise Skip("no routes to test")
        body_routes, login_routes = [], []
        for route in routes:
            path = PATH_PARAM.sub("1", route.path)
            method = next((m for m in route.methods if m != "HEAD"), "GET")
            if route.is_mutating:
                sample = body_sample(ws, route)
                if sample is not None:
                    body_routes.append({"method": method, "path": path, "sample": _python(sample)})
            if route.authenticated:
                login_routes.append({"method": method, "path": path})
        auth = next(({"kind": "headers", "fixture": f} for f in sorted(fixtures) if HEADERS_FIXTURE.match(f)), None)
        auth = auth or next(({"kind": "client", "fixture": f} for f in sorted(fixtures) if CLIENT_FIXTURE.match(f)), None)
        app_import, app_expr = self._app_access(ws, app)
        text = render(
            "test_failure_paths.py.j2",
            framework=app.framework,
            client_fixture="client" in fixtures,
            app_import=app_import,
            app_expr=app_expr,
            auth=auth,
            jwt=jwt_context(ws) if app.framework == "fastapi" else None,
            body_routes=body_routes,
            login_routes=login_routes,
            burst_path=self._burst_path(ws, app, routes),
        )
        ws.write(relpath, text)
        return {f: None for f in findings}

    @staticmethod
    def _app_access(ws: Workspace, app) -> tuple[str, str]:
        module = module_name_for(app.relpath)
        tree = ast.parse(ws.read(app.relpath) or "")
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == app.var for t in node.targets):
                return f"from {module} import {app.var}", app.var
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(isinstance(n, ast.Name) and n.id == app.var for n in ast.walk(node)):
                return f"from {module} import {node.name}", f"{node.name}()"
        raise Skip("cannot tell how to import the app for the tests")

    @staticmethod
    def _burst_path(ws: Workspace, app, routes) -> str:
        if any(HEALTH_PATH.search(r.path) for r in routes) or '"/health"' in (ws.read(app.relpath) or ""):
            return next((r.path for r in routes if HEALTH_PATH.search(r.path)), "/health")
        public = [r.path for r in routes if "GET" in r.methods and not r.authenticated and not PATH_PARAM.search(r.path)]
        return public[0] if public else "/"


def _python(sample: dict[str, object]) -> str:
    """A dict literal in Python spelling (True, not true)."""
    return "{" + ", ".join(f"{json.dumps(k)}: {v!r}" if not isinstance(v, str) else f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sample.items()) + "}"

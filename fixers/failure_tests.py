"""Failure-path tests for the scanned app (PR431): `tests/test_failure_paths.py`, generated from its
routes and run with its own test client and fixtures (a logged-in client or auth headers when
its conftest provides them).

They are written last, from the project as the plan's other fixes leave it (route_gaps.py), and
assert only what holds then: a route whose body is still unvalidated, or whose writes are not
safe to repeat, is listed with an `xfail` mark naming the finding, so the gap stays visible
without failing on day one. Credential routes (signup, login, token, password reset) are never
listed as needing a login, and a missing login may answer the way the app does: 401, 403, or a
redirect to its login page."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from auditor.index.extract import module_name_for
from auditor.models import Finding
from auditor.rules.staging import HEALTH_PATH
from auditor.rules.webapp import is_test_or_script
from fixers.apps import find_app
from fixers.auth import module_signing
from fixers.base import Fixer, Outcomes
from fixers.route_gaps import BODY_RULES, DUPLICATE_RULES, current_state
from fixers.templates import render
from fixers.pipeline.workspace import Skip, Workspace

PATH_PARAM = re.compile(r"\{[^}]+\}|<[^>]+>")
SIMPLE = re.compile(r"^(Optional\[)?(int|float|str|bool|EmailStr|Decimal|datetime|date)\]?( \| None)?$")
HEADERS_FIXTURE = re.compile(r"^(auth_headers|auth|headers|token_headers|authorization|auth_header)$")
CLIENT_FIXTURE = re.compile(r"^(logged_in|auth_client|authenticated_client|user_client|logged_in_client)$")
KEY_READ = re.compile(r"""\b(?:data|payload|body|json_data|form)(?:\[\s*["'](\w+)["']\s*\]|\.get\(\s*["'](\w+)["'])""")
CAST_READ = re.compile(r"""\b(int|float)\(\s*\w+(?:\[\s*["'](\w+)["']\s*\]|\.get\(\s*["'](\w+)["'])""")
# Routes that hand out credentials are public by design: never listed as needing a login.
CREDENTIAL_ROUTE = re.compile(
    r"(^|[/_-])(log[-_]?in|log[-_]?out|sign[-_]?in|sign[-_]?up|register|token|refresh|forgot[-_]?password|"
    r"(password|pw)[-_]?(reset|recover\w*)|reset[-_]?password)([/_-]|$)",
    re.I,
)
LOOSE_FIELD = re.compile(r"^(typing\.)?(Any|object|dict|Dict|Json)\b")
LOGIN_VIEW = re.compile(r"\blogin_view\s*=")  # Flask-Login sends a missing login to this page


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


@dataclass
class Body:
    """The body a route reads: a valid-looking sample, whether a blank one is invalid, and the
    fields that accept anything (typed Any or dict) when a model declares them."""

    sample: dict[str, object]
    required: bool = False
    loose: list[str] = field(default_factory=list)


def model_body(index, class_name: str) -> Body | None:
    for relpath, facts in index.modules.items():
        if class_name in facts.classes:
            for node in index.tree(relpath).body:
                if isinstance(node, ast.ClassDef) and node.name == class_name:
                    body = Body({})
                    for stmt in node.body:
                        if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                            continue
                        annotation = ast.unparse(stmt.annotation)
                        if "ClassVar" in annotation:
                            continue
                        name = stmt.target.id
                        body.sample[name] = sample_value(name, annotation)
                        body.required = body.required or is_required(stmt.value)
                        if LOOSE_FIELD.match(annotation.removeprefix("Optional[")):
                            body.loose.append(name)
                    return body
    return None


def is_required(value: ast.expr | None) -> bool:
    """A pydantic field without a default (`x: int`, `x: int = Field(max_length=3)`, `Field(...)`)."""
    if value is None:
        return True
    if isinstance(value, ast.Call) and (ast.unparse(value.func).rpartition(".")[2] == "Field"):
        if any(k.arg in {"default", "default_factory"} for k in value.keywords):
            return False
        return not value.args or (isinstance(value.args[0], ast.Constant) and value.args[0].value is Ellipsis)
    return False


def handler_keys(source: str) -> dict[str, object]:
    casts = {}
    for match in CAST_READ.finditer(source):
        casts[match.group(2) or match.group(3)] = 1 if match.group(1) == "int" else 1.5
    keys: dict[str, object] = {}
    for match in KEY_READ.finditer(source):
        key = match.group(1) or match.group(2)
        keys[key] = casts.get(key, sample_value(key, "str"))
    return keys


def route_body(index, route) -> Body | None:
    """The body the route reads, None when it reads none."""
    node = index.function_node(route.relpath, route.handler.qualname)
    source = ast.unparse(node) if node is not None else ""
    if route.framework == "fastapi":
        path_names = set(re.findall(r"{(\w+)", route.path))
        for param in route.handler.params:
            if param.depends_on or param.name in path_names or not param.annotation or param.default:
                continue
            annotation = param.annotation
            if annotation in {"dict", "Dict", "Any"} or annotation.startswith(("dict[", "Dict[")):
                return Body(handler_keys(source.replace(param.name, "data")))
            if not SIMPLE.match(annotation):
                found = model_body(index, annotation.rpartition(".")[2])
                if found is not None:
                    return found
        if "request.json()" in source:
            return Body(handler_keys(source))
        return None
    validated = re.search(r"\b(\w+)\.model_validate\(\s*request\.", source)
    if validated:
        found = model_body(index, validated.group(1))
        if found is not None:
            return found
    if re.search(r"get_json\(|request\.json\b|request\.form\b", source):
        return Body(handler_keys(source))
    return None


def url_of(index, route) -> str:
    """The URL to request, path parameters filled in. The index joins prefixes without the
    trailing slash of `@router.post("/")` under a prefix; the app serves it with the slash and
    answers the bare path with a redirect (307/308), which a credentials check must not follow."""
    path = route.path
    facts = index.modules.get(route.relpath)
    decl = next((d for d in (facts.routes if facts else []) if d.span == route.span and d.function == route.handler.qualname), None)
    if decl is not None and decl.path.endswith("/") and not path.endswith("/"):
        path += "/"
    return PATH_PARAM.sub("1", path)


def credential_route(route) -> bool:
    return bool(CREDENTIAL_ROUTE.search(route.path) or CREDENTIAL_ROUTE.search(route.handler.name))


def login_redirects(ws: Workspace, index, routes) -> bool:
    """True when a missing login answers with a redirect to a login page (Flask-Login's
    `login_view`, or an auth decorator that redirects) rather than a 401/403."""
    for relpath in index.modules:
        if is_test_or_script(relpath):
            continue
        if LOGIN_VIEW.search(ws.read(relpath) or ""):
            return True
        for node in ast.walk(index.tree(relpath)):  # @login_manager.unauthorized_handler that redirects
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                ast.unparse(d).endswith("unauthorized_handler") for d in node.decorator_list
            ) and "redirect(" in ast.unparse(node):
                return True
    for route in routes:
        for name in route.auth:
            found = index.resolve_function(name)
            node = index.function_node(found[0], found[1].qualname) if found else None
            if node is not None and "redirect(" in ast.unparse(node):
                return True
    return False


def not_fixed(gaps) -> str | None:
    """The xfail reason for a route with remaining gaps (None when there are none)."""
    if not gaps:
        return None
    first = gaps[0]
    return f"{first.rule} not fixed yet ({first.path}:{first.line}): {first.message.rstrip('.')}. Once it is fixed, remove this mark"


def jwt_context(ws: Workspace, index) -> dict | None:
    """The app's signing key and algorithm, importable by the tests (for expired tokens)."""
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
        app = find_app(ws, findings[0])
        folder = str(PurePosixPath(findings[0].path).parent) if is_test_or_script(findings[0].path) else "tests"
        folder = "tests" if folder == "." else folder
        relpath = f"{folder}/test_failure_paths.py"
        if ws.exists(relpath):
            raise Skip(f"{relpath} exists already")
        fixtures = conftest_fixtures(ws, folder)
        state = current_state(ws)  # the project as the other fixes of this plan leave it
        index = state.index
        routes = [r for r in index.routes if not is_test_or_script(r.relpath)]
        if not routes:
            raise Skip("no routes to test")
        body_routes, duplicate_routes, login_routes = [], [], []
        for route in routes:
            path = url_of(index, route)
            method = next((m for m in route.methods if m != "HEAD"), "GET")
            body = route_body(index, route) if route.is_mutating else None
            if body is not None:
                gap = not_fixed(state.gaps(route, BODY_RULES))
                if gap is None and body.loose:
                    gap = f"the request model accepts any value for {', '.join(body.loose)} (typed Any or dict): give it a real type, then remove this mark"
                entry = {"method": method, "path": path, "sample": _python(body.sample), "required": body.required}
                body_routes.append({**entry, "xfail": gap})
                if method == "POST":
                    duplicate_routes.append({**entry, "xfail": gap or not_fixed(state.gaps(route, DUPLICATE_RULES))})
            if route.authenticated and not credential_route(route):
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
            jwt=jwt_context(ws, index) if app.framework == "fastapi" else None,
            body_routes=body_routes,
            duplicate_routes=duplicate_routes,
            login_routes=login_routes,
            login_redirects=login_redirects(ws, index, routes),
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

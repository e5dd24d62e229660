"""What counts as web-app code, and where its request handlers are (shared by the step 3-5 rules).

Module rules see one module at a time, so "is this part of a web backend?" is judged from the
module itself: its path (tests, scripts and migrations are not app code) and its imports (a web
framework, an ORM or database driver, or a network client a backend uses). Project rules ask
the index instead (`is_web_project`).
"""

from __future__ import annotations

import ast
import weakref
from collections.abc import Iterator

from auditor.index.extract import HTTP_METHODS
from auditor.walk import ModuleContext, const_str, dotted, kwarg

WEB_FRAMEWORKS = ("fastapi", "flask", "starlette", "quart", "apiflask", "django", "litestar", "sanic", "aiohttp.web")
BACKEND_PACKAGES = (
    *WEB_FRAMEWORKS,
    "sqlalchemy", "sqlmodel", "flask_sqlalchemy", "psycopg", "psycopg2", "asyncpg", "aiosqlite", "pymongo",
    "motor", "redis", "celery", "requests", "httpx", "aiohttp", "smtplib", "jwt", "jose", "stripe", "boto3",
)  # fmt: skip
NON_APP_DIRS = frozenset({"tests", "test", "testing", "scripts", "migrations", "alembic", "docs", "examples", "example", "demo", "demos", "benchmarks"})
NON_APP_FILES = frozenset({"conftest.py", "setup.py", "manage.py", "noxfile.py", "fabfile.py", "tests.py", "test.py"})
ROUTE_VERBS = HTTP_METHODS | {"route", "api_route"}


def is_test_or_script(relpath: str) -> bool:
    """Tests, scripts, migrations, docs: code that is not the running web app."""
    *folders, name = relpath.split("/")
    if name in NON_APP_FILES or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(f in NON_APP_DIRS or f.endswith(("_test", "_tests")) for f in folders)


BACKEND_TOPS = frozenset(p.partition(".")[0] for p in BACKEND_PACKAGES)
_last_judged: tuple[weakref.ref | None, bool] = (None, False)  # every rule asks in begin(): judge once per module


def is_app_code(ctx: ModuleContext) -> bool:
    """A module of a web backend: not a test or script, and importing a backend package."""
    global _last_judged
    ref, verdict = _last_judged
    if ref is not None and ref() is ctx:
        return verdict
    verdict = not is_test_or_script(ctx.relpath) and not BACKEND_TOPS.isdisjoint(
        target.partition(".")[0] for target in ctx.imports.values()
    )
    _last_judged = (weakref.ref(ctx), verdict)
    return verdict


def imports_web_framework(ctx: ModuleContext) -> bool:
    return any(ctx.imports_module(package) for package in WEB_FRAMEWORKS)


def route_methods(node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: ModuleContext) -> list[str] | None:
    """The HTTP methods when `node` is decorated as a route (`@app.get("/x")`, `@bp.route(...)`)."""
    for decorator in node.decorator_list:
        if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
            continue
        verb = decorator.func.attr
        if verb not in ROUTE_VERBS:
            continue
        path = const_str(decorator.args[0]) if decorator.args else const_str(kwarg(decorator, "path") or kwarg(decorator, "rule"))
        if path is None or not imports_web_framework(ctx):
            continue
        if verb in HTTP_METHODS:
            return [verb.upper()]
        methods = kwarg(decorator, "methods")
        return [m.upper() for m in (const_str(e) for e in getattr(methods, "elts", []) or []) if m] or ["GET"]
    return None


def is_web_project(index) -> bool:
    """The scanned project is a web app: FastAPI/Flask apps, routers or routes were found."""
    return bool(index.frameworks)


def app_anchor(index) -> tuple[str, object] | None:
    """Where a project-level finding about the app goes: the app object, else the first route."""
    apps = sorted((rel, decl) for rel, decl in index.routers.values() if decl.kind.endswith("-app"))
    if apps:
        rel, decl = apps[0]
        return rel, decl.span
    routers = sorted(index.routers.values(), key=lambda item: item[0])
    if routers:
        return routers[0][0], routers[0][1].span
    if index.routes:
        return index.routes[0].relpath, index.routes[0].span
    return None


def app_modules(index) -> Iterator[tuple[str, object]]:
    """(relpath, facts) of the project's own app modules (no tests, scripts or migrations)."""
    for relpath, facts in sorted(index.modules.items()):
        if not is_test_or_script(relpath):
            yield relpath, facts


def qualified(node: ast.AST | None, imports: dict[str, str]) -> str | None:
    """Like ModuleContext.resolve, from a module's recorded imports (for project rules)."""
    name = dotted(node)
    if not name:
        return None
    head, _, rest = name.partition(".")
    target = imports.get(head)
    if target is None:
        return name
    return f"{target}.{rest}" if rest else target


def walk_function(node: ast.AST) -> Iterator[ast.AST]:
    """Every node of a function body, not descending into nested functions, classes or lambdas."""
    todo: list[ast.AST] = [*node.body] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else [node]
    while todo:
        current = todo.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                todo.append(child)


def call_tail(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def terminates(body: list[ast.stmt]) -> bool:
    """The block ends the request or the iteration: raise, return, continue/break, abort()."""
    if not body:
        return False
    last = body[-1]
    if isinstance(last, (ast.Raise, ast.Return, ast.Continue, ast.Break)):
        return True
    return isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and call_tail(last.value) == "abort"


def route_handlers(index) -> Iterator[tuple[object, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """(route, handler node) for every route of the app (not tests or scripts)."""
    for route in index.routes:
        if is_test_or_script(route.relpath):
            continue
        node = index.function_node(route.relpath, route.handler.qualname)
        if node is not None:
            yield route, node


def status_of(node: ast.AST | None) -> int | None:
    """An HTTP status written as `400`, `status.HTTP_409_CONFLICT` or `HTTPStatus.CONFLICT`-style names."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    name = dotted(node) or ""
    digits = "".join(c for c in name.rpartition("HTTP_")[2][:3] if c.isdigit()) if "HTTP_" in name else ""
    return int(digits) if len(digits) == 3 else None


def rejects_request(node: ast.AST) -> bool:
    """The function answers some requests with a 4xx (abort(400), HTTPException(422), `return ..., 400`)."""
    for child in walk_function(node):
        if isinstance(child, ast.Call) and call_tail(child) in {"abort", "HTTPException", "BadRequest", "ValidationError"}:
            code = status_of(child.args[0] if child.args else kwarg(child, "status_code") or kwarg(child, "code"))
            if code is None or 400 <= code < 500:
                return True
        if isinstance(child, ast.Return) and isinstance(child.value, ast.Tuple) and len(child.value.elts) >= 2:
            code = status_of(child.value.elts[1])
            if code is not None and 400 <= code < 500:
                return True
    return False


def broad_handler(handler: ast.ExceptHandler) -> bool:
    """`except:`, `except Exception:` or `except BaseException:` (also inside a tuple)."""
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any((dotted(t) or "").rpartition(".")[2] in {"Exception", "BaseException"} for t in types)


def catches(node: ast.AST, names: set[str]) -> bool:
    """The function has an `except` clause naming one of `names` (IntegrityError, ...)."""
    for child in walk_function(node):
        if isinstance(child, ast.ExceptHandler) and child.type is not None:
            types = child.type.elts if isinstance(child.type, ast.Tuple) else [child.type]
            if any((dotted(t) or "").rpartition(".")[2] in names for t in types):
                return True
    return False


def strings_in(node: ast.AST) -> Iterator[str]:
    for child in walk_function(node):
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            yield child.value


def project_class(index, facts, written: str) -> tuple[str, str] | None:
    """(relpath, class name) of a class named in a module as `Name` or `module.Name`, if the project defines it."""
    head, _, rest = written.partition(".")
    full = facts.imports[head] + (f".{rest}" if rest else "") if head in facts.imports else f"{facts.module}.{written}"
    return index.module_of(full)


def call_at(index, relpath: str, line: int, callee: str) -> ast.Call | None:
    """The call to `callee` (its last name) starting on `line` of a module: an app constructor, say."""
    for node in ast.walk(index.tree(relpath)):
        if isinstance(node, ast.Call) and node.lineno == line and call_tail(node) == callee:
            return node
    return None

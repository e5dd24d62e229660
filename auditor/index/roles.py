"""What each module is for: the web app, its tests, a CLI, a script, a client, or dead code.

Rules about handling requests (N+1 queries, outbound calls without a timeout, print() instead
of logging, missing login...) only make sense on code that runs inside the deployed app: code a
route or a background job can reach. A seeding script, a CLI command, an API client or an
attack script kept in the repo, a test, or a module nothing imports is judged by other
standards: the engine drops the findings of rules that say `scope = "request"` there.

Reachability follows imports. The seeds are the modules that create the app (FastAPI(),
Flask()...) or run background jobs (Celery, RQ, Dramatiq, arq, Huey, APScheduler); without an
app object, the modules declaring routes. Everything they import, directly or not (and the
packages around those modules), is the app. A module that could not be parsed is a seed too,
with its imports read from its text: what it reaches stays judged.

When the project has no app at all, only clear signs (a test path, a CLI framework, a main
guard, a scripts/ folder) take a module out: anything else may be request code ("unknown").

Per-module facts come from `RoleVisitor`, run in the shared walk; `CodeRoles` is computed once
per scan from the index (`index.roles`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cached_property

from auditor.walk import ModuleContext, const_str, dotted

APP = "app"  # a route or background job reaches it
UNKNOWN = "unknown"  # no app in the project to tell: judged as request code
TEST = "test"
CLI = "cli"
SCRIPT = "script"
CLIENT = "client"  # outbound requests only: an API client or an attack script in the repo
DEAD = "dead"  # nothing imports it and nothing runs it
SUPPORT = "support"  # imported only by tests, scripts or CLIs
REQUEST_ROLES = frozenset({APP, UNKNOWN})

# Claims that something is missing from the whole project: not made while part of it is unread
# (the health route, the logging setup or the tests may be in the file that could not be parsed).
ABSENCE_CLAIMS = {"PR344": "app", "PR430": "app", "PR501": "app", "PR520": "app", "PR431": "test"}

CLI_PACKAGES = frozenset({"click", "typer", "argparse", "fire", "docopt", "cleo", "optparse", "invoke"})
JOB_DECORATORS = frozenset({"task", "shared_task", "actor", "periodic_task", "db_periodic_task", "scheduled_job", "job", "cron"})
JOB_PACKAGES = frozenset({"celery", "rq", "dramatiq", "arq", "huey", "apscheduler", "taskiq", "saq", "procrastinate"})
OUTBOUND_PACKAGES = frozenset({"requests", "httpx", "aiohttp", "urllib3", "websockets", "pycurl"})
OUTBOUND_MODULES = frozenset({"urllib.request", "http.client"})
NOT_DEPLOYED_PATH = re.compile(r"(^|/)(scripts?|bin|tools|examples?|docs|migrations|alembic)/|(^|/)(manage|setup|noxfile|fabfile)\.py$")
TEST_PATH = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_tests?\.py$|conftest\.py$|tests\.py$)")
ENTRY_NAMES = frozenset({"app", "application", "api", "asgi_app", "wsgi_app", "server"})
DEV_WORDS = frozenset({"dev", "development", "local", "debug", "test", "testing"})
PROD_WORDS = frozenset({"prod", "production", "live", "staging"})
ENV_NAME = re.compile(r"(env|environment|stage|mode|debug|testing)$", re.I)


@dataclass
class RoleFacts:
    """Per module: what it imports (in full), its CLI commands, its main guard, its dev-only blocks."""

    imports: set[str] = field(default_factory=set)  # every module an import statement names, dotted in full
    cli_functions: list[tuple[int, int]] = field(default_factory=list)  # (line, end_line) of CLI commands
    main_guard: tuple[int, int] | None = None
    dev_only: list[tuple[int, int, str]] = field(default_factory=list)  # (line, end_line, condition) of dev-only blocks
    jobs: bool = False  # defines background jobs (@celery.task, @shared_task, @dramatiq.actor, @scheduler.scheduled_job)
    entry: bool = False  # `app = create_app()` at module level: what a server (uvicorn app.asgi:app) loads
    dynamic_imports: bool = False  # importlib/pkgutil: modules may be loaded by name (router auto-discovery)


class RoleVisitor:
    """Collects RoleFacts during the shared walk (auditor/walk.py); cheap: no Call handler."""

    def begin(self, ctx: ModuleContext) -> None:
        self.facts = RoleFacts()

    def end(self, ctx: ModuleContext) -> None:
        self.facts.dynamic_imports = ctx.imports_module("importlib") or ctx.imports_module("pkgutil")

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        if len(ctx.parents) == 1 and isinstance(node.value, ast.Call):  # module level
            if any(isinstance(t, ast.Name) and t.id in ENTRY_NAMES for t in node.targets):
                self.facts.entry = True

    def visit_Import(self, node: ast.Import, ctx: ModuleContext) -> None:
        self.facts.imports.update(alias.name for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom, ctx: ModuleContext) -> None:
        base = node.module or ""
        if node.level:
            parts = ctx.package.split(".") if ctx.package else []
            if node.level > 1:
                parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, base] if base else parts)
        if base:
            self.facts.imports.add(base)
        for alias in node.names:  # `from app.routers import users` may name a module
            if alias.name != "*":
                self.facts.imports.add(f"{base}.{alias.name}" if base else alias.name)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: ModuleContext) -> None:
        for decorator in node.decorator_list:
            name = dotted(decorator)
            if name and name.rpartition(".")[2] in JOB_DECORATORS:
                self.facts.jobs = True
            if name and _is_cli_decorator(name, ctx):
                self.facts.cli_functions.append((node.lineno, node.end_lineno or node.lineno))
                return

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_If(self, node: ast.If, ctx: ModuleContext) -> None:
        test = node.test
        if isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__":
            if any(const_str(c) == "__main__" for c in test.comparators):
                self.facts.main_guard = (node.lineno, node.end_lineno or node.lineno)
            return
        branch = _dev_branch(test)
        if branch is None:
            return
        body = node.body if branch == "body" else node.orelse
        if body:
            condition = ast.unparse(test)  # not get_source_segment: it splits the whole file each time
            self.facts.dev_only.append((body[0].lineno, body[-1].end_lineno or body[-1].lineno, condition[:80]))


def _is_cli_decorator(name: str, ctx: ModuleContext) -> bool:
    """@click.command(), @cli.group(), @app.command() on a typer.Typer, @app.cli.command() in Flask."""
    if (ctx.resolve(name) or name).startswith(("click.", "typer.")) or ".cli." in f".{name}":
        return True
    return name.rpartition(".")[2] in {"command", "group", "callback"} and any(
        ctx.imports_module(package) for package in ("click", "typer", "flask_script", "cleo")
    )


def _dev_branch(test: ast.expr) -> str | None:
    """'body' / 'orelse': the branch of `if test:` that runs only in development, if any."""
    if isinstance(test, (ast.Name, ast.Attribute)):  # if settings.DEBUG:
        name = (dotted(test) or "").rpartition(".")[2]
        return "body" if name.lower() in {"debug", "testing", "is_dev", "is_development", "is_local"} else None
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return None
    left, op, right = test.left, test.ops[0], test.comparators[0]
    subject = dotted(left.func if isinstance(left, ast.Call) else left) or ""
    if isinstance(left, ast.Call) and left.args:  # os.getenv("ENV") == "development"
        subject = const_str(left.args[0]) or subject
    if isinstance(left, ast.Subscript):  # os.environ["ENV"] == "development"
        subject = const_str(left.slice) or subject
    if not ENV_NAME.search(subject.rpartition(".")[2]):
        return None
    values: list[str] = []
    if isinstance(right, (ast.Tuple, ast.List, ast.Set)):
        values = [v.lower() for v in map(const_str, right.elts) if v]
    elif const_str(right):
        values = [const_str(right).lower()]
    if not values:
        return None
    dev = all(v in DEV_WORDS for v in values)
    prod = all(v in PROD_WORDS for v in values)
    if isinstance(op, (ast.Eq, ast.In, ast.Is)):
        return "body" if dev else "orelse" if prod else None
    if isinstance(op, (ast.NotEq, ast.NotIn, ast.IsNot)):
        return "orelse" if dev else "body" if prod else None
    return None


def is_test_module(relpath: str) -> bool:
    return TEST_PATH.search(relpath) is not None


IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+\(?([\w, \t]+)|import[ \t]+([\w., \t]+))", re.M)


def _imports_from_text(text: str, package: str) -> set[str]:
    """Import targets of a file no grammar could read, from its text (roughly: enough to follow)."""
    found: set[str] = set()
    for base, names, plain in IMPORT_LINE.findall(text):
        if plain:
            found.update(part.split(" as ")[0].strip() for part in plain.split(","))
            continue
        level = len(base) - len(base.lstrip("."))
        module = base.lstrip(".")
        if level:
            parts = package.split(".") if package else []
            if level > 1:
                parts = parts[: len(parts) - (level - 1)]
            module = ".".join([*parts, module] if module else parts)
        if module:
            found.add(module)
        for name in names.split(","):
            name = name.split(" as ")[0].strip()
            if name:
                found.add(f"{module}.{name}" if module else name)
    return {t for t in found if t}


class CodeRoles:
    """Roles of every module in a ProjectIndex, and whether a line is request-handling code."""

    def __init__(self, index) -> None:
        self.index = index

    def _facts(self, relpath: str) -> RoleFacts:
        facts = getattr(self.index.modules[relpath], "code_roles", None)
        return facts if isinstance(facts, RoleFacts) else RoleFacts(imports=set(self.index.modules[relpath].imports.values()))

    def _resolve(self, target: str) -> str | None:
        by_module = self.index.by_module
        relpath = by_module.get(target)
        if relpath is None:
            relpath = self.index._suffix_module(target)
        if relpath is None and "." in target:  # `from app.models import User`: the module is app.models
            parent = target.rpartition(".")[0]
            relpath = by_module.get(parent) or self.index._suffix_module(parent)
        return relpath

    @cached_property
    def _packages(self) -> dict[str, list[str]]:
        """relpath -> the package __init__ modules that run before it is imported."""
        table: dict[str, list[str]] = {}
        for relpath in self.index.modules:
            parts = relpath.split("/")[:-1]
            inits = []
            for i in range(1, len(parts) + 1):
                init = "/".join(parts[:i]) + "/__init__.py"
                if init in self.index.modules and init != relpath:
                    inits.append(init)
            table[relpath] = inits
        return table

    @cached_property
    def imports(self) -> dict[str, set[str]]:
        """relpath -> the project modules it imports (and their packages)."""
        from auditor.index.extract import module_name_for

        graph: dict[str, set[str]] = {}
        for relpath in self.index.modules:
            targets = {self._resolve(t) for t in self._facts(relpath).imports}
            edges = {t for t in targets if t and t != relpath}
            for target in list(edges):
                edges.update(self._packages.get(target, ()))
            graph[relpath] = edges
        for relpath in self.index.unparsed:
            module = module_name_for(relpath)
            package = module if relpath.endswith("__init__.py") else module.rpartition(".")[0]
            targets = {self._resolve(t) for t in _imports_from_text(self.index.source(relpath), package)}
            graph[relpath] = {t for t in targets if t and t != relpath}
        return graph

    @cached_property
    def imported_by(self) -> dict[str, set[str]]:
        table: dict[str, set[str]] = {relpath: set() for relpath in self.imports}
        for importer, targets in self.imports.items():
            for target in targets:
                table.setdefault(target, set()).add(importer)
        return table

    @cached_property
    def seeds(self) -> set[str]:
        modules = self.index.modules
        apps = {
            relpath
            for relpath, facts in modules.items()
            if not is_test_module(relpath)
            and (
                any(r.kind.endswith("-app") for r in facts.routers)
                or JOB_PACKAGES & facts.top_imports
                or self._facts(relpath).jobs
                or (self._facts(relpath).entry and self.imports.get(relpath) and not NOT_DEPLOYED_PATH.search(relpath))
            )
        }
        if not apps:
            apps = {r for r, f in modules.items() if not is_test_module(r) and (f.routes or f.routers)}
        return apps | {r for r in self.index.unparsed if not is_test_module(r) and not NOT_DEPLOYED_PATH.search(r)}

    @cached_property
    def reachable(self) -> set[str]:
        seen: set[str] = set()
        todo = list(self.seeds)
        while todo:
            relpath = todo.pop()
            if relpath in seen:
                continue
            seen.add(relpath)
            todo.extend(self.imports.get(relpath, ()))
            todo.extend(self._packages.get(relpath, ()))
        return seen

    @cached_property
    def _dynamic_imports(self) -> bool:
        """The app loads modules by name somewhere: a module nothing imports may still be loaded."""
        return any(self._facts(relpath).dynamic_imports for relpath in self.reachable)

    @cached_property
    def has_app(self) -> bool:
        return bool(self.seeds - set(self.index.unparsed))

    @cached_property
    def table(self) -> dict[str, str]:
        return {relpath: self._classify(relpath) for relpath in self.index.modules}

    def _classify(self, relpath: str) -> str:
        if is_test_module(relpath):
            return TEST
        if relpath in self.reachable:
            return APP
        facts = self.index.modules[relpath]
        role_facts = self._facts(relpath)
        if role_facts.cli_functions or (CLI_PACKAGES & facts.top_imports and (role_facts.main_guard or not self.has_app)):
            return CLI
        if role_facts.main_guard or NOT_DEPLOYED_PATH.search(relpath):
            return SCRIPT
        if not self.has_app:
            return UNKNOWN
        if self.index.unparsed:
            return UNKNOWN  # an unreadable file may be what imports it
        if CLI_PACKAGES & facts.top_imports:
            return CLI
        top = facts.top_imports
        if (OUTBOUND_PACKAGES & top or OUTBOUND_MODULES & role_facts.imports) and not (facts.routes or facts.routers):
            return CLIENT
        if not self.imported_by.get(relpath) and not self._dynamic_imports:
            return DEAD
        return SUPPORT

    # -- the API rules and other index users read -----------------------------------------

    def role(self, relpath: str) -> str:
        """One of app, unknown, test, cli, script, client, dead, support ('unknown' for unscanned paths)."""
        return self.table.get(relpath, UNKNOWN)

    def is_request_code(self, relpath: str, line: int | None = None) -> bool:
        """Whether code at relpath (and line) may run while the deployed app handles a request or a job."""
        if self.role(relpath) not in REQUEST_ROLES:
            return False
        if line is None:
            return True
        facts = self._facts(relpath) if relpath in self.index.modules else RoleFacts()
        if any(start <= line <= end for start, end in facts.cli_functions):
            return False
        return not any(start <= line <= end for start, end in self._dev_only_handlers.get(relpath, ()))

    @cached_property
    def _dev_only_handlers(self) -> dict[str, list[tuple[int, int]]]:
        table: dict[str, list[tuple[int, int]]] = {}
        for route in self.index.routes:
            if self.not_deployed(route):
                start = min(route.span.line, route.handler.span.line)
                table.setdefault(route.relpath, []).append((start, route.handler.span.end_line))
        return table

    @cached_property
    def dev_only_routers(self) -> dict[str, str]:
        """Qualified router/blueprint -> the condition it is mounted under, when it is mounted only in development."""
        found: dict[str, str] = {}
        conditional: dict[str, list[str | None]] = {}
        for relpath, facts in self.index.modules.items():
            blocks = self._facts(relpath).dev_only
            for mount in facts.mounts:
                child = self.index._canonical_router(mount.child, facts)
                condition = next((c for start, end, c in blocks if start <= mount.span.line <= end), None)
                conditional.setdefault(child, []).append(condition)
        for child, conditions in conditional.items():
            if conditions and all(conditions):
                found[child] = conditions[0]
        return found

    def not_deployed(self, route) -> str | None:
        """Why a route does not run in production (it is public by design for PR201), or None."""
        router, seen = route.router, set()
        while router and router not in seen:  # a router mounted in a dev-only router is dev-only too
            seen.add(router)
            if router in self.dev_only_routers:
                return f"mounted only when {self.dev_only_routers[router]}"
            parents = self.index._mounts_by_child.get(router)
            router = parents[0][0] if parents else None
        if self.role(route.relpath) == DEAD:
            return "in a module nothing imports"
        return None

    # -- what unparsed files define --------------------------------------------------------

    def absence_unknown(self, code: str) -> str | None:
        """An unread file that may hold what rule `code` says is missing (its relpath), or None."""
        where = ABSENCE_CLAIMS.get(code)
        if where is None:
            return None
        return next((r for r in sorted(self.index.unparsed) if is_test_module(r) == (where == "test")), None)

    @cached_property
    def _unparsed_modules(self) -> dict[str, str]:
        from auditor.index.extract import module_name_for

        table = {}
        for relpath in self.index.unparsed:
            module = module_name_for(relpath)
            parts = module.split(".")
            for i in range(len(parts)):  # scanned from above the package root: match suffixes too
                table.setdefault(".".join(parts[i:]), relpath)
        return table

    def is_unknown(self, qualified: str, _depth: int = 0) -> bool:
        """Whether a qualified name points into a project file no grammar could read (directly or
        through re-exports): what it does is unknown, so no rule should judge it absent."""
        if not self.index.unparsed or _depth > 5:
            return False
        parts = qualified.split(".")
        for cut in range(len(parts), 0, -1):
            if ".".join(parts[:cut]) in self._unparsed_modules:
                return True
        located = self.index.module_of(qualified)
        if located is None:
            return False
        relpath, name = located
        facts = self.index.modules[relpath]
        head, _, rest = name.partition(".")
        if head in facts.imports and head not in facts.functions:
            target = facts.imports[head] + (f".{rest}" if rest else "")
            return target != qualified and self.is_unknown(target, _depth + 1)
        return False

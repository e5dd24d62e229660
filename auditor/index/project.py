"""ProjectIndex: what the project is, assembled from every module's facts.

Rules query it instead of re-walking trees: the routes with their full paths and the auth
that guards them (route, router, app and hook level, names resolved across the project's
own modules), ORM models and SQL tables, connection sites, env reads, logging setup.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from auditor.index.facts import CallSite, Function, Hook, IndexDecl, Model, ModuleFacts, Span
from auditor.index.parsing import parse_tree
from auditor.index.sql import SqlTable, parse_sql

AUTH_DECORATOR = re.compile(
    r"(login_required|jwt_required|auth_required|requires_auth|token_required|permission_required|"
    r"roles_required|roles_accepted|admin_required|fresh_jwt_required|authenticated|require_login|require_user)$"
)
AUTH_NAME = re.compile(
    r"(current_user|current_active_user|get_user|require_user|authenticate|auth|verify_token|verify_jwt|"
    r"oauth2_scheme|api_key|token|login_required|principal|bearer)",
    re.I,
)
ROLE_NAME = re.compile(r"(admin|superuser|staff|role|permission|scope)", re.I)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TEST_PATH = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)")


NOT_DEPLOYED = re.compile(r"(^|/)(scripts?|migrations|alembic|docs|examples?)/|(^|/)(manage|setup|noxfile|fabfile)\.py$")


def is_test_path(relpath: str) -> bool:
    return TEST_PATH.search(relpath) is not None


def is_script_path(relpath: str) -> bool:
    """Tests, scripts, docs and migrations: code that does not run inside the deployed app."""
    return is_test_path(relpath) or NOT_DEPLOYED.search(relpath) is not None


@dataclass
class Route:
    framework: str
    methods: list[str]
    path: str
    relpath: str
    handler: Function
    span: Span
    dependencies: list[str]  # every Depends target: params, decorator, router, app
    decorators: list[str]
    hooks: list[str]  # before_request functions that run before this route
    router: str  # qualified name of the app/router/blueprint it hangs on
    auth: list[str] = field(default_factory=list)  # the names recognised as authentication
    role_checked: bool = False

    @property
    def is_mutating(self) -> bool:
        return bool(MUTATING.intersection(self.methods))

    @property
    def authenticated(self) -> bool:
        return bool(self.auth)

    @property
    def line(self) -> int:
        return self.span.line

    @property
    def col(self) -> int:
        return self.span.col

    @property
    def end_line(self) -> int:
        return self.span.end_line

    def label(self) -> str:
        return f"{'/'.join(self.methods)} {self.path}"


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path or "/"
    return (prefix.rstrip("/") + "/" + path.lstrip("/")).rstrip("/") or "/" if path else prefix


class ProjectIndex:
    def __init__(
        self,
        root: Path,
        modules: dict[str, ModuleFacts],
        other_files: list[str] | None = None,
        public_routes: list[str] | None = None,
    ) -> None:
        self.root = root
        self.modules = modules
        self.other_files = other_files or []
        self.public_routes = public_routes or []  # route globs the config declares public by design
        self.by_module: dict[str, str] = {facts.module: relpath for relpath, facts in modules.items()}
        self._trees: dict[str, ast.Module] = {}
        self._sources: dict[str, str] = {}
        self.unparsed: dict[str, str] = {}  # relpath -> why no grammar could read it (set by the engine)

    @cached_property
    def roles(self):
        """What each module is for (app, test, cli, script, client, dead...): auditor/index/roles.py."""
        from auditor.index.roles import CodeRoles

        return CodeRoles(self)

    def is_unknown(self, qualified: str) -> bool:
        """The name points into a project file that could not be parsed: what it does is unknown."""
        return self.roles.is_unknown(qualified)

    # -- reading files (only for the few files a project rule needs to look into) -----------------

    def source(self, relpath: str) -> str:
        if relpath not in self._sources:
            try:
                self._sources[relpath] = (self.root / relpath).read_text(encoding="utf-8", errors="replace")
            except OSError:
                self._sources[relpath] = ""
        return self._sources[relpath]

    def tree(self, relpath: str) -> ast.Module:
        """The module's tree; kept from the scan when it ran in-process, else parsed on demand."""
        if relpath not in self._trees:
            try:
                self._trees[relpath] = parse_tree(self.source(relpath))  # newer grammar too, same lines
            except (SyntaxError, ValueError):
                self._trees[relpath] = ast.Module(body=[], type_ignores=[])
        return self._trees[relpath]

    def function_node(self, relpath: str, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        node: ast.AST = self.tree(relpath)
        for part in qualname.split("."):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and child.name == part:
                    node = child
                    break
            else:
                return None
        return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None

    # -- name resolution across the project's own modules ---------------------------------------

    def module_of(self, qualified: str) -> tuple[str, str] | None:
        """Split `app.auth.get_current_user` into (relpath of app/auth.py, 'get_current_user')."""
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            relpath = self.by_module.get(module)
            if relpath is None and cut == len(parts) - 1:
                # Projects scanned from above their package root: match on a module-name suffix.
                relpath = self._suffix_module(module)
            if relpath is not None:
                return relpath, ".".join(parts[cut:])
        return None

    @cached_property
    def _suffixes(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for module, relpath in self.by_module.items():
            parts = module.split(".")
            for i in range(1, len(parts)):
                table.setdefault(".".join(parts[i:]), relpath)
        return table

    def _suffix_module(self, module: str) -> str | None:
        return self._suffixes.get(module)

    def resolve_function(self, qualified: str, _depth: int = 0) -> tuple[str, Function] | None:
        """The project function a qualified name points to, following re-exports."""
        located = self.module_of(qualified)
        if located is None or _depth > 5:
            return None
        relpath, name = located
        facts = self.modules[relpath]
        if name in facts.functions:
            return relpath, facts.functions[name]
        head, _, rest = name.partition(".")
        if head in facts.imports:  # re-exported: from .auth import get_current_user
            target = facts.imports[head] + (f".{rest}" if rest else "")
            if target != qualified:
                return self.resolve_function(target, _depth + 1)
        return None

    def qualify(self, name: str, facts: ModuleFacts) -> str:
        """A name as written in a module (`router`, `app.routers.tasks.router`) made qualified."""
        head = name.partition(".")[0]
        if head in facts.imports or "." in name and self.module_of(name):
            return name
        return f"{facts.module}.{name}" if facts.module else name

    # -- what the project is -------------------------------------------------------------------

    @cached_property
    def frameworks(self) -> set[str]:
        found = set()
        for facts in self.modules.values():
            for router in facts.routers:
                found.add(router.kind.partition("-")[0])
            for route in facts.routes:
                found.add(route.framework)
        found.update(route.framework for route in self.openapi_routes)
        return found

    @cached_property
    def imported_packages(self) -> set[str]:
        return set().union(*(facts.top_imports for facts in self.modules.values())) if self.modules else set()

    @cached_property
    def routers(self) -> dict[str, tuple[str, object]]:
        """Qualified variable -> (relpath, RouterDecl)."""
        table = {}
        for relpath, facts in self.modules.items():
            for router in facts.routers:
                table[self.qualify(router.var, facts)] = (relpath, router)
        return table

    def _canonical_router(self, name: str, facts: ModuleFacts) -> str:
        qualified = self.qualify(name, facts)
        for _ in range(5):
            if qualified in self.routers:
                return qualified
            located = self.module_of(qualified)
            if located is None:
                return qualified
            relpath, rest = located
            module_facts = self.modules[relpath]
            head, _, tail = rest.partition(".")
            if head in module_facts.imports:
                qualified = module_facts.imports[head] + (f".{tail}" if tail else "")
            else:
                full = f"{module_facts.module}.{rest}"
                if full == qualified:
                    return qualified
                qualified = full
        return qualified

    @cached_property
    def _mounts_by_child(self) -> dict[str, list[tuple[str, object]]]:
        table: dict[str, list[tuple[str, object]]] = {}
        for facts in self.modules.values():
            for mount in facts.mounts:
                child = self._canonical_router(mount.child, facts)
                parent = self._canonical_router(mount.parent, facts)
                table.setdefault(child, []).append((parent, mount))
        return table

    @cached_property
    def _hooks_by_owner(self) -> dict[str, list[Hook]]:
        table: dict[str, list[Hook]] = {}
        for facts in self.modules.values():
            for hook in facts.hooks:
                table.setdefault(self._canonical_router(hook.owner, facts), []).append(
                    Hook(hook.owner, self.qualify(hook.function, facts) if "." not in hook.function else hook.function, hook.span)
                )
        return table

    def _chain(self, router: str, seen: frozenset[str] = frozenset()) -> tuple[str, list[str], list[str]]:
        """(prefix, dependencies, hooks) accumulated from the app down to `router`."""
        decl = self.routers.get(router)
        own_prefix = decl[1].prefix if decl else ""
        own_deps = list(decl[1].dependencies) if decl else []
        hooks = [h.function for h in self._hooks_by_owner.get(router, [])]
        parents = self._mounts_by_child.get(router, [])
        if not parents or router in seen:
            return own_prefix, own_deps, hooks
        parent, mount = parents[0]
        parent_prefix, parent_deps, parent_hooks = self._chain(parent, seen | {router})
        kind = decl[1].kind if decl else ""
        if kind == "flask-blueprint" and mount.prefix is not None:
            prefix = _join(parent_prefix, mount.prefix)  # register_blueprint(url_prefix=) replaces the blueprint's
        else:
            prefix = _join(_join(parent_prefix, mount.prefix or ""), own_prefix) if (mount.prefix or own_prefix) else parent_prefix
        if kind == "flask-blueprint":
            parent_hooks = [h for h in parent_hooks]  # app-level before_request runs for blueprints too
        return prefix, [*parent_deps, *mount.dependencies, *own_deps], [*parent_hooks, *hooks]

    @cached_property
    def routes(self) -> list[Route]:
        found: list[Route] = []
        for relpath, facts in sorted(self.modules.items()):
            for decl in facts.routes:
                handler = facts.functions.get(decl.function)
                if handler is None:
                    continue
                router = self._canonical_router(decl.owner, facts)
                prefix, deps, hooks = self._chain(router)
                param_deps = [d for d in (self.param_dependency(p, facts) for p in handler.params) if d]
                route = Route(
                    framework=decl.framework,
                    methods=decl.methods,
                    path=_join(prefix, decl.path),
                    relpath=relpath,
                    handler=handler,
                    span=decl.span,
                    dependencies=[*deps, *decl.dependencies, *param_deps],
                    decorators=[d for d in handler.decorators if not d.startswith(decl.owner + ".")],
                    hooks=hooks,
                    router=router,
                )
                self._recognise_auth(route, facts)
                found.append(route)
        return found + self.openapi_routes

    @cached_property
    def openapi_routes(self) -> list[Route]:
        """Routes a Connexion app declares in its OpenAPI document (auditor/index/openapi_routes.py)."""
        from auditor.index.openapi_routes import openapi_routes

        return openapi_routes(self) if "connexion" in self.imported_packages else []

    def _recognise_auth(self, route: Route, facts: ModuleFacts) -> None:
        for dep in route.dependencies:
            verdict = self.is_auth_callable(self.qualify(dep, facts) if "." not in dep else dep)
            if verdict:
                route.auth.append(dep)
                route.role_checked |= verdict == "role"
        for decorator in route.decorators:
            qualified = decorator if "." in decorator else self.qualify(decorator, facts)  # defined in this module
            verdict = self.is_auth_callable(qualified, decorator=True)
            if verdict:
                route.auth.append(decorator)
                route.role_checked |= verdict == "role"
        for hook in route.hooks:
            resolved = self.resolve_function(hook)
            if resolved and resolved[1].checks_auth:
                route.auth.append(hook)
                route.role_checked |= resolved[1].checks_role
        if route.handler.checks_auth:  # checks the token/session itself
            route.auth.append(route.handler.qualname)
        route.role_checked |= route.handler.checks_role
        route.auth = list(dict.fromkeys(route.auth))

    def param_dependency(self, param, facts: ModuleFacts) -> str | None:
        """The Depends(...) target of a parameter, also through an Annotated alias imported from another module."""
        if param.depends_on or not param.annotation:
            return param.depends_on
        head, _, rest = param.annotation.partition(".")
        if head not in facts.imports or not re.fullmatch(r"[\w.]+", param.annotation):
            return None
        located = self.module_of(facts.imports[head] + (f".{rest}" if rest else ""))
        if located is None:
            return None
        return self.modules[located[0]].dependency_aliases.get(located[1])

    def is_auth_callable(self, qualified: str, decorator: bool = False, _depth: int = 0) -> str | None:
        """'role' / 'auth' when calling or decorating with `qualified` authenticates, else None."""
        resolved = self.resolve_function(qualified)
        tail = qualified.rpartition(".")[2]
        if resolved is not None:
            function = resolved[1]
            checks_auth = function.checks_auth
            checks_role = function.checks_role or bool(ROLE_NAME.search(tail) and checks_auth)
            if not checks_auth and _depth < 4:
                for param in function.params:  # a dependency that itself depends on auth
                    depends_on = self.param_dependency(param, self.modules[resolved[0]])
                    if depends_on:
                        inner = self.is_auth_callable(depends_on if "." in depends_on else self.qualify(depends_on, self.modules[resolved[0]]), _depth=_depth + 1)
                        if inner:
                            checks_auth = True
                            checks_role |= inner == "role"
                decorators = list(function.decorators)
                if function.wraps_inner:  # def admin_required(view): @login_required def wrapper(...)
                    prefix = function.qualname + "."
                    facts = self.modules[resolved[0]]
                    decorators += [d for name, f in facts.functions.items() if name.startswith(prefix) for d in f.decorators]
                for decorator_name in decorators:
                    inner = self.is_auth_callable(decorator_name, True, _depth + 1)
                    if inner:
                        checks_auth = True
                        checks_role |= inner == "role"
            if checks_auth:
                return "role" if checks_role else "auth"
            return None
        # Outside the project (fastapi-users, flask-login, flask-jwt-extended...): go by name.
        if decorator:
            return ("role" if ROLE_NAME.search(tail) else "auth") if AUTH_DECORATOR.search(tail) else None
        if AUTH_NAME.search(tail):
            return "role" if ROLE_NAME.search(tail) else "auth"
        return None

    @cached_property
    def has_auth(self) -> bool:
        return any(route.authenticated for route in self.routes)

    # -- data -------------------------------------------------------------------------------------

    @cached_property
    def models(self) -> list[tuple[str, Model]]:
        return [(relpath, model) for relpath, facts in sorted(self.modules.items()) for model in facts.models]

    def model_by_table(self, table: str) -> tuple[str, Model] | None:
        for relpath, model in self.models:
            if model.table == table or model.name == table:
                return relpath, model
        return None

    @cached_property
    def indexes(self) -> list[tuple[str, IndexDecl]]:
        """Indexes declared outside models: module-level Index(...) and migrations' op.create_index(...)."""
        return [(relpath, decl) for relpath, facts in sorted(self.modules.items()) for decl in facts.indexes]

    @cached_property
    def sql_tables(self) -> list[SqlTable]:
        tables: list[SqlTable] = []
        for relpath in self.other_files:
            if relpath.endswith(".sql"):
                tables.extend(parse_sql(self.source(relpath), relpath))
        for relpath, facts in sorted(self.modules.items()):
            if is_test_path(relpath):
                continue  # tables a test creates for itself are not the app's schema
            for line, text in facts.sql_strings:
                tables.extend(parse_sql(text + ("" if text.rstrip().endswith(";") else ";"), relpath, line))
        return tables

    @cached_property
    def connections(self) -> list[tuple[str, CallSite]]:
        return [(relpath, site) for relpath, facts in sorted(self.modules.items()) for site in facts.connections]

    @cached_property
    def env_reads(self) -> list[tuple[str, object]]:
        return [(relpath, read) for relpath, facts in sorted(self.modules.items()) for read in facts.env_reads]

    @cached_property
    def logging_setup(self) -> list[tuple[str, CallSite]]:
        return [(relpath, site) for relpath, facts in sorted(self.modules.items()) for site in facts.logging_setup]

    @cached_property
    def databases(self) -> set[str]:
        """sqlite / postgresql / mysql / mongodb, from connection calls and URLs in the code."""
        found = set()
        for _, site in self.connections:
            text = " ".join([site.func, *site.args, *site.kwargs.values()]).lower()
            for name, words in {
                "sqlite": ("sqlite",),
                "postgresql": ("postgres", "psycopg", "asyncpg"),
                "mysql": ("mysql",),
                "mongodb": ("mongo",),
            }.items():
                if any(w in text for w in words):
                    found.add(name)
        for _, read in self.env_reads:
            default = (read.default or "").lower()
            if "postgres" in default:
                found.add("postgresql")
            elif "mysql" in default:
                found.add("mysql")
            elif "sqlite" in default:
                found.add("sqlite")
        return found

    def uses_migrations(self) -> bool:
        """Alembic, Flask-Migrate or Django migrations present in the project."""
        packages = self.imported_packages
        if {"alembic", "flask_migrate"} & packages:
            return True
        if any(p.endswith("alembic.ini") or "/migrations/versions/" in p or "/alembic/versions/" in p for p in self.other_files):
            return True
        return any("/migrations/" in p or p.startswith("migrations/") for p in self.modules)

    def summary(self) -> dict:
        """What was detected, in a few words each (for the wizard's start screen and text report)."""
        auth_styles = set()
        for route in self.routes:
            for name in route.auth:
                auth_styles.add("dependency" if route.framework == "fastapi" and name in route.dependencies else "decorator/hook")
        jwt = bool({"jwt", "jose", "flask_jwt_extended"} & self.imported_packages)
        return {
            "frameworks": sorted(self.frameworks),
            "databases": sorted(self.databases),
            "auth": ("JWT " if jwt else "") + (", ".join(sorted(auth_styles)) or "none found"),
            "routes": len(self.routes),
            "models": len(self.models) + len([t for t in self.sql_tables if not t.name.startswith("__")]),
        }

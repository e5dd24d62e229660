"""Extract ModuleFacts from one module during the shared walk (see auditor.walk)."""

from __future__ import annotations

import ast
import re

from auditor.index.facts import (
    CallSite,
    Column,
    EnvRead,
    Function,
    FunctionTable,
    Hook,
    IndexDecl,
    Model,
    ModuleFacts,
    Mount,
    Param,
    Relationship,
    RouteDecl,
    RouterDecl,
    Span,
)
from auditor.walk import FUNCTIONS, ModuleContext, const_str, dotted, kwarg

ROUTER_FACTORIES = {
    "fastapi.FastAPI": "fastapi-app",
    "fastapi.applications.FastAPI": "fastapi-app",
    "fastapi.APIRouter": "fastapi-router",
    "fastapi.routing.APIRouter": "fastapi-router",
    "flask.Flask": "flask-app",
    "flask.Blueprint": "flask-blueprint",
    "flask.blueprints.Blueprint": "flask-blueprint",
    "quart.Quart": "flask-app",
    "apiflask.APIFlask": "flask-app",
    "apiflask.APIBlueprint": "flask-blueprint",
}
HTTP_METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}
CONNECTION_FACTORIES = {
    "sqlalchemy.create_engine",
    "sqlalchemy.engine.create_engine",
    "sqlalchemy.ext.asyncio.create_async_engine",
    "sqlmodel.create_engine",
    "psycopg2.connect",
    "psycopg.connect",
    "psycopg.AsyncConnection.connect",
    "sqlite3.connect",
    "aiosqlite.connect",
    "pymongo.MongoClient",
    "motor.motor_asyncio.AsyncIOMotorClient",
    "asyncpg.connect",
    "asyncpg.create_pool",
    "psycopg_pool.ConnectionPool",
    "psycopg_pool.AsyncConnectionPool",
    "psycopg2.pool.SimpleConnectionPool",
    "psycopg2.pool.ThreadedConnectionPool",
    "mysql.connector.connect",
    "pymysql.connect",
    "flask_sqlalchemy.SQLAlchemy",
}
LOGGING_SETUP = {
    "logging.basicConfig",
    "logging.config.dictConfig",
    "logging.config.fileConfig",
    "structlog.configure",
    "loguru.logger.add",
    "logging.getLogger.addHandler",
}
AUTH_CALLS = re.compile(
    r"(^|\.)(decode|decode_token|verify_token|verify_jwt_in_request|get_jwt_identity|verify_id_token|"
    r"jwt_required|login_required|authenticate|get_current_user|current_user|verify_password_token)$"
)
ROLE_WORDS = re.compile(r"(^|_)(role|roles|is_admin|is_staff|is_superuser|permission|permissions|scopes|is_owner)$")
COLUMN_FACTORIES = {"Column", "mapped_column", "Field"}
DATABASE_URL = re.compile(r"^(postgres(ql)?|mysql|mariadb|sqlite|mongodb(\+srv)?|redis|oracle|mssql)(\+\w+)?://")
MAIN_GUARD = "__main__"


def module_name_for(relpath: str) -> str:
    name = relpath[:-3] if relpath.endswith(".py") else relpath
    parts = [p for p in name.split("/") if p]
    if parts and parts[-1] == "__init__":
        parts.pop()
    if parts and parts[0] == "src" and len(parts) > 1:
        parts.pop(0)
    return ".".join(parts)


def span(node: ast.AST) -> Span:
    line = getattr(node, "lineno", 1)
    return Span(line, getattr(node, "col_offset", 0), getattr(node, "end_lineno", None) or line)


def src(node: ast.AST | None, limit: int = 120) -> str | None:
    if node is None:
        return None
    try:
        text = ast.unparse(node)
    except Exception:  # very deep or odd nodes
        return None
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _status_code(node: ast.AST | None) -> int | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    name = dotted(node) or ""
    match = re.search(r"HTTP_(\d{3})", name)
    return int(match.group(1)) if match else None


class FactExtractor:
    """A visitor for the Dispatcher; `facts` holds the result after the walk."""

    def __init__(self) -> None:
        self._functions: dict[int, Function] = {}

    def begin(self, ctx: ModuleContext) -> None:
        self.facts = ModuleFacts(
            relpath=ctx.relpath,
            module=ctx.module_name,
            imports=ctx.imports,
            functions=FunctionTable(),
            classes={},
            routers=[],
            routes=[],
            mounts=[],
            hooks=[],
            models=[],
            connections=[],
            env_reads=[],
            logging_setup=[],
            middleware=[],
            exception_handlers=[],
            has_main_guard=False,
            top_imports=set(),
        )
        self._functions = {}

    # -- functions -------------------------------------------------------------------------

    def _qualname(self, node: ast.AST, ctx: ModuleContext) -> str:
        names = [p.name for p in ctx.parents if isinstance(p, (*FUNCTIONS, ast.ClassDef))]
        return ".".join([*names, node.name])

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: ModuleContext) -> None:
        params = []
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        for arg, default in [*zip(positional, defaults), *zip(args.kwonlyargs, args.kw_defaults)]:
            params.append(self._param(arg, default, ctx))
        if args.vararg:
            params.append(Param(args.vararg.arg, src(args.vararg.annotation), kind="vararg"))
        if args.kwarg:
            params.append(Param(args.kwarg.arg, src(args.kwarg.annotation), kind="kwarg"))
        decorators = [ctx.resolve(d) or "" for d in node.decorator_list]
        function = Function(
            name=node.name,
            qualname=self._qualname(node, ctx),
            span=span(node),
            is_async=isinstance(node, ast.AsyncFunctionDef),
            decorators=decorators,
            params=params,
            calls=[],
            checks_auth=False,  # from the body; dependencies are judged by the index
            checks_role=False,
        )
        self._functions[id(node)] = function
        self.facts.functions[function.qualname] = function
        for decorator in node.decorator_list:
            self._decorator(decorator, node, function, ctx)

    visit_AsyncFunctionDef = visit_FunctionDef

    def leave_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: ModuleContext) -> None:
        function = self._functions.get(id(node))
        if function is None:
            return
        function.calls = sorted(set(function.calls))
        last = node.body[-1] if node.body else None
        inner = [n for n in node.body if isinstance(n, FUNCTIONS)]
        if inner and isinstance(last, ast.Return) and isinstance(last.value, ast.Name):
            function.wraps_inner = last.value.id in {n.name for n in inner}
            if function.wraps_inner:  # a decorator: it checks what its wrapper checks
                for sub in inner:
                    wrapped = self._functions.get(id(sub))
                    if wrapped:
                        function.checks_auth |= wrapped.checks_auth
                        function.checks_role |= wrapped.checks_role
                        function.calls = sorted({*function.calls, *wrapped.calls})
        parent = self._current(ctx)
        if parent is not None:  # nested helpers: their checks count for the enclosing function
            parent.checks_auth |= function.checks_auth
            parent.checks_role |= function.checks_role

    leave_AsyncFunctionDef = leave_FunctionDef

    def _param(self, arg: ast.arg, default: ast.expr | None, ctx: ModuleContext) -> Param:
        annotation = arg.annotation
        depends_on = self._annotated_depends(annotation, ctx)
        if depends_on is None and isinstance(annotation, (ast.Name, ast.Attribute)):
            depends_on = self.facts.dependency_aliases.get(dotted(annotation) or "")  # CurrentUser
        if default is not None:
            depends_on = depends_on or self._depends_target(default, ctx)
        return Param(arg.arg, src(annotation), src(default), depends_on)

    def _annotated_depends(self, annotation: ast.AST | None, ctx: ModuleContext) -> str | None:
        """`Annotated[User, Depends(get_current_user)]` -> the dependency's qualified name."""
        if isinstance(annotation, ast.Subscript) and (dotted(annotation.value) or "").endswith("Annotated"):
            elts = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
            for elt in elts[1:]:
                target = self._depends_target(elt, ctx)
                if target:
                    return target
        return None

    def _depends_target(self, node: ast.AST, ctx: ModuleContext) -> str | None:
        if isinstance(node, ast.Call) and (ctx.resolve(node.func) or "").rpartition(".")[2] in {"Depends", "Security"}:
            if node.args:
                return ctx.resolve(node.args[0]) or src(node.args[0])
            target = kwarg(node, "dependency")
            return ctx.resolve(target) if target is not None else "<annotation>"
        return None

    def _current(self, ctx: ModuleContext) -> Function | None:
        node = ctx.enclosing_function()
        return self._functions.get(id(node)) if node is not None else None

    # -- decorators: routes, hooks, handlers ----------------------------------------------------

    def _decorator(self, decorator: ast.expr, node: ast.AST, function: Function, ctx: ModuleContext) -> None:
        call = decorator if isinstance(decorator, ast.Call) else None
        func = call.func if call else decorator
        if not isinstance(func, ast.Attribute):
            return
        owner = ctx.resolve(func.value) or ""
        attr = func.attr
        if attr in {"before_request", "before_app_request"}:
            self.facts.hooks.append(Hook(owner, f"{ctx.module_name}.{function.qualname}", span(decorator)))
            return
        if attr in {"exception_handler", "errorhandler", "app_errorhandler"} and call:
            self.facts.exception_handlers.append(self._callsite(call, owner + "." + attr, ctx))
            return
        if attr == "middleware" and call:
            self.facts.middleware.append(self._callsite(call, owner + "." + attr, ctx))
            return
        if call is None or not (attr in HTTP_METHODS or attr in {"route", "api_route"}):
            return
        path = const_str(call.args[0]) if call.args else const_str(kwarg(call, "path") or kwarg(call, "rule"))
        if path is None:
            return
        framework = self._framework_for(owner, ctx)
        if framework is None:
            return
        if attr in HTTP_METHODS:
            methods = [attr.upper()]
        else:
            methods_node = kwarg(call, "methods")
            methods = [
                m.upper() for m in (const_str(e) for e in getattr(methods_node, "elts", []) or []) if m
            ] or ["GET"]
        dependencies = self._dependency_list(kwarg(call, "dependencies"), ctx)
        self.facts.routes.append(
            RouteDecl(framework, owner, methods, path, function.qualname, span(node), dependencies)
        )

    def _framework_for(self, owner: str, ctx: ModuleContext) -> str | None:
        for router in self.facts.routers:
            if router.var == owner:
                return router.kind.partition("-")[0]
        if ctx.imports_module("fastapi"):
            return "fastapi"
        if ctx.imports_module("flask") or ctx.imports_module("quart") or ctx.imports_module("apiflask"):
            return "flask"
        return None

    def _dependency_list(self, node: ast.AST | None, ctx: ModuleContext) -> list[str]:
        found = []
        for elt in getattr(node, "elts", []) or []:
            target = self._depends_target(elt, ctx)
            if target:
                found.append(target)
        return found

    # -- classes: ORM models ------------------------------------------------------------------------

    def visit_ClassDef(self, node: ast.ClassDef, ctx: ModuleContext) -> None:
        bases = [ctx.resolve(b) or "" for b in node.bases]
        qualname = self._qualname(node, ctx)
        self.facts.classes[qualname] = bases
        model = self._model(node, bases, ctx)
        if model is not None:
            self.facts.models.append(model)

    def _model(self, node: ast.ClassDef, bases: list[str], ctx: ModuleContext) -> Model | None:
        table_kw = any(k.arg == "table" and getattr(k.value, "value", None) is True for k in node.keywords)
        # class Item(ItemBase, table=True): a SQLModel table through a project base class
        is_sqlmodel = any(b.endswith("SQLModel") for b in bases) or table_kw
        if is_sqlmodel and not any(k.arg == "table" for k in node.keywords):
            return None  # a plain SQLModel schema, not a table
        table = None
        columns: list[Column] = []
        relationships: list[Relationship] = []
        indexed: list[list[str]] = []
        unique_sets: list[list[str]] = []
        abstract = False
        for stmt in node.body:
            target, annotation, value = None, None, None
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                target, value = stmt.targets[0].id, stmt.value
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                target, annotation, value = stmt.target.id, stmt.annotation, stmt.value
            if target is None:
                continue
            if target == "__tablename__":
                table = const_str(value)
                continue
            if target == "__abstract__":
                abstract = isinstance(value, ast.Constant) and value.value is True
                continue
            if target == "__table__":  # mapped onto an explicit Table(...) (not a bare annotation)
                table = table or (node.name.lower() if value is not None else None)
                continue
            if target == "__table_args__":
                self._table_args(value, indexed, unique_sets)
                continue
            callee = (dotted(value) or "").rpartition(".")[2] if isinstance(value, ast.Call) else ""
            if callee in {"relationship", "Relationship"}:
                rel_target = const_str(value.args[0]) if value.args else None
                relationships.append(
                    Relationship(target, rel_target or src(annotation) or "", const_str(kwarg(value, "lazy")), span(stmt))
                )
                continue
            if callee in COLUMN_FACTORIES and (callee != "Field" or is_sqlmodel):
                columns.append(self._column(target, value, annotation, stmt))
            elif annotation is not None and value is None and (is_sqlmodel or "Mapped" in (src(annotation) or "")):
                column = self._column(target, None, annotation, stmt)
                if column.type not in {"list", "List"}:
                    columns.append(column)
            elif annotation is not None and is_sqlmodel and not isinstance(value, ast.Call):
                columns.append(self._column(target, None, annotation, stmt, default=src(value)))
        if not columns and table is None:
            return None
        kind = "sqlmodel" if is_sqlmodel else ("flask-sqlalchemy" if any(b.endswith(".Model") for b in bases) else "sqlalchemy")
        # A declarative class without __tablename__ is a mixin or maps onto its parent's table.
        abstract = abstract or (kind == "sqlalchemy" and table is None)
        model = Model(node.name, table or node.name.lower(), kind, span(node), columns, relationships, indexed, unique_sets)
        model.abstract = abstract
        return model

    def _column(self, name: str, call: ast.Call | None, annotation: ast.expr | None, stmt: ast.stmt, default: str | None = None) -> Column:
        column = Column(name=name, type="", span=span(stmt), default=default)
        ann = src(annotation, 200) or ""
        inner = re.sub(r"^Mapped\[(.*)\]$", r"\1", ann)
        optional = bool(re.search(r"Optional\[|\| None|None \|", inner))
        if annotation is not None:
            column.nullable = optional
            column.type = re.sub(r"^Optional\[(.*)\]$|^(.*?) \| None$", lambda m: m.group(1) or m.group(2), inner)
        if call is not None:
            for arg in call.args:
                callee = (dotted(arg) or "").rpartition(".")[2]
                if callee == "ForeignKey" and isinstance(arg, ast.Call) and arg.args:
                    column.foreign_key = const_str(arg.args[0]) or src(arg.args[0])
                elif callee and callee != "ForeignKey":  # Column("name", String(50)): the string is skipped
                    column.type = src(arg) or column.type
            for keyword in call.keywords:
                value = keyword.value
                flag = value.value if isinstance(value, ast.Constant) else None
                if keyword.arg == "primary_key":
                    column.primary_key = flag is True
                elif keyword.arg == "index":
                    column.index = flag is True
                elif keyword.arg == "unique":
                    column.unique = flag is True
                elif keyword.arg == "nullable":
                    column.nullable = flag if isinstance(flag, bool) else None
                elif keyword.arg == "foreign_key":
                    column.foreign_key = const_str(value) or src(value)
                elif keyword.arg in {"default", "default_factory", "onupdate"}:
                    column.default = column.default or src(value)
                elif keyword.arg == "server_default":
                    column.server_default = src(value)
                elif keyword.arg in {"sa_type", "type_"}:
                    column.type = src(value) or column.type
                elif keyword.arg == "sa_column" and isinstance(value, ast.Call):
                    inner_col = self._column(name, value, None, stmt)
                    inner_col.nullable = inner_col.nullable if inner_col.nullable is not None else column.nullable
                    return inner_col
        return column

    def _table_args(self, value: ast.AST | None, indexed: list[list[str]], unique_sets: list[list[str]]) -> None:
        for elt in getattr(value, "elts", []) or []:
            if not isinstance(elt, ast.Call):
                continue
            callee = (dotted(elt.func) or "").rpartition(".")[2]
            cols = [c for c in (const_str(a) for a in elt.args) if c]
            if callee == "Index":
                indexed.append(cols[1:] if cols else [])
                if any(k.arg == "unique" and getattr(k.value, "value", False) is True for k in elt.keywords):
                    unique_sets.append(cols[1:])
            elif callee == "UniqueConstraint":
                unique_sets.append(cols)
                indexed.append(cols)
            elif callee == "PrimaryKeyConstraint":  # unique as well: a composite key
                indexed.append(cols)
                unique_sets.append(cols)

    # -- assignments: apps, routers, blueprints -----------------------------------------------------

    def visit_Assign(self, node: ast.Assign | ast.AnnAssign, ctx: ModuleContext) -> None:
        value = node.value
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if isinstance(value, ast.Subscript) and len(targets) == 1 and isinstance(targets[0], ast.Name):
            alias = self._annotated_depends(value, ctx)
            if alias and ctx.enclosing_function() is None and ctx.enclosing_class() is None:
                self.facts.dependency_aliases[targets[0].id] = alias
            return
        if not isinstance(node, ast.Assign) or not isinstance(value, ast.Call) or len(node.targets) != 1:
            return
        target = dotted(node.targets[0])
        factory = ctx.resolve(value.func) or ""
        at_module_level = ctx.enclosing_function() is None and ctx.enclosing_class() is None
        if at_module_level and target is not None and factory.rpartition(".")[2] == "Table" and const_str(value.args[0] if value.args else None):
            self._table_call(target, value, node)
            return
        kind = ROUTER_FACTORIES.get(factory)
        if target is None or kind is None:
            return
        prefix_node = kwarg(value, "prefix") if kind.startswith("fastapi") else kwarg(value, "url_prefix")
        self.facts.routers.append(
            RouterDecl(
                var=target,
                kind=kind,
                prefix=const_str(prefix_node) or "",
                dependencies=self._dependency_list(kwarg(value, "dependencies"), ctx),
                span=span(node),
            )
        )

    visit_AnnAssign = visit_Assign  # CurrentUser: TypeAlias = Annotated[...]

    def _table_call(self, var: str, call: ast.Call, stmt: ast.stmt) -> None:
        """`x = Table("name", metadata, Column(...), ...)`: an association or core table, kept as a model."""
        columns: list[Column] = []
        indexed: list[list[str]] = []
        unique_sets: list[list[str]] = []
        for arg in call.args[1:]:
            callee = (dotted(arg) or "").rpartition(".")[2] if isinstance(arg, ast.Call) else ""
            if callee == "Column" and arg.args and const_str(arg.args[0]):
                column = self._column(const_str(arg.args[0]), arg, None, arg)
                columns.append(column)
        self._table_args(ast.Tuple(elts=list(call.args[1:])), indexed, unique_sets)
        if columns:
            model = Model(var, const_str(call.args[0]), "table", span(stmt), columns, [], indexed, unique_sets)
            self.facts.models.append(model)

    # -- calls: mounts, connections, env reads, logging ------------------------------------------

    def _callsite(self, node: ast.Call, func: str, ctx: ModuleContext) -> CallSite:
        enclosing = self._current(ctx)
        return CallSite(
            func=func,
            span=span(node),
            function=enclosing.qualname if enclosing else None,
            args=[src(a, 160) or "" for a in node.args],
            kwargs={k.arg or "**": src(k.value, 160) or "" for k in node.keywords},
        )

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        func = ctx.resolve(node.func)
        enclosing = self._current(ctx)
        if func is None:
            return
        if enclosing is not None:
            enclosing.calls.append(func)
            self._auth_signals(node, func, enclosing)
        tail = func.rpartition(".")[2]
        if tail in {"include_router", "register_blueprint", "mount"} and node.args and isinstance(node.func, ast.Attribute):
            prefix = kwarg(node, "prefix") or kwarg(node, "url_prefix")
            if tail == "mount":
                prefix = node.args[0]
            child = node.args[1] if tail == "mount" and len(node.args) > 1 else node.args[0]
            self.facts.mounts.append(
                Mount(
                    parent=ctx.resolve(node.func.value) or "",
                    child=ctx.resolve(child) or "",
                    prefix=const_str(prefix),
                    dependencies=self._dependency_list(kwarg(node, "dependencies"), ctx),
                    span=span(node),
                )
            )
        elif tail in {"before_request", "before_app_request"} and node.args and isinstance(node.func, ast.Attribute):
            self.facts.hooks.append(
                Hook(ctx.resolve(node.func.value) or "", ctx.resolve(node.args[0]) or "", span(node))
            )
        elif tail in {"add_middleware", "wsgi_app"}:
            self.facts.middleware.append(self._callsite(node, func, ctx))
        elif tail in {"add_exception_handler", "register_error_handler"}:
            self.facts.exception_handlers.append(self._callsite(node, func, ctx))
        elif func in CONNECTION_FACTORIES:
            self.facts.connections.append(self._callsite(node, func, ctx))
        elif tail in {"create_all", "executescript"} and isinstance(node.func, ast.Attribute):
            self.facts.schema_setup.append(self._callsite(node, func, ctx))
        elif tail in {"Index", "create_index"} and node.args:
            self._index_decl(node, tail, ctx)
        elif func in LOGGING_SETUP or tail in {"dictConfig", "fileConfig"} and "logging" in func or tail in {"addHandler", "setFormatter"}:
            self.facts.logging_setup.append(self._callsite(node, func, ctx))
        elif func in {"os.getenv", "os.environ.get", "os.environ.setdefault", "environ.get"}:
            self._env_read(node, node.args[0] if node.args else None, node.args[1] if len(node.args) > 1 else kwarg(node, "default"), "getenv" if func == "os.getenv" else "environ.get", ctx)

    def _index_decl(self, node: ast.Call, tail: str, ctx: ModuleContext) -> None:
        unique = any(k.arg == "unique" and getattr(k.value, "value", False) is True for k in node.keywords)
        if tail == "Index":  # Index("ix_name", Model.col, Model.other) outside __table_args__
            if ctx.enclosing_class() is not None:
                return
            attrs = [a for a in node.args[1:] if isinstance(a, ast.Attribute)]
            owner = dotted(attrs[0].value) if attrs else None
            if owner and all(dotted(a.value) == owner for a in attrs):
                decl = IndexDecl(owner.rpartition(".")[2], [a.attr for a in attrs], unique, span(node))
                self.facts.indexes.append(decl)
        elif len(node.args) >= 3 and const_str(node.args[1]):  # op.create_index("ix", "table", ["col"])
            cols = [c for c in (const_str(e) for e in getattr(node.args[2], "elts", [])) if c]
            if cols:
                self.facts.indexes.append(IndexDecl(const_str(node.args[1]), cols, unique, span(node)))

    def visit_Subscript(self, node: ast.Subscript, ctx: ModuleContext) -> None:
        if isinstance(node.ctx, ast.Load) and ctx.resolve(node.value) == "os.environ":
            self._env_read(node, node.slice, None, "environ[]", ctx)

    def _env_read(self, node: ast.AST, name: ast.AST | None, default: ast.AST | None, form: str, ctx: ModuleContext) -> None:
        parent = ctx.parent()
        converted = None
        if isinstance(parent, ast.Call) and node in parent.args:
            callee = dotted(parent.func)
            if callee in {"int", "float", "bool"}:
                converted = callee
        enclosing = self._current(ctx)
        self.facts.env_reads.append(
            EnvRead(const_str(name), src(default), span(node), enclosing.qualname if enclosing else None, form, converted)
        )

    def _auth_signals(self, node: ast.Call, func: str, enclosing: Function) -> None:
        tail = func.rpartition(".")[2]
        if AUTH_CALLS.search(func) and ("jwt" in func or "jose" in func or tail != "decode"):
            enclosing.checks_auth = True
        elif tail in {"HTTPException", "abort"}:
            code = _status_code(node.args[0] if node.args else kwarg(node, "status_code"))
            if code in {401, 403}:
                enclosing.checks_auth = True
        elif tail == "get" and (dotted(node.func) or "").endswith("session.get"):
            key = const_str(node.args[0]) if node.args else None
            if key and ("user" in key or "account" in key or key in {"uid", "logged_in"}):
                enclosing.checks_auth = True
        elif tail in {"has_role", "has_permission", "require_role", "require_permission", "has_perm", "check_permission"}:
            enclosing.checks_role = True

    def visit_Attribute(self, node: ast.Attribute, ctx: ModuleContext) -> None:
        if node.attr in {"is_authenticated", "is_anonymous"} or ROLE_WORDS.search(node.attr):
            enclosing = self._current(ctx)
            if enclosing is None:
                return
            if node.attr in {"is_authenticated", "is_anonymous"}:
                enclosing.checks_auth = True
            elif isinstance(ctx.parent(), (ast.Compare, ast.If, ast.UnaryOp, ast.BoolOp, ast.Assert)) or isinstance(
                ctx.parent(), ast.Call
            ):
                enclosing.checks_role = True

    def visit_Compare(self, node: ast.Compare, ctx: ModuleContext) -> None:
        # `"user_id" not in session`, `session["user_id"] is None`, `g.user is None`
        enclosing = self._current(ctx)
        if enclosing is None:
            return
        for part in (node.left, *node.comparators):
            name = dotted(part.value if isinstance(part, ast.Subscript) else part) or ""
            if name == "session" or name.endswith((".session", "g.user", "current_user")):
                enclosing.checks_auth = True
                return

    def visit_If(self, node: ast.If, ctx: ModuleContext) -> None:
        test = node.test
        if (
            isinstance(test, ast.Compare)
            and isinstance(test.left, ast.Name)
            and test.left.id == "__name__"
            and any(const_str(c) == MAIN_GUARD for c in test.comparators)
        ):
            self.facts.has_main_guard = True

    def visit_Constant(self, node: ast.Constant, ctx: ModuleContext) -> None:
        value = node.value
        if isinstance(value, str) and len(value) > 14 and ("CREATE" in value or "create" in value):
            if isinstance(ctx.parent(), ast.Expr):
                return  # a docstring: DDL shown as documentation is not the schema
            if re.search(r"create\s+table", value, re.I):
                self.facts.sql_strings.append((node.lineno, value[:20000]))
        if isinstance(value, str) and "://" in value[:24] and DATABASE_URL.match(value):
            self.facts.url_literals.append((node.lineno, value[:300]))

    def end(self, ctx: ModuleContext) -> None:
        self.facts.top_imports = {target.partition(".")[0] for target in ctx.imports.values()}

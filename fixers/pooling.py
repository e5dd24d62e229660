"""Connection fixes: explicit pool settings on engines (PR231), and one shared engine or pool
instead of a connection opened per request (PR230).

Pool options go to server databases only: SQLAlchemy's SQLite pools reject `max_overflow` and
`pool_timeout` (a TypeError when the engine is created). A literal URL is decided here; a URL
held in a variable is decided when the app starts, by a small `pool_options(url)` function
written next to the engine. The values are read the project's way (`fixers.settings.read_setting`:
its settings object, else its one module reading the environment), never `int(os.getenv(...))`
by hand, which PR401 reports.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor

from auditor.index.extract import module_name_for
from auditor.models import Finding
from fixers.apps import AppSite, WireApp, Wiring, find_app
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, Target, dotted_name, first_free, locate, names_in, run_codemod, string_text
from fixers.cst_dispatch import QuickVisitor
from fixers.pipeline.workspace import Skip, Workspace
from fixers.rewrite import statements
from fixers.settings import read_setting, would_import_cycle

# SQLAlchemy's own defaults for size, overflow and timeout; recycle and pre-ping replace
# connections the server or a proxy dropped. (setting, environment variable, value)
POOL_SETTINGS = (
    ("pool_size", "DB_POOL_SIZE", 5),
    ("max_overflow", "DB_MAX_OVERFLOW", 10),
    ("pool_timeout", "DB_POOL_TIMEOUT", 30),
    ("pool_recycle", "DB_POOL_RECYCLE", 1800),
    ("pool_pre_ping", None, True),
)
POOL_KEYWORDS = {name for name, _, _ in POOL_SETTINGS} | {"poolclass"}
ENGINE_FACTORIES = ("create_engine", "create_async_engine")
HELPER_NAMES = ("pool_options", "server_pool_options")
SERVER_SCHEMES = {"postgres": "postgresql"}  # SQLAlchemy's old alias
# URL expressions that may be read twice (for the engine and for the decision): names,
# attributes, subscripts with literal keys, environment reads with literal arguments.
ENV_CALLS = {"os.getenv", "os.environ.get", "getenv", "environ.get"}


def imports_module(tree: ast.Module, module: str) -> bool:
    """Whether a module imports `module` (importing back from it would be circular)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name == module or a.name.startswith(module + ".") for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == module or node.module.startswith(module + ".")):
            return True
    return False


@dataclass
class PoolValues:
    """Python source of each pool setting's value, and the imports those need."""

    values: dict[str, str] = field(default_factory=lambda: {name: repr(value) for name, _, value in POOL_SETTINGS})
    imports: list[tuple[str, str | None]] = field(default_factory=list)
    configurable: bool = False  # read from settings or the environment (not plain numbers)
    used: set[str] = field(default_factory=set)  # the settings the generated code needs

    def value(self, name: str) -> str:
        self.used.add(name)
        return self.values[name]

    def schedule_imports(self, context) -> None:
        for module, name in self.imports:
            AddImportsVisitor.add_needed_import(context, module, name)


def pool_values(ws: Workspace, relpath: str, needed: set[str]) -> PoolValues:
    """The values read the project's way (its settings object, else its one module reading the
    environment), so they can be tuned per environment; plain numbers when neither is safe."""
    values = PoolValues()
    checkpoint = ws.checkpoint()
    try:
        for name, variable, default in POOL_SETTINGS:
            if variable is not None and name in needed:
                read = read_setting(ws, relpath, variable, default, int)
                values.values[name] = read.expression
                values.imports.extend(read.imports)
    except Skip:
        ws.rollback(checkpoint)
        return PoolValues()
    values.configurable = True
    return values


def _multiline_comma(last: bool) -> cst.Comma:
    return cst.Comma(
        whitespace_after=cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(), indent=True, last_line=cst.SimpleWhitespace("" if last else "    ")
        )
    )


def one_per_line(call: cst.Call, args: list[cst.Arg]) -> cst.Call:
    args = [a.with_changes(comma=_multiline_comma(i == len(args) - 1)) for i, a in enumerate(args)]
    return call.with_changes(
        args=args,
        whitespace_before_args=cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(), indent=True, last_line=cst.SimpleWhitespace("    ")
        ),
    )


def with_literal_settings(call: cst.Call, values: PoolValues) -> cst.Call:
    """The engine call (for a server database) with every missing pool setting, one per line."""
    present = {a.keyword.value for a in call.args if a.keyword is not None}
    equal = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
    added = [
        cst.Arg(value=cst.parse_expression(values.value(name)), keyword=cst.Name(name), equal=equal)
        for name, _, _ in POOL_SETTINGS
        if name not in present
    ]
    return one_per_line(call, list(call.args) + added)


def with_options_at_run_time(call: cst.Call, url: cst.BaseExpression, helper: str) -> cst.Call:
    """The engine call with `**pool_options(<url>)`: the options are chosen when it runs."""
    options = cst.Arg(value=cst.Call(func=cst.Name(helper), args=[cst.Arg(value=url)]), star="**")
    return one_per_line(call, list(call.args) + [options])


def options_helper(name: str, values: PoolValues) -> list[cst.BaseStatement]:
    items = "".join(f'        "{setting}": {values.value(setting)},\n' for setting, _, _ in POOL_SETTINGS)
    return statements(
        f'''
def {name}(url):
    """Pool limits and health checks for a server database (PostgreSQL, MySQL...). SQLite gets
    none: its pools take no size, overflow or timeout."""
    if make_url(url).get_backend_name() == "sqlite":
        return {{}}
    return {{
{items}    }}
'''
    )


def is_options_helper(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.FunctionDef)
        and statement.name.value in HELPER_NAMES
        and "get_backend_name()" in cst.Module([statement]).code
    )


def is_engine_call(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and (dotted_name(node.func) or "").rpartition(".")[2] in ENGINE_FACTORIES


def url_argument(call: cst.Call) -> cst.BaseExpression | None:
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if positional:
        return positional[0].value
    return next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "url"), None)


def literal_backend(url: cst.BaseExpression | None) -> str | None:
    """The database a literal URL names ("sqlite", "postgresql"...), None when not written out."""
    if isinstance(url, cst.FormattedString):
        text = "".join(p.value for p in url.parts[:1] if isinstance(p, cst.FormattedStringText))
    elif isinstance(url, (cst.SimpleString, cst.ConcatenatedString)):
        text = string_text(url)
    else:
        return None
    scheme, sep, _ = text.partition("://")
    if not sep or not scheme:
        return None
    backend = scheme.split("+")[0].lower()
    return SERVER_SCHEMES.get(backend, backend)


def repeatable(url: cst.BaseExpression) -> bool:
    """An expression cheap and harmless to evaluate a second time."""
    if isinstance(url, (cst.Name, cst.SimpleString)):
        return True
    if isinstance(url, cst.Attribute):
        return repeatable(url.value)
    if isinstance(url, cst.Subscript):
        return repeatable(url.value) and all(
            isinstance(e.slice, cst.Index) and isinstance(e.slice.value, (cst.SimpleString, cst.Integer)) for e in url.slice
        )
    if isinstance(url, cst.Call):
        return (dotted_name(url.func) or "") in ENV_CALLS and all(
            isinstance(a.value, (cst.SimpleString, cst.Name)) and not a.star for a in url.args
        )
    return False


def unpoolable(call: cst.Call) -> str | None:
    keywords = {a.keyword.value for a in call.args if a.keyword is not None}
    if "poolclass" in keywords:
        return "the engine chooses its pool class; its settings are the author's call"
    if any(a.star for a in call.args):
        return "the engine takes **options; add pool settings where they are built"
    if url_argument(call) is None:
        return "the engine's database URL is not in the call; add pool settings by hand"
    return None


NOT_OPENED_HERE = (
    "by hand: no connection is opened on this line itself (a helper opens it, or it is returned to callers): "
    "take it from a shared pool where it is opened"
)


class EnginePooling:
    """Mixin for codemods that give an engine call its pool settings (PoolSettings, and the
    engine ShareConnections moves to module level)."""

    values: PoolValues
    helper: str | None

    def init_pooling(self, values: PoolValues | None, shared: tuple[str, str] | None = None) -> None:
        self.values = values or PoolValues()
        self.helper = None  # name of the run-time helper, once the module has or needs one
        self.helper_line: int | None = None  # line of the first statement that needs it
        self.shared = shared  # (module, name) of the helper another module of the project has

    def find_helper(self, module: cst.Module) -> None:
        self.helper = next((s.name.value for s in module.body if is_options_helper(s)), None)
        self.helper_exists = self.helper is not None

    @staticmethod
    def decision(call: cst.Call) -> tuple[str | None, str]:
        """How the engine gets its pool settings: "sqlite" (none), "literal" (written in the
        call), "run-time" (through the helper); None and the reason when it cannot."""
        reason = unpoolable(call)
        if reason:
            return None, reason
        url = url_argument(call)
        backend = literal_backend(url)
        if backend == "sqlite":
            return "sqlite", "SQLite needs no pool settings: its pools take no size, overflow or timeout"
        if backend is not None:
            return "literal", ""
        keys = sorted(POOL_KEYWORDS & {a.keyword.value for a in call.args if a.keyword is not None})
        if keys:
            return None, f"the engine already sets {', '.join(keys)} and its URL is only known when the app runs; add the rest by hand"
        if not repeatable(url):
            return None, "the database URL is computed by a call; add pool settings by hand once you know it is a server database"
        return "run-time", ""

    def pooled(self, call: cst.Call, line: int) -> cst.Call:
        """The call with pool settings as `decision` says (unchanged when it says none)."""
        how, _ = self.decision(call)
        if how == "literal":
            self.values.schedule_imports(self.context)
            return with_literal_settings(call, self.values)
        if how != "run-time":
            return call
        if self.helper is None and self.shared is not None and self.shared[1] not in self.names:
            AddImportsVisitor.add_needed_import(self.context, *self.shared)
            self.helper, self.helper_exists = self.shared[1], True
        if self.helper is None:
            self.helper = first_free(self.names, *HELPER_NAMES)
        if not self.helper_exists and (self.helper_line is None or line < self.helper_line):
            self.helper_line = line
        return with_options_at_run_time(call, url_argument(call), self.helper)

    def helper_placement(self) -> list[tuple[int, bool, list[cst.BaseStatement]]]:
        """Where `FixCommand.place` puts the run-time helper: before the first statement using it."""
        if self.helper_exists or self.helper_line is None:
            return []
        AddImportsVisitor.add_needed_import(self.context, "sqlalchemy.engine", "make_url")
        self.values.schedule_imports(self.context)
        return [(self.helper_line, False, options_helper(self.helper, self.values))]


class PoolSettings(EnginePooling, FixCommand):
    """`create_engine(url)` -> `create_engine(url, pool_size=..., ..., pool_pre_ping=True)` for a
    server URL written out; `create_engine(URL, **pool_options(URL))` for a URL in a variable."""

    DESCRIPTION = "Add explicit pool settings to SQLAlchemy engines of server databases."

    def __init__(self, context, targets=(), values: PoolValues | None = None, shared: tuple[str, str] | None = None) -> None:
        super().__init__(context, targets)
        self.init_pooling(values, shared)

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.find_helper(node)

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if not is_engine_call(original_node):
            return updated_node
        targets = self.targets_at(original_node)
        if not targets:
            return updated_node
        how, reason = self.decision(original_node)
        if how in (None, "sqlite"):
            self.skipped(targets, reason)
            return updated_node
        self.fixed(targets)
        return self.pooled(updated_node, self.span(original_node).start.line)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = self.place(original_node, list(updated_node.body), self.helper_placement())
        return super().leave_Module(original_node, updated_node.with_changes(body=body))


def shared_helper(ws: Workspace, relpath: str) -> tuple[str, str] | None:
    """(module, name) of the run-time helper an engine module of the project already has, when
    importing it from `relpath` cannot be circular."""
    relpaths = sorted(set(ws.index.modules if ws.index is not None else ()) | {r for r in ws.files if r.endswith(".py")})
    for provider in relpaths:
        text = ws.read(provider) or ""
        if provider == relpath or "get_backend_name()" not in text:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        name = next((n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in HELPER_NAMES), None)
        if name is not None and not would_import_cycle(ws, provider, relpath):
            return module_name_for(provider), name
    return None


def with_pool_values(ws: Workspace, relpath: str, run) -> FixCommand:
    """Run a codemod once with plain numbers to learn which settings its code needs, then again
    with those read the project's way (so no setting is declared that nothing reads)."""
    checkpoint = ws.checkpoint()
    probe = PoolValues()
    command = run(probe)
    if not probe.used or not any(outcome is None for outcome in command.outcomes.values()):
        return command
    ws.rollback(checkpoint)
    return run(pool_values(ws, relpath, probe.used))


class PoolSettingsFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        command = with_pool_values(ws, relpath, lambda values: run_codemod(
            ws, relpath, PoolSettings, locate(ws, findings), values=values, shared=shared_helper(ws, relpath)
        ))
        return {f: command.outcomes.get(f, "no matching code found at this place any more") for f in findings}


# -- PR230: a connection per request ------------------------------------------------------------


def connection_kind(call: cst.Call) -> str | None:
    name = dotted_name(call.func) or ""
    if name.rpartition(".")[2] in ENGINE_FACTORIES:
        return "engine"
    return {"psycopg2.connect": "psycopg2", "psycopg.connect": "psycopg", "sqlite3.connect": "sqlite3"}.get(name)


def connect_assignment(statement: cst.CSTNode) -> tuple[str, cst.Call] | None:
    """`name = <call>` as a whole statement line."""
    if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())], value=m.Call())])):
        assign = statement.body[0]
        return assign.targets[0].target.value, assign.value
    return None


def is_close(statement: cst.CSTNode, var: str) -> bool:
    return m.matches(
        statement,
        m.SimpleStatementLine(body=[m.Expr(m.Call(func=m.Attribute(value=m.Name(var), attr=m.Name("close")), args=[]))]),
    )


def returns(statement: cst.CSTNode, var: str) -> bool:
    return m.matches(statement, m.SimpleStatementLine(body=[m.Return(value=m.Name(var))]))


def local_names(function: cst.FunctionDef) -> set[str]:
    names = {p.name.value for p in function.params.params + function.params.kwonly_params + function.params.posonly_params}
    for star in (function.params.star_arg, function.params.star_kwarg):
        if isinstance(star, cst.Param):
            names.add(star.name.value)

    class Assigned(QuickVisitor):
        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            names.update(names_in(node.target))

    function.body.visit(Assigned())
    return names


def module_bindings(module: cst.Module) -> set[str]:
    names: set[str] = set()
    for statement in module.body:
        if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
        elif isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Assign):
                    for target in small.targets:
                        names.update(names_in(target.target))
                elif isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                    for alias in small.names:
                        bound = alias.asname.name if alias.asname else alias.name
                        names.add(dotted_name(bound).split(".")[0])
        else:  # guarded imports and other blocks: every name they mention may be bound
            names.update(names_in(statement))
    return names


POOL_HELPER = {
    "psycopg2": '''
_{pool} = None

_{pool}_lock = threading.Lock()


def {pool}():
    """The process's connection pool, opened on first use (once, even when requests arrive
    together). When every connection is in use, a request waits up to 30 s for one (psycopg2's
    own pool would fail at once)."""
    global _{pool}
    with _{pool}_lock:
        if _{pool} is not None:
            return _{pool}
        from psycopg2.pool import ThreadedConnectionPool

        class WaitingPool(ThreadedConnectionPool):
            free_slots = threading.BoundedSemaphore({size})

            def getconn(self, key=None):
                if not self.free_slots.acquire(timeout=30):
                    raise TimeoutError("no free database connection after 30 s")
                try:
                    return super().getconn(key)
                except BaseException:
                    self.free_slots.release()
                    raise

            def putconn(self, conn, key=None, close=False):
                super().putconn(conn, key, close)
                self.free_slots.release()

        _{pool} = WaitingPool(1, {size}, {args})
    return _{pool}
''',
    "psycopg": '''
_{pool} = None

_{pool}_lock = threading.Lock()


def {pool}():
    """The process's connection pool, opened on first use (once, even when requests arrive together)."""
    global _{pool}
    with _{pool}_lock:
        if _{pool} is not None:
            return _{pool}
        from psycopg_pool import ConnectionPool

        _{pool} = ConnectionPool({args}, min_size=1, max_size={size}, open=True)
    return _{pool}
''',
}
POOL_MAX = 10  # connections per worker process

CLOSE_AT_TEARDOWN = '''
{decorator}def {close}(exc=None):
    """Give the app context's database connection back when the request or CLI command ends."""
    conn = g.pop("{key}", None)
    if conn is not None:
        {release}
'''


@dataclass
class Plan:
    kind: str  # hoist | pool | request-context
    var: str
    call: cst.Call
    close_at: int | None = None  # index of `var.close()` in the same block (pool)
    targets: list[Target] | None = None


@dataclass(frozen=True)
class Teardown:
    """How the Flask app closes the connection at the end of each app context: `decorator`
    (the app object's name where close_db is defined) or wired onto the app elsewhere."""

    app: AppSite
    decorator: str | None = None


class ShareConnections(EnginePooling, FixCommand):
    """Per function: a request-time engine moves to module level; a psycopg connection comes from a
    module-level pool (given back in a finally); a Flask helper that returns a fresh connection
    keeps one per app context in `g` (requests, CLI commands), closed (or given back) at teardown,
    and still opens a plain connection outside any app context (at import time, in scripts)."""

    DESCRIPTION = "Share database connections instead of opening one per request."

    def __init__(self, context, targets=(), flask: bool = False, teardown: Teardown | str | None = None,
                 values: PoolValues | None = None, key: str = "db", shared: tuple[str, str] | None = None) -> None:
        super().__init__(context, targets)
        self.init_pooling(values, shared)
        self.flask = flask
        self.teardown_plan = teardown  # a Teardown, or why a Flask connection cannot be shared
        self.key = key
        self.plans: dict[int, Plan] = {}  # id(original statement) -> plan
        # Module-level code to add: (line of the function it serves, after that function?, statements)
        self.definitions: list[tuple[int, bool, list[cst.BaseStatement]]] = []
        self.teardown: str | None = None  # name of the close function a Flask app must register
        self.pool_name: str | None = None
        self.needs_psycopg_pool = False

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.module_names = module_bindings(node)
        self.find_helper(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        if not isinstance(node.body, cst.IndentedBlock):
            return
        body = node.body.body
        for index, statement in enumerate(body):
            found = connect_assignment(statement)
            if found is None:
                continue
            var, call = found
            targets = self.targets_at(call) or [t for t in self.targets_at(statement) if t.finding not in self.outcomes]
            kind = connection_kind(call)
            if not targets or kind is None:
                continue
            plan, reason = self.decide(node, body, index, var, call, kind)
            if plan is None:
                self.skipped(targets, reason)
                continue
            plan.targets = targets
            self.plans[id(statement)] = plan

    def decide(self, function, body, index, var, call, kind) -> tuple[Plan | None, str]:
        call_names = {n for a in call.args for n in names_in(a.value)}
        if call_names & local_names(function):
            return None, "the connection is built from the request's own values; share it by hand"
        if kind == "engine":
            if var in self.module_names:
                return None, f"`{var}` is already a module-level name"
            if not call_names <= self.module_names | {"True", "False", "None"}:
                return None, "the engine's arguments are not module-level names"
            return Plan("hoist", var, call), ""  # with pool settings when `decision` allows them
        close_at = next((j for j in range(index + 1, len(body)) if is_close(body[j], var)), None)
        if kind in POOL_HELPER and close_at is not None:
            return Plan("pool", var, call, close_at), ""
        if self.flask and returns(body[-1], var) and not any(is_close(s, var) for s in body):
            if isinstance(self.teardown_plan, str):
                return None, self.teardown_plan
            return Plan("request-context", var, call), ""
        return None, "no close() of the connection in the same block to give it back to a pool"

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        updated_node = super().leave_FunctionDef(original_node, updated_node)
        if not isinstance(original_node.body, cst.IndentedBlock):
            return updated_node
        body = list(updated_node.body.body)
        line = self.span(original_node).start.line
        for index in reversed(range(len(original_node.body.body))):
            plan = self.plans.get(id(original_node.body.body[index]))
            if plan is None:
                continue
            if plan.kind == "hoist":
                del body[index]
                engine = self.pooled(plan.call, line)
                hoisted = cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(plan.var))], engine)])
                self.definitions.append((line, False, [hoisted]))
            elif plan.kind == "pool":
                pool = self.pool(plan, line)
                body[index] = cst.parse_statement(f"{plan.var} = {pool}().getconn()\n")
                guarded = body[index + 1 : plan.close_at]
                release = cst.parse_statement(f"{pool}().putconn({plan.var})\n")
                wrapped = cst.Try(
                    body=cst.IndentedBlock(guarded or [cst.SimpleStatementLine([cst.Pass()])]),
                    finalbody=cst.Finally(body=cst.IndentedBlock([release])),
                )
                body[index + 1 : plan.close_at + 1] = [wrapped]
            else:
                body = self.request_context(plan, body, index, line)
            self.fixed(plan.targets)
        return updated_node.with_changes(body=updated_node.body.with_changes(body=body))

    def pool(self, plan: Plan, line: int) -> str:
        """The name of the module's pool function, defined before the first function needing it."""
        if self.pool_name is None:
            kind = connection_kind(plan.call)
            self.pool_name = first_free(self.names, "connection_pool", "db_pool")
            args = ", ".join(
                cst.Module([]).code_for_node(a.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for a in plan.call.args
            )
            configured = self.values.value("pool_size")  # also tells the probe run it is needed
            size = configured if self.values.configurable else str(POOL_MAX)
            self.values.schedule_imports(self.context)
            AddImportsVisitor.add_needed_import(self.context, "threading")  # the helper's lock
            helper = POOL_HELPER[kind].format(pool=self.pool_name, args=args, size=size)
            self.definitions.append((line, False, statements(helper)))
            self.needs_psycopg_pool = kind == "psycopg"
        return self.pool_name

    def request_context(self, plan: Plan, body: list, index: int, line: int) -> list:
        """One connection per app context, kept on `g`; a plain one outside any app context:

            if has_app_context() and "db" in g:
                return g.db
            conn = <open it as before>
            ...
            if has_app_context():
                g.db = conn
            return conn
        """
        key, var = self.key, plan.var
        close = first_free(self.names, "close_db", "close_db_connection")
        AddImportsVisitor.add_needed_import(self.context, "flask", "g")
        AddImportsVisitor.add_needed_import(self.context, "flask", "has_app_context")
        opened: list = [body[index]]
        if connection_kind(plan.call) in POOL_HELPER:
            pool = self.pool(plan, line)
            opened = statements(
                f"if has_app_context():\n    {var} = {pool}().getconn()\n"
                f"else:  # at import time or in a script: a connection of its own, closed by the caller\n"
                f"    {cst.Module([]).code_for_node(body[index]).strip()}\n"
            )
            opened[0] = opened[0].with_changes(leading_lines=body[index].leading_lines)
            release = f"{pool}().putconn(conn)"
        else:
            release = "conn.close()"
        first = 1 if body and m.matches(body[0], m.SimpleStatementLine(body=[m.Expr(m.SimpleString() | m.ConcatenatedString())])) else 0
        reuse = statements(
            f'if has_app_context() and "{key}" in g:  # one connection per request or CLI command\n'
            f"    return g.{key}\n"
        )
        ends = "given back" if release.endswith("putconn(conn)") else "closed"
        keep = statements(f"if has_app_context():\n    g.{key} = {var}  # {ends} by {close}() when the app context ends\n")
        new = body[:first] + reuse + body[first:index] + opened + body[index + 1 : -1] + keep + [body[-1]]
        teardown = self.teardown_plan
        decorator = f"@{teardown.decorator}.teardown_appcontext\n" if isinstance(teardown, Teardown) and teardown.decorator else ""
        self.definitions.append(
            (line, True, statements(CLOSE_AT_TEARDOWN.format(decorator=decorator, close=close, key=key, release=release)))
        )
        self.teardown = close
        return new

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = self.place(original_node, list(updated_node.body), self.helper_placement() + self.definitions)
        return super().leave_Module(original_node, updated_node.with_changes(body=body))


# -- Flask: where the connection is closed, and who else closes it -------------------------------------


def callers_closing(ws: Workspace, helper: str) -> list[str]:
    """`file: function` of code that closes what `helper()` returns: with one connection per
    request, the next caller in the same request would get a closed connection."""
    found: list[str] = []
    for relpath in sorted(ws.index.modules) if ws.index is not None else []:
        text = ws.read(relpath) or ""
        if f"{helper}(" not in text:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        scopes = [tree] + [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for scope in scopes:
            if closes_result(scope, helper):
                found.append(f"{relpath}: {getattr(scope, 'name', 'module level')}()")
    return found


def _calls_helper(node: ast.AST | None, helper: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == helper) or (isinstance(func, ast.Attribute) and func.attr == helper)


def closes_result(scope: ast.AST, helper: str) -> bool:
    own = list(scope.body) if isinstance(scope, ast.Module) else [scope]
    nodes = [n for top in own for n in ast.walk(top)]
    if isinstance(scope, ast.Module):  # module level only: functions are their own scopes
        nodes = [n for top in own if not isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(top)]
    holders = {
        t.id for n in nodes if isinstance(n, ast.Assign) and _calls_helper(n.value, helper) for t in n.targets if isinstance(t, ast.Name)
    }
    for n in nodes:
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "close":
            owner = n.func.value
            if _calls_helper(owner, helper) or (isinstance(owner, ast.Name) and owner.id in holders):
                return True
        if isinstance(n, ast.Call) and (getattr(n.func, "id", None) or getattr(n.func, "attr", None)) == "closing":
            if any(_calls_helper(a, helper) or (isinstance(a, ast.Name) and a.id in holders) for a in n.args):
                return True
    return False


def imported_app_name(tree: ast.Module, app: AppSite) -> str | None:
    """The local name of the app object when the module imports it at module level."""
    module = module_name_for(app.relpath)
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == module:
            for alias in node.names:
                if alias.name == app.var:
                    return alias.asname or alias.name
    return None


def plan_teardown(ws: Workspace, relpath: str, findings: list[Finding]) -> Teardown | str:
    """Where the close function is registered on the app, or why it cannot be."""
    try:
        app = find_app(ws, findings[0])
    except Skip as exc:
        return str(exc)
    text = ws.read(relpath) or ""
    tree = ast.parse(text)
    if app.relpath == relpath:
        lines = (ws.state(app.relpath).start or "").splitlines()  # the text the scan's lines point into
        at_top = 0 < app.line <= len(lines) and not lines[app.line - 1][:1].isspace()
        # a module-level app created above the helper: decorate the close function with it
        return Teardown(app, app.var if at_top and app.line < min(f.line for f in findings) else None)
    imported = imported_app_name(tree, app)
    if imported is not None:
        return Teardown(app, imported)
    if imports_module(tree, module_name_for(app.relpath)):
        return f"{relpath} imports the app's module, so the app cannot import its close function back; register it at teardown by hand"
    return Teardown(app)


def connection_helpers(ws: Workspace, relpath: str, findings: list[Finding]) -> list[str]:
    """Names of the functions holding the findings' connections (the Flask `get_db()` helpers)."""
    tree = ast.parse(ws.read(relpath) or "")
    lines = {ws.position(f)[0] for f in findings}
    return [
        n.name for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(n.lineno <= line <= (n.end_lineno or n.lineno) for line in lines)
    ]


def g_key(ws: Workspace) -> str:
    """`db` unless the project already keeps something else under that name on `g`."""
    texts = [ws.read(r) or "" for r in (ws.index.modules if ws.index is not None else {})]
    for key in ("db", "db_conn", "prodready_db"):
        if not any(f"g.{key}" in t or f'"{key}" in g' in t or f"'{key}' in g" in t for t in texts):
            return key
    return "prodready_db"


class SharedConnectionFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        flask = ws.index is not None and "flask" in ws.index.frameworks
        teardown: Teardown | str | None = None
        if flask:
            teardown = plan_teardown(ws, relpath, findings)
            closing = [c for helper in connection_helpers(ws, relpath, findings) for c in callers_closing(ws, helper)]
            if closing:
                teardown = (
                    f"callers close the connection themselves ({', '.join(closing[:3])}); with one connection per "
                    "request the next caller would get a closed one. Remove those close() calls and share it by hand"
                )
        key = g_key(ws) if flask else "db"
        command = with_pool_values(ws, relpath, lambda values: run_codemod(
            ws, relpath, ShareConnections, locate(ws, findings), flask=flask, teardown=teardown, values=values, key=key, shared=shared_helper(ws, relpath)
        ))
        if command.needs_psycopg_pool:
            ws.require("psycopg-pool>=3.2", self.name)
        if command.teardown is not None and isinstance(teardown, Teardown) and teardown.decorator is None:
            app = teardown.app
            wiring = Wiring(
                after_app=[f"{app.var}.teardown_appcontext({command.teardown})\n"],
                imports=[(module_name_for(relpath), command.teardown)] if app.relpath != relpath else [],
            )
            run_codemod(ws, app.relpath, WireApp, [Target(findings[0], app.line, None)], var=app.var, wiring=wiring)
        return {f: command.outcomes.get(f, NOT_OPENED_HERE) for f in findings}

"""Connection fixes: explicit pool settings on engines (PR231), and one shared engine or pool
instead of a connection opened per request (PR230)."""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor

from auditor.index.extract import module_name_for
from auditor.models import Finding
from fixers.apps import WireApp, Wiring, find_app
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, Target, dotted_name, first_free, fix_with, locate, names_in, run_codemod
from fixers.rewrite import statements
from fixers.pipeline.workspace import Workspace

# SQLAlchemy's own defaults for size, overflow and timeout; recycle and pre-ping replace
# connections the server or a proxy dropped.
POOL_SETTINGS = (
    ("pool_size", 'int(os.getenv("DB_POOL_SIZE", "5"))'),
    ("max_overflow", 'int(os.getenv("DB_MAX_OVERFLOW", "10"))'),
    ("pool_timeout", 'int(os.getenv("DB_POOL_TIMEOUT", "30"))'),
    ("pool_recycle", 'int(os.getenv("DB_POOL_RECYCLE", "1800"))'),
    ("pool_pre_ping", "True"),
)
ENGINE_FACTORIES = ("create_engine", "create_async_engine")


def _multiline_comma(last: bool) -> cst.Comma:
    return cst.Comma(
        whitespace_after=cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(), indent=True, last_line=cst.SimpleWhitespace("" if last else "    ")
        )
    )


def with_pool_settings(call: cst.Call, context) -> cst.Call:
    """The engine call with every missing pool setting added, one argument per line."""
    present = {a.keyword.value for a in call.args if a.keyword is not None}
    added = [
        cst.Arg(value=cst.parse_expression(value), keyword=cst.Name(name), equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
        for name, value in POOL_SETTINGS
        if name not in present
    ]
    if any("os.getenv" in value for name, value in POOL_SETTINGS if name not in present):
        AddImportsVisitor.add_needed_import(context, "os")
    args = list(call.args) + added
    args = [a.with_changes(comma=_multiline_comma(i == len(args) - 1)) for i, a in enumerate(args)]
    return call.with_changes(
        args=args,
        whitespace_before_args=cst.ParenthesizedWhitespace(
            first_line=cst.TrailingWhitespace(), indent=True, last_line=cst.SimpleWhitespace("    ")
        ),
    )


def is_engine_call(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Call) and (dotted_name(node.func) or "").rpartition(".")[2] in ENGINE_FACTORIES


def unpoolable(call: cst.Call) -> str | None:
    keywords = {a.keyword.value for a in call.args if a.keyword is not None}
    if "poolclass" in keywords:
        return "the engine chooses its pool class; its settings are the author's call"
    if any(a.star for a in call.args):
        return "the engine takes **options; add pool settings where they are built"
    return None


class PoolSettings(FixCommand):
    """`create_engine(url)` -> `create_engine(url, pool_size=..., ..., pool_pre_ping=True)`."""

    DESCRIPTION = "Add explicit pool settings to SQLAlchemy engines."

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if not is_engine_call(original_node):
            return updated_node
        targets = self.targets_at(original_node)
        if not targets:
            return updated_node
        reason = unpoolable(original_node)
        if reason:
            self.skipped(targets, reason)
            return updated_node
        self.fixed(targets)
        return with_pool_settings(updated_node, self.context)


class PoolSettingsFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        return fix_with(PoolSettings, relpath, findings, ws)


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

    class Assigned(cst.CSTVisitor):
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


def {pool}():
    """The process's connection pool, opened on first use (at most DB_POOL_SIZE connections)."""
    global _{pool}
    if _{pool} is None:
        from psycopg2.pool import ThreadedConnectionPool

        _{pool} = ThreadedConnectionPool(1, int(os.getenv("DB_POOL_SIZE", "10")), {args})
    return _{pool}
''',
    "psycopg": '''
_{pool} = None


def {pool}():
    """The process's connection pool, opened on first use (at most DB_POOL_SIZE connections)."""
    global _{pool}
    if _{pool} is None:
        from psycopg_pool import ConnectionPool

        _{pool} = ConnectionPool({args}, min_size=1, max_size=int(os.getenv("DB_POOL_SIZE", "10")), open=True)
    return _{pool}
''',
}

CLOSE_AT_TEARDOWN = '''
def {close}(exc=None):
    """Give the request's database connection back when its app context ends."""
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


class ShareConnections(FixCommand):
    """Per function: a request-time engine moves to module level; a psycopg connection comes from a
    module-level pool (given back in a finally); a Flask helper that returns a fresh connection
    keeps one per app context in `g`, closed (or given back) at teardown."""

    DESCRIPTION = "Share database connections instead of opening one per request."

    def __init__(self, context, targets=(), flask: bool = False) -> None:
        super().__init__(context, targets)
        self.flask = flask
        self.plans: dict[int, Plan] = {}  # id(original statement) -> plan
        # Module-level code to add: (line of the function it serves, after that function?, statements)
        self.definitions: list[tuple[int, bool, list[cst.BaseStatement]]] = []
        self.teardown: str | None = None  # name of the close function a Flask app must register
        self.pool_name: str | None = None
        self.needs_psycopg_pool = False

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.module_names = module_bindings(node)

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
            return Plan("hoist", var, call), ""
        close_at = next((j for j in range(index + 1, len(body)) if is_close(body[j], var)), None)
        if kind in POOL_HELPER and close_at is not None:
            return Plan("pool", var, call, close_at), ""
        if self.flask and returns(body[-1], var) and not any(is_close(s, var) for s in body):
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
                engine = with_pool_settings(plan.call, self.context)
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
            AddImportsVisitor.add_needed_import(self.context, "os")
            self.definitions.append((line, False, statements(POOL_HELPER[kind].format(pool=self.pool_name, args=args))))
            self.needs_psycopg_pool = kind == "psycopg"
        return self.pool_name

    def request_context(self, plan: Plan, body: list, index: int, line: int) -> list:
        key, close = "db", first_free(self.names, "close_db", "close_db_connection")
        AddImportsVisitor.add_needed_import(self.context, "flask", "g")
        if connection_kind(plan.call) in POOL_HELPER:
            pool = self.pool(plan, line)
            body[index] = cst.parse_statement(f"{plan.var} = {pool}().getconn()\n")
            release = f"{pool}().putconn(conn)"
        else:
            release = "conn.close()"
        opened = body[: len(body) - 1] + [cst.parse_statement(f"g.{key} = {plan.var}\n")]
        cached = cst.If(
            test=cst.parse_expression(f'"{key}" not in g'),
            body=cst.IndentedBlock(opened),
        )
        self.definitions.append((line, True, statements(CLOSE_AT_TEARDOWN.format(close=close, key=key, release=release))))
        self.teardown = close
        return [cached, cst.parse_statement(f"return g.{key}\n")]

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = self.place(original_node, list(updated_node.body), self.definitions)
        return super().leave_Module(original_node, updated_node.with_changes(body=body))


class SharedConnectionFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        flask = ws.index is not None and "flask" in ws.index.frameworks
        command = run_codemod(ws, relpath, ShareConnections, locate(ws, findings), flask=flask)
        if command.needs_psycopg_pool:
            ws.require("psycopg-pool>=3.2", self.name)
        if command.teardown is not None:
            app = find_app(ws, findings[0])
            wiring = Wiring(
                after_app=[f"{app.var}.teardown_appcontext({command.teardown})\n"],
                imports=[(module_name_for(relpath), command.teardown)] if app.relpath != relpath else [],
            )
            run_codemod(ws, app.relpath, WireApp, [Target(findings[0], app.line, None)], var=app.var, wiring=wiring)
        return {f: command.outcomes.get(f, "no connection opened here any more") for f in findings}


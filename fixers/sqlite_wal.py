"""SQLite under concurrent requests (PR232): WAL mode (reads no longer wait for writes) and a
15-second busy timeout on the app's connections.

A `sqlite3.connect(...)` kept in a variable gets the timeout and the pragma right after it. A
SQLAlchemy engine at module level gets a "connect" event listener that sets both on every new
connection; when its URL is only known at run time, the listener checks the engine is SQLite.
"""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor

from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, dotted_name, first_free, fix_with
from fixers.pooling import is_engine_call, literal_backend, url_argument
from fixers.rewrite import keyword, set_keyword, statements

WAL = 'PRAGMA journal_mode=WAL'
BUSY_TIMEOUT_MS = 15000

ENGINE_LISTENER = '''
@event.listens_for({target}, "connect")
def {name}(dbapi_connection, connection_record):
    """SQLite: WAL mode (reads no longer wait for writes) and up to 15 s of waiting for a writer."""
{check}    cursor = dbapi_connection.cursor()
    cursor.execute("{wal}")
    cursor.execute("PRAGMA busy_timeout={timeout}")
    cursor.close()
'''


def _connect(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Call) and (dotted_name(node.func) or "").endswith("sqlite3.connect")


def _has_timeout(call: cst.Call) -> bool:
    """`timeout=` given, or as the second positional argument (or hidden in *args/**kwargs)."""
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return keyword(call, "timeout") is not None or len(positional) > 1 or any(a.star for a in call.args)


def _assigned_name(statement: cst.SimpleStatementLine) -> tuple[str, cst.BaseExpression] | None:
    small = statement.body[0]
    if m.matches(small, m.Assign(targets=[m.AssignTarget(target=m.Name())])):
        return small.targets[0].target.value, small.value
    return None


class SqliteWal(FixCommand):
    """`conn = sqlite3.connect(path)` -> a timeout, then `conn.execute("PRAGMA journal_mode=WAL")`;
    `return sqlite3.connect(path)` gets a name first; `engine = create_engine(sqlite URL)` gets a
    connect listener."""

    def __init__(self, context, targets=()) -> None:
        super().__init__(context, targets)
        self.listeners: list[tuple[int, bool, list[cst.BaseStatement]]] = []
        self.depth = 0  # classes and functions around the current statement

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.depth -= 1
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self.depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.depth -= 1
        return super().leave_FunctionDef(original_node, updated_node)

    def _targets(self, node: cst.CSTNode) -> list:
        """Targets on the statement's line; when an earlier fix rewrote that line (column lost),
        a connect statement a few lines away is the same one, moved."""
        line = self.span(node).start.line
        return [
            t for t in self.targets
            if t.finding not in self.outcomes and (t.line == line or (t.col is None and abs(t.line - line) <= 3 and "sqlite3.connect" in cst.Module([node]).code))
        ]

    @staticmethod
    def _tuned(call: cst.Call) -> cst.Call:
        return call if _has_timeout(call) else set_keyword(call, "timeout", "15")

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):
        targets = self._targets(original_node)
        if not targets:
            return updated_node
        small = updated_node.body[0]
        assigned = _assigned_name(updated_node)
        if assigned and _connect(assigned[1]):
            name = assigned[0]
            self.fixed(targets)
            first = updated_node.with_changes(body=[small.with_changes(value=self._tuned(small.value))])
            return cst.FlattenSentinel([first, *statements(f'{name}.execute("{WAL}")\n')])
        if isinstance(small, cst.Return) and _connect(small.value):
            self.fixed(targets)
            code = f"conn = {cst.Module([]).code_for_node(self._tuned(small.value))}\n" f'conn.execute("{WAL}")\nreturn conn\n'
            new = statements(code)
            new[0] = new[0].with_changes(leading_lines=updated_node.leading_lines)
            return cst.FlattenSentinel(new)
        if assigned and is_engine_call(assigned[1]):
            reason = self._engine(original_node, assigned[0], assigned[1])
            if reason:
                self.skipped(targets, reason)
            else:
                self.fixed(targets)
            return updated_node
        self.skipped(targets, "the connection is not kept in a variable here (`conn = sqlite3.connect(...)`); turn on WAL where it is created, by hand")
        return updated_node

    def _engine(self, statement: cst.SimpleStatementLine, var: str, call: cst.Call) -> str | None:
        """Plan a connect listener after a module-level engine; the reason when there can be none."""
        if self.depth or len(statement.body) != 1:
            return "the engine is created inside a function or class; turn on WAL where the app's engine is created, by hand"
        backend = literal_backend(url_argument(call))
        if backend not in (None, "sqlite"):
            return f"this engine's database is {backend}, not SQLite"
        target = f"{var}.sync_engine" if (dotted_name(call.func) or "").endswith("create_async_engine") else var
        check = "" if backend == "sqlite" else f'    if {var}.dialect.name != "sqlite":\n        return\n'
        name = first_free(self.names, "sqlite_wal", "sqlite_wal_mode")
        code = ENGINE_LISTENER.format(target=target, name=name, check=check, wal=WAL, timeout=BUSY_TIMEOUT_MS)
        AddImportsVisitor.add_needed_import(self.context, "sqlalchemy", "event")
        self.listeners.append((self.span(statement).start.line, True, statements(code)))
        return None

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = self.place(original_node, list(updated_node.body), self.listeners)
        return super().leave_Module(original_node, updated_node.with_changes(body=body))


class SqliteWalFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws) -> Outcomes:
        return fix_with(SqliteWal, relpath, findings, ws)

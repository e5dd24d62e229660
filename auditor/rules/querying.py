"""How code talks to the database, read from `ast`, and the shape of the data it talks to.

Shared by the data-model and infrastructure rules: which calls run a query, which
expressions hold rows, the SQL text of a literal, and `DataShape` — the project's tables with
their foreign keys and indexes, and which of them hold a user's rows.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from auditor.index.facts import Column, Relationship
from auditor.index.project import is_script_path
from auditor.walk import const_str, dotted

# Receivers whose .execute()/.query()/... runs SQL: sessions, connections, cursors.
DB_NAMES = re.compile(
    r"^_?(db|session|sess|db_session|dbsession|conn|connection|con|cursor|cur|c|database|get_db|get_session|"
    r"get_conn|get_connection|get_cursor|tx|txn|engine|async_session)$"
)
SESSION_NAMES = frozenset({"db", "_db", "session", "_session", "sess", "db_session", "dbsession", "async_session"})
EXEC_METHODS = frozenset({"execute", "scalar", "scalars", "exec", "query", "fetch", "fetchrow", "fetchval", "get", "get_or_404", "one_or_404", "first_or_404"})
RESULT_METHODS = frozenset({"first", "one", "one_or_none", "all", "count", "scalar", "get", "first_or_404", "get_or_404", "paginate"})
ROW_FETCHERS = frozenset({"fetchall", "fetchmany"})
LOOPS = (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
SQL_START = re.compile(r"^\s*\(?\s*(select|insert|update|delete|with)\b", re.I)
SQL_TABLE = re.compile(r"\b(?:from|join|update|into)\s+[\"`\[]?(\w+)", re.I)
USER_TABLE = re.compile(r"^(auth_|app_)?(users?|accounts?|customers?|profiles?|people|persons?)$", re.I)
USER_MODEL = re.compile(r"^(User|AppUser|Account|Customer|Profile|Person|Member)$")
EAGER_BACKREF = re.compile(r"backref\(\s*['\"](\w+)['\"]\s*,[^)]*lazy\s*=\s*['\"](?:joined|selectin|subquery|immediate)['\"]")
EAGER_LOADERS = frozenset({"selectinload", "joinedload", "subqueryload", "contains_eager", "immediateload"})


def _tail(node: ast.AST | None) -> str:
    return (dotted(node) or "").rpartition(".")[2]


def _chain_has_query(node: ast.AST) -> bool:
    """`Model.query.filter(...)` / `db.query(...).filter(...)`: a query attribute down the chain."""
    while isinstance(node, (ast.Attribute, ast.Call)):
        if isinstance(node, ast.Attribute):
            if node.attr == "query":
                return True
            node = node.value
        else:
            node = node.func
    return False


def is_query_call(call: ast.Call) -> bool:
    """A call that sends a statement to the database (a round trip)."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return False
    attr = func.attr
    if attr in EXEC_METHODS:
        receiver = _tail(func.value)
        if attr in {"get", "get_or_404"}:
            if receiver in SESSION_NAMES and len(call.args) >= 2:  # session.get(Model, id)
                return True
        elif DB_NAMES.match(receiver) and not (attr.startswith("fetch") and not call.args):
            return True
    return attr in RESULT_METHODS and _chain_has_query(func.value)


def is_rows_expr(expr: ast.AST, rows_names: set[str]) -> bool:
    """The expression holds rows from the database (a query result or a name bound to one)."""
    for sub in ast.walk(expr):
        if isinstance(sub, ast.Name) and sub.id in rows_names:
            return True
        if isinstance(sub, ast.Call) and (
            is_query_call(sub) or (isinstance(sub.func, ast.Attribute) and sub.func.attr in ROW_FETCHERS)
        ):
            return True
    return False


def loop_iters(loop: ast.AST) -> list[ast.expr]:
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        return [loop.iter]
    return [g.iter for g in getattr(loop, "generators", [])]


def loop_targets(loop: ast.AST) -> set[str]:
    targets = [loop.target] if isinstance(loop, (ast.For, ast.AsyncFor)) else [g.target for g in loop.generators]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def per_row_loop(path: list[ast.AST], rows_names: set[str]) -> ast.AST | None:
    """The innermost loop over rows that runs `path[-1]` once per row (not the loop's own iterable)."""
    for i in range(len(path) - 2, -1, -1):
        loop = path[i]
        if isinstance(loop, SCOPES):
            return None
        if not isinstance(loop, LOOPS):
            continue
        child = path[i + 1]
        if isinstance(loop, (ast.For, ast.AsyncFor)):
            if child is loop.iter:
                continue
        elif isinstance(child, ast.comprehension) and child is loop.generators[0] and i + 2 < len(path) and path[i + 2] is child.iter:
            continue  # the first iterable is evaluated once
        if any(is_rows_expr(it, rows_names) for it in loop_iters(loop)):
            return loop
    return None


def eager_loaded(expr: ast.AST) -> set[str]:
    """Relationship names loaded eagerly by `.options(selectinload(Model.rel), ...)` in a query ("*" for all)."""
    found: set[str] = set()
    for sub in ast.walk(expr):
        if isinstance(sub, ast.Call) and _tail(sub.func) in EAGER_LOADERS:
            for arg in sub.args:
                if isinstance(arg, ast.Attribute):
                    found.add(arg.attr)
                elif const_str(arg):
                    found.add(const_str(arg))
    return found


def sql_text(node: ast.AST | None) -> str | None:
    """The SQL of a literal statement (f-strings, `%` and `+` keep their literal parts), or None."""
    text = _literal_parts(node)
    return text if text and SQL_START.match(text) else None


def _literal_parts(node: ast.AST | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _literal_parts(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal_parts(node.left), _literal_parts(node.right)
        if left is None and right is None:
            return None
        return (left or "?") + (right or "?")
    if isinstance(node, ast.Call) and _tail(node.func) == "text" and node.args:
        return _literal_parts(node.args[0])
    return None


def sql_tables_named(text: str) -> list[str]:
    return [m.group(1).lower() for m in SQL_TABLE.finditer(text)]


# -- the shape of the data -------------------------------------------------------------------------


@dataclass
class Table:
    name: str  # lower-case table name
    path: str
    model: str | None  # ORM class name, None for SQL schema tables
    columns: dict[str, Column] = field(default_factory=dict)
    indexes: list[list[str]] = field(default_factory=list)  # index, unique and primary-key column lists
    unique: list[list[str]] = field(default_factory=list)  # unique constraints and unique indexes
    primary_key: bool = False  # a primary key exists (a column or a table constraint)
    relationships: list[Relationship] = field(default_factory=list)

    def fk_targets(self) -> dict[str, str]:
        """Column -> referenced table (lower-case)."""
        return {name: c.foreign_key.partition(".")[0].strip("\"'`").lower() for name, c in self.columns.items() if c.foreign_key}

    def is_unique(self, column: str) -> bool:
        """Unique on its own or within a composite constraint (per-tenant uniqueness counts)."""
        col = self.columns.get(column)
        return bool(col and (col.unique or col.primary_key)) or any(column in cols for cols in self.unique)

    def indexed(self, column: str, together: set[str] | frozenset[str] = frozenset()) -> bool:
        """Can the database find rows by `column` (alone, or with the other columns filtered together)?"""
        col = self.columns.get(column)
        if col is not None and (col.primary_key or col.index or col.unique):
            return True
        return any(cols and (cols[0] == column or (column in cols and cols[0] in together)) for cols in self.indexes)


class DataShape:
    """Tables from ORM models and SQL schemas, and which ones hold users and users' rows."""

    def __init__(self, index) -> None:
        self.tables: dict[str, Table] = {}
        self.by_model: dict[str, Table] = {}
        for relpath, model in app_models(index):
            if model.abstract:
                continue
            table = Table(model.table.lower(), relpath, model.name if model.kind != "table" else None)
            table.columns = {c.name: c for c in model.columns}
            table.indexes = [list(cols) for cols in [*model.indexed, *model.unique_sets]]
            table.unique = [list(cols) for cols in model.unique_sets]
            table.primary_key = any(c.primary_key for c in model.columns)
            table.relationships = list(model.relationships)
            self.tables.setdefault(table.name, table)
            if model.kind != "table":
                self.by_model[model.name] = self.tables[table.name]
        for sql in index.sql_tables:
            if sql.name.startswith("__index__"):
                continue
            table = self.tables.setdefault(sql.name.lower(), Table(sql.name.lower(), sql.path, None))
            table.columns.update({c.name: c for c in sql.columns if c.name not in table.columns})
            table.indexes += [list(cols) for cols in [*sql.indexed, *sql.unique_sets]]
            table.unique += [list(cols) for cols in sql.unique_sets]
            table.primary_key |= bool(sql.primary_key) or any(c.primary_key for c in sql.columns)
        for sql in index.sql_tables:  # CREATE INDEX on a table defined in another file
            if sql.name.startswith("__index__") and sql.name[9:] in self.tables:
                self.tables[sql.name[9:]].indexes += [list(cols) for cols in sql.indexed]
                self.tables[sql.name[9:]].unique += [list(cols) for cols in sql.unique_sets]
        for _, decl in index.indexes:
            table = self.by_model.get(decl.table) or self.tables.get(decl.table.lower())
            if table is not None:
                table.indexes.append(list(decl.columns))
                if decl.unique:
                    table.unique.append(list(decl.columns))
        self.users = {
            name for name, t in self.tables.items() if USER_TABLE.match(name) or (t.model and USER_MODEL.match(t.model))
        }
        self.owned = self._owned()
        self.eager_backrefs = {
            match.group(1)
            for path in {t.path for t in self.tables.values() if t.relationships}
            for match in EAGER_BACKREF.finditer(index.source(path))
        }

    def _owned(self) -> dict[str, str]:
        """Tables whose rows belong to a user: table -> the column chain leading to the users table."""
        owned: dict[str, str] = {}
        for name, table in self.tables.items():
            if name not in self.users:
                for column, target in table.fk_targets().items():
                    if target in self.users or USER_TABLE.match(target):
                        owned[name] = column
                        break
        for _ in range(3):  # through parents: tasks -> projects -> workspaces -> users
            for name, table in self.tables.items():
                if name in owned or name in self.users:
                    continue
                for column, target in table.fk_targets().items():
                    if target in owned:
                        owned[name] = f"{column} -> {target}"
                        break
        return owned

    def table_of(self, model_or_table: str | None) -> Table | None:
        if not model_or_table:
            return None
        return self.by_model.get(model_or_table) or self.tables.get(model_or_table.lower())

    def lazy_relationships(self) -> set[str]:
        """Relationship names that load on access (SQLAlchemy's default `lazy="select"`).

        Rows in a loop are not typed, so a name that is eager on any model is left out.
        """
        lazy, eager = set(), set()
        for table in self.tables.values():
            for rel in table.relationships:
                (lazy if rel.lazy in (None, "select", "dynamic", "True") else eager).add(rel.name)
        return lazy - eager - self.eager_backrefs

    eager_backrefs: set[str] = set()  # backref("followed", lazy="joined"): the other side loads eagerly


def app_models(index) -> list:
    """(relpath, Model) of the app: models that tests, scripts and migrations declare are left out."""
    return [(relpath, model) for relpath, model in index.models if not is_script_path(relpath)]


def data_shape(index) -> DataShape:
    """One DataShape per index, built on first use."""
    shape = index.__dict__.get("_data_shape")
    if shape is None:
        shape = index.__dict__["_data_shape"] = DataShape(index)
    return shape


def model_of_attribute(node: ast.AST, shape: DataShape) -> tuple[Table, str] | None:
    """`Task.status` (or `models.Task.status`) -> (the tasks table, "status")."""
    if isinstance(node, ast.Attribute):
        table = shape.by_model.get(_tail(node.value))
        if table is not None and node.attr in table.columns:
            return table, node.attr
    return None


def query_modules(index) -> list[str]:
    """Modules that query the data: they define or import models, serve routes, or open connections."""
    shape = data_shape(index)
    model_modules = {index.modules[path].module for path in {t.path for t in shape.tables.values()} if path in index.modules}
    routed = {route.relpath for route in index.routes}
    connected = {relpath for relpath, _ in index.connections}
    found = []
    for relpath, facts in sorted(index.modules.items()):
        if is_script_path(relpath):
            continue
        imports_models = any(target.rpartition(".")[0] in model_modules or target in model_modules for target in facts.imports.values())
        if relpath in routed or relpath in connected or imports_models or facts.module in model_modules:
            found.append(relpath)
    return found

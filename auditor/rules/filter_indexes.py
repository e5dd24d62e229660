"""Step 1 — data model (PR130): columns that queries filter or sort on, without an index."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from auditor.index.project import is_script_path
from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.rules.data_model import IDENTITY_NAME, in_migration_code
from auditor.rules.querying import data_shape, is_query_call, model_of_attribute, query_modules, sql_tables_named, sql_text
from auditor.walk import const_str, dotted, kwarg

LOW_CARDINALITY = re.compile(
    r"^(is_|has_|can_)|^(status|state|type|kind|role|plan|currency|active|enabled|deleted|archived|visible|"
    r"priority|level|category|gender|country|locale|language|lang|done|completed|accepted|paid)$"
)
CLAUSES = frozenset({"filter", "where", "filter_by", "order_by", "join", "outerjoin", "having"})
# Searches an index on the column cannot answer: substring and suffix matches, case-folded LIKE.
TEXT_SEARCH = frozenset({"contains", "icontains", "ilike", "notilike", "notlike", "endswith", "iendswith", "match", "regexp_match", "istartswith"})
NOT_SELECTIVE = (ast.NotEq, ast.IsNot, ast.NotIn)
SQL_FILTERED = re.compile(r"\b(?:where|and|or|on)\s+(?:\w+\.)?(\w+)\s*(?:=|<|>|\bin\b|\bbetween\b)", re.I)
SQL_ORDERED = re.compile(r"\border\s+by\s+(?:\w+\.)?(\w+)", re.I)
SQL_DELETE = re.compile(r"^\s*delete\s+from\s+[\"`\[]?(\w+)", re.I)
SQL_STATEMENT = re.compile(r"\b(select|delete|update)\b[^;]*", re.I | re.S)


def statement_groups(tree: ast.AST) -> Iterable[list[ast.AST]]:
    """The expressions of each statement (compound statements give only their header)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.While)):
            yield [node.test]
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            yield [node.iter]
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            yield [item.context_expr for item in node.items]
        elif isinstance(node, (ast.Expr, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Return)) and node.value is not None:
            yield [node.value]


@dataclass
class ColumnUse:
    """How the app's queries use each column, read once per project (PR101 and PR130 share it)."""

    lookups: list[tuple[str, str, frozenset[str], str]] = field(default_factory=list)  # (table, column, filtered together, relpath)
    searched: set[tuple[str, str]] = field(default_factory=set)  # only LIKE '%x%' / contains / ilike
    deleted: set[str] = field(default_factory=set)  # tables whose rows the app deletes
    attributes: dict[str, set[str]] = field(default_factory=dict)  # attribute read -> receivers (`post`, `current_user`, a class for `self`)
    secondary: list[tuple[str, str, str]] = field(default_factory=list)  # (owner model, relationship, association table)

    @cached_property
    def looked_up(self) -> set[tuple[str, str]]:
        return {(table, column) for table, column, _, _ in self.lookups}


def column_use(index) -> ColumnUse:
    use = index.__dict__.get("_column_use")
    if use is None:
        use = index.__dict__["_column_use"] = _read_column_use(index)
    return use


def _read_column_use(index) -> ColumnUse:
    shape = data_shape(index)
    use = ColumnUse()
    if not shape.tables:
        return use
    for relpath in query_modules(index):
        tree = index.tree(relpath)
        bound: dict[str, object] = {}  # name -> table of the row it holds (`task = db.get(Task, id)`)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                table = _row_table(node.value, shape)
                if table is not None:
                    bound[node.targets[0].id] = table
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                receiver = (dotted(node.value) or "?").rpartition(".")[2].lower()
                use.attributes.setdefault(node.attr, set()).add(receiver)
            elif isinstance(node, ast.ClassDef):  # `self.comments` inside class Post reads Post.comments
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self":
                        use.attributes.setdefault(sub.attr, set()).add(node.name.lower())
            elif isinstance(node, ast.Call):
                _deleted(node, shape, bound, use)
                if (dotted(node.func) or "").rpartition(".")[2] == "relationship":
                    _secondary(node, tree, use)
        for group in statement_groups(tree):
            for table, helpful, together in _filtered(group, shape, use):
                for column in sorted(helpful):
                    use.lookups.append((table.name, column, frozenset(together), relpath))
    for relpath in index.other_files:  # queries kept in .sql files (aiosql, raw SQL projects)
        if relpath.endswith(".sql") and not is_script_path(relpath):
            for match in SQL_STATEMENT.finditer(index.source(relpath)):
                _raw_sql(match.group(0), shape, use, relpath)
    for route in index.routes:  # DELETE /projects/{id}: the route removes a parent row
        if "DELETE" in route.methods:
            segments = {seg.lower() for seg in re.split(r"[/{}<>:]", route.path) if seg}
            for name, table in shape.tables.items():
                if name in segments or (table.model or "").lower() + "s" in segments:
                    use.deleted.add(name)
    return use


def _row_table(value: ast.AST, shape):
    """The table of the row(s) an expression fetches: `db.get(Task, id)`, `db.query(Task)...first()`."""
    for sub in ast.walk(value):
        if isinstance(sub, ast.Call):
            tail = (dotted(sub.func) or "").rpartition(".")[2]
            if tail in {"get", "get_or_404", "query", "select", "one_or_404", "first_or_404"} and sub.args:
                table = shape.by_model.get((dotted(sub.args[0]) or "").rpartition(".")[2])
                if table is not None:
                    return table
        if isinstance(sub, ast.Attribute) and sub.attr == "query":
            table = shape.by_model.get((dotted(sub.value) or "").rpartition(".")[2])
            if table is not None:
                return table
    return None


def _deleted(call: ast.Call, shape, bound: dict, use: ColumnUse) -> None:
    func = call.func
    tail = (dotted(func) or "").rpartition(".")[2] if not isinstance(func, ast.Attribute) else func.attr
    if tail == "delete":
        if call.args:  # delete(Task) / session.delete(task)
            arg = call.args[0]
            table = shape.by_model.get((dotted(arg) or "").rpartition(".")[2])
            if table is None and isinstance(arg, ast.Name):
                table = bound.get(arg.id)
            if table is None:
                table = _row_table(arg, shape)
            if table is not None:
                use.deleted.add(table.name)
        elif isinstance(func, ast.Attribute):  # db.query(Task).filter(...).delete()
            table = _queried_model(func.value, shape)
            if table is not None:
                use.deleted.add(table.name)
    elif is_query_call(call) and call.args:
        text = sql_text(call.args[0])
        match = SQL_DELETE.match(text or "")
        if match and match.group(1).lower() in shape.tables:
            use.deleted.add(match.group(1).lower())


def _secondary(call: ast.Call, tree: ast.Module, use: ColumnUse) -> None:
    """`members = relationship("User", secondary=workspace_members)` inside `class Workspace`."""
    secondary = kwarg(call, "secondary")
    name = const_str(secondary) or (dotted(secondary) or "").rpartition(".")[2]
    if not name:
        return
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef):
            for stmt in cls.body:
                if isinstance(stmt, ast.Assign) and stmt.value is call and isinstance(stmt.targets[0], ast.Name):
                    use.secondary.append((cls.name, stmt.targets[0].id, name.lower()))
                elif isinstance(stmt, ast.AnnAssign) and stmt.value is call and isinstance(stmt.target, ast.Name):
                    use.secondary.append((cls.name, stmt.target.id, name.lower()))


def _queried_model(node: ast.AST, shape):
    """The model of `db.query(Model)` / `select(Model)` / `Model.query` down a query chain."""
    while isinstance(node, (ast.Attribute, ast.Call)):
        if isinstance(node, ast.Call):
            name = (dotted(node.func) or "").rpartition(".")[2]
            if name in {"query", "select"} and node.args:
                return shape.by_model.get((dotted(node.args[0]) or "").rpartition(".")[2])
            node = node.func
        else:
            if node.attr == "query":
                return shape.by_model.get((dotted(node.value) or "").rpartition(".")[2])
            node = node.value
    return None


def _column_uses(node: ast.AST, shape, helpful: bool = True):
    """(table, column, can an index answer it) for every model column in a filter/sort/join expression."""
    hit = model_of_attribute(node, shape)
    if hit is not None:
        yield hit[0], hit[1], helpful
        return
    if isinstance(node, ast.Compare):
        selective = helpful and not all(isinstance(op, NOT_SELECTIVE) for op in node.ops)
        for operand in [node.left, *node.comparators]:
            yield from _column_uses(operand, shape, selective)
        return
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and model_of_attribute(func.value, shape) is not None:
            method = func.attr
            if method in TEXT_SEARCH:
                ok = False
            elif method == "like":  # only a fixed prefix ('abc%') can use the index
                pattern = const_str(node.args[0]) if node.args else None
                ok = pattern is not None and not pattern.startswith(("%", "_"))
            else:  # in_, between, startswith, is_, desc, asc, op...
                ok = method not in {"notin_", "not_in", "isnot", "is_not"}
            yield from _column_uses(func.value, shape, helpful and ok)
            for arg in node.args:
                yield from _column_uses(arg, shape, helpful)
            return
        tail = (dotted(func) or "").rpartition(".")[2]
        if tail in {"and_", "or_", "desc", "asc", "nulls_last", "nulls_first", "tuple_"}:
            for arg in node.args:
                yield from _column_uses(arg, shape, helpful)
            return
        for arg in [*node.args, *(k.value for k in node.keywords)]:  # func.lower(User.email): needs an index on the expression
            yield from _column_uses(arg, shape, False)
        return
    for child in ast.iter_child_nodes(node):
        yield from _column_uses(child, shape, helpful)


def _filtered(group: list[ast.AST], shape, use: ColumnUse) -> list:
    """(table, columns an index helps with, every column filtered together) in one statement."""
    found: dict = {}
    searched: set[tuple[str, str]] = set()

    def add(table, column: str, helpful: bool) -> None:
        entry = found.setdefault(table.name, (table, set(), set()))
        entry[2].add(column)
        if helpful:
            entry[1].add(column)
        else:
            searched.add((table.name, column))

    for expr in group:
        for node in ast.walk(expr):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr in CLAUSES:
                if node.func.attr == "filter_by":
                    table = _queried_model(node.func.value, shape)
                    if table is not None:
                        for keyword in node.keywords:
                            if keyword.arg in table.columns:
                                add(table, keyword.arg, True)
                    continue
                for arg in node.args:
                    for table, column, helpful in _column_uses(arg, shape):
                        add(table, column, helpful)
            elif is_query_call(node) and node.args:
                text = sql_text(node.args[0])
                if text:
                    for table, column in _sql_columns(text, shape):
                        add(table, column, True)
    use.searched |= searched
    return list(found.values())


def _sql_columns(text: str, shape) -> list:
    """(table, column) compared with =, <, >, IN, BETWEEN or sorted on in a SQL statement; a name
    is given to the one table of the statement that has such a column."""
    tables = [shape.tables[t] for t in dict.fromkeys(sql_tables_named(text)) if t in shape.tables]
    found = []
    names = {m.group(1) for m in SQL_FILTERED.finditer(text)} | {m.group(1) for m in SQL_ORDERED.finditer(text)}
    for name in sorted(names):
        owners = [t for t in tables if name in t.columns]
        if len(owners) == 1:
            found.append((owners[0], name))
    return found


def _raw_sql(text: str, shape, use: ColumnUse, relpath: str) -> None:
    match = SQL_DELETE.match(text)
    if match and match.group(1).lower() in shape.tables:
        use.deleted.add(match.group(1).lower())
    columns = _sql_columns(text, shape)
    for table, column in columns:
        use.lookups.append((table.name, column, frozenset(c for t, c in columns if t is table), relpath))


@register
class UnindexedFilterColumn(ProjectRule):
    code = "PR130"
    name = "unindexed-filter-column"
    category = Category.DATA_MODEL
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "A search or sort on this column reads the whole table each time: fast today, and a slow page "
        "(and a busy database) once the table has grown."
    )
    fix_summary = "Adds an index on the column (index=True on the model, or CREATE INDEX in the schema)."
    doc = """
## What it does
Finds columns that no index starts with, on tables that grow (they belong to users or routes
write to them), when a query could use an index on them: equality or range comparisons and
`in_()` in `filter(...)` / `where(...)` / `filter_by(...)`, join conditions, `order_by(...)`,
a prefix `like('abc%')`, and the same in raw SQL `WHERE` / `JOIN ... ON` / `ORDER BY`.
A column searched only with `contains()`, `ilike()`, a leading-wildcard `LIKE '%x%'`, `!=` or
through a function (`func.lower(col)`) is left out: a plain index cannot answer those. So are
foreign keys (PR101), unique identity columns (PR102), booleans and low-cardinality flags such
as `status` or `is_active`.

## Why is this bad in production
Without an index the database reads every row to answer the query. The cost grows with the
table, so the endpoint gets slower every week, and a periodic job filtering on the column
competes with user traffic.

## Example
```python
class Invite(Base):
    __tablename__ = "invites"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), index=True)
    token = Column(String)

db.query(Invite).filter(Invite.token == token).first()
```

## Use instead
```python
    token = Column(String, unique=True)
```

## Fix safety
Safe for the code; the index is created by a migration.
"""
    VALID = [
        """
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, select
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Invite(Base):
    __tablename__ = "invites"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), index=True)
    token = Column(String, unique=True)
    status = Column(String)
    accepted = Column(Boolean)
class Country(Base):          # a small lookup table nobody writes to
    __tablename__ = "countries"
    id = Column(Integer, primary_key=True)
    name = Column(String)
def find(db, token, name):
    db.query(Invite).filter(Invite.token == token, Invite.status == "open", Invite.accepted == False).first()
    db.scalar(select(Country).where(Country.name == name))
    return db.query(Invite).filter_by(user_id=1).order_by(Invite.id).all()
""",
        """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Note(Base):
    __tablename__ = "notes"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), index=True)
    body = Column(String)
def search(db, words):   # a substring search reads every row with or without an index
    return db.query(Note).filter(Note.body.ilike(f"%{words}%") | Note.body.contains(words)).all()
""",
    ]
    INVALID = [
        """
from sqlalchemy import Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Invite(Base):
    __tablename__ = "invites"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), index=True)
    token = Column(String)
    expires_at = Column(DateTime(timezone=True))
def find(db, token):
    return db.query(Invite).filter(Invite.token == token).first()
def expired(db, now):
    return db.query(Invite).order_by(Invite.expires_at).all()
""",
        {
            "schema.sql": (
                "CREATE TABLE items (\n    id INTEGER PRIMARY KEY,\n    owner_id INTEGER REFERENCES users(id),\n    sku TEXT\n);\n"
                "CREATE INDEX ix_items_owner ON items (owner_id);\n"
            ),
            "app.py": """
import sqlite3
def by_sku(sku):
    conn = sqlite3.connect("shop.db")
    return conn.execute("SELECT * FROM items WHERE sku = ?", (sku,)).fetchone()
""",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        shape = data_shape(index)
        if not shape.tables:
            return
        growing = set(shape.owned) | shape.users | self._written_by_routes(index, shape)
        seen: set[tuple[str, str]] = set()
        for name, column, together, relpath in column_use(index).lookups:
            table = shape.tables[name]
            key = (name, column)
            if key in seen or name not in growing or in_migration_code(table.path) or self._excused(table, column, together, shape):
                continue
            seen.add(key)
            yield self.at(
                table.path,
                table.columns[column].span,
                f"{table.model or table.name}.{column} is used to filter or sort ({relpath}) but has no index",
            )

    @staticmethod
    def _excused(table, column: str, together: frozenset[str], shape) -> bool:
        col = table.columns[column]
        return (
            table.indexed(column, together)
            or bool(col.foreign_key)  # PR101
            or (table.name in shape.users and bool(IDENTITY_NAME.match(column)))  # PR102
            or bool(LOW_CARDINALITY.search(column))
            or col.type.split("(")[0].rpartition(".")[2] in {"Boolean", "bool", "Enum", "BOOLEAN"}
        )

    @staticmethod
    def _written_by_routes(index, shape) -> set[str]:
        written = set()
        for route in index.routes:
            for call in route.handler.calls:
                table = shape.by_model.get(call.rpartition(".")[2])
                if table is not None:
                    written.add(table.name)
        return written

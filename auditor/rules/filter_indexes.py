"""Step 1 — data model (PR130): columns that queries filter or sort on, without an index."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.rules.data_model import IDENTITY_NAME
from auditor.rules.querying import data_shape, is_query_call, model_of_attribute, query_modules, sql_tables_named, sql_text
from auditor.walk import dotted

LOW_CARDINALITY = re.compile(
    r"^(is_|has_|can_)|^(status|state|type|kind|role|plan|currency|active|enabled|deleted|archived|visible|"
    r"priority|level|category|gender|country|locale|language|lang|done|completed|accepted|paid)$"
)
CLAUSES = frozenset({"filter", "where", "filter_by", "order_by"})
SQL_FILTERED = re.compile(r"\b(?:where|and|or)\s+(?:\w+\.)?(\w+)\s*(?:=|<|>|!=|<>|\bin\b|\bbetween\b)", re.I)
SQL_ORDERED = re.compile(r"\border\s+by\s+(?:\w+\.)?(\w+)", re.I)


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
Finds columns used in `filter(...)`, `where(...)`, `filter_by(...)`, `order_by(...)` or in
a raw SQL `WHERE`/`ORDER BY` that no index starts with, on tables that grow (they belong to
users or routes write to them). Foreign keys (PR101), unique identity columns (PR102) and
low-cardinality flags such as `status` or `is_active` are left out.

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
        seen: dict[tuple[str, str], str] = {}
        for relpath in query_modules(index):
            for group in statement_groups(index.tree(relpath)):
                for table, columns in self._filtered(group, shape):
                    for column in columns:
                        key = (table.name, column)
                        if key in seen or table.name not in growing or self._excused(table, column, columns, shape):
                            continue
                        seen[key] = relpath
                        yield self.at(
                            table.path,
                            table.columns[column].span,
                            f"{table.model or table.name}.{column} is used to filter or sort ({relpath}) but has no index",
                        )

    @staticmethod
    def _excused(table, column: str, together: set[str], shape) -> bool:
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

    @staticmethod
    def _filtered(group: list[ast.AST], shape) -> list:
        """Table -> columns filtered or sorted on in one statement."""
        found: dict = {}
        for expr in group:
            for node in ast.walk(expr):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                if node.func.attr in CLAUSES:
                    if node.func.attr == "filter_by":
                        table = UnindexedFilterColumn._queried_model(node.func.value, shape)
                        if table is not None:
                            found.setdefault(table.name, (table, set()))[1].update(k.arg for k in node.keywords if k.arg in table.columns)
                        continue
                    for arg in node.args:
                        for sub in ast.walk(arg):
                            hit = model_of_attribute(sub, shape)
                            if hit is not None:
                                found.setdefault(hit[0].name, (hit[0], set()))[1].add(hit[1])
                elif is_query_call(node) and node.args:
                    text = sql_text(node.args[0])
                    tables = sql_tables_named(text) if text else []
                    table = shape.tables.get(tables[0]) if len(set(tables)) == 1 else None
                    if table is not None:
                        names = {m.group(1) for m in SQL_FILTERED.finditer(text)} | {m.group(1) for m in SQL_ORDERED.finditer(text)}
                        found.setdefault(table.name, (table, set()))[1].update(n for n in names if n in table.columns)
        return list(found.values())

    @staticmethod
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

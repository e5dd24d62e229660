"""Step 1 — data model (PR10x): the schema itself — keys, indexes, types and constraints.

Migrations (PR110), N+1 queries (PR12x) and unindexed filters (PR130) have their own modules.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.index.project import is_script_path
from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.rules.querying import app_models, data_shape
from auditor.walk import dotted, kwarg

def in_migration_code(relpath: str) -> bool:
    """DDL inside Python migrations (alembic/versions, migrations/versions) or scripts: generated
    from or mirroring the models, so it gets no model advice. Hand-written .sql files still do."""
    return relpath.endswith(".py") and is_script_path(relpath)


def app_sql_tables(index) -> list:
    """Tables from SQL schema files and DDL in the app's own code."""
    return [table for table in index.sql_tables if not in_migration_code(table.path)]


MONEY_NAME = re.compile(r"(price|amount|total|cost|balance|fee|salary|subtotal|tax|payment|revenue|refund)", re.I)


@register
class MoneyAsFloat(ProjectRule):
    code = "PR103"
    name = "money-as-float"
    category = Category.DATA_MODEL
    severity = Severity.MEDIUM
    impact = (
        "Prices and balances stored as binary floating point drift by fractions of a cent "
        "(0.1 + 0.2 is 0.30000000000000004), so totals, refunds and invoices stop adding up."
    )
    fix_summary = "Stores the column as Numeric(12, 2), an exact decimal (needs a migration)."
    doc = """
## What it does
Finds ORM columns and SQL schema columns whose name says money (price, amount, total,
balance, fee...) but whose type is `Float`/`REAL`/`DOUBLE`.

## Why is this bad in production
Binary floating point cannot represent most decimal amounts exactly. Sums of many small
amounts drift, comparisons like `paid == total` fail, and rounding differs between the
database, Python and the payment provider.

## Example
```python
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    total = Column(Float)
```

## Use instead
```python
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    total = Column(Numeric(12, 2))
```

## Fix safety
Review: the column type changes, so the table needs a migration.
"""
    VALID = [
        """
from sqlalchemy import Column, Integer, Numeric, Float
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    total = Column(Numeric(12, 2))
    latitude = Column(Float)
""",
        {"schema.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY, total NUMERIC(12, 2), score REAL);"},
    ]
    INVALID = [
        """
from sqlalchemy import Column, Integer, Float
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    total = Column(Float)
""",
        """
from sqlalchemy import Integer, Float
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
class Base(DeclarativeBase):
    pass
class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[float] = mapped_column(Float)
""",
        {"schema.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY, price REAL NOT NULL);"},
    ]

    def check(self, index) -> Iterable[Finding]:
        for relpath, model in app_models(index):
            for column in model.columns:
                if MONEY_NAME.search(column.name) and re.match(r"(sa\.|sqlalchemy\.|db\.)?(Float|REAL|Double|float)\b", column.type):
                    yield self.at(relpath, column.span, f"{model.name}.{column.name} stores money as a float; use Numeric(12, 2)")
        for table in app_sql_tables(index):
            for column in table.columns:
                if MONEY_NAME.search(column.name) and column.type.upper().startswith(("REAL", "FLOAT", "DOUBLE")):
                    yield self.at(table.path, column.span, f"{table.name}.{column.name} stores money as {column.type}; use NUMERIC(12, 2)")


IDENTITY_NAME = re.compile(r"^(email|email_address|e_mail|username|user_name|login|handle)$", re.I)


@register
class ForeignKeyWithoutIndex(ProjectRule):
    code = "PR101"
    name = "fk-without-index"
    category = Category.DATA_MODEL
    severity = Severity.MEDIUM
    impact = (
        "Every page that lists a user's or a parent's rows scans the whole table: fine with a hundred rows, "
        "seconds per request once the table holds a few hundred thousand."
    )
    fix_summary = "Adds an index on the foreign-key column (index=True on the model, or CREATE INDEX in the schema)."
    doc = """
## What it does
Finds foreign-key columns (ORM `ForeignKey(...)`, SQL `REFERENCES`) that no index starts with,
when an index would be used: the app filters, joins or sorts on the column (also through a
relationship it reads, such as `project.tasks`), or deletes rows of the table it references.
A foreign key that is never looked up and whose parent rows are never deleted gets no advice.
Tables created by SQL inside migration files are left to the models.

## Why is this bad in production
PostgreSQL and SQLite do not index foreign keys for you. Looking up "the orders of this
user" or "the tasks of this project" then reads the whole table, and deleting a parent row
scans the child table to check the constraint. It is invisible in development and grows
with every row.

## Example
```python
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"))

db.query(Task).filter(Task.project_id == project_id).all()
```

## Use instead
```python
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"), index=True)
```

## Fix safety
Safe for the code; the new index needs a migration (building it locks writes on a large
table unless created concurrently).
"""
    VALID = [
        """
from sqlalchemy import Column, ForeignKey, Index, Integer, UniqueConstraint
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"), index=True)
class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)
    id = Column(Integer, primary_key=True)
    team_id = Column(Integer, ForeignKey("teams.id"))   # leads the unique constraint
    user_id = Column(Integer, ForeignKey("users.id"), primary_key=False, unique=True)
class Comment(Base):
    __tablename__ = "comments"
    id = Column(Integer, primary_key=True)
    task_id = Column(Integer, ForeignKey("tasks.id"))
Index("ix_comments_task_id", Comment.task_id)
""",
        # Never filtered, joined or sorted on, and no project is ever deleted: an index would not be used.
        """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String)
    project_id = Column(Integer, ForeignKey("projects.id"))
def search(db, words):
    return db.query(Task).filter(Task.title.ilike(f"%{words}%")).all()
""",
        {
            "schema.sql": """
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));
CREATE INDEX ix_orders_user ON orders (user_id);
""",
        },
        {
            "models.py": """
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"))
""",
            "migrations/versions/0002_task_index.py": """
from alembic import op
def upgrade():
    op.create_index("ix_tasks_project_id", "tasks", ["project_id"])
""",
        },
    ]
    INVALID = [
        """
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"))
def project_tasks(db, project_id):
    return db.query(Task).filter(Task.project_id == project_id).all()
""",
        """
from sqlalchemy import ForeignKey, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
class Base(DeclarativeBase):
    pass
class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[int] = mapped_column(primary_key=True)
class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
def close_workspace(session, workspace_id):
    session.execute(delete(Workspace).where(Workspace.id == workspace_id))
""",
        """
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base, relationship
Base = declarative_base()
class Project(Base):
    __tablename__ = "projects"
    id = Column(Integer, primary_key=True)
    tasks = relationship("Task")
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"))
def count(project):
    return len(project.tasks)
""",
        {
            "schema.sql": "CREATE TABLE items (\n    id INTEGER PRIMARY KEY,\n    owner_id INTEGER REFERENCES users(id)\n);\n",
            "app.py": "import sqlite3\ndef mine(user_id):\n    conn = sqlite3.connect('app.db')\n    return conn.execute('SELECT * FROM items WHERE owner_id = ?', (user_id,)).fetchall()\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        from auditor.rules.filter_indexes import column_use  # it imports this module

        if index.databases == {"mysql"}:
            return  # InnoDB creates an index for every foreign key itself
        shape = data_shape(index)
        use = column_use(index)
        loaded = self._loaded_through_relationships(shape, use)
        for table in shape.tables.values():
            if in_migration_code(table.path):
                continue  # a table created by a migration's SQL: the models get the advice
            for name, target in table.fk_targets().items():
                if table.indexed(name):
                    continue
                looked_up = (table.name, name) in use.looked_up or (table.name, name) in loaded
                if looked_up:
                    why = "lookups by it scan the whole table"
                elif target in use.deleted:
                    why = f"deleting a {target} row scans this whole table to check the reference"
                else:
                    continue  # never filtered, joined or sorted on, and its parent is never deleted
                yield self.at(
                    table.path,
                    table.columns[name].span,
                    f"{table.model or table.name}.{name} references {target} but has no index: {why}",
                )

    @staticmethod
    def _loaded_through_relationships(shape, use) -> set[tuple[str, str]]:
        """Foreign keys that a used one-to-many or many-to-many relationship loads by:
        `project.tasks` reads tasks WHERE project_id = ?; `workspace.members` reads the
        association table WHERE workspace_id = ?."""
        loaded: set[tuple[str, str]] = set()
        owners: dict[str, int] = {}
        for table in shape.tables.values():
            for rel in table.relationships:
                owners[rel.name] = owners.get(rel.name, 0) + 1

        def read_from(name: str, parent) -> bool:
            """`parent.rel` is read somewhere; when several models have a relationship of that name,
            the receiver must name this one (`post.comments`, `current_user.posts`, `self` in Post)."""
            receivers = use.attributes.get(name, set())
            if owners.get(name, 0) <= 1 or not parent.model:
                return bool(receivers)
            words = {parent.model.lower(), parent.name, parent.name.rstrip("s")}
            return any(r in words or any(r.endswith("_" + w) for w in words) for r in receivers)

        for parent in shape.tables.values():
            for rel in parent.relationships:
                if not read_from(rel.name, parent):
                    continue
                for word in re.findall(r"\w+", rel.target):
                    child = shape.by_model.get(word)
                    if child is not None and child is not parent:
                        loaded |= {(child.name, col) for col, target in child.fk_targets().items() if target == parent.name}
        for owner, rel_name, secondary in use.secondary:
            parent, link = shape.by_model.get(owner), shape.tables.get(secondary)
            if parent is not None and link is not None and read_from(rel_name, parent):
                loaded |= {(link.name, col) for col, target in link.fk_targets().items() if target == parent.name}
        return loaded


@register
class IdentityColumnNotUnique(ProjectRule):
    code = "PR102"
    name = "identity-column-not-unique"
    category = Category.DATA_MODEL
    severity = Severity.HIGH
    impact = (
        "Two accounts can end up with the same email: a double-clicked signup creates both, and then "
        "login, password reset and invitations pick one of them at random."
    )
    fix_summary = "Adds a unique constraint on the column (unique=True / UNIQUE), which also indexes it."
    doc = """
## What it does
Finds `email` / `username` / `login` columns of user or account tables that have no unique
constraint (on their own or together with a tenant column).

## Why is this bad in production
"Check whether the email exists, then insert" is not atomic: two concurrent signups both
pass the check. Without a unique constraint the database accepts the duplicate, and every
later lookup by email may return the wrong account.

## Example
```python
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, index=True)
```

## Use instead
```python
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True, nullable=False)
```

## Fix safety
Review: the migration fails if duplicates already exist; clean them up first.
"""
    VALID = [
        """
from sqlalchemy import Column, Integer, String, UniqueConstraint
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)
class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("tenant_id", "username"),)
    id = Column(Integer, primary_key=True)
    tenant_id = Column(Integer)
    username = Column(String)
class Invite(Base):
    __tablename__ = "invites"   # the same address may be invited twice
    id = Column(Integer, primary_key=True)
    email = Column(String)
""",
        {
            "schema.sql": """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);
CREATE UNIQUE INDEX ux_users_email ON users (email);
""",
        },
    ]
    INVALID = [
        """
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, index=True)
""",
        """
from sqlmodel import Field, SQLModel
class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str
""",
        {"schema.sql": "CREATE TABLE users (\n    id INTEGER PRIMARY KEY,\n    email TEXT NOT NULL,\n    name TEXT\n);\n"},
    ]

    def check(self, index) -> Iterable[Finding]:
        shape = data_shape(index)
        for name in sorted(shape.users):
            table = shape.tables[name]
            if in_migration_code(table.path):
                continue
            for column in table.columns.values():
                if IDENTITY_NAME.match(column.name) and not table.is_unique(column.name):
                    yield self.at(
                        table.path,
                        column.span,
                        f"{table.model or table.name}.{column.name} is not unique: two accounts can share the same {column.name}",
                    )


NAIVE_TYPE = re.compile(r"(^|\.)(DateTime|TIMESTAMP|datetime)\b")
NAIVE_DEFAULT = re.compile(r"\bdatetime\.utcnow\b|\bdatetime\.now\b(?!\(\s*\w)")


@register
class NaiveDatetime(ProjectRule):
    code = "PR104"
    name = "naive-datetime"
    category = Category.DATA_MODEL
    severity = Severity.LOW
    impact = (
        "Times without a time zone get read as local time somewhere along the way: reminders fire an hour "
        "early after a clock change, and comparing them with aware times crashes the request."
    )
    fix_summary = "Declares the column DateTime(timezone=True) and defaults it to datetime.now(timezone.utc)."
    doc = """
## What it does
Finds datetime columns stored without a time zone (`DateTime` without `timezone=True`,
`Mapped[datetime]` with no explicit type, SQL `TIMESTAMP`/`DATETIME`) and defaults built
with `datetime.utcnow` or `datetime.now()` (naive values; `utcnow` is deprecated).

## Why is this bad in production
A naive datetime does not say which zone it is in. Servers, databases and clients disagree
about it, daylight-saving changes shift it, and Python raises `TypeError` when a naive value
meets an aware one (`can't compare offset-naive and offset-aware datetimes`).

## Example
```python
created_at = Column(DateTime, default=datetime.utcnow)
```

## Use instead
```python
created_at = Column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))
```

## Fix safety
Review: the column type changes (a migration), and existing values must be read as UTC.
"""
    VALID = [
        """
from datetime import datetime, timezone
from sqlalchemy import Column, Date, DateTime, Integer, func
from sqlalchemy.orm import declarative_base
Base = declarative_base()
def utcnow():
    return datetime.now(timezone.utc)
class Event(Base):
    __tablename__ = "events"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime(timezone=True), default=utcnow)
    seen = Column(DateTime(timezone=True), server_default=func.now())
    day = Column(Date)
    stamp = Column(DateTime(timezone=True), default=lambda: datetime.now(tz=timezone.utc))
""",
        {"schema.sql": "CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP WITH TIME ZONE, seen TIMESTAMPTZ);"},
    ]
    INVALID = [
        """
from datetime import datetime
from sqlalchemy import Column, DateTime, Integer
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Event(Base):
    __tablename__ = "events"
    id = Column(Integer, primary_key=True)
    created_at = Column(DateTime, default=datetime.utcnow)
""",
        """
from datetime import datetime
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
class Base(DeclarativeBase):
    pass
class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=datetime.utcnow)
""",
        {"schema.sql": "CREATE TABLE events (id INTEGER PRIMARY KEY, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);"},
    ]

    def check(self, index) -> Iterable[Finding]:
        aware_map = self._aware_annotation_map(index)
        for relpath, model in app_models(index):
            for column in model.columns:
                naive_type = bool(NAIVE_TYPE.search(column.type)) and "timezone=True" not in column.type
                if column.type == "datetime" and aware_map:
                    naive_type = False
                naive_default = bool(NAIVE_DEFAULT.search(column.default or ""))
                if not (naive_type or naive_default):
                    continue
                label = f"{model.name}.{column.name}"
                if naive_type and naive_default:
                    message = f"{label} stores naive datetimes (no time zone) and defaults to {column.default}"
                elif naive_type:
                    message = f"{label} stores datetimes without a time zone; use DateTime(timezone=True)"
                else:
                    message = f"{label} defaults to {column.default}, a naive datetime; use datetime.now(timezone.utc)"
                yield self.at(relpath, column.span, message, severity=Severity.MEDIUM if naive_default else None)
        for table in app_sql_tables(index):
            for column in table.columns:
                if column.type.upper() in {"TIMESTAMP", "DATETIME"}:
                    yield self.at(
                        table.path,
                        column.span,
                        f"{table.name}.{column.name} is {column.type} without a time zone; use TIMESTAMP WITH TIME ZONE (or store UTC explicitly)",
                    )

    @staticmethod
    def _aware_annotation_map(index) -> bool:
        """`type_annotation_map = {datetime: DateTime(timezone=True)}` on the declarative base."""
        model_files = {relpath for relpath, _ in app_models(index)}
        return any(
            "type_annotation_map" in index.source(relpath) and "timezone=True" in index.source(relpath)
            for relpath in model_files | {r for r, f in index.modules.items() if "DeclarativeBase" in str(f.classes)}
        )


SCHEMA_SUFFIX = re.compile(r"^(Create|In|Input|Base|Payload|Request|Body|Schema|Out|Read|Response|Public|Detail|Update|New)$")
OPTIONAL = re.compile(r"Optional\[|\|\s*None\b|\bNone\s*\||^Any$")


def pydantic_schemas(index) -> list[tuple[str, str]]:
    """(relpath, class name) of Pydantic models and SQLModel classes that are not tables."""
    tables = {model.name for _, model in index.models}
    found: dict[str, str] = {}
    pending = True
    while pending:  # follow project-local base classes: class TaskCreate(TaskBase)
        pending = False
        for relpath, facts in index.modules.items():
            for name, bases in facts.classes.items():
                if name in found or name in tables or "." in name:
                    continue
                if any(b.endswith(("BaseModel", "SQLModel")) or b.rpartition(".")[2] in found for b in bases):
                    found[name] = relpath
                    pending = True
    return [(relpath, name) for name, relpath in found.items()]


def required_fields(node: ast.ClassDef) -> dict[str, ast.AST]:
    """Fields a client must send: annotated, not Optional, no default (or `Field(...)`)."""
    fields = {}
    for stmt in node.body:
        if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
            continue
        if OPTIONAL.search(ast.unparse(stmt.annotation)) or "ClassVar" in ast.unparse(stmt.annotation):
            continue
        value = stmt.value
        if value is None:
            fields[stmt.target.id] = stmt
        elif isinstance(value, ast.Call) and (dotted(value.func) or "").endswith("Field"):
            first = value.args[0] if value.args else kwarg(value, "default")
            no_default = first is None or (isinstance(first, ast.Constant) and first.value is Ellipsis)
            if no_default and kwarg(value, "default_factory") is None:
                fields[stmt.target.id] = stmt
    return fields


@register
class NullableButRequired(ProjectRule):
    code = "PR105"
    name = "nullable-but-required"
    category = Category.DATA_MODEL
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "The API insists on a value the database does not: rows written by a script, an import or an old "
        "version arrive with NULL there, and the pages that read them crash."
    )
    fix_summary = "Declares the column NOT NULL (nullable=False) to match what the API requires."
    doc = """
## What it does
Finds ORM columns that accept NULL (SQLAlchemy's `Column` is nullable unless told otherwise,
`Mapped[Optional[...]]`) while the Pydantic schema for that model requires the field (no
default, not `Optional`), so the code treats it as always present.

## Why is this bad in production
The database is the last line of defence: anything that bypasses the API (a migration, an
admin script, a bug in another endpoint) can store NULL, and code written for "always set"
then fails with `AttributeError: 'NoneType'` or a response-validation 500.

## Example
```python
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String)

class TaskCreate(BaseModel):
    title: str
```

## Use instead
```python
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String, nullable=False)
```

## Fix safety
Review: the migration fails while NULLs exist in the column; backfill them first.
"""
    VALID = [
        """
from typing import Optional
from pydantic import BaseModel
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String, nullable=False)
    note = Column(String)
class TaskCreate(BaseModel):
    title: str
    note: Optional[str] = None
class Report(BaseModel):      # not a schema of the Task model
    note: str
""",
    ]
    INVALID = [
        """
from pydantic import BaseModel
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String)
class TaskCreate(BaseModel):
    title: str
""",
        {
            "models.py": """
from typing import Optional
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
class Base(DeclarativeBase):
    pass
class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[Optional[str]] = mapped_column(String(100))
""",
            "schemas.py": """
from pydantic import BaseModel, Field
class ProjectBase(BaseModel):
    name: str = Field(..., max_length=100)
class ProjectOut(ProjectBase):
    id: int
""",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        models = {model.name: (relpath, model) for relpath, model in app_models(index) if model.kind in {"sqlalchemy", "flask-sqlalchemy"}}
        if not models:
            return
        reported: set[tuple[str, str]] = set()
        for relpath, schema in pydantic_schemas(index):
            model_name = next((m for m in models if schema.startswith(m) and SCHEMA_SUFFIX.match(schema[len(m):])), None)
            node = self._class_node(index, relpath, schema)
            if model_name is None or node is None:
                continue
            model_path, model = models[model_name]
            fields = required_fields(node)
            for column in model.columns:
                nullable = column.nullable is True or (column.nullable is None and not column.primary_key)
                if nullable and column.name in fields and (model.name, column.name) not in reported:
                    reported.add((model.name, column.name))
                    yield self.at(
                        model_path,
                        column.span,
                        f"{model.name}.{column.name} accepts NULL but {schema} requires it; declare it nullable=False",
                    )

    @staticmethod
    def _class_node(index, relpath: str, name: str) -> ast.ClassDef | None:
        for node in index.tree(relpath).body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return node
        return None


@register
class ModelWithoutPrimaryKey(ProjectRule):
    code = "PR106"
    name = "model-without-primary-key"
    category = Category.DATA_MODEL
    severity = Severity.MEDIUM
    impact = (
        "Rows cannot be told apart: a retried insert leaves two identical rows, and updating or deleting "
        "one of them touches both."
    )
    fix_summary = "Adds a primary key (an id column, or a composite key over a link table's columns)."
    doc = """
## What it does
Finds tables with no primary key: SQL `CREATE TABLE` without `PRIMARY KEY`, SQLAlchemy
`Table(...)` definitions and models with no primary-key column and no unique constraint.

## Why is this bad in production
Without a key, duplicates are accepted silently (a membership recorded twice), ORMs cannot
update a single row, and logical replication and many migration tools refuse the table.

## Example
```python
members = Table(
    "members", metadata,
    Column("team_id", ForeignKey("teams.id")),
    Column("user_id", ForeignKey("users.id")),
)
```

## Use instead
```python
members = Table(
    "members", metadata,
    Column("team_id", ForeignKey("teams.id"), primary_key=True),
    Column("user_id", ForeignKey("users.id"), primary_key=True),
)
```

## Fix safety
Review: adding the key fails while duplicate rows exist.
"""
    VALID = [
        """
from sqlalchemy import Column, ForeignKey, Integer, MetaData, PrimaryKeyConstraint, Table
from sqlalchemy.orm import declarative_base
metadata = MetaData()
members = Table(
    "members", metadata,
    Column("team_id", Integer, ForeignKey("teams.id")),
    Column("user_id", Integer, ForeignKey("users.id")),
    PrimaryKeyConstraint("team_id", "user_id"),
)
Base = declarative_base()
class TimestampMixin:          # a mixin has no table of its own
    created = Column(Integer)
class Team(Base):
    __tablename__ = "teams"
    id = Column(Integer, primary_key=True)
""",
        {"schema.sql": "CREATE TABLE tags (post_id INTEGER, tag TEXT, PRIMARY KEY (post_id, tag));"},
    ]
    INVALID = [
        """
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table
metadata = MetaData()
members = Table(
    "members", metadata,
    Column("team_id", Integer, ForeignKey("teams.id")),
    Column("user_id", Integer, ForeignKey("users.id")),
)
""",
        {"schema.sql": "CREATE TABLE events (name TEXT, payload TEXT);"},
    ]

    def check(self, index) -> Iterable[Finding]:
        for relpath, model in app_models(index):
            if model.abstract or any(c.primary_key for c in model.columns) or model.unique_sets:
                continue
            if not model.columns:
                continue  # no column is known (a query-builder table such as pypika's): nothing to judge
            if model.kind == "table" and not any(c.foreign_key for c in model.columns):
                continue  # a core Table() describing someone else's table (a catalog, a view)
            kind = "table" if model.kind == "table" else "model"
            yield self.at(relpath, model.span, f"{kind} {model.name}{'' if model.name == model.table else f' (table {model.table})'} has no primary key: duplicate rows go unnoticed")
        for table in app_sql_tables(index):
            if table.name.startswith("__index__") or table.primary_key or any(c.primary_key for c in table.columns):
                continue
            yield self.at(table.path, table.span, f"table {table.name} has no primary key: duplicate rows go unnoticed")

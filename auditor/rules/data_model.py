"""Step 1 — data model (PR1xx): schema constraints, indexes, migrations, N+1 queries."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.index.project import is_script_path
from auditor.rules.querying import app_models, data_shape, is_query_call, model_of_attribute, sql_tables_named, sql_text
from auditor.walk import dotted, kwarg

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
        for table in index.sql_tables:
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
Finds foreign-key columns (ORM `ForeignKey(...)`, SQL `REFERENCES`) that no index starts with.

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
""",
        """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
class Base(DeclarativeBase):
    pass
class Invite(Base):
    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id"))
""",
        """
from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table
metadata = MetaData()
members = Table("members", metadata, Column("team_id", Integer, ForeignKey("teams.id")))
""",
        {"schema.sql": "CREATE TABLE items (\n    id INTEGER PRIMARY KEY,\n    owner_id INTEGER REFERENCES users(id)\n);\n"},
    ]

    def check(self, index) -> Iterable[Finding]:
        if index.databases == {"mysql"}:
            return  # InnoDB creates an index for every foreign key itself
        for table in data_shape(index).tables.values():
            for name, target in table.fk_targets().items():
                if not table.indexed(name):
                    label = f"{table.model or table.name}.{name}"
                    yield self.at(
                        table.path,
                        table.columns[name].span,
                        f"{label} references {target} but has no index: lookups and deletes by it scan the whole table",
                    )


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
        for table in index.sql_tables:
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
            if model.kind == "table" and not any(c.foreign_key for c in model.columns):
                continue  # a core Table() describing someone else's table (a catalog, a view)
            kind = "table" if model.kind == "table" else "model"
            yield self.at(relpath, model.span, f"{kind} {model.name} ({model.table}) has no primary key: duplicate rows go unnoticed")
        for table in index.sql_tables:
            if table.name.startswith("__index__") or table.primary_key or any(c.primary_key for c in table.columns):
                continue
            yield self.at(table.path, table.span, f"table {table.name} has no primary key: duplicate rows go unnoticed")


@register
class TablesCreatedAtStartup(ProjectRule):
    code = "PR110"
    name = "tables-created-at-startup"
    category = Category.MIGRATIONS
    severity = Severity.MEDIUM
    impact = (
        "The app creates its tables when it boots and nothing else manages the schema: the first time a "
        "column is added or changed, production keeps the old table and requests start failing."
    )
    fix_summary = "Sets up Alembic with a first migration and removes the create_all() call from app start-up."
    doc = """
## What it does
Finds web apps that create their schema when they start — `Base.metadata.create_all()`,
`db.create_all()`, or a `CREATE TABLE IF NOT EXISTS` script run by `executescript()` — while
no migration tool (Alembic, Flask-Migrate, Django migrations) is set up.

## Why is this bad in production
`create_all` only creates missing tables; it never alters existing ones. A new column, a
changed type or a new index in the code silently does not exist in the production database,
and the mismatch surfaces as errors in live requests. There is also no record of what
changed, and no way to roll back.

## Example
```python
Base.metadata.create_all(bind=engine)
app = FastAPI()
```

## Use instead
```python
# alembic init migrations; alembic revision --autogenerate -m "initial"; alembic upgrade head
app = FastAPI()
```

## Fix safety
Review: adds migration files and changes how the schema is deployed.
"""
    VALID = [
        {
            "app.py": """
from fastapi import FastAPI
from db import Base, engine
Base.metadata.create_all(bind=engine)
app = FastAPI()
@app.get("/")
def index():
    return {}
""",
            "alembic.ini": "[alembic]\nscript_location = migrations\n",
        },
        {
            "app.py": "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef index():\n    return {}\n",
            "tests/conftest.py": "from app.db import Base, engine\nBase.metadata.create_all(engine)\n",
        },
        {
            "app.py": """
import click
from flask import Flask
from db import Base, engine
app = Flask(__name__)
@app.route("/")
def index():
    return "ok"
def init_db():
    Base.metadata.create_all(engine)
@app.cli.command("init-db")
def init_db_command():
    init_db()
""",
        },
        "from db import Base, engine\ndef main():\n    Base.metadata.create_all(engine)\nmain()\n",
    ]
    INVALID = [
        """
from fastapi import FastAPI
from db import Base, engine
Base.metadata.create_all(bind=engine)
app = FastAPI()
@app.get("/")
def index():
    return {}
""",
        {
            "app/__init__.py": """
from flask import Flask
from app.db import init_db
def create_app():
    app = Flask(__name__)
    with app.app_context():
        init_db()
    @app.route("/")
    def index():
        return "ok"
    return app
""",
            "app/db.py": """
import sqlite3
def init_db():
    db = sqlite3.connect("app.db")
    with open("schema.sql") as f:
        db.executescript(f.read())
""",
            "app/schema.sql": "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, email TEXT);",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        if not index.frameworks or index.uses_migrations():
            return
        has_ddl = bool(index.sql_tables)
        for relpath, facts in sorted(index.modules.items()):
            if is_script_path(relpath):
                continue
            for site in facts.schema_setup:
                if site.func.endswith("executescript") and not has_ddl:
                    continue
                if site.function is not None and not self._runs_on_boot(index, relpath, facts, site.function):
                    continue
                what = "create_all()" if site.func.endswith("create_all") else "a CREATE TABLE script"
                yield self.at(
                    relpath,
                    site.span,
                    f"tables are created with {what} when the app runs and no migration tool is set up: schema changes will never reach an existing database",
                )

    @staticmethod
    def _runs_on_boot(index, relpath: str, facts, qualname: str, depth: int = 0) -> bool:
        """Not only reachable from CLI commands (`flask init-db`): start-up hooks, factories, module level."""
        function = facts.functions.get(qualname)
        if function is None or any("command" in d for d in function.decorators):
            return False
        target = f"{facts.module}.{qualname}"
        callers = [
            (other_path, other, caller.qualname)
            for other_path, other in index.modules.items()
            if not is_script_path(other_path)
            for caller in other.functions.values()
            if target in caller.calls or (other_path == relpath and qualname in caller.calls)
        ]
        if not callers or depth >= 3:
            return True  # called at module level or by the framework (facts keep no module-level calls)
        return any(TablesCreatedAtStartup._runs_on_boot(index, *caller, depth + 1) for caller in callers)


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

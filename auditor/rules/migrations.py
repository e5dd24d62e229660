"""Step 1 — data model (PR110): how the schema reaches the database."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.index.project import is_script_path
from auditor.models import Category, Finding, Severity
from auditor.rules.base import ProjectRule, register


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

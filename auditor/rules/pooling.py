"""Step 2 — infrastructure (PR23x): database connections, pools and SQLite under load."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.index.callgraph import request_code
from auditor.index.values import value_resolver
from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register

ENGINES = frozenset({"sqlalchemy.create_engine", "sqlalchemy.engine.create_engine", "sqlalchemy.ext.asyncio.create_async_engine", "sqlmodel.create_engine"})
SQLITE_CONNECT = frozenset({"sqlite3.connect", "aiosqlite.connect"})
POOL_SETTINGS = frozenset({"pool_size", "max_overflow", "pool_pre_ping", "pool_recycle", "pool_timeout", "poolclass", "**"})
SERVER_URL = re.compile(r"(postgres|mysql|mariadb|mssql|oracle|cockroach)", re.I)
CACHED = re.compile(r"(lru_cache|cache|cached|memoize|singleton|once)$")
# Kept for later requests: a module global, Flask's `g`, app state, a lazily filled attribute.
REUSE = re.compile(r"(\bglobal\b|\bg\.\w+|\bin g\b|getattr\(g\b|app\.state|\b(self|cls)\.\w+ is None|setdefault\()")


def per_request_functions(index) -> dict[tuple[str, str], str]:
    """(relpath, qualname) of code that runs on every request, through any depth of helpers -> how it is reached."""
    return request_code(index)


def _reuses_connection(index, relpath: str, qualname: str, func: str) -> bool:
    """Cached, stored on `g`/app state/a global, or (for SQLite) closed again in the same function."""
    function = index.modules[relpath].functions.get(qualname)
    if function is None or any(CACHED.search(d) for d in function.decorators):
        return True
    node = index.function_node(relpath, qualname)
    if node is None:
        return True
    source = ast.unparse(node)
    if REUSE.search(source):
        return True
    # sqlite3's `with conn:` only commits; closing is what releases the file
    return func in SQLITE_CONNECT and re.search(r"\.close\(\)|\bclosing\(", source) is not None


@register
class ConnectionPerRequest(ProjectRule):
    code = "PR230"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "connection-per-request"
    category = Category.CONNECTION_POOL
    severity = Severity.HIGH
    impact = (
        "Every request opens a fresh database connection (or a whole new pool): requests get slower, and "
        "under a traffic spike the database runs out of connections and starts refusing everyone."
    )
    fix_summary = "Creates the engine or pool once at start-up and hands out pooled connections per request."
    doc = """
## What it does
Finds database connections or engines created inside a route handler, a per-request
dependency, or a helper the handler calls: `create_engine`, `psycopg2.connect`,
`psycopg.connect`, `MongoClient`, and `sqlite3.connect` that is neither cached (`g`,
`lru_cache`, a module global) nor closed.

## Why is this bad in production
Opening a PostgreSQL connection costs a TCP and TLS handshake plus authentication, often
longer than the query. Nothing caps how many are open at once, so a burst of traffic
exhausts `max_connections`. `create_engine` per request also builds and leaks a new pool
each time; an unclosed SQLite connection leaks a file handle.

## Example
```python
@router.get("/reports/{id}")
def report(id: int):
    engine = create_engine(DATABASE_URL)
    with engine.connect() as conn:
        ...
```

## Use instead
```python
engine = create_engine(DATABASE_URL, pool_size=10, pool_pre_ping=True)  # once, at import

@router.get("/reports/{id}")
def report(id: int):
    with engine.connect() as conn:
        ...
```

## Fix safety
Review: moves connection setup to start-up.
"""
    VALID = [
        """
from functools import lru_cache
from fastapi import Depends, FastAPI
from sqlalchemy import create_engine
app = FastAPI()
engine = create_engine("postgresql://db/app", pool_size=10)
@lru_cache
def get_engine():
    return create_engine("postgresql://db/app", pool_size=10)
def get_db():
    with get_engine().connect() as conn:
        yield conn
@app.get("/items")
def items(conn=Depends(get_db)):
    with engine.connect() as c:
        return []
""",
        """
import sqlite3
from flask import Flask, g
app = Flask(__name__)
def get_db():
    if "db" not in g:
        g.db = sqlite3.connect("app.db")
    return g.db
@app.route("/items")
def items():
    return get_db().execute("SELECT 1").fetchall()
""",
    ]
    INVALID = [
        """
from fastapi import FastAPI
from sqlalchemy import create_engine, text
app = FastAPI()
@app.get("/reports/{id}")
def report(id: int):
    engine = create_engine("postgresql://db/app")
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1")).all()
""",
        """
import sqlite3
from flask import Flask
app = Flask(__name__)
def get_db():
    conn = sqlite3.connect("app.db")
    return conn
@app.route("/items")
def items():
    return get_db().execute("SELECT 1").fetchall()
""",
        """
import psycopg2
from fastapi import Depends, FastAPI
app = FastAPI()
def get_conn():
    conn = psycopg2.connect("dbname=app")
    try:
        yield conn
    finally:
        conn.close()
@app.get("/items")
def items(conn=Depends(get_conn)):
    return []
""",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not index.routes:
            return
        request_code = per_request_functions(index)
        for relpath, site in index.connections:
            why = request_code.get((relpath, site.function or ""))
            if why is None or site.func.endswith(("create_pool", "ConnectionPool", "SimpleConnectionPool", "SQLAlchemy")):
                continue
            if _reuses_connection(index, relpath, site.function, site.func):
                continue
            what = "a new engine (and pool)" if site.func in ENGINES else f"a new connection ({site.func})"
            severity = Severity.MEDIUM if site.func in SQLITE_CONNECT else None
            yield self.at(relpath, site.span, f"{what} is opened on every request in {site.function}(), {why}", severity=severity)


@register
class EngineWithoutPoolSettings(ProjectRule):
    code = "PR231"
    name = "engine-without-pool-settings"
    category = Category.CONNECTION_POOL
    severity = Severity.MEDIUM
    impact = (
        "The pool runs on defaults: after a database restart or an idle timeout users get errors from dead "
        "connections, and under load requests queue for one of only five connections."
    )
    fix_summary = "Sets pool_size, max_overflow, pool_timeout, pool_recycle and pool_pre_ping on the engine, from settings."
    doc = """
## What it does
Finds SQLAlchemy engines for a server database (PostgreSQL, MySQL...) created with none of
`pool_size`, `max_overflow`, `pool_timeout`, `pool_recycle`, `pool_pre_ping` (or an explicit
`poolclass`). SQLite engines are left to PR232.

## Why is this bad in production
The defaults (5 connections + 10 overflow, no pre-ping, no recycling) are sized for nothing
in particular: connections closed by the server or a load balancer are handed out dead, and
the pool size is not matched to the number of workers and the database's limit.

## Example
```python
engine = create_engine(DATABASE_URL)
```

## Use instead
```python
engine = create_engine(
    DATABASE_URL, pool_size=10, max_overflow=10, pool_timeout=10, pool_recycle=1800, pool_pre_ping=True
)
```

## Fix safety
Safe: the same pool, with explicit limits and health checks.
"""
    VALID = [
        "from sqlalchemy import create_engine\nengine = create_engine('postgresql://db/app', pool_size=10, pool_pre_ping=True)\n",
        "from sqlalchemy import create_engine\nengine = create_engine('sqlite:///app.db', connect_args={'check_same_thread': False})\n",
        "from sqlalchemy import create_engine\nfrom sqlalchemy.pool import NullPool\nengine = create_engine('postgresql://pgbouncer/app', poolclass=NullPool)\n",
    ]
    INVALID = [
        "from sqlalchemy import create_engine\nengine = create_engine('postgresql+psycopg://db/app')\n",
        {
            "config.py": "import os\nDATABASE_URL = os.getenv('DATABASE_URL', 'postgresql://localhost/app')\n",
            "db.py": "from sqlalchemy.ext.asyncio import create_async_engine\nfrom config import DATABASE_URL\nengine = create_async_engine(DATABASE_URL, echo=False)\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        request_code = per_request_functions(index) if index.routes else {}
        server = bool({"postgresql", "mysql"} & index.databases)
        resolver = value_resolver(index)
        for relpath, site in index.connections:
            if site.func not in ENGINES or POOL_SETTINGS & set(site.kwargs) or (relpath, site.function or "") in request_code:
                continue
            url = site.args[0] if site.args else site.kwargs.get("url", "")
            # Followed through variables, settings fields and env defaults: a SQLite URL takes no pool settings.
            kind = resolver.database_kind(relpath, url, site.function) if url else None
            if kind == "sqlite":
                continue
            literal = url[:1] in {"'", '"'} or url.startswith("f'") or url.startswith('f"')
            if kind == "server" or SERVER_URL.search(url) or (not literal and server and "sqlite" not in url.lower()):
                yield self.at(relpath, site.span, "engine created without pool settings (pool_size, pool_pre_ping, pool_recycle...): defaults hand out dead connections after restarts")


@register
class SqliteConcurrencyNote(ProjectRule):
    code = "PR232"
    name = "sqlite-concurrency-note"
    category = Category.CONNECTION_POOL
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "SQLite lets one request write at a time: with a few users at once, writes wait for each other and "
        "some fail with 'database is locked'."
    )
    fix_summary = "Turns on WAL mode and a busy timeout for SQLite, or moves the app to PostgreSQL."
    doc = """
## What it does
Notes a web app whose only database is SQLite, when nothing sets WAL mode
(`PRAGMA journal_mode=WAL`) or a busy timeout. It is a note, not a pooling error: SQLite
needs no pool, but it has its own limits under concurrent requests.

## Why is this bad in production
SQLite locks the whole database for each write. Several workers writing at once queue up,
and after the default 5-second wait the next one fails with `database is locked`. The file
also lives on one machine, so you cannot run a second instance.

## Example
```python
def get_db():
    return sqlite3.connect("app.db")
```

## Use instead
```python
def get_db():
    conn = sqlite3.connect("app.db", timeout=15)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn
```

## Fix safety
Safe: WAL mode keeps the same data and lets reads run during writes.
"""
    VALID = [
        """
import sqlite3
from flask import Flask
app = Flask(__name__)
def get_db():
    conn = sqlite3.connect("app.db", timeout=15)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn
@app.route("/")
def index():
    return "ok"
""",
        "import sqlite3\ndef main():\n    sqlite3.connect('cache.db').execute('VACUUM')\n",
    ]
    INVALID = [
        """
import sqlite3
from flask import Flask
app = Flask(__name__)
def get_db():
    return sqlite3.connect("app.db")
@app.route("/")
def index():
    return "ok"
""",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not index.routes or index.databases != {"sqlite"}:
            return
        sites = [(relpath, site) for relpath, site in index.connections if site.func in SQLITE_CONNECT | ENGINES]
        if not sites or any(re.search(r"journal_mode\s*=?\s*'?wal", index.source(relpath), re.I) for relpath, _ in sites):
            return
        relpath, site = sites[0]
        yield self.at(relpath, site.span, "the app runs on SQLite: one writer at a time, so concurrent requests queue and can fail with 'database is locked'")


def _closing_lines(function: ast.AST, var: str) -> tuple[list[int], bool]:
    """Lines where `var` is closed or handed back (close(), putconn(var), release(var)), and whether one is in a `finally`."""
    lines, in_finally = [], False
    for node in ast.walk(function):
        if isinstance(node, ast.Try):
            for stmt in node.finalbody:
                for sub in ast.walk(stmt):
                    if _closes(sub, var):
                        in_finally = True
        if _closes(node, var):
            lines.append(node.lineno)
    return sorted(lines), in_finally


def _closes(node: ast.AST, var: str) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    if node.func.attr == "close" and isinstance(node.func.value, ast.Name) and node.func.value.id == var:
        return True
    return node.func.attr in {"putconn", "release", "return_connection"} and any(isinstance(a, ast.Name) and a.id == var for a in node.args)


@register
class ConnectionLeakedOnEarlyReturn(ProjectRule):
    code = "PR233"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "connection-leaked-on-early-return"
    category = Category.CONNECTION_POOL
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "A function opens a database connection and closes it at the end, but returns (or fails) earlier on "
        "some paths: each of those requests leaves a connection open until the server runs out."
    )
    fix_summary = "Opens the connection in a `with` block (or closes it in `finally`) so every path closes it."
    doc = """
## What it does
Finds functions that open a connection (`sqlite3.connect`, `psycopg2.connect`, ...) into a
variable and close it with `conn.close()` later, with a `return` or `raise` in between, and
no `with` block or `finally` doing the closing.

## Why is this bad in production
The early exit is usually the "not found" or "invalid input" path, the one tests skip.
Every request taking it leaves a connection open: PostgreSQL hits `max_connections`, a
SQLite file stays locked, and the app starts failing hours after a deploy.

## Example
```python
def get_user(user_id):
    conn = psycopg2.connect(DSN)
    row = conn.execute("SELECT * FROM users WHERE id = %s", (user_id,)).fetchone()
    if row is None:
        return None
    conn.close()
    return row
```

## Use instead
```python
def get_user(user_id):
    with closing(psycopg2.connect(DSN)) as conn:
        return conn.execute("SELECT * FROM users WHERE id = %s", (user_id,)).fetchone()
```

## Fix safety
Review: no automatic fix yet.
"""
    VALID = [
        "import sqlite3\ndef get_user(uid):\n    conn = sqlite3.connect('app.db')\n    try:\n        row = conn.execute('SELECT * FROM users WHERE id = ?', (uid,)).fetchone()\n        if row is None:\n            return None\n        return row\n    finally:\n        conn.close()\n",
        "import sqlite3\ndef count():\n    conn = sqlite3.connect('app.db')\n    n = conn.execute('SELECT COUNT(*) FROM users').fetchone()[0]\n    conn.close()\n    return n\n",
    ]
    INVALID = [
        "import sqlite3\ndef get_user(uid):\n    conn = sqlite3.connect('app.db')\n    row = conn.execute('SELECT * FROM users WHERE id = ?', (uid,)).fetchone()\n    if row is None:\n        return None\n    conn.close()\n    return row\n",
        "import psycopg2\ndef save(data):\n    conn = psycopg2.connect('dbname=app')\n    if not data:\n        raise ValueError('empty')\n    conn.cursor().execute('INSERT INTO t VALUES (%s)', (data,))\n    conn.commit()\n    conn.close()\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        from auditor.index.project import is_script_path

        for relpath, site in index.connections:
            if site.function is None or site.func in ENGINES or is_script_path(relpath):
                continue
            function = index.function_node(relpath, site.function)
            if function is None:
                continue
            var = self.assigned(function, site.span.line)
            if var is None:
                continue
            closes, in_finally = _closing_lines(function, var)
            if not closes or in_finally:
                continue
            first_close = closes[0]
            for node in ast.walk(function):
                if isinstance(node, (ast.Return, ast.Raise)) and site.span.line < node.lineno < first_close:
                    if isinstance(node, ast.Return) and node.value is not None and any(isinstance(n, ast.Name) and n.id == var for n in ast.walk(node.value)):
                        continue  # handed to the caller
                    if self.inside_handled_try(function, node, var):
                        continue
                    verb = "returns" if isinstance(node, ast.Return) else "raises"
                    yield self.at(relpath, node, f"{site.function}() {verb} here before `{var}.close()` on line {first_close}: the connection opened on line {site.span.line} is leaked on this path")
                    break

    @staticmethod
    def assigned(function: ast.AST, line: int) -> str | None:
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and node.lineno == line and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                return node.targets[0].id
        return None

    @staticmethod
    def inside_handled_try(function: ast.AST, exit_node: ast.AST, var: str) -> bool:
        """A raise inside a try whose except closes the connection."""
        for node in ast.walk(function):
            if isinstance(node, ast.Try) and any(exit_node is sub for stmt in node.body for sub in ast.walk(stmt)):
                if any(_closes(sub, var) for handler in node.handlers for sub in ast.walk(handler)):
                    return True
        return False

"""Step 1 — data model (PR12x): N+1 queries, one round trip per row."""

from __future__ import annotations

import ast
from collections.abc import Iterable

from auditor.index.project import is_script_path
from auditor.models import Category, Finding, Severity
from auditor.rules.base import ModuleRule, ProjectRule, register
from auditor.rules.querying import (
    data_shape,
    eager_loaded,
    is_query_call,
    is_rows_expr,
    loop_iters,
    loop_targets,
    per_row_loop,
    query_modules,
)
from auditor.walk import FUNCTIONS, ModuleContext

DB_MODULES = (
    "sqlalchemy", "sqlmodel", "flask_sqlalchemy", "sqlite3", "psycopg2", "psycopg", "pymysql", "mysql",
    "asyncpg", "aiosqlite", "databases", "fastapi", "flask", "peewee", "tortoise",
)
EAGER_HINT = "load them with one query (a join, WHERE id IN (...), or selectinload)"


@register
class QueryInLoop(ModuleRule):
    code = "PR120"
    name = "query-in-loop"
    category = Category.N_PLUS_ONE
    severity = Severity.MEDIUM
    impact = (
        "A page that shows 50 rows runs 51 queries: it is quick with test data and takes seconds, and "
        "most of the database's capacity, once real users have real amounts of data."
    )
    fix_summary = "Replaces the per-row query with one query for all rows (a join or WHERE id IN (...))."
    doc = """
## What it does
Finds a query (ORM `db.query(...)`, `session.execute/scalar/get`, `Model.query...`, or raw SQL
through `cursor.execute`) run inside a loop or comprehension over rows fetched from the
database, directly or through a helper function of the same module called from the loop.

## Why is this bad in production
Each iteration is a network round trip to the database. The number of queries grows with the
data (the "N+1" pattern), so response times and database load grow with every customer,
and a list page that took 20 ms in development takes seconds in production.

## Example
```python
orders = db.execute("SELECT * FROM orders WHERE user_id = ?", (uid,)).fetchall()
for order in orders:
    order["item"] = db.execute("SELECT * FROM items WHERE id = ?", (order["item_id"],)).fetchone()
```

## Use instead
```python
rows = db.execute(
    "SELECT o.*, i.name AS item_name FROM orders o JOIN items i ON i.id = o.item_id WHERE o.user_id = ?",
    (uid,),
).fetchall()
```

## Fix safety
Review: the query is rewritten by hand; no automatic fix.
"""
    VALID = [
        """
from sqlalchemy import select
from sqlalchemy.orm import selectinload
def list_projects(db, ids):
    projects = db.scalars(select(Project).options(selectinload(Project.tasks))).all()
    tasks = db.scalars(select(Task).where(Task.project_id.in_([p.id for p in projects]))).all()
    by_id = {t.id: t for t in db.scalars(select(Task).where(Task.id.in_(ids)))}
    return projects, tasks, by_id
""",
        """
from sqlalchemy import update
def mark_done(db, payload):
    # bounded by the request (a handful of ids), not by the table
    for task_id in payload.ids[:20]:
        db.execute(update(Task).where(Task.id == task_id).values(done=True))
    while True:
        job = db.query(Job).first()
        if job is None:
            break
""",
        "import sqlite3\nfor path in ['a.db', 'b.db']:\n    sqlite3.connect(path).execute('VACUUM')\n",
    ]
    INVALID = [
        """
import sqlite3
def list_orders(db, uid):
    orders = db.execute("SELECT * FROM orders WHERE user_id = ?", (uid,)).fetchall()
    for order in orders:
        item = db.execute("SELECT * FROM items WHERE id = ?", (order["item_id"],)).fetchone()
""",
        """
from sqlalchemy.orm import Session
def list_workspaces(db: Session, user):
    workspaces = db.query(Workspace).filter(Workspace.owner_id == user.id).all()
    return [{"id": ws.id, "projects": db.query(Project).filter(Project.workspace_id == ws.id).count()} for ws in workspaces]
""",
        """
from sqlalchemy.orm import Session
def owner_name(db, task):
    return db.get(User, task.owner_id).name
def report(db: Session):
    tasks = db.query(Task).all()
    return [owner_name(db, t) for t in tasks]
""",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = not is_script_path(ctx.relpath) and any(ctx.imports_module(m) for m in DB_MODULES)
        self.rows: dict[int, set[str]] = {}  # function (0: module) -> names bound to rows
        self.reported: set[int] = set()  # loops already reported
        self.querying: set[str] = set()  # functions of this module that run a query
        self.helper_calls: list[tuple[ast.AST, ast.Call, str]] = []
        self.local_functions = {n.name for n in ctx.tree.body if isinstance(n, FUNCTIONS)} if self.active else set()

    def _scope(self, ctx: ModuleContext) -> set[str]:
        function = ctx.enclosing_function()
        return self.rows.setdefault(id(function) if function else 0, set())

    def visit_Assign(self, node: ast.Assign | ast.AnnAssign, ctx: ModuleContext) -> None:
        if not self.active or node.value is None:
            return
        scope = self._scope(ctx)
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {t.id for t in targets if isinstance(t, ast.Name)}
        if is_rows_expr(node.value, scope):
            scope |= names
        else:
            scope -= names

    visit_AnnAssign = visit_Assign

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active:
            return
        local_helper = isinstance(node.func, ast.Name) and node.func.id in self.local_functions
        query = not local_helper and is_query_call(node)
        if not (query or local_helper):
            return
        if query:
            function = ctx.enclosing_function()
            if function is not None:
                self.querying.add(function.name)
        loop = per_row_loop([*ctx.parents, node], self._scope(ctx))
        if loop is None or id(loop) in self.reported:
            return
        if local_helper:
            self.helper_calls.append((loop, node, node.func.id))
            return
        self.reported.add(id(loop))
        self.report(ctx, node, f"query runs once per row of the loop on line {loop.lineno} (N+1): {EAGER_HINT}")

    def end(self, ctx: ModuleContext) -> None:
        for loop, call, name in getattr(self, "helper_calls", []):
            if name in self.querying and id(loop) not in self.reported:
                self.reported.add(id(loop))
                self.report(ctx, call, f"{name}() runs a query and is called once per row of the loop on line {loop.lineno} (N+1): {EAGER_HINT}")


@register
class LazyRelationshipInLoop(ProjectRule):
    code = "PR121"
    name = "lazy-relationship-in-loop"
    category = Category.N_PLUS_ONE
    severity = Severity.MEDIUM
    impact = (
        "Reading a related object for each row silently runs one more query per row: list pages slow "
        "down in step with the data and the database does most of its work on them."
    )
    fix_summary = "Loads the relationship together with the rows (selectinload/joinedload in the query)."
    doc = """
## What it does
Finds relationship attributes that SQLAlchemy loads lazily (the default `lazy="select"`, or
`"dynamic"`) read inside a loop or comprehension over query results — directly or in a
helper called with the row — when the query has no `selectinload`/`joinedload` for it.

## Why is this bad in production
Each first access to a lazy relationship is its own `SELECT`. Over a list of rows that is
one query per row, hidden behind an innocent attribute access; with async sessions it even
raises `MissingGreenlet`.

## Example
```python
projects = db.query(Project).all()
return [{"name": p.name, "tasks": len(p.tasks)} for p in projects]
```

## Use instead
```python
projects = db.query(Project).options(selectinload(Project.tasks)).all()
return [{"name": p.name, "tasks": len(p.tasks)} for p in projects]
```

## Fix safety
Review: adds a loader option to the query; the results are the same.
"""
    _MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base, relationship
Base = declarative_base()
class Project(Base):
    __tablename__ = "projects"
    id = Column(Integer, primary_key=True)
    name = Column(String)
    tasks = relationship("Task", back_populates="project")
    owner = relationship("User", lazy="joined")
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"), index=True)
    project = relationship("Project", back_populates="tasks")
"""
    VALID = [
        {
            "models.py": _MODELS,
            "views.py": """
from sqlalchemy.orm import selectinload
from models import Project
def listing(db):
    projects = db.query(Project).options(selectinload(Project.tasks)).all()
    rows = [{"name": p.name, "tasks": len(p.tasks), "owner": p.owner.name} for p in projects]
    one = db.get(Project, 1)
    return rows, [t.id for t in one.tasks]
""",
        },
    ]
    INVALID = [
        {
            "models.py": _MODELS,
            "views.py": """
from models import Project
def listing(db):
    projects = db.query(Project).all()
    total = 0
    for p in projects:
        total += len(p.tasks)
    return total
""",
        },
        {
            "models.py": _MODELS,
            "views.py": """
from sqlalchemy import select
from models import Task
def task_to_dict(t):
    return {"id": t.id, "project": t.project.name}
def listing(db):
    return [task_to_dict(t) for t in db.scalars(select(Task)).all()]
""",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        lazy = data_shape(index).lazy_relationships()
        if not lazy:
            return
        for relpath in query_modules(index):
            tree = index.tree(relpath)
            finder = _LazyLoads(lazy, {n.name: n for n in tree.body if isinstance(n, FUNCTIONS)})
            for node in ast.walk(tree):
                if isinstance(node, FUNCTIONS):
                    finder.rows = {}
                    finder.visit_body(node)
            for node, message in finder.found:
                yield self.at(relpath, node, message)


class _LazyLoads(ast.NodeVisitor):
    """Walks one function in source order, tracking names bound to query results."""

    def __init__(self, lazy: set[str], helpers: dict[str, ast.AST]) -> None:
        self.lazy = lazy
        self.helpers = helpers
        self.rows: dict[str, set[str]] = {}  # name -> relationships loaded eagerly with it
        self.found: list[tuple[ast.AST, str]] = []
        self._seen: set[int] = set()

    def visit_body(self, function: ast.AST) -> None:
        for stmt in function.body:
            self.visit(stmt)

    def visit_FunctionDef(self, node: ast.AST) -> None:
        return  # nested functions are walked on their own

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if is_rows_expr(node.value, set(self.rows)):
            eager = self._eager(node.value)
            for name in names:
                self.rows[name] = eager
        else:
            for name in names:
                self.rows.pop(name, None)

    def _eager(self, expr: ast.AST) -> set[str]:
        eager = eager_loaded(expr)
        for sub in ast.walk(expr):
            if isinstance(sub, ast.Name) and sub.id in self.rows:
                eager |= self.rows[sub.id]
        return eager

    def _loop(self, loop: ast.AST, body: list[ast.AST]) -> None:
        iters = loop_iters(loop)
        if any(is_rows_expr(it, set(self.rows)) for it in iters):
            eager = set().union(*(self._eager(it) for it in iters))
            if "*" not in eager:
                self._accesses(loop, body, loop_targets(loop), eager)

    def visit_For(self, node: ast.For) -> None:
        self._loop(node, node.body)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_ListComp(self, node: ast.AST) -> None:
        parts = [getattr(node, "elt", None), getattr(node, "key", None), getattr(node, "value", None)]
        parts += [cond for g in node.generators for cond in g.ifs]
        self._loop(node, [p for p in parts if p is not None])
        self.generic_visit(node)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp

    def _accesses(self, loop: ast.AST, body: list[ast.AST], names: set[str], eager: set[str]) -> None:
        for part in body:
            for sub in ast.walk(part):
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in names:
                    if sub.attr in self.lazy and sub.attr not in eager:
                        self._add(sub, f"{sub.value.id}.{sub.attr} is loaded lazily once per row of the loop on line {loop.lineno} (N+1): {EAGER_HINT}")
                        return
                elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in self.helpers:
                    attr = self._helper_reads(self.helpers[sub.func.id], sub, names, eager)
                    if attr:
                        self._add(sub, f"{sub.func.id}() reads .{attr}, a lazy relationship, once per row of the loop on line {loop.lineno} (N+1): {EAGER_HINT}")
                        return

    def _helper_reads(self, helper: ast.AST, call: ast.Call, names: set[str], eager: set[str]) -> str | None:
        params = [a.arg for a in helper.args.args]
        passed = {params[i] for i, arg in enumerate(call.args) if i < len(params) and isinstance(arg, ast.Name) and arg.id in names}
        for sub in ast.walk(helper):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in passed:
                if sub.attr in self.lazy and sub.attr not in eager:
                    return sub.attr
        return None

    def _add(self, node: ast.AST, message: str) -> None:
        if id(node) not in self._seen:
            self._seen.add(id(node))
            self.found.append((node, message))

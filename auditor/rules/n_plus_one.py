"""Step 1 — data model (PR12x): N+1 queries, one round trip per row."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.index.project import is_script_path
from auditor.models import Category, Finding, Severity
from auditor.rules.base import ModuleRule, ProjectRule, register
from auditor.rules.querying import (
    LOOPS,
    data_shape,
    eager_loaded,
    is_query_call,
    is_rows_expr,
    loop_iters,
    loop_targets,
    per_row_loop,
    query_modules,
)
from auditor.rules.webapp import route_handlers
from auditor.walk import FUNCTIONS, ModuleContext, dotted

DB_MODULES = (
    "sqlalchemy", "sqlmodel", "flask_sqlalchemy", "sqlite3", "psycopg2", "psycopg", "pymysql", "mysql",
    "asyncpg", "aiosqlite", "databases", "fastapi", "flask", "peewee", "tortoise",
)
EAGER_HINT = "load them with one query (a join, WHERE id IN (...), or selectinload)"


@register
class QueryInLoop(ModuleRule):
    code = "PR120"
    scope = "request"  # judged only on code a route or a background job reaches
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
        self.querying: dict[str, str | None] = {}  # functions of this module that run a query -> the flag gating them all
        self.helper_params: dict[str, ast.AST] = {}
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
                guard = _flag_guard(ctx.parents, function)
                if guard is None or self.querying.get(function.name, guard) is None:
                    self.querying[function.name] = None  # at least one query runs whatever the flags say
                else:
                    self.querying[function.name] = guard
                self.helper_params.setdefault(function.name, function)
        loop = per_row_loop([*ctx.parents, node], self._scope(ctx))
        if loop is None or id(loop) in self.reported or on_error_path(ctx.parents, loop):
            return
        if local_helper:
            self.helper_calls.append((loop, node, node.func.id))
            return
        if progress_update(node):
            return  # a job recording how far it got, once per item: that is the point of the loop
        self.reported.add(id(loop))
        self.report(ctx, node, f"query runs once per row of the loop on line {loop.lineno} (N+1): {EAGER_HINT}")

    def end(self, ctx: ModuleContext) -> None:
        for loop, call, name in getattr(self, "helper_calls", []):
            if name in self.querying and self.querying[name] and flag_off(self.helper_params[name], call, self.querying[name]):
                continue  # helper(x, with_members=False): the per-row query is switched off
            if name in self.querying and id(loop) not in self.reported:
                self.reported.add(id(loop))
                self.report(ctx, call, f"{name}() runs a query and is called once per row of the loop on line {loop.lineno} (N+1): {EAGER_HINT}")


@register
class LazyRelationshipInLoop(ProjectRule):
    code = "PR121"
    scope = "request"  # judged only on code a route or a background job reaches
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
            finder = _LazyLoads(lazy, _LazyHelpers(index, relpath, {n.name: n for n in tree.body if isinstance(n, FUNCTIONS)}))
            for node in ast.walk(tree):
                if isinstance(node, FUNCTIONS):
                    finder.rows = {}
                    finder.visit_body(node)
            for node, message in finder.found:
                yield self.at(relpath, node, message)


class _LazyHelpers(dict):
    """Helpers a loop may call with a row: this module's functions, and project functions it imports
    (`from app.serializers import task_to_dict`), looked up only when a loop calls them."""

    def __init__(self, index, relpath: str, local: dict[str, ast.AST]) -> None:
        super().__init__(local)
        self.index = index
        self.imports = index.modules[relpath].imports

    def __contains__(self, name: object) -> bool:
        if dict.__contains__(self, name):
            return True
        if not isinstance(name, str) or name not in self.imports:
            return False
        resolved = self.index.resolve_function(self.imports[name])
        node = self.index.function_node(resolved[0], resolved[1].qualname) if resolved else None
        if node is None:
            return False
        self[name] = node
        return True


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
        switched_off = _switched_off_blocks(helper, call)
        for sub in ast.walk(helper):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in passed:
                if sub.attr in self.lazy and sub.attr not in eager and id(sub) not in switched_off:
                    return sub.attr
        return None

    def _add(self, node: ast.AST, message: str) -> None:
        if id(node) not in self._seen:
            self._seen.add(id(node))
            self.found.append((node, message))


# -- the path the code takes ---------------------------------------------------------------------

PROGRESS = re.compile(r"progress|processed|percent|done_count|completed", re.I)


def on_error_path(parents: list[ast.AST], loop: ast.AST) -> bool:
    """The loop runs inside an `except` block: a short restore or clean-up on failure, not the normal path."""
    for node in reversed(parents):
        if isinstance(node, FUNCTIONS):
            return False
        if isinstance(node, ast.ExceptHandler):
            return True
    return False


def progress_update(call: ast.Call) -> bool:
    """`db.execute(update(Job).values(progress=i))` / `UPDATE jobs SET progress = ?`: a job reporting how far it got."""
    text = ast.unparse(call)
    return bool(PROGRESS.search(text)) and re.search(r"\bupdate\b|\.values\(|\bset\b", text, re.I) is not None


def _params_of(function: ast.AST) -> list[str]:
    args = function.args
    return [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]


def _flag_guard(parents: list[ast.AST], function: ast.AST) -> str | None:
    """The parameter of `function` whose truth an enclosing `if flag:` requires, if any."""
    params = set(_params_of(function))
    inside = False
    for i, node in enumerate(parents):
        if node is function:
            inside = True
            continue
        if inside and isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id in params:
            child = parents[i + 1] if i + 1 < len(parents) else None
            if child is not None and any(child is stmt for stmt in node.body):
                return node.test.id
    return None


def flag_off(function: ast.AST, call: ast.Call, flag: str) -> bool:
    """The call passes a false value for `flag` (or leaves a false default)."""
    args = function.args
    positional = [a.arg for a in [*args.posonlyargs, *args.args]]
    if positional and positional[0] in {"self", "cls"} and isinstance(call.func, ast.Attribute):
        positional = positional[1:]
    for keyword in call.keywords:
        if keyword.arg == flag:
            return isinstance(keyword.value, ast.Constant) and keyword.value.value in (False, None, 0)
    if flag in positional and positional.index(flag) < len(call.args):
        value = call.args[positional.index(flag)]
        return isinstance(value, ast.Constant) and value.value in (False, None, 0)
    defaults = dict(zip([a.arg for a in args.args][len(args.args) - len(args.defaults):], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    default = defaults.get(flag)
    return isinstance(default, ast.Constant) and default.value in (False, None, 0)


def _switched_off_blocks(helper: ast.AST, call: ast.Call) -> set[int]:
    """ids of nodes inside `if flag:` blocks of `helper` that this call switches off."""
    params = set(_params_of(helper))
    found: set[int] = set()
    for node in ast.walk(helper):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id in params and flag_off(helper, call, node.test.id):
            for stmt in node.body:
                found.update(id(sub) for sub in ast.walk(stmt))
    return found


LAZY = (None, "select", "dynamic", "True")
SERIALISERS = re.compile(r"^(to_dict|as_dict|to_json|serialize|serialise|to_api|dict|json|summary|public)$")


def _lazy_by_model(index) -> dict[str, set[str]]:
    from auditor.rules.querying import app_models

    return {model.name: {r.name for r in model.relationships if r.lazy in LAZY} for _, model in app_models(index) if model.relationships}


def _qualnames(tree: ast.Module) -> Iterable[tuple[str, ast.AST]]:
    """(qualname, node) of every function and method of a module."""
    stack: list[tuple[str, ast.AST]] = [("", tree)]
    while stack:
        prefix, node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (*FUNCTIONS, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if isinstance(child, FUNCTIONS):
                    yield name, child
                stack.append((name + ".", child))


def _rows_names(function: ast.AST, extra) -> set[str]:
    """Names bound to rows in a function: query results, or what a project helper that fetches rows returns."""
    names: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = node.value.value if isinstance(node.value, ast.Await) else node.value
            if is_rows_expr(value, names) or extra(value):
                names.add(node.targets[0].id)
    return names


def _loops(function: ast.AST) -> Iterable[tuple[ast.AST, list[ast.AST], list[ast.AST]]]:
    """(loop, its iterables, the parts run once per item) for loops of this function, not on an error path."""
    todo: list[tuple[ast.AST, bool]] = [(stmt, False) for stmt in function.body]
    while todo:
        node, error_path = todo.pop()
        if isinstance(node, (*FUNCTIONS, ast.ClassDef, ast.Lambda)):
            continue  # nested functions are walked as functions of their own
        if isinstance(node, LOOPS) and not error_path:
            if isinstance(node, (ast.For, ast.AsyncFor)):
                body = node.body
            else:
                body = [p for p in (getattr(node, "elt", None), getattr(node, "key", None), getattr(node, "value", None)) if p is not None]
                body += [cond for g in node.generators for cond in g.ifs] + [g.iter for g in node.generators[1:]]
            yield node, loop_iters(node), body
        inside_except = error_path or isinstance(node, ast.ExceptHandler)
        todo.extend((child, inside_except) for child in ast.iter_child_nodes(node))


@register
class QueryInLoopThroughHelper(ProjectRule):
    code = "PR123"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "query-in-loop-through-helper"
    category = Category.N_PLUS_ONE
    severity = Severity.MEDIUM
    impact = (
        "A list is built by calling the app's own helper once per row, and the helper (or one it calls) "
        "queries the database: a page of 50 rows runs 51 queries, hidden behind a function call."
    )
    fix_summary = "Loads what the helper looks up for all rows in one query (WHERE id IN (...), a join, selectinload)."
    doc = """
## What it does
Finds loops and comprehensions over rows from the database (a query, or a project helper
that returns rows) that call a project function, in another module or through further
helpers, which ends up running a query: the repository-style N+1. Calls that switch the
query off (`serialize_team(t, with_members=False)`), loops in an `except` block and
progress updates of a background job are not reported. A helper of the same module that
queries directly is PR120.

## Why is this bad in production
Each call is a database round trip. With repositories and services the per-row query is
two files away from the loop, so it survives review, and the page's query count grows with
the data.

## Example
```python
# repository.py
def owner_of(db, project):
    return db.get(User, project.owner_id)

# routes.py
projects = db.query(Project).all()
return [{"name": p.name, "owner": owner_of(db, p).name} for p in projects]
```

## Use instead
```python
projects = db.query(Project).options(joinedload(Project.owner)).all()
return [{"name": p.name, "owner": p.owner.name} for p in projects]
```

## Fix safety
Review: no automatic fix; the batched query is written by hand.
"""
    VALID = [
        {
            "app/repo.py": "def members(db, team_id):\n    return db.query(Member).filter(Member.team_id == team_id).all()\ndef team_dict(db, team, with_members=True):\n    data = {'id': team.id}\n    if with_members:\n        data['members'] = members(db, team.id)\n    return data\n",
            "app/views.py": "from app.repo import team_dict\ndef teams(db):\n    rows = db.query(Team).all()\n    return [team_dict(db, t, with_members=False) for t in rows]\n",
        },
        {
            "app/repo.py": "def restore(db, item):\n    db.execute('UPDATE items SET deleted = 0 WHERE id = ?', (item['id'],))\n",
            "app/views.py": "from app.repo import restore\ndef purge(db):\n    rows = db.execute('SELECT * FROM items WHERE deleted = 1').fetchall()\n    try:\n        db.execute('DELETE FROM items WHERE deleted = 1')\n    except Exception:\n        for row in rows:\n            restore(db, row)\n        raise\n",
        },
    ]
    INVALID = [
        {
            "app/repo.py": "def owner_of(db, project):\n    return db.get(User, project.owner_id)\n",
            "app/service.py": "from app import repo\ndef owner_name(db, project):\n    return repo.owner_of(db, project).name\n",
            "app/views.py": "from fastapi import FastAPI\nfrom app.service import owner_name\napp = FastAPI()\n@app.get('/projects')\ndef listing(db=None):\n    projects = db.query(Project).all()\n    return [{'name': p.name, 'owner': owner_name(db, p)} for p in projects]\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        from auditor.index.callgraph import _instances, call_graph

        from auditor.index.callgraph import request_code

        graph = call_graph(index)
        modules = set(query_modules(index)) | {relpath for relpath, _ in request_code(index) if not is_script_path(relpath)}
        for relpath in sorted(modules):
            facts = index.modules[relpath]
            for qualname, function in _qualnames(index.tree(relpath)):
                instances = _instances(function)

                def target(call: ast.AST):
                    if not isinstance(call, ast.Call):
                        return None
                    key = graph._target(relpath, facts, qualname, call, instances)
                    return graph.summary(*key) if key else None

                def fetches(value: ast.AST) -> bool:
                    if isinstance(value, ast.Call) and graph.query_object_call(relpath, facts, value):
                        return True  # rows from an aiosql query
                    summary = target(value)
                    return summary is not None and "fetches_all" in summary.effects

                rows = _rows_names(function, fetches)
                for loop, iters, body in _loops(function):
                    if not any(is_rows_expr(it, rows) or fetches(it) for it in iters):
                        continue
                    found = self.per_row_query(graph, relpath, body, target)
                    if found:
                        call, callee, evidence = found
                        chain = " → ".join(f"{name}()" for name in (callee.qualname, *evidence.via))
                        yield self.at(
                            relpath, call,
                            f"{chain} runs a query ({evidence.what} at {evidence.relpath}:{evidence.line}) once per row of the loop on line {loop.lineno} (N+1): {EAGER_HINT}",
                        )

    @staticmethod
    def per_row_query(graph, relpath: str, body: list[ast.AST], target):
        for part in body:
            for sub in ast.walk(part):
                if not isinstance(sub, ast.Call) or progress_update(sub):
                    continue
                callee = target(sub)
                if callee is None:
                    continue
                evidence = callee.effects.get("queries")
                if evidence is None or graph._disabled(callee, sub, evidence.guard):
                    continue
                if callee.relpath == relpath and "queries" in callee.local:
                    continue  # a helper of this module that queries itself: PR120
                if "progress" in evidence.what.lower():
                    continue
                return sub, callee, evidence
        return None


@register
class LazyLoadInSerialisation(ProjectRule):
    code = "PR122"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "lazy-load-in-serialisation"
    category = Category.N_PLUS_ONE
    severity = Severity.MEDIUM
    impact = (
        "Turning each row into JSON loads its related rows one query at a time: the list endpoint runs a "
        "query per row without any loop in the handler, and slows down as the data grows."
    )
    fix_summary = "Loads the relationship with the rows (selectinload/joinedload) before serialising them."
    doc = """
## What it does
Finds list routes that serialise rows through something that reads a lazy relationship:
a model method such as `to_dict()`, a `@property` that sums or counts related rows, or a
`response_model=list[Schema]` whose schema has a field for the relationship, when the
route's query does not load it eagerly (`selectinload`, `joinedload`).

## Why is this bad in production
Serialisation touches the relationship on every row, and each first touch is a `SELECT`.
There is no loop in the handler to notice, but a page of 100 orders runs 101 queries (with
an async session it raises `MissingGreenlet` instead).

## Example
```python
class Order(Base):
    items = relationship("OrderItem")
    @property
    def total(self):
        return sum(i.price for i in self.items)

@router.get("/orders")
def orders(db: Session = Depends(get_db)):
    return [{"id": o.id, "total": o.total} for o in db.query(Order).all()]
```

## Use instead
```python
    return [{"id": o.id, "total": o.total} for o in db.query(Order).options(selectinload(Order.items)).all()]
```

## Fix safety
Review: no automatic fix yet.
"""
    _MODELS = (
        "from sqlalchemy import Column, ForeignKey, Integer\nfrom sqlalchemy.orm import declarative_base, relationship\nBase = declarative_base()\n"
        "class Order(Base):\n    __tablename__ = 'orders'\n    id = Column(Integer, primary_key=True)\n    items = relationship('Item')\n"
        "    @property\n    def total(self):\n        return sum(i.price for i in self.items)\n"
        "    def to_dict(self):\n        return {'id': self.id, 'items': [i.id for i in self.items]}\n"
        "class Item(Base):\n    __tablename__ = 'items'\n    id = Column(Integer, primary_key=True)\n    order_id = Column(Integer, ForeignKey('orders.id'), index=True)\n"
    )
    VALID = [
        {
            "app/models.py": _MODELS,
            "app/main.py": "from fastapi import FastAPI\nfrom sqlalchemy.orm import selectinload\nfrom app.models import Order\napp = FastAPI()\n@app.get('/orders')\ndef orders(db=None):\n    return [o.to_dict() for o in db.query(Order).options(selectinload(Order.items)).all()]\n@app.get('/orders/{id}')\ndef order(id: int, db=None):\n    return db.get(Order, id).to_dict()\n",
        },
    ]
    INVALID = [
        {
            "app/models.py": _MODELS,
            "app/main.py": "from flask import Flask, jsonify\nfrom app.models import Order\napp = Flask(__name__)\n@app.route('/orders')\ndef orders():\n    return jsonify([o.to_dict() for o in Order.query.all()])\n",
        },
        {
            "app/models.py": _MODELS,
            "app/main.py": "from fastapi import FastAPI\nfrom app.models import Order\napp = FastAPI()\n@app.get('/orders')\ndef orders(db=None):\n    rows = db.query(Order).all()\n    return [{'id': o.id, 'total': o.total} for o in rows]\n",
        },
        {
            "app/models.py": _MODELS,
            "app/schemas.py": "from pydantic import BaseModel\nclass ItemOut(BaseModel):\n    id: int\nclass OrderOut(BaseModel):\n    id: int\n    items: list[ItemOut]\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.models import Order\nfrom app.schemas import OrderOut\napp = FastAPI()\n@app.get('/orders', response_model=list[OrderOut])\ndef orders(db=None):\n    return db.query(Order).all()\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        lazy = _lazy_by_model(index)
        if not any(lazy.values()):
            return
        readers = self.lazy_readers(index, lazy)
        all_lazy = set().union(*lazy.values())
        models = {model.name for _, model in index.models}
        for route, node in route_handlers(index):
            if "GET" not in route.methods:
                continue
            eager = eager_loaded(node)
            if "*" in eager:
                continue
            found = self.in_loops(node, readers, eager, models) if readers else None
            if found is None:
                found = self.response_model(index, route, node, all_lazy, eager)
            if found is not None:
                at, message = found
                yield self.at(route.relpath, at, f"{route.label()}: {message} (N+1): {EAGER_HINT}")

    @staticmethod
    def lazy_readers(index, lazy: dict[str, set[str]]) -> dict[str, dict[str, str]]:
        """Serialiser methods and properties of models that read a lazy relationship: name -> {Model: relationship}."""
        readers: dict[str, dict[str, str]] = {}
        candidates: list[tuple[str, str, ast.AST, set[str]]] = []
        for relpath, facts in index.modules.items():
            for model in facts.models:
                rels = lazy.get(model.name)
                if not rels:
                    continue
                for qualname, function in facts.functions.items():
                    owner, _, name = qualname.rpartition(".")
                    if owner != model.name:
                        continue
                    is_property = any(d.rpartition(".")[2] in {"property", "hybrid_property", "cached_property"} for d in function.decorators)
                    if not (is_property or SERIALISERS.match(name)):
                        continue
                    node = index.function_node(relpath, qualname)
                    if node is not None:
                        candidates.append((model.name, name, node, rels))
        for _ in range(3):  # to_dict() -> self.total (a property) -> self.lines: through other readers too
            for model, name, node, rels in candidates:
                if model in readers.get(name, {}):
                    continue
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "self":
                        if sub.attr in rels:
                            readers.setdefault(name, {})[model] = sub.attr
                            break
                        if model in readers.get(sub.attr, {}):
                            readers.setdefault(name, {})[model] = readers[sub.attr][model]
                            break
        return readers

    @staticmethod
    def in_loops(node: ast.AST, readers: dict[str, dict[str, str]], eager: set[str], models: set[str]):
        rows = _rows_names(node, lambda value: False)
        for loop, iters, body in _loops(node):
            if not any(is_rows_expr(it, rows) for it in iters):
                continue
            targets = loop_targets(loop)
            for part in body:
                for sub in ast.walk(part):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in targets and sub.attr in readers:
                        found = _reader_for(sub.value.id, readers[sub.attr], models)
                        if found is None:
                            continue
                        model, rel = found
                        if rel not in eager:
                            return sub, f"{sub.value.id}.{sub.attr} reads {model}.{rel}, a lazy relationship, once per row of the loop on line {loop.lineno}"
        return None

    @staticmethod
    def response_model(index, route, node: ast.AST, lazy: set[str], eager: set[str]):
        """`response_model=list[OrderOut]` whose schema has a field named after a lazy relationship."""
        for decorator in node.decorator_list:
            if not isinstance(decorator, ast.Call):
                continue
            value = next((k.value for k in decorator.keywords if k.arg == "response_model"), None)
            if not (isinstance(value, ast.Subscript) and (dotted(value.value) or "").rpartition(".")[2] in {"list", "List", "Sequence"}):
                continue
            schema = (dotted(value.slice) or "").rpartition(".")[2]
            fields = _schema_fields(index, schema)
            for name in sorted(fields & lazy - eager):
                return decorator, f"response_model list[{schema}] serialises `{name}`, a lazy relationship, once per row"
        return None


def _reader_for(var: str, by_model: dict[str, str], models: set[str]) -> tuple[str, str] | None:
    """Which model's serialiser `var.method` is: the model the variable is named after (`post` -> Post),
    else the only model that has one; None when the rows could be any of several models."""
    named = next((m for m in models if var.lower().rstrip("s") == m.lower() or var.lower() == m.lower()), None)
    if named is not None:
        return (named, by_model[named]) if named in by_model else None
    if len(by_model) == 1:
        return next(iter(by_model.items()))
    return None


def _schema_fields(index, schema: str) -> set[str]:
    for relpath, facts in index.modules.items():
        if schema in facts.classes:
            for node in ast.walk(index.tree(relpath)):
                if isinstance(node, ast.ClassDef) and node.name == schema:
                    return {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    return set()

"""Step 3 — validation: list endpoints that are paged in name only (PR321, PR322).

PR320 (validation.py) finds a handler that itself loads every row. These follow the route
through the project's helpers (the call graph) and look at the page size the client sends.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.index.callgraph import call_graph
from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.rules.webapp import call_tail, route_handlers, walk_function
from auditor.walk import const_str, dotted

SIZE_PARAMS = frozenset({"limit", "page_size", "per_page", "pagesize", "perpage", "size", "take", "top", "count", "max_results", "n"})
PAGE_PARAMS = SIZE_PARAMS | {"offset", "page", "skip", "cursor", "after", "before"}
WHOLE_EXPORTS = re.compile(r"export|download|\.csv|dump|backup", re.I)
INT_TYPES = re.compile(r"\b(int|conint|PositiveInt|NonNegativeInt)\b")


def _keywords(call: ast.AST | None) -> set[str]:
    return {k.arg for k in getattr(call, "keywords", []) if k.arg}


def _query_call(node: ast.AST | None) -> ast.Call | None:
    if isinstance(node, ast.Call) and call_tail(node) in {"Query", "Field", "Param"}:
        return node
    return None


def _annotated_query(annotation: ast.AST | None) -> ast.Call | None:
    """`Annotated[int, Query(le=100)]`: the Query inside."""
    if isinstance(annotation, ast.Subscript) and (dotted(annotation.value) or "").endswith("Annotated"):
        elements = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else []
        return next((_query_call(e) for e in elements[1:] if _query_call(e)), None)
    return None


def _clamped(node: ast.AST, name: str) -> tuple[bool, bool]:
    """(upper bound, lower bound) the handler applies to `name` itself: min()/max(), or an `if` that rejects or resets it."""
    upper = lower = False
    for child in walk_function(node):
        if isinstance(child, ast.Call) and call_tail(child) in {"min", "max", "clamp", "clip"} and any(
            isinstance(a, ast.Name) and a.id == name for a in child.args
        ):
            if call_tail(child) in {"min", "clamp", "clip"}:
                upper = True
            if call_tail(child) in {"max", "clamp", "clip"}:
                lower = True
        elif isinstance(child, ast.Compare) and any(isinstance(p, ast.Name) and p.id == name for p in (child.left, *child.comparators)):
            for op, right in zip(child.ops, child.comparators):
                left_is_name = isinstance(child.left, ast.Name) and child.left.id == name
                if isinstance(op, (ast.Gt, ast.GtE)):
                    upper |= left_is_name
                    lower |= not left_is_name
                elif isinstance(op, (ast.Lt, ast.LtE)):
                    lower |= left_is_name
                    upper |= not left_is_name
    return upper, lower


def _used(node: ast.AST, name: str) -> bool:
    """`name` sizes a page: `.limit(name)`, `LIMIT` in the handler's SQL, `paginate(per_page=name)`, a slice,
    or handed on as `limit=`. For names that always mean a page size (limit, per_page...) any use counts."""
    loads = [c for c in walk_function(node) if isinstance(c, ast.Name) and c.id == name and isinstance(c.ctx, ast.Load)]
    if not loads:
        return False
    if name.lower() in {"limit", "page_size", "per_page", "pagesize", "perpage", "max_results"}:
        return True
    for child in walk_function(node):
        if isinstance(child, ast.Call):
            if call_tail(child) in {"limit", "paginate", "fetchmany", "slice", "take"} and any(
                isinstance(a, ast.Name) and a.id == name for a in [*child.args, *(k.value for k in child.keywords)]
            ):
                return True
            if any(k.arg in PAGE_PARAMS and isinstance(k.value, ast.Name) and k.value.id == name for k in child.keywords):
                return True
        elif isinstance(child, ast.Constant) and isinstance(child.value, str) and re.search(r"\bLIMIT\b", child.value, re.I):
            return True
        elif isinstance(child, ast.Slice) and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(child)):
            return True
    return False


@register
class UnboundedPageSize(ProjectRule):
    code = "PR321"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "unbounded-page-size"
    category = Category.PAGINATION
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "The endpoint is paged, but the client picks the page size: `?limit=1000000` loads the whole "
        "table in one request, and with SQLite `?limit=-1` means no limit at all."
    )
    fix_summary = "Gives the page size a maximum and a minimum: Query(50, ge=1, le=100), or min(max(limit, 1), 100)."
    doc = """
## What it does
Finds a page-size parameter the client controls (`limit`, `page_size`, `per_page`,
`size`...) with no upper bound: a FastAPI `limit: int = 100` or `Query(100)` without
`le=`/`lt=`, or Flask's `request.args.get("limit", type=int)` used without `min(...)`.
A bound on top but none below (no `ge=`) is reported too: a negative limit.

## Why is this bad in production
The default page is small, so everything looks fine, until a client (or a scraper, or an
attacker) asks for a million rows: the worker loads them all, memory spikes and the request
times out for everyone sharing that worker. In SQLite and some drivers `LIMIT -1` disables
the limit entirely, and a negative offset is an error that answers 500.

## Example
```python
@router.get("/items")
def items(limit: int = 100, offset: int = 0, db: Session = Depends(get_db)):
    return db.query(Item).offset(offset).limit(limit).all()
```

## Use instead
```python
@router.get("/items")
def items(limit: int = Query(50, ge=1, le=100), offset: int = Query(0, ge=0), db: Session = Depends(get_db)):
    return db.query(Item).offset(offset).limit(limit).all()
```

## Fix safety
Review: no automatic fix yet; clients that asked for more than the maximum get a 422.
"""
    VALID = [
        "from fastapi import FastAPI, Query\napp = FastAPI()\n@app.get('/items')\ndef items(limit: int = Query(50, ge=1, le=100), db=None):\n    return db.query(Item).limit(limit).all()\n",
        "from typing import Annotated\nfrom fastapi import FastAPI, Query\napp = FastAPI()\n@app.get('/items')\ndef items(limit: Annotated[int, Query(ge=1, le=100)] = 50, db=None):\n    return db.query(Item).limit(limit).all()\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.get('/items')\ndef items():\n    limit = min(max(request.args.get('limit', 20, type=int), 1), 100)\n    return get_db().execute('SELECT * FROM items LIMIT ?', (limit,)).fetchall()\n",
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/items')\ndef items(limit: int = 20, db=None):\n    limit = min(limit, 100)\n    if limit < 1:\n        limit = 1\n    return db.query(Item).limit(limit).all()\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/items')\ndef items(limit: int = 100, offset: int = 0, db=None):\n    return db.query(Item).offset(offset).limit(limit).all()\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.get('/items')\ndef items():\n    limit = request.args.get('limit', 20, type=int)\n    return get_db().execute('SELECT * FROM items LIMIT ?', (limit,)).fetchall()\n",
        "from fastapi import FastAPI, Query\napp = FastAPI()\n@app.get('/items')\ndef items(limit: int = Query(20, le=100), db=None):\n    return db.query(Item).limit(limit).all()\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        for route, node in route_handlers(index):
            if route.framework == "fastapi":
                yield from self.fastapi(route, node)
            else:
                yield from self.flask(route, node)

    def fastapi(self, route, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterable[Finding]:
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        for arg, default in [*zip(positional, defaults), *zip(args.kwonlyargs, args.kw_defaults)]:
            if arg.arg.lower() not in SIZE_PARAMS or arg.annotation is None:
                continue
            annotation = ast.unparse(arg.annotation)
            if not INT_TYPES.search(annotation) or not _used(node, arg.arg):
                continue
            query = _annotated_query(arg.annotation) or _query_call(default)
            bounds = _keywords(query)
            if "conint" in annotation or "Field(" in annotation:
                bounds |= {k for k in ("le", "lt", "ge", "gt") if f"{k}=" in annotation}
            upper, lower = _clamped(node, arg.arg)
            upper |= bool(bounds & {"le", "lt"})
            lower |= bool(bounds & {"ge", "gt"}) or "PositiveInt" in annotation or "NonNegativeInt" in annotation
            if not upper:
                yield self.at(route.relpath, arg, f"{route.label()}: `{arg.arg}` has no maximum: a client can ask for every row in one request (add le=100)")
            elif not lower:
                yield self.at(
                    route.relpath, arg, f"{route.label()}: `{arg.arg}` has no minimum: a negative value reaches the query (add ge=1)", severity=Severity.LOW
                )

    def flask(self, route, node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterable[Finding]:
        for child in walk_function(node):
            if not (isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.targets[0], ast.Name)):
                continue
            name = child.targets[0].id
            read = self.args_read(child.value)
            if read is None or read.lower() not in SIZE_PARAMS or not _used(node, name):
                continue
            upper, _lower = _clamped(node, name)
            if not upper:
                yield self.at(route.relpath, child, f"{route.label()}: the `{read}` query argument has no maximum: a client can ask for every row in one request (use min(..., 100))")
                return

    @staticmethod
    def args_read(value: ast.AST) -> str | None:
        """`request.args.get("limit", ...)` (also inside int(...)): the argument's name."""
        if isinstance(value, ast.Call) and call_tail(value) in {"int", "abs"} and value.args:
            value = value.args[0]
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get":
            if (dotted(value.func.value) or "").endswith(("request.args", "request.values")) and value.args:
                return const_str(value.args[0])
        return None


@register
class UnpaginatedThroughHelper(ProjectRule):
    code = "PR322"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "unpaginated-list-through-helper"
    category = Category.PAGINATION
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "The list page loads the whole table through the app's own helpers (service, repository, "
        "db.py), or loads it all and keeps a few rows in Python: it slows down as the data grows."
    )
    fix_summary = "Passes limit/offset (with a maximum) down to the query that loads the rows."
    doc = """
## What it does
Follows GET routes through the project's own helpers, at any depth and across modules
(route → service → repository → `db.py`), and finds the ones that end in a query loading
every row (`.all()`, `fetchall()` with no `LIMIT`), with no page parameter on the route.
Also finds rows loaded in full and then cut in Python (`get_all_posts()[:12]`,
`rows[offset:offset + size]`), which is a page in name only.

## Why is this bad in production
The query does not know how many rows the page needs, so it reads and transfers the whole
table on every request; slicing afterwards throws the work away. Response time and memory
grow with the table until the endpoint times out.

## Example
```python
# repository.py
def all_posts(db):
    return db.execute("SELECT * FROM posts ORDER BY created DESC").fetchall()

@app.get("/")
def home(db=Depends(get_db)):
    return {"latest": all_posts(db)[:12]}
```

## Use instead
```python
def latest_posts(db, limit: int):
    return db.execute("SELECT * FROM posts ORDER BY created DESC LIMIT ?", (limit,)).fetchall()

@app.get("/")
def home(db=Depends(get_db)):
    return {"latest": latest_posts(db, 12)}
```

## Fix safety
Review: no automatic fix; the limit has to reach the helper's query, which is the app's own design.
"""
    VALID = [
        {
            "app/repo.py": "def recent(db, limit):\n    return db.execute('SELECT * FROM posts ORDER BY id DESC LIMIT ?', (limit,)).fetchall()\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.repo import recent\napp = FastAPI()\n@app.get('/posts')\ndef posts(db=None):\n    return recent(db, 12)\n",
        },
        {
            "app/repo.py": "def everything(db):\n    return db.execute('SELECT * FROM posts').fetchall()\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.repo import everything\napp = FastAPI()\n@app.get('/posts/export.csv')\ndef export(db=None):\n    return everything(db)\n",
        },
    ]
    INVALID = [
        {
            "app/db.py": "import sqlite3\ndef query_all(sql, args=()):\n    with sqlite3.connect('app.db') as conn:\n        return conn.execute(sql, args).fetchall()\n",
            "app/repo.py": "from app import db\ndef all_posts():\n    return db.query_all('SELECT * FROM posts ORDER BY created DESC')\n",
            "app/service.py": "from app.repo import all_posts\ndef list_posts():\n    return all_posts()\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.service import list_posts\napp = FastAPI()\n@app.get('/posts')\ndef posts():\n    return list_posts()\n",
        },
        {
            "app/repo.py": "from app.models import Post\ndef all_posts(db):\n    return db.query(Post).order_by(Post.id.desc()).all()\n",
            "app/main.py": "from flask import Flask\nfrom app.repo import all_posts\napp = Flask(__name__)\n@app.route('/')\ndef home():\n    return {'latest': all_posts(get_db())[:12]}\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        from auditor.rules.validation import UnpaginatedListEndpoint

        relationships = {rel.name for _, model in index.models for rel in model.relationships}
        graph = call_graph(index)
        for route, node in route_handlers(index):
            if "GET" not in route.methods or route.is_mutating or WHOLE_EXPORTS.search(route.path):
                continue
            summary = graph.summary(route.relpath, route.handler.qualname)
            if summary is None:
                continue
            paginated = UnpaginatedListEndpoint.paginated(route, node)
            direct = UnpaginatedListEndpoint.unbounded_read(node, relationships)
            sliced_names = self.sliced_names(node)
            for edge in summary.edges:
                evidence = graph.effect_at_call(summary, edge, "fetches_all")
                if evidence is None:
                    continue
                callee = graph.summaries[edge.target]
                chain = " → ".join(f"{name}()" for name in (callee.qualname, *evidence.via))
                where = f"{evidence.what} at {evidence.relpath}:{evidence.line}"
                if id(edge.node) in sliced_names:
                    yield self.at(route.relpath, edge.node, f"{route.label()} loads every row through {chain} ({where}) and then keeps a slice in Python: the query should take the limit")
                    break
                if paginated or direct is not None:
                    continue
                yield self.at(route.relpath, edge.node, f"{route.label()} returns every row that {chain} loads ({where}), with no limit: the response grows with the table")
                break
            else:
                continue

    @staticmethod
    def sliced_names(node: ast.AST) -> set[int]:
        """ids of calls whose result is sliced in Python, directly or through a local name."""
        assigned: dict[str, ast.Call] = {}
        for child in walk_function(node):
            if isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.targets[0], ast.Name):
                value = child.value.value if isinstance(child.value, ast.Await) else child.value
                if isinstance(value, ast.Call):
                    assigned[child.targets[0].id] = value
        found: set[int] = set()
        for child in walk_function(node):
            if isinstance(child, ast.Subscript) and isinstance(child.slice, ast.Slice):
                value = child.value.value if isinstance(child.value, ast.Await) else child.value
                if isinstance(value, ast.Call):
                    found.add(id(value))
                elif isinstance(value, ast.Name) and value.id in assigned:
                    found.add(id(assigned[value.id]))
        return found

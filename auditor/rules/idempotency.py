"""Step 3 — validation: duplicate writes and races (PR330-PR332)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.index.callgraph import call_graph
from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ModuleRule, ProjectRule, register
from auditor.rules.webapp import call_tail, catches, is_test_or_script, route_handlers, strings_in, terminates, walk_function
from auditor.walk import ModuleContext, const_str, dotted

SENSITIVE = re.compile(
    r"order|payment|invoice|invite|invitation|charge|subscription|booking|reservation|transfer|transaction|purchase|refund|payout|donation|checkout",
    re.I,
)
PAYMENT_CALL = re.compile(r"(^|_)(charge|pay|payment|checkout|refund|transfer|payout)s?($|_)", re.I)
UNIQUE_ERRORS = {"IntegrityError", "UniqueViolation", "UniqueViolationError", "DuplicateKeyError", "DuplicateKey"}
INSERT_SQL = re.compile(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+[\"`]?(\w+)", re.I)
WRITE_SQL = re.compile(r"\b(INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET)\b", re.I)
CONFLICT_SQL = re.compile(r"ON\s+CONFLICT|INSERT\s+OR\s+(IGNORE|REPLACE)|ON\s+DUPLICATE\s+KEY|FOR\s+UPDATE|BEGIN\s+IMMEDIATE", re.I)
LOCKING_CALLS = {"with_for_update", "select_for_update", "on_conflict_do_nothing", "on_conflict_do_update", "merge", "upsert"}
DB_MODULE = (
    "from sqlalchemy.orm import declarative_base, sessionmaker\nBase = declarative_base()\nSessionLocal = sessionmaker()\n"
    "def get_db():\n    db = SessionLocal()\n    try:\n        yield db\n    finally:\n        db.close()\n"
)  # for the examples below
RANDOM_CALLS = {"uuid.uuid4", "uuid.uuid1", "secrets.token_hex", "secrets.token_urlsafe", "secrets.token_bytes", "random.random", "random.randint", "time.time", "time.time_ns", "os.urandom"}
READ_TAILS = {"first", "one_or_none", "scalar_one_or_none", "scalar", "fetchone", "count", "exists", "get"}
DB_WORDS = {"query", "execute", "scalar", "scalars", "filter", "filter_by", "where", "select", "get"}


def created_models(node: ast.AST, models: dict[str, object]) -> list[tuple[ast.AST, str]]:
    """(node, what) for each row the handler creates: `db.add(Order(...))`, `Order(...)` then add, INSERT INTO."""
    constructed = {}
    found = []
    for child in walk_function(node):
        if isinstance(child, ast.Assign) and isinstance(child.value, ast.Call):
            name = (dotted(child.value.func) or "").rpartition(".")[2]
            if name in models:
                for target in child.targets:
                    if isinstance(target, ast.Name):
                        constructed[target.id] = name
    for child in walk_function(node):
        if isinstance(child, ast.Call) and call_tail(child) in {"add", "add_all", "create", "insert_one", "save"} and child.args:
            arg = child.args[0]
            name = constructed.get(arg.id) if isinstance(arg, ast.Name) else (dotted(arg.func) or "").rpartition(".")[2] if isinstance(arg, ast.Call) else None
            if name in models:
                found.append((child, name))
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            match = INSERT_SQL.search(child.value)
            if match:
                found.append((child, match.group(1)))
    return sorted(found, key=lambda item: (item[0].lineno, item[0].col_offset))


def unique_protected(index, what: str) -> bool:
    """The created table has a unique constraint besides its primary key."""
    for _, model in index.models:
        if what in {model.name, model.table}:
            return any(c.unique and not c.primary_key for c in model.columns) or bool(model.unique_sets)
    for table in index.sql_tables:
        if table.name == what:
            return any(c.unique and not c.primary_key for c in table.columns) or bool(table.unique_sets)
    return False


def _guarded(index, graph, qualname: str) -> bool:
    """A helper on the way catches IntegrityError, locks or upserts (looked up among the built summaries)."""
    for (relpath, name), summary in graph.summaries.items():
        if name == qualname and summary is not None and guards_duplicates(summary.node):
            return True
    return False


def guards_duplicates(node: ast.AST) -> bool:
    if catches(node, UNIQUE_ERRORS):
        return True
    if any(isinstance(c, ast.Call) and call_tail(c) in LOCKING_CALLS for c in walk_function(node)):
        return True
    return any(CONFLICT_SQL.search(text) for text in strings_in(node))


@register
class DuplicateWriteWithoutIdempotency(ProjectRule):
    code = "PR330"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "duplicate-write-without-idempotency"
    category = Category.IDEMPOTENCY
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "A double click, a retry after a timeout or a provider's repeated webhook creates the order, "
        "payment or invite twice, and the customer may be charged twice."
    )
    fix_summary = "Accepts an Idempotency-Key header, stores it with a unique constraint and replays the first result on retries."
    doc = """
## What it does
Finds POST routes that create orders, payments, invites and similar records (or call a payment
provider) where nothing stops a repeated request from creating a second one: no idempotency
key, no unique constraint on the table besides its id, no `IntegrityError` handling and no
`ON CONFLICT`.

## Why is this bad in production
Networks retry. Browsers resubmit, mobile clients retry on timeouts, payment providers deliver
webhooks at least once. Each retry becomes a duplicate order, invite e-mail or charge.

## Example
```python
@router.post("/orders")
def create_order(data: OrderIn, db: Session = Depends(get_db)):
    order = Order(**data.model_dump())
    db.add(order)
    db.commit()
```

## Use instead
```python
@router.post("/orders")
def create_order(data: OrderIn, idempotency_key: str = Header(..., alias="Idempotency-Key"), db: Session = Depends(get_db)):
    existing = db.scalar(select(Order).where(Order.idempotency_key == idempotency_key))
    if existing:
        return existing
    db.add(Order(idempotency_key=idempotency_key, **data.model_dump()))  # unique constraint on the key
    db.commit()
```

## Fix safety
Review: clients must send an Idempotency-Key header.
"""
    VALID = [
        {
            "app/models.py": "from sqlalchemy import Column, Integer, String, UniqueConstraint\nfrom app.db import Base\nclass Order(Base):\n    __tablename__ = 'orders'\n    __table_args__ = (UniqueConstraint('user_id', 'idempotency_key'),)\n    id = Column(Integer, primary_key=True)\n    idempotency_key = Column(String(64))\n",
            "app/main.py": "from fastapi import FastAPI, Header\nfrom app.models import Order\napp = FastAPI()\n@app.post('/orders')\ndef create_order(idempotency_key: str = Header(...), db=None):\n    db.add(Order(idempotency_key=idempotency_key))\n    db.commit()\n",
        },
        # Creating a task twice is harmless enough: not a money or invitation record.
        "from fastapi import FastAPI\nfrom app.models import Task\napp = FastAPI()\n@app.post('/tasks')\ndef create_task(db=None):\n    db.add(Task(title='x'))\n    db.commit()\n",
        "from flask import Flask\nfrom sqlite3 import IntegrityError\napp = Flask(__name__)\n@app.post('/invites')\ndef invite():\n    try:\n        get_db().execute('INSERT INTO invites (email) VALUES (?)', ('a@b.c',))\n    except IntegrityError:\n        return {'error': 'already invited'}, 409\n    return {}, 201\n",
    ]
    INVALID = [
        {
            "app/models.py": "from sqlalchemy import Column, Integer, String\nfrom app.db import Base\nclass Order(Base):\n    __tablename__ = 'orders'\n    id = Column(Integer, primary_key=True)\n    plan = Column(String(20))\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.models import Order\napp = FastAPI()\n@app.post('/orders')\ndef create_order(db=None):\n    order = Order(plan='pro')\n    db.add(order)\n    db.commit()\n",
        },
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/invites', methods=['POST'])\ndef invite():\n    get_db().execute('INSERT INTO invites (email) VALUES (?)', ('a@b.c',))\n    return {}, 201\n",
        {
            "app/__init__.py": "",
            "app/db.py": DB_MODULE,
            "app/models.py": "from sqlalchemy import Column, Integer, String\nfrom app.db import Base\nclass Order(Base):\n    __tablename__ = 'orders'\n    id = Column(Integer, primary_key=True)\n    plan = Column(String(20))\n",
            "app/main.py": "from fastapi import Depends, FastAPI\nfrom sqlalchemy.orm import Session\nfrom app.db import get_db\nfrom app.models import Order\napp = FastAPI()\n"
            "@app.post('/orders')\ndef create_order(plan: str, db: Session = Depends(get_db)):\n    order = Order(plan=plan)\n    db.add(order)\n    db.commit()\n    return {'id': order.id}\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        models = {model.name: model for _, model in index.models}
        for route, node in route_handlers(index):
            if "POST" not in route.methods:
                continue
            if any("idempotency" in (p.name + (p.default or "")).lower() for p in route.handler.params):
                continue
            if any("idempotency" in text.lower() for text in strings_in(node)):
                continue
            created = [(at, what) for at, what in created_models(node, models) if SENSITIVE.search(what)]
            if not created and any(PAYMENT_CALL.search(c.rpartition(".")[2]) for c in route.handler.calls):
                created = [(node, "a payment")]
            if not created:
                helper = self.created_through_helpers(index, route)
                if helper is not None and not guards_duplicates(node) and not unique_protected(index, helper[1]):
                    at, what, chain = helper
                    yield self.at(route.relpath, at, f"{route.label()} creates {what} on every call through {chain}: a retried or double-submitted request duplicates it")
                continue
            if guards_duplicates(node):
                continue
            at, what = created[0]
            if what != "a payment" and unique_protected(index, what):
                continue
            yield self.at(route.relpath, at, f"{route.label()} creates {what} on every call: a retried or double-submitted request duplicates it")

    @staticmethod
    def created_through_helpers(index, route) -> tuple[ast.AST, str, str] | None:
        """(call in the handler, what, helper chain) when a project helper, at any depth, inserts a sensitive record
        and no function on the way guards against duplicates."""
        graph = call_graph(index)
        summary = graph.summary(route.relpath, route.handler.qualname)
        if summary is None:
            return None
        for edge in summary.edges:
            callee = graph.summaries.get(edge.target)
            if callee is None:
                continue
            for key in callee.effects:
                what = key.partition(":")[2]
                if not key.startswith("inserts:") or not SENSITIVE.search(what):
                    continue
                evidence = graph.effect_at_call(summary, edge, key)
                if evidence is None:
                    continue
                path = [callee.qualname, *evidence.via]
                functions = [edge.target[1]] + list(evidence.via)
                if any(_guarded(index, graph, name) for name in functions):
                    continue
                return edge.node, what, " → ".join(f"{name}()" for name in path) + f" ({evidence.relpath}:{evidence.line})"
        return None


@register
class RandomIdempotencyKey(ModuleRule):
    code = "PR331"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "random-idempotency-key"
    category = Category.IDEMPOTENCY
    severity = Severity.HIGH
    impact = (
        "The retry protection you pass to the payment provider never works: every attempt gets a new "
        "key, so a retried request charges the customer again."
    )
    fix_summary = "Derives the idempotency key from the order (e.g. f\"order-{order.id}\") or the client's Idempotency-Key."
    doc = """
## What it does
Finds idempotency keys generated fresh for each call — `idempotency_key=str(uuid.uuid4())`,
an `"Idempotency-Key"` header set to `uuid4()`, `secrets.token_hex()` or the time — passed to a
payment or provider call.

## Why is this bad in production
The provider de-duplicates requests by key. A key that is new on every attempt means a
timeout-and-retry, a worker restart or a double click produces two charges.

## Example
```python
charge = payments.charge(amount=order.total, idempotency_key=str(uuid.uuid4()))
```

## Use instead
```python
charge = payments.charge(amount=order.total, idempotency_key=f"order-{order.id}")
```

## Fix safety
Review: the key must identify the operation (the order, the client's request), not the attempt.
"""
    VALID = [
        "def pay(order, payments):\n    return payments.charge(amount=order.total, idempotency_key=f'order-{order.id}')\n",
        # A key stored with the order when it is created, then reused on every retry.
        "import uuid\nfrom app.models import Order\ndef create(db):\n    order = Order(idempotency_key=str(uuid.uuid4()))\n    db.add(order)\n    return order\n",
        "import uuid\ndef request_id():\n    return {'X-Request-ID': str(uuid.uuid4())}\n",
    ]
    INVALID = [
        "import uuid\ndef pay(order, payments):\n    return payments.charge(amount=order.total, idempotency_key=str(uuid.uuid4()))\n",
        "import uuid\nimport requests\ndef pay(url):\n    return requests.post(url, headers={'Idempotency-Key': uuid.uuid4().hex}, timeout=5)\n",
        "import secrets\ndef pay(client, amount):\n    key = secrets.token_hex(16)\n    return client.create_charge(amount, idempotency_key=key)\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = not is_test_or_script(ctx.relpath)
        # Keys held in a variable first: only worth tracking where uuid/secrets are imported.
        self.tracks_names = self.active and (ctx.imports_module("uuid") or ctx.imports_module("secrets"))
        self.random_names: dict[int, set[str]] = {}

    def is_random(self, node: ast.AST | None, ctx: ModuleContext) -> bool:
        for child in ast.walk(node) if node is not None else ():
            if isinstance(child, ast.Call) and ctx.resolve(child.func) in RANDOM_CALLS:
                return True
            if isinstance(child, ast.Name) and child.id in self.random_names.get(id(ctx.enclosing_function()), set()):
                return True
        return False

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        if self.tracks_names and isinstance(node.value, (ast.Call, ast.Attribute)) and self.is_random(node.value, ctx):
            names = self.random_names.setdefault(id(ctx.enclosing_function()), set())
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))

    def visit_keyword(self, node: ast.keyword, ctx: ModuleContext) -> None:
        if not self.active or not node.arg or "idempotency" not in node.arg.lower():
            return
        call = ctx.parent()
        if isinstance(call, ast.Call) and (dotted(call.func) or "").rpartition(".")[2][:1].isupper():
            return  # Model(idempotency_key=uuid4()): a key stored once with the record
        if self.is_random(node.value, ctx):
            self.report(ctx, node.value, "idempotency key is random per call: a retry gets a new key and is not de-duplicated")

    def visit_Dict(self, node: ast.Dict, ctx: ModuleContext) -> None:
        if not self.active:
            return
        for key, value in zip(node.keys, node.values):
            text = const_str(key)
            if text and text.lower().replace("_", "-") == "idempotency-key" and self.is_random(value, ctx):
                self.report(ctx, value, "Idempotency-Key header is random per call: a retry gets a new key and is not de-duplicated")


@register
class CheckThenInsertRace(ProjectRule):
    code = "PR332"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "check-then-insert-race"
    category = Category.IDEMPOTENCY
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "Two requests arriving at the same moment both pass the \"does it exist?\" or \"is there enough "
        "stock?\" check: you get duplicate accounts, too many invites or sold-out items sold twice."
    )
    fix_summary = "Lets the database decide: a unique constraint or a conditional UPDATE, with IntegrityError mapped to 409."
    doc = """
## What it does
Finds write routes that read a row or a count, reject the request when the check fails
(`if existing: raise`, `if pending >= MAX: ...`, `if item["qty"] < qty: ...`) and then insert
or update, without catching `IntegrityError` and without a row lock or `ON CONFLICT`.

## Why is this bad in production
Between the check and the write another request can do the same check. Both pass, both
write: two users with the same e-mail, stock below zero. Only the database can make the check
and the write one step.

## Example
```python
existing = db.query(User).filter(User.email == email).first()
if existing:
    raise HTTPException(400, "Email already registered")
db.add(User(email=email))
db.commit()
```

## Use instead
```python
db.add(User(email=email))  # users.email is UNIQUE
try:
    db.commit()
except IntegrityError:
    db.rollback()
    raise HTTPException(409, "Email already registered")
```

## Fix safety
Review: duplicates now answer 409 and need a unique constraint (a migration).
"""
    VALID = [
        "from fastapi import FastAPI, HTTPException\nfrom sqlalchemy.exc import IntegrityError\napp = FastAPI()\n@app.post('/signup')\ndef signup(email: str, db=None):\n    if db.query(User).filter(User.email == email).first():\n        raise HTTPException(409)\n    db.add(User(email=email))\n    try:\n        db.commit()\n    except IntegrityError:\n        raise HTTPException(409)\n",
        # Loading the object to change, and answering 404 when it is missing, is not a race.
        "from fastapi import FastAPI, HTTPException\napp = FastAPI()\n@app.post('/tasks/{task_id}/done')\ndef done(task_id: int, db=None):\n    task = db.query(Task).filter(Task.id == task_id).first()\n    if not task:\n        raise HTTPException(404)\n    task.status = 'done'\n    db.commit()\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.post('/orders')\ndef order():\n    db = get_db()\n    item = db.execute('SELECT qty FROM items WHERE id = ? FOR UPDATE', (1,)).fetchone()\n    if item['qty'] < 1:\n        return {}, 400\n    db.execute('UPDATE items SET qty = qty - 1 WHERE id = ?', (1,))\n    return {}, 201\n",
    ]
    INVALID = [
        "from fastapi import FastAPI, HTTPException\napp = FastAPI()\n@app.post('/signup')\ndef signup(email: str, db=None):\n    existing = db.query(User).filter(User.email == email).first()\n    if existing:\n        raise HTTPException(400)\n    db.add(User(email=email))\n    db.commit()\n",
        "from flask import Flask, jsonify\napp = Flask(__name__)\n@app.route('/orders', methods=['POST'])\ndef order():\n    db = get_db()\n    item = db.execute('SELECT * FROM items WHERE id = ?', (1,)).fetchone()\n    if item['qty'] < 2:\n        return jsonify(error='not enough stock'), 400\n    db.execute('UPDATE items SET qty = ? WHERE id = ?', (item['qty'] - 2, 1))\n    db.commit()\n    return jsonify(ok=True), 201\n",
        # users.email is unique, but the race still ends in a 500 instead of a clean 409.
        {
            "app/__init__.py": "",
            "app/db.py": DB_MODULE,
            "app/models.py": "from sqlalchemy import Column, Integer, String\nfrom app.db import Base\nclass User(Base):\n    __tablename__ = 'users'\n    id = Column(Integer, primary_key=True)\n    email = Column(String(254), unique=True)\n",
            "app/main.py": "from fastapi import Depends, FastAPI, HTTPException\nfrom sqlalchemy.orm import Session\nfrom app.db import get_db\nfrom app.models import User\napp = FastAPI()\n"
            "@app.post('/signup')\ndef signup(email: str, db: Session = Depends(get_db)):\n    existing = db.query(User).filter(User.email == email).first()\n    if existing:\n        raise HTTPException(status_code=400, detail='Email already registered')\n"
            "    user = User(email=email)\n    db.add(user)\n    db.commit()\n    return {'id': user.id}\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        graph = call_graph(index)
        for route, node in route_handlers(index):
            if not route.is_mutating or guards_duplicates(node):
                continue
            helper_reads, helper_writes = self.helper_effects(index, graph, route)
            found = self.race(node, helper_reads, helper_writes)
            if found is not None:
                at, name = found
                yield self.at(route.relpath, at, f"checks `{name}` then writes: concurrent requests can both pass the check")

    @staticmethod
    def helper_effects(index, graph, route) -> tuple[set[int], set[int]]:
        """ids of the handler's calls to project helpers that look one row up, and that insert (unguarded)."""
        summary = graph.summary(route.relpath, route.handler.qualname)
        reads: set[int] = set()
        writes: set[int] = set()
        for edge in summary.edges if summary is not None else ():
            callee = graph.summaries.get(edge.target)
            if callee is None:
                continue
            if graph.effect_at_call(summary, edge, "reads_one") and not any(k.startswith("inserts:") for k in callee.effects):
                reads.add(id(edge.node))
            for key in callee.effects:
                evidence = graph.effect_at_call(summary, edge, key) if key.startswith("inserts:") else None
                if evidence is not None and not any(_guarded(index, graph, name) for name in (edge.target[1], *evidence.via)):
                    writes.add(id(edge.node))
        return reads, writes

    def race(self, node: ast.FunctionDef | ast.AsyncFunctionDef, helper_reads: set[int] = frozenset(), helper_writes: set[int] = frozenset()) -> tuple[ast.AST, str] | None:
        reads: dict[str, int] = {}
        check: tuple[ast.AST, str] | None = None
        for stmt in self.statements(node.body):
            if check is None:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) and (
                    self.is_db_read(stmt.value) or id(stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value) in helper_reads
                ):
                    reads[stmt.targets[0].id] = stmt.lineno
                elif isinstance(stmt, ast.If) and terminates(stmt.body):
                    name = self.rejecting_check(stmt.test, reads)
                    if name is None and helper_reads:  # `if repo.get_by_email(email): raise ...`
                        test = stmt.test.value if isinstance(stmt.test, ast.Await) else stmt.test
                        if id(test) in helper_reads:
                            name = ast.unparse(test)[:60]
                    if name:
                        check = (stmt, name)
            elif self.writes(stmt) or any(id(c) in helper_writes for c in ast.walk(stmt)):
                return check
        return None

    @staticmethod
    def statements(body: list[ast.stmt]):
        """Statements in order, entering with/try blocks but not loops or branches."""
        for stmt in body:
            yield stmt
            if isinstance(stmt, (ast.With, ast.AsyncWith, ast.Try)):
                yield from CheckThenInsertRace.statements(stmt.body)

    @staticmethod
    def is_db_read(value: ast.AST) -> bool:
        if isinstance(value, ast.Await):
            value = value.value
        if not (isinstance(value, ast.Call) and call_tail(value) in READ_TAILS):
            return False
        chain, current = set(), value.func
        while isinstance(current, (ast.Attribute, ast.Call)):
            if isinstance(current, ast.Attribute):
                chain.add(current.attr)
                current = current.value
            else:
                current = current.func
        return bool(chain & DB_WORDS) and not (call_tail(value) == "get" and chain == {"get"})

    @staticmethod
    def rejecting_check(test: ast.expr, reads: dict[str, int]) -> str | None:
        """The read name when the test rejects on its presence or its value (not on its absence)."""
        if isinstance(test, ast.Name) and test.id in reads:
            return test.id
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            op, other = test.ops[0], test.comparators[0]
            if isinstance(op, (ast.IsNot, ast.NotEq)) and not (isinstance(other, ast.Constant) and other.value is None):
                return None
            if not isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.IsNot, ast.NotEq)):
                return None  # `if x is None: 404` rejects on absence: a lookup, not a uniqueness check
            for part in (test.left, other):
                base = part.value if isinstance(part, (ast.Subscript, ast.Attribute)) else part
                if isinstance(base, ast.Name) and base.id in reads:
                    return ast.unparse(part)
        return None

    @staticmethod
    def writes(stmt: ast.stmt) -> bool:
        for child in ast.walk(stmt):
            if isinstance(child, ast.Call) and call_tail(child) in {"add", "add_all", "insert_one", "create", "save"}:
                return True
            if isinstance(child, ast.Constant) and isinstance(child.value, str) and WRITE_SQL.search(child.value):
                return True
        return False


STOCKISH = re.compile(
    r"(stock|quantity|qty|inventory|available|seats|balance|credits?|remaining|capacity|tickets|slots|uses|"
    r"redemptions?|sold|count|points|spots|left)$",
    re.I,
)
WEBHOOK_PATH = re.compile(r"(^|/|_)(webhooks?|hooks?|ipn|callbacks?|stripe|paypal|notify)(/|$|_)", re.I)
EVENT_DEDUPE = re.compile(r"event_id|event\.id|event\[.id.\]|processed_events|webhook_events?|idempot|already_processed|seen_events", re.I)


def _read_rows(node: ast.AST, graph, summary) -> dict[str, int]:
    """Names bound to a row read from the database (directly or by a project helper) -> line."""
    helper_reads = set()
    for edge in summary.edges if summary is not None else ():
        if graph.effect_at_call(summary, edge, "reads_one"):
            helper_reads.add(id(edge.node))
    rows: dict[str, int] = {}
    for stmt in walk_function(node):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
            if CheckThenInsertRace.is_db_read(value) or id(value) in helper_reads or (
                isinstance(value, ast.Call) and call_tail(value) == "get" and len(value.args) == 2
            ):
                rows[stmt.targets[0].id] = stmt.lineno
    return rows


def _python_update(stmt: ast.AST, rows: dict[str, int]) -> tuple[ast.AST, str] | None:
    """`item.stock -= qty`, `item.stock = item.stock - qty`, or an UPDATE whose new value is `row["qty"] - n`."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, (ast.Add, ast.Sub)):
        target = stmt.target
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id in rows and STOCKISH.search(target.attr):
            return stmt, ast.unparse(target)
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Attribute):
        target = stmt.targets[0]
        if isinstance(target.value, ast.Name) and target.value.id in rows and STOCKISH.search(target.attr) and isinstance(stmt.value, ast.BinOp):
            if any(isinstance(n, ast.Attribute) and n.attr == target.attr and isinstance(n.value, ast.Name) and n.value.id == target.value.id for n in ast.walk(stmt.value)):
                return stmt, ast.unparse(target)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Call, ast.Await)):
        call = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
        if isinstance(call, ast.Call) and call.args and re.search(r"\bUPDATE\b.*\bSET\s+\w+\s*=\s*[?%:$]", const_str(call.args[0]) or "", re.I | re.S):
            for sub in ast.walk(ast.Tuple(elts=call.args[1:], ctx=ast.Load())):
                if isinstance(sub, ast.BinOp) and isinstance(sub.op, (ast.Add, ast.Sub)):
                    base = sub.left.value if isinstance(sub.left, (ast.Subscript, ast.Attribute)) else sub.left
                    if isinstance(base, ast.Name) and base.id in rows:
                        return stmt, ast.unparse(sub.left)
    return None


@register
class ReadModifyWriteRace(ProjectRule):
    code = "PR333"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "read-modify-write-race"
    category = Category.IDEMPOTENCY
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "Two customers buying the last item at the same moment both read \"1 left\", both pay, and both "
        "write \"0 left\": the shop oversells, and counters and balances lose updates."
    )
    fix_summary = "Lets the database do the arithmetic: a conditional UPDATE (`SET stock = stock - :n WHERE stock >= :n`), a row lock, or a CHECK constraint."
    doc = """
## What it does
Finds write routes that read a row, compute a new stock, count or balance in Python
(`item.stock -= qty`, `UPDATE items SET qty = ?` with `row["qty"] - n`) and write it back,
with no row lock (`with_for_update()`, `FOR UPDATE`) and no conditional UPDATE. An `await`
between the read and the write (a payment call, an HTTP request) widens the window and
raises the severity.

## Why is this bad in production
Between the read and the write another request reads the same old value. Both subtract one
from it and both write the same result: one sale is lost from the count, and stock goes
below zero without anyone noticing. Slow calls in between (the payment provider) make it
happen at ordinary traffic, not only under load tests.

## Example
```python
item = db.get(Item, item_id)
await payments.charge(user, item.price)
item.stock = item.stock - 1
db.commit()
```

## Use instead
```python
result = db.execute(
    update(Item).where(Item.id == item_id, Item.stock >= 1).values(stock=Item.stock - 1)
)
if result.rowcount == 0:
    raise HTTPException(409, "sold out")
await payments.charge(user, item.price)
db.commit()
```

## Fix safety
Review: no automatic fix; the order of charging and reserving is the app's decision.
"""
    VALID = [
        "from fastapi import FastAPI\nfrom sqlalchemy import update\napp = FastAPI()\n@app.post('/buy/{item_id}')\nasync def buy(item_id: int, db=None):\n    db.execute(update(Item).where(Item.id == item_id, Item.stock >= 1).values(stock=Item.stock - 1))\n    db.commit()\n",
        "from fastapi import FastAPI\napp = FastAPI()\n@app.post('/buy/{item_id}')\ndef buy(item_id: int, db=None):\n    item = db.query(Item).filter(Item.id == item_id).with_for_update().first()\n    item.stock -= 1\n    db.commit()\n",
        # A value set from the request, not computed from what was read.
        "from fastapi import FastAPI\napp = FastAPI()\n@app.patch('/items/{item_id}')\ndef edit(item_id: int, stock: int, db=None):\n    item = db.query(Item).filter(Item.id == item_id).first()\n    item.stock = stock\n    db.commit()\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.post('/buy/{item_id}')\nasync def buy(item_id: int, db=None):\n    item = db.query(Item).filter(Item.id == item_id).first()\n    await charge(item.price)\n    item.stock = item.stock - 1\n    db.commit()\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.post('/seats/<int:event_id>')\ndef book(event_id):\n    db = get_db()\n    event = db.execute('SELECT * FROM events WHERE id = ?', (event_id,)).fetchone()\n    db.execute('UPDATE events SET seats = ? WHERE id = ?', (event['seats'] - 1, event_id))\n    db.commit()\n    return {}, 201\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        graph = call_graph(index)
        for route, node in route_handlers(index):
            if not route.is_mutating or guards_duplicates(node) or CheckThenInsertRace().race(node) is not None:
                continue
            rows = _read_rows(node, graph, graph.summary(route.relpath, route.handler.qualname))
            if not rows:
                continue
            for stmt in walk_function(node):
                found = _python_update(stmt, rows) if isinstance(stmt, ast.stmt) else None
                if found is None:
                    continue
                at, what = found
                first_read = min(rows.values())
                awaited = any(isinstance(a, ast.Await) and first_read < a.lineno < at.lineno for a in walk_function(node))
                if awaited:
                    yield self.at(route.relpath, at, f"{route.label()} reads `{what}`, awaits another call, then writes the new value computed in Python: concurrent requests overwrite each other (oversold stock, lost updates)", severity=Severity.HIGH)
                else:
                    yield self.at(route.relpath, at, f"{route.label()} reads `{what}` and writes back a value computed in Python: concurrent requests overwrite each other (oversold stock, lost updates)")
                break


@register
class WebhookWithoutEventDedupe(ProjectRule):
    code = "PR334"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "webhook-without-event-dedupe"
    category = Category.IDEMPOTENCY
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    impact = (
        "Payment providers deliver each webhook at least once: a redelivered \"payment succeeded\" "
        "credits the account or marks the order paid a second time."
    )
    fix_summary = "Stores each event id once (a table with the id as its primary key) and skips events already seen."
    doc = """
## What it does
Finds webhook routes (a path or handler named webhook/hook/callback/ipn, or a Stripe
`construct_event` check) that change data, directly or through the project's helpers (an
UPDATE, a balance or credit added in Python, a row inserted), with nothing that remembers
the provider's event id: no lookup or unique column for it, no `IntegrityError` handling, no
`ON CONFLICT`. Inserting an order or payment record is PR330.

## Why is this bad in production
Providers retry until they get a 2xx, and they also redeliver after their own timeouts or
incidents. Without de-duplication each delivery runs the side effect again: credits granted
twice, two confirmation e-mails, a subscription extended twice.

## Example
```python
@router.post("/webhooks/stripe")
async def stripe_webhook(request: Request, db: Session = Depends(get_db)):
    event = stripe.Webhook.construct_event(await request.body(), sig, secret)
    user = db.query(User).filter(User.stripe_id == event.data.object.customer).first()
    user.credits += 100
    db.commit()
```

## Use instead
```python
    if db.get(ProcessedEvent, event.id):
        return {"received": True}
    db.add(ProcessedEvent(id=event.id))  # primary key: a concurrent redelivery fails here
    user.credits += 100
    db.commit()
```

## Fix safety
Review: no automatic fix; it needs a table for the event ids.
"""
    VALID = [
        "from fastapi import FastAPI, Request\napp = FastAPI()\n@app.post('/webhooks/stripe')\nasync def hook(request: Request, db=None):\n    event = await request.json()\n    if db.get(ProcessedEvent, event['id']):\n        return {}\n    db.add(ProcessedEvent(id=event['id']))\n    user = db.query(User).filter(User.id == event['user']).first()\n    user.credits += 100\n    db.commit()\n",
        "from fastapi import FastAPI, Request\napp = FastAPI()\n@app.post('/webhooks/ping')\nasync def ping(request: Request):\n    return {'ok': True}\n",
    ]
    INVALID = [
        "from fastapi import FastAPI, Request\napp = FastAPI()\n@app.post('/webhooks/stripe')\nasync def hook(request: Request, db=None):\n    event = await request.json()\n    user = db.query(User).filter(User.id == event['user']).first()\n    user.credits += 100\n    db.commit()\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.post('/paypal/ipn')\ndef ipn():\n    data = request.form\n    get_db().execute(\"UPDATE orders SET status = 'paid' WHERE id = ?\", (data['invoice'],))\n    return ''\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        graph = call_graph(index)
        models = {model.name: model for _, model in index.models}
        for route, node in route_handlers(index):
            if "POST" not in route.methods:
                continue
            source = ast.unparse(node)
            if not (WEBHOOK_PATH.search(route.path) or WEBHOOK_PATH.search(node.name) or "construct_event" in source):
                continue
            if re.search(r"oauth|auth/|login|sso|openid", route.path, re.I) and "construct_event" not in source:
                continue  # a sign-in callback, not a provider's event delivery
            if guards_duplicates(node) or EVENT_DEDUPE.search(source):
                continue
            if any(SENSITIVE.search(what) for _, what in created_models(node, models)):
                continue  # creating the order or payment record: PR330 reports it
            summary = graph.summary(route.relpath, route.handler.qualname)
            at = self.side_effect(node, graph, summary)
            if at is None:
                continue
            yield self.at(route.relpath, at, f"{route.label()} is a webhook that changes data without remembering the event id: a redelivered event applies it twice")

    @staticmethod
    def side_effect(node: ast.AST, graph, summary) -> ast.AST | None:
        rows = _read_rows(node, graph, summary)
        for stmt in walk_function(node):
            if isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Attribute):
                return stmt
            if isinstance(stmt, ast.Constant) and isinstance(stmt.value, str) and WRITE_SQL.search(stmt.value):
                return stmt
            if isinstance(stmt, ast.stmt) and rows and _python_update(stmt, rows):
                return stmt
            if isinstance(stmt, ast.Call) and call_tail(stmt) in {"add", "add_all", "insert_one", "create"} and stmt.args:
                return stmt
        for edge in summary.edges if summary is not None else ():
            callee = graph.summaries.get(edge.target)
            if callee is not None and any(k.startswith("inserts:") for k in callee.effects):
                helpers = [edge.target[1], *next((ev.via for k, ev in callee.effects.items() if k.startswith("inserts:")), ())]
                if any(EVENT_DEDUPE.search(ast.unparse(s.node)) or guards_duplicates(s.node) for (r, q), s in graph.summaries.items() if s is not None and q in helpers):
                    continue
                return edge.node
        return None

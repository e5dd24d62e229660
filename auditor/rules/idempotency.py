"""Step 3 — validation: duplicate writes and races (PR330-PR332)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

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


def guards_duplicates(node: ast.AST) -> bool:
    if catches(node, UNIQUE_ERRORS):
        return True
    if any(isinstance(c, ast.Call) and call_tail(c) in LOCKING_CALLS for c in walk_function(node)):
        return True
    return any(CONFLICT_SQL.search(text) for text in strings_in(node))


@register
class DuplicateWriteWithoutIdempotency(ProjectRule):
    code = "PR330"
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
            if not created or guards_duplicates(node):
                continue
            at, what = created[0]
            if what != "a payment" and unique_protected(index, what):
                continue
            yield self.at(route.relpath, at, f"{route.label()} creates {what} on every call: a retried or double-submitted request duplicates it")


@register
class RandomIdempotencyKey(ModuleRule):
    code = "PR331"
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
        for route, node in route_handlers(index):
            if not route.is_mutating or guards_duplicates(node):
                continue
            found = self.race(node)
            if found is not None:
                at, name = found
                yield self.at(route.relpath, at, f"checks `{name}` then writes: concurrent requests can both pass the check")

    def race(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[ast.AST, str] | None:
        reads: dict[str, int] = {}
        check: tuple[ast.AST, str] | None = None
        for stmt in self.statements(node.body):
            if check is None:
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) and self.is_db_read(stmt.value):
                    reads[stmt.targets[0].id] = stmt.lineno
                elif isinstance(stmt, ast.If) and terminates(stmt.body):
                    name = self.rejecting_check(stmt.test, reads)
                    if name:
                        check = (stmt, name)
            elif self.writes(stmt):
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

"""Step 3 — validation (PR3xx): a schema at every entry point, typed parameters, pagination.

Injection (PR310/PR311) lives in `injection.py`, idempotency and races (PR330-PR332) in
`idempotency.py`, async error handling (PR340-PR344) in `async_errors.py`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.rules.taint import flask_path_params, strip_annotation
from auditor.rules.webapp import call_tail, project_class, qualified, rejects_request, route_handlers, walk_function
from auditor.walk import dotted

LOOSE_BODY = re.compile(r"^(?:typing\.)?(?:list\[|List\[)?(?:dict|Dict|Any|object|Json)\b")
# JSON bodies: a missing key or a null body raises inside the handler (a 500). Form and query
# values are MultiDicts: a missing key is already a 400, so only hand conversions are reported.
FLASK_BODY = {"flask.request.json", "quart.request.json"}
FLASK_BODY_CALLS = {"flask.request.get_json", "quart.request.get_json"}
FLASK_TEXT_VALUES = {f"{m}.request.{part}" for m in ("flask", "quart") for part in ("args", "form", "values")}
FLASK_FORM = {"flask.request.form", "quart.request.form"}
FORM_CHECKS = frozenset({"len", "match", "fullmatch", "search", "isinstance", "validate_email", "is_valid", "check"})
STORE_CALLS = frozenset({"execute", "executemany", "add", "add_all", "insert", "insert_one", "insert_many", "create", "save", "update", "update_one", "set"})
VALIDATOR_CALLS = {
    "model_validate", "model_validate_json", "parse_obj", "parse_raw", "validate", "validate_python",
    "validate_json", "load", "is_valid", "validate_on_submit", "deserialize", "structure", "from_dict", "from_json",
}  # fmt: skip
VALIDATING_DECORATORS = {
    "validate", "input", "arguments", "use_args", "use_kwargs", "expects", "accepts", "validate_json",
    "validate_request", "use_schema", "validate_body", "body",
}  # fmt: skip
SIGNATURE_CHECK = re.compile(r"signature|compare_digest|construct_event|verify_webhook|verify_hmac", re.I)
CONVERSION_ERRORS = {"ValueError", "TypeError", "KeyError", "Exception", "BaseException", "BadRequest", "ValidationError"}


def source_order(node: ast.AST) -> tuple[int, int]:
    return node.lineno, node.col_offset


def verifies_signature(node: ast.AST) -> bool:
    """A webhook handler that checks the sender's signature: the body is the provider's, signed."""
    return any(isinstance(c, ast.Call) and SIGNATURE_CHECK.search(dotted(c.func) or "") for c in walk_function(node))


def validates(node: ast.AST) -> bool:
    """The handler passes the data through a schema: Model(**data), Schema().load(data), validate_x(data)..."""
    for child in walk_function(node):
        if not isinstance(child, ast.Call):
            continue
        tail = call_tail(child)
        if tail == "load":  # Schema().load(data) validates; load(...) or json.load(...) does not
            if isinstance(child.func, ast.Attribute) and dotted(child.func.value) not in {"json", "yaml", "pickle", "toml"}:
                return True
        elif tail in VALIDATOR_CALLS or tail.startswith(("validate_", "parse_")):
            return True
        if tail[:1].isupper() and any(k.arg is None for k in child.keywords):
            return True  # Model(**data)
    return False


def guarded_by_try(node: ast.AST) -> set[int]:
    """ids of the nodes inside a `try` whose handlers catch conversion errors."""
    inside: set[int] = set()
    for child in walk_function(node):
        if isinstance(child, ast.Try) and any(
            h.type is None or (dotted(t) or "").rpartition(".")[2] in CONVERSION_ERRORS
            for h in child.handlers
            for t in ([h.type] if not isinstance(h.type, ast.Tuple) else h.type.elts)
        ):
            for stmt in child.body:
                inside.update(id(n) for n in ast.walk(stmt))
    return inside


def derived_names(node: ast.AST, sources: list[ast.AST]) -> set[str]:
    """Local names whose value comes from the body reads, through assignments and loops."""
    names: set[str] = set()
    source_ids = {id(s) for s in sources}

    def mentions(expr: ast.AST) -> bool:
        return any(id(n) in source_ids or (isinstance(n, ast.Name) and n.id in names) for n in ast.walk(expr))

    statements = sorted(
        (n for n in walk_function(node) if isinstance(n, (ast.Assign, ast.AnnAssign, ast.For, ast.NamedExpr))),
        key=lambda n: (n.lineno, n.col_offset),
    )
    for stmt in statements:
        value = stmt.iter if isinstance(stmt, ast.For) else stmt.value
        targets = [stmt.target] if isinstance(stmt, (ast.For, ast.AnnAssign, ast.NamedExpr)) else stmt.targets
        if value is not None and mentions(value):
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    return names


def hand_validation(node: ast.AST, sources: list[ast.AST]) -> tuple[bool, bool]:
    """(checks types, checks ranges) of the body's values, in hand-written validation that answers 4xx."""
    if not rejects_request(node):
        return False, False
    names = derived_names(node, sources)
    source_ids = {id(s) for s in sources}

    def about_input(expr: ast.AST) -> bool:
        return any(id(n) in source_ids or (isinstance(n, ast.Name) and n.id in names) for n in ast.walk(expr))

    def is_bound(expr: ast.AST) -> bool:  # a literal number or a CONSTANT_NAME
        return (isinstance(expr, ast.Constant) and isinstance(expr.value, (int, float))) or (
            isinstance(expr, ast.Name) and expr.id.isupper()
        )

    typed = ranged = False
    for child in walk_function(node):
        if isinstance(child, ast.Call) and call_tail(child) == "isinstance" and child.args and about_input(child.args[0]):
            typed = True
        elif isinstance(child, ast.Try) and any(
            h.type is not None and (dotted(h.type) or "").rpartition(".")[2] in {"ValueError", "TypeError"} for h in child.handlers
        ) and any(about_input(stmt) for stmt in child.body):
            typed = True
        elif isinstance(child, ast.Compare) and about_input(child):
            parts = [child.left, *child.comparators]
            if any(isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in child.ops) and any(is_bound(p) for p in parts):
                ranged = True
            elif isinstance(child.ops[0], (ast.In, ast.NotIn)) and not about_input(child.comparators[0]):
                ranged = True
    return typed, ranged


@register
class UnvalidatedRequestBody(ProjectRule):
    code = "PR301"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "unvalidated-request-body"
    category = Category.VALIDATION
    severity = Severity.MEDIUM
    impact = (
        "Whatever a client sends goes straight into your code and database: a missing field or a "
        "string where a number belongs turns into a 500 error, and junk or oversized data gets stored."
    )
    fix_summary = "Declares a Pydantic model for the body (typed fields with limits) and uses it in the handler."
    doc = """
## What it does
Finds request bodies used without a schema: FastAPI bodies typed `dict` or `Any`, or read with
`await request.json()` / `await request.form()`; Flask handlers that use `request.get_json()` /
`request.json` values without passing them through a schema, `request.form` fields stored
with no check at all (no form class, schema or test of any value), and `int()` / `float()` of
a query-string or form value outside a `try`. Hand-written checks that test both the type and the
range of the values (and answer 4xx) count as validation; partial checks get a low-severity note.

## Why is this bad in production
A blank body, a missing key or `"qty": "ten"` raises inside the handler and the client gets a
500 instead of a clear 400/422. Nothing limits sizes or values, so negative quantities, huge
strings and unexpected keys reach the database.

## Example
```python
@app.post("/signup")
def signup(payload: dict, db: Session = Depends(get_db)):
    user = User(email=payload["email"])
```

## Use instead
```python
class SignupIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)

@app.post("/signup")
def signup(body: SignupIn, db: Session = Depends(get_db)):
    user = User(email=body.email)
```

## Fix safety
Review: requests that used to be accepted may now be rejected with 422.
"""
    VALID = [
        "from fastapi import FastAPI\nfrom pydantic import BaseModel\napp = FastAPI()\nclass ItemIn(BaseModel):\n    name: str\n@app.post('/items')\ndef create(item: ItemIn):\n    return item\n",
        # Hand-written validation that checks the type and the range, and answers 400.
        "from flask import Flask, abort, request\napp = Flask(__name__)\n@app.post('/items')\ndef create():\n    data = request.get_json(silent=True) or {}\n    qty = data.get('qty')\n    if not isinstance(qty, int) or not 1 <= qty <= 100:\n        abort(400)\n    return {'qty': qty}\n",
        # A webhook: the body is signed by the provider and checked before use.
        "import hmac\nfrom flask import Blueprint, abort, request\nbp = Blueprint('hooks', __name__)\n@bp.route('/payments', methods=['POST'])\ndef hook():\n    if not hmac.compare_digest(sign(request.get_data()), request.headers.get('X-Signature', '')):\n        abort(400)\n    event = request.get_json()\n    return {'type': event['type']}\n",
        "from fastapi import FastAPI, Request\napp = FastAPI()\n@app.post('/hooks/stripe')\nasync def hook(request: Request):\n    payload = await request.body()\n    verify_stripe_signature(payload, request.headers['stripe-signature'])\n    return {}\n",
        "from fastapi import FastAPI, Request\nfrom pydantic import BaseModel\napp = FastAPI()\nclass Event(BaseModel):\n    id: str\n@app.post('/events')\nasync def events(request: Request):\n    event = Event.model_validate(await request.json())\n    return {'id': event.id}\n",
        "from flask import Flask, request\nfrom app.schemas import ItemSchema\napp = Flask(__name__)\n@app.route('/items', methods=['POST'])\ndef create():\n    item = ItemSchema().load(request.get_json())\n    return item\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.get('/items')\ndef items():\n    page = request.args.get('page', 1, type=int)\n    return {'page': page}\n",
        # Form fields are text and a missing one is already a 400.
        "from flask import Blueprint, flash, request\nbp = Blueprint('auth', __name__)\n@bp.route('/register', methods=('GET', 'POST'))\ndef register():\n    username = request.form['username']\n    if not username:\n        flash('Username is required.')\n    return save(username)\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.post('/signup')\ndef signup(payload: dict):\n    return {'email': payload['email']}\n",
        "from fastapi import FastAPI, Request\napp = FastAPI()\n@app.post('/login')\nasync def login(request: Request):\n    data = await request.json()\n    return {'email': data.get('email')}\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.route('/orders', methods=['POST'])\ndef create_order():\n    data = request.get_json()\n    return {'qty': int(data['qty'])}\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.get('/items')\ndef items():\n    page = int(request.args['page'])\n    return {'page': page}\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.post('/cart')\ndef add():\n    return {'qty': float(request.form.get('qty', 1))}\n",
        # Form fields stored with no check at all.
        "from flask import Flask, redirect, request\napp = Flask(__name__)\n@app.post('/profile')\ndef profile():\n    bio = request.form['bio']\n    website = request.form.get('website')\n    get_db().execute('UPDATE users SET bio = ?, website = ?', (bio, website))\n    return redirect('/me')\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        for route, node in route_handlers(index):
            imports = index.modules[route.relpath].imports
            found = self.fastapi(route, node, index) if route.framework == "fastapi" else self.flask(route, node, imports)
            if found is not None:
                message, at, severity = found
                yield self.at(route.relpath, at, message, severity=severity)

    def fastapi(self, route, node: ast.AST, index):
        facts = index.modules[route.relpath]
        for param in route.handler.params:
            if param.kind != "normal" or not param.annotation or index.param_dependency(param, facts):
                continue
            if LOOSE_BODY.match(strip_annotation(param.annotation)):
                return (
                    f"`{param.name}: {param.annotation}` accepts any JSON: no field, type or size is checked (declare a Pydantic model)",
                    node,
                    None,
                )
        requests = {p.name for p in route.handler.params if re.search(r"\bRequest\b", p.annotation or "")}
        if not requests or validates(node) or verifies_signature(node):
            return None
        reads = [
            child
            for child in walk_function(node)
            if isinstance(child, ast.Call)
            and isinstance(child.func, ast.Attribute)
            and child.func.attr in {"json", "form"}
            and isinstance(child.func.value, ast.Name)
            and child.func.value.id in requests
        ]
        if not reads:
            return None
        first = min(reads, key=source_order)
        return (f"body read with `await {ast.unparse(first.func)}()` and used without a schema", first, None)

    def flask(self, route, node: ast.AST, imports: dict[str, str]):
        if any(d.rpartition(".")[2] in VALIDATING_DECORATORS for d in route.handler.decorators):
            return None
        body_reads: list[ast.AST] = []
        casts: list[ast.Call] = []
        for child in walk_function(node):
            if isinstance(child, ast.Attribute) and qualified(child, imports) in FLASK_BODY:
                body_reads.append(child)
            elif isinstance(child, ast.Call) and qualified(child.func, imports) in FLASK_BODY_CALLS:
                body_reads.append(child)
            elif isinstance(child, ast.Call) and call_tail(child) in {"int", "float"} and child.args:
                if any(isinstance(a, ast.Attribute) and qualified(a, imports) in FLASK_TEXT_VALUES for a in ast.walk(child.args[0])):
                    casts.append(child)
        guarded = guarded_by_try(node) if casts else set()
        unguarded_cast = min((c for c in casts if id(c) not in guarded), key=source_order, default=None)
        body_read = min(body_reads, key=source_order, default=None)
        if body_read is None and unguarded_cast is None:
            return self.flask_form(node, imports)
        if validates(node) or verifies_signature(node):
            return None
        if body_read is None:
            return (f"`{ast.unparse(unguarded_cast)}` outside a try: a non-numeric value gives a 500", unguarded_cast, None)
        typed, ranged = hand_validation(node, body_reads)
        if typed and ranged:
            return None
        source = ast.unparse(body_read)
        if typed or ranged:
            return (
                f"`{source}` is checked by hand only partly ({'types' if typed else 'ranges'} only): a schema would check both",
                body_read,
                Severity.LOW,
            )
        return (f"`{source}` used without validation: a blank body or a wrong-typed field gives a 500", body_read, None)

    @staticmethod
    def flask_form(node: ast.AST, imports: dict[str, str]):
        """Form fields stored with no check at all: no form class or schema, no test of any value."""
        reads = [n for n in walk_function(node) if isinstance(n, ast.Attribute) and qualified(n, imports) in FLASK_FORM]
        if not reads or validates(node):
            return None
        names = derived_names(node, reads)
        read_ids = {id(r) for r in reads}

        def about_form(expr: ast.AST) -> bool:
            return any(id(n) in read_ids or (isinstance(n, ast.Name) and n.id in names) for n in ast.walk(expr))

        for child in walk_function(node):
            if isinstance(child, (ast.If, ast.While, ast.Assert, ast.IfExp)) and about_form(child.test):
                return None  # checked by hand (presence, length, format...)
            if isinstance(child, ast.Call) and call_tail(child) in FORM_CHECKS and about_form(child):
                return None
        stored = [
            c for c in walk_function(node)
            if isinstance(c, ast.Call) and (call_tail(c) in STORE_CALLS or call_tail(c)[:1].isupper())
            and any(about_form(a) for a in [*c.args, *(k.value for k in c.keywords)])
        ]
        if not stored:
            return None
        first = min(reads, key=source_order)
        return (
            "`request.form` values are stored without any check: blank, oversized or malformed fields reach the "
            "database (validate them with a form class or a schema)",
            first,
            None,
        )


PARSERS = frozenset({"int", "float", "Decimal", "strptime", "fromisoformat", "UUID", "loads", "fromtimestamp", "parse", "isoparse"})
TEXT_ONLY_PARSERS = PARSERS - {"int", "float"}  # int()/float() of query and form values are PR301's
FLASK_RAW_VALUES = {f"{m}.request.{part}" for m in ("flask", "quart") for part in ("args", "form", "values", "headers", "cookies", "view_args")}
FASTAPI_RAW = frozenset({"query_params", "path_params", "headers", "cookies"})
HAND_CHECKS = frozenset({"isdigit", "isdecimal", "isnumeric", "fullmatch", "match"})
TEXT_ANNOTATION = re.compile(r"^(str|Optional\[str\]|str \| None|None \| str)$")


@register
class UnguardedInputParsing(ProjectRule):
    code = "PR304"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "unguarded-input-parsing"
    category = Category.VALIDATION
    severity = Severity.MEDIUM
    impact = (
        "A typo in a date, an amount or an id in the URL crashes the request: the user sees a server "
        "error instead of \"invalid date\", and your error tracker fills with noise."
    )
    fix_summary = "Declares the parameter with its real type (date, Decimal, UUID, int) so a bad value gets a 400/422, or parses it in a try that answers 400."
    doc = """
## What it does
Finds request values parsed by hand outside a `try` that catches the parse error:
`datetime.strptime`, `date.fromisoformat`, `Decimal(...)`, `UUID(...)`, `json.loads(...)`
of query, form, header and cookie values, and `int()` / `float()` of a Flask path segment
of headers and cookies, and of a FastAPI parameter declared as `str`. (`int()` of query and
form values and JSON bodies are PR301's; untyped path segments such as `/<id>` are PR303's.)
A value checked first with `isdigit()` or a regular expression is fine.

## Why is this bad in production
These parsers raise `ValueError` (or `InvalidOperation`) on a malformed value. Nothing
catches it, so the framework answers 500: the client cannot tell a bad input from a broken
server, monitoring counts a crash, and retries repeat it.

## Example
```python
@app.get("/reports")
def report(start: str):
    day = datetime.strptime(start, "%Y-%m-%d")
```

## Use instead
```python
@app.get("/reports")
def report(start: date):  # FastAPI answers 422 for a bad date
    ...
```

## Fix safety
No automatic fix: choose the type or the 400 answer yourself.
"""
    VALID = [
        "from datetime import date\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/reports')\ndef report(start: date):\n    return {'start': start}\n",
        "from datetime import datetime\nfrom flask import Flask, abort, request\napp = Flask(__name__)\n@app.get('/reports')\ndef report():\n    try:\n        start = datetime.strptime(request.args.get('start', ''), '%Y-%m-%d')\n    except ValueError:\n        abort(400)\n    return {'start': start.isoformat()}\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.delete('/items/<int:item_id>')\ndef remove(item_id):\n    return {'id': int(item_id)}\n",
        "from decimal import Decimal\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/convert')\ndef convert(amount: Decimal):\n    return {'cents': int(amount * 100)}\n",
    ]
    INVALID = [
        "from datetime import datetime\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/reports')\ndef report(start: str):\n    day = datetime.strptime(start, '%Y-%m-%d')\n    return {'day': day.isoformat()}\n",
        "from decimal import Decimal\nfrom flask import Flask, request\napp = Flask(__name__)\n@app.post('/refunds')\ndef refund():\n    amount = Decimal(request.form['amount'])\n    return {'amount': str(amount)}\n",
        "from flask import Blueprint, request\nbp = Blueprint('items', __name__)\n@bp.get('/')\ndef items():\n    limit = int(request.headers.get('X-Limit', '50'))\n    return {'limit': limit}\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        for route, node in route_handlers(index):
            imports = index.modules[route.relpath].imports
            sources, text_params = self.raw_values(route, node, imports)
            if not sources and not text_params:
                continue
            sources = sources + [n for n in walk_function(node) if isinstance(n, ast.Name) and n.id in text_params]
            names = derived_names(node, sources) | text_params
            source_ids = {id(s) for s in sources}
            checked = {
                n.func.value.id if isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) else None
                for n in walk_function(node)
                if isinstance(n, ast.Call) and call_tail(n) in HAND_CHECKS
            } | {n.args[1].id for n in walk_function(node) if isinstance(n, ast.Call) and call_tail(n) in {"fullmatch", "match"} and len(n.args) > 1 and isinstance(n.args[1], ast.Name)}
            guarded = guarded_by_try(node)
            for call in sorted((n for n in walk_function(node) if isinstance(n, ast.Call)), key=source_order):
                tail = call_tail(call)
                if tail not in PARSERS or not call.args or id(call) in guarded:
                    continue
                arg = call.args[0]
                if any(isinstance(n, ast.Name) and n.id in checked for n in ast.walk(arg)):
                    continue
                raw_form = any(id(n) in source_ids and self.query_or_form(n, imports) for n in ast.walk(arg))
                if tail in {"int", "float"} and raw_form:
                    continue  # PR301 reports int()/float() of query and form values
                if tail in {"loads", "parse"} and not (dotted(call.func) or "").startswith(("json", "dateutil", "parser")):
                    continue
                if any(id(n) in source_ids or (isinstance(n, ast.Name) and n.id in names) for n in ast.walk(arg)):
                    yield self.at(
                        route.relpath,
                        call,
                        f"`{ast.unparse(call)[:60]}` raises on a malformed value and the client gets a 500: declare the type or answer 400",
                    )
                    break  # one per handler

    @staticmethod
    def query_or_form(node: ast.AST, imports) -> bool:
        return isinstance(node, ast.Attribute) and qualified(node, imports) in FLASK_TEXT_VALUES

    @staticmethod
    def raw_values(route, node, imports) -> tuple[list[ast.AST], set[str]]:
        """Nodes reading raw request text, and names of parameters that hold raw text."""
        sources: list[ast.AST] = []
        params: set[str] = set()
        if route.framework == "flask":  # untyped path segments (`/<id>`) are PR303's
            sources = [n for n in walk_function(node) if isinstance(n, ast.Attribute) and qualified(n, imports) in FLASK_RAW_VALUES]
        else:
            requests = {p.name for p in route.handler.params if re.search(r"\bRequest\b", p.annotation or "")}
            for param in route.handler.params:  # declared `str` on purpose; unannotated ones are PR303's
                if param.kind == "normal" and not param.depends_on and param.annotation and TEXT_ANNOTATION.match(strip_annotation(param.annotation)):
                    params.add(param.name)
            sources = [
                n for n in walk_function(node)
                if isinstance(n, ast.Attribute) and n.attr in FASTAPI_RAW and isinstance(n.value, ast.Name) and n.value.id in requests
            ]
        return sources, params - {"self", "request", "db", "session"}


DUMPS = frozenset({"model_dump", "dict"})
MERGERS = frozenset({"sqlmodel_update", "update_from_dict"})


@register
class NullOntoRequiredColumn(ProjectRule):
    code = "PR305"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "null-onto-required-column"
    category = Category.VALIDATION
    severity = Severity.MEDIUM
    impact = (
        "A client that sends `\"title\": null` in an edit crashes the request: the database refuses an "
        "empty required field and the user gets a server error instead of a clear message."
    )
    fix_summary = "Skips null values when copying an edit onto the row (exclude_none=True / `if value is not None`), or rejects null for required fields with a 422."
    doc = """
## What it does
Finds PATCH and PUT handlers that copy the request's fields onto a row — a
`for key, value in data.items(): setattr(row, key, value)` loop, `row.sqlmodel_update(data)`,
or `row.title = data.get("title", row.title)` — where an explicit `null` reaches a column
declared NOT NULL (`nullable=False`). With a Pydantic body, only fields that accept `None`
count; `model_dump(exclude_none=True)` and an `is not None` check are fine.

## Why is this bad in production
`exclude_unset=True` keeps the fields the client sent, including the ones it sent as
`null`. The value reaches the database, which refuses it with an `IntegrityError`: the
client gets a 500 for what is a validation error, and with autoflush the session may be left
broken for the rest of the request.

## Example
```python
class TaskUpdate(BaseModel):
    title: str | None = None

@router.patch("/tasks/{task_id}")
def edit(task_id: int, body: TaskUpdate, db: Session = Depends(get_db)):
    task = db.get(Task, task_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(task, key, value)
```

## Use instead
```python
    for key, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(task, key, value)
```

## Fix safety
No automatic fix: decide whether null means "leave as is" or "invalid".
"""
    VALID = [
        """
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
app = FastAPI()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String, nullable=False)
class TaskUpdate(BaseModel):
    title: str | None = None
@app.patch("/tasks/{task_id}")
def edit(task_id: int, body: TaskUpdate, db=None):
    task = db.get(Task, task_id)
    for key, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(task, key, value)
    return task
""",
    ]
    INVALID = [
        """
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
app = FastAPI()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String, nullable=False)
class TaskUpdate(BaseModel):
    title: str | None = None
@app.patch("/tasks/{task_id}")
def edit(task_id: int, body: TaskUpdate, db=None):
    task = db.get(Task, task_id)
    for key, value in body.model_dump(exclude_unset=True).items():
        setattr(task, key, value)
    return task
""",
    ]

    def check(self, index) -> Iterable[Finding]:
        from auditor.rules.data_model import OPTIONAL
        from auditor.rules.filter_indexes import _row_table
        from auditor.rules.querying import data_shape

        shape = data_shape(index)
        if not shape.tables:
            return
        for route, node in route_handlers(index):
            if not {"PATCH", "PUT"} & set(route.methods):
                continue
            facts = index.modules[route.relpath]
            rows = {  # local name -> table of the row it holds
                a.targets[0].id: table
                for a in walk_function(node)
                if isinstance(a, ast.Assign) and len(a.targets) == 1 and isinstance(a.targets[0], ast.Name)
                for table in [_row_table(a.value, shape)] if table is not None
            }
            if not rows:
                continue
            schemas = {p.name: p.annotation for p in route.handler.params if p.annotation}
            hit = self.copy_site(node, rows, schemas, facts, index, OPTIONAL, route.framework, set(facts.imports.values()))
            if hit is not None:
                at, table, column = hit
                yield self.at(
                    route.relpath,
                    at,
                    f"{route.label()} copies an explicit null onto {table.model or table.name}.{column}, a NOT NULL column: "
                    "the database refuses it and the client gets a 500",
                )

    @staticmethod
    def required(table) -> list[str]:
        return [name for name, c in table.columns.items() if c.nullable is False and not c.primary_key]

    def copy_site(self, node, rows, schemas, facts, index, optional, framework, imported):
        dumps: dict[str, ast.Call] = {}  # name -> the model_dump(...) call it holds
        for child in walk_function(node):
            if isinstance(child, ast.Assign) and len(child.targets) == 1 and isinstance(child.targets[0], ast.Name) and isinstance(child.value, ast.Call):
                dumps[child.targets[0].id] = child.value
        for child in walk_function(node):
            source = row = None
            if isinstance(child, ast.For) and isinstance(child.iter, ast.Call) and call_tail(child.iter) == "items":
                setters = [c for s in child.body for c in ast.walk(s) if isinstance(c, ast.Call) and call_tail(c) == "setattr" and c.args]
                if setters and isinstance(setters[0].args[0], ast.Name):
                    source, row = child.iter.func.value, setters[0].args[0].id
            elif isinstance(child, ast.Call) and call_tail(child) in MERGERS and isinstance(child.func, ast.Attribute) and isinstance(child.func.value, ast.Name) and child.args:
                source, row = child.args[0], child.func.value.id
            elif isinstance(child, ast.Assign) and len(child.targets) == 1:
                hit = self.direct_copy(child, node, rows, dumps, schemas, facts, index, optional, framework)
                if hit is not None:
                    return hit
            if source is None or row not in rows:
                continue
            required = self.required(rows[row])
            fields = self.nullable_fields(source, dumps, schemas, facts, index, optional, framework)
            hits = [c for c in required if fields is None or c in fields]
            if hits:
                return child, rows[row], hits[0]
        return None

    def direct_copy(self, assign, node, rows, dumps, schemas, facts, index, optional, framework):
        """`row.title = data.get("title", row.title)` (an explicit null wins over the default) or
        `row.title = body.title` with an Optional field, outside an `is not None` check."""
        target = assign.targets[0]
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id in rows):
            return None
        table = rows[target.value.id]
        if target.attr not in self.required(table):
            return None
        value = assign.value
        if isinstance(value, ast.Call) and call_tail(value) == "get" and isinstance(value.func, ast.Attribute) and len(value.args) == 2:
            fields = self.nullable_fields(value.func.value, dumps, schemas, facts, index, optional, framework)
        elif isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id in schemas and value.attr == target.attr:
            fields = self.schema_fields(schemas[value.value.id], facts, index, optional)
        else:
            return None
        if fields is not None and target.attr not in fields:
            return None
        guarded = any(
            isinstance(n, ast.If) and "None" in ast.unparse(n.test) and any(c is assign for s in n.body for c in ast.walk(s))
            for n in walk_function(node)
        )
        return None if guarded else (assign, table, target.attr)

    @staticmethod
    def schema_fields(annotation: str, facts, index, optional) -> set[str]:
        located = project_class(index, facts, strip_annotation(annotation))
        cls = next((n for n in index.tree(located[0]).body if isinstance(n, ast.ClassDef) and n.name == located[1]), None) if located else None
        if cls is None:
            return set()
        return {s.target.id for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name) and optional.search(ast.unparse(s.annotation))}

    def nullable_fields(self, source, dumps, schemas, facts, index, optional, framework) -> set[str] | None:
        """Fields that may arrive as null: None means any key (a dict or a raw JSON body); an empty set, none."""
        if isinstance(source, ast.Name) and source.id in dumps:
            source = dumps[source.id]
        if isinstance(source, ast.Call) and call_tail(source) in DUMPS and isinstance(source.func, ast.Attribute):
            if any(k.arg == "exclude_none" and isinstance(k.value, ast.Constant) and k.value.value for k in source.keywords):
                return set()
            body = source.func.value
            annotation = schemas.get(body.id) if isinstance(body, ast.Name) else None
            return self.schema_fields(annotation, facts, index, optional) if annotation else set()
        if isinstance(source, ast.Name) and LOOSE_BODY.match(strip_annotation(schemas.get(source.id) or "-")):
            return None  # payload: dict
        text = ast.unparse(source)
        if framework == "flask" and ("get_json" in text or "request.json" in text or (isinstance(source, ast.Name) and "get_json" in ast.unparse(dumps.get(source.id, source)))):
            return None
        return set()


LOGIN_SCHEMA = re.compile(r"Login|LogIn|SignIn|Signin|Credentials|AuthRequest|TokenRequest")
PRIVILEGE_FIELD = re.compile(
    r"^(is_)?(admin|superuser|super_user|staff|moderator)$|^(role|roles|permissions?|scopes?|user_type|account_type|"
    r"is_verified|email_verified|is_owner)$",
    re.I,
)
ACCOUNT_FIELD = re.compile(r"^(balance|credits?|plan|tier|verified)$", re.I)  # privileges only on a user or account row
ACCOUNT_NAME = re.compile(r"(^|_)(user|users|account|accounts|customer|profile|member)$", re.I)


def privileged(field: str, owner: str) -> bool:
    """`field` of a row named `owner` (a model, a table or a variable) grants rights."""
    return bool(PRIVILEGE_FIELD.match(field) or (ACCOUNT_FIELD.match(field) and ACCOUNT_NAME.search(owner)))


@register
class PrivilegeFieldFromRequest(ProjectRule):
    code = "PR306"
    name = "privilege-field-from-request"
    category = Category.VALIDATION
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    scope = "request"  # judged only on code a route or a background job reaches
    impact = (
        "Anyone can give themselves more rights than they should have: sending `\"admin\": true` or "
        "`\"role\": \"owner\"` with a signup or a profile edit is enough."
    )
    fix_summary = "Leaves privilege fields (admin, role, plan, balance...) out of what the client can send; only an admin route or server code sets them."
    doc = """
## What it does
Finds handlers without a role check that store a privilege field — `admin`, `is_admin`,
`role`, `permissions`, `is_verified`, and on a user or account row `plan`, `balance`,
`credits` — from the request: a
keyword of a model constructor or an attribute assignment whose value comes from the body
(also through an `if data["admin"]:` branch), `Model(**body.model_dump())` with a schema
that has such a field, a `setattr` loop over the body onto a model that has one, or an
`INSERT`/`UPDATE` naming such a column with values from the request.

## Why is this bad in production
This is mass assignment: the API trusts the client to say who it is. A signup that copies
`role` from the body creates administrators on demand; a profile edit that copies `plan` or
`balance` hands out paid features and money.

## Example
```python
@app.post("/signup")
def signup(body: SignupIn, db: Session = Depends(get_db)):
    user = User(**body.model_dump())  # SignupIn has is_admin: bool = False
```

## Use instead
```python
class SignupIn(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8)
    # no is_admin: only an admin route sets it
```

## Fix safety
No automatic fix: decide who may set the field.
"""
    VALID = [
        "from flask import Flask, request\napp = Flask(__name__)\n@app.post('/signup')\ndef signup():\n    data = request.get_json()\n    user = User(email=data['email'], is_admin=False)\n    db.session.add(user)\n    return {}\n",
        "from flask import Flask, request\nfrom flask_login import login_required\napp = Flask(__name__)\ndef admin_required(f):\n    return f\n@app.post('/users/<int:uid>/role')\n@admin_required\ndef set_role(uid):\n    user = User.query.get(uid)\n    if not current_user.is_admin:\n        abort(403)\n    user.role = request.get_json()['role']\n    return {}\n",
    ]
    INVALID = [
        "from flask import Flask, request\napp = Flask(__name__)\n@app.post('/register')\ndef register():\n    data = request.get_json()\n    admin = False\n    if data.get('admin'):\n        admin = True\n    user = User(username=data['username'], admin=admin)\n    db.session.add(user)\n    return {}\n",
        {
            "app/schemas.py": "from pydantic import BaseModel\nclass SignupIn(BaseModel):\n    email: str\n    password: str\n    is_admin: bool = False\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.schemas import SignupIn\napp = FastAPI()\n@app.post('/signup')\ndef signup(body: SignupIn, db=None):\n    user = User(**body.model_dump())\n    db.add(user)\n    return {'id': user.id}\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        for route, node in route_handlers(index):
            if route.role_checked or not route.is_mutating:
                continue
            facts = index.modules[route.relpath]
            sources, schemas = self.body_sources(route, node, facts.imports, index)
            if not sources:
                continue
            names = self.derived(node, sources)
            source_ids = {id(s) for s in sources}

            def from_request(expr: ast.AST) -> bool:
                return any(id(n) in source_ids or (isinstance(n, ast.Name) and n.id in names) for n in ast.walk(expr))

            hit = self.privileged_write(node, from_request, schemas, index, facts)
            if hit is not None:
                at, field = hit
                yield self.at(route.relpath, at, f"{route.label()} stores `{field}` from the request: any client can set its own {field}")

    @staticmethod
    def body_sources(route, node, imports, index) -> tuple[list[ast.AST], dict[str, str]]:
        """Nodes holding the request body, and body parameters -> their schema annotation."""
        schemas: dict[str, str] = {}
        if route.framework == "flask":
            wanted = FLASK_BODY | FLASK_TEXT_VALUES
            sources = [
                n for n in walk_function(node)
                if (isinstance(n, ast.Attribute) and qualified(n, imports) in wanted)
                or (isinstance(n, ast.Call) and qualified(n.func, imports) in FLASK_BODY_CALLS)
            ]
            return sources, schemas
        path_names = set(re.findall(r"{(\w+)", route.path))
        facts = index.modules[route.relpath]
        for param in route.handler.params:
            if param.kind != "normal" or not param.annotation or param.name in path_names or index.param_dependency(param, facts):
                continue
            base = strip_annotation(param.annotation)
            if LOOSE_BODY.match(base) or project_class(index, facts, base):
                schemas[param.name] = base
        sources = [n for n in walk_function(node) if isinstance(n, ast.Name) and n.id in schemas]
        requests = {p.name for p in route.handler.params if re.search(r"\bRequest\b", p.annotation or "")}
        sources += [n for n in walk_function(node) if isinstance(n, ast.Call) and call_tail(n) in {"json", "form"} and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) and n.func.value.id in requests]
        return sources, schemas

    @staticmethod
    def derived(node, sources) -> set[str]:
        """Names computed from the body, also those set inside a branch the body decides."""
        names = derived_names(node, sources)
        source_ids = {id(s) for s in sources}
        for _ in range(2):
            for branch in (n for n in walk_function(node) if isinstance(n, ast.If)):
                if any(id(n) in source_ids or (isinstance(n, ast.Name) and n.id in names) for n in ast.walk(branch.test)):
                    for stmt in [*branch.body, *branch.orelse]:
                        for sub in ast.walk(stmt):
                            if isinstance(sub, ast.Assign):
                                names.update(t.id for t in sub.targets if isinstance(t, ast.Name))
        return names

    def privileged_write(self, node, from_request, schemas, index, facts):
        for child in sorted(walk_function(node), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
            if isinstance(child, ast.Call):
                tail = call_tail(child)
                for keyword in child.keywords:
                    if keyword.arg and privileged(keyword.arg, tail) and (tail[:1].isupper() or tail in STORE_CALLS) and from_request(keyword.value):
                        return child, keyword.arg
                    if keyword.arg is None and tail[:1].isupper():  # Model(**body.model_dump())
                        field = self.schema_privilege(keyword.value, schemas, index, facts, tail)
                        if field:
                            return child, field
                if tail in {"execute", "executemany"} and len(child.args) > 1 and from_request(child.args[1]):
                    text = const_str_of(child.args[0])
                    match = re.search(r"\b(?:insert\s+into|update)\s+[\"`]?(\w+)(.*)", text or "", re.I | re.S)
                    column = next((w for w in re.findall(r"\w+", match.group(2)) if privileged(w, match.group(1))), None) if match else None
                    if column:
                        return child, column
            elif isinstance(child, ast.Assign) and len(child.targets) == 1:
                target = child.targets[0]
                if isinstance(target, ast.Attribute) and privileged(target.attr, (dotted(target.value) or "").rpartition(".")[2]) and from_request(child.value):
                    return child, target.attr
        return None

    @staticmethod
    def schema_privilege(value: ast.AST, schemas, index, facts, owner: str) -> str | None:
        """`body.model_dump()` / `body.dict()` / `body` where body's schema has a privilege field."""
        while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            value = value.func.value
        if not (isinstance(value, ast.Name) and value.id in schemas):
            return None
        located = project_class(index, facts, schemas[value.id])
        cls = next((n for n in index.tree(located[0]).body if isinstance(n, ast.ClassDef) and n.name == located[1]), None) if located else None
        for stmt in getattr(cls, "body", []):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and privileged(stmt.target.id, owner):
                return stmt.target.id
        return None


def const_str_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and node.args:  # text("...")
        return const_str_of(node.args[0])
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value for v in node.values if isinstance(v, ast.Constant))
    return None


@register
class UnconstrainedStringField(ProjectRule):
    code = "PR302"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "unconstrained-string-field"
    category = Category.VALIDATION
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "A client can send a megabyte of text in a name field; it is stored as-is, slows pages that "
        "show it and can fail a database column with a length limit with a 500."
    )
    fix_summary = "Adds max_length (and min_length where blank makes no sense) to the model's string fields."
    doc = """
## What it does
Finds Pydantic request models (used as the body of a POST/PUT/PATCH route) whose `str` fields
have no length limit: plain `str`, `Optional[str]`, or `Field()` without `max_length`.

## Why is this bad in production
Request bodies go into the database. Without a limit, one request can store megabytes in a
title, a `VARCHAR(255)` column rejects the insert with a 500, and abusive payloads cost memory
and storage. Email fields typed `str` also accept anything.

## Example
```python
class TaskCreate(BaseModel):
    title: str
    description: str | None = None
```

## Use instead
```python
class TaskCreate(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
```

## Fix safety
Review: longer values that used to be accepted are rejected with 422.
"""
    VALID = [
        "from fastapi import FastAPI\nfrom pydantic import BaseModel, Field\napp = FastAPI()\nclass TaskIn(BaseModel):\n    title: str = Field(min_length=1, max_length=200)\n    status: int = 0\n@app.post('/tasks')\ndef create(task: TaskIn):\n    return task\n",
        "from typing import Annotated, Literal\nfrom fastapi import FastAPI\nfrom pydantic import BaseModel, StringConstraints\napp = FastAPI()\nName = Annotated[str, StringConstraints(max_length=100)]\nclass WorkspaceIn(BaseModel):\n    name: Name\n    plan: Literal['free', 'pro']\n    note: Annotated[str, StringConstraints(max_length=500)] | None = None\n@app.post('/workspaces')\ndef create(body: WorkspaceIn):\n    return body\n",
        # A response model is not user input.
        "from fastapi import FastAPI\nfrom pydantic import BaseModel\napp = FastAPI()\nclass UserOut(BaseModel):\n    email: str\n@app.get('/me', response_model=UserOut)\ndef me():\n    return {}\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\nfrom pydantic import BaseModel\napp = FastAPI()\nclass TaskIn(BaseModel):\n    title: str\n    description: str | None = None\n@app.post('/tasks')\ndef create(task: TaskIn):\n    return task\n",
        {
            "app/schemas.py": "from pydantic import BaseModel, Field\nclass InviteIn(BaseModel):\n    email: str = Field(...)\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.schemas import InviteIn\napp = FastAPI()\n@app.post('/invites')\ndef invite(body: InviteIn):\n    return body\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        seen: set[tuple[str, str]] = set()
        for route in index.routes:
            if not route.is_mutating:
                continue
            facts = index.modules[route.relpath]
            for param in route.handler.params:
                if not param.annotation or index.param_dependency(param, facts):
                    continue
                name = strip_annotation(param.annotation)
                if not re.fullmatch(r"[\w.]+", name):
                    continue
                located = self.model_class(index, project_class(index, facts, name))
                if located is None or located[:2] in seen:
                    continue
                seen.add(located[:2])
                relpath, _, node = located
                if LOGIN_SCHEMA.search(node.name):
                    continue  # login input is compared with what is stored, never stored itself
                loose = self.loose_fields(node)
                if loose:
                    yield self.at(
                        relpath,
                        node,
                        f"{node.name}: string field{'s' if len(loose) > 1 else ''} {', '.join(loose)} "
                        f"{'have' if len(loose) > 1 else 'has'} no max_length; any size is accepted and stored",
                    )

    def model_class(self, index, located: tuple[str, str] | None, depth: int = 0):
        """(relpath, class name, ClassDef) of a Pydantic model defined in the project."""
        if located is None or depth > 3:
            return None
        target_path, class_name = located
        facts = index.modules[target_path]
        if class_name not in facts.classes and class_name in facts.imports:  # re-exported
            return self.model_class(index, index.module_of(facts.imports[class_name]), depth + 1)
        if not self.is_pydantic(index, facts, class_name, 0):
            return None
        for stmt in index.tree(target_path).body:
            if isinstance(stmt, ast.ClassDef) and stmt.name == class_name:
                return target_path, class_name, stmt
        return None

    def is_pydantic(self, index, facts, class_name: str, depth: int) -> bool:
        bases = facts.classes.get(class_name)
        if bases is None or depth > 4:
            return False
        for base in bases:
            if base in {"pydantic.BaseModel", "pydantic.main.BaseModel", "sqlmodel.SQLModel"}:
                return True
            if base in facts.classes and self.is_pydantic(index, facts, base, depth + 1):
                return True
            located = index.module_of(base)
            if located and located[0] in index.modules and self.is_pydantic(index, index.modules[located[0]], located[1], depth + 1):
                return True
        return False

    @staticmethod
    def loose_fields(node: ast.ClassDef) -> list[str]:
        if any(k.arg == "table" for k in node.keywords):
            return []  # a SQLModel table, not a request schema
        loose = []
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "model_config" for t in stmt.targets):
                if "max_length" in ast.unparse(stmt.value):
                    return []
            if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                continue
            annotation = ast.unparse(stmt.annotation)
            if strip_annotation(annotation) not in {"str", "typing.Optional[str]"} or re.search(r"max_length|StringConstraints|constr", annotation):
                continue
            if stmt.value is not None and "max_length" in ast.unparse(stmt.value):
                continue
            loose.append(stmt.target.id)
        return loose


@register
class UntypedRouteParameter(ProjectRule):
    code = "PR303"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "untyped-route-parameter"
    category = Category.VALIDATION
    severity = Severity.MEDIUM
    impact = (
        "A malformed id in the URL is not rejected up front: it reaches the database query and comes "
        "back as a 500 error or, worse, matches the wrong row."
    )
    fix_summary = "Adds the type (int, UUID...) to the parameter, or an <int:...> converter to the Flask URL rule."
    doc = """
## What it does
Finds FastAPI route parameters with no type annotation (FastAPI then passes any string) and
Flask URL variables without a converter (`<id>` instead of `<int:id>`) that the handler uses
as a number.

## Why is this bad in production
`/tasks/abc` reaches `int(id)` or the SQL query and fails with a 500 instead of a 404/422;
string ids compared with integer columns behave differently across databases.

## Example
```python
@router.get("/tasks/{task_id}")
def get_task(task_id, db: Session = Depends(get_db)): ...

@bp.route("/items/<id>")
def get_item(id):
    item = db.execute("SELECT * FROM items WHERE id = ?", (int(id),))
```

## Use instead
```python
@router.get("/tasks/{task_id}")
def get_task(task_id: int, db: Session = Depends(get_db)): ...

@bp.route("/items/<int:id>")
def get_item(id): ...
```

## Fix safety
Safe: only malformed URLs change behaviour (404/422 instead of a 500).
"""
    VALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/tasks/{task_id}')\ndef get_task(task_id: int):\n    return {}\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/items/<int:item_id>')\ndef item(item_id):\n    return {}\n",
        # A slug is text by design.
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/pages/<slug>')\ndef page(slug):\n    return {'slug': slug.lower()}\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/tasks/{task_id}')\ndef get_task(task_id):\n    return {}\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/items/<id>')\ndef item(id):\n    return {'id': int(id)}\n",
        "from flask import Blueprint\nbp = Blueprint('orders', __name__)\n@bp.route('/<order_id>/ship', methods=['POST'])\ndef ship(order_id):\n    return {}\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        for route, node in route_handlers(index):
            if route.framework == "fastapi":
                path_names = set(re.findall(r"{(\w+)", route.path))
                for param in route.handler.params:
                    if param.annotation or param.depends_on or param.kind != "normal" or param.name in {"self", "cls"}:
                        continue
                    if param.name in path_names:
                        yield self.at(route.relpath, node, f"path parameter `{param.name}` has no type: any string reaches the handler")
                    else:
                        yield self.at(
                            route.relpath, node, f"query parameter `{param.name}` has no type: any string reaches the handler", severity=Severity.LOW
                        )
                continue
            for name, converter in flask_path_params(route.path).items():
                if converter != "string":
                    continue
                if name == "id" or name.endswith(("_id", "pk")) or self.cast_to_number(node, name):
                    yield self.at(route.relpath, node, f"URL variable <{name}> has no converter but is used as a number (use <int:{name}>)")

    @staticmethod
    def cast_to_number(node: ast.AST, name: str) -> bool:
        return any(
            isinstance(c, ast.Call) and call_tail(c) in {"int", "float"} and c.args and isinstance(c.args[0], ast.Name) and c.args[0].id == name
            for c in walk_function(node)
        )


QUERY_WORDS = {"query", "execute", "scalars", "exec", "filter", "filter_by", "where", "order_by", "select", "objects", "join", "options", "fetchall"}
PAGE_PARAMS = {"limit", "offset", "page", "per_page", "page_size", "size", "cursor", "skip", "after", "before", "first", "top", "take"}
BOUNDING_CALLS = {"limit", "paginate", "slice", "first", "one", "one_or_none", "scalar", "scalar_one", "get", "count", "fetchmany", "top"}
WHOLE_EXPORTS = re.compile(r"export|download|\.csv|dump|backup", re.I)
BOUNDED_SQL = re.compile(r"\bLIMIT\b|\bFETCH\s+FIRST\b|\bGROUP\s+BY\b|\bCOUNT\s*\(|\bTOP\s+\d", re.I)


@register
class UnpaginatedListEndpoint(ProjectRule):
    code = "PR320"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "unpaginated-list-endpoint"
    category = Category.PAGINATION
    severity = Severity.MEDIUM
    impact = (
        "The list page works with ten rows and times out with ten thousand: every request loads the "
        "whole table into memory and sends it to the browser."
    )
    fix_summary = "Adds limit/offset query parameters (with a maximum) and applies them to the query."
    doc = """
## What it does
Finds GET routes that return every row: `.all()`, `fetchall()` or `scalars(...).all()` on a
query with no `.limit()` / `LIMIT`, or a whole relationship, with no limit/offset/page/cursor
parameter. Aggregates (`GROUP BY`, `COUNT`) and routes named as exports are left alone.

## Why is this bad in production
Tables grow. An endpoint that loads all rows gets slower every week, uses memory proportional
to the table, and eventually times out or takes a worker down; clients cannot page through
results either.

## Example
```python
@router.get("/tasks")
def list_tasks(db: Session = Depends(get_db)):
    return db.query(Task).all()
```

## Use instead
```python
@router.get("/tasks")
def list_tasks(limit: int = Query(50, ge=1, le=100), offset: int = Query(0, ge=0), db: Session = Depends(get_db)):
    return db.query(Task).order_by(Task.id).limit(limit).offset(offset).all()
```

## Fix safety
Review: clients that expected the full list now get the first page.
"""
    VALID = [
        "from fastapi import FastAPI, Query\napp = FastAPI()\n@app.get('/tasks')\ndef tasks(limit: int = Query(50, le=100), offset: int = 0, db=None):\n    return db.query(Task).limit(limit).offset(offset).all()\n",
        # A small, bounded list: the five most recent items.
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/recent')\ndef recent(db=None):\n    return db.query(Task).order_by(Task.id.desc()).limit(5).all()\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.get('/stats')\ndef stats():\n    rows = get_db().execute('SELECT status, COUNT(*) FROM tasks GROUP BY status').fetchall()\n    return dict(rows)\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.get('/items')\ndef items():\n    page = request.args.get('page', 1, type=int)\n    return get_db().execute('SELECT * FROM items LIMIT 50 OFFSET ?', ((page - 1) * 50,)).fetchall()\n",
        "from fastapi import FastAPI\napp = FastAPI()\n@app.post('/tasks/bulk')\ndef bulk(db=None):\n    return db.query(Task).all()\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/tasks')\ndef tasks(db=None):\n    return [t.title for t in db.query(Task).all()]\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/items')\ndef items():\n    rows = get_db().execute('SELECT * FROM items').fetchall()\n    return rows\n",
        "from fastapi import FastAPI\nfrom sqlalchemy import select\napp = FastAPI()\n@app.get('/orders')\nasync def orders(db=None):\n    return (await db.scalars(select(Order))).all()\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        relationships = {rel.name for _, model in index.models for rel in model.relationships}
        for route, node in route_handlers(index):
            if "GET" not in route.methods or route.is_mutating:
                continue
            if WHOLE_EXPORTS.search(route.path) or self.paginated(route, node):
                continue
            unbounded = self.unbounded_read(node, relationships)
            if unbounded is not None:
                at, what = unbounded
                yield self.at(route.relpath, at, f"{route.label()} returns {what} with no limit: the response grows with the table")

    @staticmethod
    def paginated(route, node: ast.AST) -> bool:
        if any(p.name in PAGE_PARAMS for p in route.handler.params):
            return True
        if any(d.rpartition(".")[2] == "paginate" for d in route.handler.decorators):
            return True
        return any(
            (isinstance(c, ast.Constant) and c.value in PAGE_PARAMS) or (isinstance(c, ast.Call) and call_tail(c) == "paginate")
            for c in walk_function(node)
        )

    @staticmethod
    def unbounded_read(node: ast.AST, relationships: set[str]) -> tuple[ast.AST, str] | None:
        if any(BOUNDED_SQL.search(text) for text in (c.value for c in walk_function(node) if isinstance(c, ast.Constant) and isinstance(c.value, str))):
            return None
        for child in sorted(walk_function(node), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
            if isinstance(child, ast.Call) and not child.args and call_tail(child) in {"all", "fetchall"}:
                chain = {call_tail(child)}
                current = child.func
                while isinstance(current, (ast.Attribute, ast.Call, ast.Await, ast.Subscript)):
                    if isinstance(current, ast.Attribute):
                        chain.add(current.attr)
                        current = current.value
                    elif isinstance(current, ast.Call):
                        current = current.func
                    else:
                        current = current.value
                if chain & QUERY_WORDS and not chain & BOUNDING_CALLS:
                    return child, f"`{ast.unparse(child)[:60]}`"
            if isinstance(child, ast.Return) and child.value is not None:
                source = child.value
                if isinstance(source, ast.ListComp):
                    source = source.generators[0].iter
                if isinstance(source, ast.Attribute) and source.attr in relationships and isinstance(source.value, ast.Name):
                    return child, f"the whole `{ast.unparse(source)}` relationship"
        return None

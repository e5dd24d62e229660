"""Step 3 rules beyond their own examples: taint tracking for injection, body validation,
pagination, idempotency and races, async error handling."""

from __future__ import annotations

import pytest

from auditor.models import Severity
from tests.helpers import scan_example


def findings(tmp_path, example, code):
    result = scan_example(tmp_path, example, select=[code])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == code]


FLASK = "from flask import Flask, abort, request, session\napp = Flask(__name__)\n"
FASTAPI = "from fastapi import FastAPI, Query\nfrom sqlalchemy import text\napp = FastAPI()\n"


# -- PR310: taint tracking --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        # through two local variables and a %-format
        "    q = request.args.get('q')\n    term = q.strip()\n    sql = \"SELECT * FROM t WHERE name = '%s'\" % term\n    return db.execute(sql).fetchall()\n",
        # string built piece by piece with +=
        "    sql = 'SELECT * FROM t WHERE 1=1'\n    if request.args.get('name'):\n        sql += \" AND name = '\" + request.args['name'] + \"'\"\n    return db.execute(sql).fetchall()\n",
        # a list of fragments joined into the WHERE clause
        "    parts = []\n    for key, value in request.get_json().items():\n        parts.append(f\"{key} = '{value}'\")\n    return db.execute('UPDATE t SET ' + ', '.join(parts)).rowcount\n",
        # .format on a template held in a variable
        "    name = request.form['name']\n    template = 'SELECT * FROM t WHERE name = {}'\n    return db.execute(template.format(name)).fetchall()\n",
    ],
)
def test_sql_built_from_flask_request_values(tmp_path, body):
    found = findings(tmp_path, FLASK + "@app.route('/t', methods=['GET', 'POST'])\ndef view():\n    db = get_db()\n" + body, "PR310")
    assert len(found) == 1 and found[0].severity == Severity.HIGH


def test_taint_flows_into_helpers_two_calls_deep(tmp_path):
    source = FLASK + (
        "def run(db, sql):\n    return db.execute(sql).fetchall()\n"
        "def search(db, term):\n    return run(db, f\"SELECT * FROM t WHERE name LIKE '%{term}%'\")\n"
        "@app.get('/search')\ndef view():\n    return search(get_db(), request.args['q'])\n"
    )
    found = findings(tmp_path, source, "PR310")
    assert [f.line for f in found] == [6], "reported where the SQL text is built, in the helper"


def test_taint_into_helper_of_another_module(tmp_path):
    project = {
        "app/__init__.py": "",
        "app/queries.py": "def by_email(db, email):\n    return db.execute(\"SELECT * FROM users WHERE email = '\" + email + \"'\").fetchone()\n",
        "app/views.py": FLASK + "from app.queries import by_email\n@app.post('/login')\ndef login():\n    return by_email(get_db(), request.form['email'])\n",
    }
    found = findings(tmp_path, project, "PR310")
    assert [(f.path, f.line) for f in found] == [("app/queries.py", 2)]


def test_a_dependency_behind_an_imported_annotated_alias_is_not_user_input(tmp_path):
    """`user: CurrentUser` is whatever get_user returns, not a query parameter: only `name` is input."""
    project = {
        "app/__init__.py": "",
        "app/deps.py": (
            "from typing import Annotated\nfrom fastapi import Depends\n"
            "def get_user():\n    return 'u'\nCurrentUser = Annotated[str, Depends(get_user)]\n"
        ),
        "app/main.py": FASTAPI + (
            "from app.deps import CurrentUser\n"
            "@app.get('/mine')\ndef mine(user: CurrentUser, db=None):\n"
            "    return db.execute(text(f\"SELECT * FROM t WHERE owner = '{user}'\"))\n"
            "@app.get('/find')\ndef find(name: str, db=None):\n"
            "    return db.execute(text(f\"SELECT * FROM t WHERE owner = '{name}'\"))\n"
        ),
    }
    assert [(f.path, f.line) for f in findings(tmp_path, project, "PR310")] == [("app/main.py", 10)]


def test_helper_called_with_constants_is_not_tainted(tmp_path):
    source = FLASK + (
        "def by_status(db, status):\n    return db.execute(f\"SELECT * FROM t WHERE status = '{status}'\").fetchall()\n"
        "@app.get('/open')\ndef view():\n    return by_status(get_db(), 'open')\n"
    )
    assert findings(tmp_path, source, "PR310") == []


def test_recursive_helpers_terminate(tmp_path):
    source = FLASK + (
        "def walk(db, name, depth):\n    if depth:\n        return walk(db, name, depth - 1)\n"
        "    return db.execute(f\"SELECT '{name}'\").fetchone()\n"
        "@app.get('/w')\ndef view():\n    return walk(get_db(), request.args['n'], 3)\n"
    )
    assert len(findings(tmp_path, source, "PR310")) == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # constant whitelist lookup, also with .get and a local whitelist
        ("    col = COLUMNS[request.args['sort']]\n    return db.execute(f'SELECT * FROM t ORDER BY {col}').fetchall()\n", 0),
        ("    col = COLUMNS.get(request.args['sort'], 'id')\n    return db.execute(f'SELECT * FROM t ORDER BY {col}').fetchall()\n", 0),
        ("    allowed = {'a': 'a_col'}\n    col = allowed[request.args['sort']]\n    return db.execute(f'SELECT * FROM t ORDER BY {col}').fetchall()\n", 0),
        # guarded by `in` a constant container
        ("    sort = request.args['sort']\n    if sort in ('id', 'name'):\n        return db.execute(f'SELECT * FROM t ORDER BY {sort}').fetchall()\n    return []\n", 0),
        ("    sort = request.args['sort']\n    if sort not in ALLOWED:\n        abort(400)\n    return db.execute(f'SELECT * FROM t ORDER BY {sort}').fetchall()\n", 0),
        # the guard does not protect the path where the check failed
        ("    sort = request.args['sort']\n    if sort not in ALLOWED:\n        print('odd sort')\n    return db.execute(f'SELECT * FROM t ORDER BY {sort}').fetchall()\n", 1),
        ("    n = request.args['n']\n    if not n.isdigit():\n        abort(400)\n    return db.execute(f'SELECT * FROM t LIMIT {n}').fetchall()\n", 0),
        # reassigned to a constant before use
        ("    sort = request.args['sort']\n    sort = 'id'\n    return db.execute(f'SELECT * FROM t ORDER BY {sort}').fetchall()\n", 0),
        # bound parameters
        ("    return db.execute('SELECT * FROM t WHERE name = ?', (request.args['q'],)).fetchall()\n", 0),
    ],
)
def test_sanitisers_and_guards(tmp_path, body, expected):
    source = FLASK + "COLUMNS = {'name': 'name', 'price': 'price'}\nALLOWED = frozenset({'id', 'name'})\n"
    source += "@app.get('/t')\ndef view():\n    db = get_db()\n" + body
    assert len(findings(tmp_path, source, "PR310")) == expected


def test_numbers_in_sql_are_low_severity(tmp_path):
    source = FLASK + "@app.get('/t/<id>')\ndef view(id):\n    return get_db().execute(f'SELECT * FROM t WHERE id = {int(id)}').fetchone()\n"
    (finding,) = findings(tmp_path, source, "PR310")
    assert finding.severity == Severity.LOW


@pytest.mark.parametrize(
    ("params", "severity"),
    [
        ("q: str", Severity.HIGH),
        ("q", Severity.HIGH),
        ("q: int", Severity.LOW),
        ("q: Optional[int] = None", Severity.LOW),
        ("q: str = Query('a', pattern='^[a-z]+$')", Severity.LOW),
        ("q: Literal['a', 'b'] = 'a'", None),
        ("q: str = Depends(current_tenant)", None),
    ],
)
def test_fastapi_parameter_taint_by_annotation(tmp_path, params, severity):
    source = "from typing import Literal, Optional\nfrom fastapi import Depends\n" + FASTAPI
    source += f"@app.get('/t')\ndef view({params}, db=None):\n    return db.execute(text(f\"SELECT * FROM t WHERE c = '{{q}}'\")).all()\n"
    found = findings(tmp_path, source, "PR310")
    assert [f.severity for f in found] == ([severity] if severity else [])


def test_session_values_are_low_severity(tmp_path):
    source = FLASK + "@app.get('/mine')\ndef mine():\n    return get_db().execute(f\"SELECT * FROM t WHERE owner = {session['user_id']}\").fetchall()\n"
    (finding,) = findings(tmp_path, source, "PR310")
    assert finding.severity == Severity.LOW and "session" in finding.message


def test_no_request_no_injection(tmp_path):
    """Non-web code building SQL from its own arguments has no request source."""
    source = "import sqlite3\ndef count(conn, table):\n    return conn.execute(f'SELECT COUNT(*) FROM {table}').fetchone()\n"
    assert findings(tmp_path, source, "PR310") == []


def test_orm_queries_are_not_sql_sinks(tmp_path):
    source = FASTAPI + "@app.get('/u')\ndef users(email: str, db=None):\n    return db.query(User).filter(User.email == email).all()\n"
    assert findings(tmp_path, source, "PR310") == []


def test_template_through_a_variable(tmp_path):
    source = "from flask import Flask, render_template_string, request\napp = Flask(__name__)\n"
    source += "@app.get('/p')\ndef page():\n    title = request.args.get('title', '')\n    page = '<h1>' + title + '</h1>'\n    return render_template_string(page)\n"
    assert len(findings(tmp_path, source, "PR311")) == 1


# -- PR301 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("annotation", ["dict", "Dict[str, Any]", "Optional[dict]", "Any", "list[dict]"])
def test_loose_fastapi_bodies(tmp_path, annotation):
    source = "from typing import Any, Dict, Optional\n" + FASTAPI + f"@app.post('/x')\ndef create(payload: {annotation}):\n    return payload\n"
    assert len(findings(tmp_path, source, "PR301")) == 1


def test_partial_hand_validation_is_a_low_note(tmp_path):
    source = FLASK + "@app.post('/items')\ndef create():\n    data = request.get_json()\n    if len(data['name']) > 100:\n        abort(400)\n    return {}\n"
    (finding,) = findings(tmp_path, source, "PR301")
    assert finding.severity == Severity.LOW and "ranges only" in finding.message


def test_comparing_with_stored_values_is_not_validation(tmp_path):
    """`if item['qty'] < qty` checks stock, not the input's range."""
    source = FLASK + (
        "@app.post('/orders')\ndef order():\n    data = request.get_json()\n    qty = int(data['qty'])\n"
        "    item = load(data['item_id'])\n    if item['qty'] < qty:\n        return {}, 400\n    return {}, 201\n"
    )
    (finding,) = findings(tmp_path, source, "PR301")
    assert finding.severity == Severity.MEDIUM


def test_validating_decorator_and_conversion_in_try(tmp_path):
    source = FLASK + (
        "@app.post('/a')\n@validate()\ndef a():\n    return request.get_json()\n"
        "@app.get('/b')\ndef b():\n    try:\n        page = int(request.args['page'])\n    except ValueError:\n        abort(400)\n    return {'page': page}\n"
    )
    assert findings(tmp_path, source, "PR301") == []


# -- PR302 / PR303 ----------------------------------------------------------------------------------


def test_models_found_through_re_exports_and_base_classes(tmp_path):
    project = {
        "app/__init__.py": "",
        "app/base.py": "from pydantic import BaseModel\nclass Schema(BaseModel):\n    pass\n",
        "app/schemas/__init__.py": "from app.schemas.tasks import TaskIn\n",
        "app/schemas/tasks.py": "from app.base import Schema\nclass TaskIn(Schema):\n    title: str\n    notes: str | None = None\n    done: bool = False\n",
        "app/main.py": "from fastapi import FastAPI\nfrom app.schemas import TaskIn\napp = FastAPI()\n@app.post('/tasks')\ndef create(body: TaskIn):\n    return body\n@app.put('/tasks/{i}')\ndef update(i: int, body: TaskIn):\n    return body\n",
    }
    (finding,) = findings(tmp_path, project, "PR302")
    assert finding.path == "app/schemas/tasks.py" and "title, notes" in finding.message


def test_sqlmodel_tables_and_configured_limits_are_not_flagged(tmp_path):
    source = (
        "from fastapi import FastAPI\nfrom pydantic import BaseModel, ConfigDict\nfrom sqlmodel import SQLModel\napp = FastAPI()\n"
        "class Note(SQLModel, table=True):\n    text: str\n"
        "class NoteIn(BaseModel):\n    model_config = ConfigDict(str_max_length=500)\n    text: str\n"
        "@app.post('/a')\ndef a(n: Note):\n    return n\n@app.post('/b')\ndef b(n: NoteIn):\n    return n\n"
    )
    assert findings(tmp_path, source, "PR302") == []


def test_untyped_query_parameter_is_low(tmp_path):
    source = FASTAPI + "@app.get('/items/{item_id}')\ndef item(item_id: int, verbose, db=Depends(get_db)):\n    return {}\n"
    source = source.replace("from fastapi import FastAPI, Query", "from fastapi import Depends, FastAPI, Query")
    (finding,) = findings(tmp_path, source, "PR303")
    assert finding.severity == Severity.LOW and "verbose" in finding.message


# -- PR320 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("@app.get('/tasks')\ndef tasks(db=None):\n    return db.query(Task).filter(Task.done == False).all()\n", 1),
        ("@app.get('/tasks')\ndef tasks(page: int = 1, db=None):\n    return db.query(Task).offset((page - 1) * 20).all()\n", 0),
        ("@app.get('/tasks')\ndef tasks(db=None):\n    return db.query(Task).limit(20).all()\n", 0),
        ("@app.get('/tasks/export')\ndef export(db=None):\n    return db.query(Task).all()\n", 0),
        ("@app.get('/tasks/{i}')\ndef task(i: int, db=None):\n    return db.query(Task).get(i)\n", 0),
        ("@app.get('/projects/{i}/tasks')\ndef tasks(i: int, db=None):\n    project = db.get(Project, i)\n    return [t.title for t in project.tasks]\n", 1),
    ],
)
def test_pagination_cases(tmp_path, route, expected):
    project = {
        "app/models.py": "from sqlalchemy.orm import relationship\nfrom app.db import Base\nclass Project(Base):\n    __tablename__ = 'projects'\n    tasks = relationship('Task')\n",
        "app/main.py": FASTAPI + route,
    }
    assert len(findings(tmp_path, project, "PR320")) == expected


# -- PR330 / PR331 / PR332 --------------------------------------------------------------------------


def test_unique_constraint_in_sql_schema_protects_inserts(tmp_path):
    route = "@app.post('/invites')\ndef invite():\n    get_db().execute('INSERT INTO invites (email) VALUES (?)', ('a',))\n    return {}, 201\n"
    protected = {"schema.sql": "CREATE TABLE invites (id INTEGER PRIMARY KEY, email TEXT UNIQUE);\n", "app.py": FLASK + route}
    assert findings(tmp_path / "a", protected, "PR330") == []
    unprotected = {"schema.sql": "CREATE TABLE invites (id INTEGER PRIMARY KEY, email TEXT);\n", "app.py": FLASK + route}
    assert len(findings(tmp_path / "b", unprotected, "PR330")) == 1


def test_payment_call_without_a_record_needs_idempotency(tmp_path):
    source = FASTAPI + "@app.post('/checkout')\ndef checkout(db=None):\n    return stripe_client.charge(amount=100)\n"
    assert len(findings(tmp_path / "a", source, "PR330")) == 1
    keyed = source.replace("def checkout(db=None)", "def checkout(idempotency_key: str = Header(...), db=None)")
    assert findings(tmp_path / "b", keyed, "PR330") == []


def test_random_key_through_a_variable_but_not_a_stored_one(tmp_path):
    source = (
        "import uuid\nfrom app.models import Order\n"
        "def pay(client, order):\n    key = str(uuid.uuid4())\n    return client.charge(order.total, idempotency_key=key)\n"
        "def create(db):\n    key = uuid.uuid4().hex\n    db.add(Order(idempotency_key=key))\n"
    )
    found = findings(tmp_path, source, "PR331")
    assert [f.line for f in found] == [5]


def test_check_then_insert_counts_and_presence(tmp_path):
    source = FASTAPI + (
        "from fastapi import HTTPException\nMAX = 5\n"
        "@app.post('/invites')\ndef invite(db=None):\n    pending = db.query(Invite).filter(Invite.accepted == False).count()\n"
        "    if pending >= MAX:\n        raise HTTPException(400)\n    db.add(Invite())\n    db.commit()\n"
        "@app.post('/users/{i}/rename')\ndef rename(i: int, db=None):\n    user = db.query(User).filter(User.id == i).first()\n"
        "    if user is None:\n        raise HTTPException(404)\n    user.name = 'x'\n    db.commit()\n"
    )
    found = findings(tmp_path, source, "PR332")
    assert len(found) == 1 and "pending" in found[0].message


# -- PR340-PR344 ------------------------------------------------------------------------------------


def test_swallowed_exceptions_are_reported_by_exactly_one_rule(tmp_path):
    source = (
        "import asyncio\nfrom fastapi import FastAPI\napp = FastAPI()\n"
        "def helper():\n    try:\n        work()\n    except Exception:\n        pass\n"
        "@app.post('/x')\ndef handler():\n    try:\n        work()\n    except Exception:\n        return None\n"
        "async def job():\n    try:\n        await work()\n    except BaseException:\n        pass\n"
        "async def start():\n    asyncio.create_task(job())\n"
    )
    result = scan_example(tmp_path, source, select=["PR342", "PR510"])
    by_line = {f.line: f.rule for f in result.findings}
    assert by_line == {7: "PR510", 13: "PR342", 18: "PR342"}


def test_blocking_calls_one_finding_per_async_function(tmp_path):
    source = (
        "import time\nfrom fastapi import FastAPI\nfrom sqlalchemy.orm import Session\napp = FastAPI()\n"
        "async def a(db: Session):\n    db.query(X).all()\n    db.commit()\n    time.sleep(1)\n"
        "async def b(engine):\n    with Session(engine) as s:\n        s.execute(q)\n"
        "async def c():\n    def in_thread():\n        time.sleep(1)\n    return await run_in_threadpool(in_thread)\n"
    )
    found = findings(tmp_path, source, "PR343")
    assert [f.line for f in found] == [6, 11]
    assert "db.query()" in found[0].message and "time.sleep()" in found[0].message


def test_background_loop_inside_a_try_is_guarded(tmp_path):
    source = (
        "import asyncio, logging\nfrom fastapi import FastAPI\n"
        "async def loop():\n    try:\n        while True:\n            await asyncio.sleep(5)\n            work()\n"
        "    except Exception:\n        logging.exception('loop ended')\n"
    )
    assert findings(tmp_path, source, "PR341") == []


@pytest.mark.parametrize(
    "setup",
    [
        "@bp.app_errorhandler(Exception)\ndef oops(e):\n    return {}, 500\n",
        "bp.register_error_handler(500, lambda e: ({}, 500))\n",
        "import sentry_sdk\nsentry_sdk.init(dsn='')\n",
    ],
)
def test_global_exception_handler_forms_flask(tmp_path, setup):
    source = "from flask import Blueprint, Flask\napp = Flask(__name__)\nbp = Blueprint('b', __name__)\n" + setup
    source += "@bp.route('/x')\ndef x():\n    return {}\n"
    assert findings(tmp_path, source, "PR344") == []


def test_global_exception_handler_in_fastapi_constructor(tmp_path):
    source = "from fastapi import FastAPI\nasync def oops(request, exc):\n    return None\napp = FastAPI(exception_handlers={Exception: oops})\n"
    assert findings(tmp_path, source, "PR344") == []


def test_enum_and_typed_query_values_are_whitelists_or_numbers(tmp_path):
    project = {
        "app/__init__.py": "",
        "app/enums.py": "from enum import Enum\nclass Sort(str, Enum):\n    name = 'name'\n    price = 'price'\n",
        "app/main.py": FASTAPI + "from app.enums import Sort\n@app.get('/t')\ndef view(sort: Sort = Sort.name, db=None):\n    return db.execute(text(f'SELECT * FROM t ORDER BY {sort.value}')).all()\n",
        "app/shop.py": FLASK + "@app.get('/p')\ndef page():\n    n = request.args.get('n', 10, type=int)\n    return get_db().execute(f'SELECT * FROM t LIMIT {n}').fetchall()\n",
    }
    found = findings(tmp_path, project, "PR310")
    assert [(f.path, f.severity) for f in found] == [("app/shop.py", Severity.LOW)]


def test_all_on_something_other_than_a_query(tmp_path):
    source = FASTAPI + "@app.get('/ok')\ndef ok(flags=None):\n    return {'ok': flags.all()}\n"
    assert findings(tmp_path, source, "PR320") == []


def test_check_functions_answering_false_do_not_swallow(tmp_path):
    source = "from fastapi import FastAPI\ndef token_ok(t):\n    try:\n        decode(t)\n        return True\n    except Exception:\n        return False\n"
    assert findings(tmp_path, source, "PR510") == []


def test_streaming_generators_are_not_background_loops(tmp_path):
    source = (
        "import asyncio\nfrom fastapi import FastAPI\napp = FastAPI()\n"
        "async def events():\n    while True:\n        yield await next_event()\n        await asyncio.sleep(1)\n"
    )
    assert findings(tmp_path, source, "PR341") == []


def test_deeply_nested_sql_building_does_not_break_the_rule(tmp_path):
    """A huge concatenation in one handler is skipped; the other handlers are still analysed."""
    huge = " + ".join(["q"] * 3000)
    source = FLASK + (
        f"@app.get('/a')\ndef a():\n    q = request.args['q']\n    return get_db().execute('SELECT ' + {huge}).fetchall()\n"
        "@app.get('/b')\ndef b():\n    return get_db().execute('SELECT ' + request.args['q']).fetchall()\n"
    )
    result = scan_example(tmp_path, source, select=["PR310"])
    assert not [d for d in result.diagnostics if d.kind == "rule-error"]
    assert [f.line for f in result.findings] == [9]

"""PR301 form fields in Flask and PR304 hand parsing of request values that answers 500."""

from __future__ import annotations

import pytest

from fixers.pipeline.plan import plan_fixes
from tests.helpers import scan_example, scan_project, write_project

FLASK = "from flask import Flask, abort, redirect, request\napp = Flask(__name__)\n"
FASTAPI = "from datetime import date, datetime\nfrom decimal import Decimal\nfrom fastapi import FastAPI, Request\napp = FastAPI()\n"


def findings(tmp_path, example, code):
    result = scan_example(tmp_path, example, select=[code])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == code]


# -- PR301: request.form ------------------------------------------------------------------------------

UNCHECKED_FORM = FLASK + (
    "@app.post('/profile')\ndef profile():\n"
    "    bio = request.form['bio']\n    website = request.form.get('website')\n"
    "    get_db().execute('UPDATE users SET bio = ?, website = ?', (bio, website))\n"
    "    return redirect('/me')\n"
)


def test_form_fields_stored_without_any_check_are_reported(tmp_path):
    (finding,) = findings(tmp_path, UNCHECKED_FORM, "PR301")
    assert finding.line == 5 and "request.form" in finding.message


def test_form_fields_into_a_model_constructor_are_reported(tmp_path):
    source = FLASK + (
        "@app.post('/notes')\ndef add_note():\n"
        "    note = Note(title=request.form['title'], body=request.form['body'])\n"
        "    db.session.add(note)\n    db.session.commit()\n    return redirect('/notes')\n"
    )
    assert len(findings(tmp_path, source, "PR301")) == 1


CHECKED_FORMS = {
    "presence-check-and-flash": FLASK
    + "@app.post('/register')\ndef register():\n    username = request.form['username']\n"
    "    if not username:\n        abort(400)\n    get_db().execute('INSERT INTO users (name) VALUES (?)', (username,))\n    return redirect('/')\n",
    "length-check": FLASK
    + "@app.post('/bio')\ndef bio():\n    text = request.form.get('bio', '')\n"
    "    assert len(text) <= 500\n    get_db().execute('UPDATE users SET bio = ?', (text,))\n    return redirect('/')\n",
    "wtforms": FLASK
    + "@app.post('/login')\ndef login():\n    form = LoginForm(request.form)\n"
    "    if form.validate_on_submit():\n        get_db().execute('INSERT INTO logins (email) VALUES (?)', (form.email.data,))\n    return redirect('/')\n",
    "read-but-not-stored": FLASK + "@app.post('/search')\ndef search():\n    q = request.form.get('q', '')\n    return {'q': q}\n",
}


@pytest.mark.parametrize("source", CHECKED_FORMS.values(), ids=CHECKED_FORMS.keys())
def test_checked_or_unstored_form_fields_are_fine(tmp_path, source):
    assert findings(tmp_path, source, "PR301") == []


def test_a_model_from_json_constructor_counts_as_validation(tmp_path):
    source = FLASK + "@app.post('/posts')\ndef new_post():\n    post = Post.from_json(request.json)\n    db.session.add(post)\n    return {}, 201\n"
    assert findings(tmp_path, source, "PR301") == []


def test_the_body_model_fix_leaves_form_findings_by_hand(tmp_path):
    root = write_project(tmp_path, UNCHECKED_FORM)
    result = scan_project(root, select=["PR301"])
    plan = plan_fixes(result, result.findings, include_review=True)
    assert not plan.fixes and [reason.split(":")[0] for _, reason in plan.skipped] == ["by hand"]


# -- PR304: parsing that raises ----------------------------------------------------------------------

RAISES = {
    "fastapi-strptime-of-a-str": FASTAPI
    + "@app.get('/report')\ndef report(start: str):\n    day = datetime.strptime(start, '%Y-%m-%d')\n    return {'day': day.isoformat()}\n",
    "fastapi-decimal-through-a-variable": FASTAPI
    + "@app.get('/convert')\ndef convert(amount: str):\n    raw = amount.strip()\n    return {'value': str(Decimal(raw))}\n",
    "fastapi-query-params": FASTAPI
    + "@app.get('/since')\nasync def since(request: Request):\n    return {'since': date.fromisoformat(request.query_params['since']).isoformat()}\n",
    "flask-decimal-of-a-form-field": FLASK
    + "from decimal import Decimal\n@app.post('/refund')\ndef refund():\n    return {'amount': str(Decimal(request.form['amount']))}\n",
    "flask-int-of-a-header": FLASK + "@app.get('/items')\ndef items():\n    return {'limit': int(request.headers.get('X-Limit', '50'))}\n",
    "flask-json-loads-of-a-query-value": FLASK
    + "import json\n@app.get('/filter')\ndef filt():\n    return json.loads(request.args.get('f', '{}'))\n",
    "flask-uuid": FLASK + "import uuid\n@app.get('/t')\ndef t():\n    return {'id': str(uuid.UUID(request.args['id']))}\n",
}


@pytest.mark.parametrize("source", RAISES.values(), ids=RAISES.keys())
def test_hand_parsing_that_raises_is_reported(tmp_path, source):
    (finding,) = findings(tmp_path, source, "PR304")
    assert "500" in finding.message


SAFE = {
    "typed-parameter": FASTAPI + "@app.get('/report')\ndef report(start: date):\n    return {'day': start.isoformat()}\n",
    "inside-try": FASTAPI
    + "from fastapi import HTTPException\n@app.get('/report')\ndef report(start: str):\n    try:\n        day = datetime.strptime(start, '%Y-%m-%d')\n"
    "    except ValueError:\n        raise HTTPException(400, 'bad date')\n    return {'day': day.isoformat()}\n",
    "checked-with-isdigit": FLASK
    + "@app.get('/items')\ndef items():\n    raw = request.headers.get('X-Limit', '50')\n    if not raw.isdigit():\n        abort(400)\n    return {'limit': int(raw)}\n",
    "int-of-a-query-value-is-pr301s": FLASK + "@app.get('/items')\ndef items():\n    return {'page': int(request.args['page'])}\n",
    "untyped-path-segment-is-pr303s": FLASK + "@app.delete('/items/<id>')\ndef remove(id):\n    return {'id': int(id)}\n",
    "constant-not-input": FASTAPI + "@app.get('/epoch')\ndef epoch():\n    return {'d': datetime.strptime('2020-01-01', '%Y-%m-%d').isoformat()}\n",
    "json-loads-of-a-setting": FLASK + "import json, os\n@app.get('/flags')\ndef flags():\n    return json.loads(os.environ.get('FLAGS', '{}'))\n",
}


@pytest.mark.parametrize("source", SAFE.values(), ids=SAFE.keys())
def test_typed_guarded_or_non_input_parsing_is_fine(tmp_path, source):
    assert findings(tmp_path, source, "PR304") == []


# -- PR305: explicit nulls copied onto NOT NULL columns ------------------------------------------------

MODELS = """
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    note = Column(String)
"""
SCHEMAS = "from pydantic import BaseModel\nclass TaskUpdate(BaseModel):\n    title: str | None = None\n    note: str | None = None\nclass TaskRename(BaseModel):\n    title: str\n"
ROUTES = "from fastapi import APIRouter\nfrom app.models import Task\nfrom app.schemas import TaskRename, TaskUpdate\nrouter = APIRouter()\n"


def patch_project(handler: str) -> dict[str, str]:
    return {"app/__init__.py": "", "app/models.py": MODELS, "app/schemas.py": SCHEMAS, "app/routes.py": ROUTES + handler}


NULL_REACHES = {
    "model-dump-exclude-unset": "@router.patch('/tasks/{task_id}')\ndef edit(task_id: int, body: TaskUpdate, db=None):\n"
    "    task = db.get(Task, task_id)\n    data = body.model_dump(exclude_unset=True)\n"
    "    for key, value in data.items():\n        setattr(task, key, value)\n    db.commit()\n    return task\n",
    "dict-body": "@router.put('/tasks/{task_id}')\ndef edit(task_id: int, payload: dict, db=None):\n"
    "    task = db.query(Task).filter(Task.id == task_id).first()\n"
    "    for key, value in payload.items():\n        setattr(task, key, value)\n    return task\n",
    "direct-optional-copy": "@router.patch('/tasks/{task_id}')\ndef edit(task_id: int, body: TaskUpdate, db=None):\n"
    "    task = db.get(Task, task_id)\n    task.title = body.title\n    return task\n",
}


@pytest.mark.parametrize("handler", NULL_REACHES.values(), ids=NULL_REACHES.keys())
def test_explicit_null_reaching_a_not_null_column_is_reported(tmp_path, handler):
    (finding,) = findings(tmp_path, patch_project(handler), "PR305")
    assert "Task.title" in finding.message and "NOT NULL" in finding.message


def test_flask_get_with_the_old_value_as_default_is_reported(tmp_path):
    project = {
        "app/__init__.py": "",
        "app/models.py": MODELS,
        "app/views.py": "from flask import Blueprint, request\nfrom app.models import Task\nbp = Blueprint('tasks', __name__)\n"
        "@bp.route('/tasks/<int:task_id>', methods=['PATCH'])\ndef edit(task_id):\n    data = request.get_json()\n"
        "    task = Task.query.get_or_404(task_id)\n    task.title = data.get('title', task.title)\n    return {}\n",
    }
    (finding,) = findings(tmp_path, project, "PR305")
    assert finding.path == "app/views.py" and finding.line == 8


NULL_STOPPED = {
    "exclude-none": "@router.patch('/tasks/{task_id}')\ndef edit(task_id: int, body: TaskUpdate, db=None):\n"
    "    task = db.get(Task, task_id)\n    for key, value in body.model_dump(exclude_unset=True, exclude_none=True).items():\n"
    "        setattr(task, key, value)\n    return task\n",
    "required-field-in-schema": "@router.put('/tasks/{task_id}')\ndef rename(task_id: int, body: TaskRename, db=None):\n"
    "    task = db.get(Task, task_id)\n    for key, value in body.model_dump(exclude_unset=True).items():\n"
    "        setattr(task, key, value)\n    return task\n",
    "is-not-none-check": "@router.patch('/tasks/{task_id}')\ndef edit(task_id: int, body: TaskUpdate, db=None):\n"
    "    task = db.get(Task, task_id)\n    if body.title is not None:\n        task.title = body.title\n    return task\n",
    "only-nullable-column": "@router.patch('/tasks/{task_id}')\ndef edit(task_id: int, body: TaskUpdate, db=None):\n"
    "    task = db.get(Task, task_id)\n    task.note = body.note\n    return task\n",
    "a-post-creates": "@router.post('/tasks')\ndef create(payload: dict, db=None):\n    task = Task()\n"
    "    for key, value in payload.items():\n        setattr(task, key, value)\n    return task\n",
}


@pytest.mark.parametrize("handler", NULL_STOPPED.values(), ids=NULL_STOPPED.keys())
def test_null_stopped_or_harmless_is_fine(tmp_path, handler):
    assert findings(tmp_path, patch_project(handler), "PR305") == []


# -- PR306: privilege fields taken from the request ----------------------------------------------------

SIGNUP_SCHEMA = "from pydantic import BaseModel\nclass SignupIn(BaseModel):\n    email: str\n    password: str\n    role: str = 'member'\nclass OrderIn(BaseModel):\n    plan: str\n"
FASTAPI_ROUTES = "from fastapi import FastAPI\nfrom app.schemas import OrderIn, SignupIn\napp = FastAPI()\n"


def privilege_project(handler: str) -> dict[str, str]:
    return {"app/__init__.py": "", "app/schemas.py": SIGNUP_SCHEMA, "app/main.py": FASTAPI_ROUTES + handler}


SELF_PROMOTION = {
    "schema-with-role-unpacked": privilege_project(
        "@app.post('/signup')\ndef signup(body: SignupIn, db=None):\n    user = User(**body.model_dump())\n    db.add(user)\n    return {}\n"
    ),
    "flask-admin-through-a-branch": FLASK
    + "@app.post('/register')\ndef register():\n    data = request.get_json()\n    admin = False\n    if data.get('admin'):\n        admin = True\n"
    "    db.session.add(User(username=data['username'], admin=admin))\n    return {}\n",
    "flask-form-attribute": FLASK
    + "@app.post('/profile')\ndef profile():\n    user = User.query.get(1)\n    user.is_admin = request.form.get('is_admin') == 'on'\n    return redirect('/')\n",
    "raw-sql-insert-with-role": FLASK
    + "@app.post('/signup')\ndef signup():\n    data = request.get_json()\n"
    "    get_db().execute('INSERT INTO users (email, role) VALUES (?, ?)', (data['email'], data['role']))\n    return {}\n",
    "balance-on-a-user": FLASK
    + "@app.post('/me')\ndef me():\n    data = request.get_json()\n    current_user.balance = data['balance']\n    return {}\n",
}


@pytest.mark.parametrize("example", SELF_PROMOTION.values(), ids=SELF_PROMOTION.keys())
def test_privilege_fields_from_the_request_are_reported(tmp_path, example):
    (finding,) = findings(tmp_path, example, "PR306")
    assert "from the request" in finding.message


NOT_PROMOTION = {
    "plan-of-an-order": privilege_project(
        "@app.post('/orders')\ndef order(body: OrderIn, db=None):\n    db.add(Order(plan=body.plan, price=10))\n    return {}\n"
    ),
    "fixed-value": FLASK
    + "@app.post('/signup')\ndef signup():\n    data = request.get_json()\n    db.session.add(User(email=data['email'], role='member', is_admin=False))\n    return {}\n",
    "role-checked-route": FLASK
    + "@app.post('/users/<int:uid>/role')\ndef set_role(uid):\n    if not current_user.is_admin:\n        abort(403)\n"
    "    user = User.query.get(uid)\n    user.role = request.get_json()['role']\n    return {}\n",
    "read-only-route": FLASK + "@app.get('/users')\ndef users():\n    return {'role': request.args.get('role')}\n",
}


@pytest.mark.parametrize("example", NOT_PROMOTION.values(), ids=NOT_PROMOTION.keys())
def test_fixed_values_products_and_admin_routes_are_fine(tmp_path, example):
    assert findings(tmp_path, example, "PR306") == []


def test_pr302_a_login_schema_is_compared_not_stored(tmp_path):
    source = (
        "from fastapi import FastAPI\nfrom pydantic import BaseModel\napp = FastAPI()\n"
        "class UserInLogin(BaseModel):\n    email: str\n    password: str\n"
        "class UserInCreate(BaseModel):\n    username: str\n"
        "@app.post('/login')\ndef login(body: UserInLogin):\n    return {}\n"
        "@app.post('/users')\ndef create(body: UserInCreate):\n    return {}\n"
    )
    assert [f.message.split(":")[0] for f in findings(tmp_path, source, "PR302")] == ["UserInCreate"]

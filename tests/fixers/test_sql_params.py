"""Bound parameters instead of SQL built from strings."""

from __future__ import annotations

import pytest

from fixers import plan_fixes
from fixers.sql_params import bind, flatten
from fixers.pipeline.workspace import Skip
import libcst as cst
from tests.fixers.roundtrip import fix_project, read, run_python
from tests.helpers import scan_project, write_project

FLASK = """
import sqlite3

from flask import Flask, request

app = Flask(__name__)
app.config["DATABASE"] = ":memory:"


def get_db():
    conn = sqlite3.connect(app.config["DATABASE"])
    conn.executescript("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users (email) VALUES ('a@x.io');")
    return conn


@app.route("/login", methods=["POST"])
def login():
    email = request.form.get("email")
    user = get_db().execute("SELECT * FROM users WHERE email = '%s'" % email).fetchone()
    return {"found": user is not None}


@app.route("/users/<id>")
def get_user(id):
    user = get_db().execute("SELECT email FROM users WHERE id = " + id).fetchone()
    return {"email": user[0] if user else None}


@app.route("/search")
def search():
    q = request.args.get("q", "")
    rows = get_db().execute(f"SELECT email FROM users WHERE email LIKE '%{q}%'").fetchall()
    return {"emails": [r[0] for r in rows]}
"""


def test_flask_statements_get_placeholders(tmp_path):
    root, _, _ = fix_project(tmp_path, FLASK, {"PR310"})
    source = read(root, "app.py")
    assert 'get_db().execute("SELECT * FROM users WHERE email = ?", (email,)).fetchone()' in source
    assert 'get_db().execute("SELECT email FROM users WHERE id = ?", (id,)).fetchone()' in source
    assert 'get_db().execute("SELECT email FROM users WHERE email LIKE ?", (f"%{q}%",)).fetchall()' in source
    run_python(
        root,
        """
from app import app
c = app.test_client()
assert c.post("/login", data={"email": "a@x.io"}).get_json() == {"found": True}
assert c.post("/login", data={"email": "x' OR '1'='1"}).get_json() == {"found": False}
assert c.get("/search?q=x.i").get_json() == {"emails": ["a@x.io"]}
assert c.get("/search?q=' OR 1=1 --").get_json() == {"emails": []}
assert c.get("/users/1").get_json() == {"email": "a@x.io"}
""",
    )


def test_fastapi_text_gets_named_parameters(tmp_path):
    files = {
        "main.py": """
from fastapi import Depends, FastAPI
from sqlalchemy import text

app = FastAPI()


@app.get("/tasks/search")
def search(q: str, status: str = "todo", db=None):
    sql = text(f"SELECT id FROM tasks WHERE title LIKE '%{q}%' AND status = '{status}'")
    return [r[0] for r in db.execute(sql).fetchall()]
""",
    }
    root, _, _ = fix_project(tmp_path, files, {"PR310"})
    source = read(root, "main.py")
    assert 'sql = text("SELECT id FROM tasks WHERE title LIKE :q AND status = :status")' in source
    assert 'db.execute(sql, {"q": f"%{q}%", "status": status}).fetchall()' in source


def test_names_and_order_by_cannot_be_parameters(tmp_path):
    source = 'from flask import Flask, request\napp = Flask(__name__)\n@app.route("/items")\ndef items():\n    sort = request.args.get("sort", "id")\n    return get_db().execute("SELECT * FROM items ORDER BY %s" % sort).fetchall()\n'
    root = write_project(tmp_path, source)
    found = [f for f in scan_project(root).findings if f.rule == "PR310"]
    plan = plan_fixes(scan_project(root), found)
    assert plan.is_empty and "list of allowed values" in plan.skipped[0][1]


@pytest.mark.parametrize(
    "code, sql, values",
    [
        ('"a = \'%s\' AND b = %d" % (x, y)', "a = ? AND b = ?", ["x", "y"]),
        ("\"WHERE n IN (\" + ids + \")\"", "WHERE n IN (?)", ["ids"]),
        ("f\"WHERE name = '{user.name}' AND 100%% = 100%%\"", "WHERE name = ? AND 100%% = 100%%", ["user.name"]),
    ],
)
def test_bind(code, sql, values):
    bound, found = bind(flatten(cst.parse_expression(code)), "qmark")
    assert bound == sql and [v for _, v in found] == values


def test_bind_refuses_a_table_name():
    with pytest.raises(Skip):
        bind(flatten(cst.parse_expression('f"SELECT * FROM {table}"')), "qmark")

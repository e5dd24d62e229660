"""Idempotency codemods: an Idempotency-Key on write routes, a stable provider key, and the
database deciding check-then-insert races."""

from __future__ import annotations

from fixers import plan_fixes
from tests.fixers.roundtrip import fix_project, read, run_python
from tests.helpers import scan_project, write_project

FASTAPI = {
    "app/__init__.py": "",
    "app/db.py": """
from sqlalchemy import Column, ForeignKey, Integer, String, create_engine
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import StaticPool

engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
SessionLocal = sessionmaker(bind=engine)
Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    plan = Column(String(20))


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
""",
    "app/payments.py": """
calls = []


def charge(amount, idempotency_key):
    calls.append(idempotency_key)
    return {"id": f"ch_{len(calls)}"}
""",
    "app/main.py": """
import uuid

from fastapi import Depends, FastAPI, HTTPException

from app import payments
from app.db import Order, User, get_db

app = FastAPI()


@app.post("/orders")
def create_order(plan: str, db=Depends(get_db)):
    order = Order(plan=plan)
    db.add(order)
    db.commit()
    payments.charge(amount=10, idempotency_key=str(uuid.uuid4()))
    return {"id": order.id}


@app.post("/signup")
def signup(email: str, db=Depends(get_db)):
    existing = db.query(User).filter(User.email == email).first()
    if existing:
        raise HTTPException(status_code=400, detail="Email already registered")
    db.add(User(email=email))
    db.commit()
    return {"ok": True}
""",
}


def test_fastapi_idempotent_order_and_signup(tmp_path):
    root, _, _ = fix_project(tmp_path, FASTAPI, {"PR330", "PR331", "PR332"})
    main = read(root, "app/main.py")
    assert 'idempotency_key: Optional[str] = Header(None, alias="Idempotency-Key", max_length=255)' in main
    assert "    order = Order(plan=plan, idempotency_key=idempotency_key)\n" in main
    assert 'payments.charge(amount=10, idempotency_key=idempotency_key or f"order-{order.id}")' in main
    assert (
        "    try:\n        db.commit()\n    except IntegrityError:\n        db.rollback()\n"
        '        raise HTTPException(status_code=409, detail="Email already registered")\n' in main
    )
    assert "idempotency_key = Column(String(255), unique=True, nullable=True)" in read(root, "app/db.py")
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from app import payments
from app.db import Base, engine
from app.main import app
Base.metadata.create_all(engine)
client = TestClient(app)
first = client.post("/orders", params={"plan": "pro"}, headers={"Idempotency-Key": "k1"})
again = client.post("/orders", params={"plan": "pro"}, headers={"Idempotency-Key": "k1"})
assert first.status_code == 200 and again.status_code == 409, (first.text, again.text)
assert payments.calls == ["k1"]
assert client.post("/orders", params={"plan": "pro"}).status_code == 200
assert payments.calls[-1] == "order-2"
assert client.post("/signup", params={"email": "a@x.io"}).status_code == 200
assert client.post("/signup", params={"email": "a@x.io"}).status_code == 400
""",
    )


def test_count_check_locks_the_parent_row(tmp_path):
    files = dict(FASTAPI)
    files["app/main.py"] = """
from fastapi import Depends, FastAPI, HTTPException

from app.db import Order, User, get_db

app = FastAPI()


@app.post("/users/{user_id}/orders")
def add_order(user_id: int, db=Depends(get_db)):
    user = db.query(User).filter(User.id == user_id).first()
    if user is None:
        raise HTTPException(status_code=404)
    pending = db.query(Order).count()
    if pending >= 5:
        raise HTTPException(status_code=400, detail="Too many orders")
    db.add(Order(plan="x"))
    db.commit()
    return {}
"""
    root, _, _ = fix_project(tmp_path, files, {"PR332"})
    assert "user = db.query(User).filter(User.id == user_id).with_for_update().first()" in read(root, "app/main.py")


FLASK = {
    "schema.sql": "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);\n",
    "app.py": """
import sqlite3

from flask import Flask, g, jsonify, request

app = Flask(__name__)


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(app.config["DATABASE"])
    return g.db


@app.route("/signup", methods=["POST"])
def signup():
    email = request.args["email"]
    db = get_db()
    existing = db.execute("SELECT id FROM users WHERE email = ?", (email,)).fetchone()
    if existing:
        return jsonify(error="email taken"), 400
    db.execute("INSERT INTO users (email) VALUES (?)", (email,))
    db.commit()
    return jsonify(ok=True), 201
""",
}


def test_flask_check_then_insert_answers_409(tmp_path):
    root, _, _ = fix_project(tmp_path, FLASK, {"PR332"})
    source = read(root, "app.py")
    assert (
        '    try:\n        db.execute("INSERT INTO users (email) VALUES (?)", (email,))\n    except sqlite3.IntegrityError:\n'
        '        return jsonify(error="email taken"), 409\n' in source
    )


def test_random_key_with_nothing_to_derive_from_is_left(tmp_path):
    root = write_project(tmp_path, "import uuid\nimport requests\ndef pay(url):\n    return requests.post(url, headers={'Idempotency-Key': uuid.uuid4().hex}, timeout=5)\n")
    found = [f for f in scan_project(root).findings if f.rule == "PR331"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert plan.is_empty and "derive" in plan.skipped[0][1]


FLASK_INVITES = {
    "schema.sql": "CREATE TABLE IF NOT EXISTS invites (id INTEGER PRIMARY KEY, email TEXT);\n",
    "app.py": """
import sqlite3

from flask import Flask, g, jsonify, request

app = Flask(__name__)


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(app.config["DATABASE"])
    return g.db


@app.route("/invites", methods=["POST"])
def create_invite():
    db = get_db()
    cur = db.execute("INSERT INTO invites (email) VALUES (?)", (request.args["email"],))
    db.commit()
    return jsonify(id=cur.lastrowid), 201
""",
}


def test_flask_raw_sql_write_takes_an_idempotency_key(tmp_path):
    root, _, _ = fix_project(tmp_path, FLASK_INVITES, {"PR330"})
    assert "CREATE TABLE IF NOT EXISTS idempotency_keys (\n    idempotency_key TEXT PRIMARY KEY," in read(root, "schema.sql")
    run_python(
        root,
        """
import sqlite3, tempfile, os
from app import app
path = os.path.join(tempfile.mkdtemp(), "t.db")
sqlite3.connect(path).executescript(open("schema.sql").read())
app.config["DATABASE"] = path
client = app.test_client()
key = {"Idempotency-Key": "abc"}
assert client.post("/invites?email=a@x.io", headers=key).status_code == 201
assert client.post("/invites?email=a@x.io", headers=key).status_code == 409
assert client.post("/invites?email=a@x.io").status_code == 201
assert sqlite3.connect(path).execute("SELECT count(*) FROM invites").fetchone()[0] == 2
""",
    )

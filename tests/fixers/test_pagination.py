"""limit/offset on list routes, applied to the query."""

from __future__ import annotations

from tests.fixers.roundtrip import fix_project, read, run_python

FASTAPI = {
    "models.py": """
from sqlalchemy import Column, Integer, String, create_engine
from sqlalchemy.orm import declarative_base, sessionmaker

Base = declarative_base()
engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=__import__("sqlalchemy.pool", fromlist=["StaticPool"]).StaticPool)
SessionLocal = sessionmaker(bind=engine)


class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
""",
    "main.py": """
from fastapi import Depends, FastAPI

from models import Task, get_db

app = FastAPI()


@app.get("/tasks")
def list_tasks(db=Depends(get_db)):
    return [t.title for t in db.query(Task).all()]
""",
}


def test_fastapi_list_route_is_paged(tmp_path):
    root, _, _ = fix_project(tmp_path, FASTAPI, {"PR320"})
    main = read(root, "main.py")
    assert "def list_tasks(db=Depends(get_db), limit: int = Query(50, ge=1, le=100), offset: int = Query(0, ge=0)):" in main
    assert "return [t.title for t in db.query(Task).order_by(Task.id).offset(offset).limit(limit).all()]" in main
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from main import app
from models import Base, SessionLocal, Task, engine
Base.metadata.create_all(engine)
with SessionLocal() as db:
    db.add_all([Task(title=f"t{i}") for i in range(120)]); db.commit()
client = TestClient(app)
assert len(client.get("/tasks").json()) == 50
assert client.get("/tasks", params={"limit": 2, "offset": 3}).json() == ["t3", "t4"]
assert client.get("/tasks", params={"limit": 1000}).status_code == 422
assert client.get("/tasks", params={"offset": -1}).status_code == 422
""",
    )


FLASK = {
    "schema.sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, owner_id INTEGER);\n",
    "app.py": """
import sqlite3

from flask import Flask, g

app = Flask(__name__)


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(app.config["DATABASE"])
    return g.db


@app.route("/items")
def list_items():
    rows = get_db().execute("SELECT name FROM items WHERE owner_id = ?", (1,)).fetchall()
    return {"items": [r[0] for r in rows]}
""",
}


def test_flask_list_route_is_paged(tmp_path):
    root, _, _ = fix_project(tmp_path, FLASK, {"PR320"})
    source = read(root, "app.py")
    assert 'limit = min(max(request.args.get("limit", 50, type=int), 1), 100)\n    offset = max(request.args.get("offset", 0, type=int), 0)\n' in source
    assert 'get_db().execute("SELECT name FROM items WHERE owner_id = ? LIMIT ? OFFSET ?", (1, limit, offset)).fetchall()' in source
    run_python(
        root,
        """
import sqlite3, tempfile, os
from app import app
path = os.path.join(tempfile.mkdtemp(), "t.db")
db = sqlite3.connect(path); db.executescript(open("schema.sql").read())
db.executemany("INSERT INTO items (name, owner_id) VALUES (?, 1)", [(f"i{n}",) for n in range(130)]); db.commit()
app.config["DATABASE"] = path
client = app.test_client()
assert len(client.get("/items").get_json()["items"]) == 50
assert client.get("/items?limit=2&offset=5").get_json()["items"] == ["i5", "i6"]
assert len(client.get("/items?limit=5000").get_json()["items"]) == 100
assert len(client.get("/items?limit=abc").get_json()["items"]) == 50
""",
    )

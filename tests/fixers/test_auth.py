"""Auth codemods: the app's own login check on open routes, role checks on admin routes, the
current user in queries of users' rows, and JWT handling."""

from __future__ import annotations

from fixers import plan_fixes
from tests.fixers.roundtrip import fix_project, read, run_python
from tests.helpers import scan_project, write_project

FASTAPI_APP = {
    "app/__init__.py": "",
    "app/db.py": """
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, create_engine
from sqlalchemy.orm import declarative_base, sessionmaker

engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=__import__("sqlalchemy.pool", fromlist=["StaticPool"]).StaticPool)
SessionLocal = sessionmaker(bind=engine)
Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)
    is_admin = Column(Boolean, default=False)


class Workspace(Base):
    __tablename__ = "workspaces"
    id = Column(Integer, primary_key=True)
    name = Column(String)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)


class Project(Base):
    __tablename__ = "projects"
    id = Column(Integer, primary_key=True)
    name = Column(String)
    workspace_id = Column(Integer, ForeignKey("workspaces.id"), index=True)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
""",
    "app/auth.py": """
from fastapi import Depends, Header, HTTPException

from app.db import User, get_db


def get_current_user(x_user: int = Header(0), db=Depends(get_db)):
    user = db.get(User, x_user)
    if user is None:
        raise HTTPException(status_code=401, detail="login required")
    return user
""",
    "app/main.py": """
from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel

from app.auth import get_current_user
from app.db import Project, User, Workspace, get_db

app = FastAPI()


class ProjectIn(BaseModel):
    name: str
    workspace_id: int


@app.get("/workspaces/{workspace_id}")
def get_workspace(workspace_id: int, db=Depends(get_db), user: User = Depends(get_current_user)):
    ws = db.query(Workspace).filter(Workspace.id == workspace_id).first()
    if ws is None:
        raise HTTPException(status_code=404)
    return {"name": ws.name}


@app.delete("/projects/{project_id}")
def delete_project(project_id: int, db=Depends(get_db)):
    project = db.query(Project).filter(Project.id == project_id).first()
    if project is None:
        raise HTTPException(status_code=404)
    db.delete(project)
    db.commit()
    return {"ok": True}


@app.post("/projects")
def create_project(data: ProjectIn, db=Depends(get_db), user: User = Depends(get_current_user)):
    project = Project(name=data.name, workspace_id=data.workspace_id)
    db.add(project)
    db.commit()
    return {"id": project.id}


@app.get("/admin/users")
def admin_users(db=Depends(get_db), user: User = Depends(get_current_user)):
    return [u.email for u in db.query(User).limit(100).all()]
""",
}

CHECK_FASTAPI = """
from fastapi.testclient import TestClient
from app.db import Base, Project, SessionLocal, User, Workspace, engine
from app.main import app
Base.metadata.create_all(engine)
with SessionLocal() as db:
    db.add_all([User(id=1, email="ann@x.io", is_admin=True), User(id=2, email="bob@x.io"),
                Workspace(id=1, name="ann's", owner_id=1), Workspace(id=2, name="bob's", owner_id=2),
                Project(id=1, name="p1", workspace_id=1), Project(id=2, name="p2", workspace_id=2)])
    db.commit()
client = TestClient(app)
ann, bob = {"x-user": "1"}, {"x-user": "2"}
assert client.get("/workspaces/1", headers=ann).status_code == 200
assert client.get("/workspaces/1", headers=bob).status_code == 404          # not bob's
assert client.delete("/projects/1").status_code == 401                       # login required now
assert client.delete("/projects/1", headers=bob).status_code == 404          # and only the owner's
assert client.delete("/projects/1", headers=ann).json() == {"ok": True}
assert client.post("/projects", json={"name": "x", "workspace_id": 2}, headers=ann).status_code == 404
assert client.post("/projects", json={"name": "x", "workspace_id": 1}, headers=ann).status_code == 200
assert client.get("/admin/users", headers=bob).status_code == 403
assert client.get("/admin/users", headers=ann).status_code == 200
"""


def test_fastapi_auth_role_and_owner(tmp_path):
    root, plan, _ = fix_project(tmp_path, FASTAPI_APP, {"PR201", "PR202", "PR203"})
    main = read(root, "app/main.py")
    assert "def delete_project(project_id: int, db=Depends(get_db), user: User = Depends(get_current_user)):" in main
    assert (
        "project = db.query(Project).join(Workspace, Project.workspace_id == Workspace.id)"
        ".filter(Workspace.owner_id == user.id).filter(Project.id == project_id).first()" in main
    )
    assert "ws = db.query(Workspace).filter(Workspace.owner_id == user.id).filter(Workspace.id == workspace_id).first()" in main
    assert (
        "    if db.query(Workspace).filter(Workspace.id == data.workspace_id, Workspace.owner_id == user.id).first() is None:\n"
        '        raise HTTPException(status_code=404, detail="Workspace not found")\n'
        "    project = Project(" in main
    )
    assert "def admin_users(db=Depends(get_db), user: User = Depends(require_admin)):" in main
    auth = read(root, "app/auth.py")
    assert "def require_admin(current_user=Depends(get_current_user)):" in auth and "if not (current_user.is_admin):" in auth
    run_python(root, CHECK_FASTAPI)


def test_project_role_check_is_reused(tmp_path):
    files = dict(FASTAPI_APP)
    files["app/auth.py"] += """

def require_admin(user=Depends(get_current_user)):
    if not user.is_admin:
        raise HTTPException(status_code=403)
    return user
"""
    root, _, _ = fix_project(tmp_path, files, {"PR202"})
    assert read(root, "app/auth.py").count("def require_admin") == 1
    assert "user: User = Depends(require_admin)" in read(root, "app/main.py")


FLASK_APP = {
    "schema.sql": """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE);
CREATE TABLE items (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES users(id), name TEXT);
CREATE INDEX ix_items_owner ON items (owner_id);
""",
    "shop.py": """
import functools
import sqlite3

from flask import Flask, g, jsonify, session

app = Flask(__name__)
app.secret_key = "test"


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(app.config["DATABASE"])
    return g.db


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if session.get("user_id") is None:
            return jsonify(error="login required"), 401
        return view(*args, **kwargs)

    return wrapped


@app.route("/items", methods=["POST"])
@login_required
def create_item():
    return {}, 201


@app.route("/items/<int:item_id>", methods=["DELETE"])
def delete_item(item_id):
    get_db().execute("DELETE FROM items WHERE id = ?", (item_id,))
    get_db().commit()
    return {"ok": True}


@app.route("/items/<int:item_id>/rename", methods=["POST"])
@login_required
def rename_item(item_id):
    row = get_db().execute("SELECT name FROM items WHERE id = ?", (item_id,)).fetchone()
    return {"name": row[0]}
""",
}

CHECK_FLASK = """
import sqlite3, tempfile, os
from shop import app
path = os.path.join(tempfile.mkdtemp(), "t.db")
db = sqlite3.connect(path)
db.executescript(open("schema.sql").read())
db.executescript("INSERT INTO users VALUES (1, 'ann@x.io'); INSERT INTO users VALUES (2, 'bob@x.io');"
                 "INSERT INTO items VALUES (1, 1, 'mug'); INSERT INTO items VALUES (2, 2, 'pot');")
db.commit()
app.config["DATABASE"] = path
client = app.test_client()
assert client.delete("/items/1").status_code == 401
with client.session_transaction() as s:
    s["user_id"] = 2
assert client.post("/items/1/rename").status_code == 404          # ann's item
assert client.post("/items/2/rename").get_json() == {"name": "pot"}
client.delete("/items/1")
assert sqlite3.connect(path).execute("SELECT count(*) FROM items WHERE id = 1").fetchone()[0] == 1
client.delete("/items/2")
assert sqlite3.connect(path).execute("SELECT count(*) FROM items WHERE id = 2").fetchone()[0] == 0
"""


def test_flask_login_and_owner_in_sql(tmp_path):
    root, _, _ = fix_project(tmp_path, FLASK_APP, {"PR201", "PR203"})
    shop = read(root, "shop.py")
    assert '@app.route("/items/<int:item_id>", methods=["DELETE"])\n@login_required\ndef delete_item(item_id):' in shop
    assert 'get_db().execute("DELETE FROM items WHERE id = ? AND owner_id = ?", (item_id, session["user_id"]))' in shop
    assert 'row = get_db().execute("SELECT name FROM items WHERE id = ? AND owner_id = ?", (item_id, session["user_id"])).fetchone()\n    if row is None:\n        abort(404)' in shop
    run_python(root, CHECK_FLASK)


def test_a_webhook_gets_no_login(tmp_path):
    files = dict(FLASK_APP)
    files["shop.py"] += '\n\n@app.route("/webhooks/shipping", methods=["POST"])\ndef shipping_webhook():\n    return {}\n'
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR201" and "webhook" in f.message]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert plan.is_empty and "signature" in plan.skipped[0][1]


JWT_MODULE = """
import jwt
from fastapi import FastAPI

SECRET_KEY = "k" * 32
ALGORITHM = "HS256"
app = FastAPI()


def create_access_token(data: dict) -> str:
    to_encode = data.copy()
    return jwt.encode(to_encode, SECRET_KEY, algorithm=ALGORITHM)


def invite_token(workspace_id: int) -> str:
    return jwt.encode({"workspace_id": workspace_id}, SECRET_KEY, algorithm=ALGORITHM)


def read_token(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def read_loose(token: str) -> dict:
    return jwt.decode(token, SECRET_KEY)
"""


def test_jwt_verification_algorithms_and_expiry(tmp_path):
    root, _, _ = fix_project(tmp_path, {"tokens.py": JWT_MODULE}, {"PR210", "PR211", "PR212", "PR220"} - {"PR220"})
    tokens = read(root, "tokens.py")
    assert 'return jwt.encode({**to_encode, "exp": datetime.now(timezone.utc) + timedelta(minutes=60)}, SECRET_KEY, algorithm=ALGORITHM)' in tokens
    assert 'jwt.encode({"workspace_id": workspace_id, "exp": datetime.now(timezone.utc) + timedelta(days=7)}, SECRET_KEY, algorithm=ALGORITHM)' in tokens
    assert (
        "    try:\n        return jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])\n    except jwt.InvalidTokenError:\n"
        '        raise HTTPException(status_code=401, detail="Invalid or expired token")\n' in tokens
    )
    assert "return jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])\n\n" in tokens.split("def read_loose")[1] + "\n"
    run_python(
        root,
        """
import jwt
from fastapi import HTTPException
from tokens import create_access_token, read_token
claims = read_token(create_access_token({"sub": "1"}))
assert claims["sub"] == "1" and claims["exp"]
forged = jwt.encode({"sub": "1"}, "another-key-" + "x" * 32, algorithm="HS256")
try:
    read_token(forged)
except HTTPException as exc:
    assert exc.status_code == 401
else:
    raise SystemExit("forged token accepted")
""",
    )


def test_jwt_without_a_known_key_is_left_with_a_reason(tmp_path):
    root = write_project(tmp_path, {"t.py": "import jwt\ndef read_token(token):\n    return jwt.decode(token, options={'verify_signature': False})\n"})
    found = [f for f in scan_project(root).findings if f.rule == "PR210"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert plan.is_empty and "no key found" in plan.skipped[0][1]

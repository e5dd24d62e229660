"""Step 2 rules beyond their own VALID/INVALID examples: the subtle cases of auth, tokens, secrets and pools."""

from __future__ import annotations

from auditor.models import Confidence
from tests.helpers import scan_example, scan_project, write_project

DEPS = """
from fastapi import Depends, HTTPException
def get_current_user(token: str = ""):
    if not token:
        raise HTTPException(status_code=401)
    return token
"""
MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    role = Column(String)
class Team(Base):
    __tablename__ = "teams"
    id = Column(Integer, primary_key=True)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)
class Doc(Base):
    __tablename__ = "docs"
    id = Column(Integer, primary_key=True)
    team_id = Column(Integer, ForeignKey("teams.id"), index=True)
"""


def fired(tmp_path, example, code):
    return [f for f in scan_example(tmp_path, example, select=[code]).findings if f.rule == code]


def app(body: str) -> dict[str, str]:
    return {"deps.py": DEPS, "models.py": MODELS, "app.py": "from fastapi import APIRouter, Depends, FastAPI, Request\nfrom deps import get_current_user\nfrom models import Doc, Team, User\napp = FastAPI()\n" + body}


# -- index: how auth is recognised ----------------------------------------------------------------


def test_custom_decorator_wrapping_login_required_is_auth(tmp_path):
    root = write_project(
        tmp_path,
        {
            "app.py": """
import functools
from flask import Flask
from flask_login import login_required
app = Flask(__name__)
def staff_only(view):
    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        return view(*args, **kwargs)
    return wrapper
@app.route("/reports")
@staff_only
def reports():
    return []
"""
        },
    )
    (route,) = scan_project(root, select=["PR201"]).index.routes
    assert route.authenticated


def test_public_routes_from_config_silence_pr201(tmp_path):
    root = write_project(tmp_path, app("@app.get('/me')\ndef me(u=Depends(get_current_user)):\n    return u\n@app.post('/contact')\ndef contact(body: dict):\n    return {}\n"))
    assert [f.rule for f in scan_project(root, select=["PR201"]).findings] == ["PR201"]
    assert scan_project(root, select=["PR201"], public_routes=["/contact"]).findings == []


# -- PR201 -------------------------------------------------------------------------------------------


def test_pr201_confidence_follows_the_neighbouring_routes(tmp_path):
    body = """
@app.get("/docs/list")
def docs(u=Depends(get_current_user), db=None):
    return db.query(Doc).all()
@app.get("/docs/{doc_id}/raw")
def raw(doc_id: int, db=None):
    return db.get(Doc, doc_id)
@app.get("/teams/{team_id}")
def team(team_id: int, db=None):
    return db.get(Team, team_id)
@app.delete("/teams/{team_id}")
def drop(team_id: int, db=None):
    db.delete(db.get(Team, team_id))
"""
    found = {f.message.split(" ")[1]: f.confidence for f in fired(tmp_path, app(body), "PR201")}
    # /docs/{doc_id}/raw sits next to a guarded read of the same resource: most likely an oversight
    assert found == {"/docs/{doc_id}/raw": Confidence.MEDIUM, "/teams/{team_id}": Confidence.HIGH}


def test_pr201_quiet_when_app_has_no_auth_or_an_auth_middleware(tmp_path):
    no_auth = {"models.py": MODELS, "app.py": "from fastapi import FastAPI\nfrom models import Doc\napp = FastAPI()\n@app.delete('/docs/{i}')\ndef d(i: int, db=None):\n    db.delete(db.get(Doc, i))\n"}
    assert fired(tmp_path / "a", no_auth, "PR201") == []
    middleware = app(
        """
@app.middleware("http")
async def require_token(request: Request, call_next):
    if "authorization" not in request.headers:
        raise HTTPException(status_code=401)
    return await call_next(request)
@app.get("/me")
def me(u=Depends(get_current_user)):
    return u
@app.delete("/docs/{i}")
def d(i: int, db=None):
    db.delete(db.get(Doc, i))
"""
    )
    assert fired(tmp_path / "b", middleware, "PR201") == []


def test_pr201_webhook_signature_checked_in_an_imported_helper(tmp_path):
    example = app(
        """
from security import verify_signature
@app.get("/me")
def me(u=Depends(get_current_user)):
    return u
@app.post("/webhooks/stripe")
async def stripe(request: Request):
    verify_signature(await request.body(), request.headers["Stripe-Signature"])
    return {}
@app.post("/webhooks/github")
async def github(request: Request):
    return {}
"""
    )
    example["security.py"] = "import hmac\ndef verify_signature(body, header):\n    return hmac.compare_digest(body, header)\n"
    (finding,) = fired(tmp_path, example, "PR201")
    assert "/webhooks/github" in finding.message and "signature" in finding.message


# -- PR202 / PR203 -----------------------------------------------------------------------------------


def test_pr202_changing_another_user_needs_a_role(tmp_path):
    body = """
@app.delete("/users/{user_id}")
def delete_user(user_id: int, me=Depends(get_current_user), db=None):
    db.delete(db.get(User, user_id))
@app.delete("/account/{user_id}")
def delete_account(user_id: int, me=Depends(get_current_user), db=None):
    if user_id != me.id:
        raise HTTPException(status_code=403)
    db.delete(db.get(User, user_id))
"""
    (finding,) = fired(tmp_path, app(body), "PR202")
    assert "DELETE /users/{user_id}" in finding.message and "another user" in finding.message


def test_pr203_ownership_through_parent_tables_and_helpers(tmp_path):
    body = """
def can_edit(user, team):
    return team.owner_id == user.id
@app.get("/docs/{doc_id}")
def get_doc(doc_id: int, u=Depends(get_current_user), db=None):
    return db.get(Doc, doc_id)                                  # docs -> teams -> users, unchecked
@app.put("/teams/{team_id}")
def edit_team(team_id: int, u=Depends(get_current_user), db=None):
    team = db.get(Team, team_id)
    if not can_edit(u, team):
        raise HTTPException(status_code=404)
@app.get("/teams/{team_id}/docs")
def team_docs(team_id: int, u=Depends(get_current_user), db=None):
    return db.query(Doc).join(Team).filter(Doc.team_id == team_id, Team.owner_id == u.id).all()
"""
    (finding,) = fired(tmp_path, app(body), "PR203")
    assert finding.message.startswith("GET /docs/{doc_id} loads docs")


def test_pr203_skips_admin_routes_and_flask_session_filters(tmp_path):
    admin = app(
        """
def require_admin(u=Depends(get_current_user)):
    if u.role != "admin":
        raise HTTPException(status_code=403)
@app.get("/teams/{team_id}", dependencies=[Depends(require_admin)])
def any_team(team_id: int, db=None):
    return db.get(Team, team_id)
"""
    )
    assert fired(tmp_path / "a", admin, "PR203") == []
    flask = {
        "schema.sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id));",
        "app.py": """
from flask import Flask, g, session
from flask_login import login_required
app = Flask(__name__)
@app.route("/notes/<int:id>")
@login_required
def note(id):
    return db().execute("SELECT * FROM notes WHERE id = ? AND user_id = ?", (id, session.get("user_id"))).fetchone()
@app.route("/notes/<int:id>", methods=["DELETE"])
@login_required
def drop(id):
    row = db().execute("SELECT * FROM notes WHERE id = ?", (id,)).fetchone()
    if row["user_id"] != g.user["id"]:
        return {}, 404
""",
    }
    assert fired(tmp_path / "b", flask, "PR203") == []


# -- tokens ----------------------------------------------------------------------------------------


def test_pr210_and_pr211_report_one_problem_per_call(tmp_path):
    example = "import jwt\ndef f(t):\n    return jwt.decode(t, options={'verify_signature': False})\n"
    result = scan_example(tmp_path, example, select=["PR210", "PR211"])
    assert [f.rule for f in result.findings] == ["PR210"]


def test_pr212_claims_completed_elsewhere_in_the_function(tmp_path):
    example = """
import jwt
def token(data, key, ttl):
    claims = dict(data)
    claims["exp"] = ttl
    return jwt.encode(claims, key, algorithm="HS256")
def invite(ws, key):
    return jwt.encode({"ws": ws, **{"kind": "invite"}}, key, algorithm="HS256")
"""
    (finding,) = fired(tmp_path, example, "PR212")
    assert finding.line == 7


def test_pr213_only_in_web_code(tmp_path):
    code = "import random\ndef boundary():\n    token = random.randrange(10**9)\n    return token\n"
    assert fired(tmp_path / "a", code, "PR213") == []  # e.g. a MIME boundary in a library
    assert len(fired(tmp_path / "b", "from flask import Flask\n" + code, "PR213")) == 1


def test_pr214_password_reset_route_hashing_a_token_is_fine(tmp_path):
    example = "import hashlib\ndef reset_password(token):\n    return hashlib.sha256(token.encode()).hexdigest()\ndef check_password(pw, stored):\n    return hashlib.sha1(pw.encode()).hexdigest() == stored\n"
    (finding,) = fired(tmp_path, example, "PR214")
    assert finding.line == 5


# -- secrets, debug, cookies -------------------------------------------------------------------------


def test_pr220_known_key_formats_and_dsn_hosts(tmp_path):
    example = """
settings = {"stripe": "sk_live_abcdefghijklmnop", "webhook": "whsec_local"}
LOCAL = "postgresql://app:app@localhost/app"
REMOTE = "postgresql://app:s3cr3t@10.0.0.5/app"
TEMPLATE = "postgresql://{user}:{password}@{host}/app"
"""
    assert sorted(f.line for f in fired(tmp_path, example, "PR220")) == [1, 3]


def test_pr220_literal_jwt_key_is_reported_at_the_literal(tmp_path):
    example = "import jwt\ndef token(claims):\n    return jwt.encode(claims, 'my-signing-key', algorithm='HS256')\n"
    (finding,) = fired(tmp_path, example, "PR220")
    assert (finding.line, finding.col) == (3, 30) and "JWT signing key" in finding.message


def test_pr221_or_fallback_and_random_fallback(tmp_path):
    example = "import os, secrets\nA = os.environ.get('JWT_SECRET') or 'dev'\nB = os.environ.get('JWT_SECRET') or secrets.token_hex()\n"
    assert [f.line for f in fired(tmp_path, example, "PR221")] == [2]


def test_pr222_host_makes_the_flask_debugger_public(tmp_path):
    example = "from flask import Flask\napp = Flask(__name__)\napp.run(debug=True)\n"
    (finding,) = fired(tmp_path, example, "PR222")
    assert "every network interface" not in finding.message
    (public,) = fired(tmp_path / "b", example.replace("debug=True", "host='0.0.0.0', debug=True"), "PR222")
    assert "every network interface" in public.message


def test_pr224_cookie_flags_from_settings_count_as_set(tmp_path):
    example = "def login(response, token, s):\n    response.set_cookie('session', token, secure=s.secure, httponly=True)\n    response.set_cookie('session', token, httponly=True)\n"
    (finding,) = fired(tmp_path, example, "PR224")
    assert finding.line == 3 and "without secure" in finding.message


# -- pools and timeouts ------------------------------------------------------------------------------


def test_pr230_dependency_chain_and_closed_sqlite(tmp_path):
    example = """
import sqlite3
from fastapi import Depends, FastAPI
from pymongo import MongoClient
app = FastAPI()
def get_sqlite():
    conn = sqlite3.connect("app.db")
    try:
        yield conn
    finally:
        conn.close()
def get_mongo():
    return MongoClient("mongodb://db")
def get_repo(client=Depends(get_mongo)):
    return client.app
@app.get("/items")
def items(conn=Depends(get_sqlite), repo=Depends(get_repo)):
    return []
"""
    (finding,) = fired(tmp_path, example, "PR230")
    assert finding.line == 12 and "get_mongo()" in finding.message


def test_pr231_url_from_settings_of_a_server_database(tmp_path):
    example = {
        "settings.py": "import os\nDATABASE_URL = os.getenv('DATABASE_URL', 'sqlite:///dev.db')\n",
        "db.py": "from sqlalchemy import create_engine\nfrom settings import DATABASE_URL\nengine = create_engine(DATABASE_URL)\n",
    }
    assert fired(tmp_path / "a", example, "PR231") == []  # only SQLite is in sight
    example["settings.py"] = example["settings.py"].replace("sqlite:///dev.db", "postgresql://localhost/app")
    assert len(fired(tmp_path / "b", example, "PR231")) == 1


def test_pr232_quiet_without_routes_or_with_a_server_database(tmp_path):
    flask = "import sqlite3\nfrom flask import Flask\napp = Flask(__name__)\n@app.route('/')\ndef i():\n    return sqlite3.connect('a.db').execute('SELECT 1').fetchone()\n"
    assert len(fired(tmp_path / "a", flask, "PR232")) == 1
    assert fired(tmp_path / "b", flask + "import psycopg2\nPG = psycopg2.connect('dbname=app')\n", "PR232") == []


def test_pr240_handler_level_throttle_counts(tmp_path):
    example = "from fastapi import FastAPI\nfrom ratelimits import check_rate_limit\napp = FastAPI()\n@app.post('/login')\ndef login(body: dict):\n    check_rate_limit(body['email'])\n    return {}\n@app.post('/token')\ndef token(body: dict, db=None):\n    return db.query(User).limit(1).all()\n"
    (finding,) = fired(tmp_path, example, "PR240")
    assert "POST /token" in finding.message


def test_pr250_positional_timeouts_and_tests(tmp_path):
    example = {
        "mail.py": "import smtplib, http.client\ndef a(h):\n    smtplib.SMTP(h, 25, None, 10)\n    http.client.HTTPSConnection(h, 443, 5)\n    http.client.HTTPSConnection(h)\n",
        "tests/test_mail.py": "import smtplib\ndef test_a():\n    smtplib.SMTP('localhost')\n",
    }
    assert [(f.path, f.line) for f in fired(tmp_path, example, "PR250")] == [("mail.py", 5)]


def test_pr203_access_decorator_or_dependency_counts_as_a_check(tmp_path):
    body = """
def require_team_access(team_id: int, u=Depends(get_current_user)):
    return team_id
@app.get("/teams/{team_id}", dependencies=[Depends(require_team_access)])
def team(team_id: int, u=Depends(get_current_user), db=None):
    return db.get(Team, team_id)
"""
    assert fired(tmp_path, app(body), "PR203") == []


def test_annotated_dependency_aliases_are_auth(tmp_path):
    """The FastAPI template style: `CurrentUser = Annotated[User, Depends(get_current_user)]` in deps.py."""
    example = {
        "deps.py": DEPS + "from typing import Annotated\nCurrentUser = Annotated[str, Depends(get_current_user)]\nSessionDep = Annotated[object, Depends(lambda: None)]\n",
        "models.py": MODELS,
        "app.py": """
from fastapi import FastAPI, HTTPException
from deps import CurrentUser, SessionDep
from models import Doc
app = FastAPI()
@app.get("/docs/{doc_id}")
def read_doc(session: SessionDep, current_user: CurrentUser, doc_id: int):
    doc = session.get(Doc, doc_id)
    if doc.team.owner_id != current_user.id:
        raise HTTPException(status_code=403)
    return doc
@app.delete("/docs/{doc_id}")
def delete_doc(session: SessionDep, current_user: CurrentUser, doc_id: int):
    session.delete(session.get(Doc, doc_id))
""",
    }
    root = write_project(tmp_path, example)
    result = scan_project(root, select=["PR201", "PR203"])
    assert all(route.authenticated for route in result.index.routes)
    assert [(f.rule, f.line) for f in result.findings] == [("PR203", 12)]


def test_resource_of_a_path_skips_api_prefixes():
    from auditor.rules.auth import _resource

    assert [_resource(p) for p in ["/api/v1/tasks/{id}", "/tasks", "/<int:id>/x", "/"]] == ["tasks", "tasks", "x", ""]

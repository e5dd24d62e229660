"""The one auth model (auditor/index/auth_model.py) as the auth rules see it: auth found across
files and judged on what it verifies, routes public by what they do, routers served only in
development, names from files that could not be parsed. Each pattern that must stay quiet has a
twin that must be found, so a test fails if the model stops looking."""

from __future__ import annotations

from tests.helpers import scan_project, write_project

SECURE_DEPS = """
import jwt
from fastapi import Depends, HTTPException
from fastapi.security import OAuth2PasswordBearer
from app.db import User, get_db

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/token")
SECRET_KEY = "from-the-environment"


def get_current_user(token: str = Depends(oauth2_scheme), db=Depends(get_db)):
    try:
        claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(status_code=401)
    user = db.get(User, int(claims["sub"]))
    if user is None:
        raise HTTPException(status_code=401)
    return user
"""

DB = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    username = Column(String, unique=True)
    hashed_password = Column(String)


class Note(Base):
    __tablename__ = "notes"
    id = Column(Integer, primary_key=True)
    body = Column(String)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)


def get_db():
    yield None
"""

NOTES = """
from fastapi import APIRouter, Depends
from app.db import Note, get_db
from app.deps import get_current_user

router = APIRouter(prefix="/notes")


@router.get("")
def list_notes(user=Depends(get_current_user), db=Depends(get_db)):
    return db.query(Note).filter(Note.owner_id == user.id).all()


@router.delete("/{note_id}")
def delete_note(note_id: int, user=Depends(get_current_user), db=Depends(get_db)):
    db.query(Note).filter(Note.id == note_id, Note.owner_id == user.id).delete()
"""


def fastapi_app(**files: str) -> dict[str, str]:
    project = {
        "app/__init__.py": "",
        "app/db.py": DB,
        "app/deps.py": SECURE_DEPS,
        "app/notes.py": NOTES,
        "app/main.py": "from fastapi import FastAPI\nfrom app.notes import router\napp = FastAPI()\napp.include_router(router)\n",
    }
    project.update({k.replace("__", "/") + ".py": v for k, v in files.items()})
    return project


def found(tmp_path, files, *codes):
    result = scan_project(write_project(tmp_path, files), select=list(codes))
    return [(f.rule, f.path, f.message) for f in result.findings if f.rule in codes]


# -- auth that verifies nothing (PR204) ------------------------------------------------------------


def test_a_dependency_that_trusts_a_username_header_is_found(tmp_path):
    deps = """
from fastapi import Depends, Header, HTTPException
from app.db import User, get_db


def get_current_user(x_username: str = Header(None), db=Depends(get_db)):
    user = db.query(User).filter(User.username == x_username).first()
    if user is None:
        raise HTTPException(status_code=401)
    return user
"""
    hits = found(tmp_path, fastapi_app(app__deps=deps), "PR204", "PR201")
    assert [(rule, path) for rule, path, _ in hits] == [("PR204", "app/deps.py")], hits
    assert "x-username header" in hits[0][2] and "GET /notes and 1 more route(s)" in hits[0][2]


def test_a_dependency_that_reads_claims_without_the_signature_is_found(tmp_path):
    deps = SECURE_DEPS.replace('claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])', "claims = jose_jwt.get_unverified_claims(token)")
    deps = deps.replace("import jwt\n", "import jwt\nfrom jose import jwt as jose_jwt\n")
    hits = found(tmp_path, fastapi_app(app__deps=deps), "PR204")
    assert len(hits) == 1 and "without checking its signature" in hits[0][2], hits


def test_a_dependency_built_on_one_that_verifies_nothing_is_found_too(tmp_path):
    deps = """
from fastapi import Depends, Header, HTTPException


def get_user_from_header(x_user: str = Header(...)):
    return x_user


def get_current_active_user(user=Depends(get_user_from_header)):
    if not user:
        raise HTTPException(status_code=401)
    return user


get_current_user = get_current_active_user
"""
    notes = NOTES.replace("get_current_user", "get_current_active_user")
    hits = found(tmp_path, fastapi_app(app__deps=deps, app__notes=notes), "PR204")
    assert hits and hits[0][1] == "app/deps.py" and "x-user header" in hits[0][2], hits


def test_a_signed_jwt_dependency_and_an_api_key_header_are_not_reported(tmp_path):
    api_key_deps = SECURE_DEPS + '''

def require_api_key(x_api_key: str = Header(...), db=Depends(get_db)):
    if db.query(User).filter(User.api_key == x_api_key).first() is None:
        raise HTTPException(status_code=401)
'''
    api_key_deps = api_key_deps.replace("from fastapi import Depends, HTTPException", "from fastapi import Depends, Header, HTTPException")
    notes = NOTES + '''

@router.post("/import", dependencies=[Depends(require_api_key)])
def import_notes(db=Depends(get_db)):
    return {}
'''
    notes = notes.replace("from app.deps import get_current_user", "from app.deps import get_current_user, require_api_key")
    assert found(tmp_path, fastapi_app(app__deps=api_key_deps, app__notes=notes), "PR204", "PR201") == []


FLASK_COOKIE_APP = """
import functools
from flask import Flask, abort, g, request

app = Flask(__name__)


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        {read}
        if g.user is None:
            abort(401)
        return view(*args, **kwargs)
    return wrapped


@app.route("/notes", methods=["POST"])
@login_required
def create_note():
    return {{}}
"""


def test_a_flask_decorator_trusting_an_unsigned_cookie_is_found(tmp_path):
    hits = found(tmp_path, FLASK_COOKIE_APP.format(read='g.user = request.cookies.get("username")'), "PR204", "PR201")
    assert [rule for rule, _, _ in hits] == ["PR204"] and "unsigned 'username' cookie" in hits[0][2], hits


def test_a_flask_decorator_reading_the_signed_session_is_not_reported(tmp_path):
    app = FLASK_COOKIE_APP.format(read='g.user = session.get("user_id")').replace("import Flask,", "import Flask, session,")
    assert found(tmp_path, app, "PR204", "PR201") == []


def test_a_before_request_guard_that_ignores_its_verify_answer_is_found(tmp_path):
    app = """
from flask import Blueprint, Flask, abort, request
from werkzeug.security import check_password_hash

api = Blueprint("api", __name__)
KEYS = {"ci": "pbkdf2:sha256:..."}


@api.before_request
def check_key():
    name, _, key = request.headers.get("Authorization", "").partition(":")
    if name not in KEYS:
        abort(401)
    check_password_hash(KEYS[name], key)


@api.route("/jobs", methods=["POST"])
def create_job():
    return {}


app = Flask(__name__)
app.register_blueprint(api, url_prefix="/api")
"""
    hits = found(tmp_path, app, "PR204", "PR207", "PR201")
    assert sorted(rule for rule, _, _ in hits) == ["PR204", "PR207"], hits
    fixed = app.replace("    check_password_hash(KEYS[name], key)", "    if not check_password_hash(KEYS[name], key):\n        abort(401)")
    assert found(tmp_path / "fixed", fixed, "PR204", "PR207", "PR201") == []


# -- a token minted for any user name (PR205) -------------------------------------------------------

TOKEN_ROUTE = """
import jwt
from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm
from passlib.context import CryptContext
from app.db import User, get_db

router = APIRouter()
pwd_context = CryptContext(schemes=["bcrypt"])


@router.post("/sessions")
def open_session(form: OAuth2PasswordRequestForm = Depends(), db=Depends(get_db)):
    user = db.query(User).filter(User.username == form.username).first()
    if user is None{check}:
        raise HTTPException(status_code=401)
    return {{"access_token": jwt.encode({{"sub": str(user.id)}}, "k", algorithm="HS256")}}
"""


def _token_app(check: str) -> dict[str, str]:
    main = "from fastapi import FastAPI\nfrom app.notes import router\nfrom app.sessions import router as sessions\napp = FastAPI()\napp.include_router(router)\napp.include_router(sessions)\n"
    return fastapi_app(app__sessions=TOKEN_ROUTE.format(check=check), app__main=main)


def test_a_token_for_any_username_is_found_whatever_the_route_is_called(tmp_path):
    hits = found(tmp_path, _token_app(""), "PR205", "PR201", "PR240")
    assert sorted(rule for rule, _, _ in hits) == ["PR205"], hits
    assert hits[0][2].startswith("POST /sessions issues a login")


def test_a_login_that_verifies_the_password_is_public_and_needs_a_rate_limit(tmp_path):
    hits = found(tmp_path, _token_app(" or not pwd_context.verify(form.password, user.hashed_password)"), "PR205", "PR201", "PR240")
    assert [(rule, path) for rule, path, _ in hits] == [("PR240", "app/sessions.py")], hits


# -- endpoint roles by behaviour: public by design, rate limits (PR201, PR240) ------------------------

SIGNUP = """
from fastapi import APIRouter, Depends
from passlib.context import CryptContext
from app.db import User, get_db

router = APIRouter()
pwd_context = CryptContext(schemes=["bcrypt"])


@router.post("/members")
def join(body: dict, db=Depends(get_db)):
    user = User(username=body["username"], hashed_password=pwd_context.hash(body["password"]))
    db.add(user)
    db.commit()
    return {"id": user.id}
"""


def test_signup_recognised_by_what_it_does_is_public_but_rate_limited(tmp_path):
    main = "from fastapi import FastAPI\nfrom app.notes import router\nfrom app.members import router as members\napp = FastAPI()\napp.include_router(router)\napp.include_router(members)\n"
    hits = found(tmp_path, fastapi_app(app__members=SIGNUP, app__main=main), "PR201", "PR240")
    assert [(rule, path) for rule, path, _ in hits] == [("PR240", "app/members.py")], hits
    # the same route creating notes instead of users is no signup: it needs a login
    notes_only = SIGNUP.replace("user = User(username=body[\"username\"], hashed_password=pwd_context.hash(body[\"password\"]))", "user = Note(body=body[\"text\"])").replace("import User,", "import Note, User,")
    hits = found(tmp_path / "b", fastapi_app(app__members=notes_only, app__main=main), "PR201", "PR240")
    assert [(rule, path) for rule, path, _ in hits] == [("PR201", "app/members.py")], hits


def test_no_rate_limit_finding_where_credentials_cannot_be_guessed(tmp_path):
    routes = """
import secrets
from fastapi import APIRouter, Depends, HTTPException
from app.db import User, get_db
from app.deps import get_current_user

router = APIRouter()


def require_superuser(user=Depends(get_current_user)):
    if not user.is_superuser:
        raise HTTPException(status_code=403)
    return user


@router.post("/account/password")
def change_password(body: dict, user=Depends(get_current_user), db=Depends(get_db)):
    return {}


@router.post("/admin/users/{user_id}/reset-password")
def admin_reset(user_id: int, admin=Depends(require_superuser), db=Depends(get_db)):
    return {}


def new_invite_token():
    return secrets.token_urlsafe(32)


@router.post("/invitations/{token}/register")
def accept_invitation(token: str, body: dict, db=Depends(get_db)):
    return {}
"""
    main = "from fastapi import FastAPI\nfrom app.notes import router\nfrom app.account import router as account\napp = FastAPI()\napp.include_router(router)\napp.include_router(account)\n"
    assert found(tmp_path, fastapi_app(app__account=routes, app__main=main), "PR240") == []
    # a six-digit code is another matter
    weak = routes.replace("secrets.token_urlsafe(32)", "str(random.randint(100000, 999999))").replace("import secrets", "import random")
    hits = found(tmp_path / "b", fastapi_app(app__account=weak, app__main=main), "PR240")
    assert [m.split(" has")[0] for _, _, m in hits] == ["POST /invitations/{token}/register"], hits


# -- webhooks (PR201, PR206) ----------------------------------------------------------------------

WEBHOOK = """
import hashlib, hmac, os
from flask import Blueprint, abort, request

hooks = Blueprint("hooks", __name__)
SIGNING_SECRET = os.getenv("PAYMENTS_SIGNING_SECRET")


def signature_ok(body, header):
    expected = hmac.new(SIGNING_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header or "")


@hooks.route("/payments/events", methods=["POST"])
def payment_events():
{check}
    return {{"ok": True}}
"""
FLASK_MAIN = """
from flask import Flask
from flask_login import login_required
from app.hooks import hooks

app = Flask(__name__)
app.register_blueprint(hooks)


@app.route("/notes", methods=["POST"])
@login_required
def create_note():
    return {}
"""


def _webhook(check: str) -> dict[str, str]:
    return {"app/__init__.py": "", "app/main.py": FLASK_MAIN, "app/hooks.py": WEBHOOK.format(check=check)}


def test_a_webhook_recognised_by_its_hmac_check_is_public(tmp_path):
    check = '    if not signature_ok(request.get_data(), request.headers.get("X-Signature")):\n        abort(401)'
    assert found(tmp_path, _webhook(check), "PR201", "PR206") == []


def test_a_webhook_whose_check_is_skipped_without_a_secret_is_found(tmp_path):
    check = '    if SIGNING_SECRET:\n        if not signature_ok(request.get_data(), request.headers.get("X-Signature")):\n            abort(401)'
    hits = found(tmp_path, _webhook(check), "PR201", "PR206")
    assert [rule for rule, _, _ in hits] == ["PR206"], hits
    early = '    if not SIGNING_SECRET:\n        return {"ok": True}\n    if not signature_ok(request.get_data(), request.headers.get("X-Signature")):\n        abort(401)'
    assert [rule for rule, _, _ in found(tmp_path / "b", _webhook(early), "PR206")] == ["PR206"]
    refuses = '    if not SIGNING_SECRET:\n        abort(503)\n    if not signature_ok(request.get_data(), request.headers.get("X-Signature")):\n        abort(401)'
    assert found(tmp_path / "c", _webhook(refuses), "PR206") == []


# -- where routes are served ------------------------------------------------------------------------

DEBUG_ROUTES = """
from fastapi import APIRouter
from app.db import Note, get_db

debug = APIRouter(prefix="/debug")


@debug.delete("/notes/{note_id}")
def drop_note(note_id: int, db=None):
    db.query(Note).filter(Note.id == note_id).delete()
"""


def test_a_router_mounted_only_in_development_needs_no_login(tmp_path):
    main = """
import os
from fastapi import FastAPI
from app.notes import router
from app.debug import debug

app = FastAPI()
app.include_router(router)
if os.getenv("ENV") == "development":
    app.include_router(debug)
"""
    assert found(tmp_path, fastapi_app(app__debug=DEBUG_ROUTES, app__main=main), "PR201") == []
    always = main.replace('if os.getenv("ENV") == "development":\n    app.include_router(debug)', "app.include_router(debug)")
    hits = found(tmp_path / "b", fastapi_app(app__debug=DEBUG_ROUTES, app__main=always), "PR201")
    assert [m.split(" changes")[0] for _, _, m in hits] == ["DELETE /debug/notes/{note_id}"], hits


def test_a_router_nothing_mounts_is_not_served(tmp_path):
    assert found(tmp_path, fastapi_app(app__debug=DEBUG_ROUTES), "PR201") == []


def test_an_auth_dependency_in_a_file_that_does_not_parse_is_unknown_not_missing(tmp_path):
    member = """
from fastapi import Depends, HTTPException
from app.deps import get_current_user


def require_member(user=Depends(get_current_user)):
    return user
"""
    broken = member + "\n\ndef later():\n    try:\n        pass\n    except ValueError, TypeError:\n        pass\n"
    notes = NOTES.replace("from app.deps import get_current_user", "from app.deps import get_current_user\nfrom app.members import require_member")
    notes = notes.replace("def delete_note(note_id: int, user=Depends(get_current_user)", "def delete_note(note_id: int, user=Depends(require_member)")
    assert found(tmp_path, fastapi_app(app__members=broken, app__notes=notes), "PR201") == []
    # the same dependency, readable and checking nothing, leaves the route open
    plain = member.replace("user=Depends(get_current_user)", "user=None").replace("from app.deps import get_current_user\n", "")
    hits = found(tmp_path / "b", fastapi_app(app__members=plain, app__notes=notes), "PR201")
    assert [m.split(" changes")[0] for _, _, m in hits] == ["DELETE /notes/{note_id}"], hits


def test_a_session_cookie_decoded_but_never_signed_is_found(tmp_path):
    app = """
import base64, json
from functools import wraps
from flask import Flask, abort, g, request

app = Flask(__name__)


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        raw = request.cookies.get("session_data")
        if raw is None:
            abort(401)
        g.user = {read}
        return view(*args, **kwargs)
    return wrapped


@app.route("/notes", methods=["POST"])
@login_required
def create_note():
    return {{}}
"""
    hits = found(tmp_path, app.format(read="json.loads(base64.b64decode(raw))"), "PR204", "PR201")
    assert [rule for rule, _, _ in hits] == ["PR204"] and "never signs" in hits[0][2], hits
    signed = app.format(read="serializer.loads(raw)").replace("app = Flask(__name__)", "app = Flask(__name__)\nserializer = URLSafeSerializer('k')")
    assert found(tmp_path / "b", signed.replace("import base64, json", "from itsdangerous import URLSafeSerializer"), "PR204", "PR201") == []


# -- auth resolved across files: aliases, router and include_router dependencies, roles ---------------

ADMIN_DEPS = SECURE_DEPS + """

def require_admin(user=Depends(get_current_user)):
    if not user.is_admin:
        raise HTTPException(status_code=403)
    return user
"""
ADMIN_ROUTES = """
from typing import Annotated
from fastapi import APIRouter, Depends, Security
from app.db import User, get_db
from app.deps import get_current_user

CurrentUser = Annotated[User, Depends(get_current_user)]
router = APIRouter()


@router.delete("/users/{user_id}")
def delete_user(user_id: int, me: CurrentUser, db=Depends(get_db)):
    db.query(User).filter(User.id == user_id).delete()
"""


def _admin_app(main: str, routes: str = ADMIN_ROUTES) -> dict[str, str]:
    return fastapi_app(app__deps=ADMIN_DEPS, app__admin=routes, app__main=main)


def test_a_role_from_include_router_dependencies_covers_the_routes(tmp_path):
    main = (
        "from fastapi import Depends, FastAPI\nfrom app.admin import router as admin\nfrom app.deps import require_admin\n"
        "from app.notes import router\napp = FastAPI()\napp.include_router(router)\n"
        'app.include_router(admin, prefix="/admin", dependencies=[Depends(require_admin)])\n'
    )
    assert found(tmp_path, _admin_app(main), "PR201", "PR202") == []
    bare = main.replace(", dependencies=[Depends(require_admin)]", "")
    hits = found(tmp_path / "b", _admin_app(bare), "PR201", "PR202")
    assert [(rule, m.split(" ")[1]) for rule, _, m in hits] == [("PR202", "/admin/users/{user_id}")], hits


def test_security_scopes_and_httpauth_roles_are_role_checks(tmp_path):
    main = "from fastapi import FastAPI\nfrom app.admin import router as admin\nfrom app.notes import router\napp = FastAPI()\napp.include_router(router)\napp.include_router(admin, prefix='/admin')\n"
    scoped = ADMIN_ROUTES.replace("me: CurrentUser", 'me=Security(get_current_user, scopes=["admin"])')
    assert found(tmp_path, _admin_app(main, scoped), "PR202") == []
    flask = """
from flask import Flask
from flask_httpauth import HTTPTokenAuth
app = Flask(__name__)
auth = HTTPTokenAuth()


@app.route("/admin/reindex", methods=["POST"])
@auth.login_required({role})
def reindex():
    return {{}}
"""
    assert found(tmp_path / "b", flask.format(role='role="admin"'), "PR202") == []
    assert [rule for rule, _, _ in found(tmp_path / "c", flask.format(role=""), "PR202")] == ["PR202"]


def test_a_token_issued_after_a_one_time_code_compared_by_hand_is_a_login(tmp_path):
    route = """
import jwt
from fastapi import APIRouter, Depends, HTTPException
from app.db import User, get_db

router = APIRouter()


@router.post("/sessions/otp")
def with_code(body: dict, db=Depends(get_db)):
    user = db.query(User).filter(User.username == body["username"]).first()
    {check}
    return {{"access_token": jwt.encode({{"sub": str(user.id)}}, "k", algorithm="HS256")}}
"""
    main = "from fastapi import FastAPI\nfrom app.notes import router\nfrom app.otp import router as otp\napp = FastAPI()\napp.include_router(router)\napp.include_router(otp)\n"
    checked = route.format(check='if user is None or body["code"] != user.otp_code:\n        raise HTTPException(status_code=401)')
    assert found(tmp_path, fastapi_app(app__otp=checked, app__main=main), "PR205") == []
    unchecked = route.format(check="if user is None:\n        raise HTTPException(status_code=401)")
    assert [rule for rule, _, _ in found(tmp_path / "b", fastapi_app(app__otp=unchecked, app__main=main), "PR205")] == ["PR205"]


def test_an_auth_middleware_guards_the_routes_but_the_login_it_lets_through_still_needs_a_rate_limit(tmp_path):
    app = """
import jwt
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from passlib.context import CryptContext

app = FastAPI()
pwd_context = CryptContext(schemes=["bcrypt"])
USERS = {}


@app.middleware("http")
async def require_token(request: Request, call_next):
    if request.url.path != "/login":
        try:
            request.state.user = jwt.decode(request.headers.get("Authorization", ""), "k", algorithms=["HS256"])
        except jwt.PyJWTError:
            return JSONResponse({"detail": "login required"}, status_code=401)
    return await call_next(request)


@app.post("/login")
def login(body: dict):
    user = USERS.get(body["email"])
    if user is None or not pwd_context.verify(body["password"], user["hash"]):
        raise HTTPException(status_code=401)
    return {"token": jwt.encode({"sub": body["email"]}, "k", algorithm="HS256")}


@app.delete("/notes/{note_id}")
def delete_note(note_id: int):
    return {}
"""
    hits = found(tmp_path, {"app.py": app}, "PR201", "PR240")
    assert [(rule, m.split(" has")[0]) for rule, _, m in hits] == [("PR240", "POST /login")], hits


def test_passwords_kept_as_typed_are_found_once_per_function(tmp_path):
    """VAmPI stores the password the client sent and compares it with `==` in its login."""
    app = (
        "from flask import Flask, jsonify, request\n\napp = Flask(__name__)\n\n\n"
        "@app.route('/login', methods=['POST'])\ndef login():\n    data = request.get_json()\n    user = find(data.get('username'))\n"
        "    if user and data.get('password') == user.password:\n        return jsonify(ok=True)\n"
        "    if user and data.get('password') != user.password:\n        return jsonify(ok=False), 401\n    return jsonify(ok=False), 404\n"
    )
    result = scan_project(write_project(tmp_path, {"app.py": app}), select=["PR214"])
    assert [(f.rule, f.line) for f in result.findings] == [("PR214", 10)]

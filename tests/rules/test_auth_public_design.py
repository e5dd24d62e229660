"""Patterns from carefully built apps that must give no auth finding, each next to a twin that
must: a dependency returned by a factory (`Depends(get_current_user_authorizer())`), a blog
whose posts the web pages show without login while its API sits behind one, a profile page by
user name, and a password-reset request that mails its token from a background task."""

from __future__ import annotations

from tests.helpers import scan_project, write_project


def found(tmp_path, files, *codes):
    result = scan_project(write_project(tmp_path, files), select=list(codes))
    return [(f.rule, f.message) for f in result.findings if f.rule in codes]


AUTHORIZER = """
import jwt
from fastapi import Depends, Header, HTTPException


def _get_current_user(authorization: str = Header("")):
    try:
        return jwt.decode(authorization, "k", algorithms=["HS256"])["sub"]
    except jwt.PyJWTError:
        raise HTTPException(status_code=403)


def _get_current_user_optional(authorization: str = Header("")):
    return None


def get_current_user_authorizer(*, required: bool = True):
    return _get_current_user if required else _get_current_user_optional
"""

ARTICLES = """
from fastapi import APIRouter, Depends, FastAPI
from app.auth import get_current_user_authorizer

router = APIRouter()


@router.get("/me")
def me(user=Depends(get_current_user_authorizer())):
    return {{"user": user}}


@router.post("/articles/{{slug}}/favorite")
def favorite(slug: str, user=Depends(get_current_user_authorizer({required}))):
    return {{"slug": slug}}


app = FastAPI()
app.include_router(router)
"""


def test_a_dependency_returned_by_a_factory_is_the_routes_login(tmp_path):
    files = {"app/__init__.py": "", "app/auth.py": AUTHORIZER, "app/main.py": ARTICLES.format(required="")}
    assert found(tmp_path, files, "PR201", "PR205") == []
    # the optional variant lets everyone in: a change of data then needs a login of its own
    files["app/main.py"] = ARTICLES.format(required="required=False")
    hits = found(tmp_path / "b", files, "PR201")
    assert [m.split(" changes")[0] for _, m in hits] == ["POST /articles/{slug}/favorite"], hits


BLOG_MODELS = """
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class User(db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String, unique=True)


class Post(db.Model):
    __tablename__ = "posts"
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.Text)
    author_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
"""

BLOG_WEB = """
from flask import Blueprint, render_template
from app.models import Post, User

main = Blueprint("main", __name__)


@main.route("/post/<int:id>")
def post(id):
    return render_template("post.html", post=Post.query.get_or_404(id))


@main.route("/user/<username>")
def user(username):
    user = User.query.filter_by(username=username).first_or_404()
    posts = Post.query.filter_by(author_id=user.id).all()
    return render_template("user.html", user=user, posts=posts)
"""

BLOG_API = """
from flask import Blueprint, g, jsonify
from flask_httpauth import HTTPBasicAuth
from app.models import Post

api = Blueprint("api", __name__)
auth = HTTPBasicAuth()


@api.before_request
@auth.login_required
def before_request():
    pass


@api.route("/posts/<int:id>")
def get_post(id):
    return jsonify(body=Post.query.get_or_404(id).body)
"""


BLOG_APP = """
from flask import Flask
from app.api import api
from app.web import main

app = Flask(__name__)
app.register_blueprint(main)
app.register_blueprint(api, url_prefix="/api")
"""


def _blog(**changes: str) -> dict[str, str]:
    files = {"app/__init__.py": BLOG_APP, "app/models.py": BLOG_MODELS, "app/web.py": BLOG_WEB, "app/api.py": BLOG_API}
    files.update({f"app/{k}.py": v for k, v in changes.items()})
    return files


def test_posts_the_web_pages_show_without_login_are_no_ownership_gap_in_the_api(tmp_path):
    assert found(tmp_path, _blog(), "PR203") == []


def test_without_a_public_page_the_api_read_by_id_is_an_ownership_gap(tmp_path):
    web = BLOG_WEB.split('@main.route("/post/<int:id>")')[0]
    hits = found(tmp_path, _blog(web=web), "PR203")
    assert hits == [("PR203", "GET /api/posts/<int:id> loads posts by id from the path without checking it belongs to the current user")], hits


def test_a_profile_page_by_user_name_is_public_but_one_by_id_is_reported(tmp_path):
    # (GET /post/<int:id> is a read no other route guards: reported at low confidence, as before)
    assert [m for _, m in found(tmp_path, _blog(), "PR201") if "/user/" in m] == []
    by_id = BLOG_WEB.replace('"/user/<username>"', '"/user/<int:user_id>"').replace("def user(username):", "def user(user_id):")
    by_id = by_id.replace("filter_by(username=username)", "filter_by(id=user_id)")
    hits = [m for _, m in found(tmp_path / "b", _blog(web=by_id), "PR201") if "/user/" in m]
    assert [m.split(" returns")[0] for m in hits] == ["GET /user/<int:user_id>"], hits


RESET = """
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI
from app.tokens import create_token

router = APIRouter()
USERS = {{}}


def send_email(to, template, data):
    pass


@router.post("/account/recovery")
def recover(body: dict, background: BackgroundTasks):
    user = USERS.get(body["email"])
    if user is not None:
        token = create_token(user["id"], purpose="password-reset")
        {send}
    return {{"status": "accepted"}}


app = FastAPI()
app.include_router(router)
"""
TOKENS = "import jwt\n\ndef create_token(sub, purpose='access'):\n    return jwt.encode({'sub': str(sub), 'purpose': purpose}, 'k', algorithm='HS256')\n"


def test_a_reset_request_mailing_its_token_is_no_token_for_anyone_but_needs_a_rate_limit(tmp_path):
    files = {"app/__init__.py": "", "app/tokens.py": TOKENS, "app/main.py": RESET.format(send='background.add_task(send_email, body["email"], "reset", {"token": token})')}
    hits = found(tmp_path, files, "PR205", "PR240")
    assert [r for r, _ in hits] == ["PR240"], hits
    files["app/main.py"] = RESET.format(send="return {'token': token}")
    hits = found(tmp_path / "b", files, "PR205", "PR240")
    assert [r for r, _ in hits] == ["PR205"], hits


FACTORY_OWNED = """
from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import Column, ForeignKey, Integer
from sqlalchemy.orm import declarative_base
from app.auth import get_current_user_authorizer

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)


class Draft(Base):
    __tablename__ = "drafts"
    id = Column(Integer, primary_key=True)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)


router = APIRouter()


@router.get("/drafts/{{draft_id}}")
def get_draft(draft_id: int, user=Depends(get_current_user_authorizer()), db=None):
    return db.query(Draft).filter(Draft.id == draft_id{owner}).first()


app = FastAPI()
app.include_router(router)
"""


def test_the_user_from_a_dependency_factory_counts_in_ownership_checks(tmp_path):
    files = {"app/__init__.py": "", "app/auth.py": AUTHORIZER, "app/main.py": FACTORY_OWNED.format(owner=", Draft.owner_id == user")}
    assert found(tmp_path, files, "PR203", "PR201") == []
    files["app/main.py"] = FACTORY_OWNED.format(owner="")
    assert [r for r, _ in found(tmp_path / "b", files, "PR203", "PR201")] == ["PR203"]


LOGIN_SERVICE = """
from fastapi import APIRouter, FastAPI, HTTPException
from passlib.context import CryptContext

pwd_context = CryptContext(schemes=["argon2"])
DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA"
USERS = {{}}
router = APIRouter()


def authenticate(email, password):
    user = USERS.get(email)
    if user is None:
        pwd_context.verify(password, DUMMY_HASH)  # the same time whether or not the account exists
        {after}
    if not pwd_context.verify(password, user["hash"]):
        return None
    return user


@router.post("/login/access-token")
def login(body: dict):
    user = authenticate(body["email"], body["password"])
    if user is None:
        raise HTTPException(status_code=400)
    return {{"access_token": "t"}}


app = FastAPI()
app.include_router(router)
"""


def test_a_verify_run_only_to_even_out_timing_is_not_an_ignored_answer(tmp_path):
    assert found(tmp_path, {"app.py": LOGIN_SERVICE.format(after="return None")}, "PR207") == []
    hits = found(tmp_path / "b", {"app.py": LOGIN_SERVICE.format(after="pass")}, "PR207")
    assert [r for r, _ in hits] == ["PR207"], hits


RESET_CONFIRM = """
from fastapi import APIRouter, FastAPI, HTTPException
from passlib.context import CryptContext
{imports}

pwd_context = CryptContext(schemes=["bcrypt"])
router = APIRouter()


@router.post("/reset-password/")
def reset_password(body: dict, db=None):
    {lookup}
    user.hashed_password = pwd_context.hash(body["new_password"])
    return {{"msg": "Password updated"}}


app = FastAPI()
app.include_router(router)
"""


def test_a_new_password_set_with_a_signed_token_needs_no_rate_limit_but_a_short_code_does(tmp_path):
    signed = RESET_CONFIRM.format(
        imports="import jwt", lookup='email = jwt.decode(body["token"], "k", algorithms=["HS256"])["sub"]\n    user = db.get_user(email)'
    )
    assert found(tmp_path, {"app.py": signed}, "PR240", "PR201") == []
    code = RESET_CONFIRM.format(imports="", lookup='user = db.query(User).filter(User.reset_code == body["code"]).first()')
    hits = found(tmp_path / "b", {"app.py": code}, "PR240", "PR201")
    assert [r for r, _ in hits] == ["PR240"], hits


API_MODELS = """
from flask_sqlalchemy import SQLAlchemy
from werkzeug.security import generate_password_hash

db = SQLAlchemy()


class User(db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String, unique=True)
    password_hash = db.Column(db.String)
    is_admin = db.Column(db.Boolean, default=False)

    @property
    def password(self):
        raise AttributeError("write only")

    @password.setter
    def password(self, value):
        self.password_hash = generate_password_hash(value)
"""

API = """
import requests
from apifairy import authenticate, body
from flask import Blueprint, abort, session
from flask_httpauth import HTTPTokenAuth
from app.models import User, db

api = Blueprint("api", __name__)
token_auth = HTTPTokenAuth()


@api.route("/users", methods=["POST"])
@body(object)
def register(args):
    user = User(**args)
    db.session.add(user)
    db.session.commit()
    return {{"id": user.id}}


@api.route("/tokens/reset", methods=["PUT"])
def password_reset(args):
    user = User.verify_reset_token(args["token"])
    if user is None:
        abort(400)
    user.password = args["new_password"]
    db.session.commit()
    return {{}}


@api.route("/tokens/oauth2/<provider>", methods=["POST"])
def oauth2_new(args, provider):
    if args["state"] != session.get("oauth2_state"):
        abort(401)
    reply = requests.post("https://provider/token", data={{"code": args["code"], "grant_type": "authorization_code"}}, timeout=5)
    user = User(email=reply.json()["email"])
    db.session.add(user)
    return {{"access_token": user.generate_auth_token()}}


@api.route("/me/following/<int:id>", methods=["POST"])
@authenticate(token_auth)
def follow(id):
    me = token_auth.current_user()
    followed = db.session.get(User, id) or abort(404)
    me.follow(followed)
    db.session.commit()
    return {{}}


@api.route("/users/<int:id>", methods=["PATCH"])
@authenticate(token_auth)
def update_user(id):
    user = db.session.get(User, id) or abort(404)
    {change}
    db.session.commit()
    return {{}}
"""


def _api(change: str) -> dict[str, str]:
    return {"app/__init__.py": "", "app/models.py": API_MODELS, "app/api.py": API.format(change=change)}


def test_an_apifairy_api_registration_reset_and_oauth_sign_in_are_public_by_what_they_do(tmp_path):
    hits = found(tmp_path, _api("pass"), "PR201", "PR202", "PR240")
    # signing up is public but can be abused by bots; the reset takes a signed token; OAuth has a code
    assert hits == [("PR240", "POST /users has no rate limit: passwords and signups can be tried at full speed")], hits


def test_following_another_user_is_no_change_to_their_account_but_editing_it_is(tmp_path):
    assert [m for _, m in found(tmp_path, _api("pass"), "PR202")] == []
    hits = found(tmp_path / "b", _api('user.email = "x@y.z"'), "PR202")
    assert [m.split(" changes")[0] for _, m in hits] == ["PATCH /users/<int:id>"], hits


SELF_CHECKED = """
import jwt
from flask import Flask, Response, request
from werkzeug.security import generate_password_hash
from flask_login import login_required

app = Flask(__name__)
USERS = {{}}


@app.route("/notes", methods=["POST"])
@login_required
def create_note():
    return {{}}


@app.route("/users/<username>/password", methods=["PUT"])
def update_password(username):
    token = {token}
    try:
        claims = jwt.decode(token, "k", algorithms=["HS256"])
    except jwt.PyJWTError:
        return Response("bad token", 401)
    USERS[username] = generate_password_hash(request.json["password"])
    return {{}}
"""


def test_a_handler_checking_the_callers_own_token_is_no_password_reset(tmp_path):
    # the Authorization header: a logged-in route that checks its token itself (no rate limit, no PR201)
    header = SELF_CHECKED.format(token='request.headers.get("Authorization")')
    assert found(tmp_path, {"app.py": header}, "PR201", "PR240") == []
    # a token from the body that sets a new password: a password reset, public by design
    body = SELF_CHECKED.format(token='request.json["token"]')
    assert found(tmp_path / "b", {"app.py": body}, "PR201", "PR240") == []
    from auditor.index.auth_model import auth_model

    roles = {}
    for folder, text in (("c", header), ("d", body)):
        result = scan_project(write_project(tmp_path / folder, {"app.py": text}), select=["PR201"])
        model = auth_model(result.index)
        route = next(r for r in result.index.routes if "password" in r.path)
        roles[folder] = (model.of(route).role, model.of(route).guarded)
    assert roles == {"c": (None, True), "d": ("password-reset", False)}


def test_changing_another_users_password_by_user_name_needs_a_role(tmp_path):
    app = """
from flask import Flask, abort, request
from flask_login import current_user, login_required
from app.models import User, db

app = Flask(__name__)


@app.route("/users/<username>/password", methods=["PUT"])
@login_required
def set_password(username):
    user = User.query.filter_by(email=username).first_or_404()
    {check}
    user.password = request.json["password"]
    db.session.commit()
    return {{}}
"""
    files = {"app/__init__.py": "", "app/models.py": API_MODELS}
    hits = found(tmp_path, {**files, "app/main.py": app.format(check="")}, "PR202")
    assert [m.split(" changes")[0] for _, m in hits] == ["PUT /users/<username>/password"], hits
    own = app.format(check="if user.id != current_user.id:\n        abort(403)")
    assert found(tmp_path / "b", {**files, "app/main.py": own}, "PR202") == []

"""PR202/PR203 and ownership checks a handler already makes: comparing the object (or the path
id) with the logged-in user and answering 403/404 is no gap, whichever way the app reads the user
(a FastAPI dependency, Flask-Login's current_user, a Flask-HTTPAuth object, g.current_user), and
also when a helper it calls does the comparison. Each case has a twin without the check that is
reported, so the tests fail if the rule stops looking."""

from __future__ import annotations

import pytest

from tests.helpers import scan_project, write_project

FLASK_MODELS = """
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(120))


class Note(db.Model):
    __tablename__ = "notes"
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.Text)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
"""

HTTPAUTH = """
from flask_httpauth import HTTPTokenAuth

from models import User

token_auth = HTTPTokenAuth()


@token_auth.verify_token
def verify_token(token):
    return User.query.filter_by(email=token).first()
"""

HTTPAUTH_API = """
from flask import Blueprint, abort, jsonify, request

from auth import token_auth
from models import Note, User, db

api = Blueprint("api", __name__)


@api.route("/users/<int:id>", methods=["PUT"])
@token_auth.login_required
def update_user(id):
    {check}
    user = db.session.get(User, id)
    user.email = request.get_json()["email"]
    db.session.commit()
    return jsonify(id=user.id)


@api.route("/notes/<int:id>")
@token_auth.login_required
def get_note(id):
    note = db.session.get(Note, id)
    {note_check}
    return jsonify(body=note.body)
"""

FLASK_LOGIN_VIEWS = """
from flask import Blueprint, abort, jsonify, request
from flask_login import current_user, login_required

from models import Note, User, db

web = Blueprint("web", __name__)


def note_or_404(id):
    note = db.session.get(Note, id)
    {helper_check}
    return note


@web.route("/users/<int:id>/email", methods=["POST"])
@login_required
def change_email(id):
    {check}
    user = db.session.get(User, id)
    user.email = request.form["email"]
    db.session.commit()
    return "ok"


@web.route("/notes/<int:id>", methods=["DELETE"])
@login_required
def delete_note(id):
    note_or_404(id)
    Note.query.filter_by(id=id).delete()
    db.session.commit()
    return jsonify(ok=True)
"""

FASTAPI_APP = {
    "models.py": """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)


class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)
""",
    "deps.py": """
from fastapi import HTTPException


def get_current_user(token: str = ""):
    if not token:
        raise HTTPException(status_code=401)
    return token
""",
    "app.py": """
from fastapi import Depends, FastAPI, HTTPException

from deps import get_current_user
from models import Task

app = FastAPI()


def task_or_404(db, task_id, user):
    task = db.get(Task, task_id)
    {helper_check}
    return task


@app.get("/tasks/{{task_id}}")
def read_task(task_id: int, db=None, user=Depends(get_current_user)):
    task = db.get(Task, task_id)
    {check}
    return {{"title": task.title}}


@app.delete("/tasks/{{task_id}}")
def delete_task(task_id: int, db=None, user=Depends(get_current_user)):
    task_or_404(db, task_id, user)
    db.query(Task).filter(Task.id == task_id).delete()
""",
}


def findings(tmp_path, files, rule):
    root = write_project(tmp_path, files)
    return sorted((f.rule, f.message.split(" ")[1]) for f in scan_project(root).findings if f.rule == rule)


@pytest.mark.parametrize(
    "check, note_check",
    [
        ("if token_auth.current_user().id != id:\n        abort(403)", "if note is None or note.owner_id != token_auth.current_user().id:\n        abort(404)"),
        ("if id != token_auth.current_user().id:\n        return jsonify(error='forbidden'), 403", "if note.owner_id != token_auth.current_user().id:\n        abort(404)"),
    ],
)
def test_httpauth_compare_and_abort_is_an_ownership_check(tmp_path, check, note_check):
    files = {"models.py": FLASK_MODELS, "auth.py": HTTPAUTH, "api.py": HTTPAUTH_API.format(check=check, note_check=note_check)}
    assert findings(tmp_path / "checked", files, "PR202") == []
    assert findings(tmp_path / "checked", files, "PR203") == []
    bare = {**files, "api.py": HTTPAUTH_API.format(check="pass", note_check="pass")}
    assert findings(tmp_path / "bare", bare, "PR202") == [("PR202", "/users/<int:id>")]
    assert findings(tmp_path / "bare", bare, "PR203") == [("PR203", "/notes/<int:id>")]


def test_flask_login_compare_and_a_helper_that_answers_404_are_ownership_checks(tmp_path):
    views = FLASK_LOGIN_VIEWS.format(
        check="if current_user.id != id:\n        abort(403)",
        helper_check="if note is None or note.owner_id != current_user.id:\n        abort(404)",
    )
    files = {"models.py": FLASK_MODELS, "views.py": views}
    assert findings(tmp_path / "checked", files, "PR202") == []
    assert findings(tmp_path / "checked", files, "PR203") == []
    bare = {**files, "views.py": FLASK_LOGIN_VIEWS.format(check="pass", helper_check="pass")}
    assert findings(tmp_path / "bare", bare, "PR202") == [("PR202", "/users/<int:id>/email")]
    assert findings(tmp_path / "bare", bare, "PR203") == [("PR203", "/notes/<int:id>")]


def test_g_current_user_compare_is_an_ownership_check(tmp_path):
    views = FLASK_LOGIN_VIEWS.format(check="if g.current_user.id != id:\n        abort(403)", helper_check="pass").replace(
        "from flask import Blueprint,", "from flask import Blueprint, g,"
    )
    assert findings(tmp_path, {"models.py": FLASK_MODELS, "views.py": views}, "PR202") == []


def test_fastapi_compare_and_raise_and_a_helper_given_the_user_are_ownership_checks(tmp_path):
    app = FASTAPI_APP["app.py"].format(
        check="if task is None or task.owner_id != user.id:\n        raise HTTPException(status_code=404)",
        helper_check="if task is None or task.owner_id != user.id:\n        raise HTTPException(status_code=404)",
    )
    assert findings(tmp_path / "checked", {**FASTAPI_APP, "app.py": app}, "PR203") == []
    bare = FASTAPI_APP["app.py"].format(check="pass", helper_check="pass")
    assert findings(tmp_path / "bare", {**FASTAPI_APP, "app.py": bare}, "PR203") == [("PR203", "/tasks/{task_id}"), ("PR203", "/tasks/{task_id}")]


ROLE_VIEWS = """
from functools import wraps

from flask import Blueprint, abort
from flask_login import current_user, login_required

from models import User, db

main = Blueprint("main", __name__)


def permission_required(permission):
    def decorator(f):
        @wraps(f)
        def decorated_function(*args, **kwargs):
            if not current_user.can(permission):
                abort(403)
            return f(*args, **kwargs)
        return decorated_function
    return decorator


def admin_required(f):
    return permission_required(0x80)(f)


@main.route("/edit-profile/<int:id>", methods=["POST"])
@login_required
{decorator}
def edit_profile_admin(id):
    user = db.session.get(User, id)
    user.email = "x"
    db.session.commit()
    return "ok"
"""


def test_a_project_admin_decorator_built_on_a_permission_check_is_a_role_check(tmp_path):
    """flasky's layout: `admin_required` wraps `permission_required(Permission.ADMIN)`."""
    guarded = {"models.py": FLASK_MODELS, "views.py": ROLE_VIEWS.format(decorator="@admin_required")}
    assert findings(tmp_path / "guarded", guarded, "PR202") == []
    bare = {"models.py": FLASK_MODELS, "views.py": ROLE_VIEWS.format(decorator="")}
    assert findings(tmp_path / "bare", bare, "PR202") == [("PR202", "/edit-profile/<int:id>")]

"""PR201/PR202 on a Flask app in blueprints, as people build them: HTML pages behind Flask-Login
(which redirects to its login page) and a JSON API behind Flask-HTTPAuth tokens. Each route gets the
login check of its own neighbours, account-creating routes stay public, no role is checked on a
User model without an admin flag -- and the fixed app is run to show it."""

from __future__ import annotations

from fixers import apply_plan, plan_fixes
from fixers.auth import NO_ADMIN_FLAG
from tests.fixers.roundtrip import read, run_python
from tests.helpers import scan_project, write_project

BLUEPRINT_APP = {
    "app/__init__.py": """
from flask import Flask

from app.extensions import db, login_manager


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="dev", SQLALCHEMY_DATABASE_URI="sqlite://")
    app.config.update(config or {})
    db.init_app(app)
    login_manager.init_app(app)

    from app.web import web
    from app.api import api

    app.register_blueprint(web)
    app.register_blueprint(api, url_prefix="/api")
    return app
""",
    "app/api/__init__.py": """
from flask import Blueprint

api = Blueprint("api", __name__)

from app.api import notes, users  # noqa: E402,F401  (routes register on import)
""",
    "app/api/auth.py": """
from flask import jsonify
from flask_httpauth import HTTPTokenAuth

from app.models import User

token_auth = HTTPTokenAuth(scheme="Bearer")


@token_auth.verify_token
def verify_token(token):
    return User.query.filter_by(token=token).first() if token else None


@token_auth.error_handler
def auth_error(status):
    return jsonify(error="authentication required"), status
""",
    "app/api/notes.py": """
from flask import jsonify, request

from app.api import api
from app.api.auth import token_auth
from app.extensions import db
from app.models import Note


@api.route("/notes")
@token_auth.login_required
def list_notes():
    rows = Note.query.filter_by(owner_id=token_auth.current_user().id).all()
    return jsonify([{"id": n.id, "body": n.body} for n in rows])


@api.route("/notes", methods=["POST"])
@token_auth.login_required
def create_note():
    note = Note(body=request.get_json()["body"], owner_id=token_auth.current_user().id)
    db.session.add(note)
    db.session.commit()
    return jsonify(id=note.id), 201


@api.route("/notes/<int:id>", methods=["DELETE"])
def delete_note(id):
    note = Note.query.filter_by(id=id).first_or_404()
    db.session.delete(note)
    db.session.commit()
    return jsonify(ok=True)
""",
    "app/api/users.py": """
import secrets

from flask import abort, jsonify, request

from app.api import api
from app.api.auth import token_auth
from app.extensions import db
from app.models import User


@api.route("/users", methods=["POST"])
def register():
    data = request.get_json() or {}
    if not data.get("email") or not data.get("password"):
        return jsonify(error="email and password required"), 400
    user = User(email=data["email"], token=secrets.token_hex(16))
    user.set_password(data["password"])
    db.session.add(user)
    db.session.commit()
    return jsonify(id=user.id, token=user.token), 201


@api.route("/users/<int:id>", methods=["PUT"])
@token_auth.login_required
def update_user(id):
    if token_auth.current_user().id != id:
        abort(403)
    user = db.session.get(User, id)
    user.email = request.get_json()["email"]
    db.session.commit()
    return jsonify(id=user.id, email=user.email)


@api.route("/admin/users")
@token_auth.login_required
def admin_users():
    return jsonify([u.email for u in User.query.all()])
""",
    "app/extensions.py": """
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
login_manager = LoginManager()
login_manager.login_view = "web.login"
""",
    "app/models.py": """
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db, login_manager


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(120), unique=True, nullable=False)
    password_hash = db.Column(db.String(256))
    token = db.Column(db.String(64), unique=True, index=True)

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)


class Note(db.Model):
    __tablename__ = "notes"
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.Text, nullable=False)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False, index=True)


@login_manager.user_loader
def load_user(user_id):
    return db.session.get(User, int(user_id))
""",
    "app/web.py": """
from flask import Blueprint, jsonify, redirect, request, url_for
from flask_login import current_user, login_required, login_user

from app.extensions import db
from app.models import Note, User

web = Blueprint("web", __name__)


@web.route("/login", methods=["GET", "POST"])
def login():
    user = User.query.filter_by(email=request.form.get("email")).first()
    if user is None or not user.check_password(request.form.get("password", "")):
        return "bad login", 400
    login_user(user)
    return redirect(url_for("web.notes"))


@web.route("/notes")
@login_required
def notes():
    rows = Note.query.filter_by(owner_id=current_user.id).all()
    return "<br>".join(n.body for n in rows)


@web.route("/notes/<int:id>/archive", methods=["POST"])
def archive_note(id):
    note = db.session.get(Note, id)
    note.body = "[archived] " + note.body
    db.session.commit()
    return jsonify(id=note.id, body=note.body)


@web.route("/notes/<int:id>/rename", methods=["POST"])
def rename_note(id):
    note = db.session.get(Note, id)
    note.body = request.form["body"]
    db.session.commit()
    return redirect(url_for("web.notes"))


@web.route("/notes/<int:id>/delete", methods=["POST"])
@login_required
def delete_note(id):
    note = db.session.get(Note, id)
    if note is None or note.owner_id != current_user.id:
        return "not found", 404
    db.session.delete(note)
    db.session.commit()
    return redirect(url_for("web.notes"))
""",
}


CHECK_BLUEPRINT_APP = """
from app import create_app
from app.extensions import db
from app.models import Note, User

app = create_app()
with app.app_context():
    db.create_all()
    db.session.add_all([User(id=1, email="ann@x.io", token="ann-token"), User(id=2, email="bob@x.io", token="bob-token"),
                        Note(id=1, body="ann's", owner_id=1), Note(id=2, body="bob's", owner_id=2)])
    db.session.commit()
client = app.test_client()

# the JSON API answers the way it always does, with its own JSON 401, not a redirect to a login page
response = client.delete("/api/notes/1")
assert response.status_code == 401 and response.get_json() == {"error": "authentication required"}, response.data
assert client.delete("/api/notes/1", headers={"Authorization": "Bearer ann-token"}).get_json() == {"ok": True}

# signing up still needs no login
response = client.post("/api/users", json={"email": "cat@x.io", "password": "pw"})
assert response.status_code == 201, response.data

# the HTML pages keep Flask-Login's redirect to the login page
response = client.post("/notes/2/rename", data={"body": "x"})
assert response.status_code == 302 and "/login" in response.headers["Location"], response.status_code
"""


def plan_for(root, codes):
    found = [f for f in scan_project(root).findings if f.rule in codes]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    return found, plan, {(f.path, f.line): reason for f, reason in plan.skipped if f in found}


def test_each_route_gets_its_neighbours_login_check_and_the_app_still_works(tmp_path):
    root = write_project(tmp_path, BLUEPRINT_APP)
    found, plan, skipped = plan_for(root, {"PR201", "PR202"})
    fixed = {(p.finding.path, p.finding.rule) for p in plan.fixes if p.finding in found}
    assert fixed == {("app/api/notes.py", "PR201"), ("app/web.py", "PR201")}, (fixed, skipped)
    reasons = sorted(skipped.values())
    # signup hashes a new password and inserts a user: public by what it does, so not reported at all
    assert not any(f.rule == "PR201" and f.message.startswith("POST /api/users ") for f in found), found
    assert any("answers JSON" in r and "login page" in r for r in reasons), reasons
    assert NO_ADMIN_FLAG in reasons
    # the account owner's own check in PUT /api/users/<id> (compare and abort) is not reported
    assert not [f for f in found if f.rule == "PR202" and "PUT" in f.message]
    apply_plan(plan)
    notes = read(root, "app/api/notes.py")
    assert '@api.route("/notes/<int:id>", methods=["DELETE"])\n@token_auth.login_required\ndef delete_note(id):' in notes
    assert notes.count("import") == BLUEPRINT_APP["app/api/notes.py"].count("import")  # token_auth was imported already
    web = read(root, "app/web.py")
    assert '@web.route("/notes/<int:id>/rename", methods=["POST"])\n@login_required\ndef rename_note(id):' in web
    assert '@web.route("/notes/<int:id>/archive", methods=["POST"])\ndef archive_note(id):' in web
    assert "login_required" not in read(root, "app/api/users.py").split("def register")[0].split("@api.route")[-1]
    run_python(root, CHECK_BLUEPRINT_APP)


def test_a_guard_imported_from_another_module_is_imported_the_way_neighbours_do(tmp_path):
    """A new API module with no guarded route of its own reuses its blueprint's HTTPAuth object."""
    files = dict(BLUEPRINT_APP)
    files["app/api/__init__.py"] = BLUEPRINT_APP["app/api/__init__.py"].replace("import notes, users", "import notes, tags, users")
    files["app/api/tags.py"] = """
from flask import jsonify

from app.api import api
from app.extensions import db
from app.models import Note


@api.route("/notes/<int:id>/tags", methods=["DELETE"])
def clear_tags(id):
    note = db.session.get(Note, id)
    db.session.commit()
    return jsonify(ok=True)
"""
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR201" and f.path == "app/api/tags.py"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [p.finding for p in plan.fixes if p.finding in found] == found, plan.skipped
    apply_plan(plan)
    tags = read(root, "app/api/tags.py")
    assert "from app.api.auth import token_auth\n" in tags and "@token_auth.login_required\ndef clear_tags(id):" in tags
    run_python(root, CHECK_BLUEPRINT_APP.split("# signing up")[0].replace("/api/notes/1", "/api/notes/1/tags"))


def test_an_admin_check_on_a_token_api_reads_the_user_from_its_httpauth_object(tmp_path):
    files = dict(BLUEPRINT_APP)
    files["app/models.py"] = BLUEPRINT_APP["app/models.py"].replace(
        "    token = db.Column(db.String(64), unique=True, index=True)\n",
        "    token = db.Column(db.String(64), unique=True, index=True)\n    is_admin = db.Column(db.Boolean, default=False)\n",
    )
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR202"]
    assert [f.message.split(" ")[1] for f in found] == ["/api/admin/users"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [p.finding for p in plan.fixes] == found, plan.skipped
    apply_plan(plan)
    users = read(root, "app/api/users.py")
    assert '        if not (token_auth.current_user().is_admin):\n            return jsonify(error="Administrators only"), 403\n' in users
    # under the login check, so that runs first and answers 401 to callers without a token
    assert '@api.route("/admin/users")\n@token_auth.login_required\n@admin_required\ndef admin_users():' in users
    run_python(
        root,
        CHECK_BLUEPRINT_APP.split("# the JSON API")[0].replace('token="ann-token")', 'token="ann-token", is_admin=True)')
        + """
assert client.get("/api/admin/users").status_code == 401
response = client.get("/api/admin/users", headers={"Authorization": "Bearer bob-token"})
assert response.status_code == 403 and response.get_json() == {"error": "Administrators only"}
assert client.get("/api/admin/users", headers={"Authorization": "Bearer ann-token"}).get_json() == ["ann@x.io", "bob@x.io"]
""",
    )


def test_a_module_with_an_admin_decorator_of_its_own_gets_that_one(tmp_path):
    """flasky's layout: `from ..decorators import admin_required`, used on some routes, forgotten on one."""
    files = dict(BLUEPRINT_APP)
    files["app/decorators.py"] = """
from functools import wraps

from flask import abort
from flask_login import current_user


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
"""
    files["app/web.py"] = BLUEPRINT_APP["app/web.py"].replace(
        "from app.extensions import db\n", "from app.decorators import admin_required\nfrom app.extensions import db\n"
    ) + '''

@web.route("/admin/notes")
@login_required
@admin_required
def all_notes():
    return "<br>".join(n.body for n in Note.query.all())


@web.route("/admin/stats")
@login_required
def stats():
    return str(Note.query.count())
'''
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR202" and f.path == "app/web.py"]
    assert [f.message.split(" ")[1] for f in found] == ["/admin/stats"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [p.finding for p in plan.fixes] == found, plan.skipped
    apply_plan(plan)
    web = read(root, "app/web.py")
    assert web.count("def admin_required") == 0 and web.count("import admin_required") == 1
    assert '@web.route("/admin/stats")\n@login_required\n@admin_required\ndef stats():' in web


def test_a_page_visitors_read_that_logged_in_users_post_to_keeps_its_visitors(tmp_path):
    """flasky's /post/<id>: anyone reads the post, a logged-in user can comment on it."""
    files = dict(BLUEPRINT_APP)
    files["app/web.py"] = BLUEPRINT_APP["app/web.py"] + '''

@web.route("/notes/<int:id>/replies", methods=["GET", "POST"])
def replies(id):
    note = db.session.get(Note, id)
    if request.method == "POST":
        db.session.add(Note(body=request.form["body"], owner_id=current_user.id))
        db.session.commit()
    return note.body
'''
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR201" and "replies" in f.message]
    assert found
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert plan.is_empty and "shows a page to visitors (GET)" in plan.skipped[0][1]

"""PR201 on Flask apps that keep the login in the session with a decorator of their own (the
Flask tutorial's layout): HTML views get that decorator and keep its redirect, a JSON route is not
given a redirect to a login page, and routes next to a blueprint-wide before_request check are
left for the user to move onto that blueprint."""

from __future__ import annotations

from fixers import apply_plan, plan_fixes
from tests.fixers.roundtrip import read, run_python
from tests.helpers import scan_project, write_project

TUTORIAL = {
    "flaskr/__init__.py": """
from flask import Flask


def create_app(database):
    app = Flask(__name__)
    app.config.update(SECRET_KEY="dev", DATABASE=database)

    from flaskr import auth, blog

    app.register_blueprint(auth.bp)
    app.register_blueprint(blog.bp)
    return app
""",
    "flaskr/schema.sql": """
CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE NOT NULL);
CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER NOT NULL REFERENCES users (id), title TEXT NOT NULL);
CREATE INDEX ix_posts_author ON posts (author_id);
""",
    "flaskr/db.py": """
import sqlite3

from flask import current_app, g


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])
    return g.db
""",
    "flaskr/auth.py": """
import functools

from flask import Blueprint, redirect, session, url_for

bp = Blueprint("auth", __name__, url_prefix="/auth")


def login_required(view):
    @functools.wraps(view)
    def wrapped_view(**kwargs):
        if session.get("user_id") is None:
            return redirect(url_for("auth.login"))
        return view(**kwargs)

    return wrapped_view


@bp.route("/login", methods=("GET", "POST"))
def login():
    return "the login form"
""",
    "flaskr/blog.py": """
from flask import Blueprint, jsonify, redirect, request, session, url_for

from flaskr.auth import login_required
from flaskr.db import get_db

bp = Blueprint("blog", __name__)


@bp.route("/")
def index():
    return "the posts"


@bp.route("/create", methods=("POST",))
@login_required
def create():
    db = get_db()
    db.execute("INSERT INTO posts (title, author_id) VALUES (?, ?)", (request.form["title"], session["user_id"]))
    db.commit()
    return redirect(url_for("blog.index"))


@bp.route("/<int:id>/delete", methods=("POST",))
def delete(id):
    db = get_db()
    db.execute("DELETE FROM posts WHERE id = ?", (id,))
    db.commit()
    return redirect(url_for("blog.index"))


@bp.route("/api/posts/<int:id>", methods=("DELETE",))
def api_delete(id):
    db = get_db()
    db.execute("DELETE FROM posts WHERE id = ?", (id,))
    db.commit()
    return jsonify(ok=True)
""",
}

CHECK = """
import os, sqlite3, tempfile
from flaskr import create_app
path = os.path.join(tempfile.mkdtemp(), "t.db")
db = sqlite3.connect(path)
db.executescript(open("flaskr/schema.sql").read())
db.executescript("INSERT INTO users VALUES (1, 'ann'); INSERT INTO users VALUES (2, 'bob');"
                 "INSERT INTO posts VALUES (1, 1, 'ann''s'); INSERT INTO posts VALUES (2, 2, 'bob''s');")
db.commit()
client = create_app(path).test_client()
response = client.post("/1/delete")
assert response.status_code == 302 and "/auth/login" in response.headers["Location"]   # the app's own redirect
with client.session_transaction() as session:
    session["user_id"] = 2
client.post("/1/delete")                                                               # ann's post: kept
client.post("/2/delete")
left = [row[0] for row in sqlite3.connect(path).execute("SELECT id FROM posts")]
assert left == [1], left
"""


def test_html_views_get_the_apps_decorator_and_json_routes_no_redirect(tmp_path):
    root = write_project(tmp_path, TUTORIAL)
    found = [f for f in scan_project(root).findings if f.rule == "PR201"]
    assert sorted(f.message.split(" ")[1] for f in found) == ["/<int:id>/delete", "/api/posts/<int:id>"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [p.finding.message.split(" ")[1] for p in plan.fixes if p.finding in found] == ["/<int:id>/delete"]
    [reason] = [reason for f, reason in plan.skipped if f in found]
    assert reason.startswith("by hand: this route answers JSON, but the app's login check sends people who are not logged in to the HTML login page")
    apply_plan(plan)
    blog = read(root, "flaskr/blog.py")
    assert '@bp.route("/<int:id>/delete", methods=("POST",))\n@login_required\ndef delete(id):' in blog
    assert 'db.execute("DELETE FROM posts WHERE id = ? AND author_id = ?", (id, session["user_id"]))' in blog
    assert '@bp.route("/api/posts/<int:id>", methods=("DELETE",))\ndef api_delete(id):' in blog
    run_python(root, CHECK)


def test_routes_next_to_a_blueprint_guarded_by_a_hook_are_left_by_hand(tmp_path):
    root = write_project(
        tmp_path,
        {
            "schema.sql": "CREATE TABLE reports (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES users(id));",
            "app.py": """
from flask import Blueprint, Flask, jsonify, session

from db import get_db

admin = Blueprint("admin", __name__, url_prefix="/admin")
reports = Blueprint("reports", __name__, url_prefix="/reports")


@admin.before_request
def require_login():
    if "user_id" not in session:
        return jsonify(error="login required"), 401


@admin.route("/reports/<int:id>", methods=["GET"])
def show_report(id):
    return jsonify(get_db().execute("SELECT * FROM reports WHERE id = ? AND owner_id = ?", (id, session["user_id"])).fetchone())


@reports.route("/<int:id>", methods=["DELETE"])
def delete_report(id):
    get_db().execute("DELETE FROM reports WHERE id = ?", (id,))
    return jsonify(ok=True)


app = Flask(__name__)
app.register_blueprint(admin)
app.register_blueprint(reports)
""",
        },
    )
    found = [f for f in scan_project(root).findings if f.rule == "PR201"]
    assert [f.message.split(" ")[1] for f in found] == ["/reports/<int:id>"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert plan.is_empty and "before_request check on their blueprint" in plan.skipped[0][1]


def test_the_user_is_read_the_way_the_routes_own_check_reads_it_or_not_at_all(tmp_path):
    """flasky's API: its blueprint's before_request hook is guarded by Flask-HTTPAuth, while the
    HTML side uses Flask-Login. Flask-Login's current_user is anonymous in the API (no `.id`: a 500
    on every request), so the owner filter is left by hand there; a hook that checks the session's
    user id gives the filter its user."""
    files = {
        "schema.sql": """
CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);
CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id INTEGER REFERENCES users(id), body TEXT);
CREATE INDEX ix_posts_author ON posts (author_id);
""",
        "db.py": "import sqlite3\n\n\ndef get_db():\n    return sqlite3.connect('app.db')\n",
        "app.py": "from flask import Flask\n\nfrom api import api\nfrom session_api import session_api\nfrom web import web\n\napp = Flask(__name__)\nfor bp in (web, api, session_api):\n    app.register_blueprint(bp)\n",
        "web.py": """
from flask import Blueprint
from flask_login import login_required

web = Blueprint("web", __name__)


@web.route("/")
@login_required
def index():
    return "home"
""",
        "api.py": """
from flask import Blueprint, g, jsonify
from flask_httpauth import HTTPBasicAuth

from db import get_db

api = Blueprint("api", __name__)
auth = HTTPBasicAuth()


@auth.verify_password
def verify_password(email, password):
    g.current_user = email
    return True


@api.before_request
@auth.login_required
def before_request():
    if g.current_user.is_anonymous:
        return jsonify(error="forbidden"), 403


@api.route("/posts/<int:id>")
def get_post(id):
    return jsonify(get_db().execute("SELECT body FROM posts WHERE id = ?", (id,)).fetchone())
""",
        "session_api.py": """
from flask import Blueprint, jsonify, session

from db import get_db

session_api = Blueprint("session_api", __name__)


@session_api.before_request
def require_login():
    if "user_id" not in session:
        return jsonify(error="login required"), 401


@session_api.route("/drafts/<int:id>")
def get_draft(id):
    return jsonify(get_db().execute("SELECT body FROM posts WHERE id = ?", (id,)).fetchone())
""",
    }
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR203"]
    assert sorted(f.path for f in found) == ["api.py", "session_api.py"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert {f.path: reason for f, reason in plan.skipped if f in found} == {
        "api.py": "cannot tell how this route reads the logged-in user (its login check is the app's own)"
    }
    apply_plan(plan)
    assert "flask_login" not in read(root, "api.py")
    assert 'get_db().execute("SELECT body FROM posts WHERE id = ? AND author_id = ?", (id, session["user_id"]))' in read(root, "session_api.py")

"""Generated failure-path tests: written from the app's routes, run with its own fixtures, and
able to tell a clean rejection from a 500."""

from __future__ import annotations

import subprocess
import sys

from tests.fixers.roundtrip import fix_project, read

FASTAPI = {
    "app/__init__.py": "",
    "app/main.py": """
import jwt
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

SECRET_KEY = "s" * 32
ALGORITHM = "HS256"
app = FastAPI()
NOTES = {}


class NoteIn(BaseModel):
    title: str = Field(max_length=100)
    stars: int


def get_current_user(authorization: str = Header("")):
    try:
        return jwt.decode(authorization.removeprefix("Bearer "), SECRET_KEY, algorithms=[ALGORITHM])["sub"]
    except jwt.PyJWTError:
        raise HTTPException(status_code=401)


def login(user: str) -> str:
    return jwt.encode({"sub": user, "exp": 4102444800}, SECRET_KEY, algorithm=ALGORITHM)


@app.get("/ping")
def ping():
    return {"ok": True}


@app.post("/notes")
def create_note(note: NoteIn, user=Depends(get_current_user)):
    if note.title in NOTES:
        raise HTTPException(status_code=409)
    NOTES[note.title] = note.stars
    return {"title": note.title}
""",
    "tests/conftest.py": """
import pytest
from fastapi.testclient import TestClient

from app.main import app, login


@pytest.fixture
def client():
    return TestClient(app)


@pytest.fixture
def auth_headers():
    return {"Authorization": f"Bearer {login('ann')}"}
""",
    "tests/test_notes.py": """
def test_create(client, auth_headers):
    assert client.post("/notes", json={"title": "a", "stars": 1}, headers=auth_headers).status_code == 200
""",
}


def run_tests(root) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_failure_paths.py"],
        cwd=root, capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": ""}, timeout=300,
    )


def test_fastapi_failure_paths_pass_on_a_careful_app(tmp_path):
    root, plan, _ = fix_project(tmp_path, FASTAPI, {"PR431"})
    assert plan.files_changed == ["tests/test_failure_paths.py"]
    generated = read(root, "tests/test_failure_paths.py")
    assert '("POST", "/notes", {"title": "title-test", "stars": 1}, True),' in generated
    assert "from app.main import SECRET_KEY, ALGORITHM" in generated
    assert 'request.getfixturevalue("auth_headers")' in generated
    done = run_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "4 passed" in done.stdout  # bodies, duplicate, credentials, burst


def test_the_generated_tests_catch_a_500(tmp_path):
    files = dict(FASTAPI)
    files["app/main.py"] = files["app/main.py"].replace("    NOTES[note.title] = note.stars\n", "    NOTES[note.title] = 1 // (note.stars - 1)\n")
    root, _, _ = fix_project(tmp_path, files, {"PR431"})
    done = run_tests(root)
    assert done.returncode == 1 and "test_duplicate_submission_is_not_a_500" in done.stdout


FLASK = {
    "app/__init__.py": """
import functools

from flask import Flask, jsonify, request, session


def create_app():
    app = Flask(__name__)
    app.secret_key = "test"

    def login_required(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if session.get("user_id") is None:
                return jsonify(error="login required"), 401
            return view(*args, **kwargs)

        return wrapped

    @app.route("/login", methods=["POST"])
    def login():
        session["user_id"] = 1
        return {}

    @app.route("/items", methods=["POST"])
    @login_required
    def create_item():
        data = request.get_json()
        return {"name": data["name"]}, 201

    return app
""",
    "tests/conftest.py": """
import pytest

from app import create_app


@pytest.fixture
def client():
    return create_app().test_client()


@pytest.fixture
def logged_in(client):
    client.post("/login")
    return client
""",
    "tests/test_items.py": "def test_create(logged_in):\n    assert logged_in.post('/items', json={'name': 'mug'}).status_code == 201\n",
}


def test_an_unvalidated_body_is_listed_as_a_known_gap_not_a_failure(tmp_path):
    """Only PR431 is fixed: `request.get_json()["name"]` on a blank body is still a 500. The
    generated test names that gap (xfail with the finding) instead of failing on day one."""
    root, _, _ = fix_project(tmp_path, FLASK, {"PR431"})
    generated = read(root, "tests/test_failure_paths.py")
    assert '"POST", "/items", {"name": "name-test"}, False,' in generated
    assert 'marks=pytest.mark.xfail(strict=False, reason="PR301 not fixed yet (app/__init__.py:' in generated
    assert 'request.getfixturevalue("logged_in")' in generated
    assert '("POST", "/login")' not in generated.split("LOGIN_ROUTES")[1]
    done = run_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]
    # The blank body still crashes (xfailed); a valid body sent twice works (xpassed).
    assert "2 passed, 1 xfailed, 1 xpassed" in done.stdout


TYPED_BODY = {
    "app/__init__.py": "",
    "app/main.py": """
from fastapi import Depends, FastAPI, Header, HTTPException

app = FastAPI()
USERS = {}
NOTES = []


def current_user(authorization: str = Header("")):
    if authorization != "Bearer good":
        raise HTTPException(status_code=401)
    return "ann"


@app.post("/auth/signup")
def signup(payload: dict):
    email = payload["email"].lower()
    if email in USERS:
        raise HTTPException(status_code=409)
    USERS[email] = payload["password"].encode()
    return {"email": email}


@app.post("/auth/login")
def login(payload: dict):
    if USERS.get(payload["email"].lower()) != payload["password"].encode():
        raise HTTPException(status_code=401)
    return {"access_token": "good"}


@app.post("/notes")
def add_note(payload: dict, user=Depends(current_user)):
    NOTES.append(payload["text"].strip())
    return {"count": len(NOTES)}
""",
    "tests/conftest.py": """
import pytest
from fastapi.testclient import TestClient

from app.main import app


@pytest.fixture
def client():
    return TestClient(app)


@pytest.fixture
def auth_headers():
    return {"Authorization": "Bearer good"}
""",
    "tests/test_app.py": """
def test_signup(client):
    assert client.post("/auth/signup", json={"email": "a@b.c", "password": "pw"}).status_code == 200
""",
}


def entries(generated: str, name: str) -> str:
    """The lines of a route list in the generated file, without its comment."""
    block = generated.split(f"{name} = [")[1].split("\n]")[0]
    return "\n".join(line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def test_a_body_the_same_plan_validates_is_asserted_as_fixed(tmp_path):
    """The failure-path tests are written after the other fixes of the plan: the request models
    PR301's fix adds make these routes reject bad bodies, so nothing is marked xfail."""
    root, plan, _ = fix_project(tmp_path, TYPED_BODY, {"PR301", "PR431"})
    generated = read(root, "tests/test_failure_paths.py")
    assert "xfail" not in entries(generated, "BODY_ROUTES")
    assert '("POST", "/notes", {"text": "text-test"}, True),' in entries(generated, "BODY_ROUTES")
    done = run_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "xfailed" not in done.stdout and "xpassed" not in done.stdout


def test_without_the_body_fix_the_gap_is_an_xfail(tmp_path):
    root, _, _ = fix_project(tmp_path, TYPED_BODY, {"PR431"})
    generated = read(root, "tests/test_failure_paths.py")
    body_routes = entries(generated, "BODY_ROUTES")
    assert body_routes.count("pytest.mark.xfail(strict=False") == 3 and "PR301 not fixed yet (app/main.py:" in body_routes
    done = run_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 xfailed" in done.stdout  # a blank body still crashes each handler (KeyError: a 500)


def test_credential_routes_never_need_a_login(tmp_path):
    """The login handler answers 401 itself (the index sees an auth check in it), and signup is
    public: neither is listed among the routes that refuse callers without credentials."""
    root, _, _ = fix_project(tmp_path, TYPED_BODY, {"PR301", "PR431"})
    assert entries(read(root, "tests/test_failure_paths.py"), "LOGIN_ROUTES").strip() == '("POST", "/notes"),'


def test_a_blank_body_is_fine_when_no_field_is_required(tmp_path):
    files = dict(FASTAPI)
    files["app/main.py"] = files["app/main.py"].replace(
        "    title: str = Field(max_length=100)\n    stars: int\n", '    title: str = Field(default="untitled", max_length=100)\n    stars: int = 0\n'
    )
    root, _, _ = fix_project(tmp_path, files, {"PR431"})
    assert '("POST", "/notes", {"title": "title-test", "stars": 1}, False),' in read(root, "tests/test_failure_paths.py")
    done = run_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]


FLASK_LOGIN = {
    "app/__init__.py": """
from flask import Flask, jsonify, redirect, request, url_for
from flask_login import LoginManager, UserMixin, login_required, login_user


class User(UserMixin):
    def __init__(self, user_id):
        self.id = user_id


def create_app():
    app = Flask(__name__)
    app.secret_key = "test"
    login_manager = LoginManager(app)
    login_manager.login_view = "login"

    @login_manager.user_loader
    def load_user(user_id):
        return User(user_id)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            login_user(User("1"))
            return redirect(url_for("profile"))
        return "<form method=post></form>"

    @app.route("/profile")
    @login_required
    def profile():
        return jsonify(id=1)

    @app.route("/notes", methods=["POST"])
    @login_required
    def add_note():
        return jsonify(title=request.form["title"]), 201

    return app
""",
    "tests/conftest.py": """
import pytest

from app import create_app


@pytest.fixture
def client():
    return create_app().test_client()
""",
    "tests/test_app.py": "def test_profile_needs_login(client):\n    assert client.get('/profile').status_code == 302\n",
}  # no logged-in fixture: the body checks of /notes run anonymous, and get the redirect


def test_a_redirect_to_the_login_page_counts_as_refused(tmp_path):
    """Flask-Login with a login_view answers a missing login with a 302 to its login page: the
    generated test accepts that (it used to follow the redirect and see the page's 200)."""
    root, _, _ = fix_project(tmp_path, FLASK_LOGIN, {"PR431"})
    generated = read(root, "tests/test_failure_paths.py")
    assert "DENIED = {301, 302, 303, 307, 401, 403}" in generated
    assert entries(generated, "LOGIN_ROUTES").split() == ['("GET",', '"/profile"),', '("POST",', '"/notes"),']
    done = run_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "test_missing_or_bad_credentials_are_refused" not in done.stdout


def test_an_unauthorized_handler_that_redirects_counts_as_a_login_redirect(tmp_path):
    files = dict(FLASK_LOGIN)
    files["app/__init__.py"] = files["app/__init__.py"].replace(
        '    login_manager.login_view = "login"\n',
        '    @login_manager.unauthorized_handler\n    def unauthorized():\n        return redirect(url_for("login"))\n',
    )
    root, _, _ = fix_project(tmp_path, files, {"PR431"})
    assert "DENIED = {301, 302, 303, 307, 401, 403}" in read(root, "tests/test_failure_paths.py")
    assert run_tests(root).returncode == 0


def test_a_json_api_must_answer_401_or_403(tmp_path):
    root, _, _ = fix_project(tmp_path, FLASK, {"PR431"})
    assert "DENIED = {401, 403}\n" in read(root, "tests/test_failure_paths.py")


TOKEN_HELPER = {
    "app/__init__.py": "",
    "app/tokens.py": """
import jwt


def read_token(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})
""",
    "app/main.py": """
from fastapi import FastAPI
from pydantic import BaseModel, Field

from app.tokens import read_token

app = FastAPI()


class AcceptIn(BaseModel):
    token: str = Field(max_length=500)


@app.post("/invites/accept")
def accept(body: AcceptIn):
    return {"workspace": read_token(body.token).get("workspace_id")}
""",
    "tests/conftest.py": """
import pytest
from fastapi.testclient import TestClient

from app.main import app


@pytest.fixture
def client():
    return TestClient(app)
""",
    "tests/test_app.py": "def test_nothing_yet(client):\n    assert client.get('/docs').status_code == 200\n",
}


def test_a_gap_in_a_helper_the_handler_calls_is_named(tmp_path):
    """The body is validated, but the token it carries is decoded unverified in a helper: any
    non-token string raises there (a 500). The route is marked xfail with that finding."""
    root, _, _ = fix_project(tmp_path, TOKEN_HELPER, {"PR431"})
    body_routes = entries(read(root, "tests/test_failure_paths.py"), "BODY_ROUTES")
    assert 'reason="PR210 not fixed yet (app/tokens.py:5):' in body_routes
    done = run_tests(root)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 xfailed" in done.stdout

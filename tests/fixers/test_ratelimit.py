"""Rate limits on login/signup routes: slowapi for FastAPI, Flask-Limiter for Flask."""

from __future__ import annotations

from tests.fixers.roundtrip import fix_project, read, run_python

FASTAPI = {
    "app/__init__.py": "",
    "app/main.py": """
from fastapi import FastAPI

from app import users

app = FastAPI()
app.include_router(users.router)
""",
    "app/users.py": """
from fastapi import APIRouter

router = APIRouter()


@router.post("/auth/login")
def login(body: dict):
    return {"token": "t"}


@router.post("/auth/signup")
async def signup(body: dict):
    return {"id": 1}
""",
}


def test_fastapi_login_is_limited(tmp_path):
    root, plan, _ = fix_project(tmp_path, FASTAPI, {"PR240"})
    users = read(root, "app/users.py")
    assert '@router.post("/auth/login")\n@limiter.limit(LOGIN_LIMIT)\ndef login(request: Request, body: dict):' in users
    assert '@router.post("/auth/signup")\n@limiter.limit(SIGNUP_LIMIT)\nasync def signup(request: Request, body: dict):' in users
    assert "install_rate_limits(app)" in read(root, "app/main.py")
    assert "slowapi>=0.1.9" in plan.dependencies
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from app.main import app
client = TestClient(app)
codes = [client.post("/auth/login", json={}).status_code for _ in range(6)]
assert codes == [200] * 5 + [429], codes
""",
    )
    run_python(
        root,
        "from fastapi.testclient import TestClient\nfrom app.main import app\nc = TestClient(app)\nassert all(c.post('/auth/login', json={}).status_code == 200 for _ in range(8))\n",
        env={"RATE_LIMIT_ENABLED": "0"},
    )


FLASK = {
    "app/__init__.py": """
from flask import Flask


def create_app():
    app = Flask(__name__)
    from app import auth

    app.register_blueprint(auth.bp, url_prefix="/auth")
    return app
""",
    "app/auth.py": """
from flask import Blueprint

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["POST"])
def login():
    return {"ok": True}


@bp.route("/password/forgot", methods=["POST"])
def forgot_password():
    return {"sent": True}
""",
}


def test_flask_login_is_limited(tmp_path):
    root, plan, _ = fix_project(tmp_path, FLASK, {"PR240"})
    auth = read(root, "app/auth.py")
    assert '@bp.route("/login", methods=["POST"])\n@limiter.limit(LOGIN_LIMIT)\ndef login():' in auth
    assert "@limiter.limit(RESET_LIMIT)\ndef forgot_password():" in auth
    assert "Flask-Limiter>=3.5" in plan.dependencies
    run_python(
        root,
        """
from app import create_app
client = create_app().test_client()
codes = [client.post("/auth/login").status_code for _ in range(6)]
assert codes == [200] * 5 + [429], codes
""",
    )

"""CORS origins from the environment, secure session cookies."""

from __future__ import annotations

from tests.fixers.roundtrip import fix_project, read, run_python

CORS = """
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True, allow_methods=["*"])


@app.get("/me")
def me():
    return {}
"""


def test_fastapi_cors_origins(tmp_path):
    root, _, _ = fix_project(tmp_path, {"main.py": CORS}, {"PR223"})
    assert 'allow_origins=[origin for origin in os.getenv("CORS_ORIGINS", "").split(",") if origin]' in read(root, "main.py")
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from main import app
client = TestClient(app)
assert client.get("/me", headers={"Origin": "https://evil.example"}).headers.get("access-control-allow-origin") is None
assert client.get("/me", headers={"Origin": "https://app.example"}).headers["access-control-allow-origin"] == "https://app.example"
""",
        env={"CORS_ORIGINS": "https://app.example,https://admin.example"},
    )


def test_flask_session_cookie(tmp_path):
    source = "import os\nfrom flask import Flask, session\napp = Flask(__name__)\napp.secret_key = os.environ['SECRET_KEY']\n@app.route('/login', methods=['POST'])\ndef login():\n    session['user_id'] = 1\n    return {}\n"
    root, _, _ = fix_project(tmp_path, source, {"PR224"})
    assert 'app.config.update(SESSION_COOKIE_SECURE=os.getenv("APP_ENV", "development") != "development", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")' in read(root, "app.py")
    cookie = "from app import app\nprint(app.test_client().post('/login').headers['Set-Cookie'])\n"
    assert "Secure" in run_python(root, cookie, env={"SECRET_KEY": "k", "APP_ENV": "production"}).stdout
    assert "Secure" not in run_python(root, cookie, env={"SECRET_KEY": "k", "APP_ENV": "development"}).stdout

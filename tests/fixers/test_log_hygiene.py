"""Tracebacks for handled errors, secrets out of log lines."""

from __future__ import annotations

from tests.fixers.roundtrip import fix_project, read


def test_fastapi_and_flask_log_calls(tmp_path):
    files = {
        "api.py": """
import logging

from fastapi import FastAPI

logger = logging.getLogger(__name__)
app = FastAPI()


@app.post("/login")
def login(email: str, password: str):
    token = "t"
    logger.info("login ok %s %s", email, token)
    try:
        charge()
    except Exception as e:
        logger.error(str(e))
    return {}
""",
        "shop.py": """
import logging

from flask import Flask

shop = Flask(__name__)


@shop.route("/signup", methods=["POST"])
def signup(email="a", password="b"):
    logging.info(f"new signup {email} password={password}")
    return {}
""",
    }
    root, _, _ = fix_project(tmp_path, files, {"PR511", "PR530"})
    api = read(root, "api.py")
    assert 'logger.info("login ok %s %s", email, "[redacted]")' in api
    assert "logger.exception(str(e))" in api
    assert 'logging.info(f"new signup {email} password=[redacted]")' in read(root, "shop.py")

"""Staging codemods: docs in development only, a /health route that checks the database,
.env.example and .env.staging."""

from __future__ import annotations

from tests.fixers.roundtrip import fix_project, read, run_python

FASTAPI = {
    "app/__init__.py": "",
    "app/database.py": """
import os

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine(os.environ.get("DATABASE_URL", "sqlite://"))
SessionLocal = sessionmaker(bind=engine)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
""",
    "app/main.py": """
import os

from fastapi import Depends, FastAPI

from app.database import get_db

SECRET = os.getenv("API_TOKEN", "")
app = FastAPI(title="TaskFlow API")


@app.get("/tasks")
def tasks(db=Depends(get_db)):
    return []
""",
}


def test_fastapi_docs_health_and_env_files(tmp_path):
    root, _, _ = fix_project(tmp_path, FASTAPI, {"PR420", "PR421", "PR422", "PR430"})
    main = read(root, "app/main.py")
    assert 'DOCS_ENABLED = os.getenv("APP_ENV", "development") == "development"\n\napp = FastAPI(' in main
    assert 'docs_url="/docs" if DOCS_ENABLED else None, redoc_url="/redoc" if DOCS_ENABLED else None, openapi_url="/openapi.json" if DOCS_ENABLED else None' in main
    assert '@app.get("/health", include_in_schema=False)\ndef health(db=Depends(get_db)):' in main
    example = read(root, ".env.example")
    assert "APP_ENV=development\n" in example and "DATABASE_URL" in example and "API_TOKEN" in example
    assert read(root, ".env.staging").startswith("# Staging") and "APP_ENV=staging\n" in read(root, ".env.staging")
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from app.main import app
client = TestClient(app)
assert client.get("/health").json() == {"status": "ok", "database": "ok"}
assert client.get("/openapi.json").status_code == 200
""",
    )
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from app.main import app
client = TestClient(app)
assert client.get("/openapi.json").status_code == 404 and client.get("/docs").status_code == 404
response = client.get("/health")
assert response.status_code == 503 and response.json()["database"] == "unreachable"
""",
        env={"APP_ENV": "production", "DATABASE_URL": "sqlite:////nonexistent/dir/x.db"},
    )


FLASK = {
    "app/__init__.py": """
import os

from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["DATABASE"] = os.environ.get("DATABASE_PATH", "shop.db")

    from app import items

    app.register_blueprint(items.bp, url_prefix="/items")
    return app
""",
    "app/db.py": """
import sqlite3

from flask import current_app, g


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(current_app.config["DATABASE"])
    return g.db
""",
    "app/items.py": """
from flask import Blueprint

from app.db import get_db

bp = Blueprint("items", __name__)


@bp.route("/")
def list_items():
    return {"items": get_db().execute("SELECT 1").fetchall()}
""",
}


def test_flask_health_and_env_files(tmp_path):
    root, _, _ = fix_project(tmp_path, FLASK, {"PR420", "PR421", "PR430"})
    init = read(root, "app/__init__.py")
    assert '    app = Flask(__name__)\n    @app.route("/health")\n    def health():' in init
    assert 'get_db().execute("SELECT 1")' in init
    assert "DATABASE_PATH=shop.db" in read(root, ".env.example")
    run_python(
        root,
        """
from app import create_app
app = create_app()
app.config["DATABASE"] = ":memory:"
assert app.test_client().get("/health").get_json() == {"status": "ok", "database": "ok"}
app.config["DATABASE"] = "/nonexistent/dir/x.db"
assert app.test_client().get("/health").status_code == 503
""",
    )

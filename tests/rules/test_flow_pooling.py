"""Connections and pools followed through helpers and through the values that hold the URL."""

from __future__ import annotations

import pytest

from tests.helpers import scan_example


def fired(tmp_path, example, code):
    return [f for f in scan_example(tmp_path, example, select=[code]).findings if f.rule == code]


DB_HELPER = """
import psycopg2
def connect():
    return psycopg2.connect("dbname=app")
def fetch_one(sql, args):
    conn = connect()
    return conn.cursor().execute(sql, args)
"""


def test_connection_per_request_through_route_service_repository_db(tmp_path):
    found = fired(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/db.py": DB_HELPER,
            "app/repository.py": "from app.db import fetch_one\ndef user_by_id(uid):\n    return fetch_one('SELECT * FROM users WHERE id = %s', (uid,))\n",
            "app/service.py": "from app import repository\ndef profile(uid):\n    return repository.user_by_id(uid)\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.service import profile\napp = FastAPI()\n@app.get('/users/{uid}')\ndef get_user(uid: int):\n    return profile(uid)\n",
        },
        "PR230",
    )
    assert [(f.path, f.line) for f in found] == [("app/db.py", 3)]
    assert "profile() → user_by_id() → fetch_one() → connect()" in found[0].message


def test_a_cached_connection_helper_is_not_per_request(tmp_path):
    found = fired(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/db.py": "import functools\nimport psycopg2\n@functools.lru_cache\ndef connect():\n    return psycopg2.connect('dbname=app')\n",
            "app/repository.py": "from app.db import connect\ndef user_by_id(uid):\n    return connect().cursor().execute('SELECT 1')\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.repository import user_by_id\napp = FastAPI()\n@app.get('/users/{uid}')\ndef get_user(uid: int):\n    return user_by_id(uid)\n",
        },
        "PR230",
    )
    assert found == []


SETTINGS_POSTGRES_DSN = """
from pydantic import PostgresDsn
from pydantic_settings import BaseSettings
class Settings(BaseSettings):
    database_url: PostgresDsn
settings = Settings()
"""
SETTINGS_PG_DEFAULT = """
from pydantic_settings import BaseSettings
class Settings(BaseSettings):
    DATABASE_URL: str = "postgresql+psycopg://app:app@localhost/app"
settings = Settings()
"""
SETTINGS_SQLITE_DEFAULT = """
from pydantic import Field
from pydantic_settings import BaseSettings
class Settings(BaseSettings):
    database_url: str = Field(default="sqlite:///./app.db")
settings = Settings()
"""


@pytest.mark.parametrize(
    ("settings", "engine_line", "expected"),
    [
        (SETTINGS_POSTGRES_DSN, "engine = create_engine(str(settings.database_url))", 1),
        (SETTINGS_PG_DEFAULT, "engine = create_engine(settings.DATABASE_URL)", 1),  # the pydantic field default
        (SETTINGS_SQLITE_DEFAULT, "engine = create_engine(settings.database_url, connect_args={'check_same_thread': False})", 0),
    ],
    ids=["PostgresDsn-field", "field-default-postgres", "field-default-sqlite"],
)
def test_pool_settings_follow_the_settings_field(tmp_path, settings, engine_line, expected):
    found = fired(
        tmp_path,
        {"app/__init__.py": "", "app/config.py": settings, "app/db.py": f"from sqlalchemy import create_engine\nfrom app.config import settings\n{engine_line}\n"},
        "PR231",
    )
    assert len(found) == expected


def test_pool_settings_follow_a_variable_and_an_env_default(tmp_path):
    found = fired(
        tmp_path,
        {
            "db.py": "import os\nfrom sqlalchemy import create_engine\nURL = os.environ.get('DATABASE_URL', 'mysql+pymysql://app@db/app')\ndb_url = URL\nengine = create_engine(db_url)\n",
        },
        "PR231",
    )
    assert len(found) == 1


def test_never_for_sqlite_behind_a_variable_even_in_a_postgres_project(tmp_path):
    found = fired(
        tmp_path,
        {
            "reports.py": "import psycopg2\ndef conn():\n    return psycopg2.connect('dbname=reports')\n",
            "db.py": "import os\nfrom sqlalchemy import create_engine\nCACHE_URL = os.getenv('CACHE_DB', 'sqlite:///cache.db')\nengine = create_engine(CACHE_URL)\n",
        },
        "PR231",
    )
    assert found == []


def test_env_template_names_a_server_database(tmp_path):
    found = fired(
        tmp_path,
        {
            ".env.example": "DATABASE_URL=postgresql://app:change-me@localhost:5432/app\n",
            "db.py": "import os\nfrom sqlalchemy import create_engine\nengine = create_engine(os.environ['DATABASE_URL'])\n",
        },
        "PR231",
    )
    assert len(found) == 1


def test_connection_leaked_on_the_not_found_path(tmp_path):
    found = fired(
        tmp_path,
        {
            "app.py": """
import sqlite3
from flask import Flask, abort
app = Flask(__name__)
def find_user(uid):
    conn = sqlite3.connect("app.db")
    row = conn.execute("SELECT * FROM users WHERE id = ?", (uid,)).fetchone()
    if row is None:
        return None
    conn.close()
    return row
def with_finally(uid):
    conn = sqlite3.connect("app.db")
    try:
        row = conn.execute("SELECT * FROM users WHERE id = ?", (uid,)).fetchone()
        if row is None:
            return None
        return row
    finally:
        conn.close()
def handed_back():
    conn = sqlite3.connect("app.db")
    if conn is not None:
        return conn
    conn.close()
"""
        },
        "PR233",
    )
    assert [(f.line, "find_user" in f.message) for f in found] == [(8, True)]


def test_computed_settings_property_building_a_postgres_url(tmp_path):
    settings = """
from pydantic import PostgresDsn, computed_field
from pydantic_core import MultiHostUrl
from pydantic_settings import BaseSettings
class Settings(BaseSettings):
    POSTGRES_SERVER: str = "localhost"
    @computed_field
    @property
    def SQLALCHEMY_DATABASE_URI(self) -> PostgresDsn:
        return MultiHostUrl.build(scheme="postgresql+psycopg", host=self.POSTGRES_SERVER)
    @property
    def cache_url(self) -> str:
        return "sqlite:///cache.db"
settings = Settings()
"""
    found = fired(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/config.py": settings,
            "app/db.py": "from sqlalchemy import create_engine\nfrom app.config import settings\nengine = create_engine(str(settings.SQLALCHEMY_DATABASE_URI))\ncache = create_engine(settings.cache_url)\n",
        },
        "PR231",
    )
    assert [(f.path, f.line) for f in found] == [("app/db.py", 3)]

"""The admin user: where the app keeps roles (read from its models), and how the rehearsal grants
them in the throwaway database to a user it signed up through the app's own routes."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from auditor.engine import scan
from auditor.rehearse.agent.users import promote
from auditor.rehearse.postgres import binaries, start_cluster
from auditor.rehearse.target import admin_column

from .conftest import FIXTURES


def test_admin_column_is_the_flag_or_the_role_of_the_user_model():
    assert admin_column(scan(FIXTURES / "sloppy_fastapi", use_cache=False)) == {
        "table": "users", "column": "is_admin", "value": True, "identity": "email",
    }  # fmt: skip
    assert admin_column(scan(FIXTURES / "careful_app", use_cache=False)) == {
        "table": "users", "column": "role", "value": "admin", "identity": "email",
    }  # fmt: skip


def test_no_admin_column_without_roles(tmp_path):
    assert admin_column(scan(FIXTURES / "sloppy_flask", use_cache=False)) is None
    app = tmp_path / "app.py"
    app.write_text(
        "from fastapi import FastAPI\nfrom sqlalchemy import Boolean, Column, Integer, String\n"
        "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\napp = FastAPI()\n\n\n"
        "class User(Base):\n    __tablename__ = 'users'\n    id = Column(Integer, primary_key=True)\n"
        "    email = Column(String)\n    is_admin = Column(Boolean)\n\n\n"
        "@app.get('/users')\ndef users():\n    return []\n"
    )
    assert admin_column(scan(tmp_path, use_cache=False)) is None  # roles, but no admin route to try them on
    app.write_text(app.read_text() + "\n\n@app.get('/admin/users')\ndef admin_users():\n    return []\n")
    assert admin_column(scan(tmp_path, use_cache=False))["column"] == "is_admin"


def _users(path, rows):
    with sqlite3.connect(path) as db:
        db.execute("create table users (id integer primary key, email text, role text, is_admin boolean)")
        db.executemany("insert into users (email, role, is_admin) values (?, 'member', 0)", [(r,) for r in rows])


def test_promote_changes_exactly_the_new_user(tmp_path):
    database = tmp_path / "rehearsal.db"
    _users(database, ["a@example.com", "admin@example.com"])
    plan = {"table": "users", "column": "role", "value": "admin", "identity": "email", "sqlite": str(database)}
    assert promote(plan, "admin@example.com") is None
    assert promote({**plan, "column": "is_admin", "value": True}, "admin@example.com") is None
    with sqlite3.connect(database) as db:
        assert db.execute("select email, role, is_admin from users order by id").fetchall() == [
            ("a@example.com", "member", 0), ("admin@example.com", "admin", 1),
        ]  # fmt: skip


def test_promote_says_why_when_it_cannot(tmp_path):
    database = tmp_path / "rehearsal.db"
    _users(database, ["a@example.com"])
    plan = {"table": "users", "column": "role", "value": "admin", "identity": "email", "sqlite": str(database)}
    assert promote(plan, "nobody@example.com") == "users.role: 0 rows matched the new user's email"
    assert promote({**plan, "column": "roles"}, "a@example.com").startswith("setting users.roles failed")
    assert promote({**plan, "sqlite": None}, "a@example.com") == "no way to reach the database"


@pytest.mark.skipif(binaries() is None, reason="PostgreSQL's initdb and pg_ctl are not installed (on PATH or /usr/lib/postgresql/*/bin)")
def test_promote_on_the_private_postgresql_cluster():
    cluster = start_cluster(60)
    try:
        psql = cluster.psql()
        setup = "create table users (id serial primary key, email text, is_admin boolean default false);"
        setup += "insert into users (email) values ('a@example.com'), ('admin@example.com')"
        assert subprocess.run([*psql, setup], capture_output=True, timeout=30).returncode == 0
        plan = {"table": "users", "column": "is_admin", "value": True, "identity": "email", "psql": psql}
        assert promote(plan, "admin@example.com") is None
        assert promote(plan, "nobody@example.com") == "users.is_admin: 0 rows matched the new user's email"
        rows = subprocess.run([*psql, "select email, is_admin from users order by id"], capture_output=True, text=True, timeout=30)
        assert rows.stdout.split() == ["a@example.com|f", "admin@example.com|t"]
    finally:
        cluster.stop()

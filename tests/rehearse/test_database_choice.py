"""Which database a rehearsal runs against: the kind the app uses (PostgreSQL when its URL is
PostgreSQL and PostgreSQL is installed), SQLite otherwise with the reason said, and a database
the user gives only when it is on this machine (unless remote ones are allowed explicitly)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from auditor.engine import scan
from auditor.rehearse import database
from auditor.rehearse.database import DatabaseRefused, check_url, choose, remote_hosts
from auditor.rehearse.postgres import binaries, start_cluster
from auditor.rehearse.run import RehearsalError, rehearse
from fixers.pipeline.runner import Sandbox
from tests.helpers import write_project

APP = """
    import os

    from fastapi import FastAPI
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["DATABASE_URL"])
    app = FastAPI()


    @app.get("/health")
    def health():
        with engine.connect() as conn:
            return {"dialect": engine.dialect.name, "one": conn.execute(text("select 1")).scalar()}
"""

NO_POSTGRES = pytest.mark.skipif(binaries() is None, reason="PostgreSQL's initdb and pg_ctl are not installed (on PATH or /usr/lib/postgresql/*/bin)")
NO_PG8000 = pytest.mark.skipif(importlib.util.find_spec("pg8000") is None, reason="the pg8000 driver is not installed (the test extra has it)")


def project(tmp_path, url: str | None, source: str = APP):
    files = {"app/__init__.py": "", "app/main.py": source}
    if url is not None:
        files[".env.example"] = f"DATABASE_URL={url}\n"
    return write_project(tmp_path / "proj", files)


def choice_for(root, **kwargs):
    sandbox = Sandbox(root)
    try:
        return choose(scan(root, use_cache=False), sandbox, **kwargs)
    finally:
        sandbox.close()


# -- --database-url: local only unless allowed ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@localhost:5432/app",
        "postgresql+psycopg://u@127.0.0.1/app",
        "postgresql://u@[::1]:5432/app",
        "postgresql://u@/app",  # no host: libpq's Unix socket
        "postgresql+psycopg2://u@/app?host=/var/run/postgresql",
        "postgresql+pg8000://u@/app?unix_sock=/tmp/.s.PGSQL.5432",
        "mysql+pymysql://u:p@LOCALHOST/app",
        "sqlite:////tmp/app.db",
    ],
)
def test_local_database_urls_are_accepted(url):
    assert remote_hosts(url) == []
    check_url(url, allow_remote=False)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("postgresql://u:p@db.example.com:5432/app", "db.example.com"),
        ("postgresql://u@10.0.0.5/app", "10.0.0.5"),
        ("postgresql://u@/app?host=prod-db.internal", "prod-db.internal"),  # libpq's host in the query
        ("postgresql://u@localhost:5432,replica.example.com:5432/app", "replica.example.com"),
        ("postgresql://u@[2001:db8::1]:5432/app", "2001:db8::1"),
        ("postgresql://localhost.example.com/app", "localhost.example.com"),
    ],
)
def test_remote_database_urls_are_refused_unless_allowed(url, host):
    with pytest.raises(DatabaseRefused, match="not this machine") as refused:
        check_url(url, allow_remote=False)
    assert host in str(refused.value) and "--allow-remote-database" in str(refused.value)
    check_url(url, allow_remote=True)  # named explicitly: accepted


def test_a_remote_url_is_refused_before_anything_runs(tmp_path, private_tmp):
    app = project(tmp_path, "postgresql://u@localhost/app")
    with pytest.raises(RehearsalError, match="db.example.com"):
        rehearse(app, database_url="postgresql://u:secret@db.example.com/prod")
    assert list(private_tmp.iterdir()) == []  # no copy, no sandbox: nothing was started


def test_the_command_refuses_a_remote_url_with_exit_code_2(tmp_path):
    app = project(tmp_path, None)
    run = subprocess.run(
        [sys.executable, "-m", "auditor", "rehearse", str(app), "--database-url", "postgresql://u@db.example.com/prod"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "db.example.com" in run.stderr and "--allow-remote-database" in run.stderr
    assert "starting the app" not in run.stderr


# -- the automatic choice -------------------------------------------------------------------------


def test_an_app_on_sqlite_is_rehearsed_on_sqlite(tmp_path):
    choice = choice_for(project(tmp_path, "sqlite:///./app.db"))
    assert choice.kind == "sqlite" and "not PostgreSQL" in choice.reason


def test_sqlite_can_be_forced_on_a_postgresql_app(tmp_path):
    choice = choice_for(project(tmp_path, "postgresql+pg8000://u:p@localhost/app"), requested="sqlite")
    assert choice.kind == "sqlite" and "--database sqlite" in choice.reason


def test_without_postgresql_binaries_it_falls_back_to_sqlite_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "binaries", lambda: None)
    choice = choice_for(project(tmp_path, "postgresql+pg8000://u:p@localhost/app"))
    assert choice.kind == "sqlite"
    assert "initdb and pg_ctl are not installed" in choice.reason and ".env.example" in choice.reason


@NO_POSTGRES
@pytest.mark.skipif(importlib.util.find_spec("psycopg2") is not None, reason="psycopg2 is installed here: the fallback cannot be seen")
def test_a_driver_missing_from_the_apps_python_falls_back_to_sqlite_naming_it(tmp_path):
    # postgresql:// in a settings default: SQLAlchemy loads psycopg2 for it
    source = APP.replace('os.environ["DATABASE_URL"]', 'os.getenv("DATABASE_URL", "postgresql://u:p@localhost/app")')
    choice = choice_for(project(tmp_path, None, source))
    assert choice.kind == "sqlite" and "psycopg2" in choice.reason and "app/main.py" in choice.reason


@NO_POSTGRES
@NO_PG8000
def test_a_postgresql_app_gets_a_private_cluster_without_being_asked(tmp_path, private_tmp):
    app = project(tmp_path, "postgresql+pg8000://u:p@localhost:5432/app")
    assert choice_for(app).kind == "postgres"
    rehearsal = rehearse(app, concurrent=5, list_rows=10)
    (note,) = [n for n in rehearsal.notes if "database:" in n]
    assert "a private PostgreSQL cluster (postgresql+pg8000)" in note and "the app uses PostgreSQL (.env.example)" in note
    (probe,) = [p for p in rehearsal.probes if p["kind"] == "concurrency"]
    assert probe["evidence"].get("database") == "postgresql"
    assert list(private_tmp.iterdir()) == []  # the cluster's folder is removed


@NO_POSTGRES
@NO_PG8000
def test_a_local_database_url_the_user_gives_is_used(tmp_path, private_tmp):
    cluster = start_cluster()
    try:
        # the app leaves a mark in the database it runs on
        source = APP.replace("app = FastAPI()", 'with engine.begin() as conn:\n        conn.execute(text("create table if not exists booted (id int)"))\n    app = FastAPI()')
        app = project(tmp_path, "sqlite:///./app.db", source)
        rehearsal = rehearse(app, database_url=cluster.url("postgresql+pg8000"), concurrent=5, list_rows=10)
        (note,) = [n for n in rehearsal.notes if "database:" in n]
        assert "the database given with --database-url" in note
        (probe,) = [p for p in rehearsal.probes if p["kind"] == "concurrency"]
        assert "--database-url" in probe["evidence"]["database"]
        found = subprocess.run([*cluster.psql(), "select to_regclass('booted')"], capture_output=True, text=True, timeout=30)
        assert found.stdout.strip() == "booted", found.stderr
    finally:
        cluster.stop()


# -- where the throwaway SQLite file lives ------------------------------------------------------------

@pytest.mark.rehearsal
def test_the_sqlite_file_is_kept_in_memory_and_removed_after(tmp_path, private_tmp, monkeypatch):
    from auditor.rehearse import run

    memory = tmp_path / "shm"
    memory.mkdir()
    monkeypatch.setattr(run, "MEMORY_DIRS", (str(tmp_path / "missing"), str(memory)))
    seen = []
    real = run.build_environment
    monkeypatch.setattr(run, "build_environment", lambda copy, file, *a, **k: (seen.append(file), real(copy, file, *a, **k))[1])
    rehearsal = rehearse(project(tmp_path, "sqlite:///./app.db"), list_rows=10, concurrent=5)
    assert seen[0].parent.parent == memory and seen[0].name == "rehearsal.db"
    assert any(f"a throwaway SQLite file in memory ({memory})" in note for note in rehearsal.notes)
    assert list(memory.iterdir()) == [] and list(private_tmp.iterdir()) == []  # both removed


def test_without_a_memory_filesystem_the_sqlite_file_is_in_the_temporary_folder(monkeypatch, tmp_path):
    from auditor.rehearse import run

    monkeypatch.setattr(run, "MEMORY_DIRS", (str(tmp_path / "missing"),))
    assert run.memory_folder() is None

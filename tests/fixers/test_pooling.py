"""Pool codemods: explicit pool settings (PR231) and shared connections (PR230)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from libcst.codemod import CodemodTest

from fixers import apply_plan, plan_fixes
from fixers.pooling import PoolSettings, ShareConnections
from tests.fixers.helpers import at, finding, targets
from tests.helpers import scan_project, write_project

POOL_ARGS = """\
    pool_size=int(os.getenv("DB_POOL_SIZE", "5")),
    max_overflow=int(os.getenv("DB_MAX_OVERFLOW", "10")),
    pool_timeout=int(os.getenv("DB_POOL_TIMEOUT", "30")),
    pool_recycle=int(os.getenv("DB_POOL_RECYCLE", "1800")),
    pool_pre_ping=True,
"""


class TestPoolSettings(CodemodTest):
    TRANSFORM = PoolSettings

    def test_engine_gets_every_setting(self):
        before = """
            from sqlalchemy import create_engine

            from app.config import DATABASE_URL

            engine = create_engine(DATABASE_URL, connect_args=connect_args)  # the app's engine
        """
        after = (
            "from sqlalchemy import create_engine\n\nfrom app.config import DATABASE_URL\nimport os\n\n"
            "engine = create_engine(\n    DATABASE_URL,\n    connect_args=connect_args,\n" + POOL_ARGS + ")  # the app's engine\n"
        )
        self.assertCodemod(before, after, targets=targets(before, "PR231", "create_engine(DATA"))

    def test_settings_already_there_are_kept(self):
        before = """
            import os
            import sqlalchemy as sa

            engine = sa.create_engine(URL, pool_size=20, pool_pre_ping=True)
        """
        after = """
            import os
            import sqlalchemy as sa

            engine = sa.create_engine(
                URL,
                pool_size=20,
                pool_pre_ping=True,
                max_overflow=int(os.getenv("DB_MAX_OVERFLOW", "10")),
                pool_timeout=int(os.getenv("DB_POOL_TIMEOUT", "30")),
                pool_recycle=int(os.getenv("DB_POOL_RECYCLE", "1800")),
            )
        """
        self.assertCodemod(before, after, targets=targets(before, "PR231", "sa.create_engine"))

    def test_an_explicit_pool_class_is_left_alone(self):
        before = """
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            engine = create_engine(URL, poolclass=NullPool)
        """
        self.assertCodemod(before, before, targets=targets(before, "PR231", "create_engine(URL"))


def test_engine_with_settings_still_works_on_sqlite(tmp_path):
    source = "import sqlalchemy\nengine = sqlalchemy.create_engine('sqlite:///' + __import__('os').path.join(__import__('os').getcwd(), 'x.db'))\n"
    root = write_project(tmp_path, {"db.py": source})
    line, col = at(source, "sqlalchemy.create_engine")
    apply_plan(plan_fixes(scan_project(root), [finding("PR231", "db.py", line, col)]))
    code = "import db, sqlalchemy\nwith db.engine.connect() as c: assert c.execute(sqlalchemy.text('select 1')).scalar() == 1\nassert db.engine.pool.size() == 5"
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)


class TestShareConnections(CodemodTest):
    TRANSFORM = ShareConnections

    def test_fastapi_engine_per_request_moves_to_module_level(self):
        before = """
            from fastapi import APIRouter
            from sqlalchemy import create_engine, text

            from app.config import DATABASE_URL

            router = APIRouter()


            @router.get("/report")
            def report():
                engine = create_engine(DATABASE_URL)
                with engine.connect() as conn:
                    return conn.execute(text("SELECT 1")).scalar()
        """
        after = (
            "from fastapi import APIRouter\nfrom sqlalchemy import create_engine, text\n\nfrom app.config import DATABASE_URL\nimport os\n\n"
            "router = APIRouter()\n\nengine = create_engine(\n    DATABASE_URL,\n" + POOL_ARGS + ")\n\n\n"
            '@router.get("/report")\ndef report():\n    with engine.connect() as conn:\n        return conn.execute(text("SELECT 1")).scalar()\n'
        )
        self.assertCodemod(before, after, targets=targets(before, "PR230", "create_engine(DATA"))

    def test_psycopg2_connection_comes_from_a_pool_and_goes_back_in_finally(self):
        before = """
            import psycopg2

            DSN = "postgresql://localhost/app"


            def export():
                conn = psycopg2.connect(DSN)
                cur = conn.cursor()
                cur.execute("SELECT 1")
                rows = cur.fetchall()
                conn.close()
                return rows
        """
        after = '''
            import psycopg2
            import os

            DSN = "postgresql://localhost/app"

            _connection_pool = None


            def connection_pool():
                """The process's connection pool, opened on first use (at most DB_POOL_SIZE connections)."""
                global _connection_pool
                if _connection_pool is None:
                    from psycopg2.pool import ThreadedConnectionPool

                    _connection_pool = ThreadedConnectionPool(1, int(os.getenv("DB_POOL_SIZE", "10")), DSN)
                return _connection_pool


            def export():
                conn = connection_pool().getconn()
                try:
                    cur = conn.cursor()
                    cur.execute("SELECT 1")
                    rows = cur.fetchall()
                finally:
                    connection_pool().putconn(conn)
                return rows
        '''
        self.assertCodemod(before, after, targets=targets(before, "PR230", "psycopg2.connect"))

    def test_connections_it_cannot_share_are_left_alone(self):
        before = """
            import psycopg2


            def per_tenant(dsn):
                conn = psycopg2.connect(dsn)
                return conn.cursor()


            def leaked():
                conn = psycopg2.connect("postgresql://x")
                return conn.cursor()
        """
        self.assertCodemod(before, before, targets=targets(before, "PR230", "psycopg2.connect(dsn", 'psycopg2.connect("'))


FLASK_DB = """
import sqlite3

from flask import current_app


def get_db():
    conn = sqlite3.connect(current_app.config["DATABASE"])
    conn.row_factory = sqlite3.Row
    return conn
"""
FLASK_INIT = """
from flask import Flask

from app.db import get_db


def create_app(path):
    app = Flask(__name__)
    app.config["DATABASE"] = path

    @app.route("/count")
    def count():
        return {"n": get_db().execute("SELECT 1").fetchone()[0]}

    return app
"""


def test_flask_connection_per_call_becomes_one_per_request_closed_at_teardown(tmp_path):
    root = write_project(tmp_path, {"app/__init__.py": FLASK_INIT, "app/db.py": FLASK_DB})
    line, col = at(FLASK_DB, "sqlite3.connect")
    plan = plan_fixes(scan_project(root), [finding("PR230", "app/db.py", line, col)])
    assert not plan.skipped, plan.skipped
    apply_plan(plan)
    db = (root / "app/db.py").read_text()
    assert 'if "db" not in g:' in db and "return g.db" in db and "def close_db(exc=None):" in db
    assert "    app = Flask(__name__)\n    app.teardown_appcontext(close_db)\n" in (root / "app/__init__.py").read_text()
    check = """
        import sqlite3
        from app import create_app
        from app import db
        opened = []
        real = sqlite3.connect
        def spy(*args, **kwargs):
            conn = real(*args, **kwargs)
            opened.append(conn)
            return conn
        db.sqlite3.connect = spy
        app = create_app("shop.db")
        with app.app_context():
            assert db.get_db() is db.get_db()  # one connection per request context
        assert app.test_client().get("/count").get_json() == {"n": 1}
        for conn in opened:  # every one closed at teardown
            try:
                conn.execute("SELECT 1")
            except sqlite3.ProgrammingError:
                continue
            raise AssertionError("connection left open")
    """
    subprocess.run([sys.executable, "-c", textwrap.dedent(check)], cwd=root, check=True)
    again = plan_fixes(scan_project(root), [finding("PR230", "app/db.py", line, col)])
    assert again.is_empty


def test_psycopg3_pool_is_added_to_the_dependencies(tmp_path):
    source = "import psycopg\n\ndef export():\n    conn = psycopg.connect('postgresql://x')\n    rows = conn.execute('SELECT 1').fetchall()\n    conn.close()\n    return rows\n"
    root = write_project(tmp_path, {"app.py": source, "requirements.txt": "psycopg[binary]\n"})
    plan = plan_fixes(scan_project(root), [finding("PR230", "app.py", 4, 11)])
    assert plan.dependencies == ["psycopg-pool>=3.2"]
    assert "from psycopg_pool import ConnectionPool" in plan.edits[0].new
    assert next(e for e in plan.edits if e.relpath == "requirements.txt").new == "psycopg[binary]\npsycopg-pool>=3.2\n"

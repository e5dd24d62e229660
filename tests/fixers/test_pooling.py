"""Pool codemods: explicit pool settings (PR231) and shared connections (PR230)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from libcst.codemod import CodemodTest

from fixers import apply_plan, plan_fixes
from fixers.apps import AppSite
from fixers.pooling import PoolSettings, ShareConnections, Teardown
from tests.fixers.helpers import at, finding, targets
from tests.fixers.roundtrip import run_python
from tests.helpers import scan_project, write_project

POOL_ARGS = """\
    pool_size=5,
    max_overflow=10,
    pool_timeout=30,
    pool_recycle=1800,
    pool_pre_ping=True,
"""
OPTIONS_HELPER = '''
def pool_options(url):
    """Pool limits and health checks for a server database (PostgreSQL, MySQL...). SQLite gets
    none: its pools take no size, overflow or timeout."""
    if make_url(url).get_backend_name() == "sqlite":
        return {}
    return {
        "pool_size": 5,
        "max_overflow": 10,
        "pool_timeout": 30,
        "pool_recycle": 1800,
        "pool_pre_ping": True,
    }
'''


class TestPoolSettings(CodemodTest):
    TRANSFORM = PoolSettings

    def test_url_in_a_variable_is_decided_when_the_app_starts(self):
        before = """
            from sqlalchemy import create_engine

            from app.config import DATABASE_URL

            engine = create_engine(DATABASE_URL, connect_args=connect_args)  # the app's engine
        """
        after = (
            "from sqlalchemy import create_engine\n\nfrom app.config import DATABASE_URL\nfrom sqlalchemy.engine import make_url\n\n\n"
            + OPTIONS_HELPER.lstrip("\n")
            + "\n\nengine = create_engine(\n    DATABASE_URL,\n    connect_args=connect_args,\n    **pool_options(DATABASE_URL),\n)  # the app's engine\n"
        )
        self.assertCodemod(before, after, targets=targets(before, "PR231", "create_engine(DATA"))

    def test_a_second_engine_reuses_the_helper(self):
        before = (
            "from sqlalchemy import create_engine\nfrom sqlalchemy.engine import make_url\n\n" + OPTIONS_HELPER.lstrip("\n")
            + "\n\nengine = create_engine(settings.database_url)\n"
        )
        after = before.replace("create_engine(settings.database_url)", "create_engine(\n    settings.database_url,\n    **pool_options(settings.database_url),\n)")
        self.assertCodemod(before, after, targets=targets(before, "PR231", "create_engine(settings"))

    def test_server_url_written_out_gets_the_settings_in_the_call(self):
        before = """
            import sqlalchemy as sa

            engine = sa.create_engine("postgresql+psycopg://db/app", echo=False)
        """
        after = '''
            import sqlalchemy as sa

            engine = sa.create_engine(
                "postgresql+psycopg://db/app",
                echo=False,
                pool_size=5,
                max_overflow=10,
                pool_timeout=30,
                pool_recycle=1800,
                pool_pre_ping=True,
            )
        '''
        self.assertCodemod(before, after, targets=targets(before, "PR231", "sa.create_engine"))

    def test_settings_already_there_are_kept(self):
        before = """
            import sqlalchemy as sa

            engine = sa.create_engine("mysql://db/app", pool_size=20, pool_pre_ping=True)
        """
        after = """
            import sqlalchemy as sa

            engine = sa.create_engine(
                "mysql://db/app",
                pool_size=20,
                pool_pre_ping=True,
                max_overflow=10,
                pool_timeout=30,
                pool_recycle=1800,
            )
        """
        self.assertCodemod(before, after, targets=targets(before, "PR231", "sa.create_engine"))

    def test_engines_it_must_not_touch_are_left_alone(self):
        before = """
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            a = create_engine(URL, poolclass=NullPool)
            b = create_engine("sqlite:///app.db")
            c = create_engine(f"sqlite:///{path}")
            d = create_engine(URL, pool_pre_ping=True)
            e = create_engine(build_url())
            f = create_engine(**options)
        """
        needles = ("create_engine(URL, pool", 'create_engine("sqlite', 'create_engine(f"', "create_engine(URL, pool_pre", "create_engine(build", "create_engine(**")
        self.assertCodemod(before, before, targets=targets(before, "PR231", *needles))


def test_engine_url_known_only_at_run_time(tmp_path):
    """Breakage: max_overflow/pool_timeout given to an in-memory SQLite engine raised TypeError at
    start-up. Now the options go to server databases only, decided by SQLAlchemy's own make_url."""
    root = write_project(tmp_path, {
        "app/__init__.py": "",
        "app/config.py": "import os\nDATABASE_URL = os.getenv('DATABASE_URL', 'postgresql://localhost/app')\nDEBUG = os.getenv('DEBUG', '')\n",
        "app/database.py": "from sqlalchemy import create_engine\n\nfrom app.config import DATABASE_URL\n\nengine = create_engine(DATABASE_URL)\n",
        "app/main.py": "import os\nfrom fastapi import FastAPI\nimport app.database\napp = FastAPI()\nNAME = os.getenv('APP_NAME', 'x')\n",
        "requirements.txt": "fastapi\nsqlalchemy\npsycopg2-binary\n",
    })
    before = scan_project(root)
    found = [f for f in before.findings if f.rule == "PR231"]
    assert [f.path for f in found] == ["app/database.py"]
    plan = plan_fixes(before, found)
    assert not plan.skipped and len(plan.fixes) == 1
    apply_plan(plan)
    engines = """
        import sqlite3, sys, types
        from sqlalchemy.pool import QueuePool
        sys.modules["pg8000"] = types.SimpleNamespace(paramstyle="format", __version__="1.31.0")  # no server needed
        from app.database import engine
        print(type(engine.pool).__name__)
        if isinstance(engine.pool, QueuePool):
            print(engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout, engine.pool._recycle, engine.pool._pre_ping)
    """
    runs = {url: run_python(root, textwrap.dedent(engines), {"DATABASE_URL": url}).stdout.split("\n")[:2]
            for url in ("sqlite://", f"sqlite:///{tmp_path}/app.db", "postgresql+pg8000://u@db/app")}
    assert runs["sqlite://"] == ["SingletonThreadPool", ""]
    assert runs[f"sqlite:///{tmp_path}/app.db"] == ["QueuePool", "5 10 30.0 -1 False"]  # SQLAlchemy's own defaults
    assert runs["postgresql+pg8000://u@db/app"] == ["QueuePool", "5 10 30 1800 True"]
    # The fix adds no finding of its own (it used to trip PR401 with int(os.getenv(...)))
    after = scan_project(root)
    new = {(f.rule, f.path) for f in after.findings} - {(f.rule, f.path) for f in before.findings}
    assert new == set(), new
    assert plan_fixes(after, [f for f in after.findings if f.rule == "PR231"]).is_empty


SETTINGS_PROJECT = {
    "app/__init__.py": "",
    "app/config.py": """
        from pydantic_settings import BaseSettings


        class Settings(BaseSettings):
            database_url: str = "postgresql://localhost/app"
            debug: bool = False


        settings = Settings()
    """,
    "app/database.py": "from sqlalchemy import create_engine\n\nfrom app.config import settings\n\nengine = create_engine(settings.database_url)\n",
    "app/main.py": "from fastapi import FastAPI\nfrom app.database import engine\napp = FastAPI()\n",
    "requirements.txt": "fastapi\nsqlalchemy\npydantic-settings\npsycopg2-binary\n",
}


def test_pool_values_are_read_through_the_projects_settings(tmp_path):
    root = write_project(tmp_path, SETTINGS_PROJECT)
    before = scan_project(root)
    line, col = at(SETTINGS_PROJECT["app/database.py"], "create_engine(settings")
    plan = plan_fixes(before, [finding("PR231", "app/database.py", line, col)])
    assert not plan.skipped and len(plan.fixes) == 1
    apply_plan(plan)
    config = (root / "app/config.py").read_text()
    assert "    debug: bool = False\n    db_pool_size: int = 5\n    db_max_overflow: int = 10\n    db_pool_timeout: int = 30\n    db_pool_recycle: int = 1800\n" in config
    database = (root / "app/database.py").read_text()
    assert '"pool_size": settings.db_pool_size,' in database and "os.getenv" not in database
    check = """
        import sys, types
        sys.modules["pg8000"] = types.SimpleNamespace(paramstyle="format", __version__="1.31.0")
        from app.database import engine
        print(type(engine.pool).__name__, getattr(engine.pool, "_max_overflow", None))
    """
    assert run_python(root, textwrap.dedent(check), {"DATABASE_URL": "sqlite://"}).stdout == "SingletonThreadPool None\n"
    done = run_python(root, textwrap.dedent(check), {"DATABASE_URL": "postgresql+pg8000://db/app", "DB_MAX_OVERFLOW": "3"})
    assert done.stdout == "QueuePool 3\n"
    after = scan_project(root)
    assert {(f.rule, f.path) for f in after.findings} <= {(f.rule, f.path) for f in before.findings} - {("PR231", "app/database.py")}


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
            "from fastapi import APIRouter\nfrom sqlalchemy import create_engine, text\n\nfrom app.config import DATABASE_URL\n"
            "from sqlalchemy.engine import make_url\n\nrouter = APIRouter()\n\n" + OPTIONS_HELPER
            + "\n\nengine = create_engine(\n    DATABASE_URL,\n    **pool_options(DATABASE_URL),\n)\n\n\n"
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
            import threading

            import psycopg2

            DSN = "postgresql://localhost/app"

            _connection_pool = None

            _connection_pool_lock = threading.Lock()


            def connection_pool():
                """The process's connection pool, opened on first use (once, even when requests arrive
                together). When every connection is in use, a request waits up to 30 s for one (psycopg2's
                own pool would fail at once)."""
                global _connection_pool
                with _connection_pool_lock:
                    if _connection_pool is not None:
                        return _connection_pool
                    from psycopg2.pool import ThreadedConnectionPool

                    class WaitingPool(ThreadedConnectionPool):
                        free_slots = threading.BoundedSemaphore(10)

                        def getconn(self, key=None):
                            if not self.free_slots.acquire(timeout=30):
                                raise TimeoutError("no free database connection after 30 s")
                            try:
                                return super().getconn(key)
                            except BaseException:
                                self.free_slots.release()
                                raise

                        def putconn(self, conn, key=None, close=False):
                            super().putconn(conn, key, close)
                            self.free_slots.release()

                    _connection_pool = WaitingPool(1, 10, DSN)
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
    assert 'if has_app_context() and "db" in g:' in db and "return g.db" in db and "def close_db(exc=None):" in db
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
    app = next(e for e in plan.edits if e.relpath == "app.py").new
    assert "from psycopg_pool import ConnectionPool" in app and "max_size=DB_POOL_SIZE" in app
    assert next(e for e in plan.edits if e.relpath == "requirements.txt").new == "psycopg[binary]\npsycopg-pool>=3.2\n"


NOTES_APP = '''
import os
import sqlite3

import click
from flask import Flask, jsonify

app = Flask(__name__)
DATABASE = os.environ.get("NOTES_DB", "notes.db")


def get_db():
    conn = sqlite3.connect(DATABASE)
    conn.row_factory = sqlite3.Row
    return conn


def init_db():
    db = get_db()
    db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    db.commit()


init_db()


@app.cli.command("add-note")
@click.argument("body")
def add_note(body):
    db = get_db()
    db.execute("INSERT INTO notes (body) VALUES (?)", (body,))
    db.commit()
    click.echo("added")


@app.route("/notes")
def notes():
    rows = get_db().execute("SELECT body FROM notes ORDER BY id").fetchall()
    return jsonify([r["body"] for r in rows])
'''


def test_flask_helper_works_at_import_time_in_requests_and_in_cli_commands(tmp_path):
    """Breakage: with the connection kept on `g` only, `init_db()` at import time failed with
    "Working outside of application context" (and the teardown was registered before close_db
    was defined). Outside an app context the helper now opens a plain connection as before."""
    root = write_project(tmp_path, {"app.py": NOTES_APP})
    before = scan_project(root)
    found = [f for f in before.findings if f.rule == "PR230"]
    assert found, [f.rule for f in before.findings]
    plan = plan_fixes(before, found, include_review=True)
    assert not plan.skipped, plan.skipped
    apply_plan(plan)
    source = (root / "app.py").read_text()
    assert "@app.teardown_appcontext\ndef close_db(exc=None):" in source
    check = """
        import sqlite3
        opened = []
        real = sqlite3.connect
        def spy(*args, **kwargs):
            conn = real(*args, **kwargs)
            opened.append(conn)
            return conn
        sqlite3.connect = spy

        import app  # init_db() runs at import, outside any app context

        assert len(opened) == 1
        outside = opened.pop()  # the caller's own connection, as before the fix
        result = app.app.test_cli_runner().invoke(args=["add-note", "first"])
        assert result.exit_code == 0 and result.output == "added\\n", (result.output, result.exception)
        client = app.app.test_client()
        assert client.get("/notes").get_json() == ["first"]
        with app.app.app_context():
            assert app.get_db() is app.get_db()  # one connection per app context
        assert len(opened) == 3  # the CLI command, the request, the context above
        for conn in opened:  # each closed when its app context ended
            try:
                conn.execute("SELECT 1")
            except sqlite3.ProgrammingError:
                continue
            raise AssertionError("connection left open")
        outside.execute("SELECT 1")  # not closed behind the caller's back
    """
    run_python(root, textwrap.dedent(check), {"NOTES_DB": str(tmp_path / "notes.db")})
    after = scan_project(root)
    assert {(f.rule, f.path) for f in after.findings} <= {(f.rule, f.path) for f in before.findings}
    assert plan_fixes(after, [f for f in after.findings if f.rule == "PR230"]).is_empty


def test_connection_closed_by_its_callers_is_not_shared(tmp_path):
    """One connection per request would hand a closed connection to the next caller."""
    db = "import sqlite3\n\nDATABASE = 'shop.db'\n\n\ndef get_db():\n    conn = sqlite3.connect(DATABASE)\n    return conn\n"
    views = (
        "from flask import Flask\n\nfrom db import get_db\n\napp = Flask(__name__)\n\n\n"
        "@app.get('/count')\ndef count():\n    conn = get_db()\n    n = conn.execute('SELECT 1').fetchone()[0]\n    conn.close()\n    return {'n': n}\n"
    )
    root = write_project(tmp_path, {"db.py": db, "views.py": views})
    line, col = at(db, "sqlite3.connect")
    plan = plan_fixes(scan_project(root), [finding("PR230", "db.py", line, col)], include_review=True)
    assert plan.is_empty or not plan.fixes
    [(skipped, reason)] = [(f.rule, why) for f, why in plan.skipped]
    assert skipped == "PR230" and "views.py: count()" in reason and "close" in reason


def test_pool_settings_add_no_finding_of_their_own(tmp_path):
    """Breakage: `int(os.getenv("DB_POOL_SIZE", "5"))` in the engine's module tripped PR401, so
    applying the safe fixes lowered the Staging score."""
    root = write_project(tmp_path, {
        "app/__init__.py": "",
        "app/config.py": "import os\nSECRET_KEY = os.getenv('SECRET_KEY', '')\n",
        "app/main.py": "import os\nfrom fastapi import FastAPI\nfrom sqlalchemy import create_engine\napp = FastAPI()\nNAME = os.getenv('APP_NAME', 'x')\n",
        "app/db.py": "from sqlalchemy import create_engine\n\nengine = create_engine('postgresql+pg8000://db/app')\n",
    })
    before = scan_project(root)
    found = [f for f in before.findings if f.rule == "PR231"]
    assert [f.path for f in found] == ["app/db.py"]
    apply_plan(plan_fixes(before, found))
    after = scan_project(root)
    assert sorted((f.rule, f.path) for f in after.findings) == sorted((f.rule, f.path) for f in before.findings if f not in found)
    # read from the module that already reads the environment, checked and typed there
    assert "pool_size=DB_POOL_SIZE," in (root / "app/db.py").read_text()
    assert 'DB_POOL_SIZE = env_typed("DB_POOL_SIZE", 5, int)' in (root / "app/config.py").read_text()
    check = """
        import sys, types
        sys.modules["pg8000"] = types.SimpleNamespace(paramstyle="format", __version__="1.31.0")
        from app.db import engine
        print(engine.pool.size(), engine.pool._max_overflow)
    """
    assert run_python(root, textwrap.dedent(check), {"DB_POOL_SIZE": "7"}).stdout == "7 10\n"


class TestFlaskPooledConnection(CodemodTest):
    TRANSFORM = ShareConnections

    def test_pooled_inside_an_app_context_and_plain_outside(self):
        before = '''
            import os

            import psycopg2
            from flask import Flask

            app = Flask(__name__)


            def get_db():
                """The database."""
                conn = psycopg2.connect(os.environ["DATABASE_URL"])
                conn.autocommit = True
                return conn
        '''
        after = '''
            import os
            import threading

            import psycopg2
            from flask import Flask, g, has_app_context

            app = Flask(__name__)

            _connection_pool = None

            _connection_pool_lock = threading.Lock()


            def connection_pool():
                """The process's connection pool, opened on first use (once, even when requests arrive
                together). When every connection is in use, a request waits up to 30 s for one (psycopg2's
                own pool would fail at once)."""
                global _connection_pool
                with _connection_pool_lock:
                    if _connection_pool is not None:
                        return _connection_pool
                    from psycopg2.pool import ThreadedConnectionPool

                    class WaitingPool(ThreadedConnectionPool):
                        free_slots = threading.BoundedSemaphore(10)

                        def getconn(self, key=None):
                            if not self.free_slots.acquire(timeout=30):
                                raise TimeoutError("no free database connection after 30 s")
                            try:
                                return super().getconn(key)
                            except BaseException:
                                self.free_slots.release()
                                raise

                        def putconn(self, conn, key=None, close=False):
                            super().putconn(conn, key, close)
                            self.free_slots.release()

                    _connection_pool = WaitingPool(1, 10, os.environ["DATABASE_URL"])
                return _connection_pool


            def get_db():
                """The database."""
                if has_app_context() and "db" in g:  # one connection per request or CLI command
                    return g.db
                if has_app_context():
                    conn = connection_pool().getconn()
                else:  # at import time or in a script: a connection of its own, closed by the caller
                    conn = psycopg2.connect(os.environ["DATABASE_URL"])
                conn.autocommit = True
                if has_app_context():
                    g.db = conn  # given back by close_db() when the app context ends
                return conn


            @app.teardown_appcontext
            def close_db(exc=None):
                """Give the app context's database connection back when the request or CLI command ends."""
                conn = g.pop("db", None)
                if conn is not None:
                    connection_pool().putconn(conn)
        '''
        teardown = Teardown(AppSite("app.py", "app", "flask", 6), "app")
        self.assertCodemod(before, after, targets=targets(before, "PR230", "psycopg2.connect"), flask=True, teardown=teardown)


def test_helper_module_that_imports_the_app_registers_the_teardown_itself(tmp_path):
    """Importing close_db into the app's package, which the helper's module imports, would be a
    circular import: the helper's module registers it on the app it imports."""
    files = {
        "shop/__init__.py": "from flask import Flask\n\napp = Flask(__name__)\n\nfrom shop import views  # noqa: E402,F401\n",
        "shop/db.py": "import sqlite3\n\nfrom shop import app\n\n\ndef get_db():\n    conn = sqlite3.connect(app.config.get('DATABASE', 'shop.db'))\n    return conn\n",
        "shop/views.py": "from shop import app\nfrom shop.db import get_db\n\n\n@app.route('/n')\ndef n():\n    return {'n': get_db().execute('SELECT 1').fetchone()[0]}\n",
    }
    root = write_project(tmp_path, files)
    line, col = at(files["shop/db.py"], "sqlite3.connect(")
    # a hand-made finding: the index does not see routes declared on an app imported from the package
    plan = plan_fixes(scan_project(root), [finding("PR230", "shop/db.py", line, col)], include_review=True)
    assert not plan.skipped, plan.skipped
    apply_plan(plan)
    check = "from shop import app\nassert app.test_client().get('/n').get_json() == {'n': 1}\nprint(app.teardown_appcontext_funcs[0].__name__)"
    assert run_python(root, check).stdout == "close_db\n"
    assert "@app.teardown_appcontext\ndef close_db(exc=None):" in (root / "shop/db.py").read_text()
    assert (root / "shop/__init__.py").read_text() == files["shop/__init__.py"]


class TestHoistedEngines(CodemodTest):
    TRANSFORM = ShareConnections

    def test_sqlite_engine_moves_without_pool_settings(self):
        before = """
            from sqlalchemy import create_engine


            def report():
                engine = create_engine("sqlite:///app.db")
                return engine.connect()
        """
        after = """
            from sqlalchemy import create_engine

            engine = create_engine("sqlite:///app.db")


            def report():
                return engine.connect()
        """
        self.assertCodemod(before, after, targets=targets(before, "PR230", "create_engine("))

    def test_engine_with_some_settings_moves_as_it_is(self):
        before = """
            from sqlalchemy import create_engine

            from app.config import DATABASE_URL


            def report():
                engine = create_engine(DATABASE_URL, pool_pre_ping=True)
                return engine.connect()
        """
        after = """
            from sqlalchemy import create_engine

            from app.config import DATABASE_URL

            engine = create_engine(DATABASE_URL, pool_pre_ping=True)


            def report():
                return engine.connect()
        """
        self.assertCodemod(before, after, targets=targets(before, "PR230", "create_engine("))


FAKE_PSYCOPG2 = {
    # Stands in for psycopg2 (no server here), with its pool's documented behaviour: getconn()
    # raises PoolError at once when maxconn connections are out.
    "psycopg2/__init__.py": "import types\n\nopened = []\n\n\ndef connect(*args):\n    opened.append(types.SimpleNamespace(args=args))\n    return opened[-1]\n",
    "psycopg2/pool.py": '''
        import threading

        import psycopg2


        class PoolError(Exception):
            pass


        class ThreadedConnectionPool:
            def __init__(self, minconn, maxconn, *args):
                self.maxconn, self._args, self._pool, self._used, self._lock = maxconn, args, [], set(), threading.Lock()

            def getconn(self, key=None):
                with self._lock:
                    if not self._pool and len(self._used) >= self.maxconn:
                        raise PoolError("connection pool exhausted")
                    conn = self._pool.pop() if self._pool else psycopg2.connect(*self._args)
                    self._used.add(id(conn))
                    return conn

            def putconn(self, conn, key=None, close=False):
                with self._lock:
                    self._used.discard(id(conn))
                    self._pool.append(conn)
    ''',
}


def test_psycopg2_pool_makes_requests_wait_for_a_free_connection(tmp_path):
    """psycopg2's pool fails at once when all its connections are out: under more concurrent
    requests than connections, the pooled code answered errors where it used to open more."""
    source = (
        "import time\n\nimport psycopg2\n\nDSN = 'postgresql://localhost/app'\n\n\n"
        "def export():\n    conn = psycopg2.connect(DSN)\n    time.sleep(0.05)\n    rows = [id(conn)]\n    conn.close()\n    return rows\n"
    )
    root = write_project(tmp_path, {"export.py": source, **FAKE_PSYCOPG2})
    line, col = at(source, "psycopg2.connect")
    plan = plan_fixes(scan_project(root), [finding("PR230", "export.py", line, col)], include_review=True)
    assert not plan.skipped, plan.skipped
    apply_plan(plan)
    check = """
        from concurrent.futures import ThreadPoolExecutor
        import psycopg2, export
        with ThreadPoolExecutor(25) as workers:
            results = list(workers.map(lambda _: export.export(), range(50)))
        print(len(results), len(psycopg2.opened))
    """
    # every call served, by at most DB_POOL_SIZE (5) connections
    assert run_python(root, textwrap.dedent(check)).stdout == "50 5\n"

"""WAL mode and a busy timeout for SQLite apps."""

from __future__ import annotations

from libcst.codemod import CodemodTest

from fixers import plan_fixes
from fixers.sqlite_wal import SqliteWal
from tests.fixers.helpers import targets
from tests.fixers.roundtrip import fix_project, read, run_python
from tests.helpers import scan_project, write_project


def test_flask_sqlite_connection(tmp_path):
    source = 'import sqlite3\nfrom flask import Flask\napp = Flask(__name__)\ndef get_db():\n    return sqlite3.connect(app.config.get("DATABASE", "app.db"))\n@app.route("/")\ndef index():\n    return {"n": get_db().execute("SELECT 1").fetchone()[0]}\n'
    root, _, _ = fix_project(tmp_path, source, {"PR232"})
    assert '    conn = sqlite3.connect(app.config.get("DATABASE", "app.db"), timeout=15)\n    conn.execute("PRAGMA journal_mode=WAL")\n    return conn\n' in read(root, "app.py")
    done = run_python(root, "import sqlite3\nfrom app import app, get_db\nwith app.app_context():\n    print(get_db().execute('PRAGMA journal_mode').fetchone()[0])\n")
    assert done.stdout.strip() == "wal"


def test_connect_with_other_options_still_gets_a_busy_timeout(tmp_path):
    source = 'import sqlite3\nfrom flask import Flask\napp = Flask(__name__)\ndef get_db():\n    conn = sqlite3.connect("app.db", check_same_thread=False)\n    return conn\n@app.route("/")\ndef index():\n    return {"n": get_db().execute("SELECT 1").fetchone()[0]}\n'
    root, _, _ = fix_project(tmp_path, source, {"PR232"})
    assert '    conn = sqlite3.connect("app.db", check_same_thread=False, timeout=15)\n    conn.execute("PRAGMA journal_mode=WAL")\n' in read(root, "app.py")


ENGINE_APP = """
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from settings import DATABASE_URL

engine = create_engine(DATABASE_URL, connect_args={"check_same_thread": False})
app = FastAPI()


@app.get("/n")
def n():
    with engine.connect() as conn:
        return {"n": conn.execute(text("SELECT 1")).scalar()}
"""
PRAGMAS = """
from sqlalchemy import text
from app import engine
with engine.connect() as conn:
    print(conn.execute(text("PRAGMA journal_mode")).scalar(), conn.execute(text("PRAGMA busy_timeout")).scalar())
"""


def test_sqlalchemy_engine_gets_a_connect_listener(tmp_path):
    """An engine used to be skipped with a wrong reason ("not assigned to a name")."""
    files = {"app.py": ENGINE_APP, "settings.py": "import os\nDATABASE_URL = os.getenv('DATABASE_URL', 'sqlite:///./app.db')\n"}
    root, _, after = fix_project(tmp_path / "fixed", files, {"PR232"})
    before = scan_project(write_project(tmp_path / "before", files))  # the fix adds no finding of its own
    assert {(f.rule, f.path) for f in after.findings} == {(f.rule, f.path) for f in before.findings} - {("PR232", "app.py")}
    source = read(root, "app.py")
    assert '@event.listens_for(engine, "connect")\ndef sqlite_wal(dbapi_connection, connection_record):' in source
    assert 'if engine.dialect.name != "sqlite":' in source  # the URL is only known at run time
    assert run_python(root, PRAGMAS, {"DATABASE_URL": f"sqlite:///{root}/app.db"}).stdout == "wal 15000\n"
    assert run_python(root, PRAGMAS, {"DATABASE_URL": "sqlite://"}).stdout == "memory 15000\n"  # in memory: no WAL, no error


def test_engine_with_a_literal_sqlite_url(tmp_path):
    source = ENGINE_APP.replace("from settings import DATABASE_URL\n", "").replace("create_engine(DATABASE_URL", f"create_engine('sqlite:///{tmp_path}/x.db'")
    root, _, _ = fix_project(tmp_path, source, {"PR232"})
    assert "dialect.name" not in read(root, "app.py")
    assert run_python(root, PRAGMAS).stdout == "wal 15000\n"


def test_engine_created_in_a_function_is_left_alone(tmp_path):
    source = (
        "import os\nfrom fastapi import FastAPI\nfrom sqlalchemy import create_engine\napp = FastAPI()\n"
        "DATABASE_URL = os.getenv('DATABASE_URL', 'sqlite:///./app.db')\n\n\ndef make_engine():\n"
        "    engine = create_engine(DATABASE_URL)\n    return engine\n\n\n@app.get('/')\ndef index():\n    return {}\n"
    )
    root = write_project(tmp_path, {"app.py": source})
    result = scan_project(root)
    found = [f for f in result.findings if f.rule == "PR232"]
    assert found
    plan = plan_fixes(result, found)
    assert not plan.fixes and [why for _, why in plan.skipped] == [
        "the engine is created inside a function or class; turn on WAL where the app's engine is created, by hand"
    ]


class TestSqliteWal(CodemodTest):
    TRANSFORM = SqliteWal

    def test_async_engine_listens_on_its_sync_engine(self):
        before = """
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine("sqlite+aiosqlite:///app.db")
            Session = None
        """
        after = '''
            from sqlalchemy import event
            from sqlalchemy.ext.asyncio import create_async_engine

            engine = create_async_engine("sqlite+aiosqlite:///app.db")


            @event.listens_for(engine.sync_engine, "connect")
            def sqlite_wal(dbapi_connection, connection_record):
                """SQLite: WAL mode (reads no longer wait for writes) and up to 15 s of waiting for a writer."""
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=15000")
                cursor.close()


            Session = None
        '''
        self.assertCodemod(before, after, targets=targets(before, "PR232", "create_async_engine("))

    def test_server_engine_is_not_touched(self):
        before = """
            from sqlalchemy import create_engine

            engine = create_engine("postgresql://db/app")
        """
        self.assertCodemod(before, before, targets=targets(before, "PR232", "create_engine("))

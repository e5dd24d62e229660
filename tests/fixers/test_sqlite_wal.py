"""WAL mode and a busy timeout for SQLite apps."""

from __future__ import annotations

from tests.fixers.roundtrip import fix_project, read, run_python


def test_flask_sqlite_connection(tmp_path):
    source = 'import sqlite3\nfrom flask import Flask\napp = Flask(__name__)\ndef get_db():\n    return sqlite3.connect(app.config.get("DATABASE", "app.db"))\n@app.route("/")\ndef index():\n    return {"n": get_db().execute("SELECT 1").fetchone()[0]}\n'
    root, _, _ = fix_project(tmp_path, source, {"PR232"})
    assert '    conn = sqlite3.connect(app.config.get("DATABASE", "app.db"), timeout=15)\n    conn.execute("PRAGMA journal_mode=WAL")\n    return conn\n' in read(root, "app.py")
    done = run_python(root, "import sqlite3\nfrom app import app, get_db\nwith app.app_context():\n    print(get_db().execute('PRAGMA journal_mode').fetchone()[0])\n")
    assert done.stdout.strip() == "wal"

"""A real PostgreSQL cluster: the concurrency probe counts open connections. Code that opens an
engine per request opens one connection per request; after the pool fix they are bounded."""

from __future__ import annotations

import importlib.util
import os
import shutil

import pytest

from auditor.engine import scan
from auditor.rehearse.postgres import binaries, start_cluster
from auditor.rehearse.run import rehearse
from fixers.pipeline.apply import apply_plan
from fixers.pipeline.plan import plan_fixes
from tests.helpers import write_project

pytestmark = [
    pytest.mark.rehearsal,
    pytest.mark.skipif(binaries() is None, reason="PostgreSQL's initdb and pg_ctl are not installed (on PATH or /usr/lib/postgresql/*/bin)"),
    pytest.mark.skipif(
        binaries() is not None and not ((binaries() / "psql").is_file() or shutil.which("psql")),
        reason="psql is not installed: the open connections cannot be counted",
    ),
    pytest.mark.skipif(importlib.util.find_spec("pg8000") is None, reason="the pg8000 driver is not installed (the test extra has it)"),
]

PER_REQUEST_APP = {
    ".env.example": "DATABASE_URL=postgresql+pg8000://app:app@localhost:5432/app\n",
    "app/__init__.py": "",
    "app/main.py": """
        import os

        from fastapi import FastAPI
        from sqlalchemy import create_engine, text

        DATABASE_URL = os.environ["DATABASE_URL"]

        app = FastAPI()


        @app.get("/report")
        def report():
            engine = create_engine(DATABASE_URL)
            with engine.connect() as conn:
                conn.execute(text("select pg_sleep(0.3)"))
                return {"ok": True}
    """,
}


def concurrency(rehearsal) -> dict:
    (probe,) = [p for p in rehearsal.probes if p["kind"] == "concurrency"]
    return probe


def test_connections_grow_per_request_and_are_bounded_after_the_pool_fix(tmp_path, private_tmp):
    app = write_project(tmp_path / "reports", PER_REQUEST_APP)
    before = concurrency(rehearse(app, database="postgres", concurrent=30))
    assert before["outcome"] == "failed" and before["rule"] == "PR230"
    assert before["evidence"]["database"] == "postgresql"
    assert before["evidence"]["connections_max"] - before["evidence"]["connections_before"] >= 18

    result = scan(app, use_cache=False)
    apply_plan(plan_fixes(result, findings=[f for f in result.findings if f.rule.startswith("PR23")], include_review=True))
    after = concurrency(rehearse(app, database="postgres", concurrent=30))
    assert after["outcome"] == "passed", after
    assert after["evidence"]["connections_max"] <= 15  # the pool's size and overflow, not one per request
    assert list(private_tmp.iterdir()) == []  # the cluster's folder is gone too


def test_the_cluster_runs_unprivileged_on_a_socket_only_and_is_removed(tmp_path, private_tmp):
    cluster = start_cluster()
    try:
        stat = os.stat(cluster.base / "data")
        if os.geteuid() == 0:
            assert stat.st_uid != 0  # initdb refuses root: the cluster runs as nobody
        assert (cluster.socket_dir / ".s.PGSQL.5432").exists()
        assert "host=" in cluster.url() and "unix_sock=" in cluster.url("postgresql+pg8000")
    finally:
        cluster.stop()
    assert not cluster.base.exists()

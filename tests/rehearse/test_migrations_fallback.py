"""Migrations that only change tables made earlier by create_all() (the first migration still to
write, as `fix` leaves it) cannot build the rehearsal's empty database: when the app creates its
tables itself, it does so and the rehearsal says why; when it does not, the rehearsal stops."""

from __future__ import annotations

import pytest

from auditor.rehearse.run import RehearsalError, rehearse
from tests.helpers import write_project

pytestmark = pytest.mark.rehearsal

APP = """
    import os

    from fastapi import FastAPI
    from sqlalchemy import Column, Integer, String, create_engine, text
    from sqlalchemy.orm import declarative_base

    engine = create_engine(os.environ["DATABASE_URL"])
    Base = declarative_base()


    class Order(Base):
        __tablename__ = "orders"
        id = Column(Integer, primary_key=True)
        idempotency_key = Column(String(64))


    CREATE_TABLES
    app = FastAPI()


    @app.get("/orders")
    def orders():
        with engine.connect() as conn:
            return conn.execute(text("select id, idempotency_key from orders")).mappings().all()
"""

MIGRATION = """
    import sqlalchemy as sa
    from alembic import op

    revision = "0002"
    down_revision = None


    def upgrade():
        with op.batch_alter_table("orders") as batch_op:
            batch_op.add_column(sa.Column("idempotency_key", sa.String(64)))
"""

ENV = """
    import os

    from alembic import context
    from sqlalchemy import create_engine

    with create_engine(os.environ["DATABASE_URL"]).connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
"""


def project(tmp_path, create_tables: bool):
    return write_project(tmp_path / "app", {
        "app/__init__.py": "",
        "app/main.py": APP.replace("CREATE_TABLES", "Base.metadata.create_all(engine)" if create_tables else "pass"),
        "alembic.ini": "[alembic]\nscript_location = migrations\nprepend_sys_path = .\n",
        "migrations/env.py": ENV,
        "migrations/versions/0002_idempotency_keys.py": MIGRATION,
        ".env.example": "DATABASE_URL=sqlite:///./app.db\n",
    })  # fmt: skip


def test_the_apps_create_all_makes_the_tables_when_its_migrations_cannot(tmp_path, private_tmp):
    rehearsal = rehearse(project(tmp_path, create_tables=True), list_rows=10, concurrent=5)
    note = next(n for n in rehearsal.notes if "alembic upgrade head" in n)
    assert "failed on the empty database" in note and "no such table: orders" in note
    assert "the app's own create_all() made them" in note
    crowd = next(p for p in rehearsal.probes if p["kind"] == "concurrency")
    assert (crowd["path"], crowd["evidence"]["errors"]) == ("/orders", 0)  # the table is there


def test_without_create_all_failed_migrations_stop_the_rehearsal(tmp_path, private_tmp):
    with pytest.raises(RehearsalError, match=r"`alembic upgrade head` failed"):
        rehearse(project(tmp_path, create_tables=False), list_rows=10, concurrent=5)
    assert list(private_tmp.iterdir()) == []

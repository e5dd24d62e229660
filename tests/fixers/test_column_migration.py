"""Alembic revisions written for schema changes made by fixes (fixers/column_migration.py)."""

from __future__ import annotations

import sqlite3

import pytest

from fixers.column_migration import sa_type, versions_folder, write_revision
from fixers.pipeline.workspace import Skip, Workspace
from tests.fixers.roundtrip import run_python
from tests.fixers.test_type_changes_follow_through import ALEMBIC_PROJECT
from tests.helpers import write_project


def test_a_revision_chains_on_the_head_and_runs(tmp_path):
    root = write_project(tmp_path / "app", ALEMBIC_PROJECT)
    ws = Workspace(root)
    assert versions_folder(ws) == "migrations/versions"
    up = ['op.add_column("payments", sa.Column("idempotency_key", sa.String(64), nullable=True))']
    down = ['with op.batch_alter_table("payments") as batch_op:', '    batch_op.drop_column("idempotency_key")']
    first = write_revision(ws, "idempotency_key", "Adds payments.idempotency_key.", up, down)
    second = write_revision(ws, "index", "Indexes it.", ['op.create_index("ix_payments_idempotency_key", "payments", ["idempotency_key"])'], ['op.drop_index("ix_payments_idempotency_key", table_name="payments")'])
    assert first and second and first != second
    assert 'down_revision = "0001"' in ws.read(first)
    assert f'down_revision = "{first.split("/")[-1].split("_")[0]}"' in ws.read(second)
    # The same change planned again gets the same file (plans are repeatable).
    assert write_revision(Workspace(root), "idempotency_key", "Adds payments.idempotency_key.", up, down) == first
    for state in ws.changed():
        (root / state.relpath).write_text(state.text)
    db = tmp_path / "up.db"
    run_python(root, "from alembic.config import main; main(['upgrade', 'head']); main(['downgrade', '0001'])", env={"DATABASE_URL": f"sqlite:///{db}"})
    columns = [row[1] for row in sqlite3.connect(db).execute("PRAGMA table_info(payments)")]
    assert "idempotency_key" not in columns and "amount" in columns


def test_no_alembic_no_revision(tmp_path):
    root = write_project(tmp_path / "app", {"app.py": "x = 1\n"})
    assert write_revision(Workspace(root), "x", "x", ["pass"], ["pass"]) is None


def test_several_heads_are_refused(tmp_path):
    files = {**ALEMBIC_PROJECT, "migrations/versions/a.py": 'revision = "a"\ndown_revision = "0001"\n', "migrations/versions/b.py": 'revision = "b"\ndown_revision = "0001"\n'}
    root = write_project(tmp_path / "app", files)
    with pytest.raises(Skip, match="several heads"):
        write_revision(Workspace(root), "x", "x", ["pass"], ["pass"])


@pytest.mark.parametrize(
    "written, rendered",
    [("String(255)", "sa.String(255)"), ("db.Float", "sa.Float()"), ("int", "sa.Integer()"), ("sa.DateTime(timezone=True)", "sa.DateTime(timezone=True)"), ("MyType()", None), ("String(length=f())", None)],
)
def test_column_types_as_written_become_sqlalchemy_types(written, rendered):
    assert sa_type(written) == rendered

"""An Alembic revision for the column changes, in projects that already keep their schema in
Alembic migrations.

Without it the models and the migrations disagree: a new database built with `alembic upgrade
head` lacks the new indexes and types, and a test comparing the two (or `alembic check`) fails.
The revision is written the way `alembic revision --autogenerate` would (indexes with
op.create_index, column changes in a batch_alter_table block so SQLite can apply them too),
chained on the project's single head, with a revision id derived from its content (planning the
same fixes twice writes the same file).
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from auditor.models import Finding
from fixers.pipeline.workspace import Skip, Workspace

ANNOTATION_TYPES = {"int": "Integer", "str": "String", "float": "Float", "bool": "Boolean", "datetime": "DateTime", "date": "Date", "Decimal": "Numeric"}
KNOWN_TYPES = {
    "Integer", "BigInteger", "SmallInteger", "String", "Text", "Unicode", "UnicodeText", "Float", "Double", "REAL",
    "Numeric", "Boolean", "DateTime", "Date", "Time", "LargeBinary", "JSON", "Uuid", "UUID", "Enum", "Interval",
}


def versions_folder(ws: Workspace) -> str | None:
    """`migrations/versions` (from alembic.ini's script_location, or Flask-Migrate's layout)."""
    for ini in ("alembic.ini", "migrations/alembic.ini"):
        text = ws.read(ini)
        if text is None:
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text)
        except configparser.Error:
            return None
        location = parser.get("alembic", "script_location", fallback=None)
        if ini.startswith("migrations/") and not location:
            location = "migrations"
        if location:
            location = location.replace("%(here)s", str(Path(ini).parent)).strip().strip("/")
            location = location[2:] if location.startswith("./") else location
            if ":" in location:  # a package resource ("myapp:migrations"): not followed
                return None
            return f"{location}/versions".lstrip("./") if location != "." else "versions"
    return None


def _revision_ids(text: str) -> tuple[str | None, set[str]]:
    """(revision, down revisions) of a migration module."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None, set()
    revision, down = None, set()
    for statement in tree.body:
        target, value = None, None
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign):
            target, value = statement.target, statement.value
        if not isinstance(target, ast.Name) or value is None:
            continue
        try:
            literal = ast.literal_eval(value)
        except ValueError:
            continue
        if target.id == "revision" and isinstance(literal, str):
            revision = literal
        elif target.id == "down_revision":
            down |= {literal} if isinstance(literal, str) else {r for r in literal or () if isinstance(r, str)}
    return revision, down


def current_head(ws: Workspace, versions: str) -> str | None:
    """The single head revision (None for a project with no revision yet); Skip on several heads."""
    folder = ws.root / versions
    paths = {f"{versions}/{p.name}" for p in folder.glob("*.py")} if folder.is_dir() else set()
    paths |= {r for r, s in ws.files.items() if r.startswith(versions + "/") and r.endswith(".py") and s.text is not None}
    revisions, downs = set(), set()
    for relpath in sorted(paths):
        revision, down = _revision_ids(ws.read(relpath) or "")
        if revision:
            revisions.add(revision)
            downs |= down
    heads = revisions - downs
    if len(heads) > 1:
        raise Skip(f"the migrations have several heads ({', '.join(sorted(heads))}): merge them (`alembic merge heads`) first")
    return next(iter(heads), None)


def sa_type(source: str, scale: tuple[str, str] | None = None) -> str | None:
    """`sa.String(255)` for a column's type as written (`String(255)`, `db.String(255)`, `int`)."""
    base, _, args = source.partition("(")
    base = base.rpartition(".")[2].strip()
    base = ANNOTATION_TYPES.get(base, base)
    if base not in KNOWN_TYPES:
        return None
    args = args.rstrip(")").strip() if args else ""
    if not re.fullmatch(r"[\w\s,=.\"']*", args):
        return None
    return f"sa.{base}({args})"


@dataclass
class TableChanges:
    indexes: list[tuple[str, str, bool]] = field(default_factory=list)  # (name, column, unique)
    dropped_indexes: list[str] = field(default_factory=list)  # replaced by a unique one
    unique: list[tuple[str, str]] = field(default_factory=list)  # (constraint name, column)
    altered: list[tuple[str, str, str]] = field(default_factory=list)  # (column, new keywords, old keywords)


def plan_revision(changes: list[tuple[Finding, object, object]], numeric: dict[Finding, tuple[str, str]]) -> tuple[dict[str, TableChanges], list[Finding]]:
    """The operations for (finding, model, column) changes; findings no operation can express."""
    tables: dict[str, TableChanges] = {}
    left_out: list[Finding] = []
    by_column: dict[tuple[str, str], set[str]] = {}
    for finding, model, column in changes:
        by_column.setdefault((model.table, column.name), set()).add(finding.rule)
    for finding, model, column in changes:
        if not model.table:
            left_out.append(finding)
            continue
        table, name, rules = model.table, column.name, by_column[(model.table, column.name)]
        ops = tables.setdefault(table, TableChanges())
        index_name = f"ix_{table}_{name}"
        existing = sa_type(column.type)
        if finding.rule in {"PR101", "PR130"}:
            ops.indexes.append((index_name, name, column.unique or "PR102" in rules))
        elif finding.rule == "PR102":
            if column.index:
                ops.dropped_indexes.append(index_name)
                ops.indexes.append((index_name, name, True))
            elif not rules & {"PR101", "PR130"}:
                ops.unique.append((f"uq_{table}_{name}", name))
        elif finding.rule in {"PR103", "PR104", "PR105"} and existing:
            keep = f"existing_type={existing}"
            if finding.rule == "PR103":
                new = "type_=sa.Numeric({}, {})".format(*numeric[finding])
                ops.altered.append((name, f"{keep}, {new}", f"existing_type=sa.Numeric({numeric[finding][0]}, {numeric[finding][1]}), type_={existing}"))
            elif finding.rule == "PR104":
                ops.altered.append((name, f"{keep}, type_=sa.DateTime(timezone=True)", f"existing_type=sa.DateTime(timezone=True), type_={existing}"))
            else:
                ops.altered.append((name, f"{keep}, nullable=False", f"{keep}, nullable=True"))
        else:
            left_out.append(finding)
    return tables, left_out


def operations(tables: dict[str, TableChanges]) -> tuple[list[str], list[str]]:
    """(upgrade lines, downgrade lines) of the body of a revision, indented by four spaces."""
    upgrade: list[str] = []
    downgrade: list[str] = []
    for table, ops in sorted(tables.items()):
        up = [f'op.drop_index("{index}", table_name="{table}")' for index in ops.dropped_indexes]
        up += [f'op.create_index("{index}", "{table}", ["{column}"], unique={unique})' for index, column, unique in ops.indexes]
        down = []
        if ops.unique or ops.altered:
            up.append(f'with op.batch_alter_table("{table}") as batch_op:')
            up += [f'    batch_op.create_unique_constraint("{name}", ["{column}"])' for name, column in ops.unique]
            up += [f'    batch_op.alter_column("{column}", {new})' for column, new, _ in ops.altered]
            down.append(f'with op.batch_alter_table("{table}") as batch_op:')
            down += [f'    batch_op.alter_column("{column}", {old})' for column, _, old in reversed(ops.altered)]
            down += [f'    batch_op.drop_constraint("{name}", type_="unique")' for name, _ in reversed(ops.unique)]
        down += [f'op.drop_index("{index}", table_name="{table}")' for index, _, _ in reversed(ops.indexes)]
        down += [f'op.create_index("{index}", "{table}", ["{index.removeprefix(f"ix_{table}_")}"], unique=False)' for index in ops.dropped_indexes]
        upgrade += up
        downgrade = down + downgrade
    return upgrade, downgrade


def render_revision(down_revision: str | None, summary: str, upgrade: list[str], downgrade: list[str]) -> tuple[str, str]:
    """(revision id, module text) of a revision with these operations (lines of `op.` calls)."""
    body_up = "\n".join(f"    {line}" for line in upgrade) or "    pass"
    body_down = "\n".join(f"    {line}" for line in downgrade) or "    pass"
    revision = hashlib.sha1(f"{down_revision}\n{body_up}".encode()).hexdigest()[:12]
    down = f'"{down_revision}"' if down_revision else "None"
    text = f'''"""{summary}

Revision ID: {revision}
Revises: {down_revision or ""}
"""
import sqlalchemy as sa
from alembic import op

revision = "{revision}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade() -> None:
{body_up}


def downgrade() -> None:
{body_down}
'''
    return revision, text


def write_revision(ws: Workspace, slug: str, summary: str, upgrade: list[str], downgrade: list[str]) -> str | None:
    """For fixes that change the schema (a new column, an index...) in a project whose schema
    lives in Alembic migrations: write the revision that makes the same change, chained on the
    single head, and return its path; None when the project has no Alembic revision. Raises
    Skip when the migrations have several heads."""
    versions = versions_folder(ws)
    if versions is None:
        return None
    head = current_head(ws, versions)
    if head is None:
        # No revision yet (Alembic set up by this plan, say): the tables themselves are not in
        # migrations, so the first `alembic revision --autogenerate` will include these changes.
        return None
    revision, text = render_revision(head, summary, upgrade, downgrade)
    path = f"{versions}/{revision}_{slug}.py"
    ws.write(path, text)
    return path

"""Step 1 rules and the index facts they stand on, beyond each rule's own VALID/INVALID examples."""

from __future__ import annotations

import ast

import pytest

from auditor.index.project import is_test_path
from auditor.index.sql import parse_sql
from auditor.rules.querying import is_query_call, per_row_loop, sql_tables_named, sql_text
from tests.helpers import scan_example, scan_project, write_project

MODELS = """
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import declarative_base, relationship
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)
class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)
    id = Column(Integer, primary_key=True)
    owner_id = Column(Integer, ForeignKey("users.id"))
    name = Column(String)
    slug = Column(String)
    archived = Column(Boolean)
    tasks = relationship("Task")
    members = relationship("User", lazy="selectin")
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"), index=True)
    title = Column(String)
"""


def fired(tmp_path, example, code):
    return [f for f in scan_example(tmp_path, example, select=[code]).findings if f.rule == code]


# -- index facts ---------------------------------------------------------------------------------


def test_association_table_and_external_indexes_are_indexed(tmp_path):
    root = write_project(
        tmp_path,
        {
            "models.py": MODELS
            + """
from sqlalchemy import Table
members = Table("members", Base.metadata, Column("project_id", ForeignKey("projects.id"), primary_key=True),
                Column("user_id", ForeignKey("users.id"), primary_key=True))
Index("ix_tasks_title", Task.title)
""",
            "migrations/versions/0002.py": "from alembic import op\ndef upgrade():\n    op.create_index('ix_projects_slug', 'projects', ['slug'], unique=True)\n",
        },
    )
    index = scan_project(root, select=["PR101"]).index
    members = next(m for _, m in index.models if m.name == "members")
    assert members.kind == "table" and members.table == "members"
    assert [c.name for c in members.columns if c.primary_key] == ["project_id", "user_id"]
    declared = {(d.table, tuple(d.columns), d.unique) for _, d in index.indexes}
    assert ("Task", ("title",), False) in declared
    assert ("projects", ("slug",), True) in declared


def test_mixins_and_abstract_models_are_marked(tmp_path):
    root = write_project(
        tmp_path,
        {
            "models.py": """
from sqlalchemy import Column, DateTime, Integer
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Stamped:
    created = Column(DateTime)
class BaseModel(Base):
    __abstract__ = True
    id = Column(Integer, primary_key=True)
class Thing(BaseModel, Stamped):
    __tablename__ = "things"
    name = Column(Integer)
"""
        },
    )
    models = {m.name: m for _, m in scan_project(root, select=["PR106"]).index.models}
    assert models["Stamped"].abstract and models["BaseModel"].abstract and not models["Thing"].abstract


def test_sql_timestamp_with_time_zone_and_composite_primary_key():
    (table,) = parse_sql("CREATE TABLE t (a INTEGER, at TIMESTAMP WITH TIME ZONE, b TIMESTAMP, PRIMARY KEY (a, b));", "s.sql")
    types = {c.name: c.type for c in table.columns}
    assert types == {"a": "INTEGER", "at": "TIMESTAMPTZ", "b": "TIMESTAMP"}
    assert table.primary_key == ["a", "b"]


def test_ddl_in_tests_is_not_the_app_schema(tmp_path):
    root = write_project(
        tmp_path,
        {
            "tests/test_db.py": "def test_x(conn):\n    conn.execute('CREATE TABLE scratch (a TEXT, b TEXT)')\n",
            "app/db.py": "SCHEMA = 'CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)'\n",
        },
    )
    assert [t.name for t in scan_project(root, select=["PR106"]).index.sql_tables] == ["notes"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("tests/a.py", True), ("test/test_x.py", True), ("pkg/conftest.py", True), ("pkg/x_test.py", True),
     ("app/latest.py", False), ("app/contest.py", False), ("app/testing.py", False)],
)
def test_is_test_path(path, expected):
    assert is_test_path(path) is expected


# -- query-shape helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("db.query(User).filter(User.id == 1).first()", True),
        ("session.execute(select(User))", True),
        ("cur.execute('SELECT 1')", True),
        ("get_db().execute('SELECT 1')", True),
        ("User.query.filter_by(id=1).first()", True),
        ("db.get(User, 5)", True),
        ("cursor.fetchone()", False),  # the row of a query already made
        ("cache.get('k', None)", False),
        ("params.get('page', 1)", False),
        ("items.all()", False),
    ],
)
def test_is_query_call(code, expected):
    assert is_query_call(ast.parse(code, mode="eval").body) is expected


def test_sql_text_keeps_literal_parts():
    expr = ast.parse("text(f'SELECT * FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.id = {x}')", mode="eval").body
    text = sql_text(expr)
    assert text.startswith("SELECT") and sql_tables_named(text) == ["tasks", "projects"]
    assert sql_text(ast.parse("'hello world'", mode="eval").body) is None
    assert sql_text(ast.parse("'SELECT * FROM t WHERE id = ' + id", mode="eval").body) == "SELECT * FROM t WHERE id = ?"


def test_per_row_loop_ignores_the_loop_iterable():
    tree = ast.parse("for r in db.query(X).all():\n    pass\n")
    loop = tree.body[0]
    call = loop.iter
    assert per_row_loop([tree, loop, call], set()) is None
    inner = ast.parse("db.query(Y).first()", mode="eval").body
    loop.body = [ast.Expr(inner)]
    assert per_row_loop([tree, loop, loop.body[0], inner], set()) is loop


# -- rules ----------------------------------------------------------------------------------------


def test_pr101_leading_column_of_composite_index_counts_and_mysql_is_skipped(tmp_path):
    found = fired(tmp_path / "a", {"models.py": MODELS}, "PR101")
    assert found == []  # owner_id leads the unique constraint; project_id is indexed
    mysql = {
        "models.py": MODELS.replace('UniqueConstraint("owner_id", "name")', 'UniqueConstraint("name", "owner_id")'),
        "db.py": "from sqlalchemy import create_engine\nengine = create_engine('mysql+pymysql://db/app', pool_size=5)\n",
    }
    mine = "from models import Project\ndef mine(db, user):\n    return db.query(Project).filter_by(owner_id=user.id).all()\n"
    assert fired(tmp_path / "b", {"models.py": mysql["models.py"], "views.py": mine}, "PR101")  # owner_id is second: not usable
    assert fired(tmp_path / "c", mysql, "PR101") == []  # InnoDB indexes foreign keys itself


def test_pr102_per_tenant_uniqueness_is_enough(tmp_path):
    example = {"schema.sql": "CREATE TABLE accounts (id INTEGER PRIMARY KEY, org_id INTEGER, username TEXT, UNIQUE (org_id, username));"}
    assert fired(tmp_path, example, "PR102") == []


def test_pr104_type_annotation_map_makes_datetime_aware(tmp_path):
    example = """
from datetime import datetime
from sqlalchemy import DateTime
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}
class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
"""
    assert fired(tmp_path / "a", example, "PR104") == []
    naive = example.replace("    type_annotation_map = {datetime: DateTime(timezone=True)}\n", "    pass\n")
    (finding,) = fired(tmp_path / "b", naive, "PR104")
    assert "Event.at" in finding.message


def test_pr104_aware_column_with_naive_default_is_medium(tmp_path):
    example = MODELS + "\nfrom datetime import datetime\nclass Log(Base):\n    __tablename__ = 'logs'\n    id = Column(Integer, primary_key=True)\n    at = Column(DateTime(timezone=True), default=datetime.utcnow)\n"
    (finding,) = fired(tmp_path, example, "PR104")
    assert finding.severity.value == "medium" and "naive datetime" in finding.message


def test_pr105_matches_schema_to_model_by_name_only(tmp_path):
    example = MODELS + "\nfrom pydantic import BaseModel\nclass TaskCreate(BaseModel):\n    title: str\nclass Search(BaseModel):\n    name: str\n"
    (finding,) = fired(tmp_path, example, "PR105")
    assert finding.message.startswith("Task.title")


def test_pr110_skips_cli_only_setup_and_projects_with_migrations(tmp_path):
    flask_cli = {
        "app.py": """
from flask import Flask
from db import Base, engine
app = Flask(__name__)
@app.route("/")
def index():
    return "ok"
def init_db():
    Base.metadata.create_all(engine)
@app.cli.command("init-db")
def init_db_command():
    init_db()
"""
    }
    assert fired(tmp_path / "a", flask_cli, "PR110") == []
    on_startup = {"app.py": flask_cli["app.py"] + "\ndef create_app():\n    init_db()\n    return app\n"}
    assert len(fired(tmp_path / "b", on_startup, "PR110")) == 1
    with_alembic = {**on_startup, "migrations/env.py": "from alembic import context\n"}
    assert fired(tmp_path / "c", with_alembic, "PR110") == []


def test_pr120_helper_and_comprehension(tmp_path):
    example = """
from sqlalchemy.orm import Session
def load_owner(db, task):
    return db.query(User).filter(User.id == task.owner_id).first()
def listing(db: Session):
    tasks = db.query(Task).all()
    owners = [load_owner(db, t) for t in tasks]
    ids = [t.id for t in db.query(Task).all()]
    return owners, ids
"""
    (finding,) = fired(tmp_path, example, "PR120")
    assert "load_owner()" in finding.message and finding.line == 6


def test_pr120_stays_out_of_tests_and_non_db_code(tmp_path):
    loop = "def f(db, rows):\n    for r in db.execute('SELECT * FROM t').fetchall():\n        db.execute('SELECT 1')\n"
    assert fired(tmp_path / "a", {"tests/test_x.py": "import sqlite3\n" + loop}, "PR120") == []
    assert fired(tmp_path / "b", {"lib.py": loop}, "PR120") == []  # imports no database library
    assert len(fired(tmp_path / "c", {"lib.py": "import sqlite3\n" + loop}, "PR120")) == 1


def test_pr121_eager_relationships_and_default_lazy(tmp_path):
    views = """
from sqlalchemy.orm import joinedload
from models import Project
def a(db):
    return [len(p.members) for p in db.query(Project).all()]            # lazy="selectin": eager
def b(db):
    projects = db.query(Project).options(joinedload(Project.tasks)).all()
    return [len(p.tasks) for p in projects]
def c(db):
    projects = db.query(Project).all()
    return {p.id: [t.title for t in p.tasks] for p in projects}
"""
    found = fired(tmp_path, {"models.py": MODELS, "views.py": views}, "PR121")
    assert [(f.path, f.line) for f in found] == [("views.py", 10)]


def test_pr130_composite_index_and_low_cardinality(tmp_path):
    views = """
from models import Project
def find(db, user, name, slug):
    db.query(Project).filter(Project.owner_id == user.id, Project.name == name).first()   # (owner_id, name) index
    db.query(Project).filter(Project.archived == False).all()                             # a flag
    return db.query(Project).filter(Project.slug == slug).first()
"""
    (finding,) = fired(tmp_path, {"models.py": MODELS, "views.py": views}, "PR130")
    assert finding.message.startswith("Project.slug")


def test_pr121_a_name_eager_on_another_model_is_not_reported(tmp_path):
    models = MODELS + "\nclass Board(Base):\n    __tablename__ = 'boards'\n    id = Column(Integer, primary_key=True)\n    tasks = relationship('Task', lazy='selectin')\n"
    views = "from models import Board\ndef f(db):\n    return [len(b.tasks) for b in db.query(Board).all()]\n"
    assert fired(tmp_path, {"models.py": models, "views.py": views}, "PR121") == []


def test_ddl_in_docstrings_is_documentation(tmp_path):
    root = write_project(
        tmp_path,
        {"app/dialect.py": '"""Example:\n\n    CREATE TABLE t (x INTEGER)\n"""\nDDL = "CREATE TABLE notes (id INTEGER PRIMARY KEY)"\n'},
    )
    assert [t.name for t in scan_project(root, select=["PR106"]).index.sql_tables] == ["notes"]


def test_tables_and_models_declared_in_functions_or_tests_are_not_the_schema(tmp_path):
    example = {
        "app/fixtures.py": "from sqlalchemy import Column, ForeignKey, Integer, MetaData, Table\ndef define_tables(metadata):\n    t = Table('t', metadata, Column('a', ForeignKey('x.id')))\n",
        "tests/test_models.py": MODELS.replace('ForeignKey("projects.id"), index=True', 'ForeignKey("projects.id")'),
    }
    assert fired(tmp_path, example, "PR101") == []


def test_sqlmodel_table_through_a_project_base_class(tmp_path):
    example = """
from sqlmodel import Field, SQLModel
class ItemBase(SQLModel):
    title: str
class Item(ItemBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(foreign_key="user.id")
def mine(session, user_id):
    return session.exec(select(Item).where(Item.owner_id == user_id)).all()
"""
    (finding,) = fired(tmp_path, example.replace("import Field, SQLModel", "import Field, SQLModel, select"), "PR101")
    assert finding.message.startswith("Item.owner_id references user")

"""PR101 / PR130: index advice only where the database would use the index, and none on migrations."""

from __future__ import annotations

import pytest

from tests.helpers import scan_example

MODELS = """
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base, relationship
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)
class Project(Base):
    __tablename__ = "projects"
    id = Column(Integer, primary_key=True)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)
    name = Column(String)
    tasks = relationship("Task")
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"))
    title = Column(String)
    sku = Column(String)
    pinned = Column(Boolean, default=False)
    due_at = Column(DateTime(timezone=True))
"""
HEAD = "from sqlalchemy import delete, func, select\nfrom models import Project, Task, User\n"


def fired(tmp_path, views, code, models=MODELS):
    result = scan_example(tmp_path, {"models.py": models, "views.py": HEAD + views}, select=[code])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == code]


# -- PR130: how the column is searched --------------------------------------------------------------

NO_INDEX_HELPS = {
    "contains": "def find(db, q):\n    return db.query(Task).filter(Task.title.contains(q)).all()\n",
    "ilike": "def find(db, q):\n    return db.scalars(select(Task).where(Task.title.ilike(f'%{q}%'))).all()\n",
    "leading-wildcard-like": "def find(db, q):\n    return db.query(Task).filter(Task.title.like('%' + q + '%')).all()\n",
    "raw-sql-like": "def find(conn, q):\n    return conn.execute('SELECT * FROM tasks WHERE title LIKE ?', (f'%{q}%',)).fetchall()\n",
    "boolean-flag": "def pinned(db):\n    return db.query(Task).filter(Task.pinned == True).all()\n",
    "not-equal": "def others(db, t):\n    return db.query(Task).filter(Task.title != t).all()\n",
    "function-of-the-column": "def find(db, t):\n    return db.query(Task).filter(func.lower(Task.title) == t.lower()).all()\n",
}


@pytest.mark.parametrize("views", NO_INDEX_HELPS.values(), ids=NO_INDEX_HELPS.keys())
def test_pr130_no_advice_where_an_index_cannot_help(tmp_path, views):
    assert fired(tmp_path, views + "def add(db, t):\n    db.add(Task(title=t))\n", "PR130") == []


INDEX_HELPS = {
    "equality": ("def by_sku(db, sku):\n    return db.query(Task).filter(Task.sku == sku).first()\n", "sku"),
    "prefix-like": ("def by_prefix(db, p):\n    return db.query(Task).filter(Task.sku.like('AB-%')).all()\n", "sku"),
    "range": ("def due(db, now):\n    return db.scalars(select(Task).where(Task.due_at < now)).all()\n", "due_at"),
    "order-by": ("def latest(db):\n    return db.query(Task).order_by(Task.due_at.desc()).limit(20).all()\n", "due_at"),
    "in-list": ("def some(db, skus):\n    return db.query(Task).filter(Task.sku.in_(skus)).all()\n", "sku"),
    "join-condition": ("def joined(db):\n    return db.query(User).join(Task, Task.sku == User.email).all()\n", "sku"),
}


@pytest.mark.parametrize(("views", "column"), INDEX_HELPS.values(), ids=INDEX_HELPS.keys())
def test_pr130_advice_for_equality_range_order_and_joins(tmp_path, views, column):
    (finding,) = fired(tmp_path, views + "def add(db, t):\n    db.add(Task(title=t))\n", "PR130")
    assert f"Task.{column} is used to filter or sort" in finding.message


def test_pr130_a_column_searched_with_ilike_and_looked_up_by_equality_gets_advice(tmp_path):
    views = NO_INDEX_HELPS["ilike"] + "def exact(db, t):\n    return db.query(Task).filter(Task.title == t).first()\n"
    (finding,) = fired(tmp_path, views + "def add(db, t):\n    db.add(Task(title=t))\n", "PR130")
    assert "Task.title" in finding.message


# -- PR101: foreign keys that are looked up, or whose parent is deleted ------------------------------


def test_pr101_fk_never_filtered_and_parent_never_deleted_gets_no_advice(tmp_path):
    models = MODELS.replace('    tasks = relationship("Task")\n', "")
    views = "def titles(db, q):\n    return db.query(Task).filter(Task.title.ilike(f'%{q}%')).all()\n"
    assert fired(tmp_path, views, "PR101", models) == []


def test_pr101_relationship_declared_but_never_read_is_no_lookup(tmp_path):
    assert fired(tmp_path, "def noop(db):\n    return db.query(Project).count()\n", "PR101") == []


LOOKED_UP = {
    "filter": "def of(db, pid):\n    return db.query(Task).filter(Task.project_id == pid).all()\n",
    "filter-by": "def of(db, pid):\n    return db.query(Task).filter_by(project_id=pid).all()\n",
    "relationship-read": "def count(project):\n    return len(project.tasks)\n",
    "raw-sql": "def of(conn, pid):\n    return conn.execute('SELECT t.title FROM tasks t JOIN projects p ON t.project_id = p.id').fetchall()\n",
}


@pytest.mark.parametrize("views", LOOKED_UP.values(), ids=LOOKED_UP.keys())
def test_pr101_fk_looked_up(tmp_path, views):
    (finding,) = fired(tmp_path, views, "PR101")
    assert finding.message.startswith("Task.project_id references projects") and "lookups" in finding.message


PARENT_DELETED = {
    "session-delete-of-a-fetched-row": "def remove(db, pid):\n    project = db.get(Project, pid)\n    db.delete(project)\n    db.commit()\n",
    "core-delete": "def remove(db, pid):\n    db.execute(delete(Project).where(Project.id == pid))\n",
    "query-delete": "def remove(db, pid):\n    db.query(Project).filter(Project.id == pid).delete()\n",
    "raw-sql-delete": "def remove(conn, pid):\n    conn.execute('DELETE FROM projects WHERE id = ?', (pid,))\n",
}


@pytest.mark.parametrize("views", PARENT_DELETED.values(), ids=PARENT_DELETED.keys())
def test_pr101_parent_deleted(tmp_path, views):
    models = MODELS.replace('    tasks = relationship("Task")\n', "")
    (finding,) = fired(tmp_path, views, "PR101", models)
    assert "deleting a projects row scans this whole table" in finding.message


def test_pr101_a_delete_route_on_the_parent_counts(tmp_path):
    models = MODELS.replace('    tasks = relationship("Task")\n', "")
    views = "from fastapi import FastAPI\napp = FastAPI()\n@app.delete('/projects/{project_id}')\ndef remove(project_id: int, db=None):\n    db.delete(db.get(Project, project_id))\n"
    (finding,) = fired(tmp_path, views, "PR101", models)
    assert "deleting a projects row" in finding.message


def test_pr101_many_to_many_association_read_from_its_owner(tmp_path):
    models = """
from sqlalchemy import Column, ForeignKey, Integer, Table
from sqlalchemy.orm import declarative_base, relationship
Base = declarative_base()
members = Table("members", Base.metadata, Column("team_id", Integer, ForeignKey("teams.id")), Column("user_id", Integer, ForeignKey("users.id")))
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
class Team(Base):
    __tablename__ = "teams"
    id = Column(Integer, primary_key=True)
    people = relationship("User", secondary=members)
"""
    result = scan_example(tmp_path, {"models.py": models, "views.py": "from models import Team\ndef size(team: Team):\n    return len(team.people)\n"}, select=["PR101"])
    assert [f.message.split(" ")[0] for f in result.findings] == ["members.team_id"]


def test_pr101_queries_kept_in_sql_files_count(tmp_path):
    project = {
        "app/schema.sql": "CREATE TABLE articles (id INTEGER PRIMARY KEY, slug TEXT UNIQUE);\n"
        "CREATE TABLE comments (id INTEGER PRIMARY KEY, body TEXT, article_id INTEGER REFERENCES articles(id));\n",
        "app/queries/comments.sql": "-- name: comments-for-article\nSELECT c.body FROM comments c WHERE c.article_id = :article_id;\n",
        "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
    }
    (finding,) = [f for f in scan_example(tmp_path, project, select=["PR101"]).findings]
    assert finding.path == "app/schema.sql" and "comments.article_id" in finding.message


# -- DDL inside generated migrations gets no model advice ----------------------------------------------

MIGRATION = '''
from alembic import op
revision = "0001"
def upgrade():
    op.execute("""
    CREATE TABLE notes (
        id INTEGER PRIMARY KEY,
        author_id INTEGER REFERENCES users(id),
        price REAL,
        created_at TIMESTAMP
    )
    """)
'''


@pytest.mark.parametrize("folder", ["alembic/versions", "migrations/versions"])
def test_sql_in_migration_files_gets_no_model_advice(tmp_path, folder):
    project = {
        f"{folder}/0001_notes.py": MIGRATION,
        "app/views.py": "import sqlite3\ndef mine(uid):\n    conn = sqlite3.connect('app.db')\n    conn.execute('DELETE FROM users WHERE id = ?', (uid,))\n"
        "    return conn.execute('SELECT * FROM notes WHERE author_id = ?', (uid,)).fetchall()\n",
    }
    result = scan_example(tmp_path, project, select=["PR101", "PR103", "PR104", "PR106", "PR130"])
    assert [(f.rule, f.path) for f in result.findings] == []


def test_the_same_ddl_in_a_schema_file_is_still_reviewed(tmp_path):
    ddl = MIGRATION.split('"""')[1]
    project = {
        "app/schema.sql": ddl + ";\n",
        "app/views.py": "import sqlite3\ndef mine(uid):\n    conn = sqlite3.connect('app.db')\n    return conn.execute('SELECT * FROM notes WHERE author_id = ?', (uid,)).fetchall()\n",
    }
    result = scan_example(tmp_path, project, select=["PR101", "PR103", "PR104"])
    assert sorted(f.rule for f in result.findings) == ["PR101", "PR103", "PR104"]


def test_query_builder_tables_with_no_known_columns_are_not_models_without_a_key(tmp_path):
    source = (
        "from pypika import Table\nclass TypedTable(Table):\n    __table__ = ''\n"
        "class Users(TypedTable):\n    __table__ = 'users'\n    id: int\n    username: str\n"
    )
    result = scan_example(tmp_path, source, select=["PR106"])
    assert result.findings == []


def test_a_relationship_name_two_models_share_counts_only_for_the_one_read(tmp_path):
    models = """
from sqlalchemy import Column, ForeignKey, Integer, Text
from sqlalchemy.orm import declarative_base, relationship
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    comments = relationship("Comment", lazy="dynamic")
class Post(Base):
    __tablename__ = "posts"
    id = Column(Integer, primary_key=True)
    comments = relationship("Comment", lazy="dynamic")
    def to_json(self):
        return {"comment_count": self.comments.count()}
class Comment(Base):
    __tablename__ = "comments"
    id = Column(Integer, primary_key=True)
    body = Column(Text)
    author_id = Column(Integer, ForeignKey("users.id"))
    post_id = Column(Integer, ForeignKey("posts.id"))
"""
    views = "from models import Post\ndef show(post: Post):\n    return post.comments.all()\n"
    result = scan_example(tmp_path, {"models.py": models, "views.py": views}, select=["PR101"])
    assert [f.message.split(" ")[0] for f in result.findings] == ["Comment.post_id"]

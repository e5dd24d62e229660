"""Data-model codemods: column constraints and types (models and SQL schemas), eager loading,
Alembic instead of tables created at start-up."""

from __future__ import annotations

import sqlite3

import pytest

from tests.fixers.roundtrip import fix_project, read, run_python

MODELS = """
from datetime import datetime

from sqlalchemy import Column, DateTime, Float, ForeignKey, Integer, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


members = Table(
    "members",
    Base.metadata,
    Column("team_id", Integer, ForeignKey("teams.id")),
    Column("user_id", Integer, ForeignKey("users.id")),
)


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, index=True)
    created_at = Column(DateTime, default=datetime.utcnow)
    teams = relationship("Team", secondary=members)


class Team(Base):
    __tablename__ = "teams"
    id = Column(Integer, primary_key=True)
    name = Column(String)
    owner_id = Column(Integer, ForeignKey("users.id"))
    projects = relationship("Project")
    people = relationship("User", secondary=members, viewonly=True)


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    code: Mapped[str] = mapped_column(String(20))
    price: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=datetime.utcnow)
"""
ROUTES = """
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from models import Project, Team, User

app = FastAPI()


class TeamCreate(BaseModel):
    name: str


def get_db():
    yield None


@app.get("/projects/by-code")
def by_code(code: str, db=Depends(get_db)):
    return db.query(Project).filter(Project.code == code).first()


# The foreign keys are queried (an index on one nobody filters or joins on helps nobody).
@app.get("/teams/{team_id}/projects")
def team_projects(team_id: int, db=Depends(get_db)):
    return db.query(Project).filter(Project.team_id == team_id).all(), db.get(Team, team_id).people


@app.get("/users/{user_id}/teams")
def user_teams(user_id: int, db=Depends(get_db)):
    owned = db.query(Team).filter(Team.owner_id == user_id).all()
    return owned, db.get(User, user_id).teams
"""


def test_model_columns_fastapi(tmp_path):
    root, plan, _ = fix_project(tmp_path, {"models.py": MODELS, "main.py": ROUTES}, {"PR101", "PR102", "PR103", "PR104", "PR105", "PR106", "PR130"})
    models = read(root, "models.py")
    assert 'Column("team_id", Integer, ForeignKey("teams.id"), index=True, primary_key=True),' in models
    assert 'Column("user_id", Integer, ForeignKey("users.id"), index=True, primary_key=True),' in models
    assert "email = Column(String, index=True, unique=True)" in models
    assert "created_at = Column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))" in models
    assert "name = Column(String, nullable=False)" in models
    assert 'owner_id = Column(Integer, ForeignKey("users.id"), index=True)' in models
    assert 'team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)' in models
    assert "code: Mapped[str] = mapped_column(String(20), index=True)" in models
    assert "price: Mapped[Decimal] = mapped_column(Numeric(12, 2))" in models
    assert "created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))" in models
    assert "from datetime import datetime, timezone" in models and "from decimal import Decimal" in models
    # The constraints hold in a real database.
    run_python(
        root,
        """
import datetime
from decimal import Decimal
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from models import Base, Project, Team, User
engine = create_engine("sqlite://")
Base.metadata.create_all(engine)
with Session(engine) as db:
    db.add_all([User(email="a@x.io"), Team(name="t"), Project(team_id=1, code="c", price=Decimal("0.10"))])
    db.commit()
    assert db.get(Project, 1).price + Decimal("0.20") == Decimal("0.30")
    db.add(User(email="a@x.io"))
    try:
        db.commit()
    except IntegrityError:
        pass
    else:
        raise SystemExit("duplicate email accepted")
    db.rollback()
    try:
        db.add(Team(name=None)); db.commit()
    except IntegrityError:
        pass
    else:
        raise SystemExit("NULL name accepted")
""",
    )


SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER REFERENCES users(id),
    price REAL NOT NULL
);
"""
FLASK_APP = """
import sqlite3

from flask import Flask

app = Flask(__name__)


def get_db():
    conn = sqlite3.connect("shop.db")
    return conn


@app.route("/items/<int:item_id>")
def item(item_id):
    return dict(get_db().execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone())


@app.route("/users/<int:user_id>/items")
def user_items(user_id):
    return [dict(r) for r in get_db().execute("SELECT * FROM items WHERE owner_id = ? LIMIT 50", (user_id,)).fetchall()]
"""


def test_schema_file_flask(tmp_path):
    root, _, _ = fix_project(tmp_path, {"schema.sql": SCHEMA, "app.py": FLASK_APP}, {"PR101", "PR102", "PR103", "PR104"})
    schema = read(root, "schema.sql")
    assert schema == SCHEMA.lstrip("\n").replace(
        "    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP\n);\n",
        "    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP\n);\nCREATE UNIQUE INDEX IF NOT EXISTS ux_users_email ON users (email);\n",
    ).replace(
        "    price REAL NOT NULL\n);\n",
        "    price NUMERIC(12, 2) NOT NULL\n);\nCREATE INDEX IF NOT EXISTS ix_items_owner_id ON items (owner_id);\n",
    )
    db = sqlite3.connect(":memory:")
    db.executescript(schema)
    db.execute("INSERT INTO users (email) VALUES ('a@x.io')")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO users (email) VALUES ('a@x.io')")
    plan = db.execute("EXPLAIN QUERY PLAN SELECT * FROM items WHERE owner_id = 1").fetchall()
    assert "ix_items_owner_id" in str(plan)


EAGER = {
    "models.py": """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()


class Project(Base):
    __tablename__ = "projects"
    id = Column(Integer, primary_key=True)
    name = Column(String)
    tasks = relationship("Task")


class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    project_id = Column(Integer, ForeignKey("projects.id"), index=True)
""",
    "main.py": """
from fastapi import FastAPI

from models import Project

app = FastAPI()


@app.get("/projects")
def projects(db=None):
    rows = db.query(Project).filter(Project.name != "").limit(50).all()
    return [{"name": p.name, "tasks": len(p.tasks)} for p in rows]
""",
}


def test_eager_loading_fastapi(tmp_path):
    root, _, _ = fix_project(tmp_path, EAGER, {"PR121"})
    main = read(root, "main.py")
    assert "from sqlalchemy.orm import selectinload\n" in main
    assert 'rows = db.query(Project).options(selectinload(Project.tasks)).filter(Project.name != "").limit(50).all()' in main


def test_eager_loading_flask_sqlalchemy_loop(tmp_path):
    files = dict(EAGER)
    files["main.py"] = """
from flask import Flask

from models import Project

app = Flask(__name__)


@app.route("/projects")
def projects():
    total = 0
    for project in db.query(Project).limit(20).all():
        total += len(project.tasks)
    return {"tasks": total}
"""
    root, _, _ = fix_project(tmp_path, files, {"PR121"})
    assert "for project in db.query(Project).options(selectinload(Project.tasks)).limit(20).all():" in read(root, "main.py")


CREATE_ALL = {
    "app/__init__.py": "",
    "app/database.py": """
import os

from sqlalchemy import create_engine
from sqlalchemy.orm import declarative_base

engine = create_engine(os.environ["DATABASE_URL"])
Base = declarative_base()
""",
    "app/models.py": """
from sqlalchemy import Column, Integer, String

from app.database import Base


class Note(Base):
    __tablename__ = "notes"
    id = Column(Integer, primary_key=True)
    body = Column(String(200))
""",
    "app/main.py": """
from fastapi import FastAPI

from app.database import Base, engine
from app import models

Base.metadata.create_all(bind=engine)

app = FastAPI()


@app.get("/")
def index():
    return {}
""",
}


def test_alembic_for_create_all(tmp_path):
    root, plan, _ = fix_project(tmp_path, CREATE_ALL, {"PR110"})
    main = read(root, "app/main.py")
    assert 'if engine.url.get_backend_name() == "sqlite" or APP_ENV in ("development", "dev", "local", "test", "testing"):\n    Base.metadata.create_all(bind=engine)\n' in main
    env = read(root, "migrations/env.py")
    assert "from app.database import Base\nimport app.models" in env and "from app.database import engine" in env
    assert "target_metadata = Base.metadata" in env
    assert {"alembic.ini", "migrations/script.py.mako", "migrations/README"} <= set(plan.files_changed)
    # The scaffolding works: alembic autogenerates the first revision from the app's models.
    db = tmp_path / "notes.db"
    run_python(root, "from alembic.config import main; main(['revision', '--autogenerate', '-m', 'initial'])", env={"DATABASE_URL": f"sqlite:///{db}"})
    revision = next((root / "migrations" / "versions").glob("*initial*.py")).read_text()
    assert "op.create_table('notes'" in revision or 'op.create_table("notes"' in revision
    run_python(root, "from alembic.config import main; main(['upgrade', 'head'])", env={"DATABASE_URL": f"sqlite:///{db}"})
    assert sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE name = 'notes'").fetchone()
    # On a server database outside development and tests the app no longer creates tables itself
    # (tests/fixers/test_migrations_keep_app_working.py checks each case).
    assert plan.notes and "alembic upgrade head" in plan.notes[0]


def test_alembic_for_a_schema_script_flask(tmp_path):
    files = {
        "app/__init__.py": """
from flask import Flask

from app.db import init_db


def create_app():
    app = Flask(__name__)
    with app.app_context():
        init_db()

    @app.route("/")
    def index():
        return "ok"

    return app
""",
        "app/db.py": """
import os
import sqlite3


def init_db():
    db = sqlite3.connect(os.environ.get("DATABASE_PATH", "app.db"))
    with open(os.path.join(os.path.dirname(__file__), "schema.sql")) as f:
        db.executescript(f.read())
""",
        "app/schema.sql": "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT);\n",
    }
    root, _, _ = fix_project(tmp_path, files, {"PR110"})
    # sqlite3 is SQLite: missing tables are still created at start-up (the app's tests and a fresh
    # checkout keep working); the comment says where changes go now.
    assert "        # write one in migrations/versions/ and run `alembic upgrade head` before the app starts.\n        db.executescript(f.read())\n" in read(root, "app/db.py")
    fresh = tmp_path / "started.db"
    run_python(root, "from app import create_app; create_app()", env={"DATABASE_PATH": str(fresh), "APP_ENV": "production"})
    assert sqlite3.connect(fresh).execute("SELECT name FROM sqlite_master WHERE name = 'notes'").fetchone()
    db = tmp_path / "fresh.db"
    run_python(root, "from alembic.config import main; main(['upgrade', 'head'])", env={"DATABASE_URL": f"sqlite:///{db}"})
    assert sqlite3.connect(db).execute("SELECT name FROM sqlite_master WHERE name = 'notes'").fetchone()


def test_a_table_with_other_columns_gets_no_guessed_key(tmp_path):
    from fixers import plan_fixes
    from tests.helpers import scan_project, write_project

    root = write_project(tmp_path, {"schema.sql": "CREATE TABLE events (name TEXT, payload TEXT);\n", "app.py": FLASK_APP})
    found = [f for f in scan_project(root).findings if f.rule == "PR106"]
    plan = plan_fixes(scan_project(root), found)
    assert plan.is_empty and "by hand" in plan.skipped[0][1]


def test_a_dynamic_relationship_is_not_loaded_with_the_rows(tmp_path):
    """lazy="dynamic" is a query, not a list: SQLAlchemy refuses selectinload on it, so the fix
    would make the route fail on every request."""
    import subprocess
    import sys

    from fixers import plan_fixes
    from tests.helpers import scan_project, write_project

    files = dict(EAGER)
    files["models.py"] = files["models.py"].replace('tasks = relationship("Task")', 'tasks = relationship("Task", lazy="dynamic")')
    files["main.py"] = files["main.py"].replace('len(p.tasks)', "p.tasks.count()")
    root = write_project(tmp_path, files)
    result = scan_project(root)
    found = [f for f in result.findings if f.rule == "PR121"]
    assert found
    plan = plan_fixes(result, found, include_review=True)
    assert plan.is_empty
    assert 'Project.tasks is lazy="dynamic"' in plan.skipped[0][1]
    # What the fix would have written fails in SQLAlchemy itself.
    code = (
        "from sqlalchemy import create_engine\nfrom sqlalchemy.orm import Session, selectinload\nfrom models import Base, Project\n"
        "engine = create_engine('sqlite://')\nBase.metadata.create_all(engine)\n"
        "Session(engine).query(Project).options(selectinload(Project.tasks)).all()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "eager loading cannot be applied" in done.stderr

"""N+1 along the path the code takes: flags that switch the query off, error paths, job progress,
helpers in other modules, and serialisation that lazy-loads relationships."""

from __future__ import annotations

from tests.helpers import scan_example

MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, Numeric
from sqlalchemy.orm import declarative_base, relationship
Base = declarative_base()
class Team(Base):
    __tablename__ = "teams"
    id = Column(Integer, primary_key=True)
    members = relationship("Member")
class Member(Base):
    __tablename__ = "members"
    id = Column(Integer, primary_key=True)
    team_id = Column(Integer, ForeignKey("teams.id"), index=True)
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    lines = relationship("OrderLine")
    @property
    def total(self):
        return sum(line.price for line in self.lines)
    def to_dict(self):
        return {"id": self.id, "total": self.total}
class OrderLine(Base):
    __tablename__ = "order_lines"
    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("orders.id"), index=True)
    price = Column(Numeric(10, 2))
"""


def fired(tmp_path, files, code):
    return [f for f in scan_example(tmp_path, files, select=[code]).findings if f.rule == code]


# -- PR120: the path through the function ----------------------------------------------------------

SAME_MODULE = """
from sqlalchemy.orm import Session
def member_count(db, team, with_members=True):
    data = {"id": team.id}
    if with_members:
        data["members"] = db.query(Member).filter(Member.team_id == team.id).count()
    return data
def listing(db: Session):
    teams = db.query(Team).all()
    return [member_count(db, t, with_members=False) for t in teams]
def full_listing(db: Session):
    teams = db.query(Team).all()
    return [member_count(db, t) for t in teams]
"""


def test_helper_called_with_the_flag_off_is_not_n_plus_one(tmp_path):
    found = fired(tmp_path, {"models.py": MODELS, "views.py": SAME_MODULE}, "PR120")
    assert [f.line for f in found] == [12]  # only full_listing


def test_restore_loop_on_an_error_path_is_not_reported(tmp_path):
    code = """
import sqlite3
def archive(db):
    rows = db.execute("SELECT * FROM items WHERE done = 1").fetchall()
    try:
        db.execute("DELETE FROM items WHERE done = 1")
        db.commit()
    except sqlite3.Error:
        for row in rows:
            db.execute("INSERT INTO items VALUES (?, ?)", (row[0], row[1]))
        raise
"""
    assert fired(tmp_path, code, "PR120") == []


def test_background_job_recording_progress_per_item_is_not_reported(tmp_path):
    code = """
import sqlite3
def run_import(db, job_id):
    rows = db.execute("SELECT * FROM staging").fetchall()
    for i, row in enumerate(rows):
        handle(row)
        db.execute("UPDATE jobs SET progress = ? WHERE id = ?", (i, job_id))
def per_row_lookup(db):
    rows = db.execute("SELECT * FROM staging").fetchall()
    for row in rows:
        db.execute("SELECT * FROM owners WHERE id = ?", (row[1],)).fetchone()
"""
    found = fired(tmp_path, code, "PR120")
    assert [f.line for f in found] == [10]


# -- PR121: a helper that reads the relationship only when asked ---------------------------------------


def test_lazy_relationship_in_helper_switched_off_by_flag(tmp_path):
    views = """
from models import Team
def team_dict(team, with_members=True):
    data = {"id": team.id}
    if with_members:
        data["members"] = [m.id for m in team.members]
    return data
def listing(db):
    return [team_dict(t, with_members=False) for t in db.query(Team).all()]
def full(db):
    return [team_dict(t) for t in db.query(Team).all()]
"""
    found = fired(tmp_path, {"models.py": MODELS, "views.py": views}, "PR121")
    assert [f.line for f in found] == [10]


# -- PR123: per-row queries in helpers of other modules -------------------------------------------------

REPO = """
def members_of(db, team_id):
    return db.query(Member).filter(Member.team_id == team_id).all()
def all_teams(db):
    return db.query(Team).all()
def team_card(db, team, with_members=True):
    card = {"id": team.id}
    if with_members:
        card["members"] = members_of(db, team.id)
    return card
"""


def test_repository_n_plus_one_across_modules(tmp_path):
    main = (
        "from fastapi import FastAPI\nfrom app import repo\napp = FastAPI()\n"
        "@app.get('/teams')\ndef teams(db=None):\n    return [{'id': t.id, 'members': repo.members_of(db, t.id)} for t in repo.all_teams(db)]\n"
        "@app.get('/cards')\ndef cards(db=None):\n    rows = repo.all_teams(db)\n    return [repo.team_card(db, t, with_members=False) for t in rows]\n"
    )
    found = fired(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/repo.py": REPO, "app/main.py": main}, "PR123")
    assert [(f.path, f.line) for f in found] == [("app/main.py", 6)]
    assert "members_of()" in found[0].message and "app/repo.py:2" in found[0].message


# -- PR122: serialisation ------------------------------------------------------------------------------------


def test_to_dict_and_properties_that_lazy_load_per_row(tmp_path):
    main = (
        "from flask import Flask, jsonify\nfrom sqlalchemy.orm import selectinload\nfrom app.models import Order\napp = Flask(__name__)\n"
        "@app.route('/orders')\ndef orders():\n    return jsonify([o.to_dict() for o in Order.query.all()])\n"
        "@app.route('/totals')\ndef totals():\n    rows = Order.query.all()\n    return jsonify([{'id': o.id, 'total': o.total} for o in rows])\n"
        "@app.route('/eager')\ndef eager():\n    rows = Order.query.options(selectinload(Order.lines)).all()\n    return jsonify([o.to_dict() for o in rows])\n"
        "@app.route('/orders/<int:id>')\ndef one(id):\n    return jsonify(Order.query.get(id).to_dict())\n"
    )
    found = fired(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/main.py": main}, "PR122")
    assert [f.line for f in found] == [7, 11]
    assert "Order.lines" in found[0].message


def test_response_model_serialising_a_relationship(tmp_path):
    schemas = "from pydantic import BaseModel\nclass MemberOut(BaseModel):\n    id: int\nclass TeamOut(BaseModel):\n    id: int\n    members: list[MemberOut]\nclass TeamBrief(BaseModel):\n    id: int\n"
    main = (
        "from fastapi import FastAPI\nfrom sqlalchemy.orm import selectinload\nfrom app.models import Team\nfrom app.schemas import TeamBrief, TeamOut\napp = FastAPI()\n"
        "@app.get('/teams', response_model=list[TeamOut])\ndef teams(db=None):\n    return db.query(Team).all()\n"
        "@app.get('/teams/brief', response_model=list[TeamBrief])\ndef brief(db=None):\n    return db.query(Team).all()\n"
        "@app.get('/teams/full', response_model=list[TeamOut])\ndef full(db=None):\n    return db.query(Team).options(selectinload(Team.members)).all()\n"
    )
    found = fired(tmp_path, {"app/__init__.py": "", "app/models.py": MODELS, "app/schemas.py": schemas, "app/main.py": main}, "PR122")
    assert [f.line for f in found] == [6]


FLASK_MODELS = """
from flask_sqlalchemy import SQLAlchemy
db = SQLAlchemy()
class Follow(db.Model):
    __tablename__ = "follows"
    follower_id = db.Column(db.Integer, db.ForeignKey("users.id"), primary_key=True)
    followed_id = db.Column(db.Integer, db.ForeignKey("users.id"), primary_key=True)
class User(db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)
    followers = db.relationship("Follow", foreign_keys=[Follow.followed_id], backref=db.backref("followed", lazy="joined"), lazy="dynamic")
class Post(db.Model):
    __tablename__ = "posts"
    id = db.Column(db.Integer, primary_key=True)
    comments = db.relationship("Comment", backref="post", lazy="dynamic")
    def to_json(self):
        return {"id": self.id, "comment_count": self.comments.count()}
class Comment(db.Model):
    __tablename__ = "comments"
    id = db.Column(db.Integer, primary_key=True)
    post_id = db.Column(db.Integer, db.ForeignKey("posts.id"))
    def to_json(self):
        return {"id": self.id, "post_id": self.post_id}
"""


def test_serialiser_of_the_model_the_rows_belong_to(tmp_path):
    main = (
        "from flask import Flask, jsonify\nfrom app.models import Comment, Post\napp = Flask(__name__)\n"
        "@app.route('/posts')\ndef posts():\n    posts = Post.query.all()\n    return jsonify([post.to_json() for post in posts])\n"
        "@app.route('/comments')\ndef comments():\n    comments = Comment.query.all()\n    return jsonify([comment.to_json() for comment in comments])\n"
    )
    found = fired(tmp_path, {"app/__init__.py": "", "app/models.py": FLASK_MODELS, "app/main.py": main}, "PR122")
    assert [f.line for f in found] == [7]
    assert "Post.comments" in found[0].message


def test_backref_loaded_eagerly_is_not_a_lazy_load(tmp_path):
    main = (
        "from flask import Flask\nfrom app.models import User\napp = Flask(__name__)\n"
        "@app.route('/followers/<int:id>')\ndef followers(id):\n    user = User.query.get(id)\n"
        "    rows = user.followers.all()\n    return {'users': [item.followed.id for item in rows]}\n"
    )
    assert fired(tmp_path, {"app/__init__.py": "", "app/models.py": FLASK_MODELS, "app/main.py": main}, "PR121") == []


def test_lazy_relationship_read_by_a_serialiser_in_another_module(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/models.py": MODELS,
        "app/serializers.py": "def team_to_dict(team):\n    return {'id': team.id, 'members': [m.id for m in team.members]}\n",
        "app/views.py": "from app.models import Team\nfrom app.serializers import team_to_dict\ndef listing(db):\n    return [team_to_dict(t) for t in db.query(Team).all()]\n",
    }
    found = fired(tmp_path, files, "PR121")
    assert [(f.path, f.line) for f in found] == [("app/views.py", 4)]


def test_repository_methods_over_aiosql_queries(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/queries.py": "import aiosql\nqueries = aiosql.from_path('sql', 'asyncpg')\n",
        "app/articles.py": """
from app.queries import queries
class ArticlesRepository:
    def __init__(self, conn):
        self.connection = conn
    async def list_articles(self, limit, offset):
        rows = await queries.filter_articles(self.connection, limit=limit, offset=offset)
        return [await self._article(row) for row in rows]
    async def _article(self, row):
        return {"slug": row["slug"], "tags": await self.tags_of(row["slug"])}
    async def tags_of(self, slug):
        return [r["tag"] for r in await queries.get_tags_for_article_by_slug(self.connection, slug=slug)]
    async def list_tags(self):
        return [r["tag"] for r in await queries.get_all_tags(self.connection)]
""",
        "app/main.py": "from fastapi import FastAPI\nfrom app.articles import ArticlesRepository\napp = FastAPI()\n@app.get('/articles')\nasync def articles(limit: int = 20, offset: int = 0):\n    return await ArticlesRepository(None).list_articles(limit, offset)\n",
    }
    found = fired(tmp_path, files, "PR123")
    assert [(f.path, f.line) for f in found] == [("app/articles.py", 7)]
    assert "_article() → ArticlesRepository.tags_of()" in found[0].message

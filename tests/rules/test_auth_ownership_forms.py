"""PR203 in the forms ownership takes in real apps: compare-and-abort, a helper raising 404 for
someone else's object in another module, raw SQL on a table with a `user_id` column and no
foreign keys, an owner or team id taken from the request, and a public feed (no gap)."""

from __future__ import annotations

from tests.helpers import scan_project, write_project

SCHEMA = """
CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT UNIQUE, password_hash TEXT);
CREATE TABLE notes (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, body TEXT);
"""

FLASK_SQL = """
import sqlite3
from flask import Flask, abort, g, jsonify, request, session

app = Flask(__name__)


def db():
    return sqlite3.connect("app.db")


def login_required(view):
    def wrapped(*args, **kwargs):
        if "user_id" not in session:
            abort(401)
        return view(*args, **kwargs)
    wrapped.__name__ = view.__name__
    return wrapped


@app.route("/notes")
@login_required
def my_notes():
    return jsonify(db().execute("SELECT * FROM notes WHERE user_id = ?", (session["user_id"],)).fetchall())


@app.route("/notes/<int:note_id>")
@login_required
def show_note(note_id):
    row = db().execute({query}).fetchone()
{check}
    return jsonify(row)
"""


def found(tmp_path, files, code="PR203"):
    result = scan_project(write_project(tmp_path, files), select=[code])
    return [f.message for f in result.findings if f.rule == code]


def _sql_app(query: str, check: str = "") -> dict[str, str]:
    return {"schema.sql": SCHEMA, "app.py": FLASK_SQL.format(query=query, check=check or "    pass")}


def test_raw_sql_lookup_by_id_on_a_table_with_a_user_id_column_is_found(tmp_path):
    hits = found(tmp_path, _sql_app('"SELECT * FROM notes WHERE id = ?", (note_id,)'))
    assert hits == ["GET /notes/<int:note_id> loads notes by note_id from the path without checking it belongs to the current user"]


def test_raw_sql_lookup_with_the_owner_in_the_where_clause_is_fine(tmp_path):
    assert found(tmp_path, _sql_app('"SELECT * FROM notes WHERE id = ? AND user_id = ?", (note_id, session["user_id"])')) == []


def test_compare_and_abort_after_a_raw_sql_lookup_is_fine(tmp_path):
    check = '    if row is None or row[1] != session["user_id"]:\n        abort(404)'
    assert found(tmp_path, _sql_app('"SELECT * FROM notes WHERE id = ?", (note_id,)', check)) == []


MODELS = """
from flask_login import UserMixin
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id = db.Column(db.Integer, primary_key=True)


class Team(db.Model):
    __tablename__ = "teams"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String)


class Post(db.Model):
    __tablename__ = "posts"
    id = db.Column(db.Integer, primary_key=True)
    body = db.Column(db.Text)
    author_id = db.Column(db.Integer, db.ForeignKey("users.id"), index=True)
    team_id = db.Column(db.Integer)
"""

HELPERS = """
from flask import abort
from flask_login import current_user
from app.models import Post


def get_own_post_or_404(post_id):
    post = Post.query.get(post_id)
    if post is None or post.author_id != current_user.id:
        abort(404)
    return post
"""

VIEWS = """
from flask import Blueprint, abort, jsonify, request
from flask_login import current_user, login_required
from app.helpers import get_own_post_or_404
from app.models import Post, db

bp = Blueprint("posts", __name__)


@bp.route("/posts/<int:id>", methods=["PUT"])
@login_required
def edit_post(id):
    {lookup}
    post.body = request.json["body"]
    db.session.commit()
    return jsonify(id=post.id)
"""


def _flask(views: str, **extra: str) -> dict[str, str]:
    files = {"app/__init__.py": "", "app/models.py": MODELS, "app/helpers.py": HELPERS, "app/views.py": views}
    files.update(extra)
    return files


def test_a_helper_in_another_module_that_aborts_404_for_other_users_posts_is_an_ownership_check(tmp_path):
    assert found(tmp_path, _flask(VIEWS.format(lookup="post = get_own_post_or_404(id)"))) == []
    hits = found(tmp_path / "b", _flask(VIEWS.format(lookup="post = Post.query.get(id)")))
    assert hits and hits[0].startswith("PUT /posts/<int:id> loads posts by id"), hits


def test_compare_and_abort_403_on_the_path_id_is_an_ownership_check(tmp_path):
    views = VIEWS.format(lookup="post = Post.query.get(id)\n    if current_user.id != post.author_id:\n        abort(403)")
    assert found(tmp_path, _flask(views)) == []


CREATE = """
from flask import Blueprint, jsonify, request
from flask_login import current_user, login_required
from app.models import Post, db

bp = Blueprint("posts", __name__)


@bp.route("/posts", methods=["POST"])
@login_required
def create_post():
    data = request.get_json()
    {check}
    post = Post(body=data["body"], {owner})
    db.session.add(post)
    db.session.commit()
    return jsonify(id=post.id)
"""


def test_an_owner_id_from_the_request_body_is_found(tmp_path):
    hits = found(tmp_path, _flask(CREATE.format(check="", owner='author_id=data["author_id"]')))
    assert hits == ["POST /posts creates Post with author_id from the request body: a user can create rows in someone else's name"]
    assert found(tmp_path / "b", _flask(CREATE.format(check="", owner="author_id=current_user.id"))) == []


def test_a_team_id_from_the_request_is_found_unless_membership_is_checked(tmp_path):
    expected = ["POST /posts creates Post with team_id from the request body without checking the current user is a member"]
    # the author is the current user, but nothing says they belong to the team they post into
    assert found(tmp_path, _flask(CREATE.format(check="", owner='team_id=data["team_id"], author_id=current_user.id'))) == expected
    assert found(tmp_path / "b", _flask(CREATE.format(check="", owner='team_id=request.json["team_id"]'))) == expected
    member = 'if not is_member(current_user, data["team_id"]):\n        abort(403)'
    assert found(tmp_path / "c", _flask(CREATE.format(check=member, owner='team_id=data["team_id"]'))) == []


FEED = """
from flask import Blueprint, jsonify
from flask_login import login_required
from app.models import Post

bp = Blueprint("posts", __name__)


@bp.route("{path}")
@login_required
def listing():
    return jsonify([p.body for p in Post.query.all()])
"""


def test_a_public_feed_is_not_an_ownership_gap(tmp_path):
    assert found(tmp_path, _flask(FEED.format(path="/feed"))) == []
    published = MODELS.replace("    team_id = db.Column(db.Integer)\n", "    team_id = db.Column(db.Integer)\n    published = db.Column(db.Boolean)\n")
    assert found(tmp_path / "b", _flask(FEED.format(path="/posts/export"), **{"app/models.py": published})) == []
    hits = found(tmp_path / "c", _flask(FEED.format(path="/posts/export")))
    assert hits == ["GET /posts/export returns every user's posts rows (no filter on the current user)"], hits


SOCIAL = """
from flask import Blueprint, abort
from apifairy import authenticate
from flask_httpauth import HTTPTokenAuth
from app.models import Post, db

bp = Blueprint("posts", __name__)
token_auth = HTTPTokenAuth()


@bp.route("/posts")
@authenticate(token_auth)
def all_posts():
    return {listing}


@bp.route("/posts/<int:id>")
@authenticate(token_auth)
def get_post(id):
    return db.session.get(Post, id) or abort(404)
"""


def test_a_post_every_logged_in_user_sees_in_the_listing_is_no_ownership_gap_by_id(tmp_path):
    assert found(tmp_path, _flask(SOCIAL.format(listing="Post.select()"))) == []
    own = SOCIAL.format(listing="Post.select().where(Post.author_id == token_auth.current_user().id)")
    hits = found(tmp_path / "b", _flask(own))
    assert hits == ["GET /posts/<int:id> loads posts by id from the path without checking it belongs to the current user"], hits


BOOKS = """
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

app = FastAPI()


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)


class Book(Base):
    __tablename__ = "books"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


def get_db():
    yield None


def get_current_user(db: Session = Depends(get_db)) -> User:
    raise HTTPException(status_code=401)


@app.get("/books/{{title}}")
def book_by_title(title: str, user: User = Depends(get_current_user), db: Session = Depends(get_db)):
    book = db.query(Book).filter(Book.title == title{owner}).first()
    if book is None:
        raise HTTPException(status_code=404)
    return {{"title": book.title, "secret": book.secret}}
"""


def test_a_private_row_looked_up_by_its_title_is_found(tmp_path):
    """VAmPI's broken object-level authorization: any logged-in user reads anyone's book secret by
    naming its title. The path parameter is no id, but it picks a row all the same."""
    hits = found(tmp_path, {"main.py": BOOKS.format(owner="")})
    assert hits == ["GET /books/{title} loads books by title from the path without checking it belongs to the current user"]


def test_a_title_lookup_filtered_on_the_owner_is_fine(tmp_path):
    assert found(tmp_path, {"main.py": BOOKS.format(owner=", Book.user_id == user.id")}) == []

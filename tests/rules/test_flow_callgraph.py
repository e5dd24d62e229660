"""The call graph across modules and the per-function summaries the flow rules read."""

from __future__ import annotations

from auditor.index.callgraph import call_graph, request_code
from tests.helpers import scan_project, write_project

LAYERED = {
    "app/__init__.py": "",
    "app/db.py": """
import sqlite3
def get_conn():
    return sqlite3.connect("app.db")
def query_all(sql, args=()):
    conn = get_conn()
    return conn.execute(sql, args).fetchall()
""",
    "app/repository.py": """
import app.db as database
class PostRepository:
    def all_posts(self):
        return database.query_all("SELECT * FROM posts ORDER BY created DESC")
    def recent(self, limit):
        return database.query_all("SELECT * FROM posts ORDER BY created DESC LIMIT ?", (limit,))
posts = PostRepository()
""",
    "app/service.py": """
from app.repository import PostRepository, posts
def list_posts():
    return posts.all_posts()
def recent_posts():
    repo = PostRepository()
    return repo.recent(5)
""",
    "app/main.py": """
from fastapi import FastAPI
from app import service
app = FastAPI()
@app.get("/posts")
def index():
    return service.list_posts()
@app.get("/recent")
def recent():
    return service.recent_posts()
""",
}


def graph_of(tmp_path, files):
    index = scan_project(write_project(tmp_path, files), select=["PR590"]).index
    return index, call_graph(index)


def test_effects_flow_from_db_module_to_the_route_through_aliases_and_instances(tmp_path):
    index, graph = graph_of(tmp_path, LAYERED)
    summary = graph.summary("app/main.py", "index")
    fetch = summary.effects["fetches_all"]
    assert (fetch.relpath, fetch.line) == ("app/db.py", 6)
    assert fetch.chain() == "list_posts() → PostRepository.all_posts() → query_all()"
    assert summary.effects["connects"].what == "sqlite3.connect()"
    assert "get_conn" in summary.effects["connects"].via


def test_a_limit_passed_down_bounds_what_the_helper_fetches(tmp_path):
    _, graph = graph_of(tmp_path, LAYERED)
    summary = graph.summary("app/main.py", "recent")
    assert "fetches_all" not in summary.effects  # LIMIT in the repository's SQL
    assert "connects" in summary.effects  # but it still opens a connection per call


def test_request_code_reaches_every_depth_and_says_how(tmp_path):
    index, _ = graph_of(tmp_path, LAYERED)
    reached = request_code(index)
    assert ("app/db.py", "get_conn") in reached
    assert "through" in reached[("app/db.py", "get_conn")]
    assert ("app/db.py", "query_all") in reached


def test_recursion_reaches_a_fixed_point(tmp_path):
    files = {
        "tree.py": """
import time
def walk(node, depth=0):
    if depth > 3:
        return pause()
    return [walk(child, depth + 1) for child in node]
def pause():
    time.sleep(1)
    return walk([], 9)
""",
    }
    _, graph = graph_of(tmp_path, files)
    assert graph.summary("tree.py", "walk").effects["blocks"].what == "time.sleep()"
    assert graph.summary("tree.py", "pause").effects["blocks"].via == ()


def test_a_flag_that_guards_the_effect_is_switched_off_at_the_call(tmp_path):
    files = {
        "svc.py": """
def members(db, team_id):
    return db.query(Member).filter(Member.team_id == team_id).all()
def team_dict(db, team, with_members=True):
    data = {"id": team.id}
    if with_members:
        data["members"] = members(db, team.id)
    return data
def off(db, team):
    return team_dict(db, team, with_members=False)
def on(db, team):
    return team_dict(db, team)
def passed_on(db, team, full):
    return team_dict(db, team, with_members=full)
""",
    }
    _, graph = graph_of(tmp_path, files)
    assert "queries" not in graph.summary("svc.py", "off").effects
    assert "queries" in graph.summary("svc.py", "on").effects
    assert graph.summary("svc.py", "passed_on").effects["queries"].guard == "full"


def test_what_blocks_and_what_does_not(tmp_path):
    files = {
        "work.py": """
import asyncio
import smtplib
import bcrypt
import requests
from passlib.context import CryptContext
pwd_context = CryptContext(schemes=["bcrypt"])
def mail():
    with smtplib.SMTP("localhost") as s:
        s.send_message(None)
def hashed(pw):
    return bcrypt.hashpw(pw, bcrypt.gensalt())
def passlib_hash(pw):
    return pwd_context.hash(pw)
def fetch():
    return requests.get("https://example.com", timeout=5)
def read_file():
    with open("x.txt") as f:
        return f.read()
def orm(db):
    return db.query(User).first()
async def fine(db):
    await asyncio.sleep(1)
    return (await db.execute(q)).all()
""",
    }
    _, graph = graph_of(tmp_path, files)
    blocks = {name: graph.summary("work.py", name).effects.get("blocks") for name in ("mail", "hashed", "passlib_hash", "fetch", "read_file", "orm", "fine")}
    assert blocks["mail"].what.startswith("smtplib")
    assert "bcrypt" in blocks["hashed"].what
    assert blocks["passlib_hash"].what == "password hashing"
    assert blocks["fetch"].what == "requests.get()"
    assert "file I/O" in blocks["read_file"].what
    assert "synchronous database call" in blocks["orm"].what
    assert blocks["fine"] is None


def test_threads_started_and_forgotten_versus_joined_or_kept(tmp_path):
    files = {
        "bg.py": """
import threading
from threading import Thread
def forgotten():
    threading.Thread(target=work).start()
def in_a_local():
    t = Thread(target=work)
    t.start()
def joined():
    t = Thread(target=work)
    t.start()
    t.join()
def kept(registry):
    t = Thread(target=work)
    t.start()
    registry.append(t)
""",
    }
    _, graph = graph_of(tmp_path, files)
    spawns = {name: "spawns" in graph.summary("bg.py", name).local for name in ("forgotten", "in_a_local", "joined", "kept")}
    assert spawns == {"forgotten": True, "in_a_local": True, "joined": False, "kept": False}


def test_inserts_are_named_by_model_or_table(tmp_path):
    files = {
        "repo.py": """
def add_order(db, plan):
    order = Order(plan=plan)
    db.add(order)
    db.commit()
def add_invite(conn, email):
    conn.execute("INSERT INTO invites (email) VALUES (?)", (email,))
def checkout(db, conn, plan, email):
    add_order(db, plan)
    add_invite(conn, email)
""",
    }
    _, graph = graph_of(tmp_path, files)
    assert set(graph.summary("repo.py", "checkout").inserts()) == {"Order", "invites"}


def test_a_tree_without_routes_builds_nothing(tmp_path):
    index, graph = graph_of(tmp_path, {"lib.py": "import sqlite3\ndef f():\n    return sqlite3.connect('x').execute('SELECT 1').fetchall()\n"})
    assert request_code(index) == {}
    assert graph.summaries == {}


def test_methods_on_an_attribute_set_in_init(tmp_path):
    files = {
        "repos.py": """
class ProfilesRepository:
    def __init__(self, conn):
        self.conn = conn
    def profile(self, username):
        return self.conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
class ArticlesRepository:
    def __init__(self, conn):
        self._profiles = ProfilesRepository(conn)
    def with_author(self, article):
        return {"article": article, "author": self._profiles.profile(article["author"])}
""",
    }
    _, graph = graph_of(tmp_path, files)
    summary = graph.summary("repos.py", "ArticlesRepository.with_author")
    assert summary.effects["queries"].via == ("ProfilesRepository.profile",)

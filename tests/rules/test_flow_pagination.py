"""Pagination followed through the app's helpers, and page sizes the client controls."""

from __future__ import annotations

from fixers import plan_fixes
from tests.helpers import scan_example, scan_project, write_project

LAYERS = {
    "app/__init__.py": "",
    "app/db.py": "import sqlite3\ndef query_all(sql, args=()):\n    with sqlite3.connect('app.db') as conn:\n        return conn.execute(sql, args).fetchall()\n",
    "app/repository.py": (
        "from app.db import query_all\n"
        "def all_posts():\n    return query_all('SELECT * FROM posts ORDER BY created DESC')\n"
        "def latest(limit):\n    return query_all('SELECT * FROM posts ORDER BY created DESC LIMIT ?', (limit,))\n"
    ),
    "app/service.py": "from app import repository\ndef list_posts():\n    return repository.all_posts()\ndef front_page():\n    return repository.latest(12)\n",
}


def fired(tmp_path, files, code):
    return [f for f in scan_example(tmp_path, files, select=[code]).findings if f.rule == code]


def test_route_service_repository_db_without_limit(tmp_path):
    main = "from fastapi import FastAPI\nfrom app.service import list_posts\napp = FastAPI()\n@app.get('/posts')\ndef posts():\n    return list_posts()\n"
    found = fired(tmp_path, {**LAYERS, "app/main.py": main}, "PR322")
    assert [(f.path, f.line) for f in found] == [("app/main.py", 6)]
    assert "list_posts() → all_posts() → query_all()" in found[0].message and "app/db.py:4" in found[0].message


def test_limit_in_the_repository_query_is_enough(tmp_path):
    main = "from fastapi import FastAPI\nfrom app.service import front_page\napp = FastAPI()\n@app.get('/')\ndef home():\n    return front_page()\n"
    assert fired(tmp_path, {**LAYERS, "app/main.py": main}, "PR322") == []


def test_everything_fetched_then_sliced_in_python_even_with_a_page_parameter(tmp_path):
    main = (
        "from flask import Flask, request\nfrom app.service import list_posts\napp = Flask(__name__)\n"
        "@app.route('/')\ndef home():\n    posts = list_posts()\n    return {'latest': posts[:12]}\n"
        "@app.route('/archive')\ndef archive():\n    page = request.args.get('page', 1, type=int)\n    return {'posts': list_posts()[(page - 1) * 20:page * 20]}\n"
    )
    found = fired(tmp_path, {**LAYERS, "app/main.py": main}, "PR322")
    assert [f.line for f in found] == [6, 11]
    assert all("slice in Python" in f.message for f in found)


def test_a_paged_route_and_an_export_are_left_alone(tmp_path):
    main = (
        "from fastapi import FastAPI\nfrom app.service import list_posts\napp = FastAPI()\n"
        "@app.get('/posts/export.csv')\ndef export():\n    return list_posts()\n"
        "@app.get('/posts')\ndef posts(page: int = 1):\n    return paginate(list_posts, page)\n"
    )
    assert fired(tmp_path, {**LAYERS, "app/main.py": main}, "PR322") == []


def test_the_pagination_fixer_leaves_a_helper_finding_to_the_user(tmp_path):
    main = "from fastapi import FastAPI\nfrom app.service import list_posts\napp = FastAPI()\n@app.get('/posts')\ndef posts():\n    return list_posts()\n"
    result = scan_project(write_project(tmp_path, {**LAYERS, "app/main.py": main}), select=["PR322"])
    findings = [f for f in result.findings if f.rule == "PR322"]
    assert findings and not any(f.fixable for f in findings)
    plan = plan_fixes(result, findings, include_review=True)
    assert plan.is_empty


def test_page_size_without_maximum_fastapi(tmp_path):
    found = fired(
        tmp_path,
        "from fastapi import FastAPI, Query\napp = FastAPI()\n"
        "@app.get('/a')\ndef a(limit: int = 100, db=None):\n    return db.query(Item).limit(limit).all()\n"
        "@app.get('/b')\ndef b(page_size: int = Query(20), db=None):\n    return db.query(Item).limit(page_size).all()\n"
        "@app.get('/c')\ndef c(limit: int = Query(20, ge=1, le=100), db=None):\n    return db.query(Item).limit(limit).all()\n"
        "@app.get('/d')\ndef d(limit: int = Query(20, le=100), db=None):\n    return db.query(Item).limit(limit).all()\n",
        "PR321",
    )
    assert [(f.line, "no maximum" in f.message, f.severity.value) for f in found] == [(4, True, "medium"), (7, True, "medium"), (13, False, "low")]


def test_page_size_from_flask_args(tmp_path):
    found = fired(
        tmp_path,
        "from flask import Flask, request\napp = Flask(__name__)\n"
        "@app.get('/a')\ndef a():\n    limit = int(request.args.get('limit', 20))\n    return query(limit)\n"
        "@app.get('/b')\ndef b():\n    per_page = request.args.get('per_page', 20, type=int)\n    per_page = min(per_page, 100)\n    return query(per_page)\n",
        "PR321",
    )
    assert [f.line for f in found] == [5]


def test_a_size_that_is_not_a_page_size_is_left_alone(tmp_path):
    found = fired(
        tmp_path,
        "from fastapi import FastAPI\napp = FastAPI()\n"
        "@app.get('/avatar/{uid}')\ndef avatar(uid: int, size: int = 128):\n    return render_avatar(uid, size)\n"
        "@app.get('/top')\ndef top(size: int = 10, db=None):\n    return db.query(Item).order_by(Item.score.desc()).limit(size).all()\n",
        "PR321",
    )
    assert [f.line for f in found] == [7]

"""PR310: SQL assembled from a whitelist of fragments is not injection; real concatenation still is."""

from __future__ import annotations

import pytest

from tests.helpers import scan_example

FASTAPI = "from fastapi import FastAPI, HTTPException\nfrom sqlalchemy import text\napp = FastAPI()\n"
FLASK = "from flask import Flask, abort, request\napp = Flask(__name__)\n"


def sql_findings(tmp_path, example):
    result = scan_example(tmp_path, example, select=["PR310"])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == "PR310"]


WHITELISTED = {
    "dict-of-order-by-columns-with-get": FASTAPI
    + "SORTS = {'new': 'created_at DESC', 'old': 'created_at ASC'}\n"
    "@app.get('/posts')\ndef posts(sort: str = 'new', db=None):\n"
    "    order = SORTS.get(sort, 'created_at DESC')\n"
    "    return db.execute(text(f'SELECT * FROM posts ORDER BY {order}')).all()\n",
    "membership-in-an-imported-frozenset": {
        "app/__init__.py": "",
        "app/sorting.py": "ALLOWED_SORTS = frozenset({'title', 'created_at'})\n",
        "app/main.py": FASTAPI
        + "from app.sorting import ALLOWED_SORTS\n"
        "@app.get('/posts')\ndef posts(sort: str = 'title', db=None):\n"
        "    if sort not in ALLOWED_SORTS:\n        raise HTTPException(400, 'bad sort')\n"
        "    return db.execute(text(f'SELECT * FROM posts ORDER BY {sort}')).all()\n",
    },
    "direction-checked-case-insensitively": FLASK
    + "@app.get('/items')\ndef items():\n"
    "    direction = request.args.get('dir', 'asc')\n"
    "    if direction.lower() not in ('asc', 'desc'):\n        abort(400)\n"
    "    return get_db().execute(f'SELECT * FROM items ORDER BY price {direction}').fetchall()\n",
    "assert-in-a-tuple": FLASK
    + "COLUMNS = ('id', 'name', 'price')\n"
    "@app.get('/items')\ndef items():\n"
    "    sort = request.args.get('sort', 'id')\n    assert sort in COLUMNS\n"
    "    return get_db().execute(f'SELECT * FROM items ORDER BY {sort}').fetchall()\n",
    "two-checks-in-one-test": FLASK
    + "COLUMNS = {'id': 1, 'price': 2}\n"
    "@app.get('/items')\ndef items():\n"
    "    sort, order = request.args.get('sort', 'id'), request.args.get('order', 'asc')\n"
    "    if sort not in COLUMNS.keys() or order not in ('asc', 'desc'):\n        abort(400)\n"
    "    return get_db().execute(f'SELECT * FROM items ORDER BY {sort} {order}').fetchall()\n",
    "filter-fragments-from-a-dict-values-bound": FLASK
    + "FILTERS = {'name': 'name = ?', 'max_price': 'price < ?'}\n"
    "@app.get('/items')\ndef items():\n    clauses, params = [], []\n"
    "    for key, value in request.args.items():\n        if key in FILTERS:\n"
    "            clauses.append(FILTERS[key])\n            params.append(value)\n"
    "    where = ' AND '.join(clauses) or '1=1'\n"
    "    return get_db().execute(f'SELECT * FROM items WHERE {where}', params).fetchall()\n",
}


@pytest.mark.parametrize("example", WHITELISTED.values(), ids=WHITELISTED.keys())
def test_sql_built_from_a_whitelist_is_not_injection(tmp_path, example):
    assert sql_findings(tmp_path, example) == []


def test_a_check_against_a_list_the_request_can_grow_is_no_whitelist(tmp_path):
    source = FLASK + (
        "@app.get('/items')\ndef items():\n"
        "    allowed = ['id', 'name']\n    allowed.append(request.args.get('extra'))\n"
        "    sort = request.args.get('sort', 'id')\n"
        "    if sort not in allowed:\n        abort(400)\n"
        "    return get_db().execute(f'SELECT * FROM items ORDER BY {sort}').fetchall()\n"
    )
    (finding,) = sql_findings(tmp_path, source)
    assert finding.line == 10 and "request.args" in finding.message


def test_a_check_that_does_not_stop_the_request_still_reports(tmp_path):
    source = FLASK + (
        "ALLOWED = ('id', 'name')\n"
        "@app.get('/items')\ndef items():\n"
        "    sort = request.args.get('sort', 'id')\n"
        "    if sort not in ALLOWED:\n        app.logger.warning('odd sort %s', sort)\n"
        "    return get_db().execute(f'SELECT * FROM items ORDER BY {sort}').fetchall()\n"
    )
    (finding,) = sql_findings(tmp_path, source)
    assert finding.line == 9


def test_an_unrelated_variable_checked_does_not_clear_the_one_used(tmp_path):
    source = FASTAPI + (
        "ALLOWED = {'asc', 'desc'}\n"
        "@app.get('/posts')\ndef posts(sort: str, order: str = 'asc', db=None):\n"
        "    assert order.lower() in ALLOWED\n"
        "    return db.execute(text(f'SELECT * FROM posts ORDER BY {sort} {order}')).all()\n"
    )
    (finding,) = sql_findings(tmp_path, source)
    assert "`sort`" in finding.message

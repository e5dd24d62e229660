"""Connexion apps: routes declared in the OpenAPI document are the app's routes."""

from __future__ import annotations

from tests.helpers import scan_example

SPEC = """
openapi: 3.0.1
info: {title: shop, version: '1'}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer, x-bearerInfoFunc: api.auth.decode}
paths:
  /users/{username}:
    get:
      operationId: api.users.get_user
  /users/me:
    get:
      operationId: api.users.me
      security:
        - bearerAuth: []
  /orders:
    x-openapi-router-controller: api.orders
    post:
      operationId: create_order
"""
APP = "import connexion\napp = connexion.App(__name__, specification_dir='spec')\napp.add_api('openapi.yml')\n"
USERS = (
    "from flask import request\nfrom sqlalchemy import text\nfrom api.db import db\n"
    "def get_user(username):\n    return dict(db.session.execute(text(f\"SELECT * FROM users WHERE username = '{username}'\")).first())\n"
    "def me(user, token_info):\n    return {'user': user}\n"
)
ORDERS = "from flask import request\ndef create_order():\n    data = request.get_json()\n    return {'qty': int(data['qty'])}, 201\n"


def project(app: str = APP) -> dict[str, str]:
    return {
        "app.py": app,
        "spec/openapi.yml": SPEC,
        "api/__init__.py": "",
        "api/db.py": "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n",
        "api/auth.py": "def decode(token):\n    return {'sub': token}\n",
        "api/users.py": USERS,
        "api/orders.py": ORDERS,
    }


def test_operations_become_routes_with_their_handlers(tmp_path):
    index = scan_example(tmp_path, project(), select=["PR310"]).index
    routes = {(r.methods[0], r.path): r for r in index.routes}
    assert set(routes) == {("GET", "/users/<username>"), ("GET", "/users/me"), ("POST", "/orders")}
    assert routes[("POST", "/orders")].handler.qualname == "create_order"
    assert routes[("GET", "/users/me")].authenticated and not routes[("GET", "/users/<username>")].authenticated
    assert "flask" in index.frameworks


def test_rules_see_connexion_handlers(tmp_path):
    result = scan_example(tmp_path, project(), select=["PR310", "PR301"])
    found = sorted((f.rule, f.path) for f in result.findings)
    assert found == [("PR301", "api/orders.py"), ("PR310", "api/users.py")]


def test_a_spec_no_connexion_app_loads_is_not_read(tmp_path):
    app = "from flask import Flask\napp = Flask(__name__)\n"
    index = scan_example(tmp_path, project(app), select=["PR310"]).index
    assert index.routes == []


def test_an_unreadable_spec_gives_no_routes_and_no_error(tmp_path):
    files = project()
    files["spec/openapi.yml"] = "paths: [this is: not: valid"
    result = scan_example(tmp_path, files, select=["PR310"])
    assert result.index.routes == [] and not [d for d in result.diagnostics if d.kind == "rule-error"]

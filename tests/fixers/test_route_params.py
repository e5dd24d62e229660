"""Types on route parameters: `task_id: int`, `<int:id>`."""

from __future__ import annotations

from tests.fixers.roundtrip import fix_project, read, run_python


def test_fastapi_and_flask_ids(tmp_path):
    files = {
        "api.py": "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/tasks/{task_id}')\ndef get_task(task_id, q=None):\n    return {'id': task_id, 'q': q}\n",
        "shop.py": "from flask import Flask\nshop = Flask(__name__)\n@shop.route('/items/<id>')\ndef item(id):\n    return {'id': int(id)}\n",
    }
    root, _, _ = fix_project(tmp_path, files, {"PR303"})
    assert "def get_task(task_id: int, q: str=None):" in read(root, "api.py")
    assert "@shop.route('/items/<int:id>')" in read(root, "shop.py")
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from api import app
from shop import shop
assert TestClient(app).get("/tasks/7").json() == {"id": 7, "q": None}
assert TestClient(app).get("/tasks/abc").status_code == 422
assert shop.test_client().get("/items/abc").status_code == 404
assert shop.test_client().get("/items/3").get_json() == {"id": 3}
""",
    )

"""Pydantic models at the validation boundary (PR301)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from libcst.codemod import CodemodTest

from fixers import apply_plan, plan_fixes
from fixers.validation import RequestModel
from tests.fixers.helpers import finding, targets
from tests.helpers import scan_project, write_project


class TestRequestModel(CodemodTest):
    TRANSFORM = RequestModel

    def test_fastapi_dict_body(self):
        before = """
            from fastapi import Depends, FastAPI

            app = FastAPI()


            @app.post("/signup")
            def signup(payload: dict, db=Depends(get_db)):
                email = payload["email"]
                age = int(payload["age"])
                return create(email, age, payload.get("full_name"), payload.get("plan", "free"))
        """
        after = """
            from fastapi import Depends, FastAPI
            from pydantic import BaseModel, Field
            from typing import Any

            app = FastAPI()


            class SignupBody(BaseModel):
                email: Any
                age: int
                full_name: Any = None
                plan: str = Field(default="free", max_length=255)


            @app.post("/signup")
            def signup(payload: SignupBody, db=Depends(get_db)):
                email = payload.email
                age = int(payload.age)
                return create(email, age, payload.full_name, payload.plan)
        """
        self.assertCodemod(before, after, targets=targets(before, "PR301", "def signup"))

    def test_fastapi_request_json_becomes_a_parameter(self):
        before = """
            from fastapi import Depends, FastAPI, Request

            app = FastAPI()


            @app.post("/login")
            async def login(request: Request, db=Depends(get_db)):
                data = await request.json()
                if data.get("remember"):
                    remember(data["email"])
                return check(data["email"], data.get("password", ""))
        """
        after = """
            from fastapi import Depends, FastAPI
            from pydantic import BaseModel, Field
            from typing import Any

            app = FastAPI()


            class LoginBody(BaseModel):
                remember: Any = None
                email: Any
                password: str = Field(default="", max_length=128)


            @app.post("/login")
            async def login(data: LoginBody, db=Depends(get_db)):
                if data.remember:
                    remember(data.email)
                return check(data.email, data.password)
        """
        self.assertCodemod(before, after, targets=targets(before, "PR301", "await request.json()"))

    def test_flask_get_json_answers_422(self):
        before = """
            from flask import Blueprint, request

            bp = Blueprint("items", __name__)


            @bp.route("/", methods=["POST"])
            def create_item():
                data = request.get_json()
                if data.get("gift"):
                    wrap(data["wrapping"])
                save(data["name"], float(data["price"]), int(data["qty"]), data.get("note", ""), data["class"])
                print("created", data)
                return {"ok": True}, 201
        """
        after = """
            from flask import jsonify, Blueprint, request
            from pydantic import BaseModel, Field, ValidationError
            from typing import Any

            bp = Blueprint("items", __name__)


            class CreateItemBody(BaseModel):
                gift: Any = None
                wrapping: Any = None
                name: Any
                price: float
                qty: int
                note: str = Field(default="", max_length=10000)
                class_: Any = Field(alias="class")


            @bp.route("/", methods=["POST"])
            def create_item():
                try:
                    data = CreateItemBody.model_validate(request.get_json(silent=True) or {})
                except ValidationError as exc:
                    return jsonify(error="invalid request body", details=exc.errors(include_url=False, include_context=False)), 422
                if data.gift:
                    wrap(data.wrapping)
                save(data.name, float(data.price), int(data.qty), data.note, data.class_)
                print("created", data)
                return {"ok": True}, 201
        """
        self.assertCodemod(before, after, targets=targets(before, "PR301", "request.get_json()"))

    def test_bodies_used_as_a_whole_are_left_alone(self):
        before = """
            from fastapi import FastAPI
            from flask import request

            app = FastAPI()


            @app.put("/tasks/{task_id}")
            def update_task(task_id: int, payload: dict):
                for key, value in payload.items():
                    setattr(task, key, value)


            @app.post("/raw")
            def raw(payload: dict):
                payload["seen"] = True
                return store(payload)
        """
        self.assertCodemod(before, before, targets=targets(before, "PR301", "def update_task", "def raw"))


def test_skips_say_why(tmp_path):
    source = "from fastapi import FastAPI\napp = FastAPI()\n@app.put('/t')\ndef update(payload: dict):\n    for k in payload.items():\n        pass\n"
    root = write_project(tmp_path, {"app.py": source})
    plan = plan_fixes(scan_project(root), [finding("PR301", "app.py", 4)])
    assert plan.skipped[0][1] == "the handler uses `payload` as a whole, so its fields cannot be inferred"


FLASK_APP = """
from flask import Flask, request

app = Flask(__name__)


@app.route("/orders", methods=["POST"])
def create_order():
    data = request.get_json()
    qty = int(data["qty"])
    return {"item": data["item_id"], "qty": qty, "note": data.get("note", "")}, 201
"""

FASTAPI_APP = """
from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/login")
async def login(request: Request):
    data = await request.json()
    return {"email": data["email"], "remember": data.get("remember", False)}
"""


def run(root, code):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def fixed_project(tmp_path, source):
    root = write_project(tmp_path, {"app.py": source, "requirements.txt": "flask\nfastapi\n"})
    result = scan_project(root)
    chosen = [f for f in result.findings if f.rule == "PR301"]
    assert chosen
    plan = plan_fixes(result, chosen)
    assert plan.dependencies == ["pydantic>=2"]
    apply_plan(plan)
    assert not [f for f in scan_project(root).findings if f.rule == "PR301"]
    return root


def test_flask_handler_answers_422_instead_of_500(tmp_path):
    root = fixed_project(tmp_path, FLASK_APP)
    run(
        root,
        """
        from app import app
        client = app.test_client()
        ok = client.post("/orders", json={"item_id": 3, "qty": "2"})
        assert ok.status_code == 201 and ok.get_json() == {"item": 3, "qty": 2, "note": ""}
        for body in (None, {"qty": 1}, {"item_id": 1, "qty": "ten"}, [1, 2]):
            bad = client.post("/orders", json=body) if body is not None else client.post("/orders")
            assert bad.status_code == 422, (body, bad.status_code)
            assert bad.get_json()["error"] == "invalid request body" and bad.get_json()["details"]
        """,
    )


def test_fastapi_handler_validates_from_the_signature(tmp_path):
    root = fixed_project(tmp_path, FASTAPI_APP)
    run(
        root,
        """
        from fastapi.testclient import TestClient
        from app import app
        client = TestClient(app)
        assert client.post("/login", json={"email": "a@b.c"}).json() == {"email": "a@b.c", "remember": False}
        assert client.post("/login", json={}).status_code == 422
        assert client.post("/login", content="not json").status_code == 422
        """,
    )

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
                email = payload["email"].lower()
                age = int(payload["age"])
                if payload.get("referrer") == "friend":
                    reward(email)
                return create(email, age, generate_password_hash(payload["password"]), payload.get("plan", "free"))
        """
        after = """
            from typing import Optional

            from fastapi import Depends, FastAPI
            from pydantic import BaseModel, Field

            app = FastAPI()


            class SignupBody(BaseModel):
                email: str = Field(max_length=320)
                age: int
                referrer: Optional[str] = Field(default=None, max_length=255)
                password: str = Field(min_length=1, max_length=128)
                plan: str = Field(default="free", max_length=255)


            @app.post("/signup")
            def signup(payload: SignupBody, db=Depends(get_db)):
                email = payload.email.lower()
                age = int(payload.age)
                if payload.referrer == "friend":
                    reward(email)
                return create(email, age, generate_password_hash(payload.password), payload.plan)
        """
        self.assertCodemod(before, after, targets=targets(before, "PR301", "def signup"))

    def test_fastapi_request_json_becomes_a_parameter(self):
        before = """
            from fastapi import Depends, FastAPI, Request

            app = FastAPI()


            @app.post("/login")
            async def login(request: Request, db=Depends(get_db)):
                data = await request.json()
                if data.get("remember") is True:
                    remember(data["email"])
                return check(data["email"], data.get("password", ""), jwt.decode(data["token"], KEY, algorithms=["HS256"]))
        """
        after = """
            from typing import Optional

            from fastapi import Depends, FastAPI
            from pydantic import BaseModel, Field

            app = FastAPI()


            class LoginBody(BaseModel):
                remember: Optional[bool] = None
                email: str = Field(max_length=320)
                password: str = Field(default="", max_length=128)
                token: str = Field(max_length=255)


            @app.post("/login")
            async def login(data: LoginBody, db=Depends(get_db)):
                if data.remember is True:
                    remember(data.email)
                return check(data.email, data.password, jwt.decode(data.token, KEY, algorithms=["HS256"]))
        """
        self.assertCodemod(before, after, targets=targets(before, "PR301", "await request.json()"))

    def test_flask_get_json_answers_422(self):
        before = """
            from flask import Blueprint, request

            bp = Blueprint("items", __name__)


            @bp.route("/", methods=["POST"])
            def create_item():
                data = request.get_json()
                if data.get("gift") is True:
                    wrap(data["wrapping"].strip())
                save(f"item {data['name']}", float(data["price"]), int(data["qty"]), data.get("note", ""), data["class"] in ("a", "b"))
                print("created", data)
                return {"ok": True}, 201
        """
        after = """
            from typing import Optional

            from flask import Blueprint, jsonify, request
            from pydantic import BaseModel, Field, ValidationError

            bp = Blueprint("items", __name__)


            class CreateItemBody(BaseModel):
                gift: Optional[bool] = None
                wrapping: Optional[str] = Field(default=None, max_length=255)
                name: str = Field(max_length=255)
                price: float
                qty: int
                note: str = Field(default="", max_length=10000)
                class_: str = Field(alias="class", max_length=255)


            @bp.route("/", methods=["POST"])
            def create_item():
                try:
                    data = CreateItemBody.model_validate(request.get_json(silent=True) or {})
                except ValidationError as exc:
                    return jsonify(error="invalid request body", details=exc.errors(include_url=False, include_context=False)), 422
                if data.gift is True:
                    wrap(data.wrapping.strip())
                save(f"item {data.name}", float(data.price), int(data.qty), data.note, data.class_ in ("a", "b"))
                print("created", data)
                return {"ok": True}, 201
        """
        self.assertCodemod(before, after, targets=targets(before, "PR301", "request.get_json()"))

    def test_a_field_no_use_types_is_left_to_the_user(self):
        """`Any` validates nothing (a dict instead of a name reaches the handler and fails there):
        a field whose type no use proves leaves the handler alone, with the reason."""
        before = """
            from fastapi import FastAPI

            app = FastAPI()


            @app.post("/items")
            def create(payload: dict):
                return store(payload["name"], int(payload["qty"]))
        """
        self.assertCodemod(before, before, targets=targets(before, "PR301", "def create"))

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
    return {"item": int(data["item_id"]), "qty": qty, "note": data.get("note", "")}, 201
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


# -- types from the project: ORM columns, SQL schema, signatures of the project's functions ---------

ORM_APP = {
    "app/__init__.py": "",
    "app/db.py": """
from sqlalchemy import create_engine
from sqlalchemy.orm import declarative_base, sessionmaker

engine = create_engine("sqlite:///./app.db", connect_args={"check_same_thread": False})
SessionLocal = sessionmaker(bind=engine)
Base = declarative_base()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
""",
    "app/models.py": """
from sqlalchemy import Boolean, Column, Integer, Numeric, String

from app.db import Base


class User(Base):
    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    email = Column(String(120), unique=True)
    hashed_password = Column(String)
    age = Column(Integer)
    balance = Column(Numeric(10, 2))
    active = Column(Boolean, default=True)
""",
    "app/security.py": """
import hashlib


def hash_password(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()
""",
    "app/main.py": """
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.orm import Session

from app.db import Base, engine, get_db
from app.models import User
from app.security import hash_password

app = FastAPI()
Base.metadata.create_all(bind=engine)


@app.post("/signup")
def signup(payload: dict, db: Session = Depends(get_db)):
    email = payload["email"]
    if db.query(User).filter(User.email == email).first():
        raise HTTPException(status_code=400, detail="taken")
    user = User(email=email, hashed_password=hash_password(payload["password"]), age=payload["age"], balance=payload["balance"], active=payload.get("active", True))
    db.add(user)
    db.commit()
    return {"id": user.id}
""",
    "requirements.txt": "fastapi\nsqlalchemy\n",
}


def plan_for(root):
    result = scan_project(root)
    return plan_fixes(result, [f for f in result.findings if f.rule == "PR301"], include_review=True)


def test_fields_take_the_type_of_the_column_they_are_stored_in(tmp_path):
    root = write_project(tmp_path, ORM_APP)
    plan = plan_for(root)
    assert not plan.skipped, plan.skipped
    main = next(e.new for e in plan.edits if e.relpath == "app/main.py")
    model = main[main.index("class SignupBody") : main.index("@app.post")]
    assert model.split("\n")[1:7] == [
        "    email: str = Field(max_length=120)",  # String(120)
        "    password: str = Field(min_length=1, max_length=128)",  # hash_password(password: str)
        "    age: int",  # Integer
        "    balance: Decimal",  # Numeric(10, 2)
        "    active: bool = True",  # Boolean, and the default
        "",
    ]
    assert "from decimal import Decimal" in main and "Any" not in main


def test_emails_are_checked_when_the_project_has_email_validator(tmp_path):
    files = dict(ORM_APP, **{"requirements.txt": "fastapi\nsqlalchemy\npydantic[email]\n"})
    main = next(e.new for e in plan_for(write_project(tmp_path, files)).edits if e.relpath == "app/main.py")
    assert "    email: EmailStr\n" in main and "from pydantic import BaseModel, EmailStr, Field" in main


def test_wrong_typed_fields_answer_422_not_500(tmp_path):
    """Before, the generated model typed these fields `Any`: a dict for the email reached the
    database driver and the client got a 500."""
    root = write_project(tmp_path, ORM_APP)
    apply_plan(plan_for(root))
    run(
        root,
        """
        from fastapi.testclient import TestClient
        from app.main import app
        client = TestClient(app, raise_server_exceptions=False)
        good = {"email": "a@example.com", "password": "pw", "age": 30, "balance": "12.50"}
        assert client.post("/signup", json=good).status_code == 200
        for field, value in (("email", {"unexpected": ["object"]}), ("password", ["x"]), ("age", "old"), ("balance", {}), ("password", "")):
            status = client.post("/signup", json={**good, "email": "b@example.com", field: value}).status_code
            assert status == 422, (field, value, status)
        """,
    )


SQL_APP = {
    "schema.sql": """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(80) NOT NULL,
    price REAL NOT NULL,
    note TEXT
);
""",
    "app.py": """
import sqlite3

from flask import Flask, request

app = Flask(__name__)


def get_db():
    db = sqlite3.connect("shop.db")
    with open("schema.sql") as schema:
        db.executescript(schema.read())
    return db


@app.route("/items", methods=["POST"])
def create_item():
    data = request.get_json()
    db = get_db()
    db.execute("INSERT INTO items (name, price, note) VALUES (?, ?, ?)", (data["name"], data["price"], data.get("note")))
    db.commit()
    return {"ok": True}, 201


@app.route("/items/find", methods=["POST"])
def find_item():
    data = request.get_json()
    row = get_db().execute("SELECT name FROM items WHERE id = ? AND price < ?", (data["id"], data["max_price"])).fetchone()
    return {"name": row[0] if row else None}
""",
    "requirements.txt": "flask\n",
}


def test_fields_bound_to_sql_take_the_type_of_the_schema_column(tmp_path):
    root = write_project(tmp_path, SQL_APP)
    plan = plan_for(root)
    assert not plan.skipped, plan.skipped
    text = plan.edits[0].new
    assert "class CreateItemBody(BaseModel):\n    name: str = Field(max_length=80)\n    price: float\n    note: Optional[str] = Field(default=None, max_length=10000)\n" in text
    assert "class FindItemBody(BaseModel):\n    id: int\n    max_price: float\n" in text
    apply_plan(plan)
    run(
        root,
        """
        from app import app
        client = app.test_client()
        assert client.post("/items", json={"name": "mug", "price": 2.5}).status_code == 201
        assert client.post("/items", json={"name": {"a": 1}, "price": 2.5}).status_code == 422
        assert client.post("/items", json={"name": "x" * 81, "price": 2.5}).status_code == 422
        assert client.post("/items/find", json={"id": "one", "max_price": 3}).status_code == 422
        assert client.post("/items/find", json={"id": 1, "max_price": 3}).get_json() == {"name": "mug"}
        """,
    )


def test_conflicting_uses_are_left_to_the_user(tmp_path):
    files = dict(ORM_APP)
    files["app/main.py"] = files["app/main.py"].replace('age=payload["age"]', 'age=payload["age"], full_name=payload["age"].title()')
    plan = plan_for(write_project(tmp_path, files))
    assert not plan.edits
    assert plan.skipped[0][1].startswith("by hand: `age` is used as different types (")


def test_a_key_read_in_an_if_test_is_required(tmp_path):
    """`if check(body["email"]):` always reads the key (only the if's body may not run): the
    field is required, not Optional (None.lower() would be a 500)."""
    source = """
from fastapi import FastAPI, HTTPException

app = FastAPI()
USERS = {}


@app.post("/login")
def login(payload: dict):
    if USERS.get(payload["email"].lower()) != payload["password"] or payload["remember"] == "yes":
        raise HTTPException(status_code=401)
    return {"ok": True}
"""
    root = write_project(tmp_path, {"app.py": source})
    result = scan_project(root)
    plan = plan_fixes(result, [f for f in result.findings if f.rule == "PR301"], include_review=True)
    text = plan.edits[0].new
    assert "    email: str = Field(max_length=320)\n    password: str = Field(min_length=1, max_length=128)\n" in text
    assert "    remember: Optional[str] = Field(default=None, max_length=255)\n" in text  # after `or`: may not run


def test_a_name_assigned_the_field_or_a_fallback_stands_for_the_field(tmp_path):
    """`code = data.get("code") or random_code()`: what the handler does with `code` (bind it
    to a TEXT column) types the field."""
    files = dict(SQL_APP)
    files["schema.sql"] = "CREATE TABLE IF NOT EXISTS links (id INTEGER PRIMARY KEY, code TEXT NOT NULL);\n"
    files["app.py"] = """
import secrets
import sqlite3

from flask import Flask, request

app = Flask(__name__)


@app.route("/links", methods=["POST"])
def create_link():
    data = request.get_json()
    code = data.get("code") or secrets.token_urlsafe(4)
    db = sqlite3.connect("links.db")
    if db.execute("SELECT 1 FROM links WHERE code = ?", (code,)).fetchone():
        return {"error": "taken"}, 409
    return {"code": code}, 201
"""
    plan = plan_for(write_project(tmp_path, files))
    assert not plan.skipped, plan.skipped
    assert "    code: Optional[str] = Field(default=None, max_length=255)\n" in plan.edits[0].new


def test_a_comparison_with_a_column_through_the_models_module_types_the_field(tmp_path):
    files = dict(ORM_APP)
    files["app/main.py"] += """

from app import models


@app.post("/lookup")
def lookup(payload: dict, db: Session = Depends(get_db)):
    return {"found": db.query(models.User).filter(models.User.age == payload["age"]).count()}
"""
    main = next(e.new for e in plan_for(write_project(tmp_path, files)).edits if e.relpath == "app/main.py")
    assert "class LookupBody(BaseModel):\n    age: int\n" in main


def test_a_numeric_column_used_in_float_arithmetic_stays_a_float(tmp_path):
    """Decimal * 1.2 raises TypeError: a field the handler multiplies by a float keeps the float
    JSON always gave it, even though the column is Numeric."""
    files = dict(ORM_APP)
    files["app/main.py"] = files["app/main.py"].replace(
        'balance=payload["balance"]', 'balance=payload["balance"], age_next=payload["balance"] * 1.05'
    )
    main = next(e.new for e in plan_for(write_project(tmp_path, files)).edits if e.relpath == "app/main.py")
    assert "    balance: float\n" in main and "Decimal" not in main


def test_a_numeric_column_value_passed_on_stays_a_float(tmp_path):
    """`charge(amount=...)` may send it as JSON, which cannot encode a Decimal."""
    files = dict(ORM_APP)
    files["app/main.py"] = files["app/main.py"].replace("    db.add(user)\n", '    charge(amount=payload["balance"])\n    db.add(user)\n')
    main = next(e.new for e in plan_for(write_project(tmp_path, files)).edits if e.relpath == "app/main.py")
    assert "    balance: float\n" in main

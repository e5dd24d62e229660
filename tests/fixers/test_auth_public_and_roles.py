"""PR201/PR202 on a FastAPI app: routes that create accounts or accept an invitation stay public
(the fixed app still signs people up), an open route gets the neighbours' own `CurrentUser`
parameter, and a role is checked only on what the User model really has."""

from __future__ import annotations

from fixers import apply_plan, plan_fixes
from fixers.auth import NO_ADMIN_FLAG
from tests.fixers.roundtrip import read, run_python
from tests.helpers import scan_project, write_project

APP = {
    "app/__init__.py": "",
    "app/db.py": """
from sqlalchemy import Column, ForeignKey, Integer, String, create_engine
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import StaticPool

engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
SessionLocal = sessionmaker(bind=engine)
Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)
    hashed_password = Column(String)


class Item(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
    name = Column(String)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)


class Membership(Base):
    __tablename__ = "memberships"
    id = Column(Integer, primary_key=True)
    invite_token = Column(String)
    user_id = Column(Integer, ForeignKey("users.id"))


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
""",
    "app/deps.py": """
from typing import Annotated

from fastapi import Depends, Header, HTTPException

from app.db import User, get_db


def get_current_user(x_user: int = Header(0), db=Depends(get_db)):
    user = db.get(User, x_user)
    if user is None:
        raise HTTPException(status_code=401, detail="login required")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
""",
    "app/accounts.py": """
import hashlib

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.db import Membership, User, get_db
from app.deps import CurrentUser

router = APIRouter()


class SignupIn(BaseModel):
    email: str
    password: str


def hash_password(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


@router.post("/users", status_code=201)
def create_account(body: SignupIn, db=Depends(get_db)):
    user = User(email=body.email, hashed_password=hash_password(body.password))
    db.add(user)
    db.commit()
    return {"id": user.id}


@router.post("/invitations/{token}/accept")
def accept_invitation(token: str, db=Depends(get_db)):
    membership = db.query(Membership).filter(Membership.invite_token == token).first()
    membership.invite_token = None
    db.commit()
    return {"ok": True}


@router.get("/me")
def me(user: CurrentUser):
    return {"email": user.email}
""",
    "app/items.py": """
from fastapi import APIRouter, Depends, HTTPException

from app.db import Item, get_db
from app.deps import CurrentUser

router = APIRouter()


@router.get("/items")
def list_items(user: CurrentUser, db=Depends(get_db)):
    return [i.name for i in db.query(Item).filter(Item.owner_id == user.id).all()]


@router.delete("/items/{item_id}")
def delete_item(item_id: int, db=Depends(get_db)):
    item = db.query(Item).filter(Item.id == item_id).first()
    if item is None:
        raise HTTPException(status_code=404)
    db.delete(item)
    db.commit()
    return {"ok": True}


@router.get("/admin/items")
def admin_items(user: CurrentUser, db=Depends(get_db)):
    return [i.name for i in db.query(Item).limit(100).all()]
""",
    "app/main.py": """
from fastapi import FastAPI

from app import accounts, items

app = FastAPI()
app.include_router(accounts.router)
app.include_router(items.router)
""",
}

CHECK = """
from fastapi.testclient import TestClient
from app.db import Base, Item, Membership, SessionLocal, User, engine
from app.main import app
Base.metadata.create_all(engine)
with SessionLocal() as db:
    db.add_all([User(id=1, email="ann@x.io"), User(id=2, email="bob@x.io"), Item(id=1, name="mug", owner_id=1),
                Membership(id=1, invite_token="abc")])
    db.commit()
client = TestClient(app)
assert client.post("/users", json={"email": "cat@x.io", "password": "pw"}).status_code == 201   # still public
assert client.post("/invitations/abc/accept").json() == {"ok": True}                            # still public
assert client.delete("/items/1").status_code == 401
assert client.delete("/items/1", headers={"x-user": "2"}).status_code == 404                   # not bob's
assert client.delete("/items/1", headers={"x-user": "1"}).json() == {"ok": True}
"""


def test_account_routes_stay_public_and_open_routes_get_the_neighbours_parameter(tmp_path):
    root = write_project(tmp_path, APP)
    found = [f for f in scan_project(root).findings if f.rule in {"PR201", "PR202"}]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    skipped = {f.message.split(" ")[1]: reason for f, reason in plan.skipped if f in found}
    # signup hashes a new password and inserts a user: public by what it does, so not even reported
    assert not any(f.rule == "PR201" and f.message.startswith("POST /users ") for f in found), found
    assert skipped["/invitations/{token}/accept"].startswith("by hand: this route looks public by design (it accepts an invitation")
    assert skipped["/admin/items"] == NO_ADMIN_FLAG
    assert [p.finding.message.split(" ")[1] for p in plan.fixes if p.finding in found] == ["/items/{item_id}"]
    apply_plan(plan)
    items = read(root, "app/items.py")
    assert "def delete_item(user: CurrentUser, item_id: int, db=Depends(get_db)):" in items
    assert "item = db.query(Item).filter(Item.owner_id == user.id).filter(Item.id == item_id).first()" in items
    assert "def admin_items(user: CurrentUser, db=Depends(get_db)):" in items    # no role check on a flag User lacks
    assert read(root, "app/accounts.py") == write_project(tmp_path / "orig", APP).joinpath("app/accounts.py").read_text()
    run_python(root, CHECK)


def test_a_role_column_is_compared_with_the_value_the_app_uses_for_admins(tmp_path):
    files = dict(APP)
    files["app/db.py"] = APP["app/db.py"].replace("    hashed_password = Column(String)\n", '    hashed_password = Column(String)\n    role = Column(String, default="member")\n')
    files["scripts/create_admin.py"] = 'from app.db import SessionLocal, User\n\nwith SessionLocal() as db:\n    db.add(User(email="root@x.io", role="administrator"))\n    db.commit()\n'
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR202"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert not [f for f, _ in plan.skipped if f in found], plan.skipped
    apply_plan(plan)
    assert 'if not (current_user.role == "administrator"):' in read(root, "app/deps.py")
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from app.db import Base, SessionLocal, User, engine
from app.main import app
Base.metadata.create_all(engine)
with SessionLocal() as db:
    db.add_all([User(id=1, email="ann@x.io", role="administrator"), User(id=2, email="bob@x.io", role="member")])
    db.commit()
client = TestClient(app)
assert client.get("/admin/items", headers={"x-user": "2"}).status_code == 403
assert client.get("/admin/items", headers={"x-user": "1"}).status_code == 200
""",
    )


def test_a_role_column_without_a_known_admin_value_is_left_by_hand(tmp_path):
    files = dict(APP)
    files["app/db.py"] = APP["app/db.py"].replace("    hashed_password = Column(String)\n", "    hashed_password = Column(String)\n    role = Column(String)\n")
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR202"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert plan.is_empty and "which role is an admin" in plan.skipped[0][1]


def test_an_admin_method_of_the_user_model_is_called(tmp_path):
    files = dict(APP)
    files["app/db.py"] = APP["app/db.py"].replace(
        "    hashed_password = Column(String)\n",
        "    hashed_password = Column(String)\n    permissions = Column(Integer, default=0)\n\n"
        "    def is_administrator(self):\n        return self.permissions & 0x80 == 0x80\n",
    )
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR202"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert not [f for f, _ in plan.skipped if f in found], plan.skipped
    apply_plan(plan)
    assert "if not (current_user.is_administrator()):" in read(root, "app/deps.py")


def test_signup_stays_public_next_to_routes_that_use_depends_directly(tmp_path):
    files = dict(APP)
    files["app/accounts.py"] = (
        APP["app/accounts.py"]
        .replace("from app.deps import CurrentUser", "from app.deps import get_current_user")
        .replace("def me(user: CurrentUser):", "def me(user=Depends(get_current_user)):")
    )
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR201" and f.path == "app/accounts.py"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert plan.is_empty, plan.diff()
    assert not any(f.message.startswith("POST /users ") for f in found), found  # signup, by what it does
    assert {reason for _, reason in plan.skipped} == {
        "by hand: this route looks public by design (it accepts an invitation sent by link); if it is, add it to public-routes",
    }


def test_a_router_level_dependency_of_the_neighbours_is_reused(tmp_path):
    files = dict(APP)
    files["app/items.py"] = """
from fastapi import APIRouter, Depends

from app.db import Item, get_db
from app.deps import get_current_user

router = APIRouter(dependencies=[Depends(get_current_user)])


@router.get("/items")
def list_items(db=Depends(get_db)):
    return [i.name for i in db.query(Item).all()]
"""
    files["app/reports.py"] = """
from fastapi import APIRouter, Depends

from app.db import Item, get_db

router = APIRouter()


@router.delete("/reports/{item_id}")
def delete_report(item_id: int, db=Depends(get_db)):
    db.query(Item).filter(Item.id == item_id).delete()
    db.commit()
    return {"ok": True}
"""
    files["app/main.py"] = APP["app/main.py"].replace("accounts, items", "accounts, items, reports") + "app.include_router(reports.router)\n"
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR201" and f.path == "app/reports.py"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [p.finding for p in plan.fixes if p.finding in found] == found, plan.skipped
    apply_plan(plan)
    reports = read(root, "app/reports.py")
    assert "from app.db import Item, get_db\nfrom app.deps import get_current_user\n" in reports
    assert "def delete_report(item_id: int, db=Depends(get_db), current_user=Depends(get_current_user)):" in reports
    run_python(
        root,
        CHECK.split("client = TestClient(app)")[0]
        + """
client = TestClient(app)
assert client.delete("/reports/1").status_code == 401
assert client.delete("/reports/1", headers={"x-user": "2"}).json() == {"ok": True}
assert SessionLocal().get(Item, 1) is not None                                      # not bob's: kept
assert client.delete("/reports/1", headers={"x-user": "1"}).json() == {"ok": True}
assert SessionLocal().get(Item, 1) is None
""",
    )


def test_a_handler_that_uses_the_neighbours_parameter_name_gets_another_one(tmp_path):
    files = dict(APP)
    files["app/items.py"] = APP["app/items.py"].replace("from app.db import Item, get_db", "from app.db import Item, User, get_db") + '''

@router.post("/items/{item_id}/transfer")
def transfer_item(item_id: int, to: int, db=Depends(get_db)):
    item = db.query(Item).filter(Item.id == item_id).first()
    user = db.get(User, to)
    item.owner_id = user.id
    db.commit()
    return {"owner": user.email}
'''
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR201" and "transfer" in f.message]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [p.finding for p in plan.fixes if p.finding in found] == found, plan.skipped
    apply_plan(plan)
    items = read(root, "app/items.py")
    assert "def transfer_item(current_user: CurrentUser, item_id: int, to: int, db=Depends(get_db)):" in items
    assert "item = db.query(Item).filter(Item.owner_id == current_user.id).filter(Item.id == item_id).first()" in items
    run_python(
        root,
        CHECK.split("client = TestClient(app)")[0]
        + """
client = TestClient(app)
assert client.post("/items/1/transfer?to=2").status_code == 401
assert client.post("/items/1/transfer?to=2", headers={"x-user": "2"}).status_code == 404
assert client.post("/items/1/transfer?to=2", headers={"x-user": "1"}).json() == {"owner": "bob@x.io"}
""",
    )


def test_sqlmodel_marketplace_signup_and_public_catalog_stay_public(tmp_path):
    """A SQLModel app not written for these tests: signing up goes through User.model_validate and
    hands out an API key; products and profiles are read by anyone. Its own tests keep passing."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    source = Path(__file__).parents[1] / "fixtures" / "apps" / "sqlmodel_api"
    if not source.exists():
        import pytest

        pytest.skip("the SQLModel fixture app is not there")
    root = tmp_path / "app"
    shutil.copytree(source, root, symlinks=False, ignore=shutil.ignore_patterns("__pycache__", ".prodready"))
    found = [f for f in scan_project(root).findings if f.rule in {"PR201", "PR202", "PR203"}]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    reasons = {f.message.split(" ")[1]: reason for f, reason in plan.skipped if f.rule == "PR201"}
    assert reasons["/users/"].startswith("by hand: this route looks public by design (it creates accounts)")
    assert all("public" in reason for reason in reasons.values()), reasons
    apply_plan(plan)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]

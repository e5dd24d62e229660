"""The auth fixers read the same auth model as the rules: a route recognised as a login by what
it does is left public with that reason, and the failure-path tests count a token decoded
without verification in the route's auth dependency (it runs before the handler)."""

from __future__ import annotations

from auditor.index.auth_model import auth_model
from fixers.auth import public_by_design
from fixers.pipeline.workspace import Workspace
from fixers.route_gaps import current_state
from tests.helpers import scan_project, write_project

DEPS = """
import jwt
from fastapi import Depends, Header, HTTPException


def get_current_user(authorization: str = Header("")):
    claims = jwt.decode(authorization, {verify})
    if "sub" not in claims:
        raise HTTPException(status_code=401)
    return claims["sub"]
"""

ROUTES = """
from fastapi import Depends, FastAPI
from passlib.context import CryptContext
from pydantic import BaseModel
from app.deps import get_current_user

app = FastAPI()
pwd_context = CryptContext(schemes=["bcrypt"])
USERS = {}


class NoteIn(BaseModel):
    body: str


@app.post("/notes")
def create_note(note: NoteIn, user=Depends(get_current_user)):
    return {"body": note.body}


@app.post("/api/v1/sessions")
def open_session(body: dict):
    user = USERS.get(body["username"])
    if user is None or not pwd_context.verify(body["password"], user["hash"]):
        return {"error": "bad credentials"}, 401
    return {"token": "t"}
"""


def _project(tmp_path, verify: str):
    root = write_project(tmp_path, {"app/__init__.py": "", "app/deps.py": DEPS.format(verify=verify), "app/main.py": ROUTES})
    result = scan_project(root)
    return root, result


def test_a_login_recognised_by_what_it_does_is_public_for_the_fixer(tmp_path):
    root, result = _project(tmp_path, '"k", algorithms=["HS256"]')
    ws = Workspace(root, index=result.index)
    route = next(r for r in result.index.routes if r.path == "/api/v1/sessions")
    assert public_by_design(ws, route) == "it checks a password and hands out logins"
    other = next(r for r in result.index.routes if r.path == "/notes")
    assert public_by_design(ws, other) is None
    assert not [f for f in result.findings if f.rule == "PR201"]


def test_failure_path_gaps_include_the_routes_auth_dependency(tmp_path):
    root, result = _project(tmp_path, 'options={"verify_signature": False}')
    assert [f.path for f in result.findings if f.rule == "PR210"] == ["app/deps.py"]
    state = current_state(Workspace(root, index=result.index))
    route = next(r for r in state.index.routes if r.path == "/notes")
    assert [(f.rule, f.path) for f in state.gaps(route, ("PR301", "PR210"))] == [("PR210", "app/deps.py")]
    assert [m.name for m in auth_model(state.index).of(route).mechanisms] == ["app.deps.get_current_user"]

    root, result = _project(tmp_path / "verified", '"k", algorithms=["HS256"]')
    state = current_state(Workspace(root, index=result.index))
    route = next(r for r in state.index.routes if r.path == "/notes")
    assert state.gaps(route, ("PR301", "PR210")) == []

"""The token probes on a small app whose login hands out JWTs with an `exp`: forged_token and
expired_token fail where the app decodes tokens without checking them, and pass where it checks."""

from __future__ import annotations

import pytest

from auditor.rehearse.run import rehearse

pytestmark = pytest.mark.rehearsal

APP = '''import os
import time

import jwt
from fastapi import Depends, FastAPI, Header, HTTPException
from pydantic import BaseModel

app = FastAPI()
SECRET_KEY = os.environ["SECRET_KEY"]
USERS: dict[str, str] = {}


class Credentials(BaseModel):
    email: str
    password: str


@app.post("/auth/signup")
def signup(body: Credentials):
    USERS[body.email] = body.password
    return {"email": body.email}


@app.post("/auth/login")
def login(body: Credentials):
    if USERS.get(body.email) != body.password:
        raise HTTPException(status_code=401, detail="wrong email or password")
    claims = {"sub": body.email, "exp": int(time.time()) + 3600}
    return {"access_token": jwt.encode(claims, SECRET_KEY, algorithm="HS256")}


def current_user(authorization: str = Header(default="")) -> str:
    try:
        claims = DECODE(authorization.removeprefix("Bearer "))
    except jwt.PyJWTError:
        raise HTTPException(status_code=401, detail="invalid token") from None
    return claims["sub"]


@app.get("/me")
def me(user: str = Depends(current_user)):
    return {"email": user}
'''
TRUSTING = "DECODE = lambda token: jwt.decode(token, options={'verify_signature': False})\n"
CHECKING = "DECODE = lambda token: jwt.decode(token, SECRET_KEY, algorithms=['HS256'])\n"


def token_outcomes(tmp_path, decode: str) -> dict[str, dict]:
    root = tmp_path / "tokens"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text(APP.replace("app = FastAPI()\n", "app = FastAPI()\n" + decode, 1))
    (root / ".env.example").write_text("SECRET_KEY=change-me\n")
    rehearsal = rehearse(root, list_rows=20, concurrent=5)
    return {p["kind"]: p for p in rehearsal.probes if p["kind"] in ("forged_token", "expired_token")}


def test_tokens_decoded_without_checks_are_accepted_forged_and_expired(tmp_path, private_tmp):
    probes = token_outcomes(tmp_path, TRUSTING)
    assert probes["forged_token"]["outcome"] == "failed" and probes["forged_token"]["evidence"]["status"] == 200
    assert probes["expired_token"]["outcome"] == "failed"
    assert probes["forged_token"]["path"] == "/me"


def test_checked_tokens_refuse_forged_and_expired(tmp_path, private_tmp):
    probes = token_outcomes(tmp_path, CHECKING)
    assert (probes["forged_token"]["outcome"], probes["forged_token"]["evidence"]["status"]) == ("passed", 401)
    # The expired token is signed with the key the rehearsal generated: only its `exp` is wrong.
    assert (probes["expired_token"]["outcome"], probes["expired_token"]["evidence"]["status"]) == ("passed", 401)

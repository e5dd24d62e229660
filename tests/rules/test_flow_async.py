"""Blocking work reached from async endpoints and their async dependencies, and forgotten threads."""

from __future__ import annotations

import pytest

from tests.helpers import scan_example

SECURITY = """
import bcrypt
import smtplib
import time
import requests
from argon2 import PasswordHasher
from passlib.context import CryptContext
ph = PasswordHasher()
pwd_context = CryptContext(schemes=["bcrypt"])
def bcrypt_hash(pw):
    return bcrypt.hashpw(pw.encode(), bcrypt.gensalt())
def argon_hash(pw):
    return ph.hash(pw)
def passlib_verify(pw, hashed):
    return pwd_context.verify(pw, hashed)
def send_welcome(to):
    with smtplib.SMTP("localhost") as smtp:
        smtp.sendmail("app@example.com", [to], "hi")
def geocode(address):
    return requests.get("https://geo.example.com", params={"q": address}, timeout=5).json()
def backoff():
    time.sleep(0.5)
def load_template():
    with open("templates/welcome.txt") as f:
        return f.read()
def user_by_name(db, name):
    return db.query(User).filter(User.name == name).first()
"""


def fired(tmp_path, files, code):
    return [f for f in scan_example(tmp_path, files, select=[code]).findings if f.rule == code]


def service_calling(helper: str) -> str:
    return f"from app import security\ndef do(db, value):\n    return security.{helper}(value) if '{helper}' != 'user_by_name' else security.user_by_name(db, value)\n"


@pytest.mark.parametrize(
    ("helper", "what"),
    [
        ("bcrypt_hash", "bcrypt"),
        ("argon_hash", "password hashing"),
        ("passlib_verify", "password hashing"),
        ("send_welcome", "smtplib"),
        ("geocode", "requests.get()"),
        ("backoff", "time.sleep()"),
        ("load_template", "file I/O"),
        ("user_by_name", "synchronous database call"),
    ],
)
def test_async_handler_reaching_blocking_work_through_two_helpers(tmp_path, helper, what):
    files = {
        "app/__init__.py": "",
        "app/security.py": SECURITY,
        "app/service.py": service_calling(helper),
        "app/main.py": "from fastapi import FastAPI\nfrom app.service import do\napp = FastAPI()\n@app.post('/go')\nasync def go(value: str, db=None):\n    return do(db, value)\n",
    }
    if helper == "passlib_verify":
        files["app/service.py"] = "from app import security\ndef do(db, value):\n    return security.passlib_verify(value, 'x')\n"
    found = fired(tmp_path, files, "PR345")
    assert [(f.path, f.line) for f in found] == [("app/main.py", 6)]
    assert what in found[0].message and "do() → " in found[0].message


def test_async_dependency_that_blocks_through_a_helper(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/security.py": SECURITY,
        "app/deps.py": "from app.security import passlib_verify\nasync def check_password(pw: str = ''):\n    return passlib_verify(pw, 'stored')\n",
        "app/main.py": "from fastapi import Depends, FastAPI\nfrom app.deps import check_password\napp = FastAPI()\n@app.get('/me')\nasync def me(ok=Depends(check_password)):\n    return {}\n",
    }
    found = fired(tmp_path, files, "PR345")
    assert [(f.path, f.line) for f in found] == [("app/deps.py", 3)]


def test_threadpool_sync_handler_and_async_helpers_do_not_block(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/security.py": SECURITY,
        "app/mail.py": "import aiosmtplib\nasync def send(to):\n    await aiosmtplib.send('hi', hostname='localhost')\n",
        "app/main.py": (
            "import asyncio\nfrom fastapi import FastAPI\nfrom starlette.concurrency import run_in_threadpool\n"
            "from app.security import bcrypt_hash, send_welcome\nfrom app.mail import send\napp = FastAPI()\n"
            "@app.post('/a')\nasync def a(pw: str):\n    return await run_in_threadpool(bcrypt_hash, pw)\n"
            "@app.post('/b')\nasync def b(to: str):\n    await asyncio.to_thread(send_welcome, to)\n    await send(to)\n"
            "@app.post('/c')\ndef c(pw: str):\n    return bcrypt_hash(pw)\n"
        ),
    }
    assert fired(tmp_path, files, "PR345") == []


def test_thread_started_in_a_helper_during_a_request(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/mail.py": "import threading\ndef send_async(msg):\n    threading.Thread(target=print, args=(msg,)).start()\ndef send_and_wait(msg):\n    t = threading.Thread(target=print, args=(msg,))\n    t.start()\n    t.join(5)\n",
        "app/main.py": "from flask import Flask\nfrom app.mail import send_async, send_and_wait\napp = Flask(__name__)\n@app.post('/invite')\ndef invite():\n    send_async('hi')\n    send_and_wait('hi')\n    return {}\n",
        "scripts/warm.py": "import threading\ndef main():\n    threading.Thread(target=print).start()\n",
    }
    found = fired(tmp_path, files, "PR346")
    assert [(f.path, f.line) for f in found] == [("app/mail.py", 3)]
    assert "POST /invite" in found[0].message


def test_password_hashing_and_file_io_written_in_the_async_handler(tmp_path):
    found = fired(
        tmp_path,
        """
import aiofiles
import bcrypt
from fastapi import FastAPI
from passlib.context import CryptContext
app = FastAPI()
pwd_context = CryptContext(schemes=["bcrypt"])
@app.post("/signup")
async def signup(pw: str):
    return {"hash": bcrypt.hashpw(pw.encode(), bcrypt.gensalt())}
@app.post("/login")
async def login(pw: str, stored: str):
    return {"ok": pwd_context.verify(pw, stored)}
@app.get("/report")
async def report():
    with open("report.txt") as f:
        return {"text": f.read()}
@app.get("/report-async")
async def report_async():
    async with aiofiles.open("report.txt") as f:
        return {"text": await f.read()}
""",
        "PR343",
    )
    assert [f.line for f in found] == [9, 12, 15]


def test_a_cached_helper_blocks_once_not_per_request(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/config.py": "import functools\n@functools.lru_cache\ndef load_config():\n    with open('config.json') as f:\n        return f.read()\ndef fresh_config():\n    with open('config.json') as f:\n        return f.read()\n",
        "app/main.py": "from fastapi import FastAPI\nfrom app.config import fresh_config, load_config\napp = FastAPI()\n@app.get('/a')\nasync def a():\n    return load_config()\n@app.get('/b')\nasync def b():\n    return fresh_config()\n",
    }
    found = fired(tmp_path, files, "PR345")
    assert [(f.path, f.line) for f in found] == [("app/main.py", 9)]

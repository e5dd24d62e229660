"""Tolerant parsing (files written for a newer Python) and code roles (what each module is for).

Each case is a small app written the way real projects are: the auth dependency in its own
module, a click CLI next to the app, a seeding script, an API client, a debug router mounted
only in development. True negatives (no finding where the code is not request handling) sit
next to true positives (the same code inside a route still reported).
"""

from __future__ import annotations

import ast
import json

import pytest

from auditor.index.parsing import parse_module
from auditor.report.json_report import render_json
from auditor.report.sarif import render_sarif
from tests.helpers import scan_example

# -- tolerant parsing --------------------------------------------------------------------------

SECURITY = """
from fastapi.security import OAuth2PasswordBearer

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/token")
"""

# Ten routes that change data, all behind the project's own dependency.
NOTE_ROUTES = [
    ("post", "/notes"), ("put", "/notes/{note_id}"), ("patch", "/notes/{note_id}"), ("delete", "/notes/{note_id}"),
    ("post", "/notes/{note_id}/tags"), ("delete", "/notes/{note_id}/tags/{tag}"), ("post", "/notes/{note_id}/share"),
    ("post", "/folders"), ("put", "/folders/{folder_id}"), ("delete", "/folders/{folder_id}"),
]  # fmt: skip


def notes_app(members: str) -> dict[str, str]:
    handlers = "\n".join(
        f'@app.{method}("{path}")\ndef handler_{i}(member: dict = Depends(require_member)):\n    return {{"ok": True}}\n'
        for i, (method, path) in enumerate(NOTE_ROUTES)
    )
    main = f"""
from fastapi import Depends, FastAPI

from app.members import require_member
from app.security import oauth2_scheme

app = FastAPI()


@app.get("/me")
def me(token: str = Depends(oauth2_scheme)):
    return {{"token": token}}


{handlers}"""
    return {"app/__init__.py": "", "app/security.py": SECURITY, "app/members.py": members, "app/main.py": main}


# Python 3.14 (PEP 758): several exception types without parentheses.
MEMBERS_314 = """
import os

import jwt
from fastapi import Depends, HTTPException

from app.security import oauth2_scheme

SECRET = os.environ["JWT_SECRET"]


def require_member(token: str = Depends(oauth2_scheme)) -> dict:
    try:
        payload = jwt.decode(token, SECRET, algorithms=["HS256"])
    except jwt.ExpiredSignatureError, jwt.InvalidTokenError:
        raise HTTPException(status_code=401, detail="Invalid or expired token")
    return payload
"""

# Python 3.12 (PEP 701): an f-string reusing its own quotes.
MEMBERS_312 = """
import logging
import os

import jwt
from fastapi import Depends, HTTPException

from app.security import oauth2_scheme

SECRET = os.environ["JWT_SECRET"]
log = logging.getLogger(__name__)


def require_member(token: str = Depends(oauth2_scheme)) -> dict:
    try:
        payload = jwt.decode(token, SECRET, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise HTTPException(status_code=401, detail="Invalid token")
    log.info(f"member {payload["sub"]} signed in as {", ".join(payload.get("roles", []))}")
    return payload
"""

# Newer grammar again, but this dependency verifies nothing: reading the file must show it.
MEMBERS_312_TRUSTING = """
from fastapi import Header


def require_member(x_member: str = Header(...)) -> dict:
    return {"sub": x_member, "label": f"{x_member.split("@")[0]}"}
"""

# A file no grammar reads (a merge left half done).
MEMBERS_BROKEN = """
from fastapi import Depends, HTTPException

<<<<<<< HEAD
def require_member(token: str = Depends(oauth2_scheme)) -> dict:
=======
def require_member(token: str = Depends(oauth2_scheme), db=Depends(get_db)) -> dict:
>>>>>>> feature/teams
    ...
"""


def pr201(result) -> list:
    return [f for f in result.findings if f.rule == "PR201"]


@pytest.mark.parametrize("members", [MEMBERS_314, MEMBERS_312], ids=["py314-except-comma", "py312-fstring-quotes"])
def test_auth_dependency_in_newer_python_protects_its_routes(tmp_path, members):
    result = scan_example(tmp_path, notes_app(members), select=["PR201"])
    assert not [d for d in result.diagnostics if d.kind == "syntax-error"], result.diagnostics
    assert pr201(result) == []
    routes = [r for r in result.index.routes if r.path != "/me"]
    assert len(routes) == 10 and all("require_member" in " ".join(r.auth) for r in routes)


def test_newer_python_file_is_read_not_waved_through(tmp_path):
    """The fallback reads what the file does: a dependency that trusts a header is no login."""
    result = scan_example(tmp_path, notes_app(MEMBERS_312_TRUSTING), select=["PR201"])
    assert not result.diagnostics
    assert len(pr201(result)) == 10


def test_unparsable_auth_module_makes_routes_unknown_not_public(tmp_path):
    result = scan_example(tmp_path, notes_app(MEMBERS_BROKEN), select=["PR201"])
    assert pr201(result) == []
    routes = [r for r in result.index.routes if r.path != "/me"]
    assert len(routes) == 10 and not any(r.authenticated for r in routes)
    assert result.index.is_unknown("app.members.require_member")
    assert result.index.is_unknown("app.main.require_member")  # imported from there
    assert not result.index.is_unknown("app.security.oauth2_scheme")
    assert list(result.index.unparsed) == ["app/members.py"]


def test_unparsable_file_is_reported_in_json_and_sarif(tmp_path):
    result = scan_example(tmp_path, notes_app(MEMBERS_BROKEN), select=["PR201"])
    errors = json.loads(render_json(result))["errors"]
    assert [(e["path"], e["kind"]) for e in errors] == [("app/members.py", "syntax-error")]
    assert "syntax error at line 3" in errors[0]["message"]
    [invocation] = json.loads(render_sarif(result))["runs"][0]["invocations"]
    [note] = invocation["toolExecutionNotifications"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "app/members.py"
    assert "syntax error at line 3" in note["message"]["text"]


def test_clean_scan_has_empty_errors_and_a_successful_invocation(tmp_path):
    result = scan_example(tmp_path, notes_app(MEMBERS_314), select=["PR201"])
    assert json.loads(render_json(result))["errors"] == []
    [invocation] = json.loads(render_sarif(result))["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is True and invocation["toolExecutionNotifications"] == []


NEWER_SNIPPETS = {
    "except-comma": "try:\n    connect()\nexcept TimeoutError, ConnectionError:\n    retry()\nafter = 1\n",
    "except-star-comma": "try:\n    run()\nexcept* ValueError, TypeError:\n    pass\nafter = 1\n",
    "fstring-same-quotes": 'row = {"name": "a"}\nmsg = f"hello {row["name"]}"\nafter = 1\n',
    "fstring-backslash": 'names = ["a"]\nmsg = f"{"\\n".join(names)}"\nafter = 1\n',
    "fstring-nested": 'msg = f"{f"{f"{1 + 1}"}"}"\nafter = 1\n',
    "fstring-multiline-comment": 'msg = f"total: {\n    price * qty  # in cents\n}"\nafter = 1\n',
    "fstring-concatenated": 'msg = ("{literal} " f"{d["k"]!r:>{w}}"\n       " end")\nafter = 1\n',
    "type-alias": "type UserId = int\ntype Pair[T] = tuple[T, T]\nafter = 1\n",
    "generic-def-class": "def first[T](items: list[T]) -> T:\n    return items[0]\nclass Box[T]:\n    pass\nafter = 1\n",
    "tstring": 'name = "x"\ntemplate = t"hello {name}"\nafter = 1\n',
}


@pytest.mark.parametrize("source", NEWER_SNIPPETS.values(), ids=NEWER_SNIPPETS)
def test_newer_grammar_keeps_every_line(source):
    with pytest.raises(SyntaxError):
        ast.parse(source)  # the running Python (3.11) refuses it
    parsed = parse_module(source)
    assert parsed.grammar is not None
    assert parsed.source.count("\n") == source.count("\n")
    [after] = [n for n in ast.walk(parsed.tree) if isinstance(n, ast.Assign) and n.targets[0].id == "after"]
    assert after.lineno == source.count("\n")


def test_fstring_with_reused_quotes_stays_an_fstring():
    """Rules look for f-strings (SQL built with them, logging): the rewrite keeps them f-strings."""
    source = 'def find(db, name):\n    return db.execute(f"SELECT * FROM users WHERE name = \'{name}\' AND team = {TEAMS["x"]}")\n'
    call = next(n for n in ast.walk(parse_module(source).tree) if isinstance(n, ast.Call) and isinstance(n.args[0], ast.JoinedStr))
    assert call.lineno == 2


def test_python2_and_broken_files_are_still_syntax_errors():
    for source in ['print "hello"\n', "def f(:\n    pass\n", "x = 1\n<<<<<<< HEAD\ny = 2\n"]:
        with pytest.raises(SyntaxError):
            parse_module(source)


def test_python2_file_does_not_load_the_fallback_parser():
    import subprocess
    import sys

    code = "import sys\nfrom auditor.index.parsing import parse_module\ntry:\n    parse_module('print \"hi\"\\n')\nexcept SyntaxError:\n    pass\nprint('libcst' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- code roles ------------------------------------------------------------------------------

DB = """
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

engine = create_engine("postgresql://app@db/app", pool_size=10, max_overflow=5, pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)
"""

MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String(255), unique=True, nullable=False)


class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), index=True, nullable=False)
"""

MAIN = """
import logging

import requests
from fastapi import Depends, FastAPI

from app.db import SessionLocal
from app.models import Order, User

log = logging.getLogger(__name__)
app = FastAPI()


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.get("/rates")
def rates():
    return requests.get("https://api.exchangerate.host/latest").json()


@app.get("/report")
def report(db=Depends(get_db)):
    users = db.query(User).all()
    print("report for", len(users))
    return [{"id": u.id, "orders": db.query(Order).filter(Order.user_id == u.id).count()} for u in users]
"""

CLI = """
import click
import requests
from sqlalchemy import func

from app.db import SessionLocal
from app.models import Order, User


@click.group()
def cli():
    pass


@cli.command()
@click.argument("email")
def create_admin(email):
    db = SessionLocal()
    db.add(User(email=email))
    db.commit()
    print(f"created {email}")


@cli.command()
def sync_rates():
    rates = requests.get("https://api.exchangerate.host/latest").json()
    print(rates)


@cli.command()
def orders_per_user():
    db = SessionLocal()
    for user in db.query(User).all():
        print(user.email, db.query(Order).filter(Order.user_id == user.id).count())


if __name__ == "__main__":
    cli()
"""

SEED_SCRIPT = """
from sqlalchemy.orm import Session

from app.db import SessionLocal
from app.models import Order, User


def main():
    db = SessionLocal()
    for user in db.query(User).all():
        count = db.query(Order).filter(Order.user_id == user.id).count()
        print(user.email, count)


if __name__ == "__main__":
    main()
"""

ATTACK_SCRIPT = """
import requests

BASE = "http://localhost:8000"

for user_id in range(1, 500):
    response = requests.get(f"{BASE}/users/{user_id}/orders")
    if response.ok:
        print("leaked", user_id, response.json())
"""

API_CLIENT = """
import httpx


class ShopClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def orders(self, token: str) -> list:
        return httpx.get(f"{self.base_url}/orders", headers={"Authorization": f"Bearer {token}"}).json()
"""

CONFTEST = """
import pytest
import requests
from sqlalchemy import create_engine


@pytest.fixture
def live_rates():
    try:
        return requests.get("http://localhost:9000/rates").json()
    except Exception:
        return None
"""


def shop(**extra: str) -> dict[str, str]:
    return {"app/__init__.py": "", "app/db.py": DB, "app/models.py": MODELS, "app/main.py": MAIN, **extra}


def by_path(result, *codes: str) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for finding in result.findings:
        if finding.rule in codes:
            table.setdefault(finding.path, []).append(finding.rule)
    return table


REQUEST_CODES = ("PR120", "PR250", "PR502", "PR510")


def test_cli_script_client_attack_script_and_tests_are_not_request_code(tmp_path):
    files = shop(
        **{
            "app/cli.py": CLI,
            "seed_demo.py": SEED_SCRIPT,
            "attacks/enumerate_orders.py": ATTACK_SCRIPT,
            "clients/shop_client.py": API_CLIENT,
            "tests/conftest.py": CONFTEST,
        }
    )
    result = scan_example(tmp_path, files, select=list(REQUEST_CODES))
    found = by_path(result, *REQUEST_CODES)
    # The same outbound call, print and query loop inside the app are still reported...
    assert sorted(found.pop("app/main.py")) == ["PR120", "PR250", "PR502"]
    # ...and nowhere else.
    assert found == {}
    roles = result.index.roles
    assert {path: roles.role(path) for path in files} == {
        "app/__init__.py": "app",
        "app/db.py": "app",
        "app/models.py": "app",
        "app/main.py": "app",
        "app/cli.py": "cli",
        "seed_demo.py": "script",
        "attacks/enumerate_orders.py": "client",
        "clients/shop_client.py": "client",
        "tests/conftest.py": "test",
    }


def test_the_same_modules_are_judged_when_the_app_imports_them(tmp_path):
    """A client module the app itself uses is app code: its call without a timeout counts."""
    main = MAIN.replace("from app.models import Order, User", "from app.models import Order, User\nfrom clients.shop_client import ShopClient")
    result = scan_example(tmp_path, shop(**{"app/main.py": main, "clients/__init__.py": "", "clients/shop_client.py": API_CLIENT}), select=["PR250"])
    assert by_path(result, "PR250") == {"app/main.py": ["PR250"], "clients/shop_client.py": ["PR250"]}
    assert result.index.roles.role("clients/shop_client.py") == "app"


def test_background_jobs_are_request_code(tmp_path):
    worker = """
import requests
from celery import Celery
from sqlalchemy.orm import Session

from app.db import SessionLocal
from app.models import Order, User

celery = Celery("shop", broker="redis://localhost:6379/0")


@celery.task
def push_order_counts():
    db: Session = SessionLocal()
    users = db.query(User).all()
    counts = [{"user": u.id, "orders": db.query(Order).filter(Order.user_id == u.id).count()} for u in users]
    requests.post("https://crm.example.com/counts", json=counts)
"""
    result = scan_example(tmp_path, shop(**{"worker.py": worker}), select=["PR120", "PR250"])
    assert sorted(by_path(result, "PR120", "PR250")["worker.py"]) == ["PR120", "PR250"]
    assert result.index.roles.role("worker.py") == "app"


def test_flask_cli_command_in_the_app_module_is_not_request_code(tmp_path):
    app = """
import requests
from flask import Flask, jsonify

app = Flask(__name__)


@app.cli.command("sync-rates")
def sync_rates():
    rates = requests.get("https://api.exchangerate.host/latest").json()
    app.logger.info("synced %d rates", len(rates))


@app.route("/rates")
def rates():
    return jsonify(requests.get("https://api.exchangerate.host/latest").json())
"""
    result = scan_example(tmp_path, {"app.py": app}, select=["PR250"])
    assert [(f.rule, f.line) for f in result.findings] == [("PR250", 15)]


def test_typer_cli_is_not_request_code(tmp_path):
    typer_cli = """
import requests
import typer
from sqlalchemy import create_engine, text

app = typer.Typer()
engine = create_engine("sqlite:///shop.db")


@app.command()
def export(url: str):
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM orders")).all()
    print(len(rows))
    requests.post(url, json=[r.id for r in rows])
"""
    result = scan_example(tmp_path, shop(**{"manage_cli.py": typer_cli}), select=["PR250"])
    assert by_path(result, "PR250") == {"app/main.py": ["PR250"]}
    assert result.index.roles.role("manage_cli.py") == "cli"


def test_without_a_web_app_only_clear_signs_take_code_out(tmp_path):
    """No app object or route anywhere: a plain module may still be request code (a fragment of
    an app); a module with a main guard and argparse is a CLI."""
    fragment = "import requests\nfrom sqlalchemy.orm import Session\n\n\ndef rates():\n    return requests.get('https://api.example.com/rates').json()\n"
    tool = "import argparse\nimport requests\n\n\ndef main():\n    args = argparse.ArgumentParser().parse_args()\n    print(requests.get('https://api.example.com').text)\n\n\nif __name__ == '__main__':\n    main()\n"
    result = scan_example(tmp_path, {"services/rates.py": fragment, "tool.py": tool}, select=["PR250"])
    assert by_path(result, "PR250") == {"services/rates.py": ["PR250"]}
    assert result.index.roles.role("services/rates.py") == "unknown"


# -- routes that never run in production are public by design (PR201) -------------------------

AUTH_APP_MAIN = """
import os

from fastapi import Depends, FastAPI

from app.deps import get_current_user
from app.routers import debug, notes

app = FastAPI()
app.include_router(notes.router)

if os.getenv("ENV", "production") == "development":
    app.include_router(debug.router, prefix="/debug")


@app.get("/me")
def me(user=Depends(get_current_user)):
    return user
"""

DEPS = """
import jwt
from fastapi import Depends, HTTPException
from fastapi.security import OAuth2PasswordBearer

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/token")


def get_current_user(token: str = Depends(oauth2_scheme)):
    try:
        return jwt.decode(token, "k" * 32, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise HTTPException(status_code=401)
"""

NOTES_ROUTER = """
from fastapi import APIRouter

router = APIRouter(prefix="/notes")


@router.post("/")
def create_note(body: dict):
    return body
"""

DEBUG_ROUTER = """
from fastapi import APIRouter

router = APIRouter()


@router.post("/reset-db")
def reset_db():
    return {"reset": True}
"""

UNUSED_ROUTER = """
from fastapi import APIRouter

router = APIRouter(prefix="/v0")


@router.delete("/notes/{note_id}")
def delete_note_v0(note_id: int):
    return {"deleted": note_id}
"""


def auth_app(**extra: str) -> dict[str, str]:
    return {
        "app/__init__.py": "",
        "app/main.py": AUTH_APP_MAIN,
        "app/deps.py": DEPS,
        "app/routers/__init__.py": "",
        "app/routers/notes.py": NOTES_ROUTER,
        "app/routers/debug.py": DEBUG_ROUTER,
        **extra,
    }


def test_dev_only_router_and_unimported_module_are_not_reported_as_missing_login(tmp_path):
    result = scan_example(tmp_path, auth_app(**{"app/routers/legacy.py": UNUSED_ROUTER}), select=["PR201"])
    assert [f.message.split(" changes")[0] for f in result.findings if f.rule == "PR201"] == ["POST /notes"]
    roles = result.index.roles
    reasons = {r.path: roles.not_deployed(r) for r in result.index.routes}
    assert reasons == {
        "/debug/reset-db": "mounted only when os.getenv('ENV', 'production') == 'development'",
        "/notes": None,
        "/me": None,
        "/v0/notes/{note_id}": "in a module nothing imports",
    }


@pytest.mark.parametrize(
    "condition",
    ['settings.ENVIRONMENT != "production"', "settings.DEBUG", 'os.environ["APP_ENV"] in ("dev", "local")'],
)
def test_dev_only_conditions(tmp_path, condition):
    main = AUTH_APP_MAIN.replace('os.getenv("ENV", "production") == "development"', condition).replace(
        "import os\n", "import os\n\nfrom app.config import settings\n"
    )
    files = auth_app(**{"app/main.py": main, "app/config.py": "class Settings:\n    DEBUG = False\n    ENVIRONMENT = 'production'\n\n\nsettings = Settings()\n"})
    result = scan_example(tmp_path, files, select=["PR201"])
    assert [f.message.split(" changes")[0] for f in result.findings if f.rule == "PR201"] == ["POST /notes"]


def test_router_mounted_in_production_branch_is_still_judged(tmp_path):
    main = AUTH_APP_MAIN.replace('== "development"', '== "production"')
    result = scan_example(tmp_path, auth_app(**{"app/main.py": main}), select=["PR201"])
    assert sorted(f.message.split(" changes")[0] for f in result.findings if f.rule == "PR201") == [
        "POST /debug/reset-db",
        "POST /notes",
    ]


def test_suppression_comment_in_a_cli_is_not_called_unused(tmp_path):
    """A comment written when the CLI was still reported keeps silencing nothing harmful: PR590
    does not ask to remove it (the finding still exists, it is only out of scope)."""
    line = 'rates = requests.get("https://api.exchangerate.host/latest").json()'
    cli = CLI.replace(line, line + "  # prodready: ignore[PR250]")
    result = scan_example(tmp_path, shop(**{"app/cli.py": cli}), select=["PR250", "PR590"])
    assert by_path(result, "PR250", "PR590") == {"app/main.py": ["PR250"]}


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_wizard_start_screen_names_the_file_it_could_not_read(tmp_path, anyio_backend):
    from tests.helpers import write_project
    from tests.tui.test_walkthrough import text_of

    from auditor.tui.app import WizardApp
    from auditor.tui.screenshots import drive_start
    from auditor.tui.start import StartScreen

    root = write_project(tmp_path / "notes", notes_app(MEMBERS_BROKEN))
    app = WizardApp(root, path_label="notes")
    async with app.run_test(size=(120, 30)) as pilot:
        await drive_start(pilot)
        assert isinstance(app.screen, StartScreen)
        shown = " ".join(text_of(app, "#detected").split())
    assert "Not read app/members.py: syntax error at line 3" in shown


def test_server_entry_module_is_app_code(tmp_path):
    """`uvicorn app.asgi:app` loads a module nothing imports: it is the app, not dead code."""
    asgi = '"""uvicorn app.asgi:app --workers 4"""\nfrom app.factory import create_app\n\napp = create_app()\n'
    factory = "import requests\nfrom fastapi import FastAPI\n\n\ndef create_app():\n    requests.get('https://config.example.com/flags')\n    return FastAPI()\n"
    files = {"app/__init__.py": "", "app/factory.py": factory, "app/asgi.py": asgi}
    result = scan_example(tmp_path, files, select=["PR250"])
    assert result.index.roles.role("app/asgi.py") == "app"
    assert by_path(result, "PR250") == {"app/factory.py": ["PR250"]}


def test_routers_loaded_by_name_are_not_dead(tmp_path):
    """Routers auto-discovered with importlib are imported by no one, and still served."""
    main = """
import importlib
import pkgutil

from fastapi import FastAPI

from app import routers

app = FastAPI()
for module in pkgutil.iter_modules(routers.__path__):
    app.include_router(importlib.import_module(f"app.routers.{module.name}").router)
"""
    files = {"app/__init__.py": "", "app/main.py": main, "app/routers/__init__.py": "", "app/routers/legacy.py": UNUSED_ROUTER}
    result = scan_example(tmp_path, files, select=["PR201"])
    assert result.index.roles.role("app/routers/legacy.py") != "dead"


def test_index_keeps_the_files_own_text_for_a_newer_grammar_file(tmp_path):
    """Fixers compare the scan's text with the disk: a rewrite must not look like an edit."""
    files = notes_app(MEMBERS_312)
    result = scan_example(tmp_path, files, select=["PR201"])
    assert result.index.source("app/members.py") == (tmp_path / "app/members.py").read_text()
    assert 'f"member {payload["sub"]}' in result.index.source("app/members.py")


def test_job_module_using_the_projects_celery_instance_is_request_code(tmp_path):
    """tasks.py imports the project's Celery app, not celery itself; nothing in the web app imports it."""
    celery_app = 'from celery import Celery\n\ncelery = Celery("shop", broker="redis://localhost:6379/0", include=["tasks"])\n'
    tasks = 'import requests\n\nfrom app.celery_app import celery\n\n\n@celery.task\ndef notify(order_id):\n    requests.post("https://hooks.example.com/orders", json={"id": order_id})\n'
    result = scan_example(tmp_path, shop(**{"app/celery_app.py": celery_app, "tasks.py": tasks}), select=["PR250"])
    assert by_path(result, "PR250") == {"app/main.py": ["PR250"], "tasks.py": ["PR250"]}


def test_except_star_is_read_as_except_where_the_running_python_lacks_it(monkeypatch):
    """prodready runs on 3.10 too, which has no except*: the rewrite keeps the handlers and lines."""
    import auditor.index.parsing as parsing

    monkeypatch.setattr(parsing, "EXCEPT_STAR", False)
    monkeypatch.setattr(parsing, "_DOWNGRADER", None)
    source = "try:\n    run()\nexcept* ValueError, TypeError:\n    pass\nexcept* OSError as group:\n    log(group)\nafter = 1\n"
    text = parsing.downgrade(source)
    monkeypatch.setattr(parsing, "_DOWNGRADER", None)
    assert text is not None and "except*" not in text
    tree = ast.parse(text)
    [handler_a, handler_b] = tree.body[0].handlers
    assert (handler_a.lineno, handler_b.lineno, tree.body[1].lineno) == (3, 5, 7)
    assert handler_b.name == "group"


def test_findings_inside_a_newer_grammar_file_keep_their_lines(tmp_path):
    """True positives still come out of a file only the fallback reads, on the lines of the file."""
    routes = """
from fastapi import FastAPI
from sqlalchemy import text

app = FastAPI()
LABELS = {"open": "Open"}


@app.get("/search")
def search(q: str, db=None):
    title = f"{LABELS["open"]}: {q}"
    rows = db.execute(text(f"SELECT * FROM notes WHERE title LIKE '%{q}%' AND label = '{LABELS["open"]}'")).all()
    return {"title": title, "rows": rows}
"""
    result = scan_example(tmp_path, {"app.py": routes}, select=["PR310"])
    assert not result.diagnostics
    assert [(f.rule, f.line) for f in result.findings] == [("PR310", 11)]


def test_nothing_is_called_missing_while_the_file_that_may_hold_it_is_unread(tmp_path):
    """The health route and the logging setup live in a module nothing could parse."""
    main = (
        "from fastapi import FastAPI\n\nfrom app.ops import router as ops_router\n\napp = FastAPI()\n"
        "app.include_router(ops_router)\n\n\n@app.get('/notes')\ndef notes():\n    return []\n"
    )
    ops = 'import logging\nfrom fastapi import APIRouter\n\n<<<<<<< HEAD\nlogging.basicConfig(level="INFO")\n=======\nlogging.basicConfig(level="DEBUG")\n>>>>>>> main\nrouter = APIRouter()\n\n\n@router.get("/health")\ndef health():\n    return {"status": "ok"}\n'
    files = {"app/__init__.py": "", "app/main.py": main, "app/ops.py": ops}
    result = scan_example(tmp_path, files, select=["PR430", "PR501"])
    assert [d.path for d in result.diagnostics] == ["app/ops.py"]
    assert result.findings == []
    # Readable, the same project without the health route is told so.
    (tmp_path / "app/ops.py").write_text("from fastapi import APIRouter\n\nrouter = APIRouter()\n")
    result = scan_example(tmp_path, {}, select=["PR430", "PR501"])
    assert sorted(f.rule for f in result.findings) == ["PR430", "PR501"]

"""A fix whose output would break the app is not offered: the finding says why, in plain words.

check_unit compares each touched module before and after a unit of fixing: new undefined names
(pyflakes), imports of project modules or names that do not exist, circular imports that fail at
start-up, and class attributes the project's models and settings classes do not define. Texts it
cannot judge (star imports, a module __getattr__, a base class from elsewhere) pass.
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass

import pytest

import fixers.pipeline.plan as plan_module
from auditor.cli import main
from auditor.index.extract import module_name_for
from auditor.models import FixSafety
from auditor.tui import fixes as wizard_fixes
from fixers import plan_fixes
from fixers.base import Fixer
from fixers.pipeline.check import Texts, check_unit
from fixers.registry import FixerSpec
from tests.helpers import scan_project, write_project


def texts(files: dict[str, str]) -> Texts:
    files = {relpath: textwrap.dedent(text).lstrip("\n") for relpath, text in files.items()}
    return Texts(files.get, {module_name_for(relpath): relpath for relpath in files if relpath.endswith(".py")})


def check(before: dict[str, str], changes: dict[str, str]) -> list[str]:
    """The reasons check_unit gives for a unit that writes `changes` over the project `before`."""
    return check_unit(sorted(changes), texts(before), texts({**before, **changes}))


MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)


class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    title = Column(String)
    owner_id = Column(Integer, ForeignKey("users.id"))
"""

MAIN = """
from fastapi import Depends, FastAPI, HTTPException

from app import models
from app.db import get_db
from app.auth import get_current_user

app = FastAPI()


@app.get("/tasks/{task_id}")
def read_task(task_id: int, db=Depends(get_db), current_user=Depends(get_current_user)):
    task = db.query(models.Task).filter(models.Task.id == task_id).first()
    if task is None:
        raise HTTPException(status_code=404)
    return task
"""

PROJECT = {
    "app/__init__.py": "",
    "app/models.py": MODELS,
    "app/db.py": "def get_db():\n    yield None\n",
    "app/auth.py": "def get_current_user():\n    return None\n",
    "app/main.py": MAIN,
}


# -- what the check refuses ---------------------------------------------------------------------


def test_the_ownership_filter_naming_a_model_the_module_never_imports_is_refused():
    """Breakage 2 of the issue, as PR203's fix wrote it: `Task.owner_id` in a module that only
    imports `models` (NameError on every request; compileall passes)."""
    broken = MAIN.replace(
        "db.query(models.Task).filter(models.Task.id == task_id)",
        "db.query(models.Task).filter(Task.owner_id == current_user.id).filter(models.Task.id == task_id)",
    )
    assert check(PROJECT, {"app/main.py": broken}) == [
        "the fix would use `Task` in app/main.py, which that file does not import or define"
    ]
    fixed = MAIN.replace("filter(models.Task.id == task_id)", "filter(models.Task.owner_id == current_user.id, models.Task.id == task_id)")
    assert check(PROJECT, {"app/main.py": fixed}) == []


def test_a_setting_read_above_the_line_that_creates_it_is_refused():
    """A module-level read placed above `settings = Settings()` (a fix for the docs flag did this)."""
    before = {
        "app/settings.py": "from pydantic_settings import BaseSettings\n\nclass Settings(BaseSettings):\n    app_env: str = 'development'\n",
        "app/main.py": "from fastapi import FastAPI\nfrom app.settings import Settings\napp = FastAPI()\nsettings = Settings()\n",
    }
    after = (
        "from fastapi import FastAPI\nfrom app.settings import Settings\n"
        "DOCS = settings.app_env == 'development'\n"
        "app = FastAPI(docs_url='/docs' if DOCS else None)\nsettings = Settings()\n"
    )
    assert check(before, {"app/main.py": after}) == [
        "the fix would use `settings` in app/main.py, which that file does not import or define"
    ]


def test_a_generated_test_fixture_that_reads_its_own_name_before_assigning_it_is_refused():
    """`app = app` inside a fixture: UnboundLocalError in every generated test."""
    generated = "import pytest\n\nfrom app import app\n\n\n@pytest.fixture\ndef client():\n    app = app\n    return app.test_client()\n"
    assert check({"app.py": "app = object()\n"}, {"tests/test_failure_paths.py": generated}) == [
        "the fix would read `app` in tests/test_failure_paths.py before it is assigned"
    ]


def test_a_second_definition_hiding_the_first_is_refused():
    before = {"app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.get('/health')\ndef health():\n    return {}\n"}
    after = before["app.py"] + "\n\ndef health():\n    return {'status': 'ok'}\n"
    assert check(before, {"app.py": after}) == [
        "the fix would define `health` a second time in app.py, hiding the one already there"
    ]


def test_importing_a_name_a_project_module_does_not_define_is_refused():
    before = {"app/__init__.py": "", "app/settings.py": "class Settings:\n    pass\n", "app/main.py": "x = 1\n"}
    assert check(before, {"app/main.py": "from app.settings import get_settings\nx = get_settings()\n"}) == [
        "the fix would import `get_settings` from app.settings in app/main.py, but app/settings.py does not define it"
    ]
    # A relative import is resolved the same way.
    assert check(before, {"app/main.py": "from .settings import get_settings\nx = get_settings()\n"}) == [
        "the fix would import `get_settings` from app.settings in app/main.py, but app/settings.py does not define it"
    ]


def test_importing_a_project_module_that_does_not_exist_is_refused():
    before = {"app/__init__.py": "", "app/db.py": "engine = None\n", "app/main.py": "x = 1\n"}
    assert check(before, {"app/main.py": "import app.database\nx = app.database.engine\n"}) == [
        "the fix would import app.database in app/main.py, which is not a module of this project"
    ]
    assert check(before, {"app/main.py": "from app.database import engine\nx = engine\n"}) == [
        "the fix would import app.database in app/main.py, which is not a module of this project"
    ]


def test_a_migration_environment_importing_a_missing_name_from_the_app_is_refused():
    """Alembic's env.py written as `from app import db` where app.py has no `db`."""
    before = {"app.py": "from db import Base, engine\nBase.metadata.create_all(bind=engine)\n", "db.py": "Base = engine = None\n"}
    env = "from app import db\ntarget_metadata = db.Base.metadata\n"
    assert check(before, {"migrations/env.py": env}) == [
        "the fix would import `db` from app in migrations/env.py, but app.py does not define it"
    ]


def test_removing_a_name_other_modules_import_is_refused():
    before = {"app/__init__.py": "", "app/config.py": "SECRET = 'x'\nDEBUG = True\n", "app/main.py": "from app.config import SECRET\n"}
    assert check(before, {"app/config.py": "DEBUG = True\n"}) == [
        "the fix would import `SECRET` from app.config in app/main.py, but app/config.py does not define it"
    ]


def test_two_modules_importing_each_other_before_their_names_exist_is_refused():
    """The logging module reading settings from the package that imports it at the top."""
    before = {"app/__init__.py": "APP_ENV = 'dev'\n\ndef create_app():\n    return None\n"}
    changes = {
        "app/__init__.py": "from app.logging_setup import configure_logging\n\nAPP_ENV = 'dev'\n\ndef create_app():\n    configure_logging()\n",
        "app/logging_setup.py": "from app import APP_ENV\n\ndef configure_logging():\n    return APP_ENV\n",
    }
    (reason,) = check(before, changes)
    assert reason.startswith("the fix would make app/__init__.py and app/logging_setup.py import each other as they load")
    assert "the app would fail to start" in reason
    # The same two modules, with the name bound before the import that loops back: it works.
    fine = dict(changes, **{"app/__init__.py": "APP_ENV = 'dev'\n\nfrom app.logging_setup import configure_logging\n"})
    assert check(before, fine) == []


def test_an_attribute_a_model_does_not_have_is_refused():
    """An admin check on `User.is_admin` when the User model has no such column (everyone 403s)."""
    before = dict(PROJECT, **{"app/admin.py": "from app.models import User\n\ndef admins(db):\n    return db.query(User).all()\n"})
    after = "from app.models import User\n\ndef admins(db):\n    return db.query(User).filter(User.is_admin == True).all()\n"
    assert check(before, {"app/admin.py": after}) == [
        "the fix would use `User.is_admin` in app/admin.py, but the User class (app/models.py) has no `is_admin`"
    ]
    defined = after.replace("User.is_admin == True", "User.email.is_not(None)")
    assert check(before, {"app/admin.py": defined}) == []


def test_an_attribute_through_the_models_module_and_of_a_settings_class():
    broken = MAIN.replace("models.Task.id == task_id", "models.Task.user_id == current_user.id")
    assert check(PROJECT, {"app/main.py": broken}) == [
        "the fix would use `Task.user_id` in app/main.py, but the Task class (app/models.py) has no `user_id`"
    ]
    before = {"settings.py": "from pydantic_settings import BaseSettings\n\nclass Settings(BaseSettings):\n    debug: bool = False\n", "main.py": "x = 1\n"}
    assert check(before, {"main.py": "from settings import Settings\nx = Settings.model_fields\ny = Settings.debug_mode\n"}) == [
        "the fix would use `Settings.debug_mode` in main.py, but the Settings class (settings.py) has no `debug_mode`"
    ]


# -- what the check lets through (it refuses only what would surely break) -------------------------


def test_problems_the_module_already_had_are_not_the_fix_s():
    before = {"app.py": "def handler():\n    return undefined_helper()\n"}
    after = "import logging\n\nlogger = logging.getLogger(__name__)\n\n\ndef handler():\n    return undefined_helper()\n"
    assert check(before, {"app.py": after}) == []
    with_model = dict(PROJECT, **{"app/admin.py": "from app.models import User\nflag = User.is_admin\n"})
    assert check(with_model, {"app/admin.py": "import logging\nfrom app.models import User\nflag = User.is_admin\n"}) == []


def test_a_name_from_a_star_imported_or_dynamic_module_passes():
    before = {
        "app/__init__.py": "",
        "app/api.py": "from app.impl import *\n",
        "app/impl.py": "def helper():\n    return 1\n",
        "app/lazy.py": "def __getattr__(name):\n    return name\n",
        "app/main.py": "x = 1\n",
    }
    after = "from app.api import helper, anything_else\nfrom app.lazy import computed\nx = helper()\n"
    assert check(before, {"app/main.py": after}) == []


def test_submodules_re_exports_and_other_packages_pass():
    before = {
        "app/__init__.py": "",
        "app/base.py": "class Base:\n    pass\n",
        "app/db.py": "from app.base import Base\ntry:\n    import ujson as json\nexcept ImportError:\n    import json\n",
        "app/main.py": "x = 1\n",
    }
    after = (
        "from fastapi import NotInFastapiEither\nfrom app import db\nfrom app.db import Base, json\n"
        "import app.base\nx = (db, Base, json, app.base, NotInFastapiEither)\n"
    )
    assert check(before, {"app/main.py": after}) == []


def test_attributes_of_classes_that_cannot_be_judged_pass():
    before = {
        "app/__init__.py": "",
        "app/models.py": textwrap.dedent(
            """
            from flask_login import UserMixin
            from sqlalchemy import Column, ForeignKey, Integer
            from sqlalchemy.orm import declarative_base, relationship

            Base = declarative_base()


            class User(UserMixin, Base):
                __tablename__ = "users"
                id = Column(Integer, primary_key=True)


            class Mapped(Base):
                __table__ = None


            class Order(Base):
                __tablename__ = "orders"
                id = Column(Integer, primary_key=True)
                user_id = Column(Integer, ForeignKey("users.id"))
                user = relationship("User", backref="orders")


            class Role:
                ADMIN = "admin"
            """
        ),
        "app/main.py": "x = 1\n",
    }
    after = (
        "from app.models import Mapped, Order, Role, User\n"
        "x = (User.is_authenticated, User.orders, Mapped.anything, Role.OWNER, Order.query, Order.metadata)\n"
    )
    assert check(before, {"app/main.py": after}) == []


def test_an_inherited_column_and_a_flask_sqlalchemy_model_pass():
    before = {
        "app/__init__.py": "",
        "app/extensions.py": "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy()\n",
        "app/models.py": textwrap.dedent(
            """
            from app.extensions import db


            class Stamped(db.Model):
                __abstract__ = True
                created_at = db.Column(db.DateTime)


            class Invoice(Stamped):
                id = db.Column(db.Integer, primary_key=True)
            """
        ),
        "app/main.py": "x = 1\n",
    }
    assert check(before, {"app/main.py": "from app.models import Invoice\nx = (Invoice.created_at, Invoice.query)\n"}) == []
    assert check(before, {"app/main.py": "from app.models import Invoice\nx = Invoice.total\n"}) == [
        "the fix would use `Invoice.total` in app/main.py, but the Invoice class (app/models.py) has no `total`"
    ]


# -- in the pipeline: the unit is rolled back for the breaking finding only, and it says why --------


class HalfBrokenFixer(Fixer):
    """Rewrites `print(...)` lines: the one saying "bad" into a call of a name nobody defines."""

    def fix_file(self, relpath, findings, ws):
        lines = ws.read(relpath).splitlines(keepends=True)
        for finding in findings:
            line = lines[finding.line - 1]
            indent = line[: len(line) - len(line.lstrip())]
            lines[finding.line - 1] = indent + ("undefined_helper()\n" if "bad" in line else "pass\n")
        ws.write(relpath, "".join(lines))
        return {f: None for f in findings}


@dataclass(frozen=True)
class SpecFor(FixerSpec):
    """A registry entry whose fixer class is given directly (the tests' own fixers)."""

    fixer: type = Fixer

    def load(self):
        return self.fixer(self)


PRINTS = """
from flask import Flask

app = Flask(__name__)


@app.route("/a")
def a():
    print("good")
    print("bad")
    return "a"
"""


@pytest.fixture
def half_broken(monkeypatch, tmp_path):
    spec = SpecFor("half-broken", ("PR502",), FixSafety.SAFE, "test", "", HalfBrokenFixer)
    monkeypatch.setattr(plan_module, "FIXERS", (spec,))
    return write_project(tmp_path / "app", {"app.py": PRINTS})


def test_a_unit_that_would_break_keeps_the_findings_whose_own_fix_is_sound(half_broken):
    result = scan_project(half_broken)
    chosen = [f for f in result.findings if f.rule == "PR502"]
    assert len(chosen) == 2
    plan = plan_fixes(result, chosen)
    assert [f.finding.line for f in plan.fixes] == [8]
    assert plan.skipped == [(chosen[1], "the fix would use `undefined_helper` in app.py, which that file does not import or define")]
    (edit,) = plan.edits
    assert '    pass\n    print("bad")\n' in edit.new and "undefined_helper" not in edit.new


def test_the_cli_and_its_json_say_why_a_finding_was_not_fixed(half_broken, capsys):
    code = main(["fix", str(half_broken), "--select", "PR502", "--no-cache", "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 1 and "+    pass" in out
    assert (
        "prodready: app.py:9 PR502 not fixed automatically: the fix would use `undefined_helper` in app.py, "
        "which that file does not import or define"
    ) in err

    code = main(["fix", str(half_broken), "--select", "PR502", "--format", "json", "--no-cache", "--no-progress"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and report["version"] == 1 and report["root"] == str(half_broken.resolve())
    assert report["fixes"] == [{"rule": "PR502", "path": "app.py", "line": 8, "fixer": "half-broken", "safety": "safe", "files": ["app.py"]}]
    assert report["not_fixed"] == [
        {"rule": "PR502", "path": "app.py", "line": 9, "reason": "the fix would use `undefined_helper` in app.py, which that file does not import or define"}
    ]
    assert "+    pass" in report["diff"] and report["dependencies"] == [] and report["notes"] == []

    code = main(["fix", str(half_broken), "--select", "PR502", "--apply", "--format", "json", "--no-cache", "--no-progress"])
    applied = json.loads(capsys.readouterr().out)
    assert code == 0 and applied["not_fixed"] == report["not_fixed"]
    assert applied["applied"]["changed"] == ["app.py"] and applied["applied"]["backup"].startswith(".prodready/backups/")
    assert applied["applied"]["findings_gone"] == [{"rule": "PR502", "path": "app.py", "line": 8}]
    assert 'print("bad")' in (half_broken / "app.py").read_text() and "undefined_helper" not in (half_broken / "app.py").read_text()


def test_the_wizard_preview_says_why_a_finding_is_not_fixed(half_broken):
    result = scan_project(half_broken)
    bad = next(f for f in result.findings if f.rule == "PR502" and f.line == 9)
    preview = wizard_fixes.preview(result, bad)
    assert preview.diff == ""
    assert preview.note == "Not fixed automatically: the fix would use `undefined_helper` in app.py, which that file does not import or define"


OWNED_PAGES = {
    "app/__init__.py": "",
    "app/models.py": MODELS
    + """

class Page(Base):
    __tablename__ = "pages"
    id = Column(Integer, primary_key=True)
    task_id = Column(Integer, ForeignKey("tasks.id"), index=True)
""",
    "app/db.py": "def get_db():\n    yield None\n",
    "app/main.py": """
from fastapi import Depends, FastAPI, HTTPException

from app.db import get_db
from app.models import Page

app = FastAPI()


def get_current_user(token: str = ""):
    if not token:
        raise HTTPException(status_code=401)
    return token


@app.get("/pages/{page_id}")
def read_page(page_id: int, db=Depends(get_db), current_user=Depends(get_current_user)):
    page = db.query(Page).filter(Page.id == page_id).first()
    if page is None:
        raise HTTPException(status_code=404)
    return {"id": page.id}
""",
}


def test_the_owner_filter_without_its_model_import_is_refused_in_the_plan(tmp_path, monkeypatch):
    """PR203's real codemod with the import of the joined model left out, as it once was: the
    join names `Task`, which app/main.py never imports. The plan refuses it and says why."""
    import fixers.auth

    root = write_project(tmp_path / "app", OWNED_PAGES)
    result = scan_project(root)
    finding = next(f for f in result.findings if f.rule == "PR203")
    sound = plan_fixes(result, [finding], include_review=True)
    assert [f.finding for f in sound.fixes] == [finding]
    assert "Task" in sound.edits[0].new and "import Page, Task" in sound.edits[0].new.replace("Task, Page", "Page, Task")

    real_ref = fixers.auth.ModuleNames.ref
    monkeypatch.setattr(fixers.auth.ModuleNames, "ref", lambda self, module, name, imports: real_ref(self, module, name, []))
    plan = plan_fixes(scan_project(root), [finding], include_review=True)
    assert plan.is_empty and not plan.fixes
    assert plan.skipped == [(finding, "the fix would use `Task` in app/main.py, which that file does not import or define")]


# -- the real codemods on apps where they once wrote broken code: whatever they do now, the plan
#    never carries a new undefined name (checked with pyflakes directly, not through check.py) ------

APPS_THAT_BROKE = {
    "flask app object named like its module": {
        "app.py": "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/items')\ndef items():\n    return []\n",
    },
    "settings object created below the app": {
        "app/__init__.py": "",
        "app/settings.py": "from pydantic_settings import BaseSettings\nclass Settings(BaseSettings):\n    smtp_port: int = 587\n",
        "app/main.py": "from fastapi import FastAPI\nfrom app.settings import Settings\napp = FastAPI()\nsettings = Settings()\n",
    },
    "create_all at start-up": {
        "app.py": "from fastapi import FastAPI\nfrom db import Base, engine\nBase.metadata.create_all(bind=engine)\napp = FastAPI()\n@app.get('/')\ndef index():\n    return {}\n",
    },
}


@pytest.mark.parametrize("name", sorted(APPS_THAT_BROKE))
def test_no_plan_adds_an_undefined_name(name, tmp_path):
    import ast
    from collections import Counter

    from pyflakes import messages
    from pyflakes.checker import Checker

    def undefined(text):
        if text is None:
            return Counter()
        found = Checker(ast.parse(text)).messages
        kinds = (messages.UndefinedName, messages.UndefinedLocal)
        return Counter(m.message_args[0] for m in found if isinstance(m, kinds))

    root = write_project(tmp_path / "app", APPS_THAT_BROKE[name])
    plan = plan_fixes(scan_project(root), include_review=True)
    assert plan.fixes or plan.skipped
    for edit in plan.edits:
        if edit.relpath.endswith(".py"):
            assert not undefined(edit.new) - undefined(edit.old), f"{edit.relpath}:\n{edit.new}"
    for _, reason in plan.skipped:
        assert reason and "Traceback" not in reason


def test_a_file_in_newer_grammar_is_left_by_hand_with_the_reason(tmp_path):
    """The scan reads a 3.14 `except A, B:` file, but a fix there cannot be compiled and checked
    by the Python prodready runs on: the finding is handed over with that reason, not a
    misleading "would not compile"."""
    root = write_project(tmp_path, {
        "main.py": (
            "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get('/items')\ndef items():\n"
            "    try:\n        return {'n': int('1')}\n    except ValueError, TypeError:\n        print('bad number')\n        return {}\n"
        ),
    })
    result = scan_project(root)
    prints = [f for f in result.findings if f.rule == "PR502"]
    assert prints, [f.rule for f in result.findings]
    plan = plan_fixes(result, prints)
    assert not plan.fixes
    reasons = " ".join(str(skip) for skip in plan.skipped)
    assert "written for a newer Python than Python 3." in reasons and "would not compile" not in reasons

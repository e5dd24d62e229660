"""Code that fixes generate reads its settings the project's way, so applying fixes never adds a
finding: through the project's pydantic Settings object when it has one (the field is added to
the class), else from the one module that reads the environment. The env files list every
variable the plan's own code reads, once, and an existing file is completed, not duplicated."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from fixers import apply_plan, plan_fixes
from fixers.pipeline.workspace import Workspace
from tests.fixers.roundtrip import read, run_python
from tests.helpers import FIXTURES, scan_project, write_project

SETTINGS_APP = {
    "app/__init__.py": "",
    "app/core/__init__.py": "",
    "app/core/config.py": '''
"""The app's settings."""

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env")

    database_url: str = "sqlite:///./shop.db"
    environment: str = "development"


settings = Settings()
''',
    "app/main.py": '''
import os

from fastapi import FastAPI
from pydantic import BaseModel

from app.core.config import settings

app = FastAPI(title="shop")
WORKERS = int(os.getenv("WEB_CONCURRENCY", "2"))


class Credentials(BaseModel):
    email: str
    password: str


@app.get("/items")
def items():
    return [{"env": settings.environment}]


@app.post("/login")
def login(body: Credentials):
    return {"token": body.email}
''',
    "app/emails.py": '''
import os

SMTP_HOST = os.getenv("SMTP_HOST", "")
''',
    ".env.example": "# Settings\nDATABASE_URL=sqlite:///./shop.db\nENVIRONMENT=development\nSMTP_HOST=\n",
    "tests/__init__.py": "",
    "tests/test_items.py": '''
from fastapi.testclient import TestClient

from app.main import app


def test_items():
    assert TestClient(app).get("/items").json() == [{"env": "development"}]
''',
}


def new_findings(root: Path, include_review: bool):
    """Apply every fix of the chosen kind; the findings the result has that the project had not,
    in the files the fixes changed or created, and the second plan."""
    before = scan_project(root)
    plan = plan_fixes(before, None, include_review=include_review)
    report = apply_plan(plan)
    after = scan_project(root)
    touched = set(report.changed) | set(report.created)
    had = Counter((f.rule, f.path) for f in before.findings)
    has = Counter((f.rule, f.path) for f in after.findings)
    added = [f for f in after.findings if f.path in touched and has[(f.rule, f.path)] > had[(f.rule, f.path)]]
    return plan, added, plan_fixes(after, None, include_review=include_review)


def listed_names(text: str) -> list[str]:
    return re.findall(r"^\s*#?\s*([A-Z_][A-Z0-9_]*)=", text, re.M)


@pytest.mark.parametrize("include_review", [False, True], ids=["safe", "all"])
def test_generated_code_reads_the_project_settings_object(tmp_path, include_review):
    root = write_project(tmp_path, SETTINGS_APP)
    plan, added, again = new_findings(root, include_review)
    assert any(p.finding.rule == "PR501" for p in plan.fixes)
    assert not added, [(f.rule, f.path, f.message) for f in added]
    assert "os.getenv" not in read(root, "app/logging_setup.py")
    # The app module passes the settings; the project's own `environment` field answers for
    # APP_ENV, the missing ones are added to its class.
    main = read(root, "app/main.py")
    assert "configure_logging(\n    level=settings.log_level,\n    fmt=settings.log_format,\n    environment=settings.environment,\n)\n" in main
    config = read(root, "app/core/config.py")
    assert '    environment: str = "development"\n    log_level: str = "INFO"\n    log_format: str = ""\n' in config
    assert config.endswith("\n\n\nsettings = Settings()\n")
    assert "app_env" not in config
    example = read(root, ".env.example")
    assert example.startswith("# Settings\nDATABASE_URL=sqlite:///./shop.db\nENVIRONMENT=development\nSMTP_HOST=\n")
    names = listed_names(example)
    assert len(names) == len(set(names)) and {"LOG_LEVEL", "LOG_FORMAT"} <= set(names)
    if include_review:
        limits = read(root, "app/rate_limit.py")
        assert "settings.login_rate_limit" in limits and "os.getenv" not in limits
        assert "    rate_limit_enabled: bool = True\n" in read(root, "app/core/config.py")
    assert not [p for p in again.fixes if p.finding.rule in {"PR401", "PR420", "PR421"}], again.diff()
    run_python(root, "import logging\nfrom app.main import app\nassert logging.getLogger().level == logging.WARNING", env={"LOG_LEVEL": "warning"})


def test_a_field_of_another_type_is_not_overwritten(tmp_path):
    files = dict(SETTINGS_APP)
    files["app/core/config.py"] = files["app/core/config.py"].replace('    environment: str = "development"\n', '    environment: str = "development"\n    log_level: int = 20\n')
    root = write_project(tmp_path, files)
    ws = Workspace(root, scan_project(root).index)
    from fixers.settings import read_setting
    from fixers.pipeline.workspace import Skip

    with pytest.raises(Skip, match="log_level is declared as int"):
        read_setting(ws, "app/logging_setup.py", "LOG_LEVEL", "INFO")


def test_env_prefix_and_factory(tmp_path):
    root = write_project(
        tmp_path,
        {
            "svc/__init__.py": "",
            "svc/settings.py": (
                "from functools import lru_cache\n\nfrom pydantic_settings import BaseSettings\n\n\n"
                "class AppSettings(BaseSettings):\n    class Config:\n        env_prefix = \"SVC_\"\n\n\n"
                "@lru_cache\ndef get_config() -> AppSettings:\n    return AppSettings()\n"
            ),
            "svc/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
        },
    )
    ws = Workspace(root, scan_project(root).index)
    from fixers.settings import read_setting
    read_ = read_setting(ws, "svc/limits.py", "RATE_LIMIT_ENABLED", True, bool)
    assert (read_.expression, read_.imports, read_.variable) == ("get_config().rate_limit_enabled", (("svc.settings", "get_config"),), "SVC_RATE_LIMIT_ENABLED")
    assert "        env_prefix = \"SVC_\"\n\n    rate_limit_enabled: bool = True\n" in ws.read("svc/settings.py")


def test_without_a_settings_class_reads_go_to_the_config_module(tmp_path):
    root = write_project(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/config.py": 'import os\n\nDATABASE_URL = os.getenv("DATABASE_URL", "")\nSECRET = "x"\n',
            "app/main.py": "from fastapi import FastAPI\n\nfrom app.config import DATABASE_URL\n\napp = FastAPI()\n",
        },
    )
    ws = Workspace(root, scan_project(root).index)
    from fixers.settings import read_setting
    level = read_setting(ws, "app/logging_setup.py", "LOG_LEVEL", "INFO")
    size = read_setting(ws, "app/logging_setup.py", "POOL_SIZE", 5, int)
    assert level.imports == (("app.config", "LOG_LEVEL"),) and size.expression == "POOL_SIZE"
    config = ws.read("app/config.py")
    assert 'DATABASE_URL = os.getenv("DATABASE_URL", "")\nLOG_LEVEL = os.getenv("LOG_LEVEL", "INFO")\nPOOL_SIZE = env_typed("POOL_SIZE", 5, int)\nSECRET = "x"\n' in config
    namespace: dict = {}
    exec(compile(config, "config.py", "exec"), namespace)
    assert namespace["POOL_SIZE"] == 5 and namespace["env_typed"]("X_UNSET_FOR_TEST", 3, int) == 3


def test_a_config_module_that_imports_the_reader_is_not_used(tmp_path):
    root = write_project(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/config.py": 'import os\n\nfrom app import db\n\nURL = os.getenv("URL", "")\n',
            "app/db.py": "import sqlite3\n",
            "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
        },
    )
    ws = Workspace(root, scan_project(root).index)
    from fixers.settings import read_setting
    read_ = read_setting(ws, "app/db.py", "DB_TIMEOUT", 5, int)
    assert read_.imports != (("app.config", "DB_TIMEOUT"),)  # app.config imports app.db: a cycle
    assert "DB_TIMEOUT" not in ws.read("app/config.py")


def test_demo_safe_fixes_add_no_finding_and_list_each_variable_once(tmp_path):
    root = tmp_path / "demo"
    shutil.copytree(FIXTURES / "sloppy_fastapi", root, symlinks=False)
    _, added, again = new_findings(root, include_review=False)
    assert not added, [(f.rule, f.path, f.message) for f in added]
    example = read(root, ".env.example")
    names = listed_names(example)
    assert names.count("APP_ENV") == 1 and len(names) == len(set(names)), example
    assert {"LOG_LEVEL", "LOG_FORMAT", "DATABASE_URL"} <= set(names)
    assert not [p for p in again.fixes if p.finding.rule in {"PR401", "PR420", "PR421"}]
    # The settings object (a review fix) then takes every read of the config module, typed ones
    # included, and the typed-read helper goes with them.
    review = plan_fixes(scan_project(root), None, include_review=True)
    assert not [(f.rule, f.path, why) for f, why in review.skipped if f.rule == "PR401"]
    config = next(e.new for e in review.edits if e.relpath == "app/config.py")
    assert "env_typed" not in config and "DB_POOL_SIZE = get_settings().db_pool_size\n" in config


def test_generated_settings_in_a_project_that_read_none_come_with_an_env_example(tmp_path):
    """The plan's own code is the first to read settings: the next scan must not ask for a
    .env.example (PR420) the first run could have written."""
    root = write_project(tmp_path, {"app/__init__.py": "", "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n@app.get('/')\ndef index():\n    return {}\n"})
    plan, added, again = new_findings(root, include_review=False)
    assert any(p.finding.rule == "PR501" for p in plan.fixes)
    assert not added, [(f.rule, f.path, f.message) for f in added]
    assert not [p for p in again.fixes if p.finding.rule == "PR420"]
    names = listed_names(read(root, ".env.example"))
    assert {"APP_ENV", "LOG_LEVEL", "LOG_FORMAT"} <= set(names) and len(names) == len(set(names))


def test_an_existing_env_file_is_completed_not_rewritten(tmp_path):
    original = "# Local settings\nexport DATABASE_URL=postgresql://localhost/app\n# LOG_LEVEL=DEBUG\n"
    files = {
        "app/__init__.py": "",
        "app/main.py": 'import os\n\nfrom fastapi import FastAPI\n\nDATABASE_URL = os.getenv("DATABASE_URL", "")\napp = FastAPI()\n',
        ".env.sample": original,
    }
    root = write_project(tmp_path, files)
    plan, added, _ = new_findings(root, include_review=False)
    assert not added
    text = read(root, ".env.sample")
    assert text.startswith(original)
    names = listed_names(text.replace("export ", ""))
    assert names.count("LOG_LEVEL") == 1 and names.count("DATABASE_URL") == 1 and "LOG_FORMAT" in names
    assert not (root / ".env.example").exists()


def test_when_only_the_app_module_reads_the_environment_it_passes_the_logging_settings(tmp_path):
    """The module that creates the app is the only one reading settings: the logging module
    cannot read them from there (the app imports it: a circular import) nor read the
    environment itself (a second module reading it), so the app passes them in."""
    files = {
        "app/__init__.py": "",
        "app/main.py": 'import os\n\nfrom fastapi import FastAPI\n\nDATABASE_URL = os.getenv("DATABASE_URL", "")\napp = FastAPI()\n\n\n@app.get("/")\ndef index():\n    return {}\n',
        ".env.example": "DATABASE_URL=\n",
    }
    root = write_project(tmp_path, files)
    plan, added, _ = new_findings(root, include_review=False)
    assert any(p.finding.rule == "PR501" for p in plan.fixes), plan.skipped
    assert not added, [(f.rule, f.path, f.message) for f in added]
    assert "from app" not in read(root, "app/logging_setup.py").split('"""')[2]
    assert 'level=os.getenv("LOG_LEVEL", "INFO")' in read(root, "app/main.py")
    run_python(root, "import logging\nimport app.main\nassert logging.getLogger().level == logging.ERROR", env={"LOG_LEVEL": "error"})

"""Secrets and debug codemods: secrets read through settings that fail closed outside
development, debug/reload switches read from the environment."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.fixers.roundtrip import fix_project, plan_fixes, read, run_python, scan_project, write_project

FASTAPI_FILES = {
    "app/__init__.py": "",
    "app/config.py": """
import os

SECRET_KEY = "supersecret123"
PAYMENT_API_KEY = os.getenv("PAYMENT_API_KEY", "sk_test_51HqLyjWDarjtT1zdp7dc")
""",
    "app/main.py": """
import os

import uvicorn
from fastapi import FastAPI

from app.config import SECRET_KEY

app = FastAPI(title="shop", debug=True)


@app.get("/")
def index():
    return {"signed": bool(SECRET_KEY)}


if __name__ == "__main__":
    uvicorn.run("app.main:app", reload=True)
""",
}


def test_fastapi_secrets_and_debug(tmp_path):
    root, _, _ = fix_project(tmp_path, FASTAPI_FILES, {"PR220", "PR221", "PR222"})
    config = read(root, "app/config.py")
    assert "SECRET_KEY = get_settings().secret_key" in config
    assert "PAYMENT_API_KEY = get_settings().payment_api_key" in config
    assert "sk_test" not in config and "supersecret" not in config
    settings = read(root, "app/settings.py")
    assert "    secret_key: str = dev_default(random_secret=True)\n" in settings
    assert "    payment_api_key: str = dev_default(random_secret=True)\n" in settings
    main = read(root, "app/main.py")
    # The switches are read the way the fixed app reads its settings: through its Settings object.
    assert 'app = FastAPI(title="shop", debug=get_settings().debug)' in main
    assert 'uvicorn.run("app.main:app", reload=get_settings().reload)' in main
    settings = read(root, "app/settings.py")
    assert "    debug: bool = False\n" in settings and "    reload: bool = False\n" in settings
    # Development runs with a random key; production refuses to start without the variables.
    run_python(root, "from app.config import SECRET_KEY; assert len(SECRET_KEY) > 30")
    failed = subprocess.run([sys.executable, "-c", "import app.config"], cwd=root, capture_output=True, text=True, env={"APP_ENV": "production", "PATH": ""})
    assert failed.returncode != 0 and "SECRET_KEY" in failed.stderr and "PAYMENT_API_KEY" in failed.stderr
    run_python(root, "from app.config import SECRET_KEY; assert SECRET_KEY == 'from-env'", env={"APP_ENV": "production", "SECRET_KEY": "from-env", "PAYMENT_API_KEY": "k"})


FLASK_FILES = {
    "app/__init__.py": """
from flask import Flask


def create_app():
    app = Flask(__name__)
    app.secret_key = "dev-secret"
    app.config["DEBUG"] = True
    return app
""",
    "run.py": """
from app import create_app

app = create_app()

if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000, debug=True)
""",
}


def test_flask_secret_key_and_debug(tmp_path):
    root, _, _ = fix_project(tmp_path, FLASK_FILES, {"PR220", "PR222"})
    init = read(root, "app/__init__.py")
    assert "app.secret_key = get_settings().secret_key" in init
    assert 'app.config["DEBUG"] = get_settings().flask_debug' in init
    assert 'app.run(host="0.0.0.0", port=5000, debug=get_settings().flask_debug)' in read(root, "run.py")
    run_python(root, "from app import create_app; app = create_app(); assert app.secret_key and not app.debug")
    run_python(root, "from app import create_app; assert create_app().debug", env={"FLASK_DEBUG": "1"})


def test_project_settings_class_gets_a_development_only_secret(tmp_path):
    """Removing the default outright stopped the app's tests and `alembic upgrade head` on every
    machine without the secret set: the class now keeps a random default for development and
    refuses to start without the real secret anywhere else."""
    files = {
        "app/settings.py": (
            "from pydantic import SecretStr\nfrom pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n"
            "    jwt_secret: str = 'change-me'\n    api_key: SecretStr = SecretStr('sk-live-abc')\n    algorithm: str = 'HS256'\n\n\nsettings = Settings()\n"
        ),
        "app/main.py": "from fastapi import FastAPI\n\nfrom app.settings import settings\n\napp = FastAPI()\n",
    }
    root, plan, _ = fix_project(tmp_path, files, {"PR221"})
    text = read(root, "app/settings.py")
    assert "'change-me'" not in text and "sk-live-abc" not in text
    assert '    app_env: str = "development"' in text
    # development (and tests): starts, one value per process, the SecretStr still a SecretStr
    run_python(root, (
        "from app.settings import Settings, settings\n"
        "assert len(settings.jwt_secret) >= 32 and settings.jwt_secret == Settings().jwt_secret\n"
        "assert len(settings.api_key.get_secret_value()) >= 32\n"
        "assert settings.algorithm == 'HS256'\n"
    ))
    refused = subprocess.run(
        [sys.executable, "-c", "import app.main"], cwd=root, capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(root), "APP_ENV": "production"},
    )
    assert refused.returncode != 0 and "APP_ENV=production needs JWT_SECRET, API_KEY set" in refused.stderr
    run_python(root, "from app.settings import settings; assert settings.jwt_secret == 'real'", env={"APP_ENV": "production", "JWT_SECRET": "real", "API_KEY": "k"})


def test_settings_class_whose_environment_defaults_to_production_is_left_by_hand(tmp_path):
    files = {
        "app/settings.py": (
            "from pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n"
            "    environment: str = 'production'\n    jwt_secret: str = 'change-me'\n"
        ),
        "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
    }
    scan = scan_project(write_project(tmp_path, files))
    plan = plan_fixes(scan, [f for f in scan.findings if f.rule == "PR221"], include_review=True)
    assert not plan.fixes and plan.is_empty
    assert any("environment field defaults to something other than development" in str(skip) for skip in plan.skipped)


def test_a_flask_config_class_gets_a_random_fallback_and_no_new_dependency(tmp_path):
    """flasky's `SECRET_KEY = os.environ.get('SECRET_KEY') or 'hard to guess string'`: moving it to
    a pydantic Settings module brought a dependency its pinned environment could not install. In
    a plain config class the literal becomes a random value instead."""
    files = {
        "config.py": (
            "import os\n\n\nclass Config:\n    SECRET_KEY = os.environ.get('SECRET_KEY') or 'hard to guess string'\n"
            "    API_TOKEN = os.getenv('API_TOKEN', 'dev-token-123')\n"
        ),
        "app.py": "from flask import Flask\n\nfrom config import Config\n\napp = Flask(__name__)\napp.config.from_object(Config)\n",
    }
    root, plan, _ = fix_project(tmp_path, files, {"PR221"})
    config = read(root, "config.py")
    assert "SECRET_KEY = os.environ.get('SECRET_KEY') or secrets.token_hex(32)" in config
    assert "API_TOKEN = os.getenv('API_TOKEN') or secrets.token_hex(32)" in config
    assert "import secrets" in config and not plan.dependencies
    run_python(root, "from app import app; assert len(app.config['SECRET_KEY']) == 64")
    run_python(root, "from app import app; assert app.config['SECRET_KEY'] == 'real'", env={"SECRET_KEY": "real"})

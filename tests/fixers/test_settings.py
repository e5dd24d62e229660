"""One settings object from the environment reads the app scatters over its modules."""

from __future__ import annotations

import subprocess
import sys

from tests.fixers.roundtrip import fix_project, read, run_python

FILES = {
    "app/__init__.py": "",
    "app/config.py": """
import os

DATABASE_URL = os.getenv("DATABASE_URL", "postgresql://postgres:postgres@localhost:5432/shop")
FRONTEND_URL = os.getenv("FRONTEND_URL", "http://localhost:3000")
""",
    "app/emails.py": """
import os

SMTP_HOST = os.getenv("SMTP_HOST")
SMTP_PORT = int(os.getenv("SMTP_PORT", "587"))


def sender():
    return os.environ.get("EMAIL_FROM", "no-reply@shop.test")
""",
    "app/main.py": """
import os

from fastapi import FastAPI

REMINDER_INTERVAL = int(os.getenv("REMINDER_INTERVAL_SECONDS", "300"))
app = FastAPI()


@app.post("/hooks/payments")
def hook():
    secret = os.environ["WEBHOOK_SECRET"]
    return {"ok": bool(secret)}
""",
}


def test_scattered_reads_become_one_settings_class(tmp_path):
    root, _, _ = fix_project(tmp_path, FILES, {"PR401", "PR402", "PR410"})
    settings = read(root, "app/settings.py")
    for line in (
        "    database_url: str\n",
        '    frontend_url: str = dev_default("http://localhost:3000")\n',
        "    smtp_host: str | None = None\n",
        "    smtp_port: int = 587\n",
        '    email_from: str = "no-reply@shop.test"\n',
        "    reminder_interval_seconds: int = 300\n",
        "    webhook_secret: str\n",
    ):
        assert line in settings
    assert read(root, "app/emails.py") == (
        "from app.settings import get_settings\n\nSMTP_HOST = get_settings().smtp_host\nSMTP_PORT = get_settings().smtp_port\n\n\n"
        "def sender():\n    return get_settings().email_from\n"
    )
    assert "secret = get_settings().webhook_secret" in read(root, "app/main.py")
    assert "postgresql://" not in read(root, "app/config.py")
    env = {"DATABASE_URL": "sqlite://", "WEBHOOK_SECRET": "s", "SMTP_PORT": "2525"}
    run_python(root, "from app.emails import SMTP_PORT; assert SMTP_PORT == 2525", env=env)
    bad = subprocess.run([sys.executable, "-c", "import app.emails"], cwd=root, capture_output=True, text=True, env={**env, "SMTP_PORT": "lots", "PATH": ""})
    assert bad.returncode != 0 and "smtp_port" in bad.stderr  # a malformed value stops the start, by name
    missing = subprocess.run([sys.executable, "-c", "import app.config"], cwd=root, capture_output=True, text=True, env={"WEBHOOK_SECRET": "s", "PATH": ""})
    assert missing.returncode != 0 and "database_url" in missing.stderr


def test_flask_factory_reads(tmp_path):
    files = {
        "app/__init__.py": """
import os

from flask import Flask


def create_app():
    app = Flask(__name__)
    app.config["PAGE_SIZE"] = int(os.environ.get("PAGE_SIZE", "50"))
    app.config["DATABASE"] = os.environ.get("DATABASE_PATH", "shop.db")
    return app
""",
    }
    root, _, _ = fix_project(tmp_path, files, {"PR401", "PR410"})
    init = read(root, "app/__init__.py")
    assert 'app.config["PAGE_SIZE"] = get_settings().page_size' in init
    assert '    database_path: str = dev_default("shop.db")\n' in read(root, "app/settings.py")
    run_python(root, "from app import create_app; a = create_app(); assert a.config['PAGE_SIZE'] == 50 and a.config['DATABASE'] == 'shop.db'")
    failed = subprocess.run([sys.executable, "-c", "from app import create_app; create_app()"], cwd=root, capture_output=True, text=True, env={"APP_ENV": "staging", "PATH": ""})
    assert failed.returncode != 0 and "DATABASE_PATH" in failed.stderr

"""PR521: SQL echo switched on in every environment."""

from __future__ import annotations

import pytest

from tests.helpers import scan_example, scan_project, write_project


def findings(tmp_path, example):
    result = scan_example(tmp_path, example, select=["PR521"])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == "PR521"]


ALWAYS_ON = {
    "engine-module": {
        "app/__init__.py": "",
        "app/database.py": "from sqlalchemy import create_engine\nfrom sqlalchemy.orm import sessionmaker\n"
        "from app.config import settings\nengine = create_engine(settings.database_url, echo=True)\nSessionLocal = sessionmaker(bind=engine)\n",
    },
    "sqlmodel": "from sqlmodel import create_engine\nengine = create_engine('sqlite:///db.sqlite3', echo=True)\n",
    "flask-config-update": "from flask import Flask\napp = Flask(__name__)\napp.config.update(SQLALCHEMY_DATABASE_URI='sqlite://', SQLALCHEMY_ECHO=True)\n",
    "base-config-class": "class Config:\n    SQLALCHEMY_ECHO = True\nclass ProductionConfig(Config):\n    pass\n",
    "flask-config-module": {"config.py": "SQLALCHEMY_DATABASE_URI = 'sqlite:///app.db'\nSQLALCHEMY_ECHO = True\n"},
    "engine-attribute": "from sqlalchemy import create_engine\nengine = create_engine('sqlite://')\nengine.echo = True\n",
}


@pytest.mark.parametrize("example", ALWAYS_ON.values(), ids=ALWAYS_ON.keys())
def test_echo_on_in_every_environment_is_reported(tmp_path, example):
    (finding,) = findings(tmp_path, example)
    assert "every environment" in finding.message and finding.step.value == "logging"


DEV_ONLY = {
    "tied-to-a-setting": "from sqlalchemy import create_engine\nfrom app.config import settings\nengine = create_engine(settings.database_url, echo=settings.debug)\n",
    "inside-if-debug": "import os\nfrom sqlalchemy import create_engine\nif os.getenv('APP_ENV') == 'development':\n    engine = create_engine('sqlite://', echo=True)\n",
    "development-config-class": "class Config:\n    SQLALCHEMY_ECHO = False\nclass DevelopmentConfig(Config):\n    SQLALCHEMY_ECHO = True\n",
    "echo-off": "from sqlalchemy import create_engine\nengine = create_engine('sqlite://', echo=False)\n",
    "a-constant-outside-config": "SQLALCHEMY_ECHO = True  # a name in some module, not the app's config\n",
    "a-script": {"scripts/inspect_db.py": "from sqlalchemy import create_engine\nengine = create_engine('sqlite:///app.db', echo=True)\n"},
}


@pytest.mark.parametrize("example", DEV_ONLY.values(), ids=DEV_ONLY.keys())
def test_echo_for_development_only_is_fine(tmp_path, example):
    assert findings(tmp_path, example) == []


def test_plain_text_logs_point_at_the_handler_a_log_service_reads(tmp_path):
    """flasky mails errors to its admins (text, read by people) and streams logs on Heroku: the
    finding points at the stream handler, not at the mail one."""
    app = (
        "import logging\nfrom logging.handlers import SMTPHandler\nfrom flask import Flask\n\napp = Flask(__name__)\n"
        "mail_handler = SMTPHandler(mailhost='smtp', fromaddr='a@x.io', toaddrs=['b@x.io'], subject='error')\n"
        "app.logger.addHandler(mail_handler)\n"
        "stream_handler = logging.StreamHandler()\napp.logger.addHandler(stream_handler)\n\n\n"
        "@app.route('/')\ndef index():\n    return 'ok'\n"
    )
    result = scan_project(write_project(tmp_path, {"app.py": app}), select=["PR503"])
    assert [(f.rule, f.line) for f in result.findings] == [("PR503", 9)]

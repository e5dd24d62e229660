"""Step 4 rules beyond their own examples."""

from __future__ import annotations

import pytest

from auditor.models import Severity
from tests.helpers import scan_example

STAGING = ["PR401", "PR402", "PR410", "PR411", "PR420", "PR421", "PR422", "PR430", "PR431"]
APP = "from fastapi import FastAPI\napp = FastAPI()\n"


def findings(tmp_path, example, code):
    result = scan_example(tmp_path, example, select=[code])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == code]


def test_no_staging_rule_speaks_about_a_project_without_a_web_app(tmp_path):
    project = {
        "lib/config.py": "import os\nURL = os.getenv('DATABASE_URL', 'sqlite:///x.db')\nPORT = int(os.environ['PORT'])\nAPI_TOKEN = os.getenv('API_TOKEN')\n",
        "lib/other.py": "import os\nHOME = os.getenv('HOME', 'http://localhost')\n",
    }
    result = scan_example(tmp_path, project, select=STAGING)
    assert result.findings == []


def test_env_reads_in_the_settings_module_and_tests_do_not_count(tmp_path):
    project = {
        "app/settings.py": "import os\nfrom pydantic_settings import BaseSettings\nclass Settings(BaseSettings):\n    url: str = os.getenv('LEGACY_URL', '')\n",
        "app/main.py": APP + "import os\nDEBUG = os.getenv('DEBUG', '')\n",
        "tests/conftest.py": "import os\nos.environ.setdefault('X', '1')\nY = os.getenv('Y')\n",
    }
    assert findings(tmp_path, project, "PR401") == []


def test_hand_parsed_setting_in_one_module_is_reported(tmp_path):
    project = {"app/main.py": APP + "import os\nWORKERS = int(os.getenv('WORKERS', '4'))\n"}
    (finding,) = findings(tmp_path, project, "PR401")
    assert finding.severity == Severity.MEDIUM and "int()" in finding.message


def test_required_settings_read_at_startup_are_fine(tmp_path):
    source = APP + (
        "import os\nfrom functools import lru_cache\n"
        "def get_settings():\n    return {'secret': os.environ['SECRET_KEY']}\n"
        "@lru_cache\ndef database_url():\n    return os.environ['DATABASE_URL']\n"
        "def verify(sig):\n    return sig == os.environ['WEBHOOK_SECRET']\n"
        "@app.post('/hook')\ndef hook(sig: str):\n    return verify(sig)\n"
    )
    found = findings(tmp_path, source, "PR402")
    assert [f.line for f in found] == [11] and "WEBHOOK_SECRET" in found[0].message


def test_env_reads_in_helper_modules_without_routes_are_left_to_startup(tmp_path):
    project = {
        "app/__init__.py": "",
        "app/db.py": "import os\ndef database_url():\n    return os.environ['DATABASE_URL']\n",
        "app/main.py": APP + "@app.get('/')\ndef index():\n    return {}\n",
    }
    assert findings(tmp_path, project, "PR402") == []


def test_database_url_message_masks_the_password(tmp_path):
    source = APP + "import os\nURL = os.getenv('DATABASE_URL', 'postgresql://app:hunter2@db.internal/app')\n"
    (finding,) = findings(tmp_path, source, "PR410")
    assert "hunter2" not in finding.message and "***" in finding.message


def test_database_url_literal_found_by_the_index(tmp_path):
    """The index records database URLs written in code (a fact added for PR410/PR411)."""
    result = scan_example(tmp_path, APP + "from sqlalchemy import create_engine\nengine = create_engine('mysql+pymysql://u@h/db')\n", select=["PR410"])
    assert result.index.modules["app.py"].url_literals == [(4, "mysql+pymysql://u@h/db")]
    assert [f.line for f in result.findings] == [4]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"requirements.txt": "fastapi\nasyncpg\n"}, 1),
        ({"pyproject.toml": "[project]\ndependencies = ['psycopg[binary]']\n"}, 1),
        ({"requirements.txt": "fastapi\n"}, 0),
    ],
)
def test_server_database_detected_from_requirements(tmp_path, extra, expected):
    project = {"app/main.py": APP + "import os\nURL = os.getenv('DATABASE_URL', 'sqlite:///dev.db')\n", **extra}
    assert len(findings(tmp_path, project, "PR411")) == expected


def test_env_sample_at_the_root_counts_as_an_example(tmp_path):
    project = {".env.sample": "DATABASE_URL=\n", "app/main.py": APP + "import os\nURL = os.getenv('DATABASE_URL', '')\n"}
    assert findings(tmp_path, project, "PR420") == []


def test_environment_switch_in_settings_or_files(tmp_path):
    with_file = {"deploy/production.yaml": "replicas: 2\n", "app/main.py": APP}
    assert findings(tmp_path / "a", with_file, "PR421") == []
    with_var = {"app/main.py": APP + "import os\nSTAGE = os.getenv('DEPLOYMENT_ENV', 'dev')\n"}
    assert findings(tmp_path / "b", with_var, "PR421") == []


def test_docs_options_passed_through_kwargs_are_not_judged(tmp_path):
    source = "from fastapi import FastAPI\nOPTIONS = {'docs_url': None}\napp = FastAPI(**OPTIONS)\n"
    assert findings(tmp_path, source, "PR422") == []


def test_docs_kept_but_schema_turned_off_per_environment(tmp_path):
    source = "from fastapi import FastAPI\nPROD = True\napp = FastAPI(openapi_url=None if PROD else '/openapi.json')\n"
    assert findings(tmp_path, source, "PR422") == []


def test_failure_path_kinds(tmp_path):
    app = "import jwt\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.post('/a')\ndef a():\n    return {}\n"
    tests = (
        "def test_blank(client):\n    assert client.post('/a', json={}).status_code == 422\n"
        "def test_dup(client):\n    assert client.post('/a').status_code == 409\n"
    )
    # jwt is used, so expired tokens count as a kind: missing expired tokens and concurrency.
    (finding,) = findings(tmp_path / "a", {"app/main.py": app, "tests/test_a.py": tests}, "PR431")
    assert "expired tokens" in finding.message and "concurrent requests" in finding.message
    tests += "def test_expired(client):\n    assert client.get('/a', headers=expired_token()).status_code == 401\n"
    assert findings(tmp_path / "b", {"app/main.py": app, "tests/test_a.py": tests}, "PR431") == []


def test_health_route_under_a_prefix(tmp_path):
    project = {
        "app/main.py": "from fastapi import FastAPI\nfrom app.meta import router\napp = FastAPI()\napp.include_router(router, prefix='/api')\n",
        "app/meta.py": "from fastapi import APIRouter\nrouter = APIRouter()\n@router.get('/healthz')\ndef hz():\n    return {}\n",
        "app/__init__.py": "",
    }
    assert findings(tmp_path, project, "PR430") == []


def test_database_settings_that_are_not_locations(tmp_path):
    source = APP + "import os\nPORT = os.getenv('DB_PORT', '5432')\nNAME = os.getenv('DB_NAME', 'app')\nURL = os.getenv('DATABASE_URL', 'sqlite:///app.db')\n"
    assert [f.line for f in findings(tmp_path, source, "PR410")] == [6]

"""PR220 weak placeholder secrets and PR223 CORS in every common spelling, with what the fix does."""

from __future__ import annotations

import pytest

from fixers.pipeline.plan import plan_fixes
from tests.helpers import scan_example, scan_project, write_project

FASTAPI = "from fastapi import FastAPI\nfrom fastapi.middleware.cors import CORSMiddleware\napp = FastAPI()\n"
FLASK = "from flask import Flask, request\nfrom flask_cors import CORS\napp = Flask(__name__)\n"


def findings(tmp_path, example, code):
    result = scan_example(tmp_path, example, select=[code])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == code]


# -- PR220: weak placeholder secrets -----------------------------------------------------------------

WEAK = {
    "repeated-letter": "SECRET_KEY = 'aaaaaaa'\n",
    "changeme": "from flask import Flask\napp = Flask(__name__)\napp.secret_key = 'changeme'\n",
    "the-word-secret": "from flask import Flask\napp = Flask(__name__)\napp.config['SECRET_KEY'] = 'secret'\n",
    "jwt-key-literal": "import jwt\ndef token(payload):\n    return jwt.encode(payload, 'secret', algorithm='HS256')\n",
    "short": "JWT_SECRET = 'k3y!'\n",
    "low-entropy": "SECRET_KEY = 'abababababababababab'\n",
}


@pytest.mark.parametrize("source", WEAK.values(), ids=WEAK.keys())
def test_weak_placeholder_secrets_are_reported_as_weak(tmp_path, source):
    (finding,) = findings(tmp_path, source, "PR220")
    assert "weak placeholder" in finding.message and "easy to guess" in finding.message


def test_a_long_random_literal_is_hard_coded_but_not_called_weak(tmp_path):
    (finding,) = findings(tmp_path, "SECRET_KEY = 'f3a9c1e07b2d4c88a61e5f9d0b3c7a2e'\n", "PR220")
    assert "weak" not in finding.message and "hard-coded" in finding.message


NOT_SECRETS = {
    "env-var-name": "SECRET_KEY_ENV = 'SECRET_KEY'\nSECRET_KEY_NAME = 'APP_SECRET'\n",
    "password-label": "PASSWORD_FIELD = 'password'\nlabel = {'password': 'Password'}\n",
    "mask-in-a-response": "def show():\n    return {'password': '********'}\n",
    "read-from-env": "import os\nSECRET_KEY = os.environ['SECRET_KEY']\n",
    "test-file": {"tests/conftest.py": "SECRET_KEY = 'secret'\n"},
    "display-label-in-a-response": "import json\ndef changed():\n    return json.dumps({'status': 'success', 'Password': 'Updated.'})\n",
}


@pytest.mark.parametrize("source", NOT_SECRETS.values(), ids=NOT_SECRETS.keys())
def test_names_labels_masks_and_tests_are_not_secrets(tmp_path, source):
    assert findings(tmp_path, source, "PR220") == []


# -- PR223: CORS open to every origin with credentials -----------------------------------------------

OPEN = {
    "fastapi-origins-in-a-variable": FASTAPI + "origins = ['*']\napp.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=True)\n",
    "starlette-wrapping-the-app": FASTAPI + "asgi = CORSMiddleware(app, allow_origins=['*'], allow_credentials=True)\n",
    "flask-cors-default-origins": FLASK + "CORS(app, supports_credentials=True)\n",
    "flask-cors-init-app": "from flask import Flask\nfrom flask_cors import CORS\ncors = CORS()\n"
    "def create_app():\n    app = Flask(__name__)\n    cors.init_app(app, supports_credentials=True)\n    return app\n",
    "flask-cors-credentials-in-config": FLASK + "app.config['CORS_SUPPORTS_CREDENTIALS'] = True\nCORS(app)\n",
    "hand-written-echo-of-origin": FLASK + "@app.after_request\ndef cors(resp):\n"
    "    resp.headers['Access-Control-Allow-Origin'] = request.headers.get('Origin', '*')\n"
    "    resp.headers['Access-Control-Allow-Credentials'] = 'true'\n    return resp\n",
}


@pytest.mark.parametrize("source", OPEN.values(), ids=OPEN.keys())
def test_cors_open_with_credentials_in_every_spelling(tmp_path, source):
    assert len(findings(tmp_path, source, "PR223")) == 1


CLOSED = {
    "config-lists-origins": FLASK + "app.config['CORS_SUPPORTS_CREDENTIALS'] = True\napp.config['CORS_ORIGINS'] = ['https://app.example.com']\nCORS(app)\n",
    "no-credentials": FLASK + "CORS(app)\n",
    "variable-lists-origins": FASTAPI + "origins = ['https://app.example.com']\napp.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=True)\n",
    "echo-without-credentials": FLASK + "@app.after_request\ndef cors(resp):\n"
    "    resp.headers['Access-Control-Allow-Origin'] = request.headers.get('Origin', '*')\n    return resp\n",
}


@pytest.mark.parametrize("source", CLOSED.values(), ids=CLOSED.keys())
def test_cors_with_a_list_or_without_credentials_is_fine(tmp_path, source):
    assert findings(tmp_path, source, "PR223") == []


def plan_for(tmp_path, source):
    root = write_project(tmp_path, source)
    result = scan_project(root, select=["PR223"])
    return plan_fixes(result, result.findings, include_review=True)


def test_cors_in_a_variable_and_an_echoed_origin_are_left_by_hand(tmp_path):
    for name in ("fastapi-origins-in-a-variable", "hand-written-echo-of-origin"):
        plan = plan_for(tmp_path / name, OPEN[name])
        assert not plan.fixes and len(plan.skipped) == 1
        assert plan.skipped[0][1].startswith("by hand:"), plan.skipped


def test_flask_cors_init_app_gets_origins_not_starlettes_keyword(tmp_path):
    plan = plan_for(tmp_path, OPEN["flask-cors-init-app"])
    diff = plan.diff()
    assert "origins=" in diff and "allow_origins" not in diff

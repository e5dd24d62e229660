"""Step 5 rules beyond their own examples, and what counts as web-app code."""

from __future__ import annotations

import pytest

from auditor.rules.webapp import is_test_or_script
from tests.helpers import scan_example


def findings(tmp_path, example, code):
    result = scan_example(tmp_path, example, select=[code])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == code]


@pytest.mark.parametrize(
    ("relpath", "expected"),
    [
        ("tests/test_api.py", True),
        ("app/tests/helpers.py", True),
        ("conftest.py", True),
        ("migrations/versions/0001_initial.py", True),
        ("pkg/idle_test/test_x.py", True),
        ("app/latest_orders.py", False),  # "test_" inside a word is not a test
        ("app/contest.py", False),
        ("app/tasks.py", False),
        ("app/routers/testimonials.py", False),
    ],
)
def test_what_is_a_test_or_script(relpath, expected):
    assert is_test_or_script(relpath) is expected


def test_print_in_a_module_named_like_a_test_word(tmp_path):
    project = {"app/latest_orders.py": "from fastapi import APIRouter\ndef f():\n    print('x')\n"}
    assert len(findings(tmp_path, project, "PR502")) == 1


def test_logging_configured_in_a_helper_module_counts(tmp_path):
    project = {
        "app/__init__.py": "",
        "app/log.py": "import logging\nimport logging.config\ndef setup():\n    logging.config.dictConfig({'version': 1})\n",
        "app/main.py": "from fastapi import FastAPI\nfrom app.log import setup\nsetup()\napp = FastAPI()\n",
    }
    assert findings(tmp_path, project, "PR501") == []


def test_logging_only_in_tests_does_not_count(tmp_path):
    project = {
        "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        "tests/conftest.py": "import logging\nlogging.basicConfig(level=logging.DEBUG)\n",
    }
    assert len(findings(tmp_path, project, "PR501")) == 1


def test_handlers_added_by_hand_are_a_logging_setup(tmp_path):
    """addHandler/setFormatter calls are recorded as logging setup by the index."""
    source = "import logging, sys\nfrom fastapi import FastAPI\nroot = logging.getLogger()\nh = logging.StreamHandler(sys.stdout)\nroot.addHandler(h)\napp = FastAPI()\n"
    result = scan_example(tmp_path, source, select=["PR501"])
    assert [s.func.rpartition(".")[2] for _, s in result.index.logging_setup] == ["addHandler"]
    assert result.findings == []


def test_key_value_format_is_structured_enough(tmp_path):
    source = "import logging\nfrom fastapi import FastAPI\nlogging.basicConfig(format='level=%(levelname)s msg=%(message)s')\napp = FastAPI()\n"
    assert findings(tmp_path, source, "PR503") == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("    except Exception:\n        pass\n", 1),
        ("    except Exception:\n        return []\n", 1),
        ("    except (ValueError, Exception):\n        db.rollback()\n", 1),
        ("    except Exception as e:\n        errors.append(e)\n", 0),  # kept for later
        ("    except Exception:\n        fallback = compute()\n", 0),  # a fallback value
        ("    except Exception:\n        log.warning('retrying')\n", 0),
        ("    except KeyError:\n        pass\n", 0),
        ("    except Exception:\n        raise RuntimeError('load failed')\n", 0),
    ],
)
def test_what_counts_as_swallowing(tmp_path, body, expected):
    source = "from fastapi import FastAPI\ndef load(db, errors):\n    try:\n        work()\n" + body
    assert len(findings(tmp_path, source, "PR510")) == expected


def test_error_logged_with_exc_info_or_after_reraise(tmp_path):
    source = (
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\n"
        "def a():\n    try:\n        g()\n    except Exception as e:\n        logger.error('failed %s', e, exc_info=e)\n"
        "def b():\n    try:\n        g()\n    except Exception as e:\n        logger.critical(repr(e))\n        raise e\n"
        "def c():\n    try:\n        g()\n    except Exception as e:\n        logger.error('failed: %s', e)\n        raise ValueError('x') from e\n"
    )
    found = findings(tmp_path, source, "PR511")
    assert [f.line for f in found] == [19]


def test_request_id_from_a_middleware_class(tmp_path):
    project = {
        "app/__init__.py": "",
        "app/middleware.py": "class CorrelationMiddleware:\n    def __init__(self, app):\n        self.app = app\n",
        "app/main.py": "from fastapi import FastAPI\nfrom app.middleware import CorrelationMiddleware\napp = FastAPI()\napp.add_middleware(CorrelationMiddleware)\n",
    }
    assert findings(tmp_path, project, "PR520") == []


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("logger.info('reset %s', reset_token)", 1),
        ("logger.info('auth', extra={'header': request.headers['Authorization']})", 0),  # a subscript, by design
        ("logger.info('user %s', user.password_hash)", 0),
        ("logger.info('ttl %s', settings.reset_token_ttl_minutes)", 0),
        ("logger.info('type %s', token_type)", 0),
        ("logger.info('key %s', secrets_manager.get(name))", 0),
        ("logger.error('bad login for %s with %s', email, password)", 1),
        ("print('creds', creds.api_key)", 1),
        ("logger.info('length %d', len(token))", 0),
    ],
)
def test_secret_names(tmp_path, call, expected):
    source = f"import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef f(request, user, settings, token_type, reset_token, email, password, creds, name, token):\n    {call}\n"
    assert len(findings(tmp_path, source, "PR530")) == expected


def test_logging_config_file_counts_as_setup(tmp_path):
    project = {"logging.ini": "[loggers]\nkeys=root\n", "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n"}
    assert findings(tmp_path, project, "PR501") == []

"""Logging codemods: print() to a logger (PR502) and the logging setup (PR501)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

from libcst.codemod import CodemodTest

from fixers import apply_plan, plan_fixes
from fixers.logs import PrintToLogger
from tests.fixers.helpers import finding, targets
from tests.helpers import scan_project, write_project


class TestPrintToLogger(CodemodTest):
    TRANSFORM = PrintToLogger

    def check(self, before: str, after: str, *needles: str) -> None:
        self.assertCodemod(before, after, targets=targets(before, "PR502", *needles))
        compile(textwrap.dedent(after), "app.py", "exec")

    def test_fastapi_handler(self):
        before = """
            from fastapi import FastAPI

            app = FastAPI()


            @app.post("/orders")
            def create_order(order_id: int):
                print("creating order", order_id)
                return {}
        """
        after = """
            import logging

            from fastapi import FastAPI

            logger = logging.getLogger(__name__)

            app = FastAPI()


            @app.post("/orders")
            def create_order(order_id: int):
                logger.info("creating order %s", order_id)
                return {}
        """
        self.check(before, after, "print(")

    def test_flask_levels_from_the_words_and_the_place(self):
        before = """
            import sys

            from flask import Flask

            app = Flask(__name__)


            @app.route("/login", methods=["POST"])
            def login():
                print(f"login for {user}")
                print("failed login for", email)
                print("payment api down", file=sys.stderr)
                try:
                    charge()
                except Exception as e:
                    print("charge error:", e)
                return ""
        """
        after = """
            import logging
            import sys

            from flask import Flask

            logger = logging.getLogger(__name__)

            app = Flask(__name__)


            @app.route("/login", methods=["POST"])
            def login():
                logger.info(f"login for {user}")
                logger.warning("failed login for %s", email)
                logger.warning("payment api down")
                try:
                    charge()
                except Exception as e:
                    logger.exception("charge error: %s", e)
                return ""
        """
        self.check(before, after, 'print(f"', 'print("failed', 'print("payment', 'print("charge')

    def test_existing_logger_sep_percent_and_layout_are_kept(self):
        before = """
            import logging

            log = logging.getLogger("shop")


            def report(done, total):
                print("progress: 100%", done, total, sep=" / ")
                print(
                    done,
                    total,
                )
                print("not a finding")
        """
        after = """
            import logging

            log = logging.getLogger("shop")


            def report(done, total):
                log.info("progress: 100%% / %s / %s", done, total)
                log.info(
                    "%s %s",
                    done,
                    total,
                )
                print("not a finding")
        """
        self.check(before, after, 'print("progress', "print(\n")

    def test_prints_it_cannot_translate_are_left_alone(self):
        before = """
            def dump(rows, handle):
                print(*rows)
                print("row", file=handle)
                print()
        """
        self.check(before, before, "print(*", 'print("row', "print()")


def test_skipped_prints_say_why(tmp_path):
    source = "from flask import Flask\ndef dump(rows, handle):\n    print(*rows)\n    print('row', file=handle)\n"
    root = write_project(tmp_path, {"app.py": source})
    plan = plan_fixes(scan_project(root), [finding("PR502", "app.py", 3, 4), finding("PR502", "app.py", 4, 4)])
    assert plan.is_empty
    assert [reason for _, reason in plan.skipped] == [
        "print(*values) cannot become one log message",
        "print(file=...) writes to a file, not to the logs",
    ]


# -- PR501: the logging setup -------------------------------------------------------------------------

FASTAPI_MAIN = """
from fastapi import FastAPI

from app.routes import router

app = FastAPI(title="shop")
app.include_router(router)
"""
FASTAPI_ROUTES = """
import logging

from fastapi import APIRouter

router = APIRouter()
logger = logging.getLogger(__name__)


@router.get("/ping")
def ping():
    logger.info("pinged", extra={"who": "test"})
    return {"ok": True}
"""
FLASK_FACTORY = """
from flask import Flask


def create_app():
    app = Flask(__name__)

    @app.route("/ping")
    def ping():
        app.logger.info("pinged")
        return {"ok": True}

    return app
"""


def set_up(tmp_path, files, entry):
    root = write_project(tmp_path, files)
    result = scan_project(root)
    assert not result.index.logging_setup
    plan = plan_fixes(result, [finding("PR501", entry, 1)])
    assert not plan.skipped, plan.skipped
    apply_plan(plan)
    return root, plan


def run_in(root, code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=root, capture_output=True, text=True, env={"LOG_FORMAT": "json", "PATH": ""}
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_fastapi_logging_setup_is_created_and_wired(tmp_path):
    root, plan = set_up(tmp_path, {"app/__init__.py": "", "app/main.py": FASTAPI_MAIN, "app/routes.py": FASTAPI_ROUTES}, "app/main.py")
    # The app module reads the logging settings (the only module to read any) and passes them;
    # .env.example lists them.
    assert plan.files_changed == [".env.example", "app/logging_setup.py", "app/main.py"]
    main = (root / "app/main.py").read_text()
    # The new import joins the project's imports in their (sorted) order; the call comes after them all.
    assert "import os\n\nfrom fastapi import FastAPI\n" in main
    assert (
        "from app.logging_setup import RequestIdMiddleware, configure_logging\nfrom app.routes import router\n\nconfigure_logging(\n"
        '    level=os.getenv("LOG_LEVEL", "INFO"),\n    fmt=os.getenv("LOG_FORMAT", ""),\n    environment=os.getenv("APP_ENV", "development"),\n)\n'
    ) in main
    assert "os.getenv" not in (root / "app/logging_setup.py").read_text()
    assert 'app = FastAPI(title="shop")\napp.add_middleware(RequestIdMiddleware)\n' in main
    assert scan_project(root).index.logging_setup  # what the no-logging-config rule looks for

    logs = run_in(
        root,
        """
        from fastapi.testclient import TestClient
        from app.main import app
        response = TestClient(app).get("/ping", headers={"X-Request-ID": "req-42"})
        assert response.headers["X-Request-ID"] == "req-42"
        assert TestClient(app).get("/ping", headers={"X-Request-ID": "bad id\\n"}).headers["X-Request-ID"] != "bad id\\n"
        """,
    )
    record = json.loads(next(line for line in logs.splitlines() if "pinged" in line))
    assert record["request_id"] == "req-42" and record["who"] == "test" and record["level"] == "INFO"


def test_flask_factory_logging_setup_is_created_and_wired(tmp_path):
    root, plan = set_up(tmp_path, {"app/__init__.py": FLASK_FACTORY}, "app/__init__.py")
    init = (root / "app/__init__.py").read_text()
    assert 'configure_logging(\n    level=os.getenv("LOG_LEVEL", "INFO"),\n' in init
    assert "    app = Flask(__name__)\n    install_request_id(app)\n" in init
    logs = run_in(
        root,
        """
        from app import create_app
        client = create_app().test_client()
        response = client.get("/ping", headers={"X-Request-ID": "abc"})
        assert response.headers["X-Request-ID"] == "abc"
        assert len(client.get("/ping").headers["X-Request-ID"]) == 32
        """,
    )
    record = json.loads(next(line for line in logs.splitlines() if "pinged" in line))
    assert record["request_id"] == "abc" and record["logger"] == "app"


def test_text_format_outside_production(tmp_path):
    root, _ = set_up(tmp_path, {"app/__init__.py": FLASK_FACTORY}, "app/__init__.py")
    done = subprocess.run(
        [sys.executable, "-c", "import logging, app; logging.getLogger('x').warning('hello')"],
        cwd=root, capture_output=True, text=True, env={"PATH": "", "APP_ENV": "development"},
    )
    assert done.stderr.rstrip().endswith("WARNING  x [-] hello")


def test_second_run_does_not_create_it_again(tmp_path):
    root, _ = set_up(tmp_path, {"app/__init__.py": FLASK_FACTORY}, "app/__init__.py")
    plan = plan_fixes(scan_project(root), [finding("PR501", "app/__init__.py", 1)])
    assert plan.is_empty
    assert "app/logging_setup.py exists already" in plan.skipped[0][1]


def test_no_app_no_setup(tmp_path):
    root = write_project(tmp_path, {"tool.py": "print('hi')\n"})
    plan = plan_fixes(scan_project(root), [finding("PR501", "tool.py", 1)])
    assert plan.is_empty and plan.skipped[0][1] == "no FastAPI() or Flask() app found in the project"


def teardown_module():
    logging.getLogger().handlers.clear()

"""try/except codemods: task references (PR340), loop guards (PR341), logged swallows
(PR342/PR510), an app-wide exception handler (PR344)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from libcst.codemod import CodemodTest

from fixers import apply_plan, plan_fixes
from fixers.error_handling import GuardLoop, KeepTaskReference, LogSwallowed
from tests.fixers.helpers import finding, targets
from tests.helpers import scan_project, write_project


class TestKeepTaskReference(CodemodTest):
    TRANSFORM = KeepTaskReference

    def test_fastapi_startup_task(self):
        before = """
            import asyncio

            from fastapi import FastAPI

            app = FastAPI()


            @app.on_event("startup")
            async def startup():
                asyncio.create_task(reminder_loop())
                task = asyncio.create_task(kept())
        """
        after = '''
            import asyncio
            import logging

            from fastapi import FastAPI

            logger = logging.getLogger(__name__)

            _background_tasks = set()


            def _keep_task(task):
                """Hold a reference to a background task until it ends, and log it if it fails."""
                _background_tasks.add(task)
                task.add_done_callback(_task_done)
                return task


            def _task_done(task):
                _background_tasks.discard(task)
                if not task.cancelled() and task.exception() is not None:
                    logger.error("background task %s failed", task.get_name(), exc_info=task.exception())


            app = FastAPI()


            @app.on_event("startup")
            async def startup():
                _keep_task(asyncio.create_task(reminder_loop()))
                task = asyncio.create_task(kept())
        '''
        self.assertCodemod(before, after, targets=targets(before, "PR340", "asyncio.create_task(rem"))

    def test_helpers_are_reused(self):
        before = '''
            import asyncio
            import logging

            logger = logging.getLogger(__name__)


            def _keep_task(task):
                return task


            async def handler():
                asyncio.ensure_future(work())
        '''
        after = before.replace("asyncio.ensure_future(work())", "_keep_task(asyncio.ensure_future(work()))")
        self.assertCodemod(before, after, targets=targets(before, "PR340", "asyncio.ensure_future"))


def test_a_failing_task_is_logged_and_kept_until_done(tmp_path):
    source = "import asyncio\nasync def boom():\n    raise ValueError('lost email')\nasync def handler():\n    asyncio.create_task(boom())\n    await asyncio.sleep(0.01)\n"
    root = write_project(tmp_path, {"tasks.py": source})
    apply_plan(plan_fixes(scan_project(root), [finding("PR340", "tasks.py", 5, 4)]))
    done = subprocess.run(
        [sys.executable, "-c", "import asyncio, logging, tasks; logging.basicConfig(); asyncio.run(tasks.handler()); assert not tasks._background_tasks"],
        cwd=root, capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "background task" in done.stderr and "ValueError: lost email" in done.stderr


class TestGuardLoop(CodemodTest):
    TRANSFORM = GuardLoop

    def test_sleep_stays_outside_the_try(self):
        before = """
            import asyncio
            import logging

            logger = logging.getLogger(__name__)


            async def overdue_reminder_loop():
                while True:
                    await asyncio.sleep(300)
                    db = SessionLocal()
                    # one pass
                    send_reminders(db)
                    db.close()
        """
        after = """
            import asyncio
            import logging

            logger = logging.getLogger(__name__)


            async def overdue_reminder_loop():
                while True:
                    await asyncio.sleep(300)
                    try:
                        db = SessionLocal()
                        # one pass
                        send_reminders(db)
                        db.close()
                    except Exception:
                        logger.exception("overdue_reminder_loop failed; trying again on the next pass")
        """
        self.assertCodemod(before, after, targets=targets(before, "PR341", "while True"))

    def test_finding_on_the_function_and_sleep_at_the_end(self):
        before = """
            import time


            def poll():
                while True:
                    fetch()
                    time.sleep(5)
        """
        after = """
            import logging
            import time

            logger = logging.getLogger(__name__)


            def poll():
                while True:
                    try:
                        fetch()
                    except Exception:
                        logger.exception("poll failed; trying again on the next pass")
                    time.sleep(5)
        """
        self.assertCodemod(before, after, targets=targets(before, "PR341", "def poll"))


class TestLogSwallowed(CodemodTest):
    TRANSFORM = LogSwallowed

    def test_flask_bare_except_pass(self):
        before = """
            from flask import Blueprint, session

            bp = Blueprint("auth", __name__)


            @bp.route("/logout", methods=["POST"])
            def logout():
                try:
                    session.clear()
                except:
                    pass
                return {}
        """
        after = """
            import logging

            from flask import Blueprint, session

            logger = logging.getLogger(__name__)

            bp = Blueprint("auth", __name__)


            @bp.route("/logout", methods=["POST"])
            def logout():
                try:
                    session.clear()
                except:
                    logger.exception("error ignored in logout")
                return {}
        """
        self.assertCodemod(before, after, targets=targets(before, "PR342", "except:"))

    def test_fastapi_handler_keeps_its_recovery_code(self):
        before = """
            import logging

            logger = logging.getLogger(__name__)


            async def complete_task(db):
                for attempt in range(3):
                    try:
                        db.commit()
                        break
                    except Exception:
                        db.rollback()
                try:
                    notify()
                except KeyError: pass
        """
        after = """
            import logging

            logger = logging.getLogger(__name__)


            async def complete_task(db):
                for attempt in range(3):
                    try:
                        db.commit()
                        break
                    except Exception:
                        logger.exception("error ignored in complete_task")
                        db.rollback()
                try:
                    notify()
                except KeyError:
                    logger.warning("error ignored in complete_task", exc_info=True)
        """
        self.assertCodemod(before, after, targets=targets(before, "PR510", "except Exception", "try:\n        notify"))


# -- PR344: an app-wide exception handler -------------------------------------------------------------

FASTAPI_APP = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/boom")
def boom():
    raise RuntimeError("secret internals")
"""

FLASK_APP = """
from flask import Flask, abort

app = Flask(__name__)


@app.route("/boom")
def boom():
    raise RuntimeError("secret internals")


@app.route("/missing")
def missing():
    abort(404)
"""


def wire_handler(tmp_path, source):
    root = write_project(tmp_path, {"app.py": source})
    plan = plan_fixes(scan_project(root), [finding("PR344", "app.py", 1)])
    assert not plan.skipped, plan.skipped
    apply_plan(plan)
    again = plan_fixes(scan_project(root), [finding("PR344", "app.py", 1)])
    assert again.is_empty  # idempotent
    return root


def run(root, code):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_fastapi_global_handler(tmp_path):
    root = wire_handler(tmp_path, FASTAPI_APP)
    text = (root / "app.py").read_text()
    assert "app = FastAPI()\napp.add_exception_handler(Exception, handle_unexpected_error)\n" in text
    assert text.index("async def handle_unexpected_error") < text.index("app = FastAPI()")
    assert any(e.func.endswith("add_exception_handler") for e in scan_project(root).index.modules["app.py"].exception_handlers)
    logs = run(
        root,
        """
        import logging
        logging.basicConfig()
        from fastapi.testclient import TestClient
        from app import app
        response = TestClient(app, raise_server_exceptions=False).get("/boom")
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal server error"}
        """,
    )
    assert "unhandled error on GET /boom" in logs and "RuntimeError: secret internals" in logs


def test_flask_global_handler_lets_http_errors_through(tmp_path):
    root = wire_handler(tmp_path, FLASK_APP)
    text = (root / "app.py").read_text()
    assert "app.register_error_handler(Exception, handle_unexpected_error)" in text
    assert "from werkzeug.exceptions import HTTPException" in text
    logs = run(
        root,
        """
        import logging
        logging.basicConfig()
        from app import app
        client = app.test_client()
        response = client.get("/boom")
        assert response.status_code == 500 and response.get_json() == {"error": "internal server error"}
        assert b"secret" not in response.data
        assert client.get("/missing").status_code == 404
        assert client.get("/nowhere").status_code == 404
        """,
    )
    assert "unhandled error on GET /boom" in logs and "Traceback" in logs


def test_handler_finding_on_another_file_goes_to_the_app(tmp_path):
    root = write_project(tmp_path, {"main.py": FASTAPI_APP, "routes.py": "from fastapi import APIRouter\nrouter = APIRouter()\n"})
    plan = plan_fixes(scan_project(root), [finding("PR344", "routes.py", 1)])
    assert plan.files_changed == ["main.py"]

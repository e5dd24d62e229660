"""Every request and the whole rehearsal have a time limit: a slow app cannot hold it forever."""

from __future__ import annotations

import time

import pytest

from auditor.rehearse.run import RehearsalError, rehearse
from tests.helpers import write_project

pytestmark = pytest.mark.rehearsal

SLOW_APP = {
    "app/__init__.py": "",
    "app/main.py": """
        import time

        from fastapi import FastAPI

        app = FastAPI()
        SECONDS = float(open("delay.txt").read())


        @app.post("/auth/signup")
        def signup(payload: dict):
            time.sleep(SECONDS)
            return {"id": 1}


        @app.post("/auth/login")
        def login(payload: dict):
            time.sleep(SECONDS)
            return {"access_token": "t"}
    """,
}


def test_a_slow_app_runs_out_of_the_rehearsals_time(tmp_path, private_tmp):
    # Each request answers within its own timeout, but two users take 4 x 2.5 s: more than the run's.
    app = write_project(tmp_path / "slow", {**SLOW_APP, "delay.txt": "2.5"})
    started = time.monotonic()
    with pytest.raises(RehearsalError, match="ran out of time"):
        rehearse(app, total_timeout=14, request_timeout=5)
    assert time.monotonic() - started < 40
    assert list(private_tmp.iterdir()) == []


def test_a_request_that_outlasts_its_timeout_is_reported_not_waited_for(tmp_path, private_tmp):
    app = write_project(tmp_path / "slow", {**SLOW_APP, "delay.txt": "3"})
    rehearsal = rehearse(app, request_timeout=1, total_timeout=60)
    assert "signing up user A through POST /auth/signup answered no answer" in rehearsal.users
    assert "timed out" in rehearsal.users

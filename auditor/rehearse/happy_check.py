"""The rehearsal's happy paths as a check for `fix --verify`: on each copy of the project that
verify makes (untouched, then with fix groups written in), the app is booted and two users sign
up, log in, create an object and list them. A path that answered 2xx on the untouched copy and
does not with a fix group blames that group, exactly like a test that starts failing.

The check copies the copy it is given (the rehearsal always runs on its own copy), so the tests
that verify runs next see the copy untouched."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from auditor.rehearse.compare import answered
from auditor.rehearse.run import RehearsalError, rehearse
from fixers.pipeline.runner import RunResult, Sandbox
from fixers.pipeline.verify import PROBE_PREFIX, Outcome, SuiteRun

TIMEOUT = 90.0  # one rehearsal of the happy paths, boot included


def can_rehearse(result) -> str | None:
    """None when the scanned app can be rehearsed, else why not (one line)."""
    from auditor.rehearse.target import find_target

    try:
        find_target(result)
    except Exception as exc:
        return str(exc)
    return None


def one_line(message: str) -> str:
    """The headline and, when a log follows, its last line (the error itself)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} {lines[-1]}"
    return lines[0] if lines else "no reason given"


def step_id(step: dict) -> str:
    return f"{PROBE_PREFIX}{step['step']} ({step['method']} {step['path']})"


class HappyPaths:
    """Signup, login, create and list through the app's own routes, each an outcome by id."""

    name = "the rehearsal's happy paths (signup, login, create, list answer 2xx)"

    def __init__(self, timeout: float = TIMEOUT, say: Callable[[str], None] | None = None, database: str | None = None):
        self.timeout = timeout
        self.say = say or (lambda line: None)
        self.database = database
        self.unavailable: str | None = None  # why the untouched app could not be rehearsed
        self.baseline: list[str] | None = None  # the ids seen on the untouched copy

    def run(self, sandbox: Sandbox, copy: Path, timeout: float) -> SuiteRun:
        started = time.monotonic()
        outcomes: dict[str, Outcome] = {}
        first = self.baseline is None
        if self.unavailable is None:
            try:
                rehearsal = rehearse(
                    copy, happy_only=True, python=sandbox.python, isolate=sandbox.isolation.isolated,
                    boot_timeout=min(30.0, self.timeout), total_timeout=self.timeout, database=self.database,
                    use_cache=False,  # a temporary copy: its scan would never be read again
                )  # fmt: skip
            except RehearsalError as exc:
                message = str(exc).strip()
                if first:  # the untouched app: tests only, said once
                    self.unavailable = one_line(message)
                    self.say(f"verify: the app cannot be rehearsed ({self.unavailable}); checking the fixes with your tests only")
                else:  # it ran before the fix: the fix stops it from starting
                    line = one_line(message)
                    outcomes = {test: Outcome("error", line, message[-4000:]) for test in self.baseline or []}
            else:
                for step in rehearsal.happy_paths:
                    ok = answered(step["status"])
                    outcomes[step_id(step)] = Outcome(
                        "passed" if ok else "failed", "" if ok else f"{step['method']} {step['path']} answered {step['status']}"
                    )
                if first and rehearsal.users:
                    self.say(f"verify: the rehearsal made no users ({rehearsal.users.splitlines()[0]}); the happy paths it checks: {len(outcomes)}")
        if first:
            self.baseline = [test for test, outcome in outcomes.items() if outcome.status == "passed"]
        seconds = time.monotonic() - started
        run = RunResult(["prodready", "rehearse", "--happy-paths"], 0, "", seconds, False, self.timeout, sandbox.isolation)
        return SuiteRun(outcomes, run)

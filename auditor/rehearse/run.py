"""One rehearsal from start to end: scan, copy, environment, tables, server, client, clean-up.

The user's folder is only read (by the scan and the copy); the app runs on the copy, in its own
process group and network namespace, against a SQLite file in a temporary folder. The server's
process group is stopped and the folder removed at the end, on error and on Ctrl+C.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from auditor.rehearse import boot
from auditor.rehearse.environment import build_environment
from auditor.rehearse.postgres import PostgresError, start_cluster
from auditor.rehearse.target import find_target
from auditor.rehearse.users_hook import HookError, hook_spec, run_hook
from fixers.pipeline.runner import Sandbox

WHAT_IT_RUNS = (
    "rehearse runs your app (your code) in a separate process on 127.0.0.1, on a copy of the "
    "project, against a throwaway database; `prodready scan` never runs your code."
)
AGENT_BOOTSTRAP = "import sys; sys.path.insert(0, sys.argv[1]); from auditor.rehearse.agent.main import main; sys.exit(main(sys.argv[2:]))"
PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds `auditor`
# Memory-backed folders for the throwaway SQLite file: every commit of the app is an fsync, and on
# a disk busy with other work those made a rehearsal two times slower. The data is thrown away.
MEMORY_DIRS = ("/dev/shm",)


def memory_folder() -> Path | None:
    """A new private folder on a memory-backed filesystem (None: there is none to write to)."""
    for base in MEMORY_DIRS:
        if os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            try:
                return Path(tempfile.mkdtemp(prefix="prodready-rehearsal-", dir=base))
            except OSError:
                continue
    return None


class RehearsalError(Exception):
    """The rehearsal could not run (the app did not boot, no app found...): exit code 2."""


@dataclass
class Rehearsal:
    app: str  # module:variable
    framework: str
    root: str
    probes: list[dict] = field(default_factory=list)
    happy_paths: list[dict] = field(default_factory=list)
    users: str | None = None  # why no users could be made
    notes: list[str] = field(default_factory=list)
    routes: list[dict] = field(default_factory=list)  # what was probed, with where each handler is
    confirmed: list[dict] = field(default_factory=list)  # the scan's findings a failed probe showed real
    duration: float = 0.0
    requests: int = 0

    @property
    def failed(self) -> list[dict]:
        return [p for p in self.probes if p["outcome"] == "failed"]


def rehearse(
    path: str | Path,
    *,
    boot_timeout: float = 30.0,
    request_timeout: float = 5.0,
    total_timeout: float = 180.0,
    list_rows: int = 500,
    concurrent: int = 50,
    database: str | None = None,
    database_url: str | None = None,
    allow_remote_database: bool = False,
    progress: Callable[[str], None] | None = None,
    scan_result=None,
    happy_only: bool = False,
    python=None,
    isolate: bool = True,
    use_cache: bool = True,
    cancel: threading.Event | None = None,
) -> Rehearsal:
    """The whole rehearsal of the project at `path`. happy_only: sign up, log in, create and
    list only (the happy paths fix verification checks); python: the interpreter to run the app
    with (a ProjectPython; by default the project's own)."""
    from auditor.engine import ScanError, scan
    from auditor.rehearse.database import DatabaseRefused, check_url, choose

    say = progress or (lambda line: None)
    started = time.monotonic()
    if database_url:
        try:
            check_url(database_url, allow_remote_database)  # refused before anything runs
        except DatabaseRefused as exc:
            raise RehearsalError(str(exc)) from None
    say(WHAT_IT_RUNS)
    try:
        result = scan_result or scan(path, use_cache=use_cache)
    except ScanError as exc:
        raise RehearsalError(str(exc)) from None
    try:
        target = find_target(result)
    except Exception as exc:
        raise RehearsalError(str(exc)) from None
    say(f"app: {target.spec} ({target.framework}), {len(target.routes)} route methods")
    sandbox = Sandbox(result.root, python=python, isolate=isolate)
    cluster = memory = None
    try:
        choice = choose(result, sandbox, database, database_url, allow_remote_database)
        if choice.kind == "postgres":
            say(f"database: {choice.reason}; starting a private PostgreSQL cluster in a temporary folder ...")
            try:
                cluster = start_cluster(boot_timeout * 2)
            except PostgresError as exc:
                if database == "postgres":
                    raise RehearsalError(str(exc)) from None
                choice.kind, choice.reason = "sqlite", f"a private PostgreSQL cluster could not start ({exc}): a throwaway SQLite file instead"
        if choice.kind != "postgres":
            say(f"database: {choice.reason}")
        limits = {"list_rows": list_rows, "concurrent": concurrent, "happy_only": happy_only, "cancel": cancel}
        if choice.kind == "sqlite":
            memory = memory_folder()
        database_file = (memory or sandbox.tmp) / "rehearsal.db"
        return _run(sandbox, result, target, boot_timeout, request_timeout, total_timeout, limits, say, started, cluster, choice, database_file)
    finally:
        sandbox.close()  # stops the server's process group and removes copies, logs and the database
        if cluster is not None:
            cluster.stop()
        if memory is not None:
            shutil.rmtree(memory, ignore_errors=True)


def _reset(database_url: str, cluster, given):
    """How to empty the throwaway database after failed migrations (None: it is not throwaway)."""
    if given:
        return None
    if cluster is not None:
        import subprocess

        return lambda: subprocess.run(
            [*cluster.psql(), "drop schema public cascade; create schema public"], capture_output=True, timeout=30, check=False
        )  # fmt: skip
    if database_url.startswith("sqlite:///"):
        return lambda: Path(database_url[len("sqlite:///"):]).unlink(missing_ok=True)
    return None


def _admin_plan(result, database_url: str, cluster, given) -> dict | None:
    """How the client makes the third user an admin: sign up through the app, then set the role
    column in the throwaway database (the app's own routes never hand out admin rights)."""
    from auditor.rehearse.target import admin_column

    column = admin_column(result)
    if column is None:
        return None
    if given:
        return {**column, "missing": "the database is the one given with --database-url: prodready does not grant admin rights in it"}
    if cluster is not None:
        return {**column, "psql": cluster.psql()}
    if database_url.startswith("sqlite:///"):
        return {**column, "sqlite": database_url[len("sqlite:///"):]}
    return {**column, "missing": f"no way to reach the database at {database_url.partition('://')[0]}://"}


def _run(sandbox, result, target, boot_timeout, request_timeout, total_timeout, limits, say, started, cluster=None, choice=None,
         database_file: Path | None = None) -> Rehearsal:  # fmt: skip
    cancel = limits.pop("cancel", None)  # set by the wizard when its screen goes away
    copy = sandbox.copy("app-copy")
    notes = [f"isolation: {sandbox.isolation.description}", f"python: {sandbox.python.describe()}"]
    for name in (".env", ".flaskenv"):  # the user's own settings may point at a real database
        if (copy / name).is_file():
            (copy / name).unlink()
            notes.append(f"{name} left out: the rehearsal uses its own settings")
    env_names = {read.name for _, read in result.index.env_reads if getattr(read, "name", None)}
    given = choice.url if choice is not None and choice.kind == "url" else None
    database_url = cluster.url if cluster else ((lambda scheme: given) if given else None)
    environment = build_environment(copy, database_file or sandbox.tmp / "rehearsal.db", env_names, database_url)
    if given:
        kind = "the database given with --database-url"
    elif cluster:
        kind = f"a private PostgreSQL cluster ({environment.database_url.partition('://')[0]})"
    else:
        in_memory = database_file is not None and database_file.parent != sandbox.tmp
        kind = "a throwaway SQLite file" + (f" in memory ({database_file.parent.parent})" if in_memory else "")
    notes.append(
        f"settings from {', '.join(environment.sources) or 'no example file'}; secrets generated; "
        f"database: {kind} ({', '.join(environment.database_vars)})" + (f"; why: {choice.reason}" if choice else "")
    )
    try:
        migrated = boot.migrate(sandbox, copy, environment.values, boot_timeout * 4, _reset(environment.database_url, cluster, given))
        if migrated:
            notes.append(migrated)
        say(f"starting the app under {'uvicorn' if target.framework == 'fastapi' else 'gunicorn'} on 127.0.0.1 ...")
        server = boot.start(sandbox, copy, target, environment.values, boot_timeout)
    except boot.BootError as exc:
        raise RehearsalError(f"the app could not boot: {exc}") from None
    say(f"the app answers on 127.0.0.1:{server.port}")
    try:
        spec = hook_spec(result.config)
        hooked_users = run_hook(sandbox, copy, server, spec, environment.values, boot_timeout) if spec else None
    except HookError as exc:
        raise RehearsalError(str(exc)) from None
    if spec:
        notes.append(f"users made by {spec} ([tool.prodready.rehearse])")
    remaining = max(10.0, total_timeout - (time.monotonic() - started))
    plan = {
        "port": server.port,
        "request_timeout": request_timeout,
        "seconds": remaining - 5,
        "routes": target.routes,
        "openapi": server.openapi(),
        "secrets": environment.secrets,
        "users": hooked_users,
        "psql": cluster.psql() if cluster else None,
        "database_label": "the database given with --database-url (open connections are not counted there)" if given else None,
        "admin": _admin_plan(result, environment.database_url, cluster, given),
        **limits,
        "progress": str(sandbox.dir / "progress.log"),
    }
    plan_path, out_path = sandbox.dir / "plan.json", sandbox.dir / "results.json"
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    Path(plan["progress"]).touch()
    finished = threading.Event()
    outcome: dict = {}

    def client() -> None:
        try:
            outcome["run"] = sandbox.run(
                [sys.executable, "-I", "-c", AGENT_BOOTSTRAP, PACKAGE_ROOT, str(plan_path), str(out_path)],
                cwd=sandbox.tmp, timeout=remaining, beside=server.process,
            )  # fmt: skip
        except BaseException as exc:  # pragma: no cover - reported below
            outcome["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    shown = 0
    while True:  # relay the client's progress lines as they come
        done = finished.wait(0.2)
        if cancel is not None and cancel.is_set():  # the finally of rehearse() stops the app and cleans up
            raise RehearsalError("the rehearsal was stopped before it finished")
        lines = Path(plan["progress"]).read_text(encoding="utf-8").splitlines()
        for line in lines[shown:]:
            say(line)
        shown = len(lines)
        if done:
            break
    run = outcome.get("run")
    if "error" in outcome or run is None or not out_path.is_file():
        detail = run.output[-2000:] if run is not None else str(outcome.get("error"))
        raise RehearsalError(f"the rehearsal client did not finish: {detail}")
    data = json.loads(out_path.read_text(encoding="utf-8"))
    if data.get("error"):
        raise RehearsalError(f"{data['error']}\napp log:\n{boot.log_tail(server.process.output())}")
    rehearsal = Rehearsal(
        app=target.spec, framework=target.framework, root=str(result.root), probes=data["probes"],
        happy_paths=data["happy_paths"], users=data.get("users"), notes=notes, requests=data.get("requests", 0),
        routes=target.routes,
    )  # fmt: skip
    if data.get("admin"):
        rehearsal.notes.append(data["admin"])
    from auditor.rehearse.compare import confirmed

    rehearsal.confirmed = [
        {"rule": f.rule, "path": f.path, "line": f.line, "message": f.message}
        for f in sorted(confirmed(result.findings, rehearsal), key=lambda f: (f.path, f.line, f.rule))
    ]
    rehearsal.duration = time.monotonic() - started
    return rehearsal

"""Starting the app under a real server, in the shared sandbox (fixers/pipeline/runner.py): a
copy of the project, the project's Python, its own process group and network namespace.

ASGI apps run under uvicorn, WSGI apps under gunicorn (both production servers; Flask's own
development server is not used). The launcher imports the app once: for FastAPI it also writes
the app's OpenAPI document, which gives the probes the body models of every route.
"""

from __future__ import annotations

import re
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fixers.pipeline.runner import Process, Sandbox

LOG_TAIL = 30  # lines of the app's log shown when it cannot boot

LAUNCHER = '''\
import importlib, json, sys
module, var, framework, port, schema_path = sys.argv[1:6]
mod = importlib.import_module(module)
app = getattr(mod, var, None)
if app is None:
    for name in ("create_app", "make_app", "get_app", "app_factory"):
        if callable(getattr(mod, name, None)):
            app = getattr(mod, name)()
            break
if app is None:
    sys.exit(f"prodready: {module} has no `{var}` and no create_app() to call")
schema = None
if hasattr(app, "openapi"):
    try:
        schema = app.openapi()
    except Exception as exc:
        print(f"prodready: no OpenAPI document ({type(exc).__name__}: {exc})", file=sys.stderr)
with open(schema_path, "w") as out:
    json.dump(schema, out, default=str)
if framework == "fastapi":
    try:
        import uvicorn
    except ImportError:
        sys.exit("prodready: uvicorn is not installed in the project's Python (pip install uvicorn)")
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="info", access_log=False)
else:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        sys.exit("prodready: gunicorn is not installed in the project's Python (pip install gunicorn)")

    class Rehearsal(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"127.0.0.1:{port}")
            self.cfg.set("workers", 1)
            self.cfg.set("threads", 4)
            self.cfg.set("timeout", 30)
            self.cfg.set("accesslog", None)

        def load(self):
            return app

    Rehearsal().run()
'''

# Run beside the server (in its namespace): exit 0 once the port accepts a connection.
PORT_CHECK = "import socket, sys\ntry:\n    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=1).close()\nexcept OSError:\n    sys.exit(1)\n"


class BootError(Exception):
    """The app did not come up: the message ends with its last log lines."""


@dataclass
class Server:
    process: Process
    port: int
    schema_path: Path

    def openapi(self) -> dict | None:
        import json

        try:
            return json.loads(self.schema_path.read_text(encoding="utf-8")) or None
        except (OSError, ValueError):
            return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(text: str, lines: int = LOG_TAIL) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


ERROR_LINE = re.compile(r"^[\w.]*(Error|Exception)\b")


def error_line(output: str) -> str:
    """The exception line of a traceback (`sqlalchemy.exc.NoSuchTableError: orders`), else the last line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    found = next((line for line in reversed(lines) if ERROR_LINE.match(line)), lines[-1] if lines else "no output")
    return found[:200]


def creates_tables(copy: Path) -> bool:
    """Whether the app's own code (not its migrations or tests) calls create_all()."""
    for path in copy.rglob("*.py"):
        parts = set(path.relative_to(copy).parts)
        if parts & {"migrations", "alembic", "tests", "test", ".venv", "venv", ".prodready"}:
            continue
        try:
            if ".create_all(" in path.read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def migrate(sandbox: Sandbox, copy: Path, env: dict, timeout: float, reset=None) -> str | None:
    """`alembic upgrade head` when the project keeps migrations with revisions in them; returns
    what was done, in words, or None when the app creates its tables itself.

    Migrations that cannot build an empty database (only the changes since the tables were made
    with create_all(), the first migration still to write) are not an error when the app calls
    create_all() itself: `reset` empties the throwaway database and the app makes its tables."""
    ini = copy / "alembic.ini"
    if not ini.is_file():
        return None
    revisions = [p for p in copy.rglob("versions/*.py") if ".prodready" not in p.parts and p.name != "__init__.py"]
    if not revisions:
        return None
    run = sandbox.run(["{python}", "-m", "alembic", "upgrade", "head"], cwd=copy, env=env, timeout=timeout)
    if not run.ok:
        if reset is not None and creates_tables(copy):
            reset()
            last = error_line(run.output)
            return (f"`alembic upgrade head` failed on the empty database ({last}): its migrations do not create "
                    "the tables, so the app's own create_all() made them at start-up")  # fmt: skip
        raise BootError(f"`alembic upgrade head` failed ({run.describe()}):\n{log_tail(run.output)}")
    return "tables created with `alembic upgrade head`"


def start(sandbox: Sandbox, copy: Path, target, env: dict, timeout: float) -> Server:
    """Start the server and wait until its port answers (or it dies, or `timeout` passes)."""
    port = free_port()
    launcher = sandbox.dir / "launch_app.py"
    launcher.write_text(LAUNCHER, encoding="utf-8")
    schema_path = sandbox.dir / "openapi.json"
    process = sandbox.start(
        ["{python}", str(launcher), target.module, target.var, target.framework, str(port), str(schema_path)], cwd=copy, env=env
    )
    deadline = time.monotonic() + timeout
    check = sandbox.dir / "port_check.py"
    check.write_text(PORT_CHECK, encoding="utf-8")
    while True:
        if not process.running():
            raise BootError(f"the app exited while starting (exit code {process.popen.returncode}):\n{log_tail(process.output())}")
        probe = sandbox.run([sys.executable, "-I", str(check), str(port)], cwd=copy, timeout=5, beside=process)
        if probe.ok:
            return Server(process, port, schema_path)
        if time.monotonic() > deadline:
            raise BootError(f"the app did not answer on 127.0.0.1:{port} within {timeout:g} s:\n{log_tail(process.output())}")
        time.sleep(0.2)

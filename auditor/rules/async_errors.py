"""Step 3 — validation: errors in async and background code (PR340-PR344).

PR342 (swallowed exception in request or task code) and PR510 (swallowed exception elsewhere,
in `logs.py`) share `SwallowedExceptions`, so one `except` is reported by exactly one of them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ModuleRule, ProjectRule, register
from auditor.rules.webapp import app_anchor, broad_handler, call_at, call_tail, is_app_code, is_test_or_script, is_web_project, route_methods
from auditor.walk import FUNCTIONS, ModuleContext, dotted, kwarg

TASK_SPAWNERS = {
    "asyncio.create_task", "asyncio.ensure_future", "loop.create_task",
    "asyncio.get_event_loop.create_task", "asyncio.get_running_loop.create_task",
}  # fmt: skip
SPAWN_TAILS = {"create_task", "ensure_future", "add_task", "spawn", "submit", "run_in_executor", "start_soon", "Thread", "Process", "delay", "apply_async"}
TASK_DECORATORS = {"task", "shared_task", "actor", "repeat_every", "scheduled_job", "periodic_task", "job", "cron"}
SLEEPS = {"asyncio.sleep", "time.sleep", "anyio.sleep", "trio.sleep", "gevent.sleep"}
REPORTING = re.compile(r"^(exception|error|warning|warn|critical|info|debug|log|capture_exception|capture_message|print_exc|print_exception|format_exc|print|notify|report\w*)$")
BLOCKING = {
    "time.sleep", "urllib.request.urlopen", "smtplib.SMTP", "smtplib.SMTP_SSL", "subprocess.run", "subprocess.call",
    "subprocess.check_call", "subprocess.check_output", "psycopg2.connect", "sqlite3.connect", "pymysql.connect",
    *(f"{lib}.{verb}" for lib in ("requests", "httpx") for verb in ("get", "post", "put", "patch", "delete", "head", "request")),
    "bcrypt.hashpw", "bcrypt.checkpw", "bcrypt.kdf", "hashlib.pbkdf2_hmac", "hashlib.scrypt",
    "werkzeug.security.generate_password_hash", "werkzeug.security.check_password_hash", "open", "io.open",
}  # fmt: skip
# Password hashers kept in a module variable: `pwd_context.hash(pw)`, `ph.verify(hash, pw)` (passlib, argon2-cffi).
HASHER_RECEIVER = re.compile(r"^(pwd_?context|pwd|password_?hasher|hasher|ph|crypt_?context|password_?context|argon2?_?hasher)$", re.I)
SYNC_SESSION_METHODS = {"query", "execute", "commit", "add", "get", "scalar", "scalars", "refresh", "flush", "delete", "merge", "rollback"}
SYNC_SESSION_FACTORY = re.compile(r"^(SessionLocal|Session|get_session|session_scope|scoped_session|sessionmaker)$")
GLOBAL_ERRORS = {"Exception", "BaseException", "500", "HTTPStatus.INTERNAL_SERVER_ERROR", "InternalServerError", "werkzeug.exceptions.InternalServerError"}


@register
class FireAndForgetTask(ModuleRule):
    code = "PR340"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "fire-and-forget-task"
    category = Category.ASYNC_ERRORS
    severity = Severity.MEDIUM
    impact = (
        "A background task whose result nobody keeps fails silently: the email is never sent, the "
        "webhook never fires, and no log line says why. Python may even garbage-collect the task mid-run."
    )
    fix_summary = "Keeps a reference to the task and attaches a callback that logs its exception with the traceback."
    doc = """
## What it does
Finds `asyncio.create_task(...)` / `asyncio.ensure_future(...)` calls whose returned task is
thrown away, in web application code (not tests or scripts).

## Why is this bad in production
The event loop keeps only a weak reference to tasks, so an unreferenced task can vanish before
it finishes, and an exception inside it is reported only as "Task exception was never
retrieved" at garbage collection, if at all. Work silently stops happening.

## Example
```python
async def signup(user):
    asyncio.create_task(send_welcome_email(user))
```

## Use instead
```python
background_tasks = set()

async def signup(user):
    task = asyncio.create_task(send_welcome_email(user))
    background_tasks.add(task)
    task.add_done_callback(log_task_failure)
```

## Fix safety
Safe: the task runs as before; failures are now logged.
"""
    VALID = [
        "import asyncio\nfrom fastapi import FastAPI\ntasks = set()\nasync def f():\n    t = asyncio.create_task(g())\n    tasks.add(t)\n",
        "import asyncio\nfrom fastapi import FastAPI\nasync def f():\n    await asyncio.create_task(g())\n",
        "import asyncio\nfrom fastapi import FastAPI\nasync def f():\n    return asyncio.gather(asyncio.create_task(g()))\n",
        # A TaskGroup keeps its tasks and raises their errors.
        "import asyncio\nfrom fastapi import FastAPI\nasync def f():\n    async with asyncio.TaskGroup() as tg:\n        tg.create_task(g())\n",
        # Not web-app code: a test or a library.
        {"tests/test_tasks.py": "import asyncio\nasync def test_it():\n    asyncio.create_task(work())\n"},
        "import asyncio\nasync def library_helper():\n    asyncio.create_task(work())\n",
    ]
    INVALID = [
        "import asyncio\nfrom fastapi import FastAPI\nasync def f():\n    asyncio.create_task(send_email())\n",
        "from asyncio import ensure_future\nfrom flask import Flask\nasync def f():\n    ensure_future(work())\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = is_app_code(ctx)

    def visit_Expr(self, node: ast.Expr, ctx: ModuleContext) -> None:
        if self.active and isinstance(node.value, ast.Call) and ctx.resolve(node.value.func) in TASK_SPAWNERS:
            self.report(ctx, node.value, "task result discarded: its exceptions are lost and it may be garbage-collected mid-run")


@register
class UnguardedBackgroundLoop(ModuleRule):
    code = "PR341"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "unguarded-background-loop"
    category = Category.ASYNC_ERRORS
    severity = Severity.MEDIUM
    impact = (
        "One failed run — a database hiccup, one bad row — ends the background job for good: "
        "reminders, clean-ups or syncs silently stop until the next deploy."
    )
    fix_summary = "Wraps each iteration in try/except that logs the exception and carries on with the next run."
    doc = """
## What it does
Finds periodic loops (`while ...:` with a `sleep()` inside) in web application code that have
no `try`/`except`, neither around each iteration nor around the loop.

## Why is this bad in production
The first exception propagates out of the loop and the task ends. In a fire-and-forget task
nobody sees it; the job just stops running while the app keeps serving requests.

## Example
```python
async def reminder_loop():
    while True:
        await asyncio.sleep(300)
        send_overdue_reminders()
```

## Use instead
```python
async def reminder_loop():
    while True:
        await asyncio.sleep(300)
        try:
            send_overdue_reminders()
        except Exception:
            logger.exception("reminder run failed")
```

## Fix safety
Review: a failing run is now logged and skipped instead of ending the loop.
"""
    VALID = [
        "import asyncio, logging\nfrom fastapi import FastAPI\nasync def loop(job):\n    while True:\n        await asyncio.sleep(60)\n        try:\n            await job()\n        except Exception:\n            logging.exception('job failed')\n",
        # A polling helper that sleeps until a condition holds: no work to guard.
        "import time\nimport requests\ndef wait_ready(check):\n    while not check():\n        time.sleep(0.1)\n",
    ]
    INVALID = [
        "import asyncio\nfrom fastapi import FastAPI\nasync def reminders():\n    while True:\n        await asyncio.sleep(300)\n        send_reminders()\n",
        "import time\nfrom flask import Flask\ndef sync_worker():\n    while True:\n        sync_accounts()\n        time.sleep(60)\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = is_app_code(ctx)

    def visit_While(self, node: ast.While, ctx: ModuleContext) -> None:
        if not self.active or ctx.enclosing_function() is None or any(isinstance(p, ast.Try) for p in ctx.parents):
            return
        if any(isinstance(n, (ast.Yield, ast.YieldFrom)) for stmt in node.body for n in ast.walk(stmt)):
            return  # a streaming generator: an error ends the stream, the client reconnects
        calls = [c for stmt in node.body for c in ast.walk(stmt) if isinstance(c, ast.Call)]
        sleeps = [c for c in calls if ctx.resolve(c.func) in SLEEPS]
        work = [c for c in calls if ctx.resolve(c.func) not in SLEEPS]
        if not sleeps or not work or any(isinstance(n, ast.Try) for stmt in node.body for n in ast.walk(stmt)):
            return
        self.report(ctx, node, "background loop without try/except: the first error ends it for good, silently")


def swallows(handler: ast.ExceptHandler) -> bool:
    """A broad `except` whose body only passes, returns nothing useful or cleans up: no raise, no
    log, no use of the exception, no error response."""
    if not broad_handler(handler):
        return False
    for stmt in handler.body:
        if isinstance(stmt, (ast.Pass, ast.Continue, ast.Break)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, bool):
            return False  # `return False`: the failure is the answer (a check function)
        if isinstance(stmt, ast.Return) and (stmt.value is None or isinstance(stmt.value, ast.Constant) or (
            isinstance(stmt.value, (ast.List, ast.Dict, ast.Tuple)) and not getattr(stmt.value, "elts", getattr(stmt.value, "keys", None))
        )):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, (ast.Call, ast.Await)):
            call = stmt.value.value if isinstance(stmt.value, ast.Await) else stmt.value
            if isinstance(call, ast.Call) and not REPORTING.match(call_tail(call)) and not any(
                isinstance(n, ast.Name) and n.id == handler.name for n in ast.walk(call)
            ):
                continue  # cleanup: rollback(), sleep(), close()
        return False
    return True


CHECKING_FUNCTION = re.compile(r"^_*(verify|validate|check|parse|decode|is|has|can)(_|$)", re.I)


class SwallowedExceptions(ModuleRule):
    """Collects swallowing `except` blocks during the walk; decides at the end of the module
    whether each is in request/task code (PR342) or elsewhere (PR510)."""

    in_request_or_task: bool  # which half this rule reports

    def begin(self, ctx: ModuleContext) -> None:
        self.active = is_app_code(ctx)
        self.candidates: list[tuple[ast.ExceptHandler, list[ast.AST]]] = []
        self.spawned: set[str] = set()
        self.looping: set[int] = set()

    def visit_ExceptHandler(self, node: ast.ExceptHandler, ctx: ModuleContext) -> None:
        if self.active and swallows(node):
            self.candidates.append((node, [p for p in ctx.parents if isinstance(p, FUNCTIONS)]))

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if self.active and call_tail(node) in SPAWN_TAILS:
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                target = arg.func if isinstance(arg, ast.Call) else arg
                name = (dotted(target) or "").rpartition(".")[2]
                if name:
                    self.spawned.add(name)

    def visit_While(self, node: ast.While, ctx: ModuleContext) -> None:
        function = ctx.enclosing_function()
        if self.active and function is not None and isinstance(node.test, ast.Constant) and node.test.value:
            self.looping.add(id(function))

    def is_request_or_task(self, function: ast.AST, ctx: ModuleContext) -> bool:
        if function.name in self.spawned or id(function) in self.looping or route_methods(function, ctx):
            return True
        return any((dotted(d) or "").rpartition(".")[2] in TASK_DECORATORS for d in function.decorator_list)

    @staticmethod
    def answers_a_check(handler: ast.ExceptHandler, functions: list[ast.AST]) -> bool:
        """`verify_auth_token()` returning None when `loads()` fails: for a function that checks or
        parses its input, the failure is the answer ("invalid token"), not a lost error."""
        return (
            bool(functions)
            and CHECKING_FUNCTION.match(functions[-1].name) is not None
            and len(handler.body) == 1
            and isinstance(handler.body[0], ast.Return)
            and isinstance(handler.body[0].value, ast.Constant)
            and handler.body[0].value.value in (None, False)
        )

    def end(self, ctx: ModuleContext) -> None:
        for handler, functions in self.candidates:
            if self.answers_a_check(handler, functions):
                continue
            where = next((f for f in reversed(functions) if self.is_request_or_task(f, ctx)), None)
            if (where is not None) != self.in_request_or_task:
                continue
            body = "pass" if all(isinstance(b, ast.Pass) for b in handler.body) else ast.unparse(handler.body[0]).splitlines()[0]
            what = f"except: {body}" if handler.type is None else f"except {ast.unparse(handler.type)}"
            if where is not None:
                kind = "request handler" if route_methods(where, ctx) else "background task"
                self.report(ctx, handler, f"`{what}` in {kind} `{where.name}` hides the error: nothing is logged and the caller sees success")
            else:
                self.report(ctx, handler, f"`{what}` swallows the error without logging it")


@register
class SwallowedExceptionInHandler(SwallowedExceptions):
    code = "PR342"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "swallowed-exception-in-handler"
    category = Category.ASYNC_ERRORS
    severity = Severity.MEDIUM
    in_request_or_task = True
    impact = (
        "A request or background job fails and nobody finds out: the user is told it worked, the "
        "logs are empty, and the data is left half-written."
    )
    fix_summary = "Logs the exception with its traceback (logger.exception) and answers or re-raises instead of passing."
    doc = """
## What it does
Finds `except:` / `except Exception:` blocks in route handlers and background tasks that
neither re-raise nor log: bodies of `pass`, `return None`, or clean-up calls only.

## Why is this bad in production
The failure disappears. The handler answers 200 for work that did not happen (an order not
saved, a notification not sent), and the logs hold nothing to debug it with.

## Example
```python
@router.post("/orders")
def create_order(...):
    try:
        notify_slack(order)
    except Exception:
        pass
```

## Use instead
```python
    try:
        notify_slack(order)
    except Exception:
        logger.exception("slack notification failed", extra={"order_id": order.id})
```

## Fix safety
Safe: behaviour is unchanged apart from the new log line.
"""
    VALID = [
        "import logging\nfrom fastapi import FastAPI\napp = FastAPI()\nlogger = logging.getLogger(__name__)\n@app.post('/orders')\ndef create():\n    try:\n        notify()\n    except Exception:\n        logger.exception('notify failed')\n",
        # A narrow exception deliberately ignored: a fallback, not a swallowed failure.
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/items')\ndef items(limit: str = '10'):\n    try:\n        n = int(limit)\n    except ValueError:\n        n = 10\n    return {'n': n}\n",
        "from flask import Flask, jsonify\napp = Flask(__name__)\n@app.post('/pay')\ndef pay():\n    try:\n        charge()\n    except Exception as exc:\n        return jsonify(error=str(exc)), 502\n",
    ]
    INVALID = [
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/logout', methods=['POST'])\ndef logout():\n    try:\n        session.clear()\n    except:\n        pass\n    return {}\n",
        "import asyncio\nfrom fastapi import FastAPI\nasync def worker():\n    while True:\n        try:\n            await step()\n        except Exception:\n            await asyncio.sleep(1)\nasync def startup():\n    asyncio.create_task(worker())\n",
    ]


@register
class BlockingCallInAsync(ModuleRule):
    code = "PR343"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "blocking-call-in-async"
    category = Category.ASYNC_ERRORS
    severity = Severity.HIGH
    impact = (
        "While one request waits on a blocking call, the whole server waits with it: every other user's "
        "request stalls until it finishes."
    )
    fix_summary = "Makes the handler a plain `def` (run in a thread pool), or awaits an async client / run_in_threadpool."
    doc = """
## What it does
Finds blocking calls inside `async def` functions of web application code: `time.sleep`,
`requests.*`, synchronous `httpx` calls, `smtplib`, `subprocess`, synchronous DB drivers,
password hashing (bcrypt, passlib, argon2, werkzeug), file I/O with `open()`, and methods of
a synchronous SQLAlchemy `Session` (`db.query`, `db.commit`...). One finding per function,
listing what blocks. Helpers that block, called from an async function, are PR345.

## Why is this bad in production
An `async def` handler runs on the event loop itself. Anything that blocks it blocks every
request the worker is serving: one slow query or `time.sleep(0.5)` adds its delay to all of them.

## Example
```python
@router.post("/tasks/{task_id}/complete")
async def complete_task(task_id: int, db: Session = Depends(get_db)):
    task = db.query(Task).get(task_id)
    time.sleep(0.5)
```

## Use instead
```python
@router.post("/tasks/{task_id}/complete")
def complete_task(task_id: int, db: Session = Depends(get_db)):  # FastAPI runs it in a thread pool
    task = db.get(Task, task_id)
```

## Fix safety
Review: turning `async def` into `def` is safe only when the function awaits nothing.
"""
    VALID = [
        "import asyncio\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/slow')\nasync def slow():\n    await asyncio.sleep(1)\n    return {}\n",
        "import time\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/slow')\ndef slow():\n    time.sleep(1)\n    return {}\n",
        "from fastapi import Depends, FastAPI\nfrom sqlalchemy.orm import Session\nfrom starlette.concurrency import run_in_threadpool\napp = FastAPI()\ndef save(db, event):\n    db.add(event)\n    db.commit()\n@app.post('/hooks')\nasync def hook(db: Session = Depends(get_db)):\n    await run_in_threadpool(save, db, 1)\n",
        "from fastapi import Depends, FastAPI\nfrom sqlalchemy.ext.asyncio import AsyncSession\napp = FastAPI()\n@app.get('/users')\nasync def users(db: AsyncSession = Depends(get_db)):\n    return (await db.execute(q)).all()\n",
    ]
    INVALID = [
        "import time\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.post('/done')\nasync def done():\n    time.sleep(0.5)\n    return {}\n",
        "from fastapi import Depends, FastAPI\nfrom sqlalchemy.orm import Session\napp = FastAPI()\n@app.post('/login')\nasync def login(db: Session = Depends(get_db)):\n    user = db.query(User).first()\n    return {}\n",
        "import requests\nfrom fastapi import FastAPI\nasync def fetch_rates():\n    return requests.get('https://x', timeout=5).json()\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = is_app_code(ctx)
        self.sessions: dict[int, set[str]] = {}
        self.blocking: dict[int, list[tuple[ast.AST, str]]] = {}

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef, ctx: ModuleContext) -> None:
        if not self.active:
            return
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        self.sessions[id(node)] = {
            a.arg for a in args if a.annotation is not None and re.search(r"(?<!Async)\bSession\b", ast.unparse(a.annotation))
        }

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        if self.sessions and isinstance(node.value, ast.Call) and SYNC_SESSION_FACTORY.match(call_tail(node.value)):
            function = ctx.enclosing_function()
            if isinstance(function, ast.AsyncFunctionDef):
                self.sessions[id(function)].update(t.id for t in node.targets if isinstance(t, ast.Name))

    def visit_withitem(self, node: ast.withitem, ctx: ModuleContext) -> None:
        if not self.sessions:
            return
        function = ctx.enclosing_function()
        if isinstance(function, ast.AsyncFunctionDef) and isinstance(node.context_expr, ast.Call):
            if SYNC_SESSION_FACTORY.match(call_tail(node.context_expr)) and isinstance(node.optional_vars, ast.Name):
                self.sessions[id(function)].add(node.optional_vars.id)

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.sessions:  # no `async def` seen in this module (yet)
            return
        function = ctx.enclosing_function()
        if not isinstance(function, ast.AsyncFunctionDef):
            return
        name = ctx.resolve(node.func)
        if name in BLOCKING and not isinstance(ctx.parent(), ast.Await):
            self.blocking.setdefault(id(function), []).append((node, f"{name}()"))
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in {"hash", "verify", "hash_password", "verify_password"}
            and isinstance(node.func.value, ast.Name)
            and HASHER_RECEIVER.match(node.func.value.id)
            and not isinstance(ctx.parent(), ast.Await)
        ):
            self.blocking.setdefault(id(function), []).append((node, f"{node.func.value.id}.{node.func.attr}() (password hashing)"))
        elif (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in SYNC_SESSION_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in self.sessions.get(id(function), ())
        ):
            self.blocking.setdefault(id(function), []).append((node, f"{node.func.value.id}.{node.func.attr}() (sync Session)"))

    def leave_AsyncFunctionDef(self, node: ast.AsyncFunctionDef, ctx: ModuleContext) -> None:
        calls = self.blocking.pop(id(node), None)
        if not calls:
            return
        names = list(dict.fromkeys(label for _, label in calls))
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        self.report(ctx, calls[0][0], f"`async def {node.name}` blocks the event loop: {listed}")


@register
class NoGlobalExceptionHandler(ProjectRule):
    code = "PR344"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "no-global-exception-handler"
    category = Category.ASYNC_ERRORS
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "When something unexpected breaks, users get a bare \"Internal Server Error\" page and the log "
        "line has no request details, so support cannot match a complaint to the error."
    )
    fix_summary = "Registers one handler for unexpected exceptions that logs them with the request and returns a JSON 500."
    doc = """
## What it does
Reports a FastAPI or Flask app with no handler for unexpected exceptions: no
`exception_handler(Exception)` / `add_exception_handler(Exception, ...)`, no
`errorhandler(Exception)` or `errorhandler(500)`, and no error tracker (Sentry) set up.

## Why is this bad in production
Unhandled errors fall through to the server's default: a plain-text or HTML 500 that a JSON
client cannot parse, and a log entry without the path, user or request id needed to find it.

## Example
```python
app = FastAPI()
app.include_router(orders.router)
```

## Use instead
```python
async def unhandled(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", extra={"path": request.url.path})
    return JSONResponse({"detail": "Internal server error"}, status_code=500)

app.add_exception_handler(Exception, unhandled)
```

## Fix safety
Safe: only the body of 500 responses changes, and errors get logged.
"""
    VALID = [
        "from fastapi import FastAPI\napp = FastAPI()\nasync def unhandled(request, exc):\n    return None\napp.add_exception_handler(Exception, unhandled)\n@app.get('/')\ndef index():\n    return {}\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.errorhandler(500)\ndef oops(e):\n    return {'error': 'internal'}, 500\n@app.route('/')\ndef index():\n    return {}\n",
        "def not_a_web_app():\n    return 1\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef index():\n    return {}\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.errorhandler(404)\ndef missing(e):\n    return {}, 404\n@app.route('/')\ndef index():\n    return {}\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index) or "sentry_sdk" in index.imported_packages:
            return
        anchor = app_anchor(index)
        if anchor is None:
            return
        for facts in index.modules.values():
            for site in facts.exception_handlers:
                if site.args and site.args[0] in GLOBAL_ERRORS:
                    return
        for relpath, decl in index.routers.values():
            call = call_at(index, relpath, decl.span.line, "FastAPI") if decl.kind == "fastapi-app" else None
            handlers = kwarg(call, "exception_handlers") if call is not None else None
            if handlers is not None and "Exception" in ast.unparse(handlers):
                return
        yield self.at(anchor[0], anchor[1], "no handler for unexpected exceptions: errors return a bare 500 and are logged without request context")


@register
class BlockingHelperInAsync(ProjectRule):
    code = "PR345"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "blocking-helper-in-async"
    category = Category.ASYNC_ERRORS
    severity = Severity.HIGH
    impact = (
        "An async endpoint calls a helper that blocks (password hashing, e-mail, an HTTP call, a sync "
        "database session, a file): while it runs, every other request on the worker waits."
    )
    fix_summary = "Runs the helper in a thread (`await run_in_threadpool(helper, ...)` / `asyncio.to_thread`) or makes the endpoint a plain `def`."
    doc = """
## What it does
Follows each `async def` route handler and async dependency through the project's own
helpers, at any depth and across modules, and finds calls to a plain (`def`) helper that
ends up blocking: `time.sleep`, `requests`/`httpx` sync calls, `smtplib`, bcrypt, argon2 or
passlib password hashing, file I/O with `open()`, or a synchronous SQLAlchemy session or
database cursor. Blocking calls written in the async function itself are PR343.

## Why is this bad in production
An `async def` endpoint runs on the event loop. A helper called from it runs there too,
however deep the call: a 300 ms bcrypt hash in `create_user()` stalls every request the
worker is serving for 300 ms, and a slow SMTP server stalls them for seconds.

## Example
```python
# services/users.py
def create_user(db, email, password):
    user = User(email=email, password=bcrypt.hashpw(password.encode(), bcrypt.gensalt()))
    ...

@router.post("/signup")
async def signup(body: SignupIn, db: Session = Depends(get_db)):
    return create_user(db, body.email, body.password)
```

## Use instead
```python
@router.post("/signup")
async def signup(body: SignupIn, db: Session = Depends(get_db)):
    return await run_in_threadpool(create_user, db, body.email, body.password)
```

## Fix safety
Review: no automatic fix; moving work to a thread changes where it runs.
"""
    VALID = [
        {
            "app/security.py": "import bcrypt\ndef hash_password(pw):\n    return bcrypt.hashpw(pw.encode(), bcrypt.gensalt())\n",
            "app/main.py": "from fastapi import FastAPI\nfrom starlette.concurrency import run_in_threadpool\nfrom app.security import hash_password\napp = FastAPI()\n@app.post('/signup')\nasync def signup(pw: str):\n    return {'h': await run_in_threadpool(hash_password, pw)}\n@app.post('/signup2')\ndef signup2(pw: str):\n    return {'h': hash_password(pw)}\n",
        },
    ]
    INVALID = [
        {
            "app/security.py": "import bcrypt\ndef hash_password(pw):\n    return bcrypt.hashpw(pw.encode(), bcrypt.gensalt())\n",
            "app/users.py": "from app.security import hash_password\ndef create_user(email, pw):\n    return {'email': email, 'hash': hash_password(pw)}\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.users import create_user\napp = FastAPI()\n@app.post('/signup')\nasync def signup(email: str, pw: str):\n    return create_user(email, pw)\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        from auditor.index.callgraph import call_graph, request_code

        graph = call_graph(index)
        for (relpath, qualname), why in request_code(index).items():
            if is_test_or_script(relpath):
                continue
            summary = graph.summary(relpath, qualname)
            if summary is None or not summary.is_async:
                continue
            for edge in summary.edges:
                callee = graph.summaries.get(edge.target)
                if callee is None or callee.is_async or edge.awaited:
                    continue
                evidence = graph.effect_at_call(summary, edge, "blocks")
                if evidence is None:
                    continue
                chain = " → ".join(f"{name}()" for name in (callee.qualname, *evidence.via))
                yield self.at(
                    relpath,
                    edge.node,
                    f"`async def {summary.node.name}` ({why}) calls {chain}, which blocks the event loop: "
                    f"{evidence.what} at {evidence.relpath}:{evidence.line}",
                )
                break  # one finding per async function


@register
class FireAndForgetThread(ProjectRule):
    code = "PR346"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "fire-and-forget-thread"
    category = Category.ASYNC_ERRORS
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "Work started in a bare thread during a request is lost when the server restarts or scales down, "
        "its errors are never logged, and a traffic spike starts one thread per request."
    )
    fix_summary = "Hands the work to FastAPI's BackgroundTasks, a bounded executor, or a task queue (Celery, RQ, arq)."
    doc = """
## What it does
Finds `threading.Thread(...)` / `threading.Timer(...)` started in code a request runs (the
handler, or a helper at any depth) and then forgotten: never joined, stored or returned.

## Why is this bad in production
Nothing owns the thread. An exception inside it prints to stderr at best; a deploy or a
worker restart kills it halfway through (the e-mail is never sent, the import stops at row
4,000); and under load every request starts another thread, with no limit.

## Example
```python
@app.post("/reports")
def make_report():
    threading.Thread(target=build_report, args=(report_id,)).start()
    return {"status": "queued"}
```

## Use instead
```python
@app.post("/reports")
def make_report(background_tasks: BackgroundTasks):
    background_tasks.add_task(build_report, report_id)
    return {"status": "queued"}
```

## Fix safety
Review: no automatic fix; the right home for the work (a queue, BackgroundTasks) is a design choice.
"""
    VALID = [
        "import threading\nfrom fastapi import BackgroundTasks, FastAPI\napp = FastAPI()\n@app.post('/reports')\ndef report(tasks: BackgroundTasks):\n    tasks.add_task(build)\n    return {}\ndef warm_up():\n    threading.Thread(target=build).start()\n",
        "import threading\nfrom flask import Flask\napp = Flask(__name__)\n@app.post('/reports')\ndef report():\n    t = threading.Thread(target=build)\n    t.start()\n    t.join(timeout=5)\n    return {}\n",
    ]
    INVALID = [
        "import threading\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.post('/reports')\ndef report():\n    threading.Thread(target=build, daemon=True).start()\n    return {'status': 'queued'}\n",
        {
            "app/mail.py": "from threading import Thread\ndef send_async(msg):\n    thread = Thread(target=send, args=(msg,))\n    thread.start()\n",
            "app/views.py": "from flask import Flask\nfrom app.mail import send_async\napp = Flask(__name__)\n@app.post('/invite')\ndef invite():\n    send_async('hi')\n    return {}\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        from auditor.index.callgraph import call_graph, request_code

        graph = call_graph(index)
        for (relpath, qualname), why in request_code(index).items():
            summary = graph.summary(relpath, qualname)
            evidence = summary.local.get("spawns") if summary is not None else None
            if evidence is None or is_test_or_script(relpath):
                continue
            yield self.at(
                relpath,
                _line(evidence.line),
                f"{evidence.what} in {qualname}() ({why}): nothing waits for it, logs its errors or stops a restart from killing it",
            )


class _line:
    """A position for `ProjectRule.at` from a line number alone."""

    def __init__(self, line: int) -> None:
        self.line = line
        self.col = 0
        self.end_line = line

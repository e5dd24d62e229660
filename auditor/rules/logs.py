"""Step 5 — logging (PR5xx): logging set up once, structured, request ids, no print, no swallowed errors, no secrets."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.index.project import is_script_path
from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.async_errors import SwallowedExceptions
from auditor.rules.base import ModuleRule, ProjectRule, register
from auditor.rules.webapp import app_anchor, app_modules, broad_handler, call_tail, is_app_code, is_web_project
from auditor.walk import ModuleContext, dotted

# Path fragments of code that is not the running app (kept for other rule modules that import it).
SCRIPT_PARTS = ("tests/", "test_", "conftest.py", "scripts/", "manage.py", "setup.py", "migrations/", "alembic/", "docs/", "examples/")
__all__ = ["SCRIPT_PARTS", "is_app_code"]

LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
SECRET_NAME = re.compile(
    r"(^|_)(password|passwd|pwd|secret|token|api_?key|apikey|access_?key|private_?key|secret_?key|authorization|credentials?|jwt|bearer|card_number|cvv|ssn)s?$",
    re.I,
)
NOT_SECRET = re.compile(r"(_(type|url|id|ids|ttl|length|len|count|expires?|expiry|at|name|hint|policy|hash|hashed)(_\w+)?$|^hashed_|_hash$)", re.I)
LOGGING_FILE = re.compile(r"^log(ging)?([_.-]?(config|conf))?\.(ini|ya?ml|json|conf|cfg)$", re.I)
STRUCTURED_LOGGING = {"structlog", "pythonjsonlogger", "json_log_formatter", "ecs_logging", "loguru", "logfmter"}
REQUEST_ID_PACKAGES = {"asgi_correlation_id", "starlette_context", "flask_request_id", "flask_request_id_header", "request_id", "correlation_id", "django_guid"}
REQUEST_ID_NAME = re.compile(r"request_?id|correlation|trace_?id", re.I)


def is_logger_call(call: ast.Call) -> bool:
    """`logger.info(...)`, `logging.error(...)`, `log.warning(...)`, `app.logger.error(...)`."""
    if not (isinstance(call.func, ast.Attribute) and call.func.attr in LOG_METHODS):
        return False
    receiver = (dotted(call.func.value) or "").lower()
    return "log" in receiver.rpartition(".")[2] or receiver == "logging"


@register
class NoLoggingConfig(ProjectRule):
    code = "PR501"
    name = "no-logging-config"
    category = Category.LOGGING
    severity = Severity.MEDIUM
    impact = (
        "When something goes wrong in production there is nothing useful to read: app log lines are "
        "dropped or printed without time, level or origin."
    )
    fix_summary = "Adds one logging setup (level, format, handler) called when the app starts."
    doc = """
## What it does
Reports a web app whose code never configures logging (`logging.basicConfig`, `dictConfig`,
handlers with formatters, structlog or loguru) and ships no logging config file
(`logging.ini`, `log_config.yaml`...), or configures it only under
`if __name__ == "__main__":`, which the production server (uvicorn, gunicorn) never runs.

## Why is this bad in production
Without configuration, Python's root logger shows only warnings and above, with no timestamp
or logger name, and `logger.info(...)` calls vanish. Under a process manager, the lines that do
appear cannot be filtered or searched by level or module.

## Example
```python
logger = logging.getLogger(__name__)
app = FastAPI()
```

## Use instead
```python
def create_app() -> FastAPI:
    configure_logging(settings.log_level)  # one place: level, JSON format, handler
    app = FastAPI()
    ...
```

## Fix safety
Safe: adds a logging setup module and one call at startup.
"""
    VALID = [
        "import logging\nfrom fastapi import FastAPI\nlogging.basicConfig(level=logging.INFO)\napp = FastAPI()\n",
        {
            "app/logging_config.py": "import logging, sys\ndef configure():\n    handler = logging.StreamHandler(sys.stdout)\n    handler.setFormatter(logging.Formatter('%(message)s'))\n    logging.getLogger().addHandler(handler)\n",
            "app/main.py": "from flask import Flask\nfrom app.logging_config import configure\nconfigure()\napp = Flask(__name__)\n",
        },
        "import logging\ndef library():\n    logging.getLogger(__name__).info('libraries leave logging to the app')\n",
    ]
    INVALID = [
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\napp = FastAPI()\n",
        "import logging\nfrom flask import Flask\napp = Flask(__name__)\nif __name__ == '__main__':\n    logging.basicConfig(level=logging.INFO)\n    app.run()\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index) or STRUCTURED_LOGGING & index.imported_packages - {"pythonjsonlogger"}:
            return
        sites = [(relpath, site) for relpath, site in index.logging_setup if relpath in dict(app_modules(index))]
        if any(not self.under_main_guard(index, relpath, site.span.line) for relpath, site in sites):
            return
        if any(LOGGING_FILE.search(relpath.rpartition("/")[2]) for relpath in index.other_files):
            return  # configured by the server from a file: gunicorn --log-config, uvicorn --log-config
        anchor = app_anchor(index)
        if anchor is None:
            return
        if sites:
            relpath, site = sites[0]
            yield self.at(relpath, site.span, "logging is configured only under `if __name__ == '__main__'`: uvicorn/gunicorn never run it")
        else:
            yield self.at(anchor[0], anchor[1], "logging is never configured: info logs are dropped and the rest have no time, level or origin")

    @staticmethod
    def under_main_guard(index, relpath: str, line: int) -> bool:
        for stmt in index.tree(relpath).body:
            if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test) and stmt.lineno <= line <= (stmt.end_lineno or line):
                return True
        return False


CLI_DECORATORS = ("command", "group")  # click, Flask's app.cli, typer: @x.command(), @click.group()


def is_cli_command(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A function a command-line interface runs: decorated with `@<cli>.command(...)` or `.group`."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Attribute) and target.attr in CLI_DECORATORS:
            return True
    return False


@register
class PrintInAppCode(ModuleRule):
    code = "PR502"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "print-diagnostics"
    category = Category.LOGGING
    severity = Severity.LOW
    impact = (
        "print() output has no level, no timestamp and no request id, and many servers drop or buffer it: "
        "when something breaks in production, the clue you printed is not in the logs."
    )
    fix_summary = "Replaces print() with a module logger call at a fitting level (info, warning or error)."
    doc = """
## What it does
Finds `print()` calls in web application modules (not in tests, scripts or migrations, not
inside `if __name__ == "__main__":`, and not in command-line commands such as
`@app.cli.command()` or `@click.command()`, whose printed lines are their output).

## Why is this bad in production
Under gunicorn or uvicorn, stdout may be buffered or discarded, and printed lines carry no
severity, time, module or request id. You cannot filter them, alert on them or correlate
them with a user's failing request.

## Example
```python
@app.post("/orders")
def create_order(order: OrderIn):
    print("creating order", order.id)
```

## Use instead
```python
logger = logging.getLogger(__name__)

@app.post("/orders")
def create_order(order: OrderIn):
    logger.info("creating order", extra={"order_id": order.id})
```

## Fix safety
Safe: the message goes to the logging system instead of stdout.
"""
    VALID = [
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef f():\n    logger.info('x')\n",
        "from fastapi import FastAPI\nif __name__ == '__main__':\n    print('starting')\n",
        "def cli():\n    print('a command-line tool prints')\n",
        # A Flask CLI command of the web app: what it prints is its output.
        "from flask import Flask\napp = Flask(__name__)\n@app.cli.command('seed')\ndef seed():\n    print('seeded 3 users')\n",
        "import click\nfrom flask import Flask\n@click.command()\ndef stats():\n    print('42 orders')\n",
        {"tests/test_app.py": "from fastapi.testclient import TestClient\nprint('debug in a test')\n"},
        "from rich import print\nfrom fastapi import FastAPI\ndef banner():\n    print('[bold]ready[/bold]')\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef index():\n    print('hit index')\n    return {}\n",
        "from flask import Flask\ndef load(user):\n    print(f'loading {user}')\n",
        # A helper module of the app: it talks to a mail server.
        "import smtplib\nasync def send_email(to):\n    print(f'[email] to={to}')\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = is_app_code(ctx)

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active or not (isinstance(node.func, ast.Name) and node.func.id == "print"):
            return
        if "print" in ctx.imports:
            return  # a local print replacement (rich.print, ...)
        for parent in ctx.parents:
            if isinstance(parent, ast.If) and "__main__" in ast.dump(parent.test):
                return
            if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and is_cli_command(parent):
                return  # a command's printed lines are its output, read by the person who ran it
        self.report(ctx, node, "print() used for diagnostics: it has no level, time or request id and may never reach your logs")


@register
class UnstructuredLogs(ProjectRule):
    code = "PR503"
    name = "unstructured-logs"
    category = Category.LOGGING
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "Logs are plain sentences, so the log service cannot filter by user, order or request: finding "
        "one customer's failed payment means reading everything by hand."
    )
    fix_summary = "Switches the log format to JSON (one object per line, with extra fields and the request id)."
    doc = """
## What it does
Reports a web app whose only logging setup is `logging.basicConfig(...)` (or a `Formatter`)
with a plain-text format, and no JSON formatter or structured logging library
(structlog, python-json-logger, loguru with serialisation).

## Why is this bad in production
Hosted log services index fields, not sentences. With plain text you cannot search
`order_id=123` reliably, count errors per endpoint or attach the request id; multi-line
tracebacks split into separate entries.

## Example
```python
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
```

## Use instead
```python
handler = logging.StreamHandler()
handler.setFormatter(JsonFormatter())  # or python-json-logger / structlog
logging.basicConfig(level=logging.INFO, handlers=[handler])
```

## Fix safety
Safe: the same records, written as JSON.
"""
    VALID = [
        "import logging\nfrom fastapi import FastAPI\nfrom pythonjsonlogger import jsonlogger\nh = logging.StreamHandler()\nh.setFormatter(jsonlogger.JsonFormatter())\nlogging.basicConfig(handlers=[h])\napp = FastAPI()\n",
        "import json, logging\nfrom flask import Flask\nclass JsonFormatter(logging.Formatter):\n    def format(self, record):\n        return json.dumps({'msg': record.getMessage()})\nh = logging.StreamHandler()\nh.setFormatter(JsonFormatter())\nlogging.getLogger().addHandler(h)\napp = Flask(__name__)\n",
        "import logging\nfrom fastapi import FastAPI\nlogging.basicConfig(format='ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s')\napp = FastAPI()\n",
    ]
    INVALID = [
        "import logging\nfrom fastapi import FastAPI\nlogging.basicConfig(level=logging.INFO)\napp = FastAPI()\n",
        "import logging\nfrom flask import Flask\nlogging.basicConfig(format='%(asctime)s %(levelname)s %(message)s')\napp = Flask(__name__)\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index) or STRUCTURED_LOGGING & index.imported_packages:
            return
        modules = dict(app_modules(index))
        sites = [(relpath, site) for relpath, site in index.logging_setup if relpath in modules]
        if not sites:
            return  # PR501's case
        for relpath, facts in modules.items():
            for name, bases in facts.classes.items():
                if "json" in name.lower() or any("json" in b.lower() for b in bases):
                    return
        for relpath, site in sites:
            text = " ".join([*site.args, *site.kwargs.values()])
            if re.search(r"json|\w+=%\(", text, re.I):
                return
        # Point at a handler that feeds a log service: error mails are read by people, as text.
        relpath, site = next((s for s in sites if not re.search(r"mail|smtp", " ".join(s[1].args), re.I)), sites[0])
        yield self.at(relpath, site.span, "plain-text log format: log services cannot search or filter by field (use JSON)")


@register
class SwallowedException(SwallowedExceptions):
    code = "PR510"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "swallowed-exception"
    category = Category.LOGGING
    severity = Severity.MEDIUM
    in_request_or_task = False
    impact = (
        "Errors vanish without a trace: something stops working and the logs show nothing, so the "
        "problem is found by customers instead of by you."
    )
    fix_summary = "Logs the exception with its traceback (logger.exception) before carrying on."
    doc = """
## What it does
Finds `except:` / `except Exception:` blocks in web application code (outside request handlers
and background tasks, which PR342 covers) that neither re-raise, log nor use the exception:
bodies of `pass`, `return None` or clean-up calls only.

## Why is this bad in production
The error is discarded at the exact place that knew what went wrong. Later failures appear
somewhere else with no cause, and debugging starts from nothing.

## Example
```python
def load_plan(user):
    try:
        return billing.fetch_plan(user.id)
    except Exception:
        return None
```

## Use instead
```python
def load_plan(user):
    try:
        return billing.fetch_plan(user.id)
    except Exception:
        logger.exception("could not fetch plan", extra={"user_id": user.id})
        return None
```

## Fix safety
Safe: behaviour is unchanged apart from the new log line.
"""
    VALID = [
        "import logging\nfrom flask import Flask\ndef load():\n    try:\n        return fetch()\n    except Exception:\n        logging.getLogger(__name__).exception('fetch failed')\n        return None\n",
        "from fastapi import FastAPI\ndef parse(value):\n    try:\n        return int(value)\n    except ValueError:\n        return None\n",
        "from fastapi import FastAPI\ndef close(conn):\n    try:\n        conn.close()\n    except Exception:\n        raise\n",
        "def library():\n    try:\n        work()\n    except Exception:\n        pass\n",
        # A check whose failure is its answer: an invalid token gives None.
        "from flask import Flask\ndef verify_auth_token(token):\n    try:\n        data = serializer.loads(token)\n    except:\n        return None\n    return data['id']\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\ndef load():\n    try:\n        return fetch()\n    except Exception:\n        return None\n",
        "import sqlalchemy\ndef cleanup(db):\n    try:\n        db.flush()\n    except:\n        pass\n",
    ]


@register
class ErrorWithoutTraceback(ModuleRule):
    code = "PR511"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "error-without-traceback"
    category = Category.LOGGING
    severity = Severity.LOW
    impact = (
        "The log says what failed but not where: without the traceback, finding the line that broke "
        "takes guesswork and a reproduction."
    )
    fix_summary = "Uses logger.exception(...) (or exc_info=True) so the traceback is logged with the message."
    doc = """
## What it does
Finds `logger.error(...)` / `logger.critical(...)` calls inside a broad `except Exception as e`
block that log the exception's text (`str(e)`, `e`, an f-string with `e`) without `exc_info`
and without re-raising it.

## Why is this bad in production
`str(e)` of a `KeyError` is just `'id'`. The traceback, which says which call failed and how it
got there, is thrown away exactly when it is needed.

## Example
```python
except Exception as e:
    logger.error(str(e))
```

## Use instead
```python
except Exception:
    logger.exception("payment failed", extra={"order_id": order.id})
```

## Fix safety
Safe: the same message, plus the traceback.
"""
    VALID = [
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef f():\n    try:\n        g()\n    except Exception:\n        logger.exception('g failed')\n",
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef f():\n    try:\n        g()\n    except Exception as e:\n        logger.error('g failed: %s', e, exc_info=True)\n",
        # Re-raised: the traceback is logged by whoever handles it.
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef f():\n    try:\n        g()\n    except ValueError as e:\n        logger.error('bad value: %s', e)\n        raise\n",
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef f():\n    try:\n        g()\n    except TimeoutError:\n        logger.warning('g timed out, retrying')\n",
        # An anticipated, narrow error: its message is the information.
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef f(raw):\n    try:\n        limit = parse(raw)\n    except ValueError as e:\n        logger.error('bad rate limit %r: %s', raw, e)\n",
    ]
    INVALID = [
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef f():\n    try:\n        g()\n    except Exception as e:\n        logger.error(str(e))\n",
        "import logging\nfrom flask import Flask\ndef f():\n    try:\n        g()\n    except Exception as exc:\n        logging.error(f'failed: {exc}')\n",
        # Raising a new HTTP error does not carry the original traceback to any log.
        "import logging\nfrom fastapi import FastAPI, HTTPException\nlogger = logging.getLogger(__name__)\ndef pay():\n    try:\n        charge()\n    except Exception as e:\n        logger.error(str(e))\n        raise HTTPException(status_code=402)\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = is_app_code(ctx)

    @staticmethod
    def reraises(node: ast.AST, name: str) -> bool:
        """`raise` / `raise e`: the original traceback travels on. `raise HTTPException(...)` does not."""
        return isinstance(node, ast.Raise) and (node.exc is None or (isinstance(node.exc, ast.Name) and node.exc.id == name))

    def visit_ExceptHandler(self, node: ast.ExceptHandler, ctx: ModuleContext) -> None:
        # A narrow `except ValueError as e` was anticipated; its message usually says enough.
        if not self.active or not node.name or not broad_handler(node):
            return
        if any(self.reraises(n, node.name) for stmt in node.body for n in ast.walk(stmt)):
            return
        for stmt in node.body:
            for call in (n for n in ast.walk(stmt) if isinstance(n, ast.Call)):
                if not is_logger_call(call) or call.func.attr not in {"error", "critical"}:
                    continue
                if any(k.arg in {"exc_info", "stack_info"} for k in call.keywords):
                    continue
                if any(isinstance(n, ast.Name) and n.id == node.name for a in call.args for n in ast.walk(a)):
                    self.report(ctx, call, f"logs `{node.name}` as text and drops the traceback: use logger.exception(...)")


@register
class NoRequestId(ProjectRule):
    code = "PR520"
    name = "no-request-id"
    category = Category.LOGGING
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "When a user reports an error, there is no id to look up: the log lines of their request are "
        "mixed with everyone else's and cannot be picked out."
    )
    fix_summary = "Adds middleware that assigns each request an id (or takes X-Request-ID), puts it in every log line and returns it in a header."
    doc = """
## What it does
Reports a web app with no request or correlation id: no middleware or package that sets one
(asgi-correlation-id, a `RequestIdMiddleware`, a `request_id` context variable) and no
`X-Request-ID` header handling anywhere in the app.

## Why is this bad in production
Concurrent requests interleave their log lines. Without an id on each line (and in the error
response) you cannot follow one request through the app, match a user's error report to the
log, or trace a call across services.

## Example
```python
app = FastAPI()
```

## Use instead
```python
from asgi_correlation_id import CorrelationIdMiddleware

app = FastAPI()
app.add_middleware(CorrelationIdMiddleware)  # X-Request-ID in, out, and in every log record
```

## Fix safety
Safe: adds a middleware and a log filter; responses gain one header.
"""
    VALID = [
        "from fastapi import FastAPI\nfrom asgi_correlation_id import CorrelationIdMiddleware\napp = FastAPI()\napp.add_middleware(CorrelationIdMiddleware)\n",
        "import uuid\nfrom flask import Flask, g, request\napp = Flask(__name__)\n@app.before_request\ndef assign_request_id():\n    g.request_id = request.headers.get('X-Request-ID') or uuid.uuid4().hex\n",
        "def not_a_web_app():\n    return 1\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef index():\n    return {}\n",
        "from flask import Flask\napp = Flask(__name__)\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index) or REQUEST_ID_PACKAGES & index.imported_packages:
            return
        for relpath, facts in app_modules(index):
            names = [*facts.functions, *facts.classes, *(s.func for s in facts.middleware), *(a for s in facts.middleware for a in s.args), *facts.imports]
            if any(REQUEST_ID_NAME.search(name) for name in names):
                return
            # Middleware and hooks are where a request id is set: read only those few modules.
            if (facts.middleware or facts.hooks) and REQUEST_ID_NAME.search(index.source(relpath)):
                return
        anchor = app_anchor(index)
        if anchor:
            yield self.at(anchor[0], anchor[1], "no request id: log lines of one request cannot be told apart from others")


@register
class SecretInLog(ModuleRule):
    code = "PR530"
    name = "secret-in-log"
    category = Category.LOGGING
    severity = Severity.HIGH
    impact = (
        "Passwords and tokens end up in log files and log services that many people and tools can "
        "read: anyone with log access can log in as your users."
    )
    fix_summary = "Removes the secret from the log call (log the user id or a short fingerprint instead)."
    doc = """
## What it does
Finds log calls and `print()` in web application code that pass a value named like a secret:
`password`, `token`, `api_key`, `secret`, `authorization`... (as an argument, inside an
f-string or `%` formatting, or in `extra={...}`). Derived values such as `token_type`,
`password_hash` or `len(password)` are not reported.

## Why is this bad in production
Logs are copied to log services, shared in tickets and kept for months, with far weaker access
control than the database. A logged password or session token is a credential leak.

## Example
```python
print(f"new signup {email} password={password}")
logger.info("login ok %s %s", user.email, token)
```

## Use instead
```python
logger.info("new signup", extra={"user_id": user.id})
```

## Fix safety
Review: the log line loses the secret value.
"""
    VALID = [
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef login(user, token):\n    logger.info('login ok', extra={'user_id': user.id, 'token_type': 'bearer'})\n",
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef check(password):\n    logger.debug('password length %d', len(password))\n",
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef charge(idempotency_key):\n    logger.warning('charge failed', extra={'idempotency_key': idempotency_key})\n",
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef rotated():\n    logger.info('password changed')\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\ndef signup(email, password):\n    print(f'new signup {email} password={password}')\n",
        "import logging\nfrom flask import Flask\nlogger = logging.getLogger(__name__)\ndef login(user, token):\n    logger.info('login ok %s %s', user.email, token)\n",
        "import logging\nfrom fastapi import FastAPI\nlogger = logging.getLogger(__name__)\ndef call(settings):\n    logger.debug('calling', extra={'key': settings.api_key})\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = is_app_code(ctx)

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active:
            return
        if not (is_logger_call(node) or (isinstance(node.func, ast.Name) and node.func.id == "print" and "print" not in ctx.imports)):
            return
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            secret = self.secret_in(arg)
            if secret:
                self.report(ctx, node, f"`{secret}` is written to the logs: anyone who can read them gets the secret")
                return

    @staticmethod
    def secret_in(node: ast.AST) -> str | None:
        todo = [node]
        while todo:
            current = todo.pop()
            if isinstance(current, ast.Call) and call_tail(current) in {"len", "bool", "type", "mask", "redact", "hash", "fingerprint"}:
                continue
            name = current.id if isinstance(current, ast.Name) else current.attr if isinstance(current, ast.Attribute) else None
            if name and SECRET_NAME.search(name) and not NOT_SECRET.search(name):
                return ast.unparse(current)
            if isinstance(current, ast.Dict):
                todo.extend(v for v in current.values if v is not None)
                continue
            if isinstance(current, ast.Attribute):
                continue  # `settings.api_key` was judged above; do not look into `settings`
            todo.extend(ast.iter_child_nodes(current))
        return None


ENGINE_FACTORIES = frozenset({"create_engine", "create_async_engine"})
DEV_ONLY_SCOPE = re.compile(r"debug|develop|\bdev\b|local|testing|\bENV\b|environment", re.I)
DEV_CLASS = re.compile(r"^(Dev|Development|Local|Test|Testing|Debug)\w*$")


@register
class SqlEchoAlwaysOn(ModuleRule):
    code = "PR521"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "sql-echo-always-on"
    category = Category.LOGGING
    severity = Severity.MEDIUM
    impact = (
        "Every query the app runs is written to the logs with its values: users' emails, password "
        "hashes and tokens end up in log files, and busy pages drown the logs you need."
    )
    fix_summary = "Ties echo to a setting that is off unless someone turns it on for development (echo=settings.sql_echo)."
    doc = """
## What it does
Finds SQLAlchemy statement echo switched on with a literal in code that runs in every
environment: `create_engine(url, echo=True)` (also `create_async_engine`, SQLModel's and
`echo="debug"`), Flask-SQLAlchemy's `SQLALCHEMY_ECHO = True` in the app config or a config
class that is not a development or testing one, and `engine_options={"echo": True}`. Echo
tied to a setting (`echo=settings.debug`) or set inside `if DEBUG:` is fine.

## Why is this bad in production
Echo logs each statement and its bound parameters at INFO through the `sqlalchemy.engine`
logger: the values users send (emails, password hashes, tokens, addresses) are copied into
the logs, which are kept longer and read by more people than the database. It also writes
several lines per query, which costs I/O on busy endpoints and buries real errors.

## Example
```python
engine = create_engine(settings.database_url, echo=True)
```

## Use instead
```python
engine = create_engine(settings.database_url, echo=settings.sql_echo)  # off unless asked for
```

## Fix safety
No automatic fix: decide which setting turns it on (development only).
"""
    VALID = [
        "from sqlalchemy import create_engine\nimport os\nengine = create_engine(os.environ['DATABASE_URL'], echo=os.getenv('SQL_ECHO') == '1')\n",
        "from sqlalchemy import create_engine\nDEBUG = False\nif DEBUG:\n    engine = create_engine('sqlite://', echo=True)\nelse:\n    engine = create_engine('sqlite://')\n",
        "class Config:\n    SQLALCHEMY_ECHO = False\nclass DevelopmentConfig(Config):\n    SQLALCHEMY_ECHO = True\n",
        {"tests/conftest.py": "from sqlalchemy import create_engine\nengine = create_engine('sqlite://', echo=True)\n"},
    ]
    INVALID = [
        "from sqlalchemy import create_engine\nengine = create_engine('postgresql://app@db/app', echo=True)\n",
        "from sqlalchemy.ext.asyncio import create_async_engine\nengine = create_async_engine('postgresql+asyncpg://db/app', echo='debug')\n",
        "from flask import Flask\napp = Flask(__name__)\napp.config['SQLALCHEMY_ECHO'] = True\n",
        "from flask_sqlalchemy import SQLAlchemy\ndb = SQLAlchemy(engine_options={'echo': True})\n",
        "class Config:\n    SQLALCHEMY_DATABASE_URI = 'sqlite:///app.db'\n    SQLALCHEMY_ECHO = True\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = not is_script_path(ctx.relpath)

    def dev_only(self, ctx: ModuleContext) -> bool:
        """Inside `if DEBUG:` / `if settings.environment == "development":` or a development config class."""
        for parent in ctx.parents:
            if isinstance(parent, ast.If) and DEV_ONLY_SCOPE.search(ast.unparse(parent.test)):
                return True
            if isinstance(parent, ast.ClassDef) and DEV_CLASS.match(parent.name):
                return True
        return False

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active or not node.keywords:
            return
        tail = (ctx.resolve(node.func) or "").rpartition(".")[2]
        if tail in ENGINE_FACTORIES:
            echo = next((k.value for k in node.keywords if k.arg == "echo"), None)
            if _echo_on(echo) and not self.dev_only(ctx):
                self.report(ctx, node, f"{tail}(echo={ast.unparse(echo)}) logs every statement with its values in every environment")
        elif tail == "SQLAlchemy" or (tail == "update" and isinstance(node.func, ast.Attribute) and (dotted(node.func.value) or "").endswith("config")):
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "engine_options" and isinstance(value, ast.Dict):
                    on = any(const_text(k) == "echo" and _echo_on(v) for k, v in zip(value.keys, value.values))
                else:
                    on = keyword.arg == "SQLALCHEMY_ECHO" and _echo_on(value)
                if on and not self.dev_only(ctx):
                    self.report(ctx, node, "SQL echo is on in every environment: each statement is logged with its values")

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        if not self.active or not _echo_on(node.value) or self.dev_only(ctx):
            return
        for target in node.targets:
            key = target.id if isinstance(target, ast.Name) else const_text(target.slice) if isinstance(target, ast.Subscript) else None
            in_class = any(isinstance(p, ast.ClassDef) for p in ctx.parents)
            config_module = re.search(r"(^|/)(config|settings)[^/]*\.py$", ctx.relpath) is not None  # app.config.from_object("config")
            if key == "SQLALCHEMY_ECHO" and (isinstance(target, ast.Subscript) or in_class or config_module):
                self.report(ctx, node, "SQLALCHEMY_ECHO = True in every environment: each statement is logged with its values")
            elif isinstance(target, ast.Attribute) and target.attr == "echo" and "engine" in (dotted(target.value) or "").lower():
                self.report(ctx, node, "engine.echo = True in every environment: each statement is logged with its values")


def _echo_on(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and (node.value is True or node.value == "debug")


def const_text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

"""Step 5 — logging (PR5xx): logging set up once, structured, request ids, no print, no swallowed errors."""

from __future__ import annotations

import ast

from auditor.models import Category, Severity
from auditor.rules.base import ModuleRule, register
from auditor.walk import ModuleContext

SCRIPT_PARTS = ("tests/", "test_", "conftest.py", "scripts/", "manage.py", "setup.py", "migrations/", "alembic/", "docs/", "examples/")


def is_app_code(ctx: ModuleContext) -> bool:
    """Web app modules: not tests, scripts or migrations, and importing a web framework or ORM."""
    path = ctx.relpath
    if any(part in path for part in SCRIPT_PARTS):
        return False
    return any(ctx.imports_module(m) for m in ("fastapi", "flask", "starlette", "sqlalchemy", "sqlmodel", "quart"))


@register
class PrintInAppCode(ModuleRule):
    code = "PR502"
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
Finds `print()` calls in web application modules (not in tests, scripts or migrations, and
not inside `if __name__ == "__main__":`).

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
        {"tests/test_app.py": "from fastapi.testclient import TestClient\nprint('debug in a test')\n"},
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef index():\n    print('hit index')\n    return {}\n",
        "from flask import Flask\ndef load(user):\n    print(f'loading {user}')\n",
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
        self.report(ctx, node, "print() used for diagnostics: it has no level, time or request id and may never reach your logs")

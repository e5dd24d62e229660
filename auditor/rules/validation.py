"""Step 3 — validation (PR3xx): schemas at entry points, injection, pagination, idempotency, async errors."""

from __future__ import annotations

import ast

from auditor.models import Category, Severity
from auditor.rules.base import ModuleRule, register
from auditor.walk import ModuleContext

TASK_SPAWNERS = {"asyncio.create_task", "asyncio.ensure_future", "loop.create_task"}


@register
class FireAndForgetTask(ModuleRule):
    code = "PR340"
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
thrown away.

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
        "import asyncio\ntasks = set()\nasync def f():\n    t = asyncio.create_task(g())\n    tasks.add(t)\n",
        "import asyncio\nasync def f():\n    await asyncio.create_task(g())\n",
        "import asyncio\nasync def f():\n    return asyncio.gather(asyncio.create_task(g()))\n",
    ]
    INVALID = [
        "import asyncio\nasync def f():\n    asyncio.create_task(send_email())\n",
        "from asyncio import ensure_future\nasync def f():\n    ensure_future(work())\n",
    ]

    def visit_Expr(self, node: ast.Expr, ctx: ModuleContext) -> None:
        if isinstance(node.value, ast.Call) and ctx.resolve(node.value.func) in TASK_SPAWNERS:
            self.report(ctx, node.value, "task result discarded: its exceptions are lost and it may be garbage-collected mid-run")

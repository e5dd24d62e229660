"""Step 2 — infrastructure (PR2xx): auth, secrets, pooling, rate limits, timeouts."""

from __future__ import annotations

import ast

from auditor.index.project import is_test_path
from auditor.models import Category, Severity
from auditor.rules.base import ModuleRule, register
from auditor.walk import ModuleContext, kwarg

HTTP_CLIENT_CALLS = {
    f"{lib}.{verb}"
    for lib in ("requests", "httpx")
    for verb in ("get", "post", "put", "patch", "delete", "head", "options", "request")
} | {"urllib.request.urlopen"}
# Other blocking clients whose timeout can also be passed positionally: callee -> index of that argument.
POSITIONAL_TIMEOUT = {
    "urllib.request.urlopen": 2,
    "smtplib.SMTP": 3,
    "smtplib.SMTP_SSL": 3,
    "http.client.HTTPConnection": 2,
    "http.client.HTTPSConnection": 2,
}


@register
class OutboundCallWithoutTimeout(ModuleRule):
    code = "PR250"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "outbound-http-without-timeout"
    category = Category.RESILIENCE
    severity = Severity.MEDIUM
    impact = (
        "When the other service hangs, each request that calls it hangs too; a handful of slow "
        "calls ties up every worker and the whole app stops answering."
    )
    fix_summary = "Adds an explicit timeout to the call, so a slow service fails fast instead of freezing workers."
    doc = """
## What it does
Finds outbound HTTP calls made with `requests`, `httpx` or `urllib.request.urlopen` that set
no `timeout`, and blocking `smtplib.SMTP` / `http.client` connections opened without one.

## Why is this bad in production
`requests` waits forever by default. When a payment provider, email API or webhook target
slows down, every worker blocks on it and your own app stops responding.

## Example
```python
import requests
def notify(url, payload):
    requests.post(url, json=payload)
```

## Use instead
```python
import requests
def notify(url, payload):
    requests.post(url, json=payload, timeout=10)
```

## Fix safety
Safe: a call that used to hang now raises a timeout error after a generous limit.
"""
    VALID = [
        "import requests\nrequests.get('https://api.example.com', timeout=5)\n",
        "import httpx\nclient = httpx.Client(timeout=5)\nclient.get('https://api.example.com')\n",
        "from urllib.request import urlopen\nurlopen('https://example.com', timeout=3)\n",
        "import smtplib\ndef send(host):\n    with smtplib.SMTP(host, 587, timeout=10) as s:\n        s.noop()\n",
        "import requests\ndef fetch(**kw):\n    return requests.get('https://x', **kw)\n",
        {"tests/test_mail.py": "import smtplib\ndef test_send(server):\n    smtplib.SMTP('localhost', server.port).noop()\n"},
    ]
    INVALID = [
        "import requests\nrequests.get('https://api.example.com')\n",
        "import httpx\nasync def f():\n    httpx.post('https://api.example.com', json={})\n",
        "from urllib.request import urlopen\nurlopen('https://example.com')\n",
        "import smtplib\ndef send(host, port):\n    with smtplib.SMTP(host, port) as s:\n        s.noop()\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = not is_test_path(ctx.relpath)  # a test talking to its local fake server

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        func = ctx.resolve(node.func) if self.active else None
        if func not in HTTP_CLIENT_CALLS and func not in POSITIONAL_TIMEOUT:
            return
        if kwarg(node, "timeout") is not None or any(k.arg is None for k in node.keywords):
            return
        if func in POSITIONAL_TIMEOUT and len(node.args) > POSITIONAL_TIMEOUT[func]:
            return
        self.report(ctx, node, f"{func}() has no timeout: a slow service will hang this worker")

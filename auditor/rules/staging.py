"""Step 4 — staging (PR4xx): settings from the environment, per-environment config, health checks, failure-path tests."""

from __future__ import annotations

import re
from collections.abc import Iterable

from auditor.models import Category, Finding, Severity
from auditor.rules.base import ProjectRule, register

HEALTH_PATH = re.compile(r"/(health|healthz|healthcheck|health-check|ready|readyz|livez|ping|status)/?$", re.I)


@register
class NoHealthEndpoint(ProjectRule):
    code = "PR430"
    name = "no-health-endpoint"
    category = Category.STAGING
    severity = Severity.LOW
    impact = (
        "Without a health endpoint the load balancer or platform cannot tell a broken instance from a "
        "working one: it keeps sending users to an app whose database is down."
    )
    fix_summary = "Adds a /health route that checks the database and answers 200 or 503."
    doc = """
## What it does
Reports a web app (FastAPI or Flask routes found) that has no health-check route such as
`/health`, `/healthz` or `/ready`.

## Why is this bad in production
Deploy platforms, load balancers and uptime monitors need one cheap URL that says whether this
instance can serve traffic. Without it, a bad deploy or a lost database connection keeps
receiving users until someone notices by hand.

## Example
```python
app = FastAPI()

@app.get("/tasks")
def list_tasks(): ...
```

## Use instead
```python
@app.get("/health")
def health(db: Session = Depends(get_db)):
    db.execute(text("SELECT 1"))
    return {"status": "ok"}
```

## Fix safety
Safe: adds a new route and changes no existing one.
"""
    VALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/tasks')\ndef tasks():\n    return []\n@app.get('/health')\ndef health():\n    return {}\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/healthz')\ndef hz():\n    return 'ok'\n",
        "def not_a_web_app():\n    return 1\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/tasks')\ndef tasks():\n    return []\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/items')\ndef items():\n    return []\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        routes = index.routes
        if not routes or any(HEALTH_PATH.search(r.path) for r in routes):
            return
        apps = [(rel, decl) for rel, decl in index.routers.values() if decl.kind.endswith("-app")]
        anchor = apps[0] if apps else (routes[0].relpath, routes[0])
        yield self.at(anchor[0], anchor[1].span, "no health-check route (/health): platforms cannot tell when this app is broken")

"""Step 3 — validation: SQL and template injection (PR310, PR311), from the taint analysis in `taint.py`."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.rules.taint import HIGH, hits_for


@register
class SqlInjection(ProjectRule):
    code = "PR310"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "sql-injection"
    category = Category.VALIDATION
    severity = Severity.HIGH
    impact = (
        "Anyone can change what your database query does by typing into a search box or URL: read "
        "other users' data, log in as someone else, or delete tables."
    )
    fix_summary = "Passes the request values as bound parameters (`:name` / `?`) instead of pasting them into the SQL text."
    doc = """
## What it does
Finds SQL text built with an f-string, `%`, `.format()` or `+` from values that come from the
request — query and path parameters, JSON and form bodies, Flask's `request.*` and `session` —
followed through local variables and into the project's own helper functions, when the text
reaches `execute()`, `text()` or a similar call. Values that are converted to numbers, picked
from a constant whitelist, or checked with `in ALLOWED` are not reported (whole numbers formatted
into SQL get a low-severity note).

## Why is this bad in production
`q = "x' OR '1'='1"` turns `WHERE title LIKE '%{q}%'` into a query that returns every row;
with `;` or a `UNION` an attacker reads other tables or changes data. Column names from the
request (`ORDER BY {sort}`) are just as exploitable.

## Example
```python
@router.get("/tasks/search")
def search(q: str, db: Session = Depends(get_db)):
    return db.execute(text(f"SELECT * FROM tasks WHERE title LIKE '%{q}%'")).all()
```

## Use instead
```python
@router.get("/tasks/search")
def search(q: str, db: Session = Depends(get_db)):
    return db.execute(text("SELECT * FROM tasks WHERE title LIKE :q"), {"q": f"%{q}%"}).all()
```

## Fix safety
Safe: the query does the same for ordinary input; only injected SQL stops working.
"""
    VALID = [
        # Bound parameters: the value never becomes SQL text.
        "from fastapi import FastAPI\nfrom sqlalchemy import text\napp = FastAPI()\n@app.get('/search')\ndef search(q: str, db=None):\n    return db.execute(text('SELECT * FROM tasks WHERE title LIKE :q'), {'q': f'%{q}%'}).all()\n",
        # An f-string whose pieces come from a whitelist dict and constant branches.
        "from fastapi import FastAPI\nfrom sqlalchemy import text\napp = FastAPI()\nCOLUMNS = {'created': 'created_at', 'title': 'title'}\n@app.get('/tasks')\ndef tasks(sort: str = 'created', desc: bool = False, db=None):\n    column = COLUMNS[sort]\n    direction = 'DESC' if desc else 'ASC'\n    return db.execute(text(f'SELECT id FROM tasks ORDER BY {column} {direction} LIMIT :n'), {'n': 50}).all()\n",
        "from flask import Flask, abort, request\napp = Flask(__name__)\nALLOWED = ('id', 'name', 'price')\n@app.get('/items')\ndef items():\n    sort = request.args.get('sort', 'id')\n    if sort not in ALLOWED:\n        abort(400)\n    return get_db().execute(f'SELECT * FROM items ORDER BY {sort} LIMIT 50').fetchall()\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.get('/items/<int:item_id>')\ndef item(item_id):\n    return get_db().execute('SELECT * FROM items WHERE id = ?', (item_id,)).fetchone()\n",
        # Built from constants only; no request value involved.
        "import sqlite3\nTABLES = ['users', 'orders']\ndef counts(conn):\n    return {t: conn.execute(f'SELECT COUNT(*) FROM {t}').fetchone() for t in TABLES}\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\nfrom sqlalchemy import text\napp = FastAPI()\n@app.get('/search')\ndef search(q: str, db=None):\n    return db.execute(text(f\"SELECT * FROM tasks WHERE title LIKE '%{q}%'\")).all()\n",
        "from flask import Flask, request\napp = Flask(__name__)\n@app.route('/items')\ndef items():\n    sort = request.args.get('sort', 'id')\n    return get_db().execute('SELECT * FROM items ORDER BY %s' % sort).fetchall()\n",
        "from flask import Blueprint\nbp = Blueprint('items', __name__)\n@bp.route('/<id>')\ndef item(id):\n    return get_db().execute('SELECT * FROM items WHERE id = ' + id).fetchone()\n",
        # Through a local variable and a helper function in the same module.
        "from flask import Flask, request\napp = Flask(__name__)\ndef find(db, email):\n    sql = \"SELECT * FROM users WHERE email = '{}'\".format(email)\n    return db.execute(sql).fetchone()\n@app.post('/login')\ndef login():\n    email = request.form['email']\n    return find(get_db(), email)\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        for hit in hits_for(index):
            if hit.kind != "sql":
                continue
            if hit.level == HIGH:
                yield self.at(hit.relpath, hit.node, f"SQL text built from {hit.source} and passed to {hit.sink}: use bound parameters")
            else:
                yield self.at(
                    hit.relpath,
                    hit.node,
                    f"SQL text built from {hit.source}, a number here (so not exploitable as written): use bound parameters",
                    severity=Severity.LOW,
                    confidence=Confidence.MEDIUM,
                )


@register
class TemplateInjection(ProjectRule):
    code = "PR311"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "template-injection"
    category = Category.VALIDATION
    severity = Severity.HIGH
    impact = (
        "A visitor can send text that your server runs as a template: it can read your configuration "
        "and secret keys, and sometimes run commands on the server."
    )
    fix_summary = "Keeps the template constant and passes the request values to it as variables."
    doc = """
## What it does
Finds templates compiled from request data: `render_template_string(...)`, `jinja2.Template(...)`
or `Environment.from_string(...)` whose template text comes from the request (directly, through
variables, or built with f-strings/concatenation).

## Why is this bad in production
Jinja evaluates expressions: `{{ config }}` prints the app's settings and secret key, and known
payloads escalate to running code on the server (server-side template injection).

## Example
```python
@app.route("/hello")
def hello():
    return render_template_string(f"<h1>Hello {request.args['name']}</h1>")
```

## Use instead
```python
@app.route("/hello")
def hello():
    return render_template_string("<h1>Hello {{ name }}</h1>", name=request.args["name"])
```

## Fix safety
Safe: the page renders the same; the value is now escaped data, not template code.
"""
    VALID = [
        "from flask import Flask, render_template_string, request\napp = Flask(__name__)\n@app.route('/hello')\ndef hello():\n    return render_template_string('<h1>Hello {{ name }}</h1>', name=request.args['name'])\n",
        "from flask import Flask, render_template_string\napp = Flask(__name__)\nPAGE = '<p>{{ n }}</p>'\n@app.route('/n/<int:n>')\ndef show(n):\n    return render_template_string(PAGE, n=n)\n",
    ]
    INVALID = [
        "from flask import Flask, render_template_string, request\napp = Flask(__name__)\n@app.route('/hello')\ndef hello():\n    return render_template_string(f\"<h1>Hello {request.args['name']}</h1>\")\n",
        "from fastapi import FastAPI\nfrom jinja2 import Template\napp = FastAPI()\n@app.post('/preview')\ndef preview(body: str):\n    return Template(body).render()\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        for hit in hits_for(index):
            if hit.kind == "template":
                yield self.at(hit.relpath, hit.node, f"template compiled from {hit.source} ({hit.sink}): pass values as variables instead")

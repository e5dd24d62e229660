"""Step 2 — infrastructure (PR20x, PR240): who may call each route, and how often."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.config import public_route_matches
from auditor.index.auth_model import FEED_PATH, GROUP_COLUMN, OWNER_COLUMN, auth_model
from auditor.index.facts import Span
from auditor.index.endpoint_roles import GUESSABLE_ROLES, PASSWORD_RESET, TOKEN_FOR_ANYONE, WEBHOOK
from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.rules.querying import data_shape, is_query_call, sql_text
from auditor.rules.route_code import (
    checks_ownership,
    handler_node,
    id_params,
    lookups_by,
    path_params,
    resolve_helper,
    tables_touched,
    user_params,
)
from auditor.walk import dotted

# Public by design: probes and docs at the top of the app, and the ways to get a login at all.
PUBLIC_PATH = re.compile(
    r"^/(health\w*|ready\w*|live\w*|ping|status|version|metrics|meta)(/|$)|"
    r"^/(docs|redoc|openapi\.json|swagger[\w.-]*|favicon\.ico|robots\.txt)(/oauth2-redirect)?/?$|"
    r"(^|/)(login|logout|signin|sign-in|signup|sign-up|register|token|refresh|verify[-_]?email|confirm[-_]?email|"
    r"callback|oauth\w*|auth|static|public|[\w-]*password[-_]?(reset|recovery)|(reset|recover|forgot)[-_]?password)(/|$)",
    re.I,
)
WEBHOOK_PATH = re.compile(r"(^|/)(webhooks?|hooks?)(/|$)", re.I)
SIGNATURE_WORDS = re.compile(r"(hmac|compare_digest|signature|construct_event|verify|validate_request)", re.I)
ADMIN_PATH = re.compile(r"(^|/)(admin|staff|internal|superuser|backoffice|back-office|manage|management|moderation)(/|$)", re.I)
ADMIN_NAME = re.compile(r"(^|_)(admin|staff|superuser|superadmin)(_|$)", re.I)
ROLE_ATTRS = frozenset({"role", "roles", "is_admin", "is_staff", "is_superuser", "permissions", "scopes"})
AUTH_ROUTE = re.compile(
    r"(login|signin|sign-in|sign_in|signup|sign-up|sign_up|register|token|password|forgot|reset|otp|2fa|mfa|magic|verify)", re.I
)
ROLE_DECORATOR = re.compile(
    r"^((admin|staff|superuser|role|roles|permission|permissions)_(required|only|accepted)|requires?_(admin|staff|superuser|roles?|permissions?))$", re.I
)
OWNERSHIP_GUARD = re.compile(r"(owner|member|access|permission|authori[sz]|policy|can_)", re.I)  # @require_project_access
LIMIT_DECORATOR = re.compile(r"(limit|throttl)", re.I)  # @limiter.limit(...), Depends(RateLimiter(...))
LIMIT_CALL = re.compile(r"(rate_?limit|throttl|limiter)", re.I)  # a check called in the handler
LIMIT_PACKAGES = ("slowapi", "flask_limiter", "fastapi_limiter", "limits", "ratelimit", "django_ratelimit")


# The auth module the examples below import: a FastAPI dependency answering 401.
EXAMPLE_AUTH = """
from fastapi import Depends, HTTPException
def get_current_user(token: str = ""):
    if not token:
        raise HTTPException(status_code=401)
    return token
"""


def _resource(path: str) -> str:
    """The resource a path is about: `/api/v1/tasks/{id}` -> `tasks`."""
    for segment in path.strip("/").split("/"):
        if not re.fullmatch(r"api|v\d+|[{<].*", segment):
            return segment
    return ""


def _account_params(route) -> list[str]:
    """Path parameters that name an account: row ids, and user names (`/users/<username>/password`)."""
    return [*id_params(route.path), *(p for p in path_params(route.path) if re.fullmatch(r"user_?name|email|login|handle", p, re.I))]


def _by_public_handle(route) -> bool:
    """The path names its object by a public handle (user name, slug), not by a row id."""
    params = path_params(route.path)
    return bool(params) and all(re.fullmatch(r"(user_?name|username|handle|slug|login|nickname|screen_name)", p, re.I) for p in params)


def _public_by_config(index, route) -> bool:
    return public_route_matches(index.public_routes, route.path, route.methods)


def _verifies_signature(index, route, node: ast.AST) -> bool:
    """A webhook that checks an HMAC signature itself or in a helper it calls."""
    calls = list(route.handler.calls)
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            helper = resolve_helper(index, route.relpath, sub)
            if helper is not None:
                calls += [dotted(c.func) or "" for c in ast.walk(helper[1]) if isinstance(c, ast.Call)]
                calls.append(helper[1].name)
    return any(SIGNATURE_WORDS.search(call) for call in calls)


def checks_owner(index, route, node: ast.AST, users: set[str]) -> bool:
    """The handler compares its data with the logged-in user (see `checks_ownership`), or calls a
    project helper that does so with a user it reads itself (`current_user`, `g.user`,
    `auth.current_user()`) -- `note = note_or_404(id)` that aborts with 404 for other users' notes."""
    if checks_ownership(index, route.relpath, node, users):
        return True
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            helper = resolve_helper(index, route.relpath, sub)
            if helper is not None and helper[1] is not node and checks_ownership(index, helper[0], helper[1], frozenset(), depth=1):
                return True
    return False


@register
class UnauthenticatedRoute(ProjectRule):
    code = "PR201"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "unauthenticated-route"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = (
        "Anyone on the internet can call this route without logging in: read other people's data, or "
        "change and delete it."
    )
    fix_summary = "Adds the login check the routes next to it already use (the same dependency, decorator or auth object)."
    doc = """
## What it does
In an app that has authentication, finds routes with none — no auth dependency (on the
route, its router or the app), no login decorator, no `before_request` hook — that change
data or return rows belonging to users. Routes that are public by design are left alone:
health and version checks, docs, and login, signup, token, password-reset endpoints and
webhooks recognised by what their code does (hashes a new password and inserts a user,
verifies a password, issues a token, compares an HMAC signature), whatever they are called.
Routers mounted only in development, routers nothing mounts, and routes whose login check
lives in a file that could not be parsed are not reported either. Routes listed in
`public-routes` are never reported.

## Why is this bad in production
One forgotten `Depends(get_current_user)` is enough to expose a whole table: IDs are easy to
guess, and scanners try every route of an API within hours of it going live.

## Example
```python
@router.delete("/tasks/{task_id}")
def delete_task(task_id: int, db: Session = Depends(get_db)):
    ...
```

## Use instead
```python
@router.delete("/tasks/{task_id}")
def delete_task(task_id: int, db: Session = Depends(get_db), user: User = Depends(get_current_user)):
    ...
```

## Fix safety
Review: callers without credentials start getting 401 (or whatever the routes next to it answer:
the fix copies their check). Left to you, with the reason: routes that create accounts or hand
out logins, reads that no other route guards (they may be public on purpose), and JSON routes
whose only available check redirects to an HTML login page.
"""
    _MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)
class Task(Base):
    __tablename__ = "tasks"
    id = Column(Integer, primary_key=True)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)
"""
    VALID = [
        {
            "models.py": _MODELS,
            "auth.py": EXAMPLE_AUTH,
            "app.py": """
import hashlib, hmac
from fastapi import APIRouter, Depends, FastAPI, Request
from auth import get_current_user
from models import Task, User
app = FastAPI()
private = APIRouter(prefix="/tasks", dependencies=[Depends(get_current_user)])
@private.delete("/{task_id}")
def delete_task(task_id: int, db=None):
    db.delete(db.get(Task, task_id))
app.include_router(private)
@app.get("/health")
def health():
    return {"ok": True}
@app.post("/auth/login")
def login(form: dict, db=None):
    return db.query(User).filter(User.email == form["email"]).first()
@app.post("/auth/password-reset")
def reset(body: dict):
    return {}
@app.post("/webhooks/payments")
async def payment_webhook(request: Request):
    body = await request.body()
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers["X-Signature"]):
        return {"ok": False}
    return {"ok": True}
@app.get("/catalog")
def catalog():
    return [{"sku": "a"}]
""",
        },
        {
            "app.py": """
import functools
from flask import Blueprint, Flask, session
bp = Blueprint("orders", __name__)
@bp.before_request
def require_login():
    if "user_id" not in session:
        return {"error": "login required"}, 401
@bp.route("/<int:id>", methods=["DELETE"])
def delete_order(id):
    return {}
def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if session.get("user_id") is None:
            return {}, 401
        return view(*args, **kwargs)
    return wrapped
app = Flask(__name__)
app.register_blueprint(bp, url_prefix="/orders")
@app.route("/items", methods=["POST"])
@login_required
def create_item():
    return {}
""",
        },
        {
            "models.py": _MODELS,
            "auth.py": EXAMPLE_AUTH,
            "app.py": """
import os
from fastapi import APIRouter, Depends, FastAPI
from passlib.context import CryptContext
from auth import get_current_user
from models import Task, User
pwd_context = CryptContext(schemes=["bcrypt"])
app = FastAPI()
@app.get("/tasks")
def tasks(user=Depends(get_current_user), db=None):
    return db.query(Task).filter(Task.owner_id == user.id).all()
@app.post("/members")                  # signup, by what it does
def join(body: dict, db=None):
    db.add(User(email=body["email"], password_hash=pwd_context.hash(body["password"])))
debug = APIRouter(prefix="/debug")
@debug.delete("/tasks/{task_id}")
def drop(task_id: int, db=None):
    db.delete(db.get(Task, task_id))
if os.getenv("ENV") == "development":   # never served in production
    app.include_router(debug)
""",
        },
    ]
    INVALID = [
        {
            "models.py": _MODELS,
            "auth.py": EXAMPLE_AUTH,
            "app.py": """
from fastapi import APIRouter, Depends, FastAPI
from auth import get_current_user
from models import Task
router = APIRouter(prefix="/tasks")
@router.get("/")
def list_tasks(user=Depends(get_current_user), db=None):
    return db.query(Task).filter(Task.owner_id == user.id).all()
@router.delete("/{task_id}")
def delete_task(task_id: int, db=None):
    db.delete(db.get(Task, task_id))
""",
        },
        {
            "schema.sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES users(id));",
            "app.py": """
from flask import Flask, session
from flask_login import login_required
app = Flask(__name__)
@app.route("/items", methods=["POST"])
@login_required
def create_item():
    return {}
@app.route("/items/<int:id>", methods=["GET"])
def get_item(id):
    return db().execute("SELECT * FROM items WHERE id = ?", (id,)).fetchone()
@app.route("/webhooks/shipping", methods=["POST"])
def shipping_webhook():
    return {}
""",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        model = auth_model(index)
        if not model.has_auth or model.middleware_auth:
            return
        routes = index.routes
        shape = data_shape(index)
        sensitive = set(model.owned) | shape.users
        guarded = {_resource(r.path) for r in routes if model.of(r).guarded and not r.is_mutating}
        for ra in model.routes:
            route = ra.route
            # Guarded (even weakly: PR204 says so), not served (mounted only in development, or
            # never), or public by what it does (signup, login, token, reset, webhook).
            if ra.guarded or not ra.served or _public_by_config(index, route):
                continue
            node = handler_node(index, route)
            if node is None:
                continue
            if ra.role == WEBHOOK or WEBHOOK_PATH.search(route.path):
                if ra.role != WEBHOOK and not _verifies_signature(index, route, node):
                    yield self.at(route.relpath, route, f"{route.label()} is a public webhook that does not verify a signature: anyone can send it fake events")
                continue
            if ra.public_by_design or PUBLIC_PATH.search(route.path):
                continue
            touched = [t for t in tables_touched(node, shape) if t in sensitive]
            if route.is_mutating:
                confidence = Confidence.HIGH if touched else Confidence.MEDIUM
                yield self.at(route.relpath, route, f"{route.label()} changes data and requires no login", confidence=confidence)
            elif touched and _by_public_handle(route) and all(t in shape.users or model.public_table(t) for t in touched):
                continue  # a profile page by user name (/user/<username>): public on purpose
            elif touched:
                # A read next to guarded reads of the same resource is most likely an oversight.
                confidence = Confidence.MEDIUM if _resource(route.path) in guarded else Confidence.LOW
                yield self.at(
                    route.relpath, route, f"{route.label()} returns {touched[0]} rows and requires no login", confidence=confidence
                )


@register
class AdminRouteWithoutRoleCheck(ProjectRule):
    code = "PR202"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "admin-route-without-role-check"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = (
        "Any signed-up user can use the admin features: list every account, delete other users or make "
        "themselves an administrator."
    )
    fix_summary = "Adds a role check (a require_admin dependency or decorator) to the route."
    doc = """
## What it does
Finds routes that require a login but check no role or permission although they are admin
features: the path or the handler name says admin/staff/internal, the handler changes a
role or admin flag, or it changes another user's account loaded by an id from the path.

## Why is this bad in production
Authentication only says who the caller is. Signing up is open to anyone, so an admin route
guarded by login alone is open to anyone too.

## Example
```python
@router.delete("/admin/users/{user_id}")
def admin_delete_user(user_id: int, user: User = Depends(get_current_user)):
    ...
```

## Use instead
```python
def require_admin(user: User = Depends(get_current_user)) -> User:
    if user.role != "admin":
        raise HTTPException(status_code=403)
    return user

@router.delete("/admin/users/{user_id}")
def admin_delete_user(user_id: int, admin: User = Depends(require_admin)):
    ...
```

## Fix safety
Review: non-admin callers start getting 403.
"""
    VALID = [
        {
            "deps.py": """
from fastapi import Depends, HTTPException
def get_current_user(token: str = ""):
    if not token:
        raise HTTPException(status_code=401)
    return token
def require_admin(user=Depends(get_current_user)):
    if user.role != "admin":
        raise HTTPException(status_code=403)
    return user
""",
            "app.py": """
from fastapi import APIRouter, Depends, FastAPI
from deps import get_current_user, require_admin
admin = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])
@admin.get("/users")
def list_users():
    return []
app = FastAPI()
app.include_router(admin)
@app.get("/users/me/admin-notes")   # the caller's own data
def my_notes(user=Depends(get_current_user)):
    return user.notes
@app.post("/staff/{user_id}/promote")
def promote(user_id: int, user=Depends(get_current_user)):
    if not user.is_superuser:
        raise HTTPException(status_code=403)
""",
        },
        {
            "app.py": """
from flask import Flask
from flask_login import login_required, current_user
from flask_principal import Permission
app = Flask(__name__)
@app.route("/admin/stats")
@login_required
@roles_required("admin")
def stats():
    return {}
""",
        },
    ]
    INVALID = [
        {
            "models.py": """
from sqlalchemy import Boolean, Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    role = Column(String, default="member")   # "admin" for administrators
    is_admin = Column(Boolean, default=False)
""",
            "app.py": """
from fastapi import Depends, FastAPI, HTTPException
from models import User
def get_current_user(token: str = ""):
    if not token:
        raise HTTPException(status_code=401)
    return token
app = FastAPI()
@app.get("/admin/users")
def admin_list_users(user=Depends(get_current_user), db=None):
    return db.query(User).all()
@app.post("/users/{user_id}/role")
def set_role(user_id: int, body: dict, user=Depends(get_current_user), db=None):
    target = db.get(User, user_id)
    target.role = body["role"]
""",
        },
        {
            "app.py": """
from flask import Flask
from flask_login import login_required
app = Flask(__name__)
@app.route("/internal/reindex", methods=["POST"])
@login_required
def reindex():
    return {}
""",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        model = auth_model(index)
        for ra in model.routes:
            route = ra.route
            if not (ra.verified or ra.weak) or ra.role_checked or not ra.served:
                continue
            node = handler_node(index, route)
            if node is None:
                continue
            reason = None
            if ADMIN_PATH.search(route.path) or ADMIN_NAME.search(route.handler.name):
                reason = "is an admin route"
            elif self._writes_role(node):
                reason = "changes a role or admin flag"
            elif route.is_mutating and _account_params(route) and self._changes_other_user(index, route, node, data_shape(index)):
                reason = "changes another user's account"
            if reason:
                yield self.at(route.relpath, route, f"{route.label()} {reason} but only checks that the caller is logged in, not their role")

    @staticmethod
    def _writes_role(node: ast.AST) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Assign, ast.AugAssign)):
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
                if any(isinstance(t, ast.Attribute) and t.attr in ROLE_ATTRS for t in targets):
                    return True
        return False

    @staticmethod
    def _changes_other_user(index, route, node: ast.AST, shape) -> bool:
        lookups = [call for call in lookups_by(node, set(_account_params(route))) if any(t in shape.users for t in tables_touched(call, shape))]
        if not lookups or not any(_writes_to(node, call) for call in lookups):
            return False  # following or messaging another user reads their row, it does not change it
        return not checks_owner(index, route, node, user_params(index, route) | auth_model(index).of(route).user_params)


CHANGING_METHOD = re.compile(r"^(set_\w+|update\w*|delete|remove|ban|block|promote|demote|activate|deactivate|disable|enable|reset\w*)$")


def _writes_to(node: ast.AST, lookup: ast.Call) -> bool:
    """The row a lookup loads is changed: its attributes assigned, itself deleted, a changing method
    called on it, or the query chained into .update()/.delete()."""
    parents = {id(child): parent for parent in ast.walk(node) for child in ast.iter_child_nodes(parent)}
    holder = parents.get(id(lookup))
    while isinstance(holder, (ast.Attribute, ast.Call, ast.BoolOp)) and not isinstance(holder, ast.Assign):
        if isinstance(holder, ast.Attribute) and holder.attr in {"update", "delete"}:
            return True
        holder = parents.get(id(holder))
    if not isinstance(holder, ast.Assign):
        return True  # cannot follow the row: keep the finding
    names = {t.id for t in holder.targets if isinstance(t, ast.Name)}
    for sub in ast.walk(node):
        if isinstance(sub, (ast.Assign, ast.AugAssign)):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            if any(isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in names for t in targets):
                return True
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            receiver = sub.func.value
            if isinstance(receiver, ast.Name) and receiver.id in names and CHANGING_METHOD.match(sub.func.attr):
                return True
            if sub.func.attr == "delete" and any(isinstance(a, ast.Name) and a.id in names for a in sub.args):
                return True
    return False


def _listed_whole(index, model, route) -> set[str]:
    """Tables the collection route next to `route` (same router, same resource, no path parameters,
    behind the login) returns whole: `Post.select()`, `db.query(Post).all()`, `select(Post)`."""
    shape = data_shape(index)
    resource = _resource(route.path)
    found: set[str] = set()
    for ra in model.routes:
        other = ra.route
        if other is route or not ra.guarded or "GET" not in other.methods or path_params(other.path):
            continue
        if other.router != route.router or _resource(other.path) != resource:
            continue
        node = handler_node(index, other)
        if node is None:
            continue
        chained = {id(sub.value) for sub in ast.walk(node) if isinstance(sub, ast.Attribute)}  # Post.select() in Post.select().where(...)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and id(sub) not in chained and _whole_table(sub, shape):
                found |= set(tables_touched(sub, shape))
    return found


def _whole_table(call: ast.Call, shape) -> bool:
    if MissingOwnershipCheck._unfiltered(call, shape):
        return True
    text = ast.unparse(call)
    simple = isinstance(call.func, ast.Attribute) and call.func.attr == "select" and not call.args or (
        (dotted(call.func) or "").rpartition(".")[2] == "select" and len(call.args) == 1
    )
    return simple and not re.search(r"\.(where|filter|filter_by|join)\(", text)


REQUEST_DATA = re.compile(r"^request\.(json|form|args|values|get_json|data)\b")


def _request_locals(node: ast.AST) -> set[str]:
    """Locals holding the request's data: `data = request.get_json()`, `form = request.form`."""
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assign) and REQUEST_DATA.match(ast.unparse(sub.value)):
            found |= {t.id for t in sub.targets if isinstance(t, ast.Name)}
    return found


def _from_request(value: ast.AST, body_names: set[str]) -> bool:
    """`data.owner_id`, `body["team_id"]`, `request.json["team_id"]`, `request.form.get("owner_id")`."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr == "get":
        value = value.func.value
    elif isinstance(value, (ast.Attribute, ast.Subscript)):
        value = value.value
    else:
        return False
    return (isinstance(value, ast.Name) and value.id in body_names) or bool(REQUEST_DATA.match(ast.unparse(value)))


def _insert_from_request(call: ast.Call, body_names: set[str]) -> str | None:
    """`INSERT INTO notes (user_id, body) VALUES (?, ?)` with the user_id taken from the request."""
    text = sql_text(call.args[0]) or ""
    match = re.match(r"\s*insert\s+into\s+[\"`]?(\w+)[\"`]?\s*\(([^)]*)\)", text, re.I)
    if not match or len(call.args) < 2 or not isinstance(call.args[1], (ast.Tuple, ast.List)):
        return None
    columns = [c.strip(" \"`") for c in match.group(2).split(",")]
    for column, value in zip(columns, call.args[1].elts):
        if _from_request(value, body_names):
            if OWNER_COLUMN.match(column):
                return f"inserts into {match.group(1)} with {column} from the request: a user can create rows in someone else's name"
            if GROUP_COLUMN.match(column):
                return f"inserts into {match.group(1)} with {column} from the request without checking the current user is a member"
    return None


@register
class MissingOwnershipCheck(ProjectRule):
    code = "PR203"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "missing-ownership-check"
    category = Category.AUTH
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    impact = (
        "A logged-in user can read or change other customers' records just by changing the number in the "
        "URL (or the id in the request body)."
    )
    fix_summary = "Adds the owner to the query (WHERE owner_id = current user) so other users' rows answer 404."
    doc = """
## What it does
Finds logged-in routes that load a user-owned row (a table with a foreign key leading to the
users table) by an id from the path and never compare it with the current user — neither in
the query, nor in an `if`, nor in a helper they pass the user to. Also reports routes that
write a row pointing at a parent taken from the request body without checking that parent,
and routes that return a whole user-owned table with no filter. Routes with a role check
(admin tools) are left out.

## Why is this bad in production
This is the most common API vulnerability (OWASP API1, "broken object level authorization"):
authentication proves who the caller is, not that `/orders/1043` is theirs. IDs are
sequential, so one curious user can walk through every customer's data.

## Example
```python
@router.get("/orders/{order_id}")
def get_order(order_id: int, db=Depends(get_db), user=Depends(get_current_user)):
    return db.query(Order).filter(Order.id == order_id).first()
```

## Use instead
```python
@router.get("/orders/{order_id}")
def get_order(order_id: int, db=Depends(get_db), user=Depends(get_current_user)):
    order = db.query(Order).filter(Order.id == order_id, Order.user_id == user.id).first()
    if order is None:
        raise HTTPException(status_code=404)
    return order
```

## Fix safety
Review: requests for other users' objects start answering 404.
"""
    _MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
class Workspace(Base):
    __tablename__ = "workspaces"
    id = Column(Integer, primary_key=True)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)
class Project(Base):
    __tablename__ = "projects"
    id = Column(Integer, primary_key=True)
    workspace_id = Column(Integer, ForeignKey("workspaces.id"), index=True)
class Country(Base):
    __tablename__ = "countries"
    id = Column(Integer, primary_key=True)
    name = Column(String)
"""
    VALID = [
        {
            "models.py": _MODELS,
            "deps.py": EXAMPLE_AUTH,
            "app.py": """
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import select
from deps import get_current_user
from models import Country, Project, Workspace
app = FastAPI()
def owned_workspace(workspace_id, db, user):
    ws = db.scalar(select(Workspace).where(Workspace.id == workspace_id, Workspace.owner_id == user.id))
    if ws is None:
        raise HTTPException(status_code=404)
    return ws
@app.get("/workspaces/{workspace_id}")
def get_workspace(workspace_id: int, db=None, user=Depends(get_current_user)):
    return owned_workspace(workspace_id, db, user)
@app.get("/projects/{project_id}")
def get_project(project_id: int, db=None, user=Depends(get_current_user)):
    project = db.get(Project, project_id)
    if project is None or project.workspace.owner_id != user.id:
        raise HTTPException(status_code=404)
    return project
@app.get("/countries/{country_id}")
def get_country(country_id: int, db=None, user=Depends(get_current_user)):
    return db.get(Country, country_id)      # not user data
@app.post("/projects")
def create_project(body: dict, db=None, user=Depends(get_current_user)):
    ws = owned_workspace(body["workspace_id"], db, user)
    db.add(Project(workspace_id=ws.id))
""",
        },
        {
            "schema.sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES users(id));",
            "app.py": """
from flask import Flask, session
from flask_login import login_required
app = Flask(__name__)
@app.route("/items/<int:id>", methods=["DELETE"])
@login_required
def delete_item(id):
    get_db().execute("DELETE FROM items WHERE id = ? AND owner_id = ?", (id, session["user_id"]))
""",
        },
    ]
    INVALID = [
        {
            "models.py": _MODELS,
            "deps.py": EXAMPLE_AUTH,
            "app.py": """
from fastapi import Depends, FastAPI
from deps import get_current_user
from models import Project, Workspace
app = FastAPI()
@app.get("/workspaces/{workspace_id}")
def get_workspace(workspace_id: int, db=None, user=Depends(get_current_user)):
    return db.query(Workspace).filter(Workspace.id == workspace_id).first()
""",
        },
        {
            "models.py": _MODELS,
            "deps.py": EXAMPLE_AUTH,
            "app.py": """
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from deps import get_current_user
from models import Project
app = FastAPI()
class ProjectIn(BaseModel):
    workspace_id: int
@app.post("/projects")
def create_project(data: ProjectIn, db=None, user=Depends(get_current_user)):
    db.add(Project(workspace_id=data.workspace_id))
""",
        },
        {
            "schema.sql": "CREATE TABLE items (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES users(id));",
            "app.py": """
from flask import Flask
from flask_login import login_required
app = Flask(__name__)
@app.route("/items/<id>", methods=["PUT"])
@login_required
def update_item(id):
    get_db().execute(f"UPDATE items SET name = 'x' WHERE id = {id}")
@app.route("/items/export")
@login_required
def export_items():
    return get_db().execute("SELECT * FROM items").fetchall()
""",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        model = auth_model(index)
        if not model.owned:
            return
        for ra in model.routes:
            route = ra.route
            if not (ra.verified or ra.weak) or ra.role_checked or not ra.served:
                continue
            node = handler_node(index, route)
            if node is None:
                continue
            users = user_params(index, route) | ra.user_params  # also users from dependency factories
            guards = [name.rpartition(".")[2] for name in ra.guard_names()]
            if any(OWNERSHIP_GUARD.search(name) for name in guards) or checks_owner(index, route, node, users):
                continue
            problem = self._problem(index, route, node, model)
            if problem:
                message, confidence = problem
                yield self.at(route.relpath, route, f"{route.label()} {message}", confidence=confidence)

    @staticmethod
    def _problem(index, route, node: ast.AST, model) -> tuple[str, Confidence | None] | None:
        shape = data_shape(index)
        owned_tables = model.owned
        # Any path parameter that picks a row: an id, or a title, name or code unique to it.
        ids = path_params(route.path)
        for call in lookups_by(node, set(ids)):
            owned = [t for t in tables_touched(call, shape) if t in owned_tables]
            if owned and not route.is_mutating and model.public_table(owned[0]):
                continue  # reading a row that pages without login show anyway (a blog post)
            if owned and not route.is_mutating and owned[0] in _listed_whole(index, model, route):
                continue  # the collection route shows every row of it to any user (a social feed)
            if owned:
                return f"loads {owned[0]} by {', '.join(ids)} from the path without checking it belongs to the current user", None
        facts = index.modules[route.relpath]
        body_params = {p.name for p in route.handler.params if not index.param_dependency(p, facts) and p.name not in ids}
        body_params |= _request_locals(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, (ast.Name, ast.Attribute)):
                table = shape.by_model.get((dotted(sub.func) or "").rpartition(".")[2])
                for keyword in sub.keywords if table is not None else []:
                    if not _from_request(keyword.value, body_params):
                        continue
                    target = table.fk_targets().get(keyword.arg or "")
                    if target in owned_tables:
                        return f"creates {table.model} with {keyword.arg} from the request body without checking that {target} row belongs to the current user", None
                    if target in shape.users or OWNER_COLUMN.match(keyword.arg or ""):
                        return f"creates {table.model} with {keyword.arg} from the request body: a user can create rows in someone else's name", None
                    if GROUP_COLUMN.match(keyword.arg or ""):
                        return f"creates {table.model} with {keyword.arg} from the request body without checking the current user is a member", None
            if isinstance(sub, ast.Call) and is_query_call(sub) and sub.args:
                problem = _insert_from_request(sub, body_params)
                if problem:
                    return problem, None
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and MissingOwnershipCheck._unfiltered(sub, shape):
                owned = [t for t in tables_touched(sub, shape) if t in owned_tables]
                # A feed, or rows some route shows without a login, are meant for everyone.
                if owned and not FEED_PATH.search(route.path) and not model.public_table(owned[0]):
                    return f"returns every user's {owned[0]} rows (no filter on the current user)", Confidence.LOW
        return None

    @staticmethod
    def _unfiltered(call: ast.Call, shape) -> bool:
        """`db.query(Model).all()` or `SELECT ... FROM t` with no WHERE: the whole table."""
        if is_query_call(call) and call.args:
            text = sql_text(call.args[0])
            return bool(text) and text.lstrip(" (").lower().startswith("select") and not re.search(r"\bwhere\b", text, re.I)
        if isinstance(call.func, ast.Attribute) and call.func.attr == "all":
            chain = ast.unparse(call.func.value)
            # db.query(Note).all(), select(Note)..., Note.query.all() (Flask-SQLAlchemy)
            whole = re.search(r"\b(query|select)\(", chain) is not None or re.fullmatch(r"[\w.]*\w\.query", chain) is not None
            return whole and not re.search(r"\.(filter|filter_by|where|join|get|limit)\(", chain)
        return False


@register
class AuthRouteWithoutRateLimit(ProjectRule):
    code = "PR240"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "auth-route-without-rate-limit"
    category = Category.RATE_LIMIT
    severity = Severity.MEDIUM
    impact = (
        "Attackers can try thousands of passwords a minute against your login, create accounts by the "
        "thousand, or flood users with password-reset emails."
    )
    fix_summary = "Adds a per-client rate limit (slowapi or Flask-Limiter) to the route, e.g. 5 per minute."
    doc = """
## What it does
Finds login, signup, token, password-reset and verification routes that have no rate limit:
no slowapi / Flask-Limiter / fastapi-limiter decorator or dependency, no app-wide default
limit, and no throttling call in the handler. Such routes are recognised by what they do
(verify a password, create an account, mail a reset token) as well as by their address. Routes
where nothing can be guessed are left alone: ones that need a valid login or an admin, and
ones reached with a long random or signed token (an invitation link, a signed reset token).

## Why is this bad in production
These endpoints are what credential-stuffing bots and spammers call. Without a limit, a
password list is tried at full speed, fake signups fill the database and password-reset
mails make your sending domain look like spam.

## Example
```python
@router.post("/auth/login")
def login(body: LoginIn, db: Session = Depends(get_db)):
    ...
```

## Use instead
```python
limiter = Limiter(key_func=get_remote_address)

@router.post("/auth/login")
@limiter.limit("5/minute")
def login(request: Request, body: LoginIn, db: Session = Depends(get_db)):
    ...
```

## Fix safety
Review: clients over the limit start getting 429.
"""
    VALID = [
        """
from fastapi import APIRouter, Request
from slowapi import Limiter
from slowapi.util import get_remote_address
limiter = Limiter(key_func=get_remote_address)
router = APIRouter()
@router.post("/auth/login")
@limiter.limit("5/minute")
def login(request: Request, body: dict):
    return {}
@router.post("/auth/logout")
def logout():
    return {}
@router.get("/tokens")      # lists the caller's API tokens: not a login
def tokens():
    return []
""",
        {
            "auth.py": EXAMPLE_AUTH,
            "app.py": """
from fastapi import Depends, FastAPI
from auth import get_current_user
app = FastAPI()
@app.post("/account/password")     # needs a valid login: nothing to guess
def change_password(body: dict, user=Depends(get_current_user)):
    return {}
""",
        },
        """
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
app = Flask(__name__)
limiter = Limiter(get_remote_address, app=app, default_limits=["200 per day", "50 per hour"])
@app.route("/login", methods=["POST"])
def login():
    return {}
""",
        """
from fastapi import Depends, FastAPI
from fastapi_limiter.depends import RateLimiter
app = FastAPI()
@app.post("/signup", dependencies=[Depends(RateLimiter(times=3, seconds=60))])
def signup(body: dict):
    return {}
""",
    ]
    INVALID = [
        """
from fastapi import FastAPI
app = FastAPI()
@app.post("/auth/login")
def login(body: dict):
    return {}
""",
        """
from fastapi import FastAPI, HTTPException
from passlib.context import CryptContext
app = FastAPI()
pwd_context = CryptContext(schemes=["bcrypt"])
@app.post("/api/v1/sessions")          # a login, by what it does
def open_session(body: dict, db=None):
    user = db.find_user(body["email"])
    if user is None or not pwd_context.verify(body["password"], user.password_hash):
        raise HTTPException(status_code=401)
    return {"token": "..."}
""",
        """
from flask import Blueprint
bp = Blueprint("auth", __name__)
@bp.route("/signup", methods=["POST"])
def signup():
    return {}
@bp.route("/password/forgot", methods=["POST"])
def forgot_password():
    return {}
""",
    ]

    def check(self, index) -> Iterable[Finding]:
        model = auth_model(index)
        candidates = [ra.route for ra in model.routes if self._guessable(model, ra)]
        if not candidates or self._global_limit(index):
            return
        for route in candidates:
            if any(LIMIT_DECORATOR.search(name) for name in [*route.decorators, *route.dependencies]):
                continue
            if any(LIMIT_CALL.search(name) for name in route.handler.calls):
                continue
            yield self.at(route.relpath, route, f"{route.label()} has no rate limit: passwords and signups can be tried at full speed")

    @staticmethod
    def _guessable(model, ra) -> bool:
        """Credentials can be tried here: a login, signup or password reset (by what the code does,
        or by its address). Not a route that needs a valid token or an admin, nor one reached with
        a long random token (an invitation link)."""
        route = ra.route
        if "logout" in route.path.lower() or not ra.served or ra.verified or ra.role_checked:
            return False
        if ra.role in GUESSABLE_ROLES:
            behaviour = model.roles.route_behaviour(route)
            # Setting a new password with a signed reset token: the token cannot be guessed.
            return not (ra.role == PASSWORD_RESET and behaviour is not None and behaviour.decodes_token and not behaviour.sends_mail)
        if not (route.is_mutating and AUTH_ROUTE.search(route.path)) or ra.role is not None:
            return False  # a token refresh, an OAuth callback, a webhook
        return not model.roles.takes_unguessable_token(route)

    @staticmethod
    def _global_limit(index) -> bool:
        """A limiter with app-wide default limits, or a rate-limiting middleware."""
        for relpath, facts in index.modules.items():
            if not facts.top_imports.intersection(LIMIT_PACKAGES):
                continue
            source = index.source(relpath)
            if re.search(r"default_limits|application_limits|SlowAPIMiddleware|SlowAPIASGIMiddleware", source):
                return True
        return False


@register
class AuthCheckVerifiesNothing(ProjectRule):
    code = "PR204"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "auth-check-verifies-nothing"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = (
        "The login check on these routes can be passed by anyone: it believes a user name the caller "
        "sends, or a token it never checks, so any visitor can act as any user."
    )
    doc = """
## What it does
Judges the auth dependencies, decorators and `before_request` hooks that routes rely on, and
finds those that verify nothing: a JWT decoded without checking its signature
(`get_unverified_claims`, `verify_signature: False`, a hand-made base64 decode), a user taken
from a request header such as `X-User` or from an unsigned cookie such as `user_id`, or a
`verify()`/`check_password()` call whose True/False answer is ignored.

## Why is this bad in production
The routes look protected — a scanner, a reviewer and the app's own tests all see a login
check — but the check accepts whatever the caller says. Writing `X-User: admin` or editing a
cookie is all it takes to become someone else.

## Example
```python
def get_current_user(x_user: str = Header(...), db: Session = Depends(get_db)):
    return db.query(User).filter(User.username == x_user).first()
```

## Use instead
```python
def get_current_user(token: str = Depends(oauth2_scheme), db: Session = Depends(get_db)):
    claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
    return db.get(User, int(claims["sub"]))
```

## Fix safety
Not fixed automatically: how the app should identify callers (tokens, sessions) is a design choice.
"""
    VALID = [
        {
            "deps.py": """
import jwt
from fastapi import Depends, Header, HTTPException
SECRET = "k"
def get_current_user(authorization: str = Header(...)):
    try:
        claims = jwt.decode(authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])
    except jwt.PyJWTError:
        raise HTTPException(status_code=401)
    return claims["sub"]
""",
            "app.py": """
from fastapi import Depends, FastAPI
from deps import get_current_user
app = FastAPI()
@app.get("/me")
def me(user=Depends(get_current_user)):
    return {"user": user}
""",
        },
    ]
    INVALID = [
        {
            "deps.py": """
from fastapi import Header, HTTPException
def get_current_user(x_user: str = Header(None)):
    if not x_user:
        raise HTTPException(status_code=401)
    return x_user
""",
            "app.py": """
from fastapi import Depends, FastAPI
from deps import get_current_user
app = FastAPI()
@app.get("/me")
def me(user=Depends(get_current_user)):
    return {"user": user}
""",
        },
        """
import functools
from flask import Flask, abort, request
app = Flask(__name__)
def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if request.cookies.get("user_id") is None:
            abort(401)
        return view(*args, **kwargs)
    return wrapped
@app.route("/notes", methods=["POST"])
@login_required
def create_note():
    return {}
""",
    ]

    def check(self, index) -> Iterable[Finding]:
        for (relpath, qualname, line), (why, routes) in auth_model(index).weak_functions().items():
            name = qualname.rpartition(".")[2]
            first = routes[0].label()
            more = f" and {len(routes) - 1} more route(s)" if len(routes) > 1 else ""
            node = index.function_node(relpath, qualname)
            yield self.at(
                relpath,
                node if node is not None else Span(line, 0, line),
                f"{name}() {why}: {first}{more} rely on it",
            )


@register
class TokenWithoutPasswordCheck(ProjectRule):
    code = "PR205"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "token-without-password-check"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = "Anyone can get a login token for any account just by sending its user name or email: no password is asked."
    doc = """
## What it does
Finds routes that hand out a login (a JWT, a session, `login_user(...)`) for a user name or
email read from the request, without verifying a password, a one-time code, an existing
token or an OAuth code first. Recognised by what the handler and its helpers do, whatever the
route is called.

## Why is this bad in production
The token is minted for whoever is named in the request. Every account, including the
administrator's, is one request away.

## Example
```python
@app.post("/token")
def token(form: OAuth2PasswordRequestForm = Depends(), db=Depends(get_db)):
    user = db.query(User).filter(User.username == form.username).first()
    return {"access_token": create_access_token({"sub": user.username})}
```

## Use instead
```python
@app.post("/token")
def token(form: OAuth2PasswordRequestForm = Depends(), db=Depends(get_db)):
    user = db.query(User).filter(User.username == form.username).first()
    if user is None or not pwd_context.verify(form.password, user.hashed_password):
        raise HTTPException(status_code=401, detail="Incorrect username or password")
    return {"access_token": create_access_token({"sub": user.username})}
```

## Fix safety
Not fixed automatically: which credential the app should check is for you to say.
"""
    VALID = [
        """
import jwt
from fastapi import FastAPI, HTTPException
from passlib.context import CryptContext
pwd_context = CryptContext(schemes=["bcrypt"])
app = FastAPI()
USERS = {}
@app.post("/session")
def open_session(body: dict):
    user = USERS.get(body["username"])
    if user is None or not pwd_context.verify(body["password"], user["hash"]):
        raise HTTPException(status_code=401)
    return {"token": jwt.encode({"sub": body["username"]}, "k", algorithm="HS256")}
""",
    ]
    INVALID = [
        """
import jwt
from fastapi import FastAPI
app = FastAPI()
@app.post("/session")
def open_session(body: dict):
    return {"token": jwt.encode({"sub": body["username"]}, "k", algorithm="HS256")}
""",
        """
from flask import Flask, request
from flask_login import login_user
app = Flask(__name__)
@app.route("/enter", methods=["POST"])
def enter():
    user = User.query.filter_by(email=request.form["email"]).first()
    login_user(user)
    return {}
""",
    ]

    def check(self, index) -> Iterable[Finding]:
        for ra in auth_model(index).routes:
            if ra.role == TOKEN_FOR_ANYONE and not ra.verified and ra.served:
                route = ra.route
                yield self.at(route.relpath, route, f"{route.label()} issues a login for the user named in the request without checking a password")


@register
class WebhookSignatureFailsOpen(ProjectRule):
    code = "PR206"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "webhook-signature-fails-open"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = (
        "If the webhook secret is missing from the server's settings (a new server, a typo in the variable "
        "name), the app accepts fake payment or account events from anyone."
    )
    doc = """
## What it does
Finds webhooks that check the sender's signature only when a secret is configured:
`if secret: verify(...)`, `if secret and not valid: abort(401)`, or an early
`if not secret: return process(event)`.

## Why is this bad in production
Settings go missing: a new deployment, a renamed variable, a staging copy promoted to
production. The check then switches itself off without a word, and anyone can post
"payment succeeded" events.

## Example
```python
secret = os.getenv("STRIPE_WEBHOOK_SECRET")
if secret:
    stripe.Webhook.construct_event(payload, signature, secret)
```

## Use instead
```python
secret = os.environ["STRIPE_WEBHOOK_SECRET"]  # fails at start-up when unset
stripe.Webhook.construct_event(payload, signature, secret)
```

## Fix safety
Not fixed automatically: refusing events when the secret is unset is a behaviour change to decide on.
"""
    VALID = [
        """
import hashlib, hmac, os
from fastapi import FastAPI, HTTPException, Request
app = FastAPI()
@app.post("/webhooks/billing")
async def billing(request: Request):
    secret = os.environ["WEBHOOK_SECRET"]
    body = await request.body()
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not secret or not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
        raise HTTPException(status_code=401)
    return {"ok": True}
""",
    ]
    INVALID = [
        """
import hashlib, hmac, os
from fastapi import FastAPI, HTTPException, Request
app = FastAPI()
WEBHOOK_SECRET = os.getenv("WEBHOOK_SECRET")
@app.post("/webhooks/billing")
async def billing(request: Request):
    body = await request.body()
    if WEBHOOK_SECRET:
        expected = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Signature", "")):
            raise HTTPException(status_code=401)
    return {"ok": True}
""",
    ]

    def check(self, index) -> Iterable[Finding]:
        model = auth_model(index)
        for ra in model.routes:
            if ra.role != WEBHOOK or not ra.served:
                continue
            line = model.fails_open(ra.route)
            if line is not None:
                route = ra.route
                yield self.at(route.relpath, route, f"{route.label()} skips its signature check when the secret is not set (line {line}): anyone can send it events")


@register
class VerificationResultIgnored(ProjectRule):
    code = "PR207"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "verification-result-ignored"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = "A password, signature or token check runs but its answer is thrown away, so wrong passwords and forged requests get in."
    doc = """
## What it does
Finds calls that answer True or False — `pwd_context.verify(...)`, `check_password_hash(...)`,
`bcrypt.checkpw(...)`, `hmac.compare_digest(...)` — written as a statement, so nothing reads
the answer, in route handlers, auth dependencies and the helpers they call.

## Why is this bad in production
These functions do not raise on a mismatch; they return False. Called on their own line they
check nothing, and every password or signature is accepted.

## Example
```python
pwd_context.verify(body.password, user.hashed_password)
return {"access_token": create_access_token(user.id)}
```

## Use instead
```python
if not pwd_context.verify(body.password, user.hashed_password):
    raise HTTPException(status_code=401)
return {"access_token": create_access_token(user.id)}
```

## Fix safety
Not fixed automatically: what to answer on a mismatch (401, 403, a form error) is the app's choice.
"""
    VALID = [
        """
from flask import Flask, abort, request
from werkzeug.security import check_password_hash
app = Flask(__name__)
@app.route("/login", methods=["POST"])
def login():
    user = find(request.form["email"])
    if not check_password_hash(user.password_hash, request.form["password"]):
        abort(401)
    return {}
""",
    ]
    INVALID = [
        """
from flask import Flask, request
from werkzeug.security import check_password_hash
app = Flask(__name__)
@app.route("/login", methods=["POST"])
def login():
    user = find(request.form["email"])
    check_password_hash(user.password_hash, request.form["password"])
    return {}
""",
    ]

    def check(self, index) -> Iterable[Finding]:
        for relpath, line, name in auth_model(index).ignored_verifications():
            yield self.at(relpath, Span(line, 0, line), f"{name}() answers True or False, but nothing reads the answer: the check lets everyone through")

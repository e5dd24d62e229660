"""What to boot and what to probe, from the scan's index (the scan itself never runs the app)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from auditor.index.project import is_script_path
from auditor.rehearse.body_hints import body_hint

APP_KINDS = {"fastapi-app": "fastapi", "flask-app": "flask"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class NoApp(Exception):
    """The project has nothing the rehearsal can boot."""


@dataclass
class Target:
    module: str  # importable module name, e.g. app.main
    var: str  # the app variable in it (a factory named create_app is used when it is not there)
    framework: str  # fastapi | flask
    relpath: str
    routes: list[dict] = field(default_factory=list)  # method, path, auth, rules, admin

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.var}"


def find_target(result) -> Target:
    index = result.index
    apps = [
        (relpath, decl) for relpath, decl in index.routers.values()
        if decl.kind in APP_KINDS and not is_script_path(relpath)
    ]  # fmt: skip
    if not apps:
        raise NoApp("the scan found no FastAPI() or Flask() app object to start")
    apps.sort(key=lambda item: (item[0].count("/"), item[0]))
    relpath, decl = apps[0]
    module = index.modules[relpath].module
    return Target(module, decl.var, APP_KINDS[decl.kind], relpath, routes_of(result))


USER_MODEL = re.compile(r"^(app_?)?(user|users|account|accounts|member|members)$", re.I)
ADMIN_FLAGS = ("is_admin", "is_superuser", "is_staff", "admin", "superuser")
ROLE_COLUMNS = ("role", "user_role", "account_role")
IDENTITY_COLUMNS = ("email", "username", "login", "email_address")


def admin_column(result) -> dict | None:
    """Where the app keeps who is an admin: a boolean flag (is_admin...) or a text role column on
    its user model, with the column the login names the user by. None when it has no roles (or
    no admin route to try them on)."""
    if not any(r.role_checked or "/admin" in r.path.lower() for r in result.index.routes):
        return None
    for _, model in result.index.models:
        if model.abstract or not (USER_MODEL.match(model.name) or USER_MODEL.match(model.table or "")):
            continue
        columns = {c.name.lower(): c for c in model.columns}
        identity = next((columns[n].name for n in IDENTITY_COLUMNS if n in columns), None)
        if identity is None:
            continue
        for name in ADMIN_FLAGS:
            if name in columns and "bool" in columns[name].type.lower():
                return {"table": model.table, "column": columns[name].name, "value": True, "identity": identity}
        for name in ROLE_COLUMNS:
            kind = columns[name].type.lower() if name in columns else ""
            if kind and ("str" in kind or "text" in kind or "char" in kind):
                return {"table": model.table, "column": columns[name].name, "value": "admin", "identity": identity}
    return None


def routes_of(result) -> list[dict]:
    """One entry per method of every deployed route, with the rule codes found on its handler."""
    by_file: dict[str, list] = {}
    for finding in result.findings:
        by_file.setdefault(finding.path, []).append(finding)
    routes = []
    for route in result.index.routes:
        if is_script_path(route.relpath):
            continue
        first = min(route.line, route.handler.span.line)
        last = max(route.end_line, route.handler.span.end_line)
        rules = sorted({f.rule for f in by_file.get(route.relpath, []) if first <= f.line <= last})
        admin = "/admin" in route.path.lower() or route.role_checked or "PR202" in rules
        node = result.index.function_node(route.relpath, route.handler.qualname)
        hint = body_hint(node) if node is not None else None
        for method in route.methods:
            if method.upper() in METHODS:
                routes.append({
                    "method": method.upper(), "path": route.path, "auth": route.authenticated, "rules": rules,
                    "admin": admin, "body_hint": hint if method.upper() in ("POST", "PUT", "PATCH") else None,
                    "where": [route.relpath, first, last],  # for marking the findings a probe confirms
                })  # fmt: skip
    return routes

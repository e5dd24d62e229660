"""Rate limits on login, signup and password-reset routes (PR240): slowapi for FastAPI,
Flask-Limiter for Flask, with the counters' storage configurable for multi-process deployments."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from auditor.index.extract import module_name_for
from auditor.models import Finding
from fixers.apps import WireApp, Wiring, find_app
from fixers.auth import AuthRouteFixer, add_decorator, handler_edit
from fixers.base import Fixer, Outcomes
from fixers.cst import run_codemod
from fixers.rewrite import add_param, param_names
from fixers.staging import at_app
from fixers.settings import render_reading_settings
from fixers.pipeline.workspace import Skip, Workspace

MARKER = "def install_rate_limits("
REQUIREMENTS = {"fastapi": "slowapi>=0.1.9", "flask": "Flask-Limiter>=3.5"}
SIGNUP = re.compile(r"sign-?_?up|register", re.I)
RESET = re.compile(r"reset|forgot|password", re.I)
# What the limiter reads (template name -> setting, default, type), the project's way.
LIMIT_SETTINGS = {
    "login": ("LOGIN_RATE_LIMIT", "5/minute", str),
    "signup": ("SIGNUP_RATE_LIMIT", "10/hour", str),
    "reset": ("RESET_RATE_LIMIT", "5/hour", str),
    "storage": ("RATE_LIMIT_STORAGE_URI", "memory://", str),
    "enabled": ("RATE_LIMIT_ENABLED", True, bool),
}


def limit_for(path: str) -> str:
    if SIGNUP.search(path):
        return "SIGNUP_LIMIT"
    if RESET.search(path):
        return "RESET_LIMIT"
    return "LOGIN_LIMIT"


def limiter_module(ws: Workspace, app_relpath: str) -> tuple[str, bool]:
    """(relpath, exists) of the module holding the limiter."""
    folder = PurePosixPath(app_relpath).parent
    for name in ("rate_limit.py", "rate_limits.py", "limits.py"):
        relpath = str(folder / name) if str(folder) != "." else name
        text = ws.read(relpath)
        if text is None:
            return relpath, False
        if MARKER in text:
            return relpath, True
    raise Skip("rate_limit.py, rate_limits.py and limits.py exist already; add a limiter by hand")


class RateLimitFixer(Fixer):
    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        return self.guarded(findings, ws, lambda: self.limit(findings, ws))

    def limit(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        app = find_app(ws, findings[0])
        relpath, exists = limiter_module(ws, app.relpath)
        module = module_name_for(relpath)
        if not exists:
            # The app module and the route modules will import the limiter: its settings must not
            # come from a module that imports them back.
            importers = tuple(sorted({app.relpath, *(f.path for f in findings)}))
            wanted = {key: (*spec, (), importers) for key, spec in LIMIT_SETTINGS.items()}
            ws.write(relpath, render_reading_settings(ws, relpath, "rate_limit.py.j2", wanted, framework=app.framework))
            wiring = Wiring(after_app=[f"install_rate_limits({app.var})\n"], imports=[(module, "install_rate_limits")])
            run_codemod(ws, app.relpath, WireApp, at_app(findings[:1], app.line), var=app.var, wiring=wiring)
        ws.require(REQUIREMENTS[app.framework], self.name)

        def rewrite(route, function):
            if app.framework == "fastapi":
                if "request" in param_names(function):
                    annotation = next((p.annotation for p in function.params.params if p.name.value == "request"), None)
                    if annotation is None or not re.search(r"Request\b", _code(annotation.annotation)):
                        raise Skip("slowapi needs the handler's `request: Request` parameter, and `request` is something else here")
                else:
                    function = add_param(function, "request: Request", first=True)
            owner = route.router.rpartition(".")[2]
            return add_decorator(function, f"limiter.limit({limit_for(route.path)})", owner)

        outcomes: Outcomes = {}
        for path in sorted({f.path for f in findings}):
            group = [f for f in findings if f.path == path]
            outcomes.update(handler_edit(ws, group, rewrite))
            names = sorted({limit_for(_route_path(ws, f)) for f in group})
            imports = [(module, "limiter"), *((module, name) for name in names)]
            if app.framework == "fastapi":
                imports.append(("fastapi", "Request"))
            AuthRouteFixer._imports(ws, path, imports, "")
        return outcomes


def _route_path(ws: Workspace, finding: Finding) -> str:
    from fixers.rewrite import route_at

    return route_at(ws, finding).path


def _code(node) -> str:
    import libcst as cst

    return cst.Module([]).code_for_node(node)

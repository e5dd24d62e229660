"""Staging fixes: API docs only in development (PR422), a `/health` route that checks the
database (PR430), and `.env.example` / `.env.staging` listing every setting (PR420, PR421)."""

from __future__ import annotations

import ast
import re
from collections import Counter

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor

from auditor.models import Finding
from fixers.apps import WireApp, Wiring, find_app, is_app_creation
from fixers.base import Fixer, Outcomes
from fixers.cst import (
    FixCommand,
    Target,
    add_imports_in_order,
    dotted_name,
    insert_at,
    local_modules,
    parse_module,
    run_codemod,
    write_module,
)
from fixers.rewrite import set_keyword, tail
from fixers.env_files import example_file, write_example, write_staging
from fixers.settings import ENVIRONMENT_ALIASES, ReadsSettings, fix_reading_settings
from fixers.templates import render
from fixers.pipeline.workspace import Skip, Workspace

DOCS = (("docs_url", "/docs"), ("redoc_url", "/redoc"), ("openapi_url", "/openapi.json"))
DOCS_SETTINGS = {"app_env": ("APP_ENV", "development", str, ENVIRONMENT_ALIASES)}
DB_HANDLE = re.compile(r"(^|_)(db|session|conn|connection|database)$", re.I)


def at_app(findings: list[Finding], line: int) -> list[Target]:
    return [Target(f, line, None) for f in findings]


# -- PR422: docs in development only --------------------------------------------------------------


class DocsInDevelopment(ReadsSettings, FixCommand):
    """`app = FastAPI(...)` gets docs_url/redoc_url/openapi_url that are None outside development."""

    def __init__(self, context, targets=(), var: str = "app") -> None:
        super().__init__(context, targets)
        self.var = var
        self.done = False

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        statement = cst.SimpleStatementLine([original_node])
        if self.done or not is_app_creation(statement, self.var) or tail(dotted_name(original_node.value.func) or "") != "FastAPI":
            return updated_node
        call = updated_node.value
        if any(a.star == "**" for a in call.args):
            self.skipped(self.targets, "the app takes **options: set docs_url/openapi_url where they are built")
            return updated_node
        for keyword, path in DOCS:
            call = set_keyword(call, keyword, f'"{path}" if DOCS_ENABLED else None')
        self.done = True
        return updated_node.with_changes(value=call)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if not self.done:
            return super().leave_Module(original_node, updated_node)
        # The interactive docs and the OpenAPI schema are a map of the API: development only.
        definition = cst.parse_statement(f'DOCS_ENABLED = {self.setting("app_env")} == "development"\n')
        index = next(i for i, s in enumerate(updated_node.body) if "FastAPI(" in cst.Module([s]).code)
        self.fixed(self.targets)
        body = insert_at(updated_node.body, index, [definition])
        return super().leave_Module(original_node, updated_node.with_changes(body=body))


class DocsFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        outcomes: Outcomes = {}
        app_findings = []
        for finding in findings:
            if "debug route" in finding.message:
                outcomes[finding] = "a debug route: delete it, or register it only when APP_ENV is development"
            else:
                app_findings.append(finding)
        if app_findings:
            app = find_app(ws, app_findings[0])
            if "DOCS_ENABLED" in (ws.read(app.relpath) or ""):
                raise Skip("DOCS_ENABLED is already defined in the app module")
            outcomes.update(fix_reading_settings(DocsInDevelopment, app.relpath, app_findings, ws, DOCS_SETTINGS, var=app.var))
        return outcomes


# -- PR430: /health -------------------------------------------------------------------------------


def database_check(ws: Workspace, framework: str) -> dict:
    """How the health route reaches the database: the app's own session dependency, engine or
    connection helper (template variables)."""
    index = ws.index
    if framework == "fastapi":
        targets = Counter(
            p.depends_on for r in index.routes for p in r.handler.params if p.depends_on and DB_HANDLE.search(tail(p.depends_on))
        )
        if targets:
            qualified = targets.most_common(1)[0][0]
            module, _, name = qualified.rpartition(".")
            return {"kind": "dependency", "module": module, "name": name}
    for relpath, site in index.connections:
        if site.function is None and site.func.endswith("create_engine"):
            name = _assigned_name(ws, relpath, site.span.line)
            if name:
                return {"kind": "engine", "module": index.modules[relpath].module, "name": name}
    helpers = Counter(
        call for r in index.routes for call in r.handler.calls if DB_HANDLE.search(tail(call).replace("get_", "")) and index.resolve_function(call)
    )
    if helpers:
        qualified = helpers.most_common(1)[0][0]
        module, _, name = qualified.rpartition(".")
        cursor = "psycopg2" in index.imported_packages
        return {"kind": "helper", "module": module, "name": name, "cursor": cursor}
    return {"kind": "none"}


def _assigned_name(ws: Workspace, relpath: str, line: int) -> str | None:
    try:
        tree = ast.parse(ws.read(relpath) or "")
    except SyntaxError:
        return None
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and statement.lineno <= line <= (statement.end_lineno or line):
            target = statement.targets[0]
            return target.id if isinstance(target, ast.Name) else None
    return None


class HealthFixer(Fixer):
    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        return self.guarded(findings, ws, lambda: self.add_route(findings, ws))

    def add_route(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        app = find_app(ws, findings[0])
        check = database_check(ws, app.framework)
        code = render("health_route.py.j2", framework=app.framework, app=app.var, check=check)
        imports = [("logging", None)]
        if app.framework == "fastapi":
            imports.append(("fastapi.responses", "JSONResponse"))
            if check["kind"] == "dependency":
                imports += [("fastapi", "Depends"), ("sqlalchemy", "text"), (check["module"], check["name"])]
            elif check["kind"] == "engine":
                imports += [("sqlalchemy", "text"), (check["module"], check["name"])]
        elif check["kind"] in {"helper", "engine"}:
            imports.append((check["module"], check["name"]))
            if check["kind"] == "engine":
                imports.append(("sqlalchemy", "text"))
        if self._module_level(ws, app):  # the route goes after the module's code, before `if __name__`
            module = parse_module(ws.read(app.relpath))
            body = list(module.body)
            end = next((i for i, s in enumerate(body) if isinstance(s, cst.If) and "__name__" in cst.Module([]).code_for_node(s.test)), len(body))
            module = module.with_changes(body=insert_at(body, end, list(cst.parse_module(code).body)))
            write_module(ws, app.relpath, add_imports_in_order(module, app.relpath, imports, local_modules(ws)))
            return {f: None for f in findings}
        wiring = Wiring(after_app=[code], imports=[(module, name) for module, name in imports])
        command = run_codemod(ws, app.relpath, WireAppImports, at_app(findings, app.line), var=app.var, wiring=wiring)
        return {f: command.outcomes.get(f, "the app could not be found") for f in findings}

    @staticmethod
    def _module_level(ws: Workspace, app) -> bool:
        tree = ast.parse(ws.read(app.relpath) or "")
        return any(isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == app.var for t in s.targets) for s in tree.body)


class WireAppImports(WireApp):
    """WireApp, with plain `import x` lines for imports without a name."""

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        plain = [(module, name) for module, name in self.wiring.imports if name is None]
        self.wiring.imports = [(module, name) for module, name in self.wiring.imports if name is not None]
        for module, _ in plain:
            AddImportsVisitor.add_needed_import(self.context, module)
        return super().leave_Module(original_node, updated_node)


# -- PR420 / PR421: environment files -------------------------------------------------------------


class EnvFilesFixer(Fixer):
    """.env.example (PR420) and .env.staging (PR421) from the app as the plan's earlier fixes left
    it; existing files are completed, never duplicated."""

    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        return self.guarded(findings, ws, lambda: self.write_files(findings, ws))

    def write_files(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        for finding in findings:
            if finding.rule == "PR420":
                write_example(ws, example_file(ws) or ".env.example")
            else:
                write_staging(ws)
        return {finding: None for finding in findings}

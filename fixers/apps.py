"""Where the web app is created, and a codemod that wires things onto it.

Several fixes add something to the app itself: an exception handler, request-id middleware,
the logging setup call. They share `WireApp`: statements right after `app = FastAPI(...)` /
`app = Flask(...)` (inside a factory function too), module-level definitions before the
statement that creates the app, and calls after the module's imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor

from auditor.models import Finding
from fixers.cst import FixCommand, header_end, insert_at
from fixers.rewrite import statements
from fixers.pipeline.workspace import Skip, Workspace

APP_KINDS = {"fastapi-app": "fastapi", "flask-app": "flask"}
APP_CLASSES = {"FastAPI", "Flask", "Quart"}


@dataclass(frozen=True)
class AppSite:
    relpath: str
    var: str
    framework: str  # fastapi | flask
    line: int


def find_app(ws: Workspace, finding: Finding) -> AppSite:
    """The app the finding is about: one created in the finding's file, else the project's first."""
    index = ws.index
    apps = []
    for relpath, decl in (index.routers.values() if index is not None else []):
        if decl.kind in APP_KINDS:
            apps.append(AppSite(relpath, decl.var, APP_KINDS[decl.kind], decl.span.line))
    if not apps:
        raise Skip("no FastAPI() or Flask() app found in the project")
    apps.sort(key=lambda a: (a.relpath != finding.path, a.relpath, a.line))
    return apps[0]


def is_app_creation(statement: cst.CSTNode, var: str) -> bool:
    return m.matches(
        statement,
        m.SimpleStatementLine(
            body=[
                m.Assign(
                    targets=[m.AssignTarget(target=m.Name(var))],
                    value=m.Call(
                        func=m.OneOf(*(m.Name(c) for c in APP_CLASSES))
                        | m.Attribute(attr=m.OneOf(*(m.Name(c) for c in APP_CLASSES)))
                    ),
                )
            ]
        ),
    )


@dataclass
class Wiring:
    after_app: list[str] = field(default_factory=list)  # statements right after the app is created
    definitions: list[str] = field(default_factory=list)  # module-level code before that statement
    after_imports: list[str] = field(default_factory=list)  # module-level calls after the imports
    imports: list[tuple[str, str | None]] = field(default_factory=list)  # (module, name) to import


class WireApp(FixCommand):
    """Adds a Wiring to the module that creates the app `var`."""

    def __init__(self, context, targets: Sequence = (), var: str = "app", wiring: Wiring | None = None) -> None:
        super().__init__(context, targets)
        self.var = var
        self.wiring = wiring or Wiring()
        self.found = False

    def _after_app(self, body: Sequence[cst.BaseStatement]) -> list[cst.BaseStatement]:
        new = list(body)
        for index, statement in enumerate(body):
            if is_app_creation(statement, self.var):
                self.found = True
                added = [s.with_changes(leading_lines=[]) for code in self.wiring.after_app for s in statements(code)]
                return new[: index + 1] + added + new[index + 1 :]
        return new

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.found or not self.wiring.after_app:
            return updated_node
        return updated_node.with_changes(body=self._after_app(updated_node.body))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = list(updated_node.body)
        top = self._top_statement_of_app(original_node)
        if top is None:
            raise Skip(f"no `{self.var} = FastAPI(...)` or `{self.var} = Flask(...)` statement found")
        if not self.found and self.wiring.after_app:
            body = self._after_app(body)
        if self.wiring.definitions:
            definitions = [s for code in self.wiring.definitions for s in statements(code)]
            body = insert_at(body, top, definitions)
        if self.wiring.after_imports:
            calls = [s for code in self.wiring.after_imports for s in statements(code)]
            body = insert_at(body, header_end(body), calls)
        for module, name in self.wiring.imports:
            AddImportsVisitor.add_needed_import(self.context, module, name)
        self.fixed(self.targets)
        return super().leave_Module(original_node, updated_node.with_changes(body=body))

    def _top_statement_of_app(self, module: cst.Module) -> int | None:
        """Index of the top-level statement that creates the app (itself, or a factory holding it)."""
        for index, statement in enumerate(module.body):
            if any(is_app_creation(line, self.var) for line in m.findall(statement, m.SimpleStatementLine())):
                return index
        return None

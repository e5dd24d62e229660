"""Async and error-handling fixes: keep task references (PR340), keep background loops alive
(PR341), log swallowed exceptions (PR342, PR510), an app-wide exception handler (PR344)."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from auditor.models import Finding
from fixers.apps import WireApp, Wiring, find_app
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, Target, dotted_name, fix_with, insert_after_header, run_codemod
from fixers.cst_dispatch import QuickVisitor
from fixers.rewrite import statements
from fixers.pipeline.workspace import Workspace

# -- PR340: fire-and-forget tasks ---------------------------------------------------------------

TASK_HELPERS = '''
_background_tasks = set()


def _keep_task(task):
    """Hold a reference to a background task until it ends, and log it if it fails."""
    _background_tasks.add(task)
    task.add_done_callback(_task_done)
    return task


def _task_done(task):
    _background_tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        {logger}.error("background task %s failed", task.get_name(), exc_info=task.exception())
'''


class KeepTaskReference(FixCommand):
    """`asyncio.create_task(job())` -> `_keep_task(asyncio.create_task(job()))`."""

    DESCRIPTION = "Keep a reference to fire-and-forget tasks and log their failures."
    ONLY_WHERE_TARGETED = True

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.helpers_exist = any(
            isinstance(s, cst.FunctionDef) and s.name.value == "_keep_task" for s in node.body
        )
        self.used = False

    def leave_Expr(self, original_node: cst.Expr, updated_node: cst.Expr) -> cst.Expr:
        if not isinstance(original_node.value, cst.Call):
            return updated_node
        targets = self.targets_at(original_node.value)
        if not targets:
            return updated_node
        self.used = True
        self.fixed(targets)
        return updated_node.with_changes(value=cst.Call(cst.Name("_keep_task"), [cst.Arg(updated_node.value)]))

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if self.used and not self.helpers_exist:
            helpers = statements(TASK_HELPERS.format(logger=self.logger()))
            updated_node = insert_after_header(updated_node, helpers)
        return super().leave_Module(original_node, updated_node)


class TaskReferenceFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        return fix_with(KeepTaskReference, relpath, findings, ws)


# -- PR341: background loops that die on the first error ------------------------------------------


def is_sleep(statement: cst.CSTNode) -> bool:
    if not m.matches(statement, m.SimpleStatementLine(body=[m.Expr()])):
        return False
    value = statement.body[0].value
    if isinstance(value, cst.Await):
        value = value.expression
    return isinstance(value, cst.Call) and (dotted_name(value.func) or "").rpartition(".")[2] == "sleep"


def is_guarded(body: list[cst.BaseStatement]) -> bool:
    """Already one try whose handlers catch Exception (or everything)."""
    tries = [s for s in body if isinstance(s, cst.Try)]
    return any(
        h.type is None or dotted_name(h.type) in ("Exception", "BaseException")
        for t in tries
        for h in t.handlers
    ) and all(isinstance(s, cst.Try) or is_sleep(s) for s in body)


class GuardLoop(FixCommand):
    """Each pass of `while ...:` runs inside try/except Exception that logs; sleeps stay outside,
    so a failing pass still waits before the next one."""

    DESCRIPTION = "Keep background loops alive when one pass fails."

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        # A finding on the function itself means its first loop.
        span = self.span(node)
        for target in self.targets_within(node, (span.start.line, self.span(node.body).start.line)):
            loop = next((s for s in node.body.body if isinstance(s, cst.While)), None)
            if loop is not None:
                target.line, target.col = self.span(loop).start.line, None

    def leave_While(self, original_node: cst.While, updated_node: cst.While) -> cst.While:
        targets = self.targets_at(original_node)
        if not targets:
            return updated_node
        if not isinstance(updated_node.body, cst.IndentedBlock):
            self.skipped(targets, "a one-line loop body; rewrite it as a block first")
            return updated_node
        body = list(updated_node.body.body)
        if is_guarded(body):
            self.fixed(targets)
            return updated_node
        before = [body.pop(0)] if body and is_sleep(body[0]) else []
        after = [body.pop()] if body and is_sleep(body[-1]) else []
        if not body:
            self.skipped(targets, "the loop only sleeps")
            return updated_node
        where = self.where("background loop")
        handler = cst.ExceptHandler(
            body=cst.IndentedBlock(
                [cst.parse_statement(f'{self.logger()}.exception("{where} failed; trying again on the next pass")\n')]
            ),
            type=cst.Name("Exception"),
        )
        guarded = cst.Try(body=cst.IndentedBlock(body), handlers=[handler])
        self.fixed(targets)
        return updated_node.with_changes(body=updated_node.body.with_changes(body=before + [guarded] + after))


class LoopGuardFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        return fix_with(GuardLoop, relpath, findings, ws)


# -- PR342 / PR510: except blocks that swallow the error -------------------------------------------

BROAD = (None, "Exception", "BaseException")


def handler_logs_or_raises(handler: cst.ExceptHandler) -> bool:
    found = []

    class Look(QuickVisitor):
        def visit_Raise(self, node: cst.Raise) -> None:
            found.append(node)

        def visit_Call(self, node: cst.Call) -> None:
            name = dotted_name(node.func) or ""
            head, _, method = name.rpartition(".")
            if method in {"exception", "error", "warning", "critical", "log"} and head:
                found.append(node)

    handler.body.visit(Look())
    return bool(found)


class LogSwallowed(FixCommand):
    """`except ...: pass` -> the same handler, logging the error with its traceback first."""

    DESCRIPTION = "Log exceptions that except blocks silently ignore."
    ONLY_WHERE_TARGETED = True

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler, updated_node: cst.ExceptHandler) -> cst.ExceptHandler:
        targets = self.targets_within(original_node)
        if not targets:
            return updated_node
        self.fixed(targets)
        return self.logged(updated_node)

    def leave_Try(self, original_node: cst.Try, updated_node: cst.Try) -> cst.Try:
        # A finding on the `try:` line: every handler of that try that swallows.
        targets = self.targets_at(original_node)
        if not targets:
            return updated_node
        self.fixed(targets)
        return updated_node.with_changes(handlers=[self.logged(h) for h in updated_node.handlers])

    def logged(self, handler: cst.ExceptHandler) -> cst.ExceptHandler:
        if handler_logs_or_raises(handler):
            return handler
        where = self.where()
        if (dotted_name(handler.type) if handler.type is not None else None) in BROAD:
            call = f'{self.logger()}.exception("error ignored in {where}")\n'
        else:
            call = f'{self.logger()}.warning("error ignored in {where}", exc_info=True)\n'
        log = cst.parse_statement(call)
        body = handler.body
        statements = list(body.body) if isinstance(body, cst.IndentedBlock) else [cst.SimpleStatementLine(list(body.body))]
        statements = [s for s in statements if not m.matches(s, m.SimpleStatementLine(body=[m.Pass()]))]
        if isinstance(body, cst.IndentedBlock):
            return handler.with_changes(body=body.with_changes(body=[log] + statements))
        return handler.with_changes(body=cst.IndentedBlock([log] + statements))


class LogSwallowedFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        return fix_with(LogSwallowed, relpath, findings, ws)


# -- PR344: no app-wide exception handler ------------------------------------------------------------

FASTAPI_HANDLER = '''
async def handle_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Log an unexpected error with its traceback; answer a JSON 500 that reveals no internals."""
    {logger}.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={{"detail": "Internal server error"}})
'''

FLASK_HANDLER = '''
def handle_unexpected_error(exc: Exception):
    """Log an unexpected error with its traceback; answer a JSON 500 that reveals no internals."""
    if isinstance(exc, HTTPException):
        return exc  # 404, 405, abort(400)...: Flask answers those itself
    {logger}.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return jsonify(error="internal server error"), 500
'''


class GlobalHandlerFixer(Fixer):
    def fix(self, findings, ws: Workspace) -> Outcomes:
        outcomes: Outcomes = {}
        for finding in findings:
            outcomes.update(self.guarded([finding], ws, lambda: self.fix_one(finding, ws)))
        return outcomes

    def fix_one(self, finding: Finding, ws: Workspace) -> Outcomes:
        app = find_app(ws, finding)
        source = ws.read(app.relpath) or ""
        if "def handle_unexpected_error" in source:
            return {finding: None}  # wired by an earlier finding of this run
        if app.framework == "fastapi":
            wiring = Wiring(
                after_app=[f"{app.var}.add_exception_handler(Exception, handle_unexpected_error)\n"],
                definitions=[FASTAPI_HANDLER],
                imports=[("fastapi", "Request"), ("fastapi.responses", "JSONResponse")],
            )
        else:
            wiring = Wiring(
                after_app=[f"{app.var}.register_error_handler(Exception, handle_unexpected_error)\n"],
                definitions=[FLASK_HANDLER],
                imports=[("flask", "jsonify"), ("flask", "request"), ("werkzeug.exceptions", "HTTPException")],
            )
        target = Target(finding, app.line, None)
        command = run_codemod(ws, app.relpath, WireAppWithLogger, [target], var=app.var, wiring=wiring)
        return {finding: command.outcomes.get(finding, "the app could not be wired")}


class WireAppWithLogger(WireApp):
    """WireApp whose snippets log through the module logger (`{logger}` in the code)."""

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        name = self.logger()
        self.wiring = Wiring(
            after_app=self.wiring.after_app,
            definitions=[code.format(logger=name) for code in self.wiring.definitions],
            after_imports=self.wiring.after_imports,
            imports=self.wiring.imports,
        )


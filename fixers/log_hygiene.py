"""What goes into log lines: the traceback of the error being handled (PR511), and no secrets
(PR530: the value is replaced by "[redacted]", the message keeps its shape)."""

from __future__ import annotations

import libcst as cst

from auditor.models import Finding
from auditor.rules.hardening import secret_name
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, dotted_name, fix_with
from fixers.cst_dispatch import QuickTransformer
from fixers.rewrite import set_keyword, tail

LOG_METHODS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print"}
REDACTED = '"[redacted]"'


def is_secret(node: cst.BaseExpression) -> bool:
    """A name or attribute named like a secret (not `len(password)`, not `token_type`)."""
    name = node.value if isinstance(node, cst.Name) else node.attr.value if isinstance(node, cst.Attribute) else None
    return bool(name) and secret_name(name)


class LogCalls(FixCommand):
    ONLY_WHERE_TARGETED = True

    def _targets(self, node: cst.CSTNode) -> list:
        if self.untargeted(node):
            return []
        span = self.span(node)
        return [t for t in self.targets if t.finding not in self.outcomes and span.start.line <= t.line <= span.end.line]

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        method = tail(dotted_name(original_node.func) or "")
        if method not in LOG_METHODS:
            return updated_node
        targets = [t for t in self._targets(original_node) if self.span(original_node).start.line == t.line or t.col is None]
        if not targets:
            return updated_node
        call = updated_node
        for target in targets:
            if target.finding.rule == "PR511":
                call = self._with_traceback(call, method)
            else:
                call = Redact().visit_args(call)
            self.fixed([target])
        return call

    @staticmethod
    def _with_traceback(call: cst.Call, method: str) -> cst.Call:
        if method == "error" and isinstance(call.func, cst.Attribute):
            return call.with_changes(func=call.func.with_changes(attr=cst.Name("exception")))
        return set_keyword(call, "exc_info", "True")


class Redact(QuickTransformer):
    """Secret values in a log call's arguments, f-strings and extra={...} become "[redacted]"."""

    def visit_args(self, call: cst.Call) -> cst.Call:
        return call.with_changes(args=[arg.visit(self) for arg in call.args])

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        if is_secret(original_node.value):
            return updated_node.with_changes(value=cst.parse_expression(REDACTED))
        return updated_node

    def leave_DictElement(self, original_node: cst.DictElement, updated_node: cst.DictElement) -> cst.DictElement:
        if is_secret(original_node.value):
            return updated_node.with_changes(value=cst.parse_expression(REDACTED))
        return updated_node

    def leave_FormattedStringExpression(self, original_node, updated_node):
        if is_secret(original_node.expression):
            return cst.FormattedStringText("[redacted]")
        return updated_node


class LogHygieneFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws) -> Outcomes:
        return fix_with(LogCalls, relpath, findings, ws)

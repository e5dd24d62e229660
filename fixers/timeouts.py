"""Timeouts on outbound calls (PR250): a slow service now fails the call after 10 seconds
instead of holding a worker for ever."""

from __future__ import annotations

import libcst as cst

from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, fix_with
from fixers.rewrite import keyword, set_keyword

TIMEOUT_SECONDS = "10"


class AddTimeout(FixCommand):
    """`requests.post(url, json=...)` -> `requests.post(url, json=..., timeout=10)`."""

    DESCRIPTION = "Add a timeout to outbound calls."
    ONLY_WHERE_TARGETED = True

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        targets = self.targets_at(original_node)
        if not targets:
            return updated_node
        if keyword(original_node, "timeout") is not None:
            self.skipped(targets, "the call already passes a timeout")
            return updated_node
        if any(arg.star for arg in original_node.args):
            self.skipped(targets, "the call takes *args/**kwargs: pass the timeout where they are built")
            return updated_node
        self.fixed(targets)
        return set_keyword(updated_node, "timeout", TIMEOUT_SECONDS)


class TimeoutFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws) -> Outcomes:
        return fix_with(AddTimeout, relpath, findings, ws)

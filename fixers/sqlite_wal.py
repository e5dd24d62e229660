"""SQLite under concurrent requests (PR232): WAL mode (reads no longer wait for writes) and a
15-second busy timeout on the app's connections."""

from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, dotted_name, fix_with
from fixers.rewrite import keyword, set_keyword, statements

WAL = 'PRAGMA journal_mode=WAL'


def _connect(node: cst.BaseExpression | None) -> bool:
    return isinstance(node, cst.Call) and (dotted_name(node.func) or "").endswith("sqlite3.connect")


class SqliteWal(FixCommand):
    """`conn = sqlite3.connect(path)` -> a timeout, then `conn.execute("PRAGMA journal_mode=WAL")`;
    `return sqlite3.connect(path)` gets a name first."""

    def _targets(self, node: cst.CSTNode) -> list:
        """Targets on the statement's line; when an earlier fix rewrote that line (column lost),
        a connect statement a few lines away is the same one, moved."""
        line = self.span(node).start.line
        return [
            t for t in self.targets
            if t.finding not in self.outcomes and (t.line == line or (t.col is None and abs(t.line - line) <= 3 and "sqlite3.connect" in cst.Module([node]).code))
        ]

    @staticmethod
    def _tuned(call: cst.Call) -> cst.Call:
        return call if keyword(call, "timeout") is not None or len(call.args) > 1 else set_keyword(call, "timeout", "15")

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):
        targets = self._targets(original_node)
        if not targets:
            return updated_node
        small = updated_node.body[0]
        if m.matches(small, m.Assign(targets=[m.AssignTarget(target=m.Name())])) and _connect(small.value):
            name = small.targets[0].target.value
            self.fixed(targets)
            first = updated_node.with_changes(body=[small.with_changes(value=self._tuned(small.value))])
            return cst.FlattenSentinel([first, *statements(f'{name}.execute("{WAL}")\n')])
        if isinstance(small, cst.Return) and _connect(small.value):
            self.fixed(targets)
            code = f"conn = {cst.Module([]).code_for_node(self._tuned(small.value))}\n" f'conn.execute("{WAL}")\nreturn conn\n'
            new = statements(code)
            new[0] = new[0].with_changes(leading_lines=updated_node.leading_lines)
            return cst.FlattenSentinel(new)
        self.skipped(targets, "the connection is not assigned to a name here; turn on WAL where it is created")
        return updated_node


class SqliteWalFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws) -> Outcomes:
        return fix_with(SqliteWal, relpath, findings, ws)

"""Where a module's nodes are (libcst's PositionProvider ranges), worked out one top-level
statement at a time, when a codemod first asks about a node in it.

libcst computes every node's position at once, by generating the whole module's code while
counting lines: a sixth of the time to plan a project's fixes, when most codemods only ask
about the few statements their findings point at. A module's code is its header, then each
statement's code, then its footer; so a statement's positions are what libcst's own position
codegen records for that statement alone, started on the statement's first line.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider
from libcst.metadata.position_provider import NEWLINE_RE, PositionProvidingCodegenState

from fixers.codegen import code_for


class Positions:
    """PositionProvider's ranges for one module, computed by top-level statement on demand."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.ranges: dict[cst.CSTNode, CodeRange] = {}
        self.index = {id(statement): i for i, statement in enumerate(module.body)}
        self._first_lines: list[int] | None = None
        self._done: set[int] = set()
        self._all = False

    def first_lines(self) -> list[int]:
        """The line each top-level statement starts on (its leading comments and blank lines
        included), and after them the line after the last one."""
        if self._first_lines is None:
            module = self.module
            line = 1 + sum(len(NEWLINE_RE.findall(code_for(empty, module))) for empty in module.header)
            lines = []
            for statement in module.body:
                lines.append(line)
                line += len(NEWLINE_RE.findall(code_for(statement, module)))
            lines.append(line)
            self._first_lines = lines
        return self._first_lines

    def lines_of(self, statement: int) -> tuple[int, int]:
        """First and last line of a top-level statement (by index)."""
        lines = self.first_lines()
        return lines[statement], lines[statement + 1] - 1

    def of(self, node: cst.CSTNode, statement: int | None = None) -> CodeRange:
        """The range of a node of this module; `statement` is the index of the top-level
        statement it is probably in. KeyError for a node that is not in the module."""
        found = self.ranges.get(node)
        if found is not None:
            return found
        own = self.index.get(id(node))
        for index in (own, statement):
            if index is not None and index not in self._done:
                self._statement(index)
                found = self.ranges.get(node)
                if found is not None:
                    return found
        if not self._all:  # a node elsewhere, or the module itself
            self.ranges.update(MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider))
            self._all = True
        return self.ranges[node]

    def _statement(self, index: int) -> None:
        if self._all:
            return
        provider = PositionProvider()
        state = PositionProvidingCodegenState(
            default_indent=self.module.default_indent,
            default_newline=self.module.default_newline,
            provider=provider,
            line=self.first_lines()[index],
        )
        self.module.body[index]._codegen(state)
        self.ranges.update(provider._computed)
        self._done.add(index)

"""A quicker way for libcst visitors to find their visit and leave methods.

On every node, libcst looks up `visit_<Node>`, `leave_<Node>`, and `visit_<Node>_<field>` and
`leave_<Node>_<field>` for each of its fields, by name: four to a dozen lookups per node, almost
all finding libcst's own empty stubs (its typed base classes define one for every node type and
field). Planning a project's fixes made millions of them. Here each class finds its own methods
once per node type; what it calls, and when, is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst


def _own(cls: type, name: str) -> Callable | None:
    """The method `name` of cls, unless it is missing or one of libcst's stubs (the first
    class defining it is libcst's own)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return None if klass.__module__.partition(".")[0] == "libcst" else getattr(cls, name)
    return None


class _Hooks:
    """One class's visit and leave methods, by node type."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.visit: dict[type, Callable | None] = {}
        self.leave: dict[type, Callable | None] = {}
        self.fields = any(  # visit_<Node>_<field> or leave_<Node>_<field> of its own
            name.startswith(("visit_", "leave_")) and name.count("_") >= 2
            for klass in cls.__mro__ if klass.__module__.partition(".")[0] != "libcst"
            for name in klass.__dict__
        )

    def visit_of(self, node_type: type) -> Callable | None:
        try:
            return self.visit[node_type]
        except KeyError:
            found = self.visit[node_type] = _own(self.cls, f"visit_{node_type.__name__}")
            return found

    def leave_of(self, node_type: type) -> Callable | None:
        try:
            return self.leave[node_type]
        except KeyError:
            found = self.leave[node_type] = _own(self.cls, f"leave_{node_type.__name__}")
            return found


def _hooks(cls: type) -> _Hooks:
    hooks = cls.__dict__.get("_quick_hooks")  # kept on the class itself (not inherited)
    if hooks is None:
        hooks = _Hooks(cls)
        cls._quick_hooks = hooks
    return hooks


class QuickTransformer(cst.CSTTransformer):
    """A CSTTransformer whose methods are found once per class and node type."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        visit = _hooks(type(self)).visit_of(type(node))
        return visit is None or visit(self, node) is not False

    def on_leave(self, original_node, updated_node):
        leave = _hooks(type(self)).leave_of(type(original_node))
        return updated_node if leave is None else leave(self, original_node, updated_node)

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if _hooks(type(self)).fields:
            super().on_visit_attribute(node, attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        if _hooks(type(self)).fields:
            super().on_leave_attribute(original_node, attribute)


class QuickVisitor(cst.CSTVisitor):
    """A CSTVisitor whose methods are found once per class and node type."""

    def on_visit(self, node: cst.CSTNode) -> bool:
        visit = _hooks(type(self)).visit_of(type(node))
        return visit is None or visit(self, node) is not False

    def on_leave(self, original_node: cst.CSTNode) -> None:
        leave = _hooks(type(self)).leave_of(type(original_node))
        if leave is not None:
            leave(self, original_node)

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if _hooks(type(self)).fields:
            super().on_visit_attribute(node, attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        if _hooks(type(self)).fields:
            super().on_leave_attribute(original_node, attribute)

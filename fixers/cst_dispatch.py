"""A quicker way for libcst visitors to find their visit and leave methods.

On every node, libcst looks up `visit_<Node>`, `leave_<Node>`, and `visit_<Node>_<field>` and
`leave_<Node>_<field>` for each of its fields, by name: four to a dozen lookups per node, almost
all finding libcst's own empty stubs (its typed base classes define one for every node type and
field). Planning a project's fixes made millions of them. Here each class finds its own methods
once per node type, and a class without field methods answers those calls at once; what it
calls, and when, is unchanged.
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


class _Methods(dict):
    """Node type -> the class's own `<prefix><Node>` method or None, found on first use."""

    def __init__(self, cls: type, prefix: str) -> None:
        super().__init__()
        self.cls, self.prefix = cls, prefix

    def __missing__(self, node_type: type) -> Callable | None:
        found = self[node_type] = _own(self.cls, self.prefix + node_type.__name__)
        return found


def _has_field_methods(cls: type) -> bool:
    """Whether the class has a visit_<Node>_<field> or leave_<Node>_<field> of its own."""
    return any(
        name.startswith(("visit_", "leave_")) and name.count("_") >= 2
        for klass in cls.__mro__ if klass.__module__.partition(".")[0] != "libcst"
        for name in klass.__dict__
    )


def _no_field_method(self, node: cst.CSTNode, attribute: str) -> None:
    return None


def _set_up(cls: type, base: type) -> None:
    """Each class gets tables of its own (set on it, so a subclass never reads its parent's)."""
    cls._visits = _Methods(cls, "visit_")
    cls._leaves = _Methods(cls, "leave_")
    fields = _has_field_methods(cls)
    cls.on_visit_attribute = base.on_visit_attribute if fields else _no_field_method
    cls.on_leave_attribute = base.on_leave_attribute if fields else _no_field_method


class _FoundOnce:
    """What QuickTransformer and QuickVisitor share: the tables, and the visit dispatch."""

    _LIBCST_BASE: type  # the libcst class whose per-field calls a class with field methods keeps

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        _set_up(cls, cls._LIBCST_BASE)

    def on_visit(self, node: cst.CSTNode) -> bool:
        visit = self._visits[type(node)]
        return visit is None or visit(self, node) is not False


class QuickTransformer(_FoundOnce, cst.CSTTransformer):
    """A CSTTransformer whose methods are found once per class and node type."""

    _LIBCST_BASE = cst.CSTTransformer

    def on_leave(self, original_node, updated_node):
        leave = self._leaves[type(original_node)]
        return updated_node if leave is None else leave(self, original_node, updated_node)


class QuickVisitor(_FoundOnce, cst.CSTVisitor):
    """A CSTVisitor whose methods are found once per class and node type."""

    _LIBCST_BASE = cst.CSTVisitor

    def on_leave(self, original_node: cst.CSTNode) -> None:
        leave = self._leaves[type(original_node)]
        if leave is not None:
            leave(self, original_node)

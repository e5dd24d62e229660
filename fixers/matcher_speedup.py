"""Creating one of libcst's matcher-decoratable visitors costs as much as parsing a module.

AddImportsVisitor, RemoveImportsVisitor and the gatherers they run look through every attribute
of the new instance (some 700: a visit and a leave method per node type) for matcher decorators
(`@m.visit`, `@m.call_if_inside`...), twice when created and once more on the first node.
Planning a project's fixes creates hundreds of them, none with a decorator: that search was a
seventh of the planning time. For a class with no decorated attribute the answer is always
empty, so it is decided once per class; any other class keeps libcst's own search.
"""

from __future__ import annotations

from libcst.matchers import _decorators, _visitors

_MARKS = (
    _decorators.VISIT_POSITIVE_MATCHER_ATTR,
    _decorators.VISIT_NEGATIVE_MATCHER_ATTR,
    _decorators.CONSTRUCTED_VISIT_MATCHER_ATTR,
    _decorators.CONSTRUCTED_LEAVE_MATCHER_ATTR,
)
_undecorated: dict[type, bool] = {}


def _has_no_decorators(cls: type) -> bool:
    known = _undecorated.get(cls)
    if known is None:
        known = _undecorated[cls] = not any(
            hasattr(getattr(cls, name, None), mark) for name in dir(cls) for mark in _MARKS
        )
    return known


def _per_class(search):
    def gather(obj: object) -> dict:
        return {} if _has_no_decorators(type(obj)) else search(obj)

    gather.__wrapped__ = search
    return gather


def install() -> None:
    """Put the per-class shortcut in front of libcst's three searches (once; a libcst without
    them is left as it is)."""
    for name in ("_gather_constructed_visit_funcs", "_gather_constructed_leave_funcs", "_gather_matchers"):
        search = getattr(_visitors, name, None)
        if search is not None and not hasattr(search, "__wrapped__"):
            setattr(_visitors, name, _per_class(search))

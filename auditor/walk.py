"""One traversal of a module's tree that every per-module rule and the extractor share.

Rules declare `visit_<NodeType>` / `leave_<NodeType>` methods (as in Fixit and libcst); the
walker builds a dispatch table once and visits each node once, keeping the ancestor stack
so a handler can ask where it is (inside which function, inside a loop...).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

Handler = Callable[[Any, "ModuleContext"], None]

LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def dotted(node: ast.AST | None) -> str | None:
    """`a.b.c` for a Name/Attribute chain, the callee's name for a Call; None otherwise."""
    parts: list[str] = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def kwarg(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


_MISSING = object()


class ModuleContext:
    """What a per-module rule sees: the source, the tree, names resolved through imports."""

    def __init__(self, relpath: str, source: str, tree: ast.Module, module_name: str) -> None:
        self.relpath = relpath
        self.source = source
        self.tree = tree
        self.module_name = module_name
        self.parents: list[ast.AST] = []
        self.findings: list = []  # Finding objects reported by module rules
        self.package = module_name if relpath.endswith("__init__.py") else module_name.rpartition(".")[0]
        # Module-level imports are known up front; imports inside functions and blocks are
        # added by the walker in source order.
        self.imports: dict[str, str] = {}
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                record_import(node, self.imports, self.package)
        self._lines: list[str] | None = None
        self._resolved: dict[int, str | None] = {}

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.splitlines()
        return self._lines

    def resolve(self, node: ast.AST | str | None) -> str | None:
        """Fully qualified dotted name, following this module's imports (`jwt.decode`, `fastapi.Depends`)."""
        if node is None:
            return None
        if not isinstance(node, str):
            key = id(node)  # many rules resolve the same callee: compute it once per node
            cached = self._resolved.get(key, _MISSING)
            if cached is _MISSING:
                cached = self._resolved[key] = self.resolve(dotted(node))
            return cached
        head, _, rest = node.partition(".")
        target = self.imports.get(head)
        if target is None:
            return node or None
        return f"{target}.{rest}" if rest else target

    def imports_module(self, prefix: str) -> bool:
        return any(t == prefix or t.startswith(prefix + ".") for t in self.imports.values())

    # Where a handler is, from the ancestor stack (innermost first).
    def enclosing_function(self) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        for node in reversed(self.parents):
            if isinstance(node, FUNCTIONS):
                return node
        return None

    def enclosing_class(self) -> ast.ClassDef | None:
        for node in reversed(self.parents):
            if isinstance(node, ast.ClassDef):
                return node
            if isinstance(node, FUNCTIONS):
                return None
        return None

    def in_loop(self) -> ast.AST | None:
        """The innermost loop around the current node, within the current function."""
        for node in reversed(self.parents):
            if isinstance(node, LOOPS):
                return node
            if isinstance(node, FUNCTIONS):
                return None
        return None

    def parent(self) -> ast.AST | None:
        return self.parents[-1] if self.parents else None


def record_import(node: ast.Import | ast.ImportFrom, imports: dict[str, str], package: str) -> None:
    """Add the local names an import statement binds to `imports` (relative imports resolved)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                imports[alias.asname] = alias.name
            else:
                head = alias.name.partition(".")[0]
                imports.setdefault(head, head)
        return
    base = node.module or ""
    if node.level:
        parts = package.split(".") if package else []
        if node.level > 1:
            parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, base] if base else parts)
    for alias in node.names:
        if alias.name != "*":
            imports[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name


# Fields never worth visiting: expression contexts and operators are leaf singletons.
_SKIP_FIELDS = frozenset({"ctx", "op", "ops", "type_comment", "type_ignores"})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(cls: type) -> tuple[str, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple(name for name in cls._fields if name not in _SKIP_FIELDS)
    return fields


class Dispatcher:
    """Maps node classes to the enter/leave handlers of a set of visitor objects."""

    def __init__(self, visitors: Iterable[object]) -> None:
        enter: dict[type, list[Handler]] = defaultdict(list)
        leave: dict[type, list[Handler]] = defaultdict(list)
        for visitor in visitors:
            for attr in dir(visitor):
                prefix, _, node_name = attr.partition("_")
                node_class = getattr(ast, node_name, None)
                if prefix not in {"visit", "leave"} or not isinstance(node_class, type):
                    continue
                (enter if prefix == "visit" else leave)[node_class].append(getattr(visitor, attr))
        for imports in (ast.Import, ast.ImportFrom):  # keep ctx.imports current in source order
            enter[imports].insert(0, lambda node, ctx: record_import(node, ctx.imports, ctx.package))
        self.enter = dict(enter)
        self.leave = dict(leave)

    def walk(self, ctx: ModuleContext) -> None:
        """Visit every node once, depth first in source order, keeping `ctx.parents` current."""
        enter, leave, parents, fields_of = self.enter, self.leave, ctx.parents, _child_fields
        AST = ast.AST

        def visit(node: ast.AST) -> None:
            cls = node.__class__
            handlers = enter.get(cls)
            if handlers:
                for handler in handlers:
                    handler(node, ctx)
            parents.append(node)
            for name in fields_of(cls):
                value = getattr(node, name, None)
                if value is None:
                    continue
                if value.__class__ is list:
                    for item in value:
                        if isinstance(item, AST):
                            visit(item)
                elif isinstance(value, AST):
                    visit(value)
            parents.pop()
            handlers = leave.get(cls)
            if handlers:
                for handler in handlers:
                    handler(node, ctx)

        visit(ctx.tree)

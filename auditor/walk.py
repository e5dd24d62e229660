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

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.source.splitlines()
        return self._lines

    def resolve(self, node: ast.AST | str | None) -> str | None:
        """Fully qualified dotted name, following this module's imports (`jwt.decode`, `fastapi.Depends`)."""
        name = node if isinstance(node, str) else dotted(node)
        if not name:
            return None
        head, _, rest = name.partition(".")
        target = self.imports.get(head)
        if target is None:
            return name
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


class Dispatcher:
    """Maps node class names to the enter/leave handlers of a set of visitor objects."""

    def __init__(self, visitors: Iterable[object]) -> None:
        self.enter: dict[str, list[Handler]] = defaultdict(list)
        self.leave: dict[str, list[Handler]] = defaultdict(list)
        for visitor in visitors:
            for attr in dir(visitor):
                if attr.startswith("visit_"):
                    self.enter[attr[6:]].append(getattr(visitor, attr))
                elif attr.startswith("leave_"):
                    self.leave[attr[6:]].append(getattr(visitor, attr))
        self.enter = dict(self.enter)
        self.leave = dict(self.leave)

    def walk(self, ctx: ModuleContext) -> None:
        enter, leave, parents = self.enter, self.leave, ctx.parents
        iter_children = ast.iter_child_nodes
        todo: list[Any] = [ctx.tree]
        while todo:
            node = todo.pop()
            if node.__class__ is _Leave:
                parents.pop()
                handlers = leave.get(node.name)
                if handlers:
                    for handler in handlers:
                        handler(node.node, ctx)
                continue
            name = node.__class__.__name__
            if name == "Import" or name == "ImportFrom":
                record_import(node, ctx.imports, ctx.package)
            handlers = enter.get(name)
            if handlers:
                for handler in handlers:
                    handler(node, ctx)
            children = list(iter_children(node))
            if not children:
                if name in leave:
                    for handler in leave[name]:
                        handler(node, ctx)
                continue
            parents.append(node)
            todo.append(_Leave(node, name))
            children.reverse()
            todo.extend(children)


class _Leave:
    __slots__ = ("node", "name")

    def __init__(self, node: ast.AST, name: str) -> None:
        self.node = node
        self.name = name

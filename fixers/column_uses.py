"""What a column type change would break in the code that computes with the column.

Float -> Numeric makes the column read `Decimal` values, and `Decimal * float` raises TypeError;
naive -> aware datetimes make `created_at < datetime.utcnow()` raise TypeError. Before such a fix
is offered, every use of the column in the project is found (attribute access on instances of the
model, the model's own methods and properties, values computed from it, and the project functions
they are passed to) and either

- rewritten so it keeps working (`0.2` -> `Decimal("0.2")`, `float(x)` -> `Decimal(str(x))`,
  `round(x, 2)` -> `x.quantize(Decimal("0.01"))`), or
- reported in plain words ("app/models.py:40 multiplies total by `rate`, which may be a float"),
  in which case the fix of that column is not offered.

This is a static, deliberately small flow analysis: names are followed inside one function, into
project functions the value is passed to, and through methods and properties of the model that
return it. Anything it cannot follow with confidence becomes a reason, never a guess.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

MONEY, TIME = "money", "time"

FLOAT_TYPES = {"Float", "REAL", "Double", "DOUBLE", "FLOAT", "DOUBLE_PRECISION"}
INT_TYPES = {"Integer", "BigInteger", "SmallInteger", "INTEGER", "BIGINT", "SMALLINT"}
SAFE_CONVERSIONS = {"float", "int", "str", "bool", "repr", "format", "Decimal", "decimal.Decimal", "isinstance", "print", "hash"}
OPS = {
    ast.Mult: ("multiplies", "by", "*"),
    ast.Div: ("divides", "by", "/"),
    ast.FloorDiv: ("divides", "by", "//"),
    ast.Mod: ("takes", "modulo", "%"),
    ast.Add: ("adds", "to", "+"),
    ast.Sub: ("subtracts", "from", "-"),
    ast.Pow: ("raises", "to the power", "**"),
}
QUERY_RESULTS = {"first", "one", "one_or_none", "get", "get_or_404", "first_or_404", "scalar_one", "scalar_one_or_none", "all", "scalars", "filter", "filter_by", "where", "order_by", "limit", "offset", "query", "select", "execute", "unique", "paginate", "options"}


@dataclass(frozen=True)
class Rewrite:
    """Replace the source from `start` to `end` ((line, column in characters)) with `text`;
    rewrites inside it (a float literal within a rounded product) are applied to it first."""

    relpath: str
    start: tuple[int, int]
    end: tuple[int, int]
    template: str  # "{}" stands for the (rewritten) source of `inner`
    inner: tuple[tuple[int, int], tuple[int, int]] | None = None
    needs: tuple[tuple[str, str], ...] = (("decimal", "Decimal"),)  # (module, name) imports the text uses


@dataclass(frozen=True)
class Problem:
    relpath: str
    line: int
    text: str
    columns: frozenset[str]  # "Model.attr" of the columns whose change causes it

    def __str__(self) -> str:
        return f"{self.relpath}:{self.line} {self.text}"


@dataclass
class Uses:
    rewrites: list[Rewrite] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _name(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def _tail(name: str) -> str:
    return name.rpartition(".")[2]


def _functions(tree: ast.AST):
    """(function node, enclosing class name or None) for every function, nested ones included."""

    def walk(node, cls):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield child, cls
                yield from walk(child, None)
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, child.name)
            else:
                yield from walk(child, cls)

    yield from walk(tree, None)


def _own_nodes(scope: ast.AST):
    """Nodes of a function (or module) body, without those of nested functions and classes."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))


class ColumnUses:
    """Uses of some columns of some models across the project's modules (current texts)."""

    def __init__(self, kind: str, columns: set[tuple[str, str]], texts: dict[str, str], index, flask: bool = False) -> None:
        self.kind = kind
        self.columns = columns  # {(model class, attribute)}
        self.texts = texts  # relpath -> current source of every project module
        self.index = index
        self.flask = flask
        self.models = {model.name for _, model in index.models} if index is not None else set()
        self.float_attrs: set[str] = set()  # Float columns of any model (Decimal(str(x)) is safe on anything)
        self.int_attrs: dict[str, set[str]] = {}  # model -> its Integer columns
        for _, model in index.models if index is not None else []:
            for column in model.columns:
                base = column.type.partition("(")[0].rpartition(".")[2]
                if base in FLOAT_TYPES:
                    self.float_attrs.add(column.name)
                elif base in INT_TYPES:
                    self.int_attrs.setdefault(model.name, set()).add(column.name)
        # model -> tracked attribute -> the columns it derives from (properties and methods too)
        self.attrs: dict[str, dict[str, frozenset[str]]] = {}
        for model, attr in columns:
            self.attrs.setdefault(model, {})[attr] = frozenset({f"{model}.{attr}"})
        self.functions: dict[str, frozenset[str]] = {}  # project functions returning a tracked value
        # methods (model -> name) and functions returning a dict or list holding tracked values
        self.container_attrs: dict[str, dict[str, frozenset[str]]] = {}
        self.container_functions: dict[str, frozenset[str]] = {}
        self.trees: dict[str, ast.Module] = {}
        for relpath, text in texts.items():
            try:
                self.trees[relpath] = ast.parse(text)
            except (SyntaxError, ValueError):
                continue
        self.lines = {relpath: text.splitlines() for relpath, text in texts.items()}

    # -- running ---------------------------------------------------------------------------------

    def analyse(self) -> Uses:
        for _ in range(4):  # properties returning a tracked value make more tracked attributes
            before = self._signature()
            self.uses = Uses()
            self._followed: set = set()
            needles = self._needles()
            for relpath, tree in sorted(self.trees.items()):
                if not any(needle in self.texts[relpath] for needle in needles):
                    continue  # the module never reads a tracked attribute or calls a tracked function
                self._scope(relpath, tree, None, {}, 0)
                for function, cls in _functions(tree):
                    self._scope(relpath, function, cls, {}, 0)
            if self._signature() == before:
                break
        unique = list(dict.fromkeys(self.uses.rewrites))
        return Uses(unique, list(dict.fromkeys(self.uses.problems)))

    def _needles(self) -> set[str]:
        attrs = {a for table in (self.attrs, self.container_attrs) for found in table.values() for a in found}
        return {f".{a}" for a in attrs} | {f"{f}(" for f in [*self.functions, *self.container_functions]}

    def _signature(self):
        def flat(table):
            return sorted((m, a, tuple(sorted(c))) for m, found in table.items() for a, c in found.items())

        functions = sorted((f, tuple(sorted(c))) for f, c in [*self.functions.items(), *self.container_functions.items()])
        return flat(self.attrs), flat(self.container_attrs), functions

    # -- one function (or module body) ------------------------------------------------------------

    def _scope(self, relpath: str, scope: ast.AST, cls: str | None, seeds: dict[str, frozenset[str]], depth: int) -> None:
        state = _Scope(self, relpath, scope, cls, dict(seeds), depth)
        state.bind()
        state.classify()


class _Scope:
    def __init__(self, owner: ColumnUses, relpath: str, scope: ast.AST, cls: str | None, values: dict[str, frozenset[str]], depth: int) -> None:
        self.o, self.relpath, self.scope, self.cls, self.depth = owner, relpath, scope, cls, depth
        self.values = values  # local name -> columns its tracked value comes from
        self.columns: frozenset[str] = frozenset()  # those of the value being followed
        self.containers: dict[str, frozenset[str]] = {}  # local dicts/lists holding tracked values
        self.instances: dict[str, str] = {}  # local name -> model class (an instance or rows of it)
        self.others: set[str] = set()  # names known to hold something else
        self.floats: set[str] = set()
        self.ints: set[str] = set()
        self.nodes = list(_own_nodes(scope))
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in [scope, *self.nodes]:
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        if isinstance(scope, ast.Module):
            return
        tree = owner.trees.get(relpath)
        for statement in tree.body if tree is not None else []:  # module constants: RATE = 0.2
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant):
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        self._constant(target.id, statement.value.value)
        args = scope.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        for position, arg in enumerate(params):
            if position == 0 and cls is not None and arg.arg in {"self", "cls"}:
                if cls in owner.models and arg.arg == "self":
                    self.instances["self"] = cls
                else:
                    self.others.add(arg.arg)  # another class's own attributes
            elif arg.annotation is not None:
                self._annotated(arg.arg, arg.annotation)

    def _constant(self, name: str, value) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, float):
            self.floats.add(name)
        elif isinstance(value, int):
            self.ints.add(name)

    def _annotated(self, name: str, annotation: ast.AST) -> None:
        words = {_tail(_name(n)) for n in ast.walk(annotation) if isinstance(n, (ast.Name, ast.Attribute))}
        models = words & self.o.models
        if models:
            self.instances[name] = sorted(models)[0]
        elif "float" in words:
            self.floats.add(name)
        elif "int" in words:
            self.ints.add(name)
        elif words:
            self.others.add(name)

    # -- what the names hold ----------------------------------------------------------------------

    def bind(self) -> None:
        for _ in range(3):
            for node in self.nodes:
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            self._bind(target.id, node.value)
                elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                    self._annotated(node.target.id, node.annotation)
                    if node.value is not None:
                        self._bind(node.target.id, node.value)
                elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)) and isinstance(node.target, ast.Name):
                    model = self._rows_of(node.iter)
                    if model:
                        self.instances[node.target.id] = model
                    elif self.origins(node.iter):
                        self.values[node.target.id] = self.origins(node.iter)
                elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                    origins = self.origins(node.value)
                    if origins:
                        self.values[node.target.id] = self.values.get(node.target.id, frozenset()) | origins

    def _bind(self, name: str, value: ast.AST) -> None:
        origins = self.origins(value)
        if origins:
            self.values[name] = self.values.get(name, frozenset()) | origins
            return
        if isinstance(value, ast.Constant):
            self._constant(name, value.value)
            return
        model = self._rows_of(value)
        if model:
            self.instances[name] = model
        elif isinstance(value, ast.Call) and _tail(_name(value.func))[:1].isupper():
            self.others.add(name)

    def _rows_of(self, value: ast.AST) -> str | None:
        """The model when `value` is an instance of it, or rows of it (a query, a list of them)."""
        if isinstance(value, ast.Name):
            return self.instances.get(value.id)
        if isinstance(value, ast.Call) and _tail(_name(value.func)) in self.o.models:
            return _tail(_name(value.func))  # Model(...)
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id in self.instances:
            return None  # an attribute of an instance (a relationship): not followed
        chain = value
        while isinstance(chain, (ast.Call, ast.Attribute, ast.Await, ast.Subscript)):
            if isinstance(chain, ast.Call):
                if isinstance(chain.func, ast.Attribute) and chain.func.attr not in QUERY_RESULTS:
                    return None
                if isinstance(chain.func, ast.Name) and chain.func.id != "select":
                    return None  # build_schema(Model) returns something else
                for arg in chain.args[:2]:  # db.query(Model), select(Model), db.get(Model, id)
                    if _tail(_name(arg)) in self.o.models and isinstance(arg, (ast.Name, ast.Attribute)):
                        return _tail(_name(arg))
                    if isinstance(arg, ast.Call):
                        inner = self._rows_of(arg)  # session.scalars(select(Model).where(...))
                        if inner:
                            return inner
                chain = chain.func
            elif isinstance(chain, ast.Attribute):
                if chain.attr == "query" and _tail(_name(chain.value)) in self.o.models:
                    return _tail(_name(chain.value))  # Flask-SQLAlchemy: Model.query...
                chain = chain.value
            elif isinstance(chain, ast.Await):
                chain = chain.value
            else:
                chain = chain.value
        return None

    def receiver(self, node: ast.AST) -> str | None:
        """'model:<Model>' for an instance, 'other' for something known, None when unknown."""
        if isinstance(node, ast.Name):
            if node.id in self.instances:
                return f"model:{self.instances[node.id]}"
            if node.id in self.others or node.id in self.o.models or node.id in self.values:
                return "other"
            return None
        if isinstance(node, ast.Call) and self._rows_of(node):
            return f"model:{self._rows_of(node)}"
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in self.instances:
            return f"model:{self.instances[node.value.id]}"  # rows[0]
        return None

    def tracked_attr(self, node: ast.Attribute) -> tuple[str, frozenset[str]] | None:
        """('yes' | 'maybe', columns) when node reads a tracked attribute of a model instance."""
        candidates = {model: attrs[node.attr] for model, attrs in self.o.attrs.items() if node.attr in attrs}
        if not candidates:
            return None
        receiver = self.receiver(node.value)
        if receiver is None:
            return "maybe", frozenset().union(*candidates.values())
        if receiver.startswith("model:") and receiver[6:] in candidates:
            return "yes", candidates[receiver[6:]]
        return None

    def origins(self, expr: ast.AST) -> frozenset[str]:
        """The columns a value computed by expr comes from (empty: not a tracked value)."""
        if isinstance(expr, ast.Name):
            return self.values.get(expr.id, frozenset())
        if isinstance(expr, ast.Attribute):
            found = self.tracked_attr(expr)
            return found[1] if found and found[0] == "yes" else frozenset()
        if isinstance(expr, ast.BinOp):
            return self.origins(expr.left) | self.origins(expr.right)
        if isinstance(expr, ast.UnaryOp):
            return self.origins(expr.operand)
        if isinstance(expr, ast.IfExp):
            return self.origins(expr.body) | self.origins(expr.orelse)
        if isinstance(expr, ast.BoolOp):
            return frozenset().union(*(self.origins(v) for v in expr.values))
        if isinstance(expr, ast.Await):
            return self.origins(expr.value)
        if isinstance(expr, (ast.GeneratorExp, ast.ListComp)):
            return self.origins(expr.elt) if self._comprehension_bound(expr) else frozenset()
        if isinstance(expr, ast.Call):
            name = _name(expr.func)
            if name in {"round", "abs", "min", "max", "sum"} and self.o.kind == MONEY:
                if name == "round" and len(expr.args) < 2:
                    return frozenset()
                return frozenset().union(*(self.origins(a) for a in expr.args)) if expr.args else frozenset()
            if isinstance(expr.func, ast.Attribute):
                found = self.tracked_attr(expr.func)  # order.total() on a method returning the column
                if found and found[0] == "yes":
                    return found[1]
                if expr.func.attr in {"scalar", "scalar_one", "scalar_one_or_none"}:
                    return self._aggregate(expr)
            return self.o.functions.get(name, frozenset()) if isinstance(expr.func, ast.Name) else frozenset()
        return frozenset()

    def _comprehension_bound(self, expr) -> bool:
        for generator in expr.generators:
            if isinstance(generator.target, ast.Name):
                model = self._rows_of(generator.iter)
                if model:
                    self.instances[generator.target.id] = model
        return True

    def _aggregate(self, call: ast.Call) -> frozenset[str]:
        """`db.query(func.sum(Order.total)).scalar()` reads the column's type too."""
        found = set()
        for node in ast.walk(call):
            if isinstance(node, ast.Call) and _name(node.func).startswith("func.") and _tail(_name(node.func)) in {"sum", "avg", "min", "max"}:
                for arg in node.args:
                    if isinstance(arg, ast.Attribute) and (_tail(_name(arg.value)), arg.attr) in self.o.columns:
                        found.add(f"{_tail(_name(arg.value))}.{arg.attr}")
        return frozenset(found)

    # -- how each tracked value is used -----------------------------------------------------------

    def classify(self) -> None:
        for _ in range(2):  # a dict assigned to a name is known once its values have been seen
            known = dict(self.containers)
            self._classify()
            if self.containers == known:
                break

    def _classify(self) -> None:
        for node in self.nodes:
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.containers:
                self._container_use(node, self.containers[node.id])
            elif isinstance(node, ast.Call) and self._returns_container(node):
                self._container_use(node, self._returns_container(node))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                found = self.tracked_attr(node)
                if found:
                    self.use(node, found[1], maybe=found[0] == "maybe")
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.values:
                self.use(node, self.values[node.id], maybe=False)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in {"scalar", "scalar_one", "scalar_one_or_none"}:
                origins = self._aggregate(node)
                if origins:
                    self.use(node, origins, maybe=False)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.o.functions:
                self.use(node, self.o.functions[node.func.id], maybe=False)
            elif self.o.kind == TIME and isinstance(node, (ast.Assign, ast.Call, ast.Compare)):
                self._naive_writes(node)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Attribute):
                found = self.tracked_attr(node.target)  # order.total += 1.5
                if found and found[0] == "yes" and self.o.kind == MONEY:
                    self._operand(node.value, node.target, node.op, found[1])
                elif found and self.o.kind == TIME:
                    self.use(node.target, found[1], maybe=found[0] == "maybe")

    def source(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.o.texts[self.relpath], node) or "?"

    def position(self, node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]]:
        """(line, character column) of the start and end of node (ast columns count UTF-8 bytes)."""
        lines = self.o.lines[self.relpath]

        def at(line: int, byte: int) -> tuple[int, int]:
            return line, len(lines[line - 1].encode("utf-8")[:byte].decode("utf-8", errors="replace"))

        return at(node.lineno, node.col_offset), at(node.end_lineno, node.end_col_offset)

    def problem(self, node: ast.AST, text: str, columns: frozenset[str]) -> None:
        self.o.uses.problems.append(Problem(self.relpath, node.lineno, text, columns))

    def rewrite(self, node: ast.AST, template: str, inner: ast.AST | None = None, needs=(("decimal", "Decimal"),)) -> None:
        if self.depth > 0:  # a function the value is passed to may be called with floats too
            name = getattr(self.scope, "name", "?")
            self.problem(node, f"{name}() receives the column and computes with the float {self.what(node)}; it may be called with floats elsewhere, so it cannot be rewritten for Decimal", self.columns)
            return
        start, end = self.position(node)
        self.o.uses.rewrites.append(Rewrite(self.relpath, start, end, template, self.position(inner) if inner is not None else None, tuple(needs)))

    def what(self, node: ast.AST) -> str:
        return f"`{self.source(node)}`"

    def use(self, node: ast.AST, columns: frozenset[str], maybe: bool, hops: int = 0) -> None:
        """Follow one tracked value up to where it is consumed."""
        self.columns = columns
        parent = self.parents.get(node)
        if parent is None or hops > 12:
            return
        if maybe:
            return self._maybe(node, parent, columns)
        if self.o.kind == TIME:
            return self._time(node, parent, columns, hops)
        if isinstance(parent, ast.BinOp):
            other = parent.right if parent.left is node else parent.left
            if isinstance(parent.op, ast.Mod) and parent.right is node and isinstance(other, (ast.Constant, ast.JoinedStr)) and not isinstance(getattr(other, "value", ""), (int, float)):
                return  # "%.2f" % order.total: formatting, fine with a Decimal
            if self._operand(other, node, parent.op, columns):
                self.use(parent, columns, False, hops + 1)
        elif isinstance(parent, ast.IfExp) and parent.test is node or isinstance(parent, ast.BoolOp) and (
            not isinstance(parent.op, ast.Or) or self._condition(parent)
        ):
            return  # a truth test
        elif isinstance(parent, (ast.IfExp, ast.BoolOp)):
            # `order.total or 0.0`, `order.total if order.paid else 0.0`: the other branch too
            branches = [parent.body, parent.orelse] if isinstance(parent, ast.IfExp) else parent.values
            for other in branches:
                if other is not node and not self.origins(other) and not self._exact_number(other):
                    if self._float_literal(other) or isinstance(other, ast.UnaryOp) and self._float_literal(other.operand):
                        self.rewrite(other, f'Decimal("{self.source(other)}")')
                    else:
                        self.problem(parent, f"mixes {self.what(node)} with {self.what(other)}, which may be a float", columns)
                        return
            self.use(parent, columns, False, hops + 1)
        elif isinstance(parent, (ast.UnaryOp, ast.Await)):
            self.use(parent, columns, False, hops + 1)
        elif isinstance(parent, ast.Compare):
            for other in [parent.left, *parent.comparators]:
                if other is node or self.origins(other):
                    continue
                exact = any(isinstance(op, (ast.Eq, ast.NotEq)) for op in parent.ops)
                if self._float_literal(other):
                    self.rewrite(other, f'Decimal("{self.source(other)}")')
                elif exact and not self._exact_number(other):
                    self.problem(parent, f"compares {self.what(node)} with {self.what(other)} for equality; a Decimal equals a float only when the float is exact, so this test would change", columns)
        elif isinstance(parent, ast.AugAssign):
            self._augmented(node, parent, columns)
        elif isinstance(parent, (ast.Call, ast.keyword)):
            self._argument(node, parent, columns, hops)
        elif isinstance(parent, ast.Return):
            self._returned(parent, columns)
        elif self._holds(parent, node):
            self._container(node, parent, columns, hops)

    def _condition(self, node: ast.AST) -> bool:
        """node is only tested for truth (`if a or b:`)."""
        parent = self.parents.get(node)
        if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            return parent.test is node
        return isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not) or isinstance(parent, ast.comprehension)

    def _maybe(self, node: ast.AST, parent: ast.AST, columns: frozenset[str]) -> None:
        """A `.price` read on something that may or may not be the model: fine when the use
        works with a Decimal as well as a float, a reason otherwise."""
        risky = None
        if self._holds(parent, node):  # in a dict or list: fine unless it goes to JSON
            return self._container(node, parent, columns, 0)
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Mod) and isinstance(parent.left, (ast.Constant, ast.JoinedStr)) and parent.right is node:
            return  # "%.2f" % x
        if self.o.kind == MONEY and isinstance(parent, ast.BinOp):
            other = parent.right if parent.left is node else parent.left
            if not self._exact_number(other) and not self.origins(other):
                risky = f"{OPS.get(type(parent.op), ('computes with',))[0]} {self.what(node)}"
        elif self.o.kind == TIME and isinstance(parent, (ast.Compare, ast.BinOp)):
            risky = f"compares or subtracts {self.what(node)}"
        elif isinstance(parent, ast.Call) and self._unsafe_call(_name(parent.func)):
            risky = f"passes {self.what(node)} to {_name(parent.func)}()"
        if risky:
            owner = self.source(node.value) if isinstance(node, ast.Attribute) else "?"
            models = " or ".join(sorted({c.partition(".")[0] for c in columns}))
            article = "an" if models[:1].upper() in "AEIOU" else "a"
            self.problem(parent, f"{risky}, and it could not be told whether `{owner}` is {article} {models}", columns)

    def _float_literal(self, node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, float)

    def _exact_number(self, node: ast.AST) -> bool:
        """An int (or None) is exact: a Decimal computes and compares with it as before."""
        if isinstance(node, ast.Constant):
            return node.value is None or isinstance(node.value, (int, bool)) and not isinstance(node.value, float)
        if isinstance(node, ast.UnaryOp):
            return self._exact_number(node.operand)
        if isinstance(node, ast.Name):
            return node.id in self.ints
        if isinstance(node, ast.Attribute):  # an Integer column of a known model instance
            receiver = self.receiver(node.value)
            return bool(receiver and receiver.startswith("model:") and node.attr in self.o.int_attrs.get(receiver[6:], ()))
        if isinstance(node, ast.Call):
            name = _name(node.func)
            return name in {"int", "len", "Decimal", "decimal.Decimal"} or name == "round" and len(node.args) == 1
        return False

    def _operand(self, other: ast.AST, node: ast.AST, op: ast.operator, columns: frozenset[str]) -> bool:
        """Make `other` safe to combine with a Decimal; False (with a reason) when it cannot be."""
        if self.origins(other) or self._exact_number(other):
            return True
        if self._float_literal(other):
            self.rewrite(other, f'Decimal("{self.source(other)}")')
            return True
        if isinstance(other, ast.UnaryOp) and self._float_literal(other.operand):
            self.rewrite(other, f'Decimal("{self.source(other)}")')
            return True
        if isinstance(other, ast.BinOp):  # (1 + TAX_RATE): each part made safe
            return self._operand(other.left, node, op, columns) and self._operand(other.right, node, op, columns)
        if isinstance(other, ast.Call) and _name(other.func) == "float" and len(other.args) == 1 and not other.keywords:
            self.rewrite(other, "Decimal(str({}))", other.args[0])
            return True
        known_float = (
            isinstance(other, ast.Name) and other.id in self.floats
            or isinstance(other, ast.Attribute) and other.attr in self.o.float_attrs and not self.tracked_attr(other)
        )
        if known_float:
            self.rewrite(other, "Decimal(str({}))", other)
            return True
        verb, preposition, _ = OPS.get(type(op), ("computes with", "and", "?"))
        self.problem(
            node,
            f"{verb} {self.what(node)} {preposition} {self.what(other)}, which may be a float: "
            f"the column would read Decimal values, and Decimal {OPS.get(type(op), ('', '', '?'))[2]} float raises TypeError",
            columns,
        )
        return False

    def _augmented(self, node: ast.AST, parent: ast.AugAssign, columns: frozenset[str]) -> None:
        if parent.target is node:  # order.total += x
            self._operand(parent.value, node, parent.op, columns)
            return
        target = parent.target
        if isinstance(target, ast.Name):  # total = 0.0; total += item.price
            starts = [
                n.value for n in self.nodes
                if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == target.id for t in n.targets)
            ]
            for start in starts:
                if self._float_literal(start):
                    self.rewrite(start, f'Decimal("{self.source(start)}")')
                elif not (self._exact_number(start) or self.origins(start)):
                    self.problem(parent, f"adds {self.what(node)} into `{target.id}`, which starts as {self.what(start)} and may be a float", columns)
            return
        if not self.origins(target):
            self.problem(parent, f"adds {self.what(node)} into {self.what(target)}, which may be a float", columns)

    def _unsafe_call(self, name: str) -> str | None:
        if name in {"json.dumps", "json.dump", "dumps"} or name.startswith(("json.", "simplejson.")):
            return "json.dumps cannot write Decimal values (TypeError)" if self.o.kind == MONEY else None
        if name.startswith(("math.", "numpy.", "np.", "statistics.", "pd.", "pandas.")) and self.o.kind == MONEY:
            return f"{name}() works on floats"
        if name in {"jsonify", "flask.jsonify"} and self.o.kind == MONEY:
            return 'Flask writes Decimal values into JSON as strings ("9.99" instead of 9.99), so the API answer would change'
        return None

    def _argument(self, node: ast.AST, parent: ast.AST, columns: frozenset[str], hops: int) -> None:
        call = self.parents.get(parent) if isinstance(parent, ast.keyword) else parent
        if not isinstance(call, ast.Call) or call.func is node:
            return
        name = _name(call.func)
        unsafe = self._unsafe_call(name)
        if unsafe:
            self.problem(call, f"passes {self.what(node)} to {name}(): {unsafe}", columns)
            return
        if self.o.kind != MONEY or name in SAFE_CONVERSIONS:
            return self._follow(call, node, parent, columns) if self.o.kind == TIME else None
        if name == "round":
            if len(call.args) == 2 and call.args[0] is node and isinstance(call.args[1], ast.Constant) and isinstance(call.args[1].value, int):
                places = call.args[1].value
                step = "1" if places <= 0 else "0." + "0" * (places - 1) + "1"
                # sum() of nothing, or a total that starts at 0, is an int: Decimal() first
                maybe_int = isinstance(node, ast.Name) or isinstance(node, ast.Call) and _name(node.func) in {"sum", "min", "max"}
                atom = isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)) and not maybe_int
                template = "Decimal({})" if maybe_int else "{}" if atom else "({})"
                self.rewrite(call, template + f'.quantize(Decimal("{step}"))', node)
                self.use(call, columns, False, hops + 1)
            return
        if name in {"abs", "min", "max", "sum"}:
            for other in call.args:
                if other is not node and not isinstance(other, (ast.GeneratorExp, ast.ListComp)):
                    if not self._operand(other, node, ast.Add(), columns):
                        return
            self.use(call, columns, False, hops + 1)
            return
        self._follow(call, node, parent, columns)

    def _follow(self, call: ast.Call, node: ast.AST, parent: ast.AST, columns: frozenset[str]) -> None:
        """Into a project function the value is passed to: its parameter is tracked there."""
        if self.depth >= 2 or self.o.index is None or not isinstance(call.func, (ast.Name, ast.Attribute)):
            return
        found = self._project_function(_name(call.func))
        if found is None:
            return
        relpath, function = found
        params = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        if isinstance(parent, ast.keyword):
            param = parent.arg
        elif node in call.args:
            position = call.args.index(node)
            param = params[position] if position < len(params) else None
        else:
            param = None
        key = (relpath, function.lineno, param)
        if param is None or key in self.o._followed:
            return
        self.o._followed.add(key)
        self.o._scope(relpath, function, None, {param: columns}, self.depth + 1)

    def _project_function(self, name: str):
        index = self.o.index
        facts = index.modules.get(self.relpath)
        if facts is None:
            return None
        resolved = index.resolve_function(index.qualify(name, facts))
        if resolved is None or resolved[0] not in self.o.trees:
            return None
        relpath, function = resolved
        for node in ast.walk(self.o.trees[relpath]):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function.qualname.rpartition(".")[2] and node.lineno == function.span.line:
                return relpath, node
        for node in ast.walk(self.o.trees[relpath]):  # an earlier fix moved it
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function.qualname.rpartition(".")[2]:
                return relpath, node
        return None

    def _returned(self, parent: ast.Return, columns: frozenset[str]) -> None:
        scope = self.scope
        if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return
        if self.o.kind == MONEY and self.depth == 0 and isinstance(scope.returns, ast.Name) and scope.returns.id == "float":
            self.rewrite(scope.returns, "Decimal")  # `def total(self) -> float` now returns a Decimal
        if self.cls in self.o.models:  # a property or method of the model: `order.total` is tracked too
            attrs = self.o.attrs.setdefault(self.cls, {})
            attrs[scope.name] = attrs.get(scope.name, frozenset()) | columns
        elif self.cls is None and self.depth == 0:
            self.o.functions[scope.name] = self.o.functions.get(scope.name, frozenset()) | columns

    @staticmethod
    def _holds(parent: ast.AST, node: ast.AST) -> bool:
        """parent is a dict, list or comprehension and node one of its values."""
        if isinstance(parent, (ast.List, ast.Tuple, ast.Set)):
            return True
        if isinstance(parent, ast.Dict):
            return any(v is node for v in parent.values)
        if isinstance(parent, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
            return parent.elt is node
        if isinstance(parent, ast.DictComp):
            return parent.value is node
        return False

    def _returns_container(self, call: ast.Call) -> frozenset[str]:
        """`product.to_dict()` or `serialize(order)` returning a dict that holds the column."""
        if isinstance(call.func, ast.Attribute):
            receiver = self.receiver(call.func.value)
            if receiver and receiver.startswith("model:"):
                return self.o.container_attrs.get(receiver[6:], {}).get(call.func.attr, frozenset())
        elif isinstance(call.func, ast.Name):
            return self.o.container_functions.get(call.func.id, frozenset())
        return frozenset()

    def _container(self, node: ast.AST, parent: ast.AST, columns: frozenset[str], hops: int) -> None:
        """A value in a dict, list or comprehension: follow the container to where it goes."""
        top = parent
        while self._holds(self.parents.get(top), top):
            top = self.parents[top]
        self._container_use(top, columns, value=node)

    def _container_use(self, node: ast.AST, columns: frozenset[str], value: ast.AST | None = None) -> None:
        """Where a container holding tracked values goes: JSON (json.dumps; Flask's answers write
        Decimal as strings), a sum, a name, a return."""
        self.columns = columns
        value = value if value is not None else node
        parent = self.parents.get(node)
        if self._holds(parent, node):
            return self._container(node, parent, columns, 0)
        if isinstance(parent, (ast.Call, ast.keyword)):
            call = self.parents.get(parent) if isinstance(parent, ast.keyword) else parent
            if not isinstance(call, ast.Call) or call.func is node:
                return
            name = _name(call.func)
            unsafe = self._unsafe_call(name)
            if unsafe:
                self.problem(call, f"passes {self.what(value)} to {name}(): {unsafe}", columns)
            elif name in {"sum", "min", "max"} and self.o.kind == MONEY and isinstance(node, (ast.GeneratorExp, ast.ListComp)):
                self.use(call, columns, False)
        elif isinstance(parent, ast.Return):
            if self.o.flask and self.o.kind == MONEY:
                self.problem(parent, f"returns {self.what(value)} in a JSON answer: {self._unsafe_call('jsonify')}", columns)
            scope = self.scope
            if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if self.cls in self.o.models:
                    table = self.o.container_attrs.setdefault(self.cls, {})
                    table[scope.name] = table.get(scope.name, frozenset()) | columns
                elif self.cls is None and self.depth == 0:
                    self.o.container_functions[scope.name] = self.o.container_functions.get(scope.name, frozenset()) | columns
        elif isinstance(parent, ast.Assign) and parent.value is node:
            for target in parent.targets:
                if isinstance(target, ast.Name):
                    self.containers[target.id] = self.containers.get(target.id, frozenset()) | columns

    def _naive_now(self, node: ast.AST) -> str | None:
        """The aware spelling of `datetime.utcnow()` / `datetime.now()` (as this module names them)."""
        if not isinstance(node, ast.Call) or node.args or node.keywords:
            return None
        name = _name(node.func)
        if name in {"datetime.datetime.utcnow", "datetime.datetime.now"}:
            return "datetime.datetime.now(datetime.timezone.utc)"
        if name in {"datetime.utcnow", "datetime.now"} and self._timezone_free():
            return "datetime.now(timezone.utc)"
        return None

    def _timezone_free(self) -> bool:
        """`timezone` is free, or already datetime's, in this module."""
        for node in ast.walk(self.o.trees[self.relpath]):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if (alias.asname or alias.name) == "timezone":
                        return isinstance(node, ast.ImportFrom) and node.module == "datetime" and alias.name == "timezone"
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == "timezone":
                return False
            elif isinstance(node, ast.Name) and node.id == "timezone" and isinstance(node.ctx, ast.Store):
                return False
        return True

    def _aware(self, value: ast.AST) -> None:
        if isinstance(value, ast.BinOp):  # datetime.utcnow() - timedelta(days=7)
            self._aware(value.left)
            self._aware(value.right)
            return
        aware = self._naive_now(value)
        if aware:
            needs = () if aware.startswith("datetime.datetime") else (("datetime", "timezone"),)
            self.rewrite(value, aware, needs=needs)

    def _naive_writes(self, node: ast.AST) -> None:
        """An aware column gets aware values: `invite.sent_at = datetime.utcnow()`,
        `Invite(sent_at=datetime.utcnow())`, `Invite.sent_at < datetime.utcnow()` in a query."""
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Attribute) and (self.tracked_attr(t) or ("", ""))[0] == "yes" for t in node.targets):
                self._aware(node.value)
        elif isinstance(node, ast.Call):
            model = _tail(_name(node.func))
            attrs = self.o.attrs.get(model, {})
            for keyword in node.keywords:
                if keyword.arg in attrs:
                    self._aware(keyword.value)
        else:
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and isinstance(s.value, ast.Name) and s.attr in self.o.attrs.get(s.value.id, {}) for s in sides):
                for side in sides:  # Model.col < datetime.utcnow(): a SQL expression on the class
                    self._aware(side)

    # -- naive -> aware datetimes -------------------------------------------------------------------

    def _time(self, node: ast.AST, parent: ast.AST, columns: frozenset[str], hops: int) -> None:
        """An aware column compared with, or subtracted from, a naive datetime raises TypeError,
        and SQLite hands naive values back even for DateTime(timezone=True): not offered."""
        if isinstance(parent, ast.Compare):
            others = [o for o in [parent.left, *parent.comparators] if o is not node]
            if all(isinstance(o, ast.Constant) and o.value is None for o in others) or all(isinstance(op, (ast.Is, ast.IsNot)) for op in parent.ops):
                return
            self.problem(parent, f"compares {self.what(node)} with {self.what(others[0])}: an aware datetime cannot be compared with a naive one (TypeError)", columns)
        elif isinstance(parent, ast.BinOp):
            other = parent.right if parent.left is node else parent.left
            if isinstance(parent.op, (ast.Add, ast.Sub)) and isinstance(other, ast.Call) and _tail(_name(other.func)) == "timedelta":
                self.use(parent, columns, False, hops + 1)
            else:
                self.problem(parent, f"computes {self.source(parent)!r} with the column: aware and naive datetimes cannot be mixed (TypeError)", columns)
        elif isinstance(parent, (ast.IfExp, ast.Await)):
            self.use(parent, columns, False, hops + 1)
        elif isinstance(parent, (ast.Call, ast.keyword)):
            self._argument(node, parent, columns, hops)
        elif isinstance(parent, ast.Return):
            self._returned(parent, columns)


# -- applying the rewrites ---------------------------------------------------------------------------


def apply_rewrites(text: str, rewrites: list[Rewrite]) -> str:
    """The text with every rewrite made; nested ones are applied inside their enclosing one."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(position: tuple[int, int]) -> int:
        return starts[position[0] - 1] + position[1]

    spans = sorted({(offset(r.start), offset(r.end), r) for r in rewrites}, key=lambda s: (s[0], -s[1]))

    def render(begin: int, end: int) -> str:
        out, cursor = [], begin
        inner = [s for s in spans if begin <= s[0] and s[1] <= end and (s[0], s[1]) != (begin, end)]
        for start, stop, rewrite in inner:
            if start < cursor:
                continue  # inside one already rendered
            out.append(text[cursor:start])
            out.append(render_one(start, stop, rewrite))
            cursor = stop
        out.append(text[cursor:end])
        return "".join(out)

    def render_one(start: int, stop: int, rewrite: Rewrite) -> str:
        if "{}" not in rewrite.template:
            return rewrite.template
        if rewrite.inner is None:
            return rewrite.template.format(text[start:stop])
        inner_start, inner_end = offset(rewrite.inner[0]), offset(rewrite.inner[1])
        if (inner_start, inner_end) == (start, stop):
            return rewrite.template.format(text[start:stop])
        return rewrite.template.format(render(inner_start, inner_end))

    return render(0, len(text))

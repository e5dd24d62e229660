"""Request values followed through the project's functions, for the injection rules (PR310, PR311).

A small forward pass over each request handler, statement by statement:
- sources: Flask's `request.*` (high), `session[...]` (low: signed, but still not a constant),
  FastAPI path/query/body parameters (high for text, low for numbers; none for `Literal`);
- assignments, loops, `with ... as`, comprehensions and container mutation carry taint to names;
- string building (f-string, `%`, `+`, `.format`, `.join`) keeps the taint and records where the
  string was built, which is where a finding points;
- number conversions (`int(x)`) lower it; a lookup in a constant whitelist (`COLUMNS[sort]`),
  a constant branch (`"DESC" if d else "ASC"`) and an `in ALLOWED` guard clear it;
- a call into the project's own functions carries taint into their parameters (memoised, depth 3).
Sinks: SQL execution and `text()` (a built string or a raw request value), template compilation.
"""

from __future__ import annotations

import ast
import re
import weakref
from dataclasses import dataclass

from auditor.rules.webapp import call_tail, is_test_or_script, project_class, qualified, terminates
from auditor.walk import const_str, dotted, kwarg

HIGH, LOW = 2, 1
MAX_DEPTH = 3

REQUEST_OBJECTS = ("flask.request", "quart.request", "werkzeug.local.request")
SESSION_OBJECTS = ("flask.session", "quart.session")
NUMBER_CASTS = frozenset({"int", "float", "bool", "Decimal", "UUID", "len", "abs", "round", "fromisoformat", "date", "datetime"})
CLEANERS = frozenset({"escape", "quote_ident", "Identifier", "Literal", "bindparam", "literal", "literal_column"})
PASS_THROUGH = frozenset({"str", "repr", "format", "list", "tuple", "set", "sorted", "reversed", "unquote", "unquote_plus", "loads", "text", "dict"})
COMPOSERS = frozenset({"format", "join", "format_map"})
MUTATORS = frozenset({"append", "extend", "add", "insert", "update", "appendleft"})
SQL_METHODS = frozenset({"execute", "executemany", "executescript", "exec_driver_sql", "raw", "mogrify", "fetch", "fetchrow", "fetchval", "read_sql", "read_sql_query"})
TEXT_SINKS = frozenset({"sqlalchemy.text", "sqlalchemy.sql.text", "sqlalchemy.sql.expression.text", "sqlmodel.text"})
TEMPLATE_SINKS = frozenset({"flask.render_template_string", "quart.render_template_string", "jinja2.Template", "jinja2.environment.Template", "mako.template.Template"})
NUMERIC_ANNOTATION = re.compile(r"^(int|float|bool|Decimal|UUID|uuid\.UUID|date|datetime|time|timedelta|PositiveInt|NonNegativeInt|con(int|float|decimal)\(.*\))$")
NOT_INPUT_ANNOTATION = re.compile(r"(Session|Response|BackgroundTasks|Connection|Engine|Settings|HTTPConnection)\b")
REQUEST_ANNOTATION = re.compile(r"\b(Request|WebSocket)\b")
FLASK_PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


@dataclass(frozen=True)
class Taint:
    level: int  # HIGH or LOW
    source: str  # what the value came from, for messages
    origin: tuple[str, ast.AST] | None = None  # (relpath, node) where a string was built from it

    def plain(self) -> Taint:
        return Taint(self.level, self.source) if self.origin else self


@dataclass(frozen=True)
class Hit:
    kind: str  # "sql" | "template"
    relpath: str
    node: ast.AST
    level: int
    source: str
    sink: str


def strongest(*taints: Taint | None) -> Taint | None:
    best = None
    for taint in taints:
        if taint is not None and (best is None or taint.level > best.level or (taint.level == best.level and taint.origin and not best.origin)):
            best = taint
    return best


def strip_annotation(text: str) -> str:
    """`Optional[int]` / `int | None` / `Annotated[int, Query()]` -> `int`."""
    text = text.strip()
    for _ in range(3):
        match = re.match(r"^(?:typing\.)?(?:Optional|Annotated)\[(.*)\]$", text)
        if match:
            text = match.group(1)
            if text.count(",") and "[" not in text.split(",")[0]:
                text = text.split(",")[0]
            text = text.strip()
        text = re.sub(r"\s*\|\s*None$|^None\s*\|\s*", "", text)
    return text


def parameter_taint(param, flask_converters: dict[str, str] | None = None, path_names: frozenset[str] = frozenset()) -> Taint | None:
    """The taint a route handler parameter starts with: FastAPI parameters by annotation, Flask
    path parameters (`<id>`, `<int:id>`) by converter. Dependencies are the caller's to drop."""
    if param.kind != "normal" or param.name in {"self", "cls"}:
        return None
    if flask_converters is not None:
        converter = flask_converters.get(param.name)
        if converter is None:
            return None
        return Taint(LOW if converter in {"int", "float", "uuid"} else HIGH, f"path parameter `{param.name}`")
    annotation = param.annotation or ""
    if REQUEST_ANNOTATION.search(annotation):
        return Taint(HIGH, "request")  # FastAPI's Request: request.query_params, await request.json()...
    if NOT_INPUT_ANNOTATION.search(annotation):
        return None
    base = strip_annotation(annotation)
    if base.startswith(("Literal[", "typing.Literal[")):
        return None
    kind = "path parameter" if param.name in path_names else "parameter"
    if NUMERIC_ANNOTATION.match(base):
        return Taint(LOW, f"{kind} `{param.name}` ({base})")
    if re.search(r"\b(pattern|regex)=", f"{param.default} {annotation}"):
        return Taint(LOW, f"{kind} `{param.name}` (pattern-checked)")
    return Taint(HIGH, f"{kind} `{param.name}`")


def flask_path_params(path: str) -> dict[str, str]:
    return {name: converter or "string" for converter, name in FLASK_PARAM.findall(path)}


class TaintAnalysis:
    """Runs once per index (see `hits_for`): every route handler, plus every function of a
    module that reads Flask's global `request`."""

    def __init__(self, index) -> None:
        self.index = index
        self.hits: dict[tuple, Hit] = {}
        self.summaries: dict[tuple, Taint | None] = {}
        self.constants: dict[str, set[str]] = {}

    def run(self) -> list[Hit]:
        entry: set[tuple[str, str]] = set()
        for route in self.index.routes:
            if is_test_or_script(route.relpath):
                continue
            node = self.index.function_node(route.relpath, route.handler.qualname)
            if node is None:
                continue
            entry.add((route.relpath, route.handler.qualname))
            facts = self.index.modules[route.relpath]
            if route.framework == "flask":
                converters = flask_path_params(route.path)
                params = {p.name: parameter_taint(p, flask_converters=converters) for p in route.handler.params}
            else:
                path_names = frozenset(re.findall(r"{(\w+)", route.path))
                params = {p.name: parameter_taint(p, path_names=path_names) for p in route.handler.params}
            for param in route.handler.params:
                if param.name not in params:
                    continue
                # A dependency (also `user: CurrentUser`, an Annotated alias from another module) is
                # what the app computed, not input; an Enum parameter is a whitelist.
                if self.index.param_dependency(param, facts) or (
                    param.annotation and self.is_enum(facts, strip_annotation(param.annotation))
                ):
                    params[param.name] = None
            self.function(route.relpath, node, {k: v for k, v in params.items() if v is not None}, 0)
        for relpath, facts in sorted(self.index.modules.items()):
            if is_test_or_script(relpath) or not any(t in REQUEST_OBJECTS for t in facts.imports.values()):
                continue
            for qualname in facts.functions:
                if (relpath, qualname) not in entry:
                    node = self.index.function_node(relpath, qualname)
                    if node is not None:
                        self.function(relpath, node, {}, 0)
        return sorted(self.hits.values(), key=lambda h: (h.relpath, h.node.lineno, h.node.col_offset))

    def function(self, relpath: str, node: ast.AST, params: dict[str, Taint], depth: int) -> Taint | None:
        key = (relpath, node.lineno, tuple(sorted((name, t.level) for name, t in params.items())))
        if key in self.summaries:
            return self.summaries[key]
        self.summaries[key] = None  # recursion guard
        flow = FunctionFlow(self, relpath, dict(params), depth)
        try:
            flow.block(node.body)
        except RecursionError:  # absurdly nested expressions: leave this function out
            return None
        self.summaries[key] = flow.returned.plain() if flow.returned else None
        return self.summaries[key]

    def is_enum(self, facts, name: str) -> bool:
        located = project_class(self.index, facts, name)
        if located is None:
            return False
        bases = self.index.modules[located[0]].classes.get(located[1], [])
        return any(b.rpartition(".")[2] in {"Enum", "StrEnum", "IntEnum", "Flag", "IntFlag"} for b in bases)

    def module_constants(self, relpath: str) -> set[str]:
        """Names bound at module level to literal containers of constants (whitelists)."""
        if relpath not in self.constants:
            names = set()
            for stmt in self.index.tree(relpath).body:
                target, value = None, None
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                    target, value = stmt.targets[0], stmt.value
                elif isinstance(stmt, ast.AnnAssign):
                    target, value = stmt.target, stmt.value
                if isinstance(target, ast.Name) and is_constant_container(value):
                    names.add(target.id)
            self.constants[relpath] = names
        return self.constants[relpath]

    def report(self, hit: Hit) -> None:
        key = (hit.kind, hit.relpath, hit.node.lineno, hit.node.col_offset)
        known = self.hits.get(key)
        if known is None or hit.level > known.level:
            self.hits[key] = hit


CASE_METHODS = frozenset({"lower", "upper", "strip", "casefold", "lstrip", "rstrip"})


def guarded_name(node: ast.AST) -> str | None:
    """The name a membership test checks: `sort`, or `sort.lower()` / `sort.strip().lower()`."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CASE_METHODS and not node.args:
        node = node.func.value
    return node.id if isinstance(node, ast.Name) else None


def is_constant_container(node: ast.AST | None) -> bool:
    if isinstance(node, ast.Call) and call_tail(node) in {"frozenset", "set", "tuple", "dict"} and node.args:
        return is_constant_container(node.args[0])
    if isinstance(node, ast.Dict):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(isinstance(e, ast.Constant) for e in node.elts)
    return False


class FunctionFlow:
    """One pass over one function body with the taint of each local name."""

    def __init__(self, analysis: TaintAnalysis, relpath: str, env: dict[str, Taint], depth: int) -> None:
        self.analysis = analysis
        self.relpath = relpath
        self.facts = analysis.index.modules[relpath]
        self.imports = self.facts.imports
        self.env = env
        self.depth = depth
        self.local_constants: set[str] = set()
        self.returned: Taint | None = None

    # -- statements --------------------------------------------------------------------------

    def block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self.statement(stmt)

    def statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        for expr in header_expressions(stmt):
            self.check_sinks(expr)
        if isinstance(stmt, ast.Assign):
            taint = self.value(stmt.value)
            for target in stmt.targets:
                self.bind(target, taint)
                if isinstance(target, ast.Name) and is_constant_container(stmt.value):
                    self.local_constants.add(target.id)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.bind(stmt.target, self.value(stmt.value))
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            old, new = self.env.get(stmt.target.id), self.value(stmt.value)
            merged = strongest(old, new)
            if merged is not None:
                composed = isinstance(stmt.op, (ast.Add, ast.Mod)) and (old and old.origin or new and new.origin or is_text(stmt.value))
                self.env[stmt.target.id] = Taint(merged.level, merged.source, (self.relpath, stmt) if composed else None)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            taint = self.value(stmt.iter)
            self.bind(stmt.target, taint.plain() if taint else None)
            self.block(stmt.body)
            self.block(stmt.orelse)
        elif isinstance(stmt, ast.While):
            self.block(stmt.body)
            self.block(stmt.orelse)
        elif isinstance(stmt, ast.If):
            self.branch(stmt)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    taint = self.value(item.context_expr)
                    self.bind(item.optional_vars, taint.plain() if taint else None)
            self.block(stmt.body)
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            self.block(stmt.body)
            for handler in stmt.handlers:
                if handler.name:
                    self.env.pop(handler.name, None)
                self.block(handler.body)
            self.block(stmt.orelse)
            self.block(stmt.finalbody)
        elif isinstance(stmt, ast.Match):
            for case in stmt.cases:
                self.block(case.body)
        elif isinstance(stmt, ast.Assert):  # `assert sort in ALLOWED`: past this line the value is whitelisted
            for name in self.guarded_names(stmt.test)[0]:
                self.env.pop(name, None)
        elif isinstance(stmt, ast.Return) and stmt.value is not None:
            self.returned = strongest(self.returned, self.value(stmt.value))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            self.mutation(stmt.value)

    def bind(self, target: ast.AST, taint: Taint | None) -> None:
        if isinstance(target, ast.Name):
            if taint is None:
                self.env.pop(target.id, None)
                self.local_constants.discard(target.id)
            else:
                self.env[target.id] = taint
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self.bind(element, taint.plain() if taint else None)
        elif isinstance(target, ast.Starred):
            self.bind(target.value, taint)

    def mutation(self, call: ast.Call) -> None:
        """`parts.append(f"{k} = '{v}'")` taints `parts`."""
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in MUTATORS and isinstance(func.value, ast.Name):
            added = strongest(*(self.value(a) for a in call.args))
            if added is not None:
                self.env[func.value.id] = strongest(self.env.get(func.value.id), added.plain())
                self.local_constants.discard(func.value.id)  # a whitelist the request can grow is none

    def branch(self, stmt: ast.If) -> None:
        safe_if_true, safe_if_false = self.guarded_names(stmt.test)
        before = dict(self.env)
        for name in safe_if_true:
            self.env.pop(name, None)
        self.block(stmt.body)
        after_body = self.env
        self.env = dict(before)
        for name in safe_if_false:
            self.env.pop(name, None)
        self.block(stmt.orelse)
        if terminates(stmt.body):
            return  # only the else path continues: `if sort not in ALLOWED: abort(400)`
        if stmt.orelse and terminates(stmt.orelse):
            self.env = after_body
            return
        for name, taint in after_body.items():
            self.env[name] = strongest(self.env.get(name), taint)

    def guarded_names(self, test: ast.expr) -> tuple[set[str], set[str]]:
        """Names known to be safe when the test is true / false."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            true, false = self.guarded_names(test.operand)
            return false, true
        if isinstance(test, ast.BoolOp):  # `a in A and b in B` / `a not in A or b not in B`
            parts = [self.guarded_names(v) for v in test.values]
            if isinstance(test.op, ast.And):
                return set().union(*(true for true, _ in parts)), set()
            return set(), set().union(*(false for _, false in parts))
        checked = guarded_name(test.left) if isinstance(test, ast.Compare) and len(test.ops) == 1 else None
        if checked is not None:
            whitelisted = self.is_whitelist(test.comparators[0])
            if whitelisted and isinstance(test.ops[0], ast.In):
                return {checked}, set()
            if whitelisted and isinstance(test.ops[0], ast.NotIn):
                return set(), {checked}
        if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and isinstance(test.func.value, ast.Name):
            if test.func.attr in {"isdigit", "isdecimal", "isnumeric", "isidentifier", "isalnum"}:
                return {test.func.value.id}, set()
        if isinstance(test, ast.Call) and call_tail(test) in {"fullmatch", "match"} and len(test.args) >= 2 and isinstance(test.args[1], ast.Name):
            return {test.args[1].id}, set()
        return set(), set()

    def is_constant_name(self, name: str) -> bool:
        if name in self.local_constants:
            return True
        if name in self.env:
            return False
        if name in self.analysis.module_constants(self.relpath):
            return True
        # `from app.sorting import ALLOWED_SORTS`: a whitelist defined in another project module
        target = self.imports.get(name)
        located = self.analysis.index.module_of(target) if target else None
        return bool(located) and located[1] in self.analysis.module_constants(located[0])

    def is_whitelist(self, container: ast.AST) -> bool:
        """A constant container: a literal, a name bound to one, or its `.keys()` / `.values()`."""
        if isinstance(container, ast.Call) and isinstance(container.func, ast.Attribute) and container.func.attr in {"keys", "values"}:
            container = container.func.value
        return is_constant_container(container) or (isinstance(container, ast.Name) and self.is_constant_name(container.id))

    # -- expressions -----------------------------------------------------------------------------

    def value(self, node: ast.AST | None) -> Taint | None:
        if node is None:
            return None
        method = getattr(self, "_" + type(node).__name__, None)
        return method(node) if method else None

    def _Name(self, node: ast.Name) -> Taint | None:
        if node.id in self.env:
            return self.env[node.id]
        return self.object_source(qualified(node, self.imports))

    def object_source(self, name: str | None) -> Taint | None:
        if not name:
            return None
        for prefix in REQUEST_OBJECTS:
            if name == prefix or name.startswith(prefix + "."):
                rest = name[len(prefix) + 1 :].partition(".")[0]
                return Taint(HIGH, f"request.{rest}" if rest else "request")
        for prefix in SESSION_OBJECTS:
            if name == prefix or name.startswith(prefix + "."):
                return Taint(LOW, "the session")
        return None

    def _Attribute(self, node: ast.Attribute) -> Taint | None:
        base = self.value(node.value)
        if base is None:
            return None
        if base.source == "request":  # name the part read: request.args, request.form...
            return Taint(base.level, f"request.{node.attr}")
        return base.plain()

    def _Subscript(self, node: ast.Subscript) -> Taint | None:
        if isinstance(node.value, ast.Name) and self.is_constant_name(node.value.id):
            return None  # a value picked from a constant whitelist
        base = self.value(node.value)
        return base.plain() if base else None

    def _Call(self, node: ast.Call) -> Taint | None:
        tail = call_tail(node)
        name = qualified(node.func, self.imports) or ""
        args = [*node.args, *(k.value for k in node.keywords)]
        if tail in CLEANERS:
            return None
        if tail in NUMBER_CASTS:
            found = strongest(*(self.value(a) for a in args))
            return Taint(LOW, found.source) if found else None
        if isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            if tail in COMPOSERS and is_text(receiver):
                found = strongest(*(self.value(a) for a in args))
                return Taint(found.level, found.source, (self.relpath, node)) if found else None
            base = self.value(receiver)
            if base is not None:
                if tail == "get" and (dotted(kwarg(node, "type")) or "") in {"int", "float", "bool"}:
                    return Taint(LOW, base.source)  # request.args.get("page", type=int)
                if base.source == "request":  # request.get_json(), await request.json()
                    return Taint(base.level, f"request.{tail}()")
                if tail in COMPOSERS:
                    return Taint(base.level, base.source, (self.relpath, node))
                return base if tail in {"strip", "lower", "upper", "replace", "lstrip", "rstrip", "title"} else base.plain()
        if tail in PASS_THROUGH or name in TEXT_SINKS:
            return strongest(*(self.value(a) for a in node.args))
        taints = [self.value(a) for a in node.args]
        keyword_taints = {k.arg: self.value(k.value) for k in node.keywords if k.arg}
        if any(taints) or any(keyword_taints.values()):
            return self.into_project_function(node, name, taints, keyword_taints)
        return None

    def into_project_function(self, node: ast.Call, name: str, taints: list, keyword_taints: dict) -> Taint | None:
        if self.depth >= MAX_DEPTH or not name:
            return None
        index = self.analysis.index
        if isinstance(node.func, ast.Name) and node.func.id in self.facts.functions and node.func.id not in self.imports:
            target = (self.relpath, self.facts.functions[node.func.id])
        else:
            target = index.resolve_function(name)
        if target is None:
            return None
        relpath, function = target
        callee = index.function_node(relpath, function.qualname)
        if callee is None:
            return None
        params = [p.name for p in function.params if p.kind == "normal"]
        if "." in function.qualname and params and params[0] in {"self", "cls"}:
            params = params[1:]
        env = {}
        for param, taint in zip(params, taints):
            if taint is not None:
                env[param] = taint
        for key, taint in keyword_taints.items():
            if taint is not None and key in params:
                env[key] = taint
        if not env:
            return None
        return self.analysis.function(relpath, callee, env, self.depth + 1)

    def _JoinedStr(self, node: ast.JoinedStr) -> Taint | None:
        found = strongest(*(self.value(v.value) for v in node.values if isinstance(v, ast.FormattedValue)))
        return Taint(found.level, found.source, (self.relpath, node)) if found else None

    def _BinOp(self, node: ast.BinOp) -> Taint | None:
        left, right = self.value(node.left), self.value(node.right)
        found = strongest(left, right)
        if found is None:
            return None
        if isinstance(node.op, (ast.Add, ast.Mod)) and (is_text(node.left) or is_text(node.right) or found.origin):
            return Taint(found.level, found.source, (self.relpath, node))
        return found.plain()

    def _IfExp(self, node: ast.IfExp) -> Taint | None:
        return strongest(self.value(node.body), self.value(node.orelse))

    def _BoolOp(self, node: ast.BoolOp) -> Taint | None:
        return strongest(*(self.value(v) for v in node.values))

    def _sequence(self, node) -> Taint | None:
        found = strongest(*(self.value(e) for e in node.elts))
        return found.plain() if found else None

    _List = _Tuple = _Set = _sequence

    def _Dict(self, node: ast.Dict) -> Taint | None:
        found = strongest(*(self.value(v) for v in [*node.keys, *node.values] if v is not None))
        return found.plain() if found else None

    def _comprehension(self, node) -> Taint | None:
        saved = dict(self.env)
        for generator in node.generators:
            taint = self.value(generator.iter)
            self.bind(generator.target, taint.plain() if taint else None)
        if isinstance(node, ast.DictComp):
            found = strongest(self.value(node.key), self.value(node.value))
        else:
            found = self.value(node.elt)
        self.env = saved
        return found

    _ListComp = _SetComp = _GeneratorExp = _DictComp = _comprehension

    def _Await(self, node: ast.Await) -> Taint | None:
        return self.value(node.value)

    def _Starred(self, node: ast.Starred) -> Taint | None:
        return self.value(node.value)

    def _FormattedValue(self, node: ast.FormattedValue) -> Taint | None:
        return self.value(node.value)

    def _NamedExpr(self, node: ast.NamedExpr) -> Taint | None:
        taint = self.value(node.value)
        self.bind(node.target, taint)
        return taint

    def _UnaryOp(self, node: ast.UnaryOp) -> Taint | None:
        return None if isinstance(node.op, ast.Not) else self.value(node.operand)

    # -- sinks ----------------------------------------------------------------------------------

    def check_sinks(self, expr: ast.AST) -> None:
        todo = [expr]
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Call):
                self.sink(node)
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    todo.append(child)

    def sink(self, call: ast.Call) -> None:
        name = qualified(call.func, self.imports) or ""
        tail = call_tail(call)
        if name in TEXT_SINKS:
            kind, label = "sql", "text()"
        elif isinstance(call.func, ast.Attribute) and tail in SQL_METHODS:
            kind, label = "sql", f".{tail}()"
        elif name in TEMPLATE_SINKS or tail in {"render_template_string", "from_string"}:
            kind, label = "template", f"{tail}()"
        else:
            return
        argument = call.args[0] if call.args else kwarg(call, "sql") or kwarg(call, "statement") or kwarg(call, "source")
        if argument is None or isinstance(argument, ast.Constant):
            return
        taint = self.value(argument)
        if taint is None:
            return
        if kind == "sql":
            if taint.origin is not None:
                relpath, node = taint.origin
                self.analysis.report(Hit("sql", relpath, node, taint.level, taint.source, label))
            elif taint.level == HIGH:
                self.analysis.report(Hit("sql", self.relpath, call, HIGH, taint.source, label))
        elif taint.level == HIGH:
            self.analysis.report(Hit("template", self.relpath, call, HIGH, taint.source, label))


def is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or const_str(node) is not None


def header_expressions(stmt: ast.stmt) -> list[ast.AST]:
    """The expressions a statement evaluates itself (not those of its nested blocks)."""
    if isinstance(stmt, (ast.If, ast.While)):
        return [stmt.test]
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.iter]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in stmt.items]
    if isinstance(stmt, (ast.Try, ast.Match, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or type(stmt).__name__ == "TryStar":
        return [stmt.subject] if isinstance(stmt, ast.Match) else []
    return [stmt]


_RESULTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def hits_for(index) -> list[Hit]:
    """The taint analysis of a project, computed once and shared by PR310 and PR311."""
    if index not in _RESULTS:
        _RESULTS[index] = TaintAnalysis(index).run()
    return _RESULTS[index]

"""The call graph across the project's modules, and a summary of what each function does.

Rules about pooling, pagination, idempotency, blocking and N+1 need to know what a route does
through the project's own helpers: route -> service -> repository -> db.py. Each function gets a
summary of its effects, its own and those of every project function it calls, propagated to a
fixed point (recursion and cycles included):

    connects      opens a database connection or engine on every call
    fetches_all   loads every row of a query (`.all()`, `fetchall()` with no LIMIT)
    reads_one     looks one row up (`.first()`, `fetchone()`, `session.get`)
    queries       runs a query at all
    inserts:<T>   inserts a row into table/model T
    blocks        blocks the thread (sleep, HTTP, SMTP, password hashing, sync ORM session, files)
    spawns        starts a thread that nobody keeps or joins

The graph is built lazily from the functions a rule asks about (routes and their
dependencies, usually), so a tree with no web app costs nothing; each function is read once.
Calls are resolved through imports, `from x import y`, module aliases, `self.method()`, and
methods on instances created in the same function or at module level (`repo = Repo(db)`).
An effect that happens only under `if flag:` (a parameter) is skipped at call sites that pass
`flag=False`: a helper called with `with_members=False` does not run its per-member query.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from dataclasses import dataclass, field, replace

from auditor.walk import const_str, dotted

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
CONNECTS = frozenset({
    "sqlalchemy.create_engine", "sqlalchemy.engine.create_engine", "sqlalchemy.ext.asyncio.create_async_engine",
    "sqlmodel.create_engine", "psycopg2.connect", "psycopg.connect", "sqlite3.connect", "pymysql.connect",
    "mysql.connector.connect", "asyncpg.connect", "aiosqlite.connect", "pymongo.MongoClient",
})  # fmt: skip
HTTP_VERBS = ("get", "post", "put", "patch", "delete", "head", "request", "options")
BLOCKING = {
    "time.sleep": "time.sleep()",
    "smtplib.SMTP": "smtplib (sending e-mail)",
    "smtplib.SMTP_SSL": "smtplib (sending e-mail)",
    "urllib.request.urlopen": "urllib.request.urlopen()",
    "bcrypt.hashpw": "bcrypt password hashing",
    "bcrypt.checkpw": "bcrypt password hashing",
    "bcrypt.kdf": "bcrypt password hashing",
    "hashlib.pbkdf2_hmac": "PBKDF2 password hashing",
    "hashlib.scrypt": "scrypt password hashing",
    "werkzeug.security.generate_password_hash": "password hashing",
    "werkzeug.security.check_password_hash": "password hashing",
    "subprocess.run": "subprocess.run()",
    "subprocess.call": "subprocess.call()",
    "subprocess.check_output": "subprocess.check_output()",
    "subprocess.check_call": "subprocess.check_call()",
    "open": "open() (file I/O)",
    "io.open": "open() (file I/O)",
    **{f"{lib}.{verb}": f"{lib}.{verb}()" for lib in ("requests", "httpx") for verb in HTTP_VERBS},
}
HASHER = re.compile(r"^(pwd_?context|pwd|password_?hasher|hasher|ph|crypt_?context|password_?context|argon2?_?hasher)$", re.I)
FILE_METHODS = frozenset({"read_text", "write_text", "read_bytes", "write_bytes"})
SESSION_RECEIVERS = re.compile(r"^_?(db|session|sess|db_session|dbsession|conn|connection|con|cursor|cur)$")
SYNC_DB_METHODS = frozenset({"query", "execute", "commit", "scalar", "scalars", "refresh", "flush", "get", "fetchall", "fetchone", "executemany"})
QUERY_WORDS = frozenset({"query", "execute", "scalars", "exec", "filter", "filter_by", "where", "order_by", "select", "join", "options", "fetchall", "all"})
BOUNDING = frozenset({"limit", "paginate", "slice", "first", "one", "one_or_none", "scalar", "scalar_one", "get", "count", "fetchmany", "top", "offset"})
BOUNDED_SQL = re.compile(r"\bLIMIT\b|\bFETCH\s+FIRST\b|\bGROUP\s+BY\b|\bCOUNT\s*\(|\bTOP\s+\d", re.I)
SELECT_SQL = re.compile(r"^\s*(select|with)\b", re.I)
INSERT_SQL = re.compile(r"\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+[\"`]?(\w+)", re.I)
ONE_ROW = frozenset({"first", "one_or_none", "scalar_one_or_none", "fetchone", "one", "scalar_one", "first_or_404", "get_or_404"})
ADDERS = frozenset({"add", "add_all", "insert_one", "save"})
THREADS = frozenset({"threading.Thread", "threading.Timer"})
FALSY = (False, None, 0)
CACHED = re.compile(r"(^|\.)(lru_cache|cache|cached|memoize|cached_property)$")
PAGE_PARAMS = frozenset({"limit", "offset", "page", "per_page", "page_size", "size", "cursor", "skip", "after", "before", "first", "top", "take", "n", "count"})


@dataclass(frozen=True)
class Evidence:
    """Where an effect happens: the line that does it, and the helpers called on the way there."""

    relpath: str
    line: int
    what: str
    via: tuple[str, ...] = ()  # helper names from the caller down to the function that does it
    guard: str | None = None  # a parameter of the summarised function that must be truthy for it

    def chain(self) -> str:
        """`service.list_posts() → repo.all_posts()`, or '' when it happens in the function itself."""
        return " → ".join(f"{name}()" for name in self.via)

    def where(self) -> str:
        return f"{self.what} ({self.relpath}:{self.line})"


@dataclass
class CallEdge:
    target: tuple[str, str]  # (relpath, qualname) of a project function
    node: ast.Call
    awaited: bool
    guard: str | None  # the caller's parameter the call sits under (`if with_members:`)
    in_except: bool = False


@dataclass
class Summary:
    relpath: str
    qualname: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    params: dict[str, ast.expr | None]  # name -> default
    local: dict[str, Evidence] = field(default_factory=dict)
    bounded_sql: bool = False  # a LIMIT/COUNT/GROUP BY statement is written here: what it fetches is bounded
    effects: dict[str, Evidence] = field(default_factory=dict)
    edges: list[CallEdge] = field(default_factory=list)

    @property
    def is_async(self) -> bool:
        return isinstance(self.node, ast.AsyncFunctionDef)

    @property
    def label(self) -> str:
        return self.qualname

    def inserts(self) -> dict[str, Evidence]:
        return {key.partition(":")[2]: ev for key, ev in self.effects.items() if key.startswith("inserts:")}


def _stronger(new: Evidence, old: Evidence | None) -> bool:
    if old is None:
        return True
    if old.guard is not None and new.guard is None:
        return True
    return False


def _bounding_call(call: ast.Call) -> bool:
    """`repo.list(limit=20)`, `fetch(sql_with_limit)`: the caller bounds what the helper fetches."""
    if any(k.arg in PAGE_PARAMS for k in call.keywords):
        return True
    for arg in call.args:
        if isinstance(arg, ast.Name) and arg.id in PAGE_PARAMS:
            return True
        text = const_str(arg)
        if text and BOUNDED_SQL.search(text):
            return True
    return False


def _falsy_constant(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value in FALSY


class CallGraph:
    """Summaries and edges for the functions rules ask about, built on demand, once each."""

    def __init__(self, index) -> None:
        self.index = index
        self.summaries: dict[tuple[str, str], Summary | None] = {}
        self._module_instances: dict[str, dict[str, str]] = {}  # relpath -> var -> qualified class
        self._attributes: dict[tuple[str, str], dict[str, str]] = {}  # (relpath, class) -> attribute -> class
        self._query_objects: dict[str, set[str]] = {}  # relpath -> module variables holding aiosql queries

    # -- public ---------------------------------------------------------------------------------

    def summary(self, relpath: str, qualname: str) -> Summary | None:
        key = (relpath, qualname)
        if key not in self.summaries:
            self._build([key])
        return self.summaries.get(key)

    def resolve_call(self, relpath: str, qualname: str, call: ast.Call) -> Summary | None:
        """The project function `call`, written in function `qualname` of `relpath`, runs."""
        facts = self.index.modules.get(relpath)
        if facts is None:
            return None
        node = self.index.function_node(relpath, qualname)
        instances = _instances(node) if node is not None else {}
        target = self._target(relpath, facts, qualname, call, instances)
        return self.summary(*target) if target else None

    def effect_at_call(self, caller: Summary, edge: CallEdge, effect: str) -> Evidence | None:
        """The callee's `effect` as seen through this call (None when the call's arguments switch it off)."""
        callee = self.summaries.get(edge.target)
        if callee is None:
            return None
        evidence = callee.effects.get(effect)
        if evidence is None or self._disabled(callee, edge.node, evidence.guard):
            return None
        return evidence

    def reachable(self, roots: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, ...]]:
        """Every project function reached from `roots` -> the helper chain from its root."""
        self._build(roots)
        seen: dict[tuple[str, str], tuple[str, ...]] = {}
        queue = deque((root, ()) for root in roots if self.summaries.get(root) is not None)
        while queue:
            key, chain = queue.popleft()
            if key in seen:
                continue
            seen[key] = chain
            summary = self.summaries.get(key)
            if summary is None:
                continue
            for edge in summary.edges:
                if edge.target not in seen and self.summaries.get(edge.target) is not None:
                    queue.append((edge.target, (*chain, edge.target[1])))
        return seen

    # -- building -------------------------------------------------------------------------------

    def _build(self, roots: list[tuple[str, str]]) -> None:
        new: list[Summary] = []
        queue = deque(k for k in roots if k not in self.summaries)
        while queue:
            key = queue.popleft()
            if key in self.summaries:
                continue
            summary = self._local(*key)
            self.summaries[key] = summary
            if summary is None:
                continue
            new.append(summary)
            queue.extend(edge.target for edge in summary.edges if edge.target not in self.summaries)
        if new:
            self._propagate(new)

    def _propagate(self, summaries: list[Summary]) -> None:
        """Effects flow from callees to callers until nothing changes (a fixed point)."""
        for summary in summaries:
            summary.effects = dict(summary.local)
        changed = True
        while changed:
            changed = False
            for summary in summaries:
                for edge in summary.edges:
                    callee = self.summaries.get(edge.target)
                    if callee is None or callee is summary:
                        continue
                    for effect, evidence in list(callee.effects.items()):
                        if self._disabled(callee, edge.node, evidence.guard):
                            continue
                        if effect == "fetches_all" and (summary.bounded_sql or _bounding_call(edge.node)):
                            continue
                        guard = self._passed_guard(summary, callee, edge, evidence.guard)
                        inherited = replace(evidence, via=(callee.qualname, *evidence.via)[:6], guard=guard)
                        if _stronger(inherited, summary.effects.get(effect)):
                            summary.effects[effect] = inherited
                            changed = True

    def _disabled(self, callee: Summary, call: ast.Call, guard: str | None) -> bool:
        """The call switches the effect off: `helper(x, with_members=False)`, or leaves a False default."""
        if guard is None or guard not in callee.params:
            return False
        names = list(callee.params)
        if names and names[0] in {"self", "cls"}:
            names = names[1:]
        for keyword in call.keywords:
            if keyword.arg == guard:
                return _falsy_constant(keyword.value)
        position = names.index(guard) if guard in names else -1
        if 0 <= position < len(call.args):
            return _falsy_constant(call.args[position])
        return _falsy_constant(callee.params[guard])

    @staticmethod
    def _passed_guard(caller: Summary, callee: Summary, edge: CallEdge, guard: str | None) -> str | None:
        """Which of the caller's parameters now gates the effect (`helper(x, flag=flag)` under `if other:`)."""
        if edge.guard:
            return edge.guard
        if guard is None:
            return None
        for keyword in edge.node.keywords:
            if keyword.arg == guard and isinstance(keyword.value, ast.Name) and keyword.value.id in caller.params:
                return keyword.value.id
        return None

    def _local(self, relpath: str, qualname: str) -> Summary | None:
        facts = self.index.modules.get(relpath)
        node = self.index.function_node(relpath, qualname) if facts is not None else None
        if node is None:
            return None
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
        params = {a.arg: d for a, d in zip(positional, defaults)}
        params.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults)})
        summary = Summary(relpath, qualname, node, params)
        _Reader(self, summary, facts).read()
        if any(CACHED.search(dotted(d) or "") for d in node.decorator_list):
            # @lru_cache / @cache: the connection is opened, the file read, once for the process
            for effect in ("blocks", "connects"):
                summary.local.pop(effect, None)
        return summary

    def _target(self, relpath: str, facts, qualname: str, call: ast.Call, instances: dict[str, str]) -> tuple[str, str] | None:
        func = call.func
        name = dotted(func)
        if not name or isinstance(func, ast.Call):
            return None
        head, _, rest = name.partition(".")
        owner = qualname.rpartition(".")[0]
        if head in {"self", "cls"} and owner and rest and "." not in rest:
            candidate = f"{owner}.{rest}"
            if candidate in facts.functions:
                return relpath, candidate
            return self._method(facts.classes.get(owner, []), rest, facts)
        if head == "self" and owner and rest.count(".") == 1:  # self._repo.get(...), with self._repo = Repo(...) in __init__
            attribute, _, method = rest.partition(".")
            cls = self._attribute_classes(relpath, owner).get(attribute)
            if cls:
                return self._class_method(self._qualify_class(cls, facts), method, facts)
        if not rest:
            if name in facts.functions:
                return relpath, name
        if head in instances and rest and "." not in rest:
            return self._class_method(self._qualify_class(instances[head], facts), rest, facts)
        module_instance = self._module_instances_of(relpath).get(head)
        if module_instance and rest and "." not in rest:
            return self._class_method(module_instance, rest, facts)
        if head in facts.imports:
            qualified = facts.imports[head] + (f".{rest}" if rest else "")
            resolved = self.index.resolve_function(qualified)
            if resolved is not None:
                return resolved[0], resolved[1].qualname
            # an instance imported from another module: `from app.repo import posts; posts.list()`
            located = self.index.module_of(facts.imports[head])
            if located and rest and "." not in rest:
                cls = self._module_instances_of(located[0]).get(located[1])
                if cls:
                    return self._class_method(cls, rest, facts)
        return None

    def _class_method(self, qualified_class: str, method: str, facts) -> tuple[str, str] | None:
        resolved = self.index.resolve_function(f"{qualified_class}.{method}")
        if resolved is not None:
            return resolved[0], resolved[1].qualname
        located = self.index.module_of(qualified_class)
        if located is not None:
            bases = self.index.modules[located[0]].classes.get(located[1], [])
            return self._method(bases, method, self.index.modules[located[0]])
        return None

    def _method(self, bases: list[str], method: str, facts, depth: int = 0) -> tuple[str, str] | None:
        """A method inherited from a project base class."""
        for base in bases[:3]:
            qualified = base if "." in base else f"{facts.module}.{base}"
            if depth < 3:
                found = self._class_method(qualified, method, facts)
                if found:
                    return found
        return None

    def query_object_call(self, relpath: str, facts, call: ast.Call) -> bool:
        """`queries.get_articles(conn, ...)` on an aiosql query object (`queries = aiosql.from_path(...)`)."""
        name = dotted(call.func) if isinstance(call.func, ast.Attribute) else None
        if not name or name.count(".") != 1 or isinstance(call.func.value, ast.Call):
            return False
        head = name.partition(".")[0]
        if head in self._query_objects_of(relpath):
            return True
        target = facts.imports.get(head)
        located = self.index.module_of(target) if target else None
        return bool(located and located[1] in self._query_objects_of(located[0]))

    def _query_objects_of(self, relpath: str) -> set[str]:
        if relpath not in self._query_objects:
            found: set[str] = set()
            facts = self.index.modules.get(relpath)
            if facts is not None and "aiosql" in facts.top_imports:
                for stmt in self.index.tree(relpath).body:
                    if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                        callee = dotted(stmt.value.func) or ""
                        if callee.rpartition(".")[2] in {"from_path", "from_str"} and "aiosql" in (facts.imports.get(callee.partition(".")[0], callee)):
                            found.add(stmt.targets[0].id)
            self._query_objects[relpath] = found
        return self._query_objects[relpath]

    def _attribute_classes(self, relpath: str, owner: str) -> dict[str, str]:
        """`self.attr = Cls(...)` in the class's __init__: attr -> class name as written."""
        key = (relpath, owner)
        if key not in self._attributes:
            found: dict[str, str] = {}
            init = self.index.function_node(relpath, f"{owner}.__init__")
            for sub in ast.walk(init) if init is not None else ():
                if isinstance(sub, ast.Assign) and len(sub.targets) == 1 and isinstance(sub.value, ast.Call):
                    target, callee = sub.targets[0], dotted(sub.value.func)
                    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self" and callee:
                        if callee.rpartition(".")[2][:1].isupper():
                            found[target.attr] = callee
            self._attributes[key] = found
        return self._attributes[key]

    def _module_instances_of(self, relpath: str) -> dict[str, str]:
        """Module-level `posts = PostRepository()`: var -> qualified class (project classes only)."""
        if relpath not in self._module_instances:
            table: dict[str, str] = {}
            facts = self.index.modules.get(relpath)
            if facts is not None:
                for stmt in self.index.tree(relpath).body:
                    if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call) and len(stmt.targets) == 1:
                        target, callee = stmt.targets[0], dotted(stmt.value.func)
                        if isinstance(target, ast.Name) and callee and callee.rpartition(".")[2][:1].isupper():
                            table[target.id] = self._qualify_class(callee, facts)
            self._module_instances[relpath] = table
        return self._module_instances[relpath]

    @staticmethod
    def _qualify_class(name: str, facts) -> str:
        head, _, rest = name.partition(".")
        if head in facts.imports:
            return facts.imports[head] + (f".{rest}" if rest else "")
        return f"{facts.module}.{name}" if facts.module else name


def _instances(node: ast.AST) -> dict[str, str]:
    """`repo = PostRepository(db)` inside a function: var -> class name as written."""
    found: dict[str, str] = {}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assign) and len(sub.targets) == 1 and isinstance(sub.targets[0], ast.Name) and isinstance(sub.value, ast.Call):
            callee = dotted(sub.value.func)
            if callee and callee.rpartition(".")[2][:1].isupper() and not isinstance(sub.value.func, ast.Call):
                found[sub.targets[0].id] = callee
    return found


class _Reader:
    """Reads one function's body once: its own effects and the project functions it calls."""

    def __init__(self, graph: CallGraph, summary: Summary, facts) -> None:
        self.graph = graph
        self.summary = summary
        self.facts = facts
        self.imports = facts.imports
        self.local_instances = _instances(summary.node)
        self.sync_sessions = self._sync_session_names()
        self.bounded_sql = False
        self.threads: dict[str, ast.Call] = {}  # var -> Thread(...) assigned to a local

    def read(self) -> None:
        node = self.summary.node
        self.bounded_sql = bool(PAGE_PARAMS & set(self.summary.params))
        for stmt in node.body:
            self._visit(stmt, awaited=False, guard=None, in_except=False)
        if self.bounded_sql:  # a LIMIT/COUNT anywhere in the function (seen during the walk) bounds its fetches
            self.summary.local.pop("fetches_all", None)
        self.summary.bounded_sql = self.bounded_sql
        self._finish_threads()

    # -- the walk (nested functions and classes are not part of this function's run) -----------------

    def _visit(self, node: ast.AST, awaited: bool, guard: str | None, in_except: bool) -> None:
        if isinstance(node, (*FUNCTIONS, ast.Lambda, ast.ClassDef)):
            return
        if isinstance(node, ast.If):
            flag = node.test.id if isinstance(node.test, ast.Name) and node.test.id in self.summary.params else None
            self._visit(node.test, False, guard, in_except)
            for stmt in node.body:
                self._visit(stmt, False, guard or flag, in_except)
            for stmt in node.orelse:
                self._visit(stmt, False, guard, in_except)
            return
        if isinstance(node, ast.ExceptHandler):
            for stmt in node.body:
                self._visit(stmt, False, guard, True)
            return
        if isinstance(node, ast.Await):
            self._visit(node.value, True, guard, in_except)
            return
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, (ast.Name, ast.Attribute)) and self._resolved(node.value.func) in THREADS:
                if isinstance(target, ast.Name):
                    self.threads[target.id] = node.value
                self._generic(node.value, False, guard, in_except, skip_thread=True)
                return
        if isinstance(node, ast.Call):
            self._call(node, awaited, guard, in_except)
            self._generic(node, False, guard, in_except)
            return
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if not self.bounded_sql and BOUNDED_SQL.search(node.value):
                self.bounded_sql = True
            match = INSERT_SQL.search(node.value)
            if match:
                self._add(f"inserts:{match.group(1)}", node, f"INSERT INTO {match.group(1)}", guard)
            return
        for child in ast.iter_child_nodes(node):
            self._visit(child, False, guard, in_except)

    def _generic(self, call: ast.Call, awaited: bool, guard: str | None, in_except: bool, skip_thread: bool = False) -> None:
        for child in ast.iter_child_nodes(call):
            self._visit(child, False, guard, in_except)

    def _resolved(self, func: ast.AST) -> str | None:
        name = dotted(func)
        if not name:
            return None
        head, _, rest = name.partition(".")
        target = self.imports.get(head)
        return (f"{target}.{rest}" if rest else target) if target else name

    def _add(self, effect: str, node: ast.AST, what: str, guard: str | None) -> None:
        evidence = Evidence(self.summary.relpath, getattr(node, "lineno", self.summary.node.lineno), what, (), guard)
        if _stronger(evidence, self.summary.local.get(effect)):
            self.summary.local[effect] = evidence

    def _call(self, call: ast.Call, awaited: bool, guard: str | None, in_except: bool) -> None:
        summary = self.summary
        target = self.graph._target(summary.relpath, self.facts, summary.qualname, call, self.local_instances)
        if target is not None and target != (summary.relpath, summary.qualname):
            summary.edges.append(CallEdge(target, call, awaited, guard, in_except))
            return
        func = call.func
        resolved = self._resolved(func) or ""
        attr = func.attr if isinstance(func, ast.Attribute) else ""
        receiver = (dotted(func.value) or "").rpartition(".")[2] if isinstance(func, ast.Attribute) else ""
        # connections
        if resolved in CONNECTS:
            self._add("connects", call, f"{resolved}()", guard)
        # blocking work
        if not awaited:
            label = BLOCKING.get(resolved)
            if label is None and attr in {"hash", "verify", "hash_password", "verify_password"} and HASHER.match(receiver):
                label = "password hashing"
            elif label is None and resolved.startswith(("argon2.PasswordHasher.", "passlib.")):
                label = "password hashing"
            elif label is None and attr in FILE_METHODS:
                label = f".{attr}() (file I/O)"
            elif label is None and attr in SYNC_DB_METHODS and (receiver in self.sync_sessions or (
                not summary.is_async and SESSION_RECEIVERS.match(receiver)
            )):
                label = f"{receiver}.{attr}() (synchronous database call)"
            elif label is None and attr in {"query"} and receiver in {"db", "session"} and not summary.is_async:
                label = f"{receiver}.query() (synchronous database call)"
            if label:
                self._add("blocks", call, label, guard)
        # queries and rows
        if self._is_query(call) or self.graph.query_object_call(summary.relpath, self.facts, call):
            self._add("queries", call, f"`{_short(call)}`", guard)
        if attr in {"all", "fetchall"} and not call.args and self._unbounded(call):
            self._add("fetches_all", call, f"`{_short(call)}`", guard)
        if attr in ONE_ROW or (attr == "get" and receiver in {"db", "session", "sess"} and len(call.args) >= 2):
            self._add("reads_one", call, f"`{_short(call)}`", guard)
        # inserts
        if attr in ADDERS and call.args:
            model = self._constructed(call.args[0])
            if model:
                self._add(f"inserts:{model}", call, f"{receiver}.{attr}({model}(...))", guard)
        elif attr == "create" and isinstance(func, ast.Attribute):
            model = (dotted(func.value) or "").split(".")[0]
            if model[:1].isupper():
                self._add(f"inserts:{model}", call, f"{model}.create(...)", guard)
        elif resolved.rpartition(".")[2] == "insert" and call.args and isinstance(call.args[0], ast.Name) and call.args[0].id[:1].isupper():
            self._add(f"inserts:{call.args[0].id}", call, f"insert({call.args[0].id})", guard)
        # threads started and forgotten: Thread(...).start()
        if attr == "start" and isinstance(func.value, ast.Call) and self._resolved(func.value.func) in THREADS:
            self._add("spawns", call, f"{self._resolved(func.value.func)}(...).start()", guard)

    def _finish_threads(self) -> None:
        """A Thread kept in a local that is started and never joined, stored or returned."""
        if not self.threads:
            return
        node = self.summary.node
        for name, call in self.threads.items():
            started = joined = kept = False
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and isinstance(sub.func.value, ast.Name) and sub.func.value.id == name:
                    started |= sub.func.attr == "start"
                    joined |= sub.func.attr == "join"
                    kept |= sub.func.attr not in {"start", "join", "setDaemon"}
                elif isinstance(sub, (ast.Return, ast.Yield)) and sub.value is not None and any(
                    isinstance(n, ast.Name) and n.id == name for n in ast.walk(sub.value)
                ):
                    kept = True
                elif isinstance(sub, ast.Call) and any(isinstance(a, ast.Name) and a.id == name for a in sub.args):
                    kept = True  # handed to something that keeps it: threads.append(t)
            if started and not joined and not kept:
                self._add("spawns", call, f"{self._resolved(call.func)}(...) started and never joined", None)

    def _is_query(self, call: ast.Call) -> bool:
        from auditor.rules.querying import is_query_call  # the rules' own notion of a round trip

        return is_query_call(call)

    @staticmethod
    def _unbounded(call: ast.Call) -> bool:
        chain, current = set(), call.func
        sql: str | None = None
        while isinstance(current, (ast.Attribute, ast.Call, ast.Await, ast.Subscript)):
            if isinstance(current, ast.Attribute):
                chain.add(current.attr)
                current = current.value
            elif isinstance(current, ast.Call):
                if current.args and sql is None:
                    sql = const_str(current.args[0])
                current = current.func
            else:
                current = current.value
        if isinstance(current, ast.Name) and current.id not in {"db", "session", "sess", "conn", "cursor", "cur", "c", "connection"} and chain == {"all"}:
            return False  # `rows.all()` on a result held in a variable: judged where it was produced
        if sql is not None and not SELECT_SQL.match(sql):
            return False
        return bool(chain & QUERY_WORDS - {"all"}) and not chain & BOUNDING

    def _constructed(self, arg: ast.expr) -> str | None:
        if isinstance(arg, ast.Call):
            name = (dotted(arg.func) or "").rpartition(".")[2]
            return name if name[:1].isupper() else None
        if isinstance(arg, ast.Name):
            cls = self.local_instances.get(arg.id)
            name = (cls or "").rpartition(".")[2]
            return name if name[:1].isupper() else None
        return None

    def _sync_session_names(self) -> set[str]:
        """Names bound to a synchronous SQLAlchemy Session in an async function."""
        node = self.summary.node
        names: set[str] = set()
        if not isinstance(node, ast.AsyncFunctionDef):
            return names  # sync code: any session-like receiver blocks (see _call)
        args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        for a in args:
            if a.annotation is not None and re.search(r"(?<!Async)\bSession\b", ast.unparse(a.annotation)):
                names.add(a.arg)
        for sub in ast.walk(node):
            value = sub.value if isinstance(sub, ast.Assign) else sub.context_expr if isinstance(sub, ast.withitem) else None
            if isinstance(value, ast.Call) and (dotted(value.func) or "").rpartition(".")[2] in {"SessionLocal", "Session", "session_scope"}:
                targets = sub.targets if isinstance(sub, ast.Assign) else [sub.optional_vars]
                names.update(t.id for t in targets if isinstance(t, ast.Name))
        return names


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def call_graph(index) -> CallGraph:
    """One call graph per index, built on first use."""
    graph = index.__dict__.get("_call_graph")
    if graph is None:
        graph = index.__dict__["_call_graph"] = CallGraph(index)
    return graph


def route_roots(index, route) -> list[tuple[str, str]]:
    """The handler of a route and every dependency it runs (resolved across modules, nested ones too)."""
    roots = [(route.relpath, route.handler.qualname)]
    facts = index.modules[route.relpath]
    seen: set[tuple[str, str]] = set(roots)
    pending = [(dep, facts) for dep in route.dependencies]
    while pending and len(seen) < 30:
        dependency, where = pending.pop()
        resolved = index.resolve_function(dependency if "." in dependency else index.qualify(dependency, where))
        if resolved is None:
            continue
        key = (resolved[0], resolved[1].qualname)
        if key in seen:
            continue
        seen.add(key)
        roots.append(key)
        module = index.modules[resolved[0]]
        for param in resolved[1].params:
            inner = index.param_dependency(param, module)
            if inner:
                pending.append((inner, module))
    return roots


def request_code(index) -> dict[tuple[str, str], str]:
    """(relpath, qualname) of every project function a request runs, at any depth -> how it is reached."""
    cached = index.__dict__.get("_request_code")
    if cached is not None:
        return cached
    graph = call_graph(index)
    found: dict[tuple[str, str], str] = {}
    for route in index.routes:
        roots = route_roots(index, route)
        handler = roots[0]
        found.setdefault(handler, f"the {route.label()} handler")
        for root in roots[1:]:
            found.setdefault(root, f"a dependency of {route.label()}")
        for key, chain in graph.reachable(roots).items():
            if key not in found:
                path = " → ".join(f"{name}()" for name in chain)
                found[key] = f"called by the {route.label()} handler" + (f" through {path}" if len(chain) > 1 else "")
    index.__dict__["_request_code"] = found
    return found

"""What a database URL expression holds, followed through variables, settings fields and env defaults.

`create_engine(settings.database_url)` says nothing by itself; the URL lives elsewhere:
a module constant, `os.getenv("DATABASE_URL", "sqlite:///./app.db")`, a pydantic settings
field (`database_url: PostgresDsn`, `DATABASE_URL: str = "postgresql://..."`), a Flask config
class, or a committed `.env` template. `database_kind` follows the expression there and
answers "server" (PostgreSQL, MySQL...), "sqlite", or None when it cannot tell.
"""

from __future__ import annotations

import ast
import re

from auditor.walk import const_str, dotted

SERVER = re.compile(r"(postgres|mysql|mariadb|mssql|oracle|cockroach|psycopg|asyncpg|pymysql)", re.I)
SQLITE = re.compile(r"sqlite", re.I)
SERVER_TYPES = re.compile(r"\b(PostgresDsn|MySQLDsn|MariaDBDsn|CockroachDsn|PostgreSQLDsn)\b")
ENV_CALLS = {"os.getenv", "os.environ.get", "environ.get", "getenv", "config", "decouple.config", "env", "env.str", "os.environ.setdefault"}
ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*['\"]?([^'\"\n#]*)", re.M)
SETTINGS_BASES = re.compile(r"(BaseSettings|Settings|Config)$")


def kind_of_text(text: str | None) -> str | None:
    if not text:
        return None
    if SQLITE.search(text):
        return "sqlite"
    if SERVER.search(text):
        return "server"
    return None


class ValueResolver:
    """Follows one expression to the literal or type that decides which database it names."""

    def __init__(self, index) -> None:
        self.index = index
        self._env: dict[str, str] | None = None
        self._fields: dict[str, list[tuple[str, ast.AST | None, ast.AST | None]]] | None = None

    # -- sources of values ---------------------------------------------------------------------------

    def env_file_values(self) -> dict[str, str]:
        """KEY -> value from committed .env templates (.env.example, .env.sample, .env)."""
        if self._env is None:
            self._env = {}
            for relpath in self.index.other_files:
                name = relpath.rpartition("/")[2]
                if name.startswith(".env") or name.endswith(".env"):
                    for key, value in ENV_LINE.findall(self.index.source(relpath)):
                        self._env.setdefault(key.upper(), value.strip())
        return self._env

    def settings_fields(self) -> dict[str, list[tuple[str, ast.AST | None, ast.AST | None]]]:
        """lower-case field name -> [(relpath, annotation, value)] from settings/config classes."""
        if self._fields is None:
            self._fields = {}
            for relpath, facts in self.index.modules.items():
                classes = [name for name, bases in facts.classes.items() if SETTINGS_BASES.search(name) or any(SETTINGS_BASES.search(b) for b in bases)]
                if not classes:
                    continue
                tree = self.index.tree(relpath)
                for node in ast.walk(tree):
                    if isinstance(node, ast.ClassDef) and node.name in classes:
                        for stmt in node.body:
                            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                                self._fields.setdefault(stmt.target.id.lower(), []).append((relpath, stmt.annotation, stmt.value))
                            elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                                self._fields.setdefault(stmt.targets[0].id.lower(), []).append((relpath, None, stmt.value))
                            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                                # @computed_field / @property: `def DATABASE_URL(self) -> PostgresDsn: return ...build(scheme="postgresql")`
                                returned = next((r.value for r in ast.walk(stmt) if isinstance(r, ast.Return) and r.value is not None), None)
                                self._fields.setdefault(stmt.name.lower(), []).append((relpath, stmt.returns, returned))
        return self._fields

    # -- following an expression ------------------------------------------------------------------------

    def database_kind(self, relpath: str, source: str, function: str | None = None) -> str | None:
        try:
            expr = ast.parse(source.strip(), mode="eval").body
        except SyntaxError:
            return kind_of_text(source)
        return self._kind(expr, relpath, function, 0)

    def _kind(self, node: ast.AST | None, relpath: str, function: str | None, depth: int) -> str | None:
        if node is None or depth > 6:
            return None
        if isinstance(node, ast.Constant):
            return kind_of_text(node.value) if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            return kind_of_text("".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)))
        if isinstance(node, ast.BinOp):
            return self._kind(node.left, relpath, function, depth + 1) or self._kind(node.right, relpath, function, depth + 1)
        if isinstance(node, ast.BoolOp):  # os.getenv("X") or "sqlite:///..."
            kinds = [self._kind(v, relpath, function, depth + 1) for v in node.values]
            return next((k for k in kinds if k), None)
        if isinstance(node, ast.IfExp):
            kinds = {self._kind(node.body, relpath, function, depth + 1), self._kind(node.orelse, relpath, function, depth + 1)} - {None}
            return kinds.pop() if len(kinds) == 1 else ("sqlite" if "sqlite" in kinds else None)
        if isinstance(node, ast.Call):
            return self._call(node, relpath, function, depth)
        if isinstance(node, ast.Name):
            return self._name(node.id, relpath, function, depth)
        if isinstance(node, ast.Attribute):
            return self._attribute(node, relpath, function, depth)
        if isinstance(node, ast.Subscript):  # os.environ["X"], app.config["SQLALCHEMY_DATABASE_URI"]
            key = const_str(node.slice)
            if key is None:
                return None
            base = dotted(node.value) or ""
            if base.endswith("environ"):
                return kind_of_text(self.env_file_values().get(key.upper()))
            return self._field(key, depth) or self._assigned_key(key, relpath, depth)
        return None

    def _call(self, node: ast.Call, relpath: str, function: str | None, depth: int) -> str | None:
        name = dotted(node.func) or ""
        facts = self.index.modules.get(relpath)
        qualified = facts.imports.get(name.partition(".")[0], "") + ("." + name.partition(".")[2] if "." in name else "") if facts else ""
        if name in ENV_CALLS or qualified in ENV_CALLS or name.rpartition(".")[2] in {"getenv"}:
            default = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "default"), None)
            found = self._kind(default, relpath, function, depth + 1)
            if found:
                return found
            key = const_str(node.args[0]) if node.args else None
            return kind_of_text(self.env_file_values().get(key.upper())) if key else None
        if name.rpartition(".")[2] in {"str", "unicode_string", "get_secret_value", "replace", "format", "URL", "make_url", "render_as_string"} or name == "str":
            inner = node.args[0] if node.args else node.func.value if isinstance(node.func, ast.Attribute) else None
            return self._kind(inner, relpath, function, depth + 1)
        if name.rpartition(".")[2] in {"build", "create", "URL.create"} and node.keywords:  # MultiHostUrl.build(scheme="postgresql+psycopg", ...)
            scheme = next((k.value for k in node.keywords if k.arg in {"scheme", "drivername"}), None)
            return self._kind(scheme, relpath, function, depth + 1)
        if name.rpartition(".")[2] == "Field":  # pydantic Field(default=...)
            default = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "default"), None)
            return self._kind(default, relpath, function, depth + 1)
        return None

    def _name(self, name: str, relpath: str, function: str | None, depth: int) -> str | None:
        facts = self.index.modules.get(relpath)
        if facts is None:
            return None
        tree = self.index.tree(relpath)
        scopes: list[list[ast.stmt]] = []
        if function:
            node = self.index.function_node(relpath, function)
            if node is not None:
                scopes.append(node.body)
                if any(a.arg == name for a in node.args.args):
                    return None  # a parameter: its value comes from the caller
        scopes.append(tree.body)
        for body in scopes:
            for stmt in reversed(_flat(body)):
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                    return self._kind(stmt.value, relpath, None if body is tree.body else function, depth + 1)
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == name and stmt.value is not None:
                    return self._kind(stmt.value, relpath, None if body is tree.body else function, depth + 1)
        if name in facts.imports:
            target = facts.imports[name]
            located = self.index.module_of(target)
            if located is not None:
                return self._name(located[1], located[0], None, depth + 1)
        return None

    def _attribute(self, node: ast.Attribute, relpath: str, function: str | None, depth: int) -> str | None:
        base = dotted(node.value) or ""
        facts = self.index.modules.get(relpath)
        if facts is not None and base in facts.imports:  # config.DATABASE_URL: a constant of a project module
            target = facts.imports[base]
            located = self.index.by_module.get(target) or self.index._suffix_module(target)
            if located:
                found = self._name(node.attr, located, None, depth + 1)
                if found:
                    return found
        if node.attr in {"unicode_string", "url"} and isinstance(node.value, ast.Attribute):
            return self._kind(node.value, relpath, function, depth + 1)
        return self._field(node.attr, depth)

    def _field(self, name: str, depth: int) -> str | None:
        """A settings field: its type (PostgresDsn), its default, or the .env template's value."""
        kinds = set()
        for relpath, annotation, value in self.settings_fields().get(name.lower(), []):
            if annotation is not None and SERVER_TYPES.search(ast.unparse(annotation)):
                kinds.add("server")
                continue
            found = self._kind(value, relpath, None, depth + 1)
            if found:
                kinds.add(found)
        if not kinds:
            return kind_of_text(self.env_file_values().get(name.upper()))
        return kinds.pop() if len(kinds) == 1 else "sqlite"  # a SQLite default anywhere: never risk a pool setting

    def _assigned_key(self, key: str, relpath: str, depth: int) -> str | None:
        """`app.config["SQLALCHEMY_DATABASE_URI"] = ...` in any module."""
        for path in self.index.modules:
            source = self.index.source(path)
            if key not in source:
                continue
            for stmt in ast.walk(self.index.tree(path)):
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Subscript) and const_str(t.slice) == key for t in stmt.targets):
                    return self._kind(stmt.value, path, None, depth + 1)
        return None


def _flat(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements of a body, entering if/try/with blocks (an assignment in `if DEBUG:` still counts)."""
    found: list[ast.stmt] = []
    for stmt in body:
        found.append(stmt)
        for attr in ("body", "orelse", "finalbody"):
            if isinstance(stmt, (ast.If, ast.Try, ast.With)) and getattr(stmt, attr, None):
                found.extend(_flat(getattr(stmt, attr)))
        if isinstance(stmt, ast.Try):
            for handler in stmt.handlers:
                found.extend(_flat(handler.body))
    return found


def value_resolver(index) -> ValueResolver:
    resolver = index.__dict__.get("_value_resolver")
    if resolver is None:
        resolver = index.__dict__["_value_resolver"] = ValueResolver(index)
    return resolver

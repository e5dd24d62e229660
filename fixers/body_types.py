"""The type of each request-body field, read from what the handler does with the value.

`Any` validates nothing: a dict where a string belongs still reaches the handler and fails
there with a 500. So every field of a generated request model gets a real type, proved by a use:

- the ORM column it is assigned to or compared with (`User(email=...)`, `User.email == ...`):
  String(120) -> str, max_length=120; Integer -> int; Numeric -> Decimal; Boolean -> bool...
- the column of a raw SQL statement it is bound to (`INSERT INTO items (name) VALUES (?)`,
  `WHERE id = ?`), typed from the project's schema;
- the annotated parameter of a project function it is passed to (`hash_password(password: str)`);
- calls that only take text (password hashing, JWT, `datetime.fromisoformat`) and string
  methods, comparisons with string literals, f-strings;
- as a last resort, the field's name: emails and passwords are text.

A field with no such use cannot be typed honestly: the model is not generated (by hand).
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

from fixers.pipeline.workspace import Skip

STR_METHODS = frozenset({
    "lower", "upper", "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
    "encode", "replace", "casefold", "title", "capitalize", "isdigit", "isalnum", "isalpha", "format",
    "partition", "rpartition", "removeprefix", "removesuffix", "zfill", "ljust", "rjust", "center",
})  # fmt: skip
# Calls whose arguments are text: password hashing, token handling, parsing dates and UUIDs.
TEXT_CALLS = re.compile(
    r"(^|\.)(generate_password_hash|check_password_hash|hash_password|verify_password|hashpw|checkpw|"
    r"fromisoformat|strptime|UUID|urlparse|quote|unquote|escape|validate_email)$"
)
TEXT_RECEIVERS = re.compile(r"(^|\.)(jwt|pwd_context|password_context|crypt_context|hasher|bcrypt|argon2|ph)$", re.I)
TEXT_METHODS = frozenset({"encode", "decode", "hash", "verify", "dumps", "loads"})
CASTS = {"int": "int", "float": "float", "str": "str", "bool": "bool", "Decimal": "Decimal", "decimal.Decimal": "Decimal"}
PYTHON_TYPES = {
    "str": "str", "int": "int", "float": "float", "bool": "bool", "Decimal": "Decimal", "decimal.Decimal": "Decimal",
    "datetime": "datetime", "datetime.datetime": "datetime", "date": "date", "datetime.date": "date",
    "EmailStr": "EmailStr", "pydantic.EmailStr": "EmailStr",
}  # fmt: skip
COLUMN_TYPES = (  # (pattern on the type's name, kind); the first match wins
    (re.compile(r"^(String|Unicode|VARCHAR|NVARCHAR|CHAR|NCHAR|CHARACTER|VARYING|CITEXT|Text|UnicodeText|TEXT|CLOB|str)$", re.I), "str"),
    (re.compile(r"^(Integer|BigInteger|SmallInteger|INT|INTEGER|BIGINT|SMALLINT|TINYINT|MEDIUMINT|SERIAL|BIGSERIAL|int)$", re.I), "int"),
    (re.compile(r"^(Numeric|DECIMAL|NUMBER|MONEY|Decimal)$", re.I), "Decimal"),
    (re.compile(r"^(Float|REAL|DOUBLE|Double|DOUBLE_PRECISION|float)$", re.I), "float"),
    (re.compile(r"^(Boolean|BOOL|BOOLEAN|bool)$", re.I), "bool"),
    (re.compile(r"^(DateTime|TIMESTAMP|TIMESTAMPTZ|DATETIME|datetime)$", re.I), "datetime"),
    (re.compile(r"^(Date|DATE|date)$", re.I), "date"),
)
LENGTH = re.compile(r"^\s*\w+(?:\.\w+)*\s*\(\s*(?:length\s*=\s*)?(\d+)")
PLACEHOLDER = re.compile(r"\?|%s|%\(\w+\)s|:\w+")
INSERT = re.compile(r"insert\s+(?:or\s+\w+\s+)?into\s+[\"`]?(\w+)[\"`]?\s*\(([^)]*)\)\s*values\s*\(([^)]*)\)", re.I | re.S)
TABLE = re.compile(r"\b(?:from|update|into)\s+[\"`]?(\w+)", re.I)
COMPARED = re.compile(r"[\"`]?(\w+)[\"`]?\s*(?:=|==|!=|<>|<=|>=|<|>|\blike\b)\s*$", re.I)
EMAIL_NAME = re.compile(r"e[-_]?mail", re.I)
PASSWORD_NAME = re.compile(r"passw(or)?d|passphrase", re.I)


@dataclass(frozen=True)
class FieldType:
    kind: str  # str | int | float | Decimal | bool | datetime | date | EmailStr | list | dict
    max_length: int | None = None  # from the column: String(120)
    why: str = ""  # the use that proves it (for messages)


def kind_of_column(type_text: str) -> FieldType | None:
    """The Python type of an ORM or SQL column type ("String(120)", "VARCHAR(40)", "Optional[str]")."""
    text = re.sub(r"^(?:Optional\[(.*)\]|(.*?)\s*\|\s*None)$", lambda m: m.group(1) or m.group(2), type_text.strip())
    name = re.split(r"[\s(\[]", text, maxsplit=1)[0].rpartition(".")[2]
    for pattern, kind in COLUMN_TYPES:
        if pattern.match(name):
            length = LENGTH.match(text) if kind == "str" else None
            return FieldType(kind, int(length.group(1)) if length else None)
    return None


def kind_of_annotation(annotation: str | None) -> str | None:
    if not annotation:
        return None
    text = re.sub(r"^(?:Optional\[(.*)\]|(.*?)\s*\|\s*None)$", lambda m: m.group(1) or m.group(2), annotation.strip())
    return PYTHON_TYPES.get(text)


class TypeSource:
    """What the project knows about types: its models, SQL tables and function signatures.

    `index` is the scan's ProjectIndex (None in unit tests of the codemod alone); `relpath`
    the module being fixed, whose imports resolve the names the handler calls."""

    def __init__(self, index=None, relpath: str = "", email_validator: bool = False) -> None:
        self.index, self.relpath, self.email_validator = index, relpath, email_validator
        self.facts = index.modules.get(relpath) if index is not None else None

    def model_column(self, model: str, column: str) -> FieldType | None:
        if self.index is None:
            return None
        for _, found in self.index.models:
            if found.name == model:
                for col in found.columns:
                    if col.name == column:
                        return kind_of_column(col.type)
        return None

    def is_model(self, name: str) -> bool:
        return self.index is not None and any(found.name == name for _, found in self.index.models)

    def sql_column(self, table: str, column: str) -> FieldType | None:
        if self.index is None:
            return None
        for found in self.index.sql_tables:
            if found.name.lower() == table.lower():
                for col in found.columns:
                    if col.name.lower() == column.lower():
                        return kind_of_column(col.type)
        hit = self.index.model_by_table(table)
        return self.model_column(hit[1].name, column) if hit else None

    def parameter(self, callee: str, position: int | None, keyword: str | None) -> str | None:
        """The annotated type of a project function's parameter, for a call written `callee(...)`."""
        if self.index is None or self.facts is None:
            return None
        head, _, rest = callee.partition(".")
        if head in self.facts.imports:
            qualified = self.facts.imports[head] + (f".{rest}" if rest else "")
        else:
            qualified = f"{self.facts.module}.{callee}" if self.facts.module else callee
        found = self.index.resolve_function(qualified)
        if found is None:
            return None
        params = [p for p in found[1].params if p.kind == "normal" and p.name not in {"self", "cls"}]
        if keyword is not None:
            param = next((p for p in params if p.name == keyword), None)
        else:
            param = params[position] if position is not None and position < len(params) else None
        return kind_of_annotation(param.annotation) if param else None


def dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def field_key(node: ast.AST, var: str) -> str | None:
    """"k" for `var["k"]` and `var.get("k", ...)`."""
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == var:
        key = node.slice
        return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == var
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


class Evidence:
    """Every use of the handler's body fields that says what type a field holds."""

    def __init__(self, source: TypeSource) -> None:
        self.source = source
        self.strong: dict[str, list[FieldType]] = {}
        self.weak: dict[str, list[FieldType]] = {}
        self.opaque: set[str] = set()  # fields with a use no rule reads (it may not take a Decimal)

    def add(self, key: str, found: FieldType | None, weak: bool = False) -> None:
        if found is not None:
            (self.weak if weak else self.strong).setdefault(key, []).append(found)

    def collect(self, function: ast.AST, var: str) -> None:
        parents: dict[int, ast.AST] = {}
        for node in ast.walk(function):
            for child in ast.iter_child_nodes(node):
                parents[id(child)] = node
        refs: list[tuple[ast.AST, str]] = []
        for node in ast.walk(function):
            key = field_key(node, var)
            if key is not None:
                refs.append((node, key))
        # `email = payload["email"]`: the local name stands for the field (when assigned once).
        assigned: dict[str, int] = {}
        for node in ast.walk(function):
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.NamedExpr)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in ast.walk(target):
                        if isinstance(name, ast.Name):
                            assigned[name.id] = assigned.get(name.id, 0) + 1
        aliases: dict[str, str] = {}
        for node, key in refs:
            # `code = data.get("code") or random_code()`: the name may hold the field's value too.
            parent = parents.get(id(node))
            while isinstance(parent, ast.BoolOp) or (isinstance(parent, ast.IfExp) and node is not parent.test):
                node, parent = parent, parents.get(id(parent))
            if (
                isinstance(parent, ast.Assign)
                and len(parent.targets) == 1
                and isinstance(parent.targets[0], ast.Name)
                and assigned.get(parent.targets[0].id) == 1
            ):
                aliases[parent.targets[0].id] = key
        for node in ast.walk(function):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in aliases:
                refs.append((node, aliases[node.id]))
        for node, key in refs:
            before = len(self.strong.get(key, [])) + len(self.weak.get(key, []))
            self.use(node, key, parents)
            if len(self.strong.get(key, [])) + len(self.weak.get(key, [])) == before and not self.alias_assignment(node, parents):
                self.opaque.add(key)  # a use that says nothing about the type (passed on, returned...)

    @staticmethod
    def alias_assignment(node: ast.AST, parents: dict[int, ast.AST]) -> bool:
        """`email = payload["email"]`: the uses of the name are looked at instead."""
        parent = parents.get(id(node))
        while isinstance(parent, ast.BoolOp) or (isinstance(parent, ast.IfExp) and node is not parent.test):
            node, parent = parent, parents.get(id(parent))
        return isinstance(parent, ast.Assign)

    def use(self, node: ast.AST, key: str, parents: dict[int, ast.AST]) -> None:
        parent = parents.get(id(node))
        if isinstance(parent, ast.keyword):
            call = parents.get(id(parent))
            if isinstance(call, ast.Call):
                self.call(call, key, None, parent.arg)
        elif isinstance(parent, ast.Call) and node in parent.args:
            self.call(parent, key, parent.args.index(node), None)
        elif isinstance(parent, (ast.Tuple, ast.List)):
            call = parents.get(id(parent))
            if isinstance(call, ast.Call) and len(call.args) > 1 and call.args[1] is parent:
                self.sql(call, parent.elts.index(node), key)
        elif isinstance(parent, ast.Attribute) and parent.value is node and parent.attr in STR_METHODS:
            self.add(key, FieldType("str", why=f"`.{parent.attr}()`"))
        elif isinstance(parent, ast.Compare):
            for other in [parent.left, *parent.comparators]:
                if other is node:
                    continue
                self.compared(other, key)
        elif isinstance(parent, ast.FormattedValue):
            self.add(key, FieldType("str", why="an f-string"), weak=True)
        elif isinstance(parent, ast.BinOp):
            other = parent.right if parent.left is node else parent.left
            if isinstance(parent.op, ast.Add) and (
                isinstance(other, ast.JoinedStr) or (isinstance(other, ast.Constant) and isinstance(other.value, str))
            ):
                self.add(key, FieldType("str", why="joined to text"))
            elif isinstance(other, ast.Constant) and isinstance(other.value, float):
                # `price * 1.2`: a Decimal would raise TypeError here, so the field stays a float.
                self.add(key, FieldType("float", why="float arithmetic"))

    def compared(self, other: ast.AST, key: str) -> None:
        values = other.elts if isinstance(other, (ast.Tuple, ast.List, ast.Set)) else [other]
        kinds = {type(v.value).__name__ for v in values if isinstance(v, ast.Constant) and v.value is not None}
        if values and len(kinds) == 1 and all(isinstance(v, ast.Constant) for v in values) and kinds <= {"str", "int", "float", "bool"}:
            kind = kinds.pop()
            self.add(key, FieldType(kind, why="compared with text" if kind == "str" else f"compared with a {kind}"))
        elif isinstance(other, ast.Attribute):  # User.email == ..., models.User.email == ...
            model = (dotted(other.value) or "").rpartition(".")[2]
            if model and self.source.is_model(model):
                self.add(key, self.source.model_column(model, other.attr))

    def call(self, call: ast.Call, key: str, position: int | None, keyword: str | None) -> None:
        callee = dotted(call.func) or ""
        tail = callee.rpartition(".")[2]
        if position is not None and len(call.args) == 1 and callee in CASTS:
            self.add(key, FieldType(CASTS[callee], why=f"`{callee}()`"))
            return
        if keyword is not None and self.source.is_model(tail):
            self.add(key, self.source.model_column(tail, keyword))
            return
        if TEXT_CALLS.search(callee) or (
            isinstance(call.func, ast.Attribute) and tail in TEXT_METHODS and TEXT_RECEIVERS.search(dotted(call.func.value) or "")
        ):
            self.add(key, FieldType("str", why=f"`{callee}()`"))
            return
        kind = self.source.parameter(callee, position, keyword) if callee else None
        if kind:
            self.add(key, FieldType(kind, why=f"`{callee}()`"))

    def sql(self, call: ast.Call, position: int, key: str) -> None:
        """`db.execute("... ?", (a, b))`: the column the n-th placeholder is bound to."""
        statement = call.args[0]
        if not (isinstance(statement, ast.Constant) and isinstance(statement.value, str)):
            return
        text = statement.value
        insert = INSERT.search(text)
        if insert:
            columns = [c.strip().strip('"`') for c in insert.group(2).split(",")]
            values = [v.strip() for v in insert.group(3).split(",")]
            placeholders = [i for i, v in enumerate(values) if PLACEHOLDER.fullmatch(v)]
            if position < len(placeholders) and placeholders[position] < len(columns):
                self.add(key, self.source.sql_column(insert.group(1), columns[placeholders[position]]))
            return
        table = TABLE.search(text)
        holes = list(PLACEHOLDER.finditer(text))
        if table is None or position >= len(holes):
            return
        column = COMPARED.search(text[: holes[position].start()])
        if column:
            self.add(key, self.source.sql_column(table.group(1), column.group(1)))

    def decide(self, key: str, known: set[str]) -> FieldType:
        """The field's type: what the handler's own casts and defaults say (`known`), then the
        uses above, then its name. Raises Skip when the uses disagree or say nothing."""
        found = [FieldType(kind, why="its cast or default") for kind in sorted(known)] + self.strong.get(key, [])
        if not found:
            found = self.weak.get(key, [])
        if not found and EMAIL_NAME.search(key):
            found = [FieldType("str", why="its name")]
        if not found and PASSWORD_NAME.search(key):
            found = [FieldType("str", why="its name")]
        kinds = {f.kind for f in found}
        if kinds == {"int", "float"}:
            kinds = {"float"}
        if kinds == {"int", "Decimal"}:
            kinds = {"Decimal"}
        if kinds == {"Decimal"} and key in self.opaque:
            # Stored in a Numeric column, but also passed on where a Decimal may not do (JSON
            # for another service, float arithmetic elsewhere): keep the float JSON gave it.
            kinds = {"float"}
        if kinds in ({"float", "Decimal"}, {"int", "float", "Decimal"}):
            kinds = {"float"}  # what JSON gave the handler before: its float arithmetic keeps working
        if not kinds:
            raise Skip(f"by hand: cannot tell the type of `{key}` from how the handler uses it, and `Any` would validate nothing")
        if len(kinds) > 1:
            uses = ", ".join(sorted({f"{f.kind} ({f.why})" if f.why else f.kind for f in found}))
            raise Skip(f"by hand: `{key}` is used as different types ({uses})")
        kind = kinds.pop()
        lengths = [f.max_length for f in found if f.kind == kind and f.max_length]
        if kind == "str" and EMAIL_NAME.search(key) and self.source.email_validator:
            kind = "EmailStr"
        return FieldType(kind, min(lengths) if lengths else None)


def infer_types(function_code: str, var: str, keys: dict[str, set[str]], source: TypeSource) -> dict[str, FieldType]:
    """key -> FieldType for each body field of the handler (keys: key -> types its casts and
    literal defaults already gave it). Raises Skip when a field cannot be typed."""
    tree = ast.parse(textwrap.dedent(function_code))
    evidence = Evidence(source)
    evidence.collect(tree, var)
    return {key: evidence.decide(key, known) for key, known in keys.items()}


def project_has_email_validator(texts: list[str]) -> bool:
    """True when a requirements file or pyproject asks for email-validator (or pydantic[email])."""
    return any(re.search(r"email[-_]validator|pydantic\s*\[[^\]]*email", text or "", re.I) for text in texts)

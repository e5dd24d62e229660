"""Duplicate writes and races (PR330-PR332).

- PR330: the write route accepts an `Idempotency-Key` header, stores it on the created row (a
  unique column) and answers 409 when a key comes back; a concurrent duplicate hits the unique
  constraint and answers 409 too.
- PR331: the provider's idempotency key is derived from the client's key or the record (e.g.
  `f"order-{order.id}"`) instead of a fresh random value per attempt.
- PR332: "check, then insert" lets the database decide: the commit (or INSERT) that violates the
  unique constraint answers 409 like the check does; "count, then insert" locks the parent row.
"""

from __future__ import annotations

import re

import libcst as cst
import libcst.matchers as m

from auditor.models import Finding
from auditor.rules.data_model import IDENTITY_NAME
from auditor.rules.idempotency import RANDOM_CALLS, SENSITIVE
from auditor.rules.querying import data_shape
from fixers.auth import AuthRouteFixer, handler_edit, paramstyle, variables_in
from fixers.base import Fixer, Outcomes
from fixers.column_migration import write_revision
from fixers.codegen import module_code
from fixers.cst import dotted_name, parse_module, write_module
from fixers.cst_dispatch import QuickTransformer, QuickVisitor
from fixers.rewrite import add_param, code_of, param_names, statements, tail
from fixers.pipeline.workspace import Skip, Workspace

HEADER_PARAM = 'idempotency_key: Optional[str] = Header(None, alias="Idempotency-Key", max_length=255)'
STATUS_400 = re.compile(r"\b(400|status\.HTTP_400_BAD_REQUEST|HTTPStatus\.BAD_REQUEST)\b")


# -- helpers on statements -----------------------------------------------------------------------


def rejects(block: cst.BaseSuite) -> bool:
    body = block.body if isinstance(block, cst.IndentedBlock) else [block]
    last = body[-1] if body else None
    if isinstance(last, cst.SimpleStatementLine):
        small = last.body[-1]
        return isinstance(small, (cst.Raise, cst.Return)) or m.matches(small, m.Expr(m.Call(func=m.Name("abort"))))
    return False


def conflict_body(block: cst.BaseSuite) -> list[cst.BaseStatement]:
    """The check's rejection, answering 409 instead of 400."""
    code = cst.Module(body=list(block.body) if isinstance(block, cst.IndentedBlock) else [block]).code
    return statements(STATUS_400.sub("409", code) if STATUS_400.search(code) else code)


def session_of(statement: cst.CSTNode) -> str | None:
    """`db` in `db.commit()`."""
    if m.matches(statement, m.SimpleStatementLine(body=[m.Expr(m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("commit"))))])):
        return statement.body[0].value.func.value.value
    return None


def wrap_in_try(statement: cst.BaseStatement, error: str, handler: list[cst.BaseStatement]) -> cst.Try:
    return cst.Try(
        body=cst.IndentedBlock([statement.with_changes(leading_lines=[])]),
        handlers=[cst.ExceptHandler(body=cst.IndentedBlock(handler), type=cst.parse_expression(error))],
        leading_lines=statement.leading_lines,
    )


# -- PR332 ---------------------------------------------------------------------------------------


class CheckThenInsert(QuickTransformer):
    """In one handler: the existence check's write becomes conflict-safe, or the parent row of a
    count check is locked."""

    def __init__(self, shape, framework: str, driver_error: str) -> None:
        self.shape = shape
        self.framework = framework
        self.driver_error = driver_error
        self.reads: dict[str, cst.BaseExpression] = {}
        self.check: tuple[str, cst.If] | None = None
        self.done = False
        self.problem: str | None = None
        self.imports: list[tuple[str, str | None]] = []

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.done:
            return updated_node
        body = list(updated_node.body)
        reads: dict[str, int] = {}
        check: tuple[int, cst.If, str] | None = None
        for index, statement in enumerate(body):
            if check is None:
                if m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])):
                    reads[statement.body[0].targets[0].target.value] = index
                elif isinstance(statement, cst.If) and rejects(statement.body):
                    name = self._checked(statement.test, reads)
                    if name:
                        check = (index, statement, name)
                continue
            if isinstance(check[1].test, cst.Name):
                new_body = self._conflict_safe(body, index, check)
            else:
                new_body = self._lock_parent(body, reads, check)
            if new_body is not None:
                self.done = True
                return updated_node.with_changes(body=new_body)
        return updated_node

    @staticmethod
    def _checked(test: cst.BaseExpression, reads: dict[str, int]) -> str | None:
        """The read a rejecting check is about: `if existing:` or `if count >= LIMIT:` (not
        `if not row:`, which is a lookup answering 404)."""
        if isinstance(test, cst.Name):
            return test.value if test.value in reads else None
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            if isinstance(test.comparisons[0].operator, (cst.LessThan, cst.LessThanEqual, cst.GreaterThan, cst.GreaterThanEqual)):
                found = [n for n in variables_in(test) if n in reads]
                return found[0] if found else None
        return None

    def _conflict_safe(self, body: list, start: int, check) -> list | None:
        """Wrap the first commit (ORM) or INSERT (raw SQL) after the check."""
        _, condition, _ = check
        for index in range(start, len(body)):
            statement = body[index]
            if self.framework_orm and session_of(statement):
                db = session_of(statement)
                handler = [*statements(f"{db}.rollback()\n"), *conflict_body(condition.body)]
                self.imports.append(("sqlalchemy.exc", "IntegrityError"))
                body[index] = wrap_in_try(statement, "IntegrityError", handler)
                return body
            if not self.framework_orm and re.search(r"\bINSERT\s+INTO\b", code_of(statement), re.I):
                handler = conflict_body(condition.body)
                module = self.driver_error.partition(".")[0]
                self.imports.append((module, None))
                body[index] = wrap_in_try(statement, self.driver_error, handler)
                return body
        self.problem = "no commit or INSERT found after the check"
        return None

    framework_orm = True

    def _lock_parent(self, body: list, reads: dict[str, int], check) -> list | None:
        """`count, then insert`: lock the parent row loaded before the count (SELECT ... FOR UPDATE)."""
        index, _, name = check
        for var, position in sorted(reads.items(), key=lambda item: item[1]):
            if var == name or position >= index:
                continue
            statement = body[position]
            value = statement.body[0].value
            if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value in {"first", "one", "one_or_none"}:
                chain = value.func.value
                if "query" not in code_of(chain) or "with_for_update" in code_of(chain):
                    continue
                locked = value.with_changes(func=value.func.with_changes(value=cst.Call(cst.Attribute(chain, cst.Name("with_for_update")))))
                body[position] = statement.with_changes(body=[statement.body[0].with_changes(value=locked)])
                return body
        self.problem = "the limit is checked on a count with no parent row to lock; use a conditional UPDATE or a lock by hand"
        return None


# -- PR330 / PR331 --------------------------------------------------------------------------------


def created_model(function: cst.FunctionDef, shape) -> tuple[str, cst.Call] | None:
    """The sensitive model the handler constructs (`Order(...)`)."""
    found: list[tuple[str, cst.Call]] = []

    class Find(QuickVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            name = tail(dotted_name(call.func) or "")
            if name in shape.by_model and SENSITIVE.search(name) and not found:
                found.append((name, call))

    function.visit(Find())
    return found[0] if found else None


class IdempotencyKey(QuickTransformer):
    """Stores the client's key on the created row and answers 409 when it comes back."""

    def __init__(self, model: str, constructor: cst.Call, db: str) -> None:
        self.model = model
        self.constructor = constructor
        self.db = db
        self.inserted = False

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if original_node.deep_equals(self.constructor) and not any(a.keyword and a.keyword.value == "idempotency_key" for a in original_node.args):
            from fixers.rewrite import set_keyword

            return set_keyword(updated_node, "idempotency_key", "idempotency_key")
        return updated_node

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.inserted:
            return updated_node
        body = list(updated_node.body)
        for index, statement in enumerate(body):
            if isinstance(statement, cst.SimpleStatementLine) and self.model + "(" in code_of(statement):
                guard = statements(
                    f"if idempotency_key is not None and {self.db}.query({self.model}).filter({self.model}.idempotency_key == idempotency_key).first() is not None:\n"
                    '    raise HTTPException(status_code=409, detail="This Idempotency-Key was already used")\n'
                )
                body[index:index] = guard
                for later in range(index + len(guard) + 1, len(body)):
                    if session_of(body[later]) == self.db:  # a concurrent duplicate fails the commit
                        handler = statements(
                            f"{self.db}.rollback()\n"
                            'raise HTTPException(status_code=409, detail="This Idempotency-Key was already used")\n'
                        )
                        body[later] = wrap_in_try(body[later], "IntegrityError", handler)
                        break
                self.inserted = True
                return updated_node.with_changes(body=body)
        return updated_node


IDEMPOTENCY_TABLE = """CREATE TABLE IF NOT EXISTS idempotency_keys (
    idempotency_key TEXT PRIMARY KEY,
    route TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP
);
"""


class RawKeyGuard(QuickTransformer):
    """Before the INSERT: record the request's Idempotency-Key; a key seen before answers 409."""

    def __init__(self, framework: str, mark: str, error: str, label: str) -> None:
        self.framework = framework
        self.mark = mark
        self.error = error
        self.label = label
        self.inserted = False

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if self.inserted:
            return updated_node
        body = list(updated_node.body)
        for index, statement in enumerate(body):
            code = code_of(statement)
            match = re.search(r"([\w.()]+)\.execute\(\s*(?:\n\s*)?[\"']INSERT\s+INTO", code, re.I)
            if not isinstance(statement, cst.SimpleStatementLine) or match is None:
                continue
            db = match.group(1)
            header = 'request.headers.get("Idempotency-Key")'
            reject = (
                'return jsonify(error="This Idempotency-Key was already used"), 409'
                if self.framework == "flask"
                else 'raise HTTPException(status_code=409, detail="This Idempotency-Key was already used")'
            )
            guard = statements(
                f"idempotency_key = {header}\n"
                "if idempotency_key:\n"
                "    try:\n"
                f'        {db}.execute("INSERT INTO idempotency_keys (idempotency_key, route) VALUES ({self.mark}, {self.mark})", (idempotency_key, "{self.label}"))\n'
                f"    except {self.error}:\n"
                f"        {db}.rollback()\n"
                f"        {reject}\n"
            )
            body[index:index] = guard
            self.inserted = True
            return updated_node.with_changes(body=body)
        return updated_node


class DerivedProviderKey(QuickTransformer):
    """`idempotency_key=str(uuid.uuid4())` -> the client's key, else one derived from the record."""

    def __init__(self, record: str | None, client_key: bool) -> None:
        self.record = record
        self.client_key = client_key
        self.changed = 0

    def _derived(self) -> str:
        if self.record is None:
            raise Skip("no order/payment record in scope to derive a stable key from")
        stable = f'f"{self.record}-{{{self.record}.id}}"'
        return f"idempotency_key or {stable}" if self.client_key else stable

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        if original_node.keyword and "idempotency" in original_node.keyword.value.lower() and _is_random(original_node.value):
            self.changed += 1
            return updated_node.with_changes(value=cst.parse_expression(self._derived()))
        return updated_node

    def leave_DictElement(self, original_node: cst.DictElement, updated_node: cst.DictElement) -> cst.DictElement:
        key = original_node.key
        if isinstance(key, cst.SimpleString) and str(key.evaluated_value).lower().replace("_", "-") == "idempotency-key" and _is_random(original_node.value):
            self.changed += 1
            return updated_node.with_changes(value=cst.parse_expression(self._derived()))
        return updated_node


def _is_random(node: cst.BaseExpression) -> bool:
    code = code_of(node)
    return any(call.split(".")[-1] + "(" in code for call in RANDOM_CALLS)


def record_in_scope(function: cst.FunctionDef) -> str | None:
    """A record the key can be derived from: a parameter, or a variable built from a model class
    (`order = Order(...)`), whose name says order/payment/invoice..."""
    candidates = set(param_names(function))

    class Collect(QuickVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            value = node.value
            if isinstance(value, cst.Call) and tail(dotted_name(value.func) or "")[:1].isupper():
                candidates.update(t.target.value for t in node.targets if isinstance(t.target, cst.Name))

    function.visit(Collect())
    for name in sorted(candidates):
        if SENSITIVE.search(name) and not name.endswith(("s", "_id", "_key", "_data")):
            return name
    return None


# -- the fixer -----------------------------------------------------------------------------------


class IdempotencyFixer(Fixer):
    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        outcomes: Outcomes = {}
        for relpath in sorted({f.path for f in findings}):
            group = [f for f in findings if f.path == relpath]
            for rule in ("PR330", "PR332", "PR331"):  # the header first: the provider key may use it
                part = [f for f in group if f.rule == rule]
                if part:
                    outcomes.update(self.guarded(part, ws, lambda part=part: getattr(self, rule.lower())(part, ws)))
        return outcomes

    # PR330
    def pr330(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        shape = data_shape(ws.index)
        needed: list[tuple[str, str | None]] = []
        models: set[str] = set()

        def rewrite(route, function):
            if re.search(r"(^|/)(webhooks?|hooks?)(/|$)", route.path):
                raise Skip("a webhook: de-duplicate by the provider's event id (store it with a unique index and skip repeats)")
            if created_model(function, shape) is None and re.search(r"\bINSERT\s+INTO\b", code_of(function), re.I):
                return self._raw_sql_key(ws, route, function, needed)
            if route.framework != "fastapi":
                raise Skip("by hand: this fix adds idempotency keys to FastAPI handlers that create an ORM record themselves")
            if "idempotency_key" in param_names(function):
                raise Skip("the handler already has an idempotency_key parameter")
            created = created_model(function, shape)
            if created is None:
                raise Skip("by hand: the record is created in a helper (or without an ORM model), not in this handler: accept an Idempotency-Key where it is created")
            db = next((p.name for p in route.handler.params if p.depends_on and re.search(r"db|session", tail(p.depends_on), re.I)), None)
            if db is None:
                raise Skip("no database session parameter in the handler")
            editor = IdempotencyKey(created[0], created[1], db)
            function = function.visit(editor)
            if not editor.inserted:
                raise Skip("the statement creating the record was not found")
            models.add(created[0])
            needed.extend([("fastapi", "Header"), ("fastapi", "HTTPException"), ("typing", "Optional"), ("sqlalchemy.exc", "IntegrityError")])
            return add_param(function, HEADER_PARAM)

        outcomes = handler_edit(ws, findings, rewrite)
        self._add_imports(ws, findings[0].path, needed)
        added = [model for model in sorted(models) if add_key_column(ws, shape, model)]
        if added:
            _key_column_migration(ws, shape, added, [f for f, reason in outcomes.items() if reason is None])
        return outcomes

    def _raw_sql_key(self, ws: Workspace, route, function: cst.FunctionDef, needed: list) -> cst.FunctionDef:
        """Raw SQL: the key goes into an idempotency_keys table (primary key) in the same
        transaction as the write; a repeated key answers 409."""
        schema = next((t.path for t in ws.index.sql_tables), None)
        if schema is None:
            raise Skip("no SQL schema file to add the idempotency_keys table to")
        style = paramstyle(ws, route.relpath)
        mark = "?" if style == "qmark" else "%s"
        error = "sqlite3.IntegrityError" if style == "qmark" else "psycopg2.IntegrityError"
        label = f"{route.methods[0]} {route.path}"
        editor = RawKeyGuard(route.framework, mark, error, label)
        new = function.visit(editor)
        if not editor.inserted:
            raise Skip("the INSERT statement was not found in the handler")
        text = ws.read(schema) or ""
        if "idempotency_keys" not in text:
            ws.write(schema, text.rstrip("\n") + "\n\n" + IDEMPOTENCY_TABLE)
        needed.append((error.partition(".")[0], None))
        needed.append(("flask", "request") if route.framework == "flask" else ("fastapi", "Request"))
        if route.framework == "flask":
            needed.append(("flask", "jsonify"))
        return new

    # PR332
    def pr332(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        shape = data_shape(ws.index)
        needed: list[tuple[str, str | None]] = []

        def rewrite(route, function):
            orm = ".query(" in code_of(function) or ".scalar" in code_of(function)
            if orm and not self._unique_backed(function, shape):
                raise Skip("the checked column has no unique constraint, so the database cannot reject the duplicate: add one first")
            error = "sqlite3.IntegrityError" if paramstyle(ws, route.relpath) == "qmark" else "psycopg2.IntegrityError"
            editor = CheckThenInsert(shape, route.framework, error)
            editor.framework_orm = orm
            new = function.visit(editor)
            if not editor.done:
                raise Skip(editor.problem or "the check and the write were not found")
            needed.extend(editor.imports)
            return new

        outcomes = handler_edit(ws, findings, rewrite)
        self._add_imports(ws, findings[0].path, needed)
        return outcomes

    @staticmethod
    def _add_imports(ws: Workspace, relpath: str, needed: list[tuple[str, str | None]]) -> None:
        needed = list(dict.fromkeys(needed))
        named = [(a, b) for a, b in needed if b]
        if named:
            AuthRouteFixer._imports(ws, relpath, named, "")
        plain = [a for a, b in needed if b is None]
        if plain:
            from fixers.auth import add_imports

            write_module(ws, relpath, add_imports(parse_module(ws.read(relpath)), relpath, [(a, None) for a in plain]))

    @staticmethod
    def _unique_backed(function: cst.FunctionDef, shape) -> bool:
        """The existence check filters on a column the database keeps unique (or will: an identity
        column of the users table, which the unique-constraint fix covers)."""
        code = code_of(function)
        for match in re.finditer(r"\b([A-Z]\w*)\.(\w+)\s*==", code):
            table = shape.by_model.get(match.group(1))
            if table is None:
                continue
            column = match.group(2)
            if table.is_unique(column) or (table.name in shape.users and IDENTITY_NAME.match(column)):
                return True
        if re.search(r"(?i)(from|into)\s+(\w+)", code) and any(
            t.is_unique(c) or (t.name in shape.users and IDENTITY_NAME.match(c))
            for t in shape.tables.values()
            for c in t.columns
            if re.search(rf"\b{c}\s*=\s*\?", code)
        ):
            return True
        return ".query(" not in code

    # PR331
    def pr331(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        text = ws.read(findings[0].path)
        module = parse_module(text)

        class Functions(QuickTransformer):
            def leave_FunctionDef(inner, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
                if not _is_random_somewhere(updated_node):
                    return updated_node
                editor = DerivedProviderKey(record_in_scope(updated_node), "idempotency_key" in param_names(updated_node))
                new = updated_node.visit(editor)
                inner.changed = getattr(inner, "changed", 0) + editor.changed
                return new

        walker = Functions()
        new = module.visit(walker)
        if not getattr(walker, "changed", 0):
            raise Skip("no order/payment record in scope to derive a stable key from")
        write_module(ws, findings[0].path, new)
        return {f: None for f in findings}


def _is_random_somewhere(function: cst.FunctionDef) -> bool:
    return "idempotency" in code_of(function).lower() and _is_random(function)


def _key_column_migration(ws: Workspace, shape, models: list[str], fixed: list[Finding]) -> None:
    """The new key columns in an Alembic revision where the project keeps its schema in
    migrations: without it `alembic upgrade head` builds tables the models no longer match."""
    upgrade: list[str] = []
    downgrade: list[str] = []
    for model in models:
        table = shape.by_model[model].name
        constraint = f"uq_{table}_idempotency_key"
        upgrade += [
            f'with op.batch_alter_table("{table}") as batch_op:',
            '    batch_op.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))',
            f'    batch_op.create_unique_constraint("{constraint}", ["idempotency_key"])',
        ]
        downgrade = [
            f'with op.batch_alter_table("{table}") as batch_op:',
            f'    batch_op.drop_constraint("{constraint}", type_="unique")',
            '    batch_op.drop_column("idempotency_key")',
        ] + downgrade
    summary = f"Idempotency keys on {', '.join(models)}: a repeated request with the same key is rejected."
    path = write_revision(ws, "idempotency_keys", summary, upgrade, downgrade)
    if path is not None:
        ws.note(f"the idempotency_key column comes with the migration {path}: run `alembic upgrade head` on each database", fixed)


def add_key_column(ws: Workspace, shape, model: str) -> bool:
    """`idempotency_key` on the model: a unique, nullable column. False when it is there already."""
    table = shape.by_model[model]
    text = ws.read(table.path) or ""
    if re.search(rf"class {model}\b[\s\S]*?idempotency_key\s*[:=]", text):
        return False
    module = parse_module(text)
    mapped = "mapped_column" in text and re.search(rf"class {model}\b[\s\S]*?mapped_column", text)

    class AddColumn(QuickTransformer):
        def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
            if original_node.name.value != model:
                return updated_node
            body = list(updated_node.body.body)
            last = max(i for i, s in enumerate(body) if isinstance(s, cst.SimpleStatementLine) and re.search(r"(Column|mapped_column)\(", code_of(s)))
            if mapped and "mapped_column" in code_of(body[last]):
                line = "idempotency_key: Mapped[Optional[str]] = mapped_column(String(255), unique=True)\n"
            else:
                line = "idempotency_key = Column(String(255), unique=True, nullable=True)\n"
            body.insert(last + 1, cst.parse_statement(line))
            return updated_node.with_changes(body=updated_node.body.with_changes(body=body))

    new = module.visit(AddColumn())
    from fixers.auth import add_imports

    imports = [("sqlalchemy", "String")]
    code = module_code(new)
    if "Mapped[Optional" in code:
        imports.append(("typing", "Optional"))
    elif "Column(String(255)" in code:
        imports.append(("sqlalchemy", "Column"))
    write_module(ws, table.path, add_imports(new, table.path, imports))
    return True

"""Data-model fixes: column constraints and types (PR101-PR106, PR130) on ORM models and SQL
schema files, and eager loading for lazy relationships read in a loop (PR121). Alembic in place
of tables created at start-up (PR110) is in fixers/migrations.py.

Column changes edit the model or the schema file; in a project with Alembic the migration comes
with them (fixers/column_migration.py), elsewhere the summary says which one to write. A type
change is made together with the code computing with the column (fixers/column_uses.py).
"""

from __future__ import annotations

import re

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor

from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.column_migration import operations, plan_revision, versions_folder, write_revision
from fixers.column_uses import MONEY, TIME, ColumnUses, apply_rewrites
from fixers.cst import FixCommand, Target, dotted_name, fix_with, run_codemod, string_text
from fixers.cst_dispatch import QuickVisitor
from fixers.rewrite import code_of, set_keyword, tail
from fixers.pipeline.workspace import Skip, Workspace

COLUMN_CALLS = {"Column", "mapped_column"}
FLOAT_TYPES = {"Float", "REAL", "Double", "DOUBLE", "FLOAT", "DOUBLE_PRECISION"}
NAIVE_NOW = {"datetime.utcnow", "datetime.now", "datetime.datetime.utcnow", "datetime.datetime.now"}
DATETIME_TYPES = {"DateTime", "DATETIME", "TIMESTAMP"}


def _name_like(reference: cst.BaseExpression, name: str) -> cst.BaseExpression:
    """`name` spelled like `reference` (`sa.Float` -> `sa.Numeric`, `Float` -> `Numeric`)."""
    if isinstance(reference, cst.Attribute):
        return reference.with_changes(attr=cst.Name(name))
    return cst.Name(name)


def _type_arg(call: cst.Call, names: set[str]) -> int | None:
    """Position of the column type among the positional arguments (bare or called)."""
    for index, arg in enumerate(call.args):
        if arg.keyword is not None or arg.star:
            continue
        node = arg.value.func if isinstance(arg.value, cst.Call) else arg.value
        if tail(dotted_name(node) or "") in names:
            return index
    return None


def _annotation_inner(annotation: cst.Annotation | None) -> str:
    """`Mapped[datetime]` -> "datetime" (the source of the subscript), else ''."""
    if annotation is None:
        return ""
    node = annotation.annotation
    if isinstance(node, cst.Subscript) and tail(dotted_name(node.value) or "") == "Mapped":
        return code_of(node.slice[0].slice.value) if isinstance(node.slice[0].slice, cst.Index) else ""
    return ""


RATE_NAME = re.compile(r"(rate|ratio|percent|pct|factor|multiplier)", re.I)


def _numeric_size(finding: Finding) -> tuple[str, str]:
    """Numeric(12, 2) for amounts; a rate (tax_rate = 0.075) needs more places than cents."""
    named = re.search(r"\.(\w+) stores money", finding.message or "")
    return ("9", "6") if named and RATE_NAME.search(named.group(1)) else ("12", "2")


class ColumnConstraints(FixCommand):
    """Edits the Column/mapped_column call a finding points at (or the Table for PR106)."""

    DESCRIPTION = "Add indexes, unique constraints, exact money types and time zones to columns."
    ONLY_WHERE_TARGETED = True

    def __init__(self, context, targets=()) -> None:
        super().__init__(context, targets)
        self.annotation: cst.Annotation | None = None
        self.datetime_class: str | None = None  # how `datetime.now` is spelled in this module
        self.current: Target | None = None  # the finding being fixed

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        for statement in node.body:
            if m.matches(statement, m.SimpleStatementLine(body=[m.ImportFrom(module=m.Name("datetime"))])):
                names = statement.body[0].names
                if not isinstance(names, cst.ImportStar) and any(a.evaluated_name == "datetime" for a in names):
                    self.datetime_class = "datetime"
            elif m.matches(statement, m.SimpleStatementLine(body=[m.Import()])):
                if any(a.evaluated_name == "datetime" for a in statement.body[0].names):
                    self.datetime_class = self.datetime_class or "datetime.datetime"

    def _on_line(self, node: cst.CSTNode) -> list[Target]:
        if self.untargeted(node):
            return []
        start = self.span(node).start
        return [t for t in self.targets if t.finding not in self.outcomes and t.line == start.line]

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.annotation = node.annotation

    def leave_AnnAssign(self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign) -> cst.AnnAssign:
        self.annotation = None
        targets = self._on_line(original_node)
        if not targets or original_node.value is not None:
            return updated_node
        # SQLModel `username: str` without Field(): only the unique/index flags apply.
        fields = []
        for target in targets:
            if target.finding.rule in {"PR102", "PR101", "PR130"}:
                fields.append("unique=True" if target.finding.rule == "PR102" else "index=True")
            else:
                self.skipped([target], "a SQLModel field: change it with Field(sa_column=...) by hand")
        if not fields:
            return updated_node
        AddImportsVisitor.add_needed_import(self.context, "sqlmodel", "Field")
        self.fixed([t for t in targets if t.finding.rule in {"PR102", "PR101", "PR130"}])
        return updated_node.with_changes(value=cst.parse_expression(f"Field({', '.join(dict.fromkeys(fields))})"), equal=cst.AssignEqual())

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        name = tail(dotted_name(original_node.func) or "")
        if name not in COLUMN_CALLS | {"Table", "Field"}:
            return updated_node
        targets = self._on_line(original_node)
        if name == "Table":
            return self._table(updated_node, [t for t in targets if t.finding.rule == "PR106"])
        targets = [t for t in targets if t.finding.rule != "PR106"]
        if not targets:
            return updated_node
        call = updated_node
        for target in sorted(targets, key=lambda t: t.finding.rule):
            try:
                self.current = target
                call = self._apply(target.finding.rule, call, name)
            except Skip as exc:
                self.skipped([target], str(exc))
            else:
                self.fixed([target])
        return call

    def _apply(self, rule: str, call: cst.Call, name: str) -> cst.Call:
        if name == "Field" and rule not in {"PR101", "PR102", "PR105", "PR130"}:
            raise Skip("a SQLModel field: change its column type with Field(sa_type=...) by hand")
        if rule in {"PR101", "PR130"}:
            return set_keyword(call, "index", "True")
        if rule == "PR102":
            return set_keyword(call, "unique", "True")
        if rule == "PR105":
            return set_keyword(call, "nullable", "False")
        if rule == "PR103":
            return self._money(call)
        if rule == "PR104":
            return self._aware(call)
        raise Skip(f"{rule} is not a column fix")

    def _money(self, call: cst.Call) -> cst.Call:
        digits, places = _numeric_size(self.current.finding)
        position = _type_arg(call, FLOAT_TYPES)
        args = list(call.args)
        if position is None:
            if _annotation_inner(self.annotation) != "float":
                raise Skip("no Float type found on this column")
            AddImportsVisitor.add_needed_import(self.context, "sqlalchemy", "Numeric")
            new = cst.Arg(cst.parse_expression(f"Numeric({digits}, {places})"), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            args.insert(0, new)
        else:
            old = args[position].value
            reference = old.func if isinstance(old, cst.Call) else old
            numeric = cst.Call(_name_like(reference, "Numeric"), args=[cst.Arg(cst.Integer(digits), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))), cst.Arg(cst.Integer(places))])
            if isinstance(reference, cst.Name):
                AddImportsVisitor.add_needed_import(self.context, "sqlalchemy", "Numeric")
            args[position] = args[position].with_changes(value=numeric)
        if _annotation_inner(self.annotation) == "float":
            AddImportsVisitor.add_needed_import(self.context, "decimal", "Decimal")
        return call.with_changes(args=args)

    def _aware(self, call: cst.Call) -> cst.Call:
        args = list(call.args)
        position = _type_arg(call, DATETIME_TYPES)
        if position is not None:
            old = args[position].value
            reference = old.func if isinstance(old, cst.Call) else old
            if tail(dotted_name(reference) or "") != "TIMESTAMP":
                typed = cst.Call(reference, args=[cst.Arg(cst.Name("True"), keyword=cst.Name("timezone"), equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])
                if isinstance(old, cst.Call):
                    typed = set_keyword(old, "timezone", "True")
                args[position] = args[position].with_changes(value=typed)
            else:
                args[position] = args[position].with_changes(value=set_keyword(old if isinstance(old, cst.Call) else cst.Call(old), "timezone", "True"))
        elif _annotation_inner(self.annotation) in {"datetime", "datetime.datetime", "Optional[datetime]", "datetime | None"}:
            AddImportsVisitor.add_needed_import(self.context, "sqlalchemy", "DateTime")
            args.insert(0, cst.Arg(cst.parse_expression("DateTime(timezone=True)"), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")) if args else cst.MaybeSentinel.DEFAULT))
        call = call.with_changes(args=args)
        for option in ("default", "onupdate"):
            arg = next((a for a in call.args if a.keyword is not None and a.keyword.value == option), None)
            if arg is None:
                continue
            value = arg.value.func if isinstance(arg.value, cst.Call) and not arg.value.args else arg.value
            if (dotted_name(value) or "") in NAIVE_NOW:
                call = set_keyword(call, option, self._aware_now(dotted_name(value)))
        return call

    def _aware_now(self, naive: str) -> str:
        if naive.startswith("datetime.datetime."):
            return "lambda: datetime.datetime.now(datetime.timezone.utc)"
        if "timezone" in self.names and not self._imports_timezone():
            raise Skip("`timezone` means something else in this module; write the aware default by hand")
        AddImportsVisitor.add_needed_import(self.context, "datetime", "timezone")
        return "lambda: datetime.now(timezone.utc)"

    def _imports_timezone(self) -> bool:
        for statement in self._module.body:
            if m.matches(statement, m.SimpleStatementLine(body=[m.ImportFrom(module=m.Name("datetime"))])):
                names = statement.body[0].names
                if not isinstance(names, cst.ImportStar) and any(a.evaluated_name == "timezone" for a in names):
                    return True
        return False

    def _table(self, call: cst.Call, targets: list[Target]) -> cst.Call:
        """PR106 on `Table(...)`: a link table gets the composite key of its foreign keys."""
        if not targets:
            return call
        columns = [a for a in call.args if isinstance(a.value, cst.Call) and tail(dotted_name(a.value.func) or "") == "Column"]
        linked = [a for a in columns if any(isinstance(x.value, cst.Call) and tail(dotted_name(x.value.func) or "") == "ForeignKey" for x in a.value.args)]
        if not columns or len(linked) != len(columns) or len(linked) < 2:
            self.skipped(targets, "only a link table (every column a foreign key) gets its key automatically; choose this table's primary key by hand")
            return call
        args = [a.with_changes(value=set_keyword(a.value, "primary_key", "True")) if a in linked else a for a in call.args]
        self.fixed(targets)
        return call.with_changes(args=args)


class ColumnFixer(Fixer):
    """Column constraints and types, in models (libcst) or in SQL schema files (text).

    A type change (Float -> Numeric, naive -> aware DateTime) is made only together with the
    edits that keep the code computing with the column working (fixers/column_uses.py), or not
    at all, with the reason."""

    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        if relpath.endswith(".sql"):
            return fix_sql_schema(relpath, findings, ws)
        refused: Outcomes = {}
        if re.search(r"(^|/)(migrations|alembic)/versions/", relpath):
            return {f: "a migration file records how the schema was built: leave it as it is, and change the schema in a new migration" for f in findings}
        for table in ws.index.sql_tables if ws.index is not None else []:
            if table.path == relpath:  # SQL inside a Python string (SCHEMA = """CREATE TABLE ...""")
                for finding in findings:
                    if finding.line == table.span.line or any(c.span.line == finding.line for c in table.columns):
                        refused[finding] = f"by hand: {table.name} is declared in SQL inside a Python string; change it there (and in a migration for existing databases)"
        for kind, rule in ((MONEY, "PR103"), (TIME, "PR104")):
            refused.update(_refused_type_changes(ws, relpath, [f for f in findings if f.rule == rule], kind))
        versions = versions_folder(ws)
        if versions is not None:  # the project's schema lives in Alembic migrations: each change needs one
            _, unexpressed = plan_revision(_column_changes(ws, relpath, [f for f in findings if f not in refused]), _scales(findings))
            for finding in unexpressed:
                refused[finding] = (
                    f"by hand: this project keeps its schema in Alembic migrations ({versions}), and the migration "
                    "for this change could not be written automatically; change the model and write the migration together"
                )
        outcomes = fix_with(ColumnConstraints, relpath, [f for f in findings if f not in refused], ws)
        money = [f for f in findings if f.rule == "PR103" and f in outcomes and outcomes[f] is None]
        if money:
            _follow_through_to_decimal(ws, relpath, money)
            _decimal_annotations(ws, relpath, [ws.position(f)[0] for f in money])
            by_model: dict[str, list[str]] = {}
            for model, attr in _typed_columns(ws, relpath, money).values():
                by_model.setdefault(model, []).append(attr)
            run_codemod(ws, relpath, DecimalOnAssignment, [], keep_any_change=True, columns=by_model)
        times = [f for f in findings if f.rule == "PR104" and f in outcomes and outcomes[f] is None]
        if times:
            _follow_through_to_aware(ws, relpath, times)
        changed = [f for f, reason in outcomes.items() if reason is None]
        if changed and versions is not None:
            tables, _ = plan_revision(_column_changes(ws, relpath, changed), _scales(changed))
            summary = (
                f"Column changes in {relpath}: indexes, unique constraints, exact money types, time zones,\n"
                "NOT NULL. Existing rows must satisfy them before `alembic upgrade head`."
            )
            path = write_revision(ws, "column_changes", summary, *operations(tables))
            ws.note(
                f"the column changes in {relpath} come with the migration {path}: read it, then run "
                "`alembic upgrade head` on each database; existing rows must satisfy new NOT NULL and UNIQUE constraints first",
                changed,
            )
        elif changed:
            ws.note(
                f"the column changes in {relpath} change the model only: an existing database keeps its columns "
                'until a migration changes them (`alembic revision --autogenerate -m "column changes"`, read it, '
                "then `alembic upgrade head`); existing rows must satisfy new NOT NULL and UNIQUE constraints first",
                changed,
            )
        return {**outcomes, **refused}


def _column_changes(ws: Workspace, relpath: str, findings: list[Finding]) -> list[tuple[Finding, object, object]]:
    """(finding, model, column) from the index; findings on something else get (finding, None, None)."""
    facts = ws.index.modules.get(relpath) if ws.index is not None else None
    changes = []
    for finding in findings:
        found = next(
            ((model, column) for model in (facts.models if facts is not None else []) for column in model.columns if column.span.line == finding.line),
            None,
        )
        changes.append((finding, *found) if found else (finding, _Nothing, _Nothing))
    return changes


class _Nothing:
    """Stands for the model and column of a finding that is not on an ORM column (a Table's key)."""

    table = name = type = ""
    unique = index = False


def _scales(findings: list[Finding]) -> dict[Finding, tuple[str, str]]:
    return {f: _numeric_size(f) for f in findings if f.rule == "PR103"}


def _typed_columns(ws: Workspace, relpath: str, findings: list[Finding]) -> dict[Finding, tuple[str, str]]:
    """finding -> (model class, attribute) of the ORM column it points at."""
    facts = ws.index.modules.get(relpath) if ws.index is not None else None
    found = {}
    for finding in findings:
        for model in facts.models if facts is not None else []:
            column = next((c for c in model.columns if c.span.line == finding.line), None)
            if column is not None:
                found[finding] = (model.name, column.name)
    return found


def _column_uses(ws: Workspace, kind: str, columns: set[tuple[str, str]]):
    index = ws.index
    # Files no fix has opened are read as the scan saw them (no stale-file check on every module).
    texts = {
        rp: text
        for rp in index.modules
        if rp.endswith(".py") and (text := ws.read(rp) if rp in ws.files else index.source(rp)) is not None
    }
    return ColumnUses(kind, columns, texts, index, flask="flask" in index.frameworks).analyse()


def _refused_type_changes(ws: Workspace, relpath: str, findings: list[Finding], kind: str) -> Outcomes:
    """The type changes the code computing with the column could not follow, with the places
    that would break. The others are checked again without the refused ones (a refused column
    stays a float, which changes how the rest must be written)."""
    columns = _typed_columns(ws, relpath, findings)
    refused: Outcomes = {}
    chosen = set(columns.values())
    while chosen:
        problems = _column_uses(ws, kind, chosen).problems
        blamed = {p: {c for c in chosen if f"{c[0]}.{c[1]}" in p.columns} for p in problems}
        bad = set().union(*blamed.values()) if blamed else set()
        if not bad:
            break
        for finding, column in columns.items():
            if column in bad:
                mine = [p for p, cs in blamed.items() if column in cs]
                more = f" (and {len(mine) - 1} more place{'s' if len(mine) > 2 else ''})" if len(mine) > 1 else ""
                change = "an exact money type (Decimal)" if kind == MONEY else "time-zone aware datetimes"
                refused[finding] = f"by hand: {mine[0]}{more}; switching {column[0]}.{column[1]} to {change} would break it"
        chosen -= bad
    return refused


def _follow_through_to_decimal(ws: Workspace, relpath: str, money: list[Finding]) -> None:
    """Rewrite the code computing with the now-Decimal columns (float literals, float(), round)."""
    columns = set(_typed_columns(ws, relpath, money).values())
    if not columns:
        return
    uses = _column_uses(ws, MONEY, columns)
    if uses.problems:
        raise Skip(f"by hand: {uses.problems[0]}; switching to an exact money type (Decimal) would break it")
    _apply_uses(ws, uses.rewrites)


def _follow_through_to_aware(ws: Workspace, relpath: str, times: list[Finding]) -> None:
    """Aware values for the now-aware columns: `x.sent_at = datetime.utcnow()` and the like."""
    columns = set(_typed_columns(ws, relpath, times).values())
    if columns:
        _apply_uses(ws, _column_uses(ws, TIME, columns).rewrites)


def _apply_uses(ws: Workspace, rewrites) -> None:
    for path in sorted({r.relpath for r in rewrites}):
        mine = [r for r in rewrites if r.relpath == path]
        ws.write(path, apply_rewrites(ws.read(path), mine))
        run_codemod(ws, path, ImportNames, [], keep_any_change=True, imports=sorted({n for r in mine for n in r.needs}))


class DecimalOnAssignment(FixCommand):
    """A `@validates` hook on the model, so a money column holds a Decimal from the moment it is
    set (`Invoice(amount=9.99)`), not only once read back from the database: the rewritten
    arithmetic then sees Decimal values before the first commit too."""

    def __init__(self, context, targets=(), columns: dict[str, list[str]] | None = None) -> None:
        super().__init__(context, targets)
        self.columns = columns or {}

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        names = self.columns.get(original_node.name.value)
        if not names or not isinstance(updated_node.body, cst.IndentedBlock):
            return updated_node
        members = set()
        for statement in updated_node.body.body:
            if isinstance(statement, cst.FunctionDef):
                members.add(statement.name.value)
                for decorator in statement.decorators:
                    if isinstance(decorator.decorator, cst.Call) and tail(dotted_name(decorator.decorator.func) or "") == "validates":
                        validated = {string_text(a.value) for a in decorator.decorator.args}
                        if validated & set(names):
                            return updated_node  # the model validates these columns already
        name = next(n for n in ("_money_as_decimal", "_money_as_decimal_", "_prodready_money_as_decimal") if n not in members)
        quoted = ", ".join(f'"{n}"' for n in names)
        function = cst.parse_statement(
            f"@validates({quoted})\n"
            f"def {name}(self, key, value):\n"
            f'    """Money columns hold Decimal values from the moment they are set, not only once read back."""\n'
            f"    return value if value is None or isinstance(value, Decimal) else Decimal(str(value))\n"
        ).with_changes(leading_lines=[cst.EmptyLine(indent=False)])
        AddImportsVisitor.add_needed_import(self.context, "decimal", "Decimal")
        AddImportsVisitor.add_needed_import(self.context, "sqlalchemy.orm", "validates")
        return updated_node.with_changes(body=updated_node.body.with_changes(body=[*updated_node.body.body, function]))


class ImportNames(FixCommand):
    """The imports rewritten code needs (`from decimal import Decimal`, `from datetime import timezone`)."""

    def __init__(self, context, targets=(), imports=()) -> None:
        super().__init__(context, targets)
        self.imports = imports

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        for module, name in self.imports:
            AddImportsVisitor.add_needed_import(self.context, module, name)


def _decimal_annotations(ws: Workspace, relpath: str, lines: list[int]) -> None:
    """`x: Mapped[float] = mapped_column(Numeric(12, 2))` reads Decimal values: say so."""
    text = ws.read(relpath)
    new_lines = text.splitlines(keepends=True)
    for line in lines:
        if 0 < line <= len(new_lines):
            new_lines[line - 1] = re.sub(r"Mapped\[float\]", "Mapped[Decimal]", new_lines[line - 1], count=1)
    ws.write(relpath, "".join(new_lines))


# -- SQL schema files -----------------------------------------------------------------------------

SQL_FLOAT = re.compile(r"\b(DOUBLE\s+PRECISION|REAL|FLOAT|DOUBLE)\b", re.I)
SQL_NAIVE = re.compile(r"\b(TIMESTAMP|DATETIME)\b(?!\s+WITH)", re.I)


def _sql_column(ws: Workspace, relpath: str, line: int):
    for table in ws.index.sql_tables if ws.index is not None else []:
        if table.path == relpath:
            for column in table.columns:
                if column.span.line == line:
                    return table, column
    return None, None


def _statement_end(lines: list[str], start: int) -> int:
    """0-based index of the line that ends the SQL statement containing line `start` (0-based)."""
    for index in range(start, len(lines)):
        if ";" in lines[index].split("--", 1)[0]:
            return index
    return len(lines) - 1


def fix_sql_schema(relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
    text = ws.read(relpath)
    if text is None:
        raise Skip(f"{relpath} does not exist")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    outcomes: Outcomes = {}
    after: dict[int, list[str]] = {}
    for finding in findings:
        table, column = _sql_column(ws, relpath, finding.line)
        line, _ = ws.position(finding)
        if table is None or not 0 < line <= len(lines):
            outcomes[finding] = "the column was not found in the schema"
            continue
        index = line - 1
        if finding.rule in {"PR101", "PR130", "PR102"}:
            unique = finding.rule == "PR102"
            name = f"{'ux' if unique else 'ix'}_{table.name}_{column.name}"
            statement = f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS {name} ON {table.name} ({column.name});\n"
            after.setdefault(_statement_end(lines, index), []).append(statement)
        elif finding.rule == "PR103":
            servers = sorted((ws.index.databases if ws.index is not None else set()) & {"postgresql", "mysql"})
            if servers:
                outcomes[finding] = (
                    f"by hand: with {servers[0]}, NUMERIC columns come back as Decimal values, and the code reading "
                    f"{table.name} through SQL could not be checked for float arithmetic (Decimal * float raises "
                    "TypeError); change the type together with that code"
                )
                continue
            new = SQL_FLOAT.sub("NUMERIC({}, {})".format(*_numeric_size(finding)), lines[index], count=1)
            if new == lines[index]:
                outcomes[finding] = "no REAL/FLOAT type found on this line"
                continue
            lines[index] = new
        elif finding.rule == "PR104":
            if ws.index is not None and "mysql" in ws.index.databases:
                outcomes[finding] = "MySQL has no TIMESTAMP WITH TIME ZONE; store UTC and convert in the app"
                continue
            if ws.index is not None and "postgresql" in ws.index.databases:
                outcomes[finding] = (
                    "by hand: with postgresql, TIMESTAMP WITH TIME ZONE columns come back as aware datetimes, and "
                    f"the code reading {table.name} through SQL could not be checked for comparisons with naive ones "
                    "(datetime.utcnow()), which raise TypeError; change the type together with that code"
                )
                continue
            new = SQL_NAIVE.sub("TIMESTAMP WITH TIME ZONE", lines[index], count=1)
            if new == lines[index]:
                outcomes[finding] = "no TIMESTAMP/DATETIME type found on this line"
                continue
            lines[index] = new
        else:
            outcomes[finding] = "add a primary key to this table by hand: it needs a choice of columns"
            continue
        outcomes[finding] = None
    for end in sorted(after, reverse=True):
        lines[end + 1 : end + 1] = after[end]
    ws.write(relpath, "".join(lines))
    return outcomes


# -- PR121: eager loading -------------------------------------------------------------------------


class EagerLoad(FixCommand):
    """`rows = db.query(Model)...all()` then `row.rel` in a loop -> `.options(selectinload(Model.rel))`."""

    DESCRIPTION = "Load relationships read in a loop together with the rows."

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        for target in self.targets_within(node):
            if target.finding in self.outcomes:
                continue
            if any(t is not node and self.span(t).start.line <= target.line <= self.span(t).end.line for t in _nested_functions(node)):
                continue  # a nested function handles it
            self.pending.setdefault(id(node), []).append(target)

    def __init__(self, context, targets=(), loading: dict[tuple[str, str], str | None] | None = None) -> None:
        super().__init__(context, targets)
        self.pending: dict[int, list[Target]] = {}
        self.loading = loading or {}  # (model, relationship) -> its lazy= option

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        targets = self.pending.pop(id(original_node), [])
        function = updated_node
        for target in targets:
            try:
                function = self._eager(original_node, function, target)
            except Skip as exc:
                self.skipped([target], str(exc))
            else:
                self.fixed([target])
        return function

    def _eager(self, original: cst.FunctionDef, function: cst.FunctionDef, target: Target) -> cst.FunctionDef:
        access = self._access(original, target)
        if access is None:
            raise Skip("by hand: the relationship is read in another function (a serialiser or helper), not in this loop: load it eagerly in the query that fetches the rows (selectinload)")
        row, relation = access.value.value, access.attr.value
        iterable = self._loop_iterable(original, row, target.line)
        if iterable is None:
            raise Skip(f"`{row}` is not the variable of a loop over query results here (read in a helper?)")
        query = self._query_of(original, iterable, target.line)
        if query is None:
            raise Skip("the rows do not come from a query in this function; add selectinload() where they are loaded")
        model = query.args[0].value if query.args else None
        if not isinstance(model, (cst.Name, cst.Attribute)):
            raise Skip("the query does not select one model")
        loading = self.loading.get((tail(dotted_name(model) or ""), relation))
        if loading in {"dynamic", "write_only"}:
            raise Skip(
                f'{tail(dotted_name(model) or "")}.{relation} is lazy="{loading}" (a query, not a list): it cannot be loaded '
                "with the rows (SQLAlchemy refuses); read what the loop needs with one query by hand"
            )
        current = _find_equal(function, query)
        if current is None:
            raise Skip("the query changed under an earlier fix")
        option = cst.parse_expression(f"selectinload({code_of(model)}.{relation})")
        loaded = cst.Call(func=cst.Attribute(current, cst.Name("options")), args=[cst.Arg(option)])
        AddImportsVisitor.add_needed_import(self.context, "sqlalchemy.orm", "selectinload")
        return function.deep_replace(current, loaded)

    def _access(self, function: cst.FunctionDef, target: Target) -> cst.Attribute | None:
        found: list[cst.Attribute] = []
        outer = self

        class Find(QuickVisitor):
            def visit_Attribute(self, node: cst.Attribute) -> None:
                start = outer.span(node).start
                if start.line == target.line and (target.col is None or start.column == target.col) and isinstance(node.value, cst.Name):
                    found.append(node)

        function.visit(Find())
        return found[0] if found else None

    def _loop_iterable(self, function: cst.FunctionDef, row: str, line: int) -> cst.BaseExpression | None:
        best: list[tuple[int, cst.BaseExpression]] = []
        outer = self

        class Find(QuickVisitor):
            def visit_For(self, node: cst.For) -> None:
                span = outer.span(node)
                if span.start.line <= line <= span.end.line and m.matches(node.target, m.Name(row)):
                    best.append((span.start.line, node.iter))

            def visit_CompFor(self, node: cst.CompFor) -> None:
                if m.matches(node.target, m.Name(row)):
                    best.append((outer.span(node).start.line, node.iter))

        function.visit(Find())
        return max(best, key=lambda b: b[0])[1] if best else None

    def _query_of(self, function: cst.FunctionDef, iterable: cst.BaseExpression, line: int) -> cst.Call | None:
        if isinstance(iterable, cst.Name):
            assigned = None
            outer = self

            class Find(QuickVisitor):
                def visit_Assign(self, node: cst.Assign) -> None:
                    nonlocal assigned
                    if outer.span(node).start.line < line and any(m.matches(t.target, m.Name(iterable.value)) for t in node.targets):
                        assigned = node.value

            function.visit(Find())
            iterable = assigned
        if iterable is None:
            return None
        return _entity_query(iterable)


def _entity_query(expr: cst.CSTNode) -> cst.Call | None:
    """The `db.query(Model)` / `select(Model)` call at the root of a query chain."""
    node = expr
    while True:
        if isinstance(node, cst.Await):
            node = node.expression
        elif isinstance(node, cst.Call):
            name = tail(dotted_name(node.func) or "")
            if name in {"query", "select"} and node.args:
                return node
            if name in {"scalars", "execute"} and node.args:
                inner = _entity_query(node.args[0].value)
                if inner is not None:
                    return inner
            node = node.func
        elif isinstance(node, cst.Attribute):
            node = node.value
        else:
            return None


def _find_equal(tree: cst.CSTNode, wanted: cst.CSTNode) -> cst.CSTNode | None:
    found: list[cst.CSTNode] = []

    class Find(QuickVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if not found and type(node) is type(wanted) and node.deep_equals(wanted):
                found.append(node)
                return False
            return True

    tree.visit(Find())
    return found[0] if found else None


def _nested_functions(node: cst.FunctionDef) -> list[cst.FunctionDef]:
    found: list[cst.FunctionDef] = []

    class Find(QuickVisitor):
        def visit_FunctionDef(self, inner: cst.FunctionDef) -> None:
            found.append(inner)

    node.visit(Find())
    return found


class EagerLoadFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        models = ws.index.models if ws.index is not None else []
        loading = {(model.name, rel.name): (rel.lazy or "").strip("\"'") for _, model in models for rel in model.relationships}
        return fix_with(EagerLoad, relpath, findings, ws, loading=loading)

"""Alembic in place of tables created at start-up (PR110).

The app keeps working where it runs today: it still creates its tables on SQLite, in
development and in tests (decided when it starts, from the engine's URL and the app's own
environment setting); other databases get their schema from `alembic upgrade head`, and the
summary says what to run before production.
"""

from __future__ import annotations

import ast
import re

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor

from auditor.index.extract import module_name_for
from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, dotted_name, locate, run_codemod
from fixers.cst_dispatch import QuickVisitor
from fixers.pipeline.workspace import Skip, Workspace
from fixers.rewrite import code_of, tail
from fixers.settings import DEVELOPMENT_VALUES, read_setting
from fixers.templates import render


ENVIRONMENT_VAR = re.compile(r"^(\w+_)?(ENV|ENVIRONMENT|STAGE)$|^FLASK_ENV$", re.I)


def _bind_of(call: cst.Call) -> cst.BaseExpression | None:
    """The engine (or connection) a `create_all` call runs on: `bind=engine`, its first argument,
    or `db.engine` for Flask-SQLAlchemy's `db.create_all()`."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "bind":
            return arg.value
    positional = [a for a in call.args if a.keyword is None and not a.star]
    if positional:
        return positional[0].value
    owner = call.func.value if isinstance(call.func, cst.Attribute) else None
    if owner is not None and not code_of(owner).endswith("metadata"):
        return cst.Attribute(owner, cst.Name("engine"))  # flask_sqlalchemy: db.create_all()
    return None


class KeepForDevelopment(FixCommand):
    """Keep the schema set-up statement for SQLite, development and tests (decided when the app
    starts); other databases get their schema from `alembic upgrade head`."""

    def __init__(self, context, targets=(), environment: str | None = None, imports=()) -> None:
        super().__init__(context, targets)
        self.environment = environment  # how this module reads the app's environment name
        self.imports = imports

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node):
        targets = [t for t in self.targets if t.finding not in self.outcomes and self.span(original_node).start.line == t.line]
        if not targets:
            return updated_node
        environment = f"{self.environment} in {DEVELOPMENT_VALUES!r}".replace("'", '"') if self.environment else None
        calls = _calls_in(original_node)
        if any(tail(dotted_name(n.func) or "") == "executescript" for n in calls):
            # sqlite3 is SQLite by construction: keep creating missing tables (CREATE TABLE IF NOT
            # EXISTS); changes to existing tables go through migrations from now on.
            self.fixed(targets)
            return updated_node.with_changes(leading_lines=[
                *updated_node.leading_lines,
                cst.EmptyLine(comment=cst.Comment("# Creates missing tables (SQLite); changes to existing tables go through migrations:")),
                cst.EmptyLine(comment=cst.Comment("# write one in migrations/versions/ and run `alembic upgrade head` before the app starts.")),
            ])
        calls = [n for n in calls if tail(dotted_name(n.func) or "") == "create_all"]
        bind = _bind_of(calls[0]) if calls else None
        sqlite = f'{code_of(bind)}.url.get_backend_name() == "sqlite"' if isinstance(bind, (cst.Name, cst.Attribute)) else None
        if sqlite and environment:
            test, where = f"{sqlite} or {environment}", "on SQLite, in development and in tests"
        elif environment:
            test, where = environment, "in development and in tests"
        elif sqlite:
            test, where = sqlite, "on SQLite"
        else:
            self.skipped(targets, "the app's environment setting could not be read here; guard the schema set-up by hand")
            return updated_node
        why = f"# Tables are created here only {where}; other databases"
        for module, name in self.imports:
            AddImportsVisitor.add_needed_import(self.context, module, name)
        guarded = cst.If(
            test=cst.parse_expression(test),
            body=cst.IndentedBlock([updated_node.with_changes(leading_lines=[])]),
            leading_lines=[
                *updated_node.leading_lines,
                cst.EmptyLine(comment=cst.Comment(why)),
                cst.EmptyLine(comment=cst.Comment("# get their schema from migrations: run `alembic upgrade head` before the app starts.")),
            ],
        )
        self.fixed(targets)
        return cst.FlattenSentinel([guarded])


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Find(QuickVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

    node.visit(Find())
    return found


def _environment_setting(index) -> tuple[str, str]:
    """The variable that names the app's environment (APP_ENV, ENVIRONMENT, FLASK_ENV...) and its
    default, as the app itself reads it; APP_ENV / development when it reads none."""
    for relpath, facts in sorted(index.modules.items()):
        if relpath.startswith("tests/"):
            continue
        for read in facts.env_reads:
            if read.name and ENVIRONMENT_VAR.match(read.name) and read.name != "VIRTUAL_ENV":
                try:
                    default = ast.literal_eval(read.default) if read.default else None
                except (ValueError, SyntaxError):
                    default = None
                return read.name, default if isinstance(default, str) else "development"
    return "APP_ENV", "development"


class MigrationsFixer(Fixer):
    """Alembic scaffolding wired to the app's engine and metadata; create_all kept for development."""

    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        return self.guarded(findings, ws, lambda: self.scaffold(findings, ws))

    def scaffold(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        index = ws.index
        if index is None:
            raise Skip("no project index")
        if ws.exists("alembic.ini") or ws.exists("migrations/env.py"):
            raise Skip("alembic.ini or migrations/ exists already; run `alembic revision --autogenerate` there")
        site = self._site(index, findings[0])
        context = self._context(ws, index, site)
        ws.write("alembic.ini", render("alembic/alembic.ini.j2"))
        ws.write("migrations/env.py", render("alembic/env.py.j2", **context))
        ws.write("migrations/script.py.mako", render("alembic/script.py.mako.j2", sqlmodel="sqlmodel" in index.imported_packages))
        ws.write("migrations/README", render("alembic/README.j2", **context))
        if context["schema_file"]:
            ws.write("migrations/versions/0001_initial_schema.py", render("alembic/initial_sql.py.j2", **context))
        else:
            ws.write("migrations/versions/.gitkeep", "")
        ws.require("alembic>=1.13", by=self.name)
        env_var, env_default = _environment_setting(index)
        ws.note(_before_production(context, env_var), findings)
        outcomes: Outcomes = {}
        for relpath in sorted({f.path for f in findings}):
            group = [f for f in findings if f.path == relpath]
            try:  # the app's own way: its settings object, else its one module reading the environment
                read = read_setting(ws, relpath, env_var, env_default, str)
                environment, imports = read.expression, read.imports
            except Skip:
                environment, imports = None, ()
            command = run_codemod(ws, relpath, KeepForDevelopment, locate(ws, group), environment=environment, imports=imports)
            outcomes.update({f: command.outcomes.get(f, "the schema set-up call was not found") for f in group})
        return outcomes

    @staticmethod
    def _site(index, finding: Finding):
        for site in index.modules[finding.path].schema_setup if finding.path in index.modules else []:
            if site.span.line == finding.line:
                return site
        raise Skip("the create_all()/executescript() call was not found")

    def _context(self, ws: Workspace, index, site) -> dict:
        if site.func.endswith("executescript"):
            schema = next((t.path for t in index.sql_tables), None)
            if schema is None:
                raise Skip("no SQL schema file found for the first migration")
            statements = _schema_statements(ws.read(schema) or "", schema)
            if not statements:
                raise Skip(f"no CREATE statement found in {schema} for the first migration")
            return {"schema_file": schema, "statements": statements, "metadata_import": None, "metadata": "None", "models": [], "engine_import": None}
        receiver = site.func.rpartition(".create_all")[0]  # app.database.Base.metadata / db / metadata
        parts = receiver.split(".")
        module = next((".".join(parts[:cut]) for cut in range(len(parts) - 1, 0, -1) if ".".join(parts[:cut]) in index.by_module), None)
        facts = index.modules[site_relpath(index, site)]
        if module is None and receiver.endswith(".metadata") and len(parts) >= 3 and parts[0] in facts.top_imports:
            module, owner = ".".join(parts[:-2]), ".".join(parts[-2:])  # sqlmodel.SQLModel.metadata
        elif module is None:
            module = facts.module
            owner = receiver
        else:
            owner = receiver[len(module) + 1 :]
        name = owner.split(".")[0]
        metadata = owner if owner.endswith("metadata") else f"{owner}.metadata"
        models = sorted({module_name_for(relpath) for relpath, _ in index.models if not relpath.startswith("tests/")})
        engine_import = self._engine(ws, index)
        return {
            "schema_file": None,
            "metadata_import": f"from {module} import {name}",
            "metadata": metadata,
            "models": models,
            "engine_import": engine_import,
        }

    @staticmethod
    def _engine(ws: Workspace, index) -> str | None:
        """`from app.database import engine` when the app creates one engine at module level."""
        for relpath, site in index.connections:
            if site.function is None and site.func.endswith("create_engine"):
                text = ws.read(relpath) or ""
                try:
                    tree = ast.parse(text)
                except SyntaxError:
                    continue
                for statement in tree.body:
                    if (
                        isinstance(statement, ast.Assign)
                        and isinstance(statement.value, ast.Call)
                        and (getattr(statement.value.func, "id", None) or getattr(statement.value.func, "attr", None)) == "create_engine"
                        and isinstance(statement.targets[0], ast.Name)
                    ):
                        name = statement.targets[0].id
                        return f"from {module_name_for(relpath)} import {name}" + ("" if name == "engine" else " as engine")
        return None


def _before_production(context: dict, env_var: str) -> str:
    """The commands the summary lists under "to do by hand" once migrations are set up."""
    if context["schema_file"]:
        return (
            f"migrations: Alembic is set up with a first migration made from {context['schema_file']}. On a database "
            "the app already created, run `alembic stamp head` once; from then on write each change to existing "
            "tables as a migration and run `alembic upgrade head` before every start (see migrations/README). "
            "Alembic reads the database from DATABASE_URL: set it when you run these."
        )
    where = f"outside SQLite, development and tests ({env_var})" if not context["schema_file"] else f"outside development and tests ({env_var})"
    if context["schema_file"]:
        first = "on a database the app already created, run `alembic stamp head` once; on a new one, `alembic upgrade head`"
    else:
        first = (
            'write the first migration from your models with `alembic revision --autogenerate -m "initial"` '
            "(against an empty database), then run `alembic stamp head` on a database the app already created"
        )
    url = "" if context.get("engine_import") else " Alembic reads the database from DATABASE_URL: set it when you run these."
    return (
        f"migrations: the app no longer creates its tables {where}. Before the next production deploy, "
        f"{first}; from then on run `alembic upgrade head` before every start (see migrations/README).{url}"
    )


def _schema_statements(text: str, relpath: str) -> list[str]:
    """The SQL statements of a schema: a .sql file, or the SQL strings of a Python module
    (`SCHEMA = \"\"\"CREATE TABLE ...\"\"\"`), never its Python code."""
    if relpath.endswith(".py"):
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return []
        text = ";\n".join(
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"\bCREATE\s+(TABLE|INDEX|UNIQUE)", node.value, re.I)
        )
    return [s.strip() for s in re.sub(r"--[^\n]*", "", text).split(";") if s.strip()]


def site_relpath(index, site) -> str:
    for relpath, facts in index.modules.items():
        if site in facts.schema_setup:
            return relpath
    raise Skip("the schema set-up call was not found")

"""One settings object instead of environment reads scattered over the app (PR401, PR402, PR410).

A `Settings` class (pydantic-settings) is generated next to the app from the reads found in
the app's modules: the variable names, their types (`int(os.getenv(...))` gives `int`), their
defaults, and which are required (`os.environ[...]`). Every read is then replaced by
`get_settings().<name>`. Defaults that only make sense on a developer's machine (local
addresses, database paths, secrets) become development-only: outside development the app
refuses to start without the variable, so the app and its tests keep working on a fresh
checkout. Database URLs with a password leave the code altogether (they go to `.env.example`).

The secrets fixer and the staging fixers share the settings module through `ensure_settings`.
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath

import libcst as cst
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from auditor.index.extract import module_name_for
from auditor.models import Finding
from auditor.rules.hardening import secret_name
from auditor.rules.webapp import is_test_or_script
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, dotted_name, parse_module
from fixers.rewrite import code_of, transform
from fixers.templates import render
from fixers.pipeline.workspace import Skip, Workspace

MARKER = "def dev_default("
SETTINGS_REQUIREMENT = "pydantic-settings>=2"
ENV_CALLS = {"os.getenv", "os.environ.get"}
CASTS = {"int": int, "float": float}
TYPED = {**CASTS, "bool": bool}  # what env_typed(...) reads (it parses "0"/"false" as False, unlike bool())
DB_NAME = re.compile(r"DATABASE|^DB_|_DB$|DSN|SQLALCHEMY", re.I)
CREDENTIALS = re.compile(r"://[^/@\s]*:[^/@\s]*@")  # a URL with user:password@
LOCAL = re.compile(r"\b(localhost|127\.0\.0\.1|0\.0\.0\.0)\b")
# APP_ENV values that mean "a developer's machine or a test run": development-only defaults apply.
DEVELOPMENT_VALUES = ("development", "dev", "local", "test", "testing")
RESERVED = {"app_env", "model_config", "model_fields", "is_development", "settings", "dict", "json", "copy"}


# -- the settings module --------------------------------------------------------------------------


@dataclass
class SettingField:
    name: str  # the field (the variable's name in lower case)
    annotation: str
    default: str | None  # Python source of the default; None: the variable is required
    dev_only: bool = False  # the default applies in development only
    random_secret: bool = False  # development gets a fresh random value

    @property
    def variable(self) -> str:
        return self.name.upper()

    def source(self) -> str:
        if self.random_secret:
            return f"{self.name}: {self.annotation} = dev_default(random_secret=True)"
        if self.dev_only:
            return f"{self.name}: {self.annotation} = dev_default({self.default})"
        if self.default is None:
            return f"{self.name}: {self.annotation}"
        return f"{self.name}: {self.annotation} = {self.default}"

    def strictness(self) -> int:
        return 2 if self.random_secret else 1 if self.dev_only or self.default is None else 0


def field_name(variable: str | None) -> str | None:
    """The settings field for an environment variable, None when it cannot be one."""
    if not variable:
        return None
    name = variable.lower()
    if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or name in RESERVED - {"app_env"}:
        return None
    return name


def project_settings_class(ws: Workspace) -> tuple[str, str] | None:
    """A settings class the project wrote itself (not ours): (relpath, class name)."""
    index = ws.index
    for relpath, facts in sorted(index.modules.items()) if index is not None else []:
        if is_test_or_script(relpath):
            continue
        for name, bases in facts.classes.items():
            if any(b.endswith("BaseSettings") for b in bases) and MARKER not in (ws.read(relpath) or ""):
                return relpath, name
    return None


def app_folder(ws: Workspace) -> str:
    """Where new app modules go: the folder of the module that creates the app."""
    index = ws.index
    apps = sorted(
        (relpath, decl.span.line)
        for relpath, decl in (index.routers.values() if index is not None else [])
        if decl.kind.endswith("-app") and not is_test_or_script(relpath)
    )
    if apps:
        folder = str(PurePosixPath(apps[0][0]).parent)
        return "" if folder == "." else folder
    modules = sorted(r for r in (index.modules if index is not None else {}) if not is_test_or_script(r))
    if modules:
        folder = str(PurePosixPath(modules[0]).parent)
        return "" if folder == "." else folder
    return ""


def settings_path(ws: Workspace) -> str:
    """Our settings module: the one generated earlier, else `settings.py` next to the app."""
    candidates = sorted(ws.index.modules) if ws.index is not None else []
    candidates += sorted(r for r, s in ws.files.items() if s.original is None and r.endswith(".py"))
    for relpath in candidates:
        if MARKER in (ws.read(relpath) or "") and "class Settings(BaseSettings)" in (ws.read(relpath) or ""):
            return relpath
    folder = app_folder(ws)
    for name in ("settings.py", "app_settings.py", "env_settings.py"):
        relpath = f"{folder}/{name}" if folder else name
        if not ws.exists(relpath):
            return relpath
    raise Skip("settings.py, app_settings.py and env_settings.py all exist; create the settings module by hand")


def existing_fields(text: str) -> dict[str, str]:
    """Field name -> source line of the fields of our Settings class."""
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            return {
                stmt.target.id: ast.get_source_segment(text, stmt) or ""
                for stmt in node.body
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
            }
    return {}


def ensure_settings(ws: Workspace, fields: list[SettingField], by: str) -> str:
    """Create our settings module, or add the missing fields to it; returns its module name.
    A field that exists with another type or default raises Skip."""
    if project_settings_class(ws) is not None:
        relpath, name = project_settings_class(ws)
        raise Skip(f"the project has its own settings class ({name} in {relpath}); add these variables to it")
    relpath = settings_path(ws)
    ws.require(SETTINGS_REQUIREMENT, by)
    text = ws.read(relpath)
    unique: dict[str, SettingField] = {}
    for f in fields:
        unique[f.name] = f if f.name not in unique or f.strictness() > unique[f.name].strictness() else unique[f.name]
    if text is None:
        ws.write(relpath, render("settings/settings.py.j2", fields=[f.source() for f in unique.values() if f.name != "app_env"]))
        return module_name_for(relpath)
    present = existing_fields(text)
    lines = text.splitlines(keepends=True)
    added: list[str] = []
    for f in unique.values():
        if f.name not in present:
            added.append(f"    {f.source()}\n")
        elif present[f.name] != f.source():
            current = present[f.name]
            stricter = f.strictness() > 0 and f.annotation in current and "dev_default" not in current
            if not stricter:
                raise Skip(f"{f.variable} is already a setting declared differently ({current.strip()})")
            lines = [f"    {f.source()}\n" if line.strip() == current.strip() else line for line in lines]
    if added:
        anchor = max(i for i, line in enumerate(lines) if re.match(r"    \w+: ", line))
        lines[anchor + 1 : anchor + 1] = added
    ws.write(relpath, "".join(lines))
    return module_name_for(relpath)


def settings_access(name: str) -> cst.BaseExpression:
    return cst.parse_expression(f"get_settings().{name}")


def import_settings(context, module: str) -> None:
    AddImportsVisitor.add_needed_import(context, module, "get_settings")


# -- environment reads ----------------------------------------------------------------------------


@dataclass
class EnvRead:
    relpath: str
    variable: str | None
    form: str  # getenv | environ[]
    default: object  # the literal default; NO_DEFAULT; NOT_LITERAL
    cast: str | None
    line: int
    field: SettingField | None = None
    problem: str | None = None


NO_DEFAULT = object()
NOT_LITERAL = object()


def py_literal(value: object) -> str:
    """Source of a literal default, strings in double quotes."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def literal(node: cst.BaseExpression | None):
    if node is None:
        return NO_DEFAULT
    try:
        value = ast.literal_eval(code_of(node))
    except (ValueError, SyntaxError):
        return NOT_LITERAL
    return value if isinstance(value, (str, int, float, bool)) or value is None else NOT_LITERAL


def field_for(read: EnvRead) -> SettingField | str:
    """The settings field a read asks for, or why it cannot have one."""
    name = field_name(read.variable)
    if name is None:
        return "the variable name is computed or is not a valid setting name"
    annotation = read.cast or "str"
    default = read.default
    if default is NOT_LITERAL:
        return f"{read.variable} falls back to a computed value; move it into the settings by hand"
    if read.form == "environ[]" or (default is NO_DEFAULT and read.cast):
        return SettingField(name, annotation, None)
    if default is NO_DEFAULT or default is None:
        return SettingField(name, f"{annotation} | None", "None")
    if read.cast:
        try:
            value = TYPED[read.cast](default)
        except (TypeError, ValueError):
            return f"{read.variable}'s default {default!r} is not a valid {read.cast}"
        return SettingField(name, annotation, py_literal(value))
    text = str(default)
    if secret_name(read.variable) and text:
        return SettingField(name, "str", None, dev_only=True, random_secret=True)
    if DB_NAME.search(read.variable) or LOCAL.search(text):
        if CREDENTIALS.search(text) and DB_NAME.search(read.variable):
            return SettingField(name, "str", None)  # a password stays out of the code: .env
        return SettingField(name, "str", py_literal(text), dev_only=True)
    return SettingField(name, "str", py_literal(text))


def typed_read(node: cst.BaseExpression) -> str | None:
    """The type of `env_typed("NAME", default, int)` (the helper of an environment module, see
    read_setting), None for any other expression."""
    if not (isinstance(node, cst.Call) and (dotted_name(node.func) or "").rpartition(".")[2] == "env_typed" and len(node.args) == 3):
        return None
    cast = dotted_name(node.args[2].value)
    return cast if cast in TYPED else None


def _aliases(module: cst.Module) -> dict[str, str]:
    """Local name -> qualified name for `import os`, `from os import getenv, environ`."""
    names: dict[str, str] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    names[alias.evaluated_alias or alias.evaluated_name] = alias.evaluated_name
            elif isinstance(small, cst.ImportFrom) and small.module is not None and not isinstance(small.names, cst.ImportStar):
                base = dotted_name(small.module) or ""
                for alias in small.names:
                    names[alias.evaluated_alias or alias.evaluated_name] = f"{base}.{alias.evaluated_name}"
    return names


class EnvReadCodemod(FixCommand):
    """Collects environment reads (`plan` None) or replaces them with settings fields."""

    def __init__(self, context, targets=(), relpath: str = "", plan: dict | None = None, module: str = "") -> None:
        super().__init__(context, targets)
        self.relpath = relpath
        self.plan = plan  # variable -> SettingField to replace with; None: only collect
        self.settings_module = module
        self.reads: list[EnvRead] = []
        self.replaced = 0
        self.stores: set[int] = set()
        self.casted: set[int] = set()

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.alias = _aliases(node)
        names = {"os", "env_typed"} | {n for n, q in self.alias.items() if q == "os" or q.startswith("os.")}
        self._may_read = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b")

    def walks(self, statement: cst.CSTNode) -> bool:
        """Only statements that mention os, one of its names or env_typed can read the environment."""
        return bool(self._may_read.search(code_of(statement)))

    def _qualified(self, node: cst.BaseExpression) -> str:
        name = dotted_name(node) or ""
        head, _, rest = name.partition(".")
        target = self.alias.get(head)
        return (f"{target}.{rest}" if rest else target) if target else name

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.stores.add(id(node.target))

    def visit_Del(self, node: cst.Del) -> None:
        self.stores.add(id(node.target))

    def _read(self, node: cst.BaseExpression) -> tuple[str | None, str, object] | None:
        """(variable, form, default) when node reads the environment."""
        if typed_read(node) is not None:
            variable = literal(node.args[0].value)
            return (variable if isinstance(variable, str) else None), "getenv", literal(node.args[1].value)
        if isinstance(node, cst.Call) and self._qualified(node.func) in ENV_CALLS:
            if not node.args or any(a.star for a in node.args):
                return None
            variable = literal(node.args[0].value)
            default = node.args[1].value if len(node.args) > 1 else next((a.value for a in node.args if a.keyword and a.keyword.value == "default"), None)
            return (variable if isinstance(variable, str) else None), "getenv", literal(default)
        if isinstance(node, cst.Subscript) and id(node) not in self.stores and self._qualified(node.value) == "os.environ":
            if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
                variable = literal(node.slice[0].slice.value)
                return (variable if isinstance(variable, str) else None), "environ[]", NO_DEFAULT
        return None

    def _handle(self, original: cst.BaseExpression, updated: cst.BaseExpression, cast: str | None) -> cst.BaseExpression:
        found = self._read(original)
        if found is None:
            return updated
        variable, form, default = found
        line = self.span(original).start.line
        if self.plan is None:
            self.reads.append(EnvRead(self.relpath, variable, form, default, cast, line))
            return updated
        setting = self.plan.get((self.relpath, line, variable))
        if setting is None:
            return updated
        self.replaced += 1
        import_settings(self.context, self.settings_module)
        RemoveImportsVisitor.remove_unused_import(self.context, "os")
        return settings_access(setting.name)

    def visit_Call(self, node: cst.Call) -> None:
        if self._cast_of(node):
            self.casted.add(id(node.args[0].value))

    def _cast_of(self, node: cst.Call) -> str | None:
        """`int(<env read>)`: the read is typed by the cast and replaced together with it."""
        name = dotted_name(node.func)
        if name in CASTS and len(node.args) == 1 and node.args[0].keyword is None and not node.args[0].star:
            if self._read(node.args[0].value) is not None:
                return name
        return None

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if id(original_node) in self.casted:
            return updated_node
        if typed_read(original_node) is not None:
            return self._handle(original_node, updated_node, typed_read(original_node))
        cast = self._cast_of(original_node)
        if cast:
            return self._handle(original_node.args[0].value, updated_node, cast)
        return self._handle(original_node, updated_node, None)

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.BaseExpression:
        if id(original_node) in self.casted:
            return updated_node
        return self._handle(original_node, updated_node, None)


def app_python_files(ws: Workspace) -> list[str]:
    """The app's own modules: as scanned, and those earlier fixes of this plan created."""
    index = ws.index
    scanned = set(index.modules if index is not None else {})
    created = {r for r, state in ws.files.items() if state.original is None and state.text is not None and r.endswith(".py")}
    return sorted(r for r in scanned | created if not is_test_or_script(r))


def collect_reads(ws: Workspace, relpaths: list[str]) -> list[EnvRead]:
    reads: list[EnvRead] = []
    for relpath in relpaths:
        text = ws.read(relpath)
        if text is None or ("environ" not in text and "getenv" not in text and "env_typed" not in text):
            continue
        command = transform(ws, relpath, EnvReadCodemod, [], relpath=relpath)
        reads.extend(command.reads)
    return reads


def plan_fields(reads: list[EnvRead]) -> None:
    """Give each read its field; one field per variable (the most common default wins)."""
    by_variable: dict[str, list[EnvRead]] = {}
    for read in reads:
        result = field_for(read)
        if isinstance(result, str):
            read.problem = result
        else:
            read.field = result
            by_variable.setdefault(result.name, []).append(read)
    for name, group in by_variable.items():
        annotations = {r.field.annotation.replace(" | None", "") for r in group}
        if len(annotations) > 1:
            for read in group:
                read.field, read.problem = None, f"{read.variable} is read as {' and as '.join(sorted(annotations))}; give it one type by hand"
            continue
        chosen = Counter(r.field.source() for r in group).most_common(1)[0][0]
        strictest = max((r.field for r in group), key=lambda f: (f.strictness(), f.source() == chosen))
        if strictest.strictness() == 0:
            strictest = next(r.field for r in group if r.field.source() == chosen)
        for read in group:
            read.field = strictest


def in_typed_helper(ws: Workspace, read: EnvRead) -> bool:
    """The read inside `def env_typed` itself (it goes when the reads using it move)."""
    text = ws.read(read.relpath) or ""
    if "def env_typed(" not in text:
        return False
    tree = ast.parse(text)
    return any(
        isinstance(n, ast.FunctionDef) and n.name == "env_typed" and n.lineno <= read.line <= (n.end_lineno or n.lineno) for n in tree.body
    )


def drop_unused_typed_helper(ws: Workspace, relpath: str) -> None:
    """Remove `def env_typed` (and then `import os`) once no read in the module uses it."""
    text = ws.read(relpath) or ""
    if "def env_typed(" not in text or text.count("env_typed(") > 1:
        return
    tree = ast.parse(text)
    helper = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "env_typed")
    lines = text.splitlines(keepends=True)
    end = helper.end_lineno
    while end < len(lines) and not lines[end].strip():
        end += 1
    start = helper.lineno - 1
    while start > 0 and not lines[start - 1].strip():
        start -= 1
    following = lines[end] if end < len(lines) else ""
    del lines[start:end]
    if start and following:
        lines.insert(start, "\n\n" if following.startswith(("def ", "class ", "@", "async def ")) else "\n")
    text = "".join(lines)
    if not re.search(r"\bos\.", text):
        text = re.sub(r"^import os\n", "", text, count=1, flags=re.M).lstrip("\n")
    ws.write(relpath, text)


class SettingsFixer(Fixer):
    """Generates the settings class and replaces every environment read of the app with it."""

    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        return self.guarded(findings, ws, lambda: self.move_reads(findings, ws))

    def move_reads(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        reads = [r for r in collect_reads(ws, app_python_files(ws)) if not in_typed_helper(ws, r)]
        plan_fields(reads)
        usable = [r for r in reads if r.field is not None]
        if not usable:
            raise Skip("no environment read could become a setting")
        module = ensure_settings(ws, [r.field for r in usable], self.name)
        settings_file = settings_path(ws)
        plan = {(r.relpath, r.line, r.variable): r.field for r in usable}

        for relpath in sorted({r.relpath for r in usable}):
            if relpath != settings_file:
                transform(ws, relpath, EnvReadCodemod, [], relpath=relpath, plan=plan, module=module)
                drop_unused_typed_helper(ws, relpath)
        left = {r.relpath: r.problem for r in reads if r.field is None}
        outcomes: Outcomes = {}
        for finding in findings:
            problem = left.get(finding.path)
            if finding.rule == "PR410" and finding.path in left:
                problem = next((r.problem for r in reads if r.relpath == finding.path and r.line == finding.line and r.problem), None)
            outcomes[finding] = problem
        return outcomes


# -- reading one setting the project's way (for code that fixes generate) -------------------------

ENV_MODULE_NAMES = ("config", "settings", "conf", "env", "environment", "app_config")
SETTINGS_FACTORY = re.compile(r"^(get_)?(settings|config|app_settings|app_config)$")


@dataclass(frozen=True)
class SettingRead:
    """How generated code reads one setting: the expression to write, the imports it needs
    ((module, name): `from module import name`; (module, None): `import module`), and the
    environment variable that sets it (for `.env.example`)."""

    expression: str
    imports: tuple[tuple[str, str | None], ...]
    variable: str
    default: object = None
    kind: str = "environment"  # "settings": through the project's settings object


def read_setting(
    ws: Workspace,
    relpath: str,
    name: str,
    default: object,
    type_: type = str,
    aliases: tuple[str, ...] = (),
    imported_by: tuple[str, ...] = (),
) -> SettingRead:
    """Read a setting the project's way, in code that module `relpath` will contain.

    `name` is the setting's name ("LOG_LEVEL" or "log_level"), `default` a Python literal
    (str, int, float, bool or None) and `type_` one of str, int, float, bool.

    - The project has a pydantic(-settings) `BaseSettings` class with a module-level instance
      (`settings = Settings()`) or a factory (`def get_settings() -> Settings`): the setting is
      read through that object (`settings.log_level`), and a missing field is added to the class
      with its type and default (in the workspace, so in the same plan as the fix).
    - Otherwise it is read from the environment in the form prodready's staging rules accept
      (PR401: one module reads the environment, no value parsed by hand): a module-level
      constant in the module that already reads the environment (`app/config.py`), created
      next to the app when there is none; a typed value goes through a checked helper that
      names the variable when its value is malformed.

    `aliases` are other field names the project may use for the same setting (`environment` for
    APP_ENV): an existing field of one of those names is read instead of adding a new one.
    `imported_by` names the modules that will import a module the fix creates (the app module
    that wires it in): a settings or config module importing one of those would be a cycle.

    The variable is also merged into the project's `.env.example` (created when the project read
    no settings before). Raises Skip, with the reason in plain words, when neither way is safe
    (a field of that name with another type, a settings module that imports `relpath`...)."""
    if type_ not in (str, int, float, bool):
        raise ValueError(f"unsupported setting type {type_!r}")
    if default is not None and not isinstance(default, type_):
        raise ValueError(f"default {default!r} is not a {type_.__name__}")
    field = name.lower()
    source = project_settings(ws)
    if source is not None:
        result = _through_settings(ws, relpath, source, field, default, type_, aliases, imported_by)
    else:
        result = _through_environment(ws, relpath, name.upper(), default, type_, imported_by)
    from fixers.env_files import declare

    declare(ws, result.variable, default)
    return result


@dataclass(frozen=True)
class SettingsSource:
    relpath: str  # the module defining the class
    class_name: str
    accessor_module: str  # where the instance or factory lives (module name)
    accessor: str  # `settings` or `get_settings`
    call: bool  # accessor is a factory: `get_settings().x`
    accessor_relpath: str


def _workspace_modules(ws: Workspace) -> list[str]:
    """The app's own Python modules as they are now (scanned, and created earlier in this plan)."""
    index = ws.index
    scanned = set(index.modules if index is not None else {})
    created = {r for r, s in ws.files.items() if s.original is None and s.text is not None and r.endswith(".py")}
    return sorted(r for r in scanned | created if not is_test_or_script(r))


def _parse(ws: Workspace, relpath: str) -> ast.Module | None:
    return ws.tree(relpath) if ws.exists(relpath) else ast.Module(body=[], type_ignores=[])


def _base_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def project_settings(ws: Workspace) -> SettingsSource | None:
    """The project's pydantic settings class and how the app reaches it (ours counts too once it
    exists: generated by an earlier fix)."""
    trees = {r: t for r in _workspace_modules(ws) if (t := _parse(ws, r)) is not None}
    for relpath, tree in trees.items():
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and any(_base_name(b).endswith("BaseSettings") for b in node.bases):
                found = _accessor(trees, relpath, node.name)
                if found is not None:
                    return SettingsSource(relpath, node.name, module_name_for(found[0]), found[1], found[2], found[0])
    return None


def _accessor(trees: dict[str, ast.Module], relpath: str, cls: str) -> tuple[str, str, bool] | None:
    """(relpath, name, is a factory) of `x = Cls()` or `def get_settings(): return Cls()`: in the
    class's module first, then in modules that import the class."""
    module = module_name_for(relpath)
    order = [relpath] + [r for r in trees if r != relpath]
    for where in order:
        local = cls if where == relpath else _imported_as(trees[where], module, cls)
        if local is None:
            continue
        instance = factory = None
        for node in trees[where].body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                if _makes(node.value, local):
                    instance = instance or node.targets[0].id
            elif isinstance(node, ast.FunctionDef) and not node.args.args and SETTINGS_FACTORY.match(node.name):
                returns = [n.value for n in ast.walk(node) if isinstance(n, ast.Return) and n.value is not None]
                annotated = node.returns is not None and _base_name(node.returns) == local
                if annotated or any(_makes(v, local) for v in returns):
                    factory = factory or node.name
        if instance:
            return where, instance, False
        if factory:
            return where, factory, True
    return None


def _makes(node: ast.expr | None, cls: str) -> bool:
    return isinstance(node, ast.Call) and _base_name(node.func) == cls


def _imported_as(tree: ast.Module, module: str, name: str) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == module and not node.level:
            for alias in node.names:
                if alias.name == name:
                    return alias.asname or name
    return None


def _imports_of(tree: ast.Module) -> set[str]:
    """Modules a module imports at its top level (`from a.b import c` gives a.b and a.b.c)."""
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def would_import_cycle(ws: Workspace, provider: str, reader: str) -> bool:
    """Does importing `provider` (relpath) import `reader` (relpath), directly or through the
    project's modules? Then reading from it would be a circular import."""
    if provider == reader:
        return True
    target = module_name_for(reader)
    by_module = {module_name_for(r): r for r in _workspace_modules(ws)}
    seen, todo = set(), [provider]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        tree = _parse(ws, current)
        for imported in _imports_of(tree) if tree is not None else ():
            if imported == target:
                return True
            if imported in by_module:
                todo.append(by_module[imported])
    return False


def _env_prefix(tree: ast.Module, cls: str) -> str:
    """The class's env_prefix (model_config = SettingsConfigDict(env_prefix=...) or class Config)."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for sub in ast.walk(node):
                if isinstance(sub, ast.keyword) and sub.arg == "env_prefix" and isinstance(sub.value, ast.Constant):
                    return str(sub.value.value)
                if isinstance(sub, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "env_prefix" for t in sub.targets):
                    if isinstance(sub.value, ast.Constant):
                        return str(sub.value.value)
                if isinstance(sub, ast.Dict):
                    for key, value in zip(sub.keys, sub.values):
                        if isinstance(key, ast.Constant) and key.value == "env_prefix" and isinstance(value, ast.Constant):
                            return str(value.value)
    return ""


def _annotation(type_: type, default: object, text: str) -> str:
    base = type_.__name__
    if default is not None:
        return base
    return f"Optional[{base}]" if "Optional[" in text else f"{base} | None"


def _through_settings(
    ws: Workspace, relpath: str, source: SettingsSource, field: str, default: object, type_: type, aliases: tuple[str, ...] = (), imported_by: tuple[str, ...] = ()
) -> SettingRead:
    if field in RESERVED - {"app_env"} or not field.isidentifier() or keyword.iskeyword(field):
        raise Skip(f"{field} cannot be a field of the project's {source.class_name} class")
    if relpath != source.accessor_relpath and any(would_import_cycle(ws, source.accessor_relpath, r) for r in (relpath, *imported_by)):
        raise Skip(f"{source.accessor_relpath} imports {relpath} (or a module that will): reading the settings there would be a circular import")
    text = ws.read(source.relpath) or ""
    tree = ast.parse(text)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == source.class_name)
    fields = {s.target.id: s for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
    field = next((a for a in (field, *aliases) if a in fields), field)
    if field in fields:
        declared = ast.get_source_segment(text, fields[field].annotation) or ""
        if not re.search(rf"\b{type_.__name__}\b", declared):
            raise Skip(f"the project's {source.class_name}.{field} is declared as {declared}, not {type_.__name__}: read it by hand")
    else:
        _add_field(ws, source.relpath, text, cls, field, default, type_)
    variable = (_env_prefix(tree, source.class_name) + field).upper()
    access = f"{source.accessor}()" if source.call else source.accessor
    imports = () if relpath == source.accessor_relpath else ((source.accessor_module, source.accessor),)
    return SettingRead(f"{access}.{field}", imports, variable, default, "settings")


def _add_field(ws: Workspace, relpath: str, text: str, cls: ast.ClassDef, field: str, default: object, type_: type) -> None:
    """`field: type = default` after the class's last field (after its docstring or config when it
    has no field), indented like the class body."""
    lines = text.splitlines(keepends=True)
    body = cls.body
    annotated = [s for s in body if isinstance(s, ast.AnnAssign)]
    if annotated:
        after = annotated[-1]
    else:
        leading = [s for s in body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str)]
        config = [s for s in body if isinstance(s, (ast.Assign, ast.ClassDef)) and (not isinstance(s, ast.Assign) or any(isinstance(t, ast.Name) and t.id == "model_config" for t in s.targets))]
        after = (config or leading or [None])[-1]
    indent = re.match(r"\s*", lines[body[0].lineno - 1]).group(0)
    annotation = _annotation(type_, default, text)
    line = f"{indent}{field}: {annotation} = {py_literal(default)}\n"
    if after is None:  # `class Settings(BaseSettings): pass` or `...`
        only = body[0]
        lines[only.lineno - 1 : only.end_lineno] = [line]
    else:
        lines.insert(after.end_lineno, "\n" + line if isinstance(after, ast.ClassDef) else line)
    new = "".join(lines)
    if annotation.startswith("Optional[") and not re.search(r"^from typing import .*\bOptional\b", new, re.M):
        new = add_import_lines(new, relpath, [("typing", "Optional")])
    ws.write(relpath, new)


def add_import_lines(text: str, relpath: str, imports: list[tuple[str, str | None]]) -> str:
    """`text` with the imports added where the module's own imports are, in its order."""
    from fixers.cst import add_imports_in_order

    return add_imports_in_order(cst.parse_module(text), relpath, imports).code


# -- the environment, when the project has no settings class --------------------------------------

ENV_HELPER = '''

def env_typed(name: str, default, cast):
    """A typed setting from the environment; a malformed value stops the app at start-up with
    the variable's name (int("") deep inside a request would not say which one)."""
    raw = os.getenv(name)
    if raw is None or not raw.strip():
        return default
    try:
        if cast is bool:
            return {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}[raw.strip().lower()]
        return cast(raw)
    except (KeyError, ValueError):
        raise RuntimeError(f"{name}={raw!r} is not a valid {cast.__name__}") from None
'''

ENV_MODULE = '''"""Settings read from the environment, in one place (`.env.example` lists them)."""

import os
'''


@lru_cache(maxsize=256)
def _reads_environment(tree: ast.Module) -> int:
    """How many environment reads a module makes (os.getenv, os.environ...)."""
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _dotted(node.func) in {"os.getenv", "os.environ.get", "getenv", "environ.get"}:
            count += 1
        elif isinstance(node, ast.Subscript) and _dotted(node.value) in {"os.environ", "environ"}:
            count += 1
    return count


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def env_module(ws: Workspace, reader: str, imported_by: tuple[str, ...] = ()) -> str | None:
    """The module where the project reads its environment (config-like names first, then the one
    with the most reads), None when no other module reads it (or only modules that import
    `reader`: reading from them would be a circular import)."""
    candidates = []
    for relpath in _workspace_modules(ws):
        tree = _parse(ws, relpath)
        if relpath == reader or tree is None or any(would_import_cycle(ws, relpath, r) for r in (reader, *imported_by)):
            continue
        count = _reads_environment(tree)
        if count:
            stem = PurePosixPath(relpath).stem
            candidates.append((stem not in ENV_MODULE_NAMES, -count, relpath))
    return min(candidates)[2] if candidates else None


def _module_constant(tree: ast.Module, name: str) -> ast.Assign | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node
    return None


def _env_expression(variable: str, default: object, type_: type) -> str:
    if type_ is str:
        return f'os.getenv("{variable}")' if default is None else f'os.getenv("{variable}", {py_literal(default)})'
    return f'env_typed("{variable}", {py_literal(default)}, {type_.__name__})'


def _add_constant(text: str, relpath: str, tree: ast.Module, variable: str, expression: str, helper: bool) -> str:
    """`VARIABLE = <read>` after the module's last module-level environment read (at its end when
    it has none), with `import os` and the typed-read helper when they are missing."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    reads = [
        n for n in tree.body
        if isinstance(n, ast.Assign) and (_reads_environment(ast.Module([n], [])) or "env_typed(" in (ast.get_source_segment(text, n) or ""))
    ]
    line = f"{variable} = {expression}\n"
    if reads:
        lines.insert(reads[-1].end_lineno, line)
    else:
        lines += ["\n", line]
    if helper and not any(isinstance(n, ast.FunctionDef) and n.name == "env_typed" for n in tree.body):
        imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        at = imports[-1].end_lineno if imports else 0
        lines.insert(at, ENV_HELPER.rstrip("\n") + "\n\n")
    text = "".join(lines)
    if not re.search(r"^import os$", text, re.M):
        text = add_import_lines(text, relpath, [("os", None)])
    return text


def _in_place(variable: str, default: object, type_: type) -> str | None:
    """A read written where it is used, None for a type that would need parsing (int(...) is
    "parsed by hand" for PR401)."""
    if type_ is str:
        return _env_expression(variable, default, type_)
    if type_ is bool:
        if default:
            return f'os.getenv("{variable}", "1").strip().lower() not in ("0", "false", "no", "off")'
        return f'os.getenv("{variable}", "").strip().lower() in ("1", "true", "yes", "on")'
    return None


def _through_environment(ws: Workspace, relpath: str, variable: str, default: object, type_: type, imported_by: tuple[str, ...] = ()) -> SettingRead:
    reader = _parse(ws, relpath) if ws.exists(relpath) else None
    target = env_module(ws, relpath, imported_by)
    expression = _in_place(variable, default, type_)
    if reader is not None and expression is not None and (_reads_environment(reader) or target is None):
        # The module reads the environment already, or is the only one to: one more read here
        # changes no rule's verdict. (A module a fix creates reads through the config module.)
        return SettingRead(expression, (("os", None),), variable, default)
    if target is None:
        folder = app_folder(ws)
        target = next(
            (p for n in ("config.py", "env_config.py", "app_config.py") if not ws.exists(p := f"{folder}/{n}" if folder else n)),
            None,
        )
        if target is None:
            raise Skip("config.py, env_config.py and app_config.py exist already; read the setting by hand")
        ws.write(target, ENV_MODULE)
    text = ws.read(target) or ""
    tree = ast.parse(text)
    existing = _module_constant(tree, variable)
    if existing is not None:
        if variable not in (ast.get_source_segment(text, existing.value) or ""):
            raise Skip(f"{target} already defines {variable} as something else; read the setting by hand")
    else:
        ws.write(target, _add_constant(text, target, tree, variable, _env_expression(variable, default, type_), helper=type_ is not str))
    return SettingRead(variable, ((module_name_for(target), variable),), variable, default)


def render_reading_settings(ws: Workspace, relpath: str, template: str, wanted: dict[str, tuple], **context) -> str:
    """Render a template for a new module `relpath` whose code reads settings: `wanted` maps a
    template variable to read_setting's arguments (name, default, type[, aliases]); the template gets `settings` (variable
    -> expression) and `variables` (variable -> environment variable), and the imports the
    reads need are added among the module's own, in its order."""
    from fixers.cst import add_imports_in_order, local_modules

    reads = {key: read_setting(ws, relpath, *spec) for key, spec in wanted.items()}
    text = render(template, settings={k: r.expression for k, r in reads.items()}, variables={k: r.variable for k, r in reads.items()}, **context)
    imports = list(dict.fromkeys(i for r in reads.values() for i in r.imports))
    if imports:
        text = add_imports_in_order(cst.parse_module(text), relpath, imports, local_modules(ws)).code
    return text


# -- codemods that write setting reads --------------------------------------------------------------

ENVIRONMENT_ALIASES = ("app_env", "environment", "env", "app_environment", "stage")


class ReadsSettings:
    """Mixin for a FixCommand whose rewrite reads settings: `self.setting(key)` gives the
    expression (and schedules its imports). Run through `fix_reading_settings`: a first pass
    only records which settings the rewrite needs, so the Settings class gets only those."""

    reads: dict[str, SettingRead] | None = None

    def setting(self, key: str) -> str:
        if self.reads is None:
            self.wanted.add(key)
            return "None"
        read = self.reads[key]
        for module, name in read.imports:
            AddImportsVisitor.add_needed_import(self.context, module, name)
        return read.expression


def fix_reading_settings(command_cls, relpath: str, findings, ws: Workspace, settings: dict[str, tuple], **kwargs) -> Outcomes:
    """fix_with for a ReadsSettings codemod: `settings` maps a key to read_setting's arguments
    (name, default, type[, aliases]). The settings are read (and added to the project's Settings
    class) before the module is rewritten, so a settings class in the module itself is kept."""
    from libcst.codemod import CodemodContext

    from fixers.cst import fix_with, locate

    source = ws.read(relpath)
    if source is None:
        raise Skip(f"{relpath} does not exist")
    probe = command_cls(CodemodContext(filename=relpath, full_module_name=module_name_for(relpath)), locate(ws, findings), **kwargs)
    probe.wanted = set()
    probe.reads = None
    probe.transform_module(parse_module(source))
    reads = {key: read_setting(ws, relpath, *settings[key]) for key in sorted(probe.wanted)}

    class Command(command_cls):
        def __init__(self, *args, **options) -> None:
            super().__init__(*args, **options)
            self.reads = reads

    Command.__name__ = command_cls.__name__
    return fix_with(Command, relpath, findings, ws, **kwargs)

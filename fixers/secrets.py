"""Secrets and debug switches: hard-coded secrets and literal fallbacks become settings read from
the environment that fail closed outside development (PR220, PR221); debug and reload flags
come from the environment, off unless asked for (PR222)."""

from __future__ import annotations

import re

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor

from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, dotted_name, locate
from fixers.rewrite import code_of, set_keyword, tail, transform
from fixers.settings import (
    DEVELOPMENT_VALUES,
    ReadsSettings,
    SettingField,
    ensure_settings,
    field_name,
    fix_reading_settings,
    import_settings,
    literal,
    project_settings_class,
    settings_access,
    settings_path,
)
from auditor.index.extract import module_name_for
from fixers.pipeline.workspace import Skip, Workspace

ENV_CALLS = {"os.getenv", "os.environ.get", "getenv", "environ.get"}
DSN = re.compile(r"^[a-z][\w+.-]*://[^:/@\s]+:[^@/\s]+@", re.I)
STRINGS = (cst.SimpleString, cst.ConcatenatedString)
ENVIRONMENT_FIELD = re.compile(r"^(app_|flask_)?(env|environment|stage)$")
DEV_ONLY_MARK = "required_outside_development"  # the marker our generated settings use too
VALIDATOR = "_required_outside_development"
VALIDATOR_SOURCE = '''
@model_validator(mode="after")
def {name}(self) -> "{cls}":
    """Fields with a development-only default must be set in every other environment."""
    if self.{env}.lower() in {development}:
        return self
    missing = [
        name.upper()
        for name, field in type(self).model_fields.items()
        if (field.json_schema_extra or {{}}).get("{mark}") and name not in self.model_fields_set
    ]
    if missing:
        raise ValueError(f"{ENV}={{self.{env}}} needs {{', '.join(missing)}} set: development defaults are not used there")
    return self
'''.lstrip("\n")


def variable_for(name: str) -> str:
    name = re.sub(r"\W", "_", name).strip("_")
    return name.upper()


def secret_field(variable: str, value: object) -> SettingField:
    name = field_name(variable)
    if name is None:
        raise Skip(f"{variable} cannot be a setting name")
    if isinstance(value, str) and DSN.match(value):
        return SettingField(name, "str", None)  # a database URL with its password: required everywhere
    return SettingField(name, "str", None, dev_only=True, random_secret=True)


def _string(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, STRINGS):
        value = literal(node)
        return value if isinstance(value, str) else None
    return None


class SecretToSetting(FixCommand):
    """Replaces the secret literal (or the env read with a literal fallback) on a finding's line."""

    DESCRIPTION = "Read secrets from the settings instead of the code."

    def __init__(self, context, targets=(), module: str = "", foreign: bool = False, pydantic_settings: bool = True) -> None:
        super().__init__(context, targets)
        self.pydantic_settings = pydantic_settings  # the project uses pydantic-settings already
        self.settings_module = module
        self.foreign = foreign  # the project has its own settings class: only its defaults are fixed
        self.fields: list[SettingField] = []
        self.class_stack: list[cst.ClassDef] = []
        self.dev_only: list[list[str]] = []  # per enclosing class: fields given a development-only default

    def _at(self, node: cst.CSTNode, rule: str) -> list:
        line = self.span(node).start.line
        return [t for t in self.targets if t.finding not in self.outcomes and t.finding.rule == rule and t.line == line]

    def _replace(self, targets, variable: str, value: object) -> cst.BaseExpression | None:
        if self.foreign:
            self.skipped(targets, "the project has its own settings class: add this secret to it and read it from there")
            return None
        try:
            setting = secret_field(variable, value)
        except Skip as exc:
            self.skipped(targets, str(exc))
            return None
        self.fields.append(setting)
        import_settings(self.context, self.settings_module)
        self.fixed(targets)
        return settings_access(setting.name)

    # -- PR220: literals ---------------------------------------------------------------------------

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        targets = self._at(original_node, "PR220")
        value = _string(original_node.value)
        if not targets or value is None or len(original_node.targets) != 1:
            return updated_node
        name = self._target_name(original_node.targets[0].target)
        if name is None:
            return updated_node
        new = self._replace(targets, variable_for(name), value)
        return updated_node.with_changes(value=new) if new is not None else updated_node

    @staticmethod
    def _target_name(target: cst.BaseExpression) -> str | None:
        if isinstance(target, cst.Name):
            return target.value
        if isinstance(target, cst.Attribute):
            return target.attr.value
        if isinstance(target, cst.Subscript) and len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
            key = _string(target.slice[0].slice.value)
            return key
        return None

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.class_stack.append(node)
        self.dev_only.append([])

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.class_stack.pop()
        if self.dev_only.pop():
            updated_node = self._required_outside_development(original_node, updated_node)
        return updated_node

    # -- PR221 in the project's own settings class -----------------------------------------------

    def _dev_only_default(self, node: cst.AnnAssign, targets) -> cst.AnnAssign:
        """`secret_key: str = "change-me"` -> a random default used in development only. The app
        and its tests keep starting on a fresh checkout; outside development the class's
        validator refuses to start until the variable is set. (Removing the default outright
        stops every test run and `alembic upgrade head` that has no secret in its environment.)"""
        annotation = code_of(node.annotation.annotation)
        if annotation == "str":
            value = "secrets.token_urlsafe(32)"
        elif annotation == "SecretStr":
            value = "SecretStr(secrets.token_urlsafe(32))"
        else:
            self.skipped(targets, f"the field is a {annotation}, not a str: give it a development-only default by hand")
            return node
        if self.environment_field(self.class_stack[-1]) is False:
            self.skipped(targets, "the settings' environment field defaults to something other than development: make the secret required there by hand")
            return node
        # Evaluated once, when the class is defined: one value for the whole process, so every
        # Settings() agrees on it.
        AddImportsVisitor.add_needed_import(self.context, "secrets")
        AddImportsVisitor.add_needed_import(self.context, "pydantic", "Field")
        self.dev_only[-1].append(node.target.value)
        self.fixed(targets)
        return node.with_changes(value=cst.parse_expression(f'Field({value}, json_schema_extra={{"{DEV_ONLY_MARK}": True}})'))

    @staticmethod
    def environment_field(node: cst.ClassDef) -> str | None | bool:
        """The class's field naming the environment: its name, None when there is none, False when
        its default is not a development value (its tests would then need every secret)."""
        for statement in node.body.body:
            for small in getattr(statement, "body", ()):
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name) and ENVIRONMENT_FIELD.match(small.target.value):
                    default = _string(small.value)
                    return small.target.value if default is not None and default.lower() in DEVELOPMENT_VALUES else False
        return None

    def _required_outside_development(self, original: cst.ClassDef, node: cst.ClassDef) -> cst.ClassDef:
        body = list(node.body.body)
        if VALIDATOR not in code_of(node):
            environment = self.environment_field(original)
            if environment is None:
                environment = "app_env"
                first = next((i for i, s in enumerate(body) if isinstance(s, cst.SimpleStatementLine) and isinstance(s.body[0], cst.AnnAssign)), 0)
                field = cst.parse_statement('app_env: str = "development"  # APP_ENV: development, test, staging, production\n')
                if first < len(body):  # first among the fields, in their block
                    field = field.with_changes(leading_lines=body[first].leading_lines)
                    body[first] = body[first].with_changes(leading_lines=[])
                body.insert(first, field)
            AddImportsVisitor.add_needed_import(self.context, "pydantic", "model_validator")
            method = cst.parse_statement(VALIDATOR_SOURCE.format(name=VALIDATOR, cls=original.name.value, env=environment, mark=DEV_ONLY_MARK, ENV=environment.upper(),
                development=repr(DEVELOPMENT_VALUES).replace("'", '"')))
            body.append(method.with_changes(leading_lines=[cst.EmptyLine(indent=False)]))
        return node.with_changes(body=node.body.with_changes(body=body))

    def leave_AnnAssign(self, original_node: cst.AnnAssign, updated_node: cst.AnnAssign) -> cst.AnnAssign:
        settings_class = bool(self.class_stack) and any(
            (dotted_name(b.value) or "").endswith("BaseSettings") for b in self.class_stack[-1].bases
        )
        if settings_class:
            targets = self._at(original_node, "PR221")
            if targets and isinstance(original_node.target, cst.Name):
                return self._dev_only_default(updated_node, targets)
            return updated_node
        targets = self._at(original_node, "PR220")
        value = _string(original_node.value)
        if targets and value is not None and isinstance(original_node.target, cst.Name):
            new = self._replace(targets, variable_for(original_node.target.value), value)
            if new is not None:
                return updated_node.with_changes(value=new)
        return updated_node

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        value = _string(original_node.value)
        if value is None or original_node.keyword is None:
            return updated_node
        targets = self._at(original_node.value, "PR220")
        if not targets:
            return updated_node
        new = self._replace(targets, variable_for(original_node.keyword.value), value)
        return updated_node.with_changes(value=new) if new is not None else updated_node

    def leave_DictElement(self, original_node: cst.DictElement, updated_node: cst.DictElement) -> cst.DictElement:
        key, value = _string(original_node.key), _string(original_node.value)
        if key is None or value is None:
            return updated_node
        targets = self._at(original_node.value, "PR220")
        if not targets:
            return updated_node
        new = self._replace(targets, variable_for(key), value)
        return updated_node.with_changes(value=new) if new is not None else updated_node

    # -- PR220 on jwt.encode(claims, "key"), PR221 on env reads ----------------------------------------

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        name = dotted_name(original_node.func) or ""
        if tail(name) in {"encode", "decode"} and "jwt" in name and len(original_node.args) > 1:
            value = _string(original_node.args[1].value)
            targets = self._at(original_node, "PR220")
            if targets and value is not None:
                new = self._replace(targets, "JWT_SECRET_KEY", value)
                if new is not None:
                    args = list(updated_node.args)
                    args[1] = args[1].with_changes(value=new)
                    return updated_node.with_changes(args=args)
            return updated_node
        if name in ENV_CALLS and original_node.args:
            targets = self._at(original_node, "PR221")
            variable = _string(original_node.args[0].value)
            if targets and variable and self._in_config_class():
                if len(original_node.args) < 2:
                    return updated_node  # `os.environ.get("X") or "dev"`: leave_BooleanOperation's
                self.fixed(targets)  # os.getenv("X", "dev") -> os.getenv("X") or <random>
                return self._random_fallback(updated_node.with_changes(args=[updated_node.args[0].with_changes(comma=cst.MaybeSentinel.DEFAULT)]))
            if targets and variable:
                new = self._replace(targets, variable, None)
                return new if new is not None else updated_node
        return updated_node

    def _in_config_class(self) -> bool:
        """Inside a plain config class (Flask's `class Config:`), in a project without
        pydantic-settings: the fallback becomes random instead of the class moving to settings."""
        return (
            bool(self.class_stack)
            and not any((dotted_name(b.value) or "").endswith("BaseSettings") for b in self.class_stack[-1].bases)
            and not self.pydantic_settings
        )

    def _random_fallback(self, read: cst.BaseExpression) -> cst.BaseExpression:
        """`<read> or secrets.token_hex(32)`: never a value written in the code; with the variable
        unset, sessions and tokens last as long as the process (a visible nuisance, not a forgeable key)."""
        AddImportsVisitor.add_needed_import(self.context, "secrets")
        return cst.BooleanOperation(read, cst.Or(), cst.parse_expression("secrets.token_hex(32)"))

    def leave_BooleanOperation(self, original_node: cst.BooleanOperation, updated_node: cst.BooleanOperation) -> cst.BaseExpression:
        left = original_node.left
        if not (isinstance(original_node.operator, cst.Or) and isinstance(left, cst.Call)):
            return updated_node
        if (dotted_name(left.func) or "") not in ENV_CALLS or not left.args or _string(original_node.right) is None:
            return updated_node
        targets = self._at(original_node, "PR221")
        variable = _string(left.args[0].value)
        if not targets or not variable:
            return updated_node
        if self._in_config_class():
            self.fixed(targets)
            return self._random_fallback(updated_node.left)
        new = self._replace(targets, variable, None)
        return new if new is not None else updated_node


class SecretsFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        foreign = project_settings_class(ws) is not None
        module = "" if foreign else module_name_for(settings_path(ws))
        uses = "pydantic_settings" in ws.index.imported_packages if ws.index is not None else True
        command = transform(ws, relpath, SecretToSetting, locate(ws, findings), module=module, foreign=foreign, pydantic_settings=uses)
        if command.fields:
            ensure_settings(ws, command.fields, self.name)
        return {f: command.outcomes.get(f, "no secret literal found at this place any more") for f in findings}


# -- PR222: debug and reload ----------------------------------------------------------------------

APP_FACTORIES = {"FastAPI", "Starlette"}


# The switches, read the project's way (its Settings object, else the environment), off by default.
SWITCHES = {name: (name, False, bool) for name in ("DEBUG", "RELOAD", "FLASK_DEBUG")}


class DebugFromEnvironment(ReadsSettings, FixCommand):
    """`debug=True` / `reload=True` / `DEBUG = True` -> a setting, off by default."""

    DESCRIPTION = "Read debug and reload switches from the settings."

    def _targets(self, node: cst.CSTNode) -> list:
        line = self.span(node).start.line
        return [t for t in self.targets if t.finding not in self.outcomes and t.line == line]

    def _switch(self, variable: str) -> cst.BaseExpression:
        return cst.parse_expression(self.setting(variable))

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        targets = self._targets(original_node)
        if not targets:
            return updated_node
        name = dotted_name(original_node.func) or ""
        changed = updated_node
        on = lambda arg: arg is not None and m.matches(arg.value, m.Name("True"))  # noqa: E731
        by_name = {a.keyword.value: a for a in original_node.args if a.keyword is not None}
        if tail(name) in APP_FACTORIES and on(by_name.get("debug")):
            changed = set_keyword(changed, "debug", self._switch("DEBUG"))
        elif tail(name) == "run" and on(by_name.get("reload")):
            changed = set_keyword(changed, "reload", self._switch("RELOAD"))
        elif tail(name) == "run" and on(by_name.get("debug")):
            changed = set_keyword(changed, "debug", self._switch("FLASK_DEBUG"))
        elif name.endswith("config.update") and on(by_name.get("DEBUG")):
            changed = set_keyword(changed, "DEBUG", self._switch("FLASK_DEBUG"))
        if changed is not updated_node:
            self.fixed(targets)
        return changed

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        targets = self._targets(original_node)
        if not targets or not m.matches(original_node.value, m.Name("True")):
            return updated_node
        self.fixed(targets)
        return updated_node.with_changes(value=self._switch("FLASK_DEBUG"))


class DebugFlagsFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        return fix_reading_settings(DebugFromEnvironment, relpath, findings, ws, SWITCHES)

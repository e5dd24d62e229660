"""`.env.example` and `.env.staging`: every setting the app reads, each listed once.

The variables come from the app as it is after the other fixes of the same plan: the fields of
its settings class (ours or the project's own, with its env_prefix) and the environment reads
left in its modules. An existing file is completed, never rewritten or duplicated, and code that
fixes generate declares the settings it reads here as it writes them (`declare`), so applying a
plan never leaves a setting that the next scan would ask to document.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from auditor.rules.hardening import secret_name
from auditor.rules.staging import ENV_EXAMPLES
from fixers.pipeline.workspace import Workspace
from fixers.templates import render

LISTED = re.compile(r"^\s*#?\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=", re.M)
ENVIRONMENT = "APP_ENV"


@dataclass
class Variable:
    name: str
    example: str
    staging: str
    comment: str = ""
    secret: bool = False


def variable_for(name: str, default_source: str | None) -> Variable:
    """One line of the env files for a setting declared with `default_source` (Python source of
    its default; None: required)."""
    secret = secret_name(name)
    if name == ENVIRONMENT:
        return Variable(name, "development", "staging", "development, staging or production")
    if default_source is None:
        return Variable(name, "", "", "required: the app does not start without it", secret)
    if "random_secret=True" in default_source:
        return Variable(name, "", "", "secret: development uses a random value; set a long random one everywhere else", True)
    dev_only = default_source.startswith("dev_default(")
    inner = default_source[len("dev_default(") : -1] if dev_only else default_source
    try:
        value = ast.literal_eval(inner) if inner else None
    except (ValueError, SyntaxError):
        value = None
    shown = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    if dev_only:
        return Variable(name, shown, "", f"development default {shown!r}; required outside development", secret)
    return Variable(name, shown, shown, "", secret)


def settings_class_variables(text: str, class_name: str, prefix: str = "") -> list[Variable]:
    """The variables of a settings class's fields (`prefix` + the field name, upper case)."""
    tree = ast.parse(text)
    found = []
    for node in tree.body:
        if not (isinstance(node, ast.ClassDef) and node.name == class_name):
            continue
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and not stmt.target.id.startswith("_"):
                if stmt.target.id == "model_config":
                    continue
                source = ast.get_source_segment(text, stmt.value) if stmt.value is not None else None
                found.append(variable_for((prefix + stmt.target.id).upper(), source))
    return found


def project_variables(ws: Workspace) -> tuple[str, list[Variable]]:
    """(where the settings live, every variable once, APP_ENV first): the settings class's fields,
    then the environment reads left in the app's modules."""
    from fixers.settings import _env_prefix, _parse, app_python_files, collect_reads, plan_fields, project_settings

    seen: dict[str, Variable] = {ENVIRONMENT: variable_for(ENVIRONMENT, None)}
    where = "the app's os.getenv() calls"
    source = project_settings(ws)
    if source is not None:
        tree = _parse(ws, source.relpath)
        prefix = _env_prefix(tree, source.class_name) if tree is not None else ""
        for variable in settings_class_variables(ws.read(source.relpath) or "", source.class_name, prefix):
            seen.setdefault(variable.name, variable)
        where = source.relpath
    reads = collect_reads(ws, app_python_files(ws))
    plan_fields(reads)
    for read in reads:
        if not read.variable or read.variable in seen:
            continue
        default = None if read.field is None else read.field.default
        if read.field is not None and read.field.random_secret:
            default = "dev_default(random_secret=True)"
        elif read.field is not None and read.field.dev_only:
            default = f"dev_default({read.field.default})"
        seen[read.variable] = variable_for(read.variable, default)
    return where, list(seen.values())


def listed(text: str) -> set[str]:
    """The variables a env file names, set or commented out (`# SECRET_KEY=`)."""
    return set(LISTED.findall(text))


def example_lines(variable: Variable) -> str:
    comment = f"# {variable.name}: {variable.comment}\n" if variable.comment else ""
    value = f"{variable.name}={variable.example}\n" if variable.example and not variable.secret else f"# {variable.name}=\n"
    return comment + value


def staging_secrets(variables: list[Variable]) -> list[str]:
    return [v.name for v in variables if v.secret or (not v.staging and "required" in v.comment)]


def merge(text: str, lines: list[str]) -> str:
    """text with lines appended (after a newline of its own)."""
    if not lines:
        return text
    return (text if not text or text.endswith("\n") else text + "\n") + "".join(lines)


def write_example(ws: Workspace, relpath: str = ".env.example") -> None:
    """Create `.env.example`, or add the variables an existing one does not list."""
    where, variables = project_variables(ws)
    text = ws.read(relpath)
    if text is None:
        ws.write(relpath, render("settings/env.example.j2", settings_path=where, variables=variables))
        return
    present = listed(text)
    ws.write(relpath, merge(text, [example_lines(v) for v in variables if v.name not in present]))


def write_staging(ws: Workspace, relpath: str = ".env.staging") -> None:
    """Create `.env.staging` (APP_ENV=staging and the non-secret values), or complete it."""
    _, variables = project_variables(ws)
    secrets = staging_secrets(variables)
    plain = [v for v in variables if v.name not in secrets and v.staging and v.name != ENVIRONMENT]
    text = ws.read(relpath)
    if text is None:
        ws.write(relpath, render("settings/env.staging.j2", secrets=secrets, variables=plain))
        return
    present = listed(text)
    lines = [f"{v.name}={v.staging}\n" for v in plain if v.name not in present]
    lines += [f"# {name}: a secret, set it in the platform's secret store\n" for name in secrets if name not in present]
    ws.write(relpath, merge(text, lines))


def example_file(ws: Workspace) -> str | None:
    """The project's env example file (`.env.example`, `.env.sample`...), None when it has none."""
    return next((name for name in ENV_EXAMPLES if ws.exists(name)), None)


def declare(ws: Workspace, variable: str, default: object) -> None:
    """Generated code reads `variable`: list it in the env example file. An existing file gets the
    line when it lacks it; when the project read no setting before (so no rule asked for the file)
    the file is created with every setting, or the next scan would ask for it."""
    relpath = example_file(ws)
    if relpath is not None:
        text = ws.read(relpath) or ""
        if variable not in listed(text):
            source = None if default is None else repr(default)
            ws.write(relpath, merge(text, [example_lines(variable_for(variable, source))]))
        return
    index = ws.index
    if index is None:
        return
    from auditor.rules.staging import app_env_reads, settings_classes

    if not app_env_reads(index) and not settings_classes(index):
        write_example(ws)

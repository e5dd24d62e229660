"""Logging fixes: print() to a module logger (PR502), and a logging setup for the app (PR501)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath

import libcst as cst
import libcst.matchers as m

from auditor.index.extract import module_name_for
from auditor.models import Finding
from fixers.apps import WireApp, Wiring, find_app
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, Target, dotted_name, fix_with, run_codemod, string_text
from fixers.settings import ENVIRONMENT_ALIASES, read_setting
from fixers.templates import render
from fixers.pipeline.workspace import Skip, Workspace

ERROR_WORDS = ("error", "exception", "traceback", "crash", "fatal")
WARNING_WORDS = (
    "warn", "fail", "could not", "couldn't", "cannot", "can't", "unable", "invalid", "denied",
    "missing", "retry", "retrying", "timeout", "timed out", "not found", "refused", "bad ",
)
STRINGS = (cst.SimpleString, cst.FormattedString, cst.ConcatenatedString)
# The settings the logging setup reads (template name -> setting, default, type): through the
# project's settings object when it has one, so the new module trips no settings rule.
LOGGING_SETTINGS = {
    "app_env": ("APP_ENV", "development", str, ENVIRONMENT_ALIASES),
    "log_level": ("LOG_LEVEL", "INFO", str),
    "log_format": ("LOG_FORMAT", "", str),
}
LOGGING_PARAMETERS = {"log_level": "level", "log_format": "fmt", "app_env": "environment"}  # configure_logging's


def level_for(words: str, to_stderr: bool, in_except: bool) -> str:
    words = words.lower()
    if any(w in words for w in ERROR_WORDS):
        return "exception" if in_except else "error"
    if to_stderr or in_except or any(w in words for w in WARNING_WORDS):
        return "warning"
    return "info"


def _escape_for(literal: cst.SimpleString, text: str) -> str:
    """`text` written inside `literal`'s quotes (as a format string: % doubled)."""
    text = text.replace("%", "%%")
    if text.isprintable() and "\\" not in text and literal.quote[0] not in text:
        return text
    if "r" in literal.prefix.lower():
        raise Skip("print() with a sep that a raw string cannot hold")
    escaped = json.dumps(text)[1:-1]
    return escaped.replace("'", "\\'") if literal.quote[0] == "'" else escaped


class PrintToLogger(FixCommand):
    """print(...) -> logger.<level>(format, *args): lazy %-formatting, the same words."""

    DESCRIPTION = "Replace print() diagnostics with module logger calls."
    ONLY_WHERE_TARGETED = True

    def __init__(self, context, targets=()) -> None:
        super().__init__(context, targets)
        self.except_depth = 0

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.except_depth += 1

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler, updated_node: cst.ExceptHandler) -> cst.ExceptHandler:
        self.except_depth -= 1
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if not m.matches(original_node.func, m.Name("print")):
            return updated_node
        targets = self.targets_at(original_node)
        if not targets:
            return updated_node
        return self.attempt(targets, updated_node, self.logger_call)

    def logger_call(self, call: cst.Call) -> cst.Call:
        positional = [a for a in call.args if a.keyword is None]
        options = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        if any(a.star for a in positional):
            raise Skip("print(*values) cannot become one log message")
        if not positional:
            raise Skip("print() without arguments has nothing to log")
        to_stderr = False
        if "file" in options:
            stream = dotted_name(options["file"])
            if stream in ("sys.stderr", "stderr"):
                to_stderr = True
            elif stream not in ("sys.stdout", "stdout"):
                raise Skip("print(file=...) writes to a file, not to the logs")
        sep = " "
        if "sep" in options:
            value = options["sep"]
            if not (isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str)):
                raise Skip("print() with a computed sep")
            sep = value.evaluated_value
        words = " ".join(string_text(a.value) for a in positional)
        level = level_for(words, to_stderr, self.except_depth > 0)

        first = positional[0].value
        if len(positional) == 1 and isinstance(first, STRINGS):
            args = [positional[0]]
        elif isinstance(first, cst.SimpleString) and isinstance(first.evaluated_value, str):
            body = first.raw_value.replace("%", "%%") + (_escape_for(first, sep) + "%s") * (len(positional) - 1)
            fmt = first.with_changes(value=f"{first.prefix}{first.quote}{body}{first.quote}")
            args = [positional[0].with_changes(value=fmt)] + positional[1:]
        else:
            fmt = cst.SimpleString(json.dumps(sep.replace("%", "%%").join(["%s"] * len(positional))))
            comma = positional[0].comma if positional[0].comma is not cst.MaybeSentinel.DEFAULT else None
            args = [cst.Arg(fmt, comma=comma or cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))] + positional
        # The last kept argument takes the comma (or its absence) of the call's last argument.
        args[-1] = args[-1].with_changes(comma=call.args[-1].comma)
        return call.with_changes(func=cst.Attribute(cst.Name(self.logger()), cst.Name(level)), args=args)


class PrintToLoggerFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        return fix_with(PrintToLogger, relpath, findings, ws)


class LoggingSetupFixer(Fixer):
    """Create `<package>/logging_setup.py` from the template and wire it where the app is created."""

    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        return self.guarded(findings, ws, lambda: self.set_up(findings, ws))

    def set_up(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        app = find_app(ws, findings[0])
        folder = PurePosixPath(app.relpath).parent
        relpath = str(folder / "logging_setup.py") if str(folder) != "." else "logging_setup.py"
        if ws.exists(relpath):
            raise Skip(f"{relpath} exists already; call its setup where the app is created")
        module = module_name_for(relpath)
        # The app module reads the settings and passes them: the new module reads none itself,
        # so it can never be the second module reading the environment, nor import the app back.
        reads = {key: read_setting(ws, app.relpath, *spec) for key, spec in LOGGING_SETTINGS.items()}
        ws.write(relpath, render("logging_setup.py.j2", framework=app.framework, variables={k: r.variable for k, r in reads.items()}))
        arguments = [f"{param}={reads[key].expression}" for key, param in LOGGING_PARAMETERS.items()]
        call = f"configure_logging({', '.join(arguments)})\n"
        if len(call) > 100:
            call = "configure_logging(\n" + "".join(f"    {a},\n" for a in arguments) + ")\n"
        defined_here = any(not r.imports and r.kind == "settings" for r in reads.values())
        if app.framework == "fastapi":
            after_app, hook = f"{app.var}.add_middleware(RequestIdMiddleware)\n", "RequestIdMiddleware"
        else:
            after_app, hook = f"install_request_id({app.var})\n", "install_request_id"
        settings_imports = list(dict.fromkeys(i for r in reads.values() for i in r.imports))
        wiring = Wiring(
            # A settings object defined in the app module itself exists only once that module ran
            # that far: the call then follows the app's creation.
            after_app=[call, after_app] if defined_here else [after_app],
            after_imports=[] if defined_here else [call],
            imports=[(module, "configure_logging"), (module, hook), *settings_imports],
        )
        command = run_codemod(ws, app.relpath, WireApp, locate_at(findings, app.line), var=app.var, wiring=wiring)
        return {f: command.outcomes.get(f, "the app could not be wired") for f in findings}


def locate_at(findings: Sequence[Finding], line: int) -> list[Target]:
    """Targets for findings about the whole project, answered at one place (the app)."""
    return [Target(f, line, None) for f in findings]

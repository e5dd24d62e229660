"""Which fixer answers which rule, and how safe its fix is.

The table is declarative on purpose: the scanner asks `safety_for(code)` for every finding, and
answering must not import libcst or any codemod (libcst stays out of the scan path). A fixer's
class is imported only when a plan needs it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from auditor.models import FixSafety


@dataclass(frozen=True)
class FixerSpec:
    name: str
    codes: tuple[str, ...]
    safety: FixSafety
    description: str
    target: str  # "module:Class" of the Fixer subclass

    def load(self):
        """The Fixer instance (imports its module, and libcst with it)."""
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)(self)


# Order matters: fixes on one file are applied in this order, each on the text the previous left.
FIXERS: tuple[FixerSpec, ...] = (
    FixerSpec(
        "logging-setup",
        ("PR501",),
        FixSafety.SAFE,
        "Creates a logging module (JSON lines in production, readable in development, level from "
        "LOG_LEVEL, a request id per request) and calls it once where the app is created.",
        "fixers.logs:LoggingSetupFixer",
    ),
    FixerSpec(
        "print-to-logger",
        ("PR502",),
        FixSafety.SAFE,
        "Replaces print() with a module logger call at a fitting level.",
        "fixers.logs:PrintToLoggerFixer",
    ),
    FixerSpec(
        "request-body-model",
        ("PR301",),
        FixSafety.REVIEW,
        "Generates a Pydantic model from how the handler uses the body and validates it at the "
        "boundary: FastAPI checks it from the signature, Flask answers 422 with the error details.",
        "fixers.validation:RequestModelFixer",
    ),
    FixerSpec(
        "pool-settings",
        ("PR231",),
        FixSafety.SAFE,
        "Adds explicit pool settings (size, overflow, timeout, recycle, pre-ping) read from the "
        "environment with SQLAlchemy's defaults.",
        "fixers.pooling:PoolSettingsFixer",
    ),
    FixerSpec(
        "shared-connections",
        ("PR230",),
        FixSafety.REVIEW,
        "Replaces a connection opened per request with one shared per process (a module-level "
        "engine or pool), or one per request context that is closed at teardown.",
        "fixers.pooling:SharedConnectionFixer",
    ),
    FixerSpec(
        "keep-task-reference",
        ("PR340",),
        FixSafety.SAFE,
        "Keeps a reference to each background task and logs its exception with the traceback.",
        "fixers.error_handling:TaskReferenceFixer",
    ),
    FixerSpec(
        "guard-background-loop",
        ("PR341",),
        FixSafety.SAFE,
        "Wraps each pass of a background loop in try/except that logs the error, so one failure "
        "no longer stops the loop for good.",
        "fixers.error_handling:LoopGuardFixer",
    ),
    FixerSpec(
        "log-swallowed-exception",
        ("PR342", "PR510"),
        FixSafety.SAFE,
        "Logs the exception (with its traceback) in except blocks that silently ignore it.",
        "fixers.error_handling:LogSwallowedFixer",
    ),
    FixerSpec(
        "global-exception-handler",
        ("PR344",),
        FixSafety.REVIEW,
        "Registers an app-wide handler that logs unexpected errors with the traceback and answers "
        "a JSON 500 without internals.",
        "fixers.error_handling:GlobalHandlerFixer",
    ),
)


@cache
def _by_code() -> dict[str, FixerSpec]:
    table: dict[str, FixerSpec] = {}
    for spec in FIXERS:
        for code in spec.codes:
            if code in table:
                raise ValueError(f"{code} is answered by two fixers: {table[code].name} and {spec.name}")
            table[code] = spec
    return table


def spec_for(code: str) -> FixerSpec | None:
    return _by_code().get(code)


def safety_for(code: str) -> FixSafety | None:
    """The safety of the fix for a rule code, None when no fixer answers it."""
    spec = spec_for(code)
    return spec.safety if spec else None


def all_fixers() -> tuple[FixerSpec, ...]:
    return FIXERS

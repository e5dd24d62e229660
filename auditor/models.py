"""The vocabulary shared by every face of prodready: steps, categories, findings."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum


class Step(str, Enum):
    DATA_MODEL = "data-model"
    INFRASTRUCTURE = "infrastructure"
    VALIDATION = "validation"
    STAGING = "staging"
    LOGGING = "logging"

    @property
    def title(self) -> str:
        return STEP_TITLES[self]

    @property
    def number(self) -> int:
        return list(Step).index(self) + 1


STEP_TITLES = {
    Step.DATA_MODEL: "Data model",
    Step.INFRASTRUCTURE: "Infrastructure",
    Step.VALIDATION: "Validation",
    Step.STAGING: "Staging",
    Step.LOGGING: "Logging",
}

# Rule-code hundreds -> step (PR1xx is data-model, ...).
STEP_BY_HUNDRED = {1: Step.DATA_MODEL, 2: Step.INFRASTRUCTURE, 3: Step.VALIDATION, 4: Step.STAGING, 5: Step.LOGGING}


class Category(str, Enum):
    """A fixed vocabulary: rules are many, categories few."""

    DATA_MODEL = "data_model"
    MIGRATIONS = "migrations"
    N_PLUS_ONE = "n_plus_one"
    AUTH = "auth"
    SECRETS = "secrets"
    CONNECTION_POOL = "connection_pool"
    RATE_LIMIT = "rate_limit"
    RESILIENCE = "resilience"
    VALIDATION = "validation"
    PAGINATION = "pagination"
    IDEMPOTENCY = "idempotency"
    ASYNC_ERRORS = "async_errors"
    STAGING = "staging"
    LOGGING = "logging"


CATEGORIES_BY_STEP = {
    Step.DATA_MODEL: {Category.DATA_MODEL, Category.MIGRATIONS, Category.N_PLUS_ONE},
    Step.INFRASTRUCTURE: {
        Category.AUTH,
        Category.SECRETS,
        Category.CONNECTION_POOL,
        Category.RATE_LIMIT,
        Category.RESILIENCE,
    },
    Step.VALIDATION: {Category.VALIDATION, Category.PAGINATION, Category.IDEMPOTENCY, Category.ASYNC_ERRORS},
    Step.STAGING: {Category.STAGING},
    Step.LOGGING: {Category.LOGGING},
}


class Severity(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return {"low": 1, "medium": 2, "high": 3}[self.value]


class Confidence(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class FixSafety(str, Enum):
    SAFE = "safe"  # behaviour-preserving: applied by `fix --apply`
    REVIEW = "review"  # changes behaviour: needs --include-review or a yes in the wizard


# Plain frozen dataclasses, not pydantic models: a scan makes and caches thousands of them, and
# every `prodready` start-up would otherwise pay for building their validators.
@dataclass(frozen=True, slots=True)
class Finding:
    """One gap found in the scanned project. Field order is the JSON contract's."""

    rule: str
    name: str
    step: Step
    category: Category
    severity: Severity
    confidence: Confidence
    path: str  # relative to the scanned root, POSIX separators
    line: int  # 1-based
    col: int  # 0-based, as ast reports it
    end_line: int
    message: str
    fixable: bool = False
    fix_safety: FixSafety | None = None

    def contract_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    def sort_key(self) -> tuple:
        return (self.step.number, self.path, self.line, self.col, self.rule)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem reading the project (not a finding about it): bad file, skipped file."""

    path: str
    kind: str  # syntax-error | decode-error | unreadable | too-large | symlink-loop | binary
    message: str


def _plain(value: object) -> object:
    return value.value if isinstance(value, Enum) else value

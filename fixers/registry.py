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
        "Generates a Pydantic model from how the handler uses the body, each field typed by its uses "
        "(the column it is stored in, the function it is passed to), and validates it at the "
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
        FixSafety.REVIEW,
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
        FixSafety.SAFE,
        "Registers an app-wide handler that logs unexpected errors with the traceback and answers "
        "a JSON 500 without internals.",
        "fixers.error_handling:GlobalHandlerFixer",
    ),
    # -- step codemods (data model, auth, secrets, limits, validation, staging) --------------------
    FixerSpec(
        "column-index",
        ("PR101", "PR130"),
        FixSafety.SAFE,
        "Indexes the column (index=True on the model, CREATE INDEX IF NOT EXISTS in the schema file); "
        "existing databases get the index from a migration.",
        "fixers.data_model:ColumnFixer",
    ),
    FixerSpec(
        "column-constraints",
        ("PR102", "PR103", "PR104", "PR105", "PR106"),
        FixSafety.REVIEW,
        "Tightens the column: unique identity columns, Numeric(12, 2) for money (values become "
        "Decimal, and the code computing with them is rewritten to match), time-zone aware datetimes, "
        "NOT NULL where the API requires the field, a composite key on link tables. A project with "
        "Alembic gets the migration. Existing data must satisfy it before the migration runs.",
        "fixers.data_model:ColumnFixer",
    ),
    FixerSpec(
        "eager-loading",
        ("PR121",),
        FixSafety.REVIEW,
        "Loads the relationship read in the loop together with the rows (selectinload in the query).",
        "fixers.data_model:EagerLoadFixer",
    ),
    FixerSpec(
        "alembic-migrations",
        ("PR110",),
        FixSafety.REVIEW,
        "Sets up Alembic (alembic.ini, migrations/env.py wired to the app's engine and models); the "
        "app keeps creating its tables on SQLite, in development and in tests. Then run `alembic "
        "revision --autogenerate -m initial` and `alembic stamp head` on existing databases (migrations/README).",
        "fixers.migrations:MigrationsFixer",
    ),
    FixerSpec(
        "sql-parameters",
        ("PR310",),
        FixSafety.SAFE,
        "Turns SQL built with +, % or f-strings into a literal statement with placeholders and "
        "passes the values separately, so the driver quotes them. Names and ORDER BY values cannot "
        "be parameters: those are left with an explanation.",
        "fixers.sql_params:SqlParamsFixer",
    ),
    FixerSpec(
        "route-auth",
        ("PR201",),
        FixSafety.REVIEW,
        "Adds the app's own login check to the route: its auth dependency (FastAPI) or its login "
        "decorator (Flask). Callers without credentials get 401.",
        "fixers.auth:AuthRouteFixer",
    ),
    FixerSpec(
        "admin-role-check",
        ("PR202",),
        FixSafety.REVIEW,
        "Puts the app's role check on admin routes (its own require_admin if it has one, else one "
        "built on its auth dependency and the user's admin flag). Other users get 403.",
        "fixers.auth:AdminRoleFixer",
    ),
    FixerSpec(
        "owner-filter",
        ("PR203",),
        FixSafety.REVIEW,
        "Adds the current user to the query (through the parent tables when the rows belong to the "
        "user indirectly), or checks the parent row a request field points at. Other users' rows "
        "answer 404.",
        "fixers.auth:OwnershipFixer",
    ),
    FixerSpec(
        "jwt-handling",
        ("PR210", "PR211", "PR212"),
        FixSafety.REVIEW,
        "Verifies tokens with the module's signing key and pinned algorithm, and adds an `exp` claim "
        "(60 minutes, 7 days for invitations) to created tokens.",
        "fixers.auth:JwtFixer",
    ),
    FixerSpec(
        "auth-rate-limit",
        ("PR240",),
        FixSafety.REVIEW,
        "Rate-limits the route per client address (slowapi / Flask-Limiter): 5 logins a minute, 10 "
        "signups and 5 password resets an hour. RATE_LIMIT_STORAGE_URI points the counters at a "
        "shared store (Redis) when several processes serve the app. Clients over it get 429.",
        "fixers.ratelimit:RateLimitFixer",
    ),
    FixerSpec(
        "pagination",
        ("PR320",),
        FixSafety.REVIEW,
        "Adds limit (1-100, default 50) and offset parameters to the list route and applies them to "
        "the query (ordered by id), or as LIMIT/OFFSET bound parameters to its SQL.",
        "fixers.pagination:PaginationFixer",
    ),
    FixerSpec(
        "typed-route-params",
        ("PR303",),
        FixSafety.SAFE,
        "Types the route parameter (int for ids, else str) or adds the <int:...> converter to the "
        "Flask URL rule, so malformed ids answer 404/422 before the handler runs.",
        "fixers.route_params:RouteParamFixer",
    ),
    FixerSpec(
        "idempotent-writes",
        ("PR330", "PR331", "PR332"),
        FixSafety.REVIEW,
        "Accepts an Idempotency-Key header on the write route, stores it on the row (a unique "
        "column: needs a migration) and answers 409 when it comes back; derives the provider's key "
        "from it or from the record; maps the unique-constraint error of check-then-insert to 409 "
        "and locks the parent row of count-then-insert checks.",
        "fixers.idempotency:IdempotencyFixer",
    ),
    FixerSpec(
        "string-limits",
        ("PR302",),
        FixSafety.REVIEW,
        "Adds max_length to the request model's string fields (320 for emails, 128 for passwords, "
        "10 000 for free text, 255 otherwise): longer values answer 422.",
        "fixers.request_limits:StringLimitsFixer",
    ),
    FixerSpec(
        "thread-pool-handler",
        ("PR343",),
        FixSafety.REVIEW,
        "Turns an `async def` route handler that only makes blocking calls into a plain `def`, which "
        "FastAPI runs in its thread pool instead of on the event loop.",
        "fixers.request_limits:ThreadPoolFixer",
    ),
    FixerSpec(
        "outbound-timeout",
        ("PR250",),
        FixSafety.SAFE,
        "Adds timeout=10 (seconds) to the outbound call: a hanging service now raises a timeout "
        "error instead of holding the worker.",
        "fixers.timeouts:TimeoutFixer",
    ),
    FixerSpec(
        "sqlite-wal",
        ("PR232",),
        FixSafety.SAFE,
        "Opens SQLite with a 15-second busy timeout and turns on WAL mode, so reads no longer wait "
        "for writes and short write bursts queue instead of failing.",
        "fixers.sqlite_wal:SqliteWalFixer",
    ),
    FixerSpec(
        "log-traceback",
        ("PR511",),
        FixSafety.SAFE,
        "Logs the handled error with its traceback (logger.exception / exc_info=True).",
        "fixers.log_hygiene:LogHygieneFixer",
    ),
    FixerSpec(
        "redact-secrets-in-logs",
        ("PR530",),
        FixSafety.REVIEW,
        "Replaces passwords, tokens and keys in log calls with \"[redacted]\"; the message keeps its shape.",
        "fixers.log_hygiene:LogHygieneFixer",
    ),
    FixerSpec(
        "cors-origins",
        ("PR223",),
        FixSafety.REVIEW,
        "Trusts only the origins listed in CORS_ORIGINS (comma-separated) instead of every origin.",
        "fixers.hardening:CorsFixer",
    ),
    FixerSpec(
        "secure-cookies",
        ("PR224",),
        FixSafety.REVIEW,
        "Marks session cookies Secure outside development (APP_ENV), HttpOnly and SameSite=Lax.",
        "fixers.hardening:CookieFixer",
    ),
    FixerSpec(
        "secrets-from-settings",
        ("PR220", "PR221"),
        FixSafety.REVIEW,
        "Reads the secret from the environment through the settings: a fresh random value in "
        "development, and outside development the app refuses to start without it. Rotate the "
        "exposed value.",
        "fixers.secrets:SecretsFixer",
    ),
    FixerSpec(
        "debug-from-environment",
        ("PR222",),
        FixSafety.SAFE,
        "Reads debug and reload switches from the environment (DEBUG, FLASK_DEBUG, RELOAD=1), off "
        "unless set.",
        "fixers.secrets:DebugFlagsFixer",
    ),
    FixerSpec(
        "docs-in-development",
        ("PR422",),
        FixSafety.REVIEW,
        "Serves /docs, /redoc and /openapi.json only when APP_ENV is development.",
        "fixers.staging:DocsFixer",
    ),
    FixerSpec(
        "health-route",
        ("PR430",),
        FixSafety.SAFE,
        "Adds a public /health route that runs SELECT 1 through the app's own database access and "
        "answers 200, or 503 when the database is unreachable.",
        "fixers.staging:HealthFixer",
    ),
    # The settings fixer runs after every fixer that may add environment reads.
    FixerSpec(
        "settings-object",
        ("PR401", "PR402", "PR410"),
        FixSafety.REVIEW,
        "Generates one pydantic-settings Settings class from the environment reads found (names, "
        "types, defaults, required ones) and reads every setting through get_settings(). Local "
        "addresses and secrets keep their default in development only; database URLs move to .env.",
        "fixers.settings:SettingsFixer",
    ),
    FixerSpec(
        "env-files",
        ("PR420", "PR421"),
        FixSafety.SAFE,
        "Writes .env.example (every setting, secrets left blank) and .env.staging (APP_ENV=staging "
        "and the non-secret values; secrets come from the platform's secret store).",
        "fixers.staging:EnvFilesFixer",
    ),
    FixerSpec(
        "failure-path-tests",
        ("PR431",),
        FixSafety.SAFE,
        "Writes tests/test_failure_paths.py: blank and wrong-typed bodies, oversized strings, "
        "duplicate submissions, requests without a login or with forged or expired credentials, "
        "and a burst of concurrent requests, each expecting a clean 4xx and never a 500. A route "
        "whose gap this run does not fix is marked xfail with the finding, so the tests pass today.",
        "fixers.failure_tests:FailureTestsFixer",
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

"""Step 4 — staging (PR4xx): settings from the environment, per-environment config, health checks, failure-path tests.

Every rule here is a project rule and speaks only about web projects (FastAPI/Flask apps found).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable

from auditor.masking import mask_secrets
from auditor.models import Category, Confidence, Finding, Severity
from auditor.rules.base import ProjectRule, register
from auditor.rules.webapp import app_anchor, app_modules, call_at, is_test_or_script, is_web_project
from auditor.walk import dotted

HEALTH_PATH = re.compile(r"/(health|healthz|healthcheck|health-check|ready|readyz|livez|ping|status)/?$", re.I)
SETTINGS_BASES = {"pydantic_settings.BaseSettings", "pydantic.BaseSettings", "pydantic.v1.BaseSettings", "environ.Env", "environs.Env"}
SETTINGS_PACKAGES = {"pydantic_settings", "environs", "decouple", "dynaconf", "environ"}
REQUIRED_NAME = re.compile(r"SECRET|_KEY$|^KEY$|TOKEN|PASSWORD|DATABASE|_DSN$|^DSN$|_URI$", re.I)
STARTUP_FUNCTION = re.compile(r"^(create_app|make_app|main|lifespan|startup|on_startup|get_settings|load_settings|load_config|settings|config)$|^(configure|init|setup|load)_")
DB_ENV_NAME = re.compile(r"(DATABASE|DB)_?(URL|URI|PATH|FILE|DSN)$|^DSN$|^DATABASE$|SQLALCHEMY_DATABASE_URI", re.I)
LOCALHOST = re.compile(r"\b(localhost|127\.0\.0\.1|0\.0\.0\.0)\b")
ENV_EXAMPLES = (".env.example", ".env.sample", ".env.template", ".env.dist", "env.example", "example.env", "sample.env")
ENVIRONMENT_VARS = re.compile(r"^(\w+_)?(ENV|ENVIRONMENT|STAGE)$|^FLASK_(ENV|DEBUG)$|^DEPLOY(MENT)?_ENV", re.I)
PER_ENV_CLASS = re.compile(r"^(Production|Prod|Staging|Development|Dev|Testing)(Config|Settings)$")
APP_SECRET = re.compile(r"^((APP|FLASK|JWT|SESSION|AUTH)_)?SECRET(_KEY)?$|^JWT_SECRET(_KEY)?$", re.I)
FIXED_DEBUG = re.compile(r"\b(FastAPI|Flask|\.run)\([^)]*\bdebug\s*=\s*True|\bapp\.debug\s*=\s*True")
CONFIG_FROM_ENV = re.compile(r"\.from_(envvar|prefixed_env)\(|config\.from_object\([^)]*(environ|getenv)")
SERVER_DRIVERS = re.compile(r"psycopg|asyncpg|pg8000|mysqlclient|pymysql|mysql-connector|aiomysql|oracledb|pyodbc", re.I)


def settings_classes(index) -> list[tuple[str, str]]:
    """(relpath, class name) of settings objects (pydantic-settings BaseSettings subclasses...)."""
    return [
        (relpath, name)
        for relpath, facts in app_modules(index)
        for name, bases in facts.classes.items()
        if any(base in SETTINGS_BASES or base.endswith(".BaseSettings") for base in bases)
    ]


def config_class_modules(index) -> set[str]:
    """Modules of Flask-style config classes (`class Config:` / `ProductionConfig(Config)`) reading
    the environment: the app's one settings module, even without pydantic-settings."""
    return {
        relpath
        for relpath, facts in app_modules(index)
        if facts.env_reads and any(name == "Config" or PER_ENV_CLASS.search(name) for name in facts.classes)
    }


def app_env_reads(index) -> dict[str, list]:
    reads: dict[str, list] = {}
    for relpath, facts in app_modules(index):
        if facts.env_reads:
            reads[relpath] = sorted(facts.env_reads, key=lambda r: r.span.line)
    return reads


@register
class ScatteredEnvReads(ProjectRule):
    code = "PR401"
    name = "scattered-env-reads"
    category = Category.STAGING
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "Nobody can tell which settings the app needs: a missing or mistyped variable shows up as a "
        "crash or wrong behaviour deep inside a request, in production, instead of at startup."
    )
    fix_summary = "Moves the environment reads into one validated settings class (pydantic-settings) read once at startup."
    doc = """
## What it does
Reports environment variables read with `os.getenv` / `os.environ` in several modules of a web
app, and values parsed by hand (`int(os.getenv(...))`), instead of one settings object. One
finding per module that reads the environment (the settings class's own module is left alone).

## Why is this bad in production
Settings spread over modules cannot be listed, checked or documented in one place; a typo in a
variable name silently uses the default; `int("")` crashes at import with an unhelpful error.
Staging and production drift apart because nobody knows every knob.

## Example
```python
# app/emails.py
SMTP_PORT = int(os.getenv("SMTP_PORT", "587"))
# app/routers/invites.py
MAX_INVITES = int(os.getenv("MAX_INVITES", "5"))
```

## Use instead
```python
class Settings(BaseSettings):
    smtp_port: int = 587
    max_invites: int = Field(5, ge=1)

settings = Settings()  # fails at startup, naming the bad variable
```

## Fix safety
Review: settings move to one module; the variable names stay the same.
"""
    VALID = [
        {
            "app/settings.py": "from pydantic_settings import BaseSettings\nclass Settings(BaseSettings):\n    smtp_port: int = 587\n",
            "app/main.py": "from fastapi import FastAPI\nfrom app.settings import Settings\napp = FastAPI()\nsettings = Settings()\n",
        },
        # One config module with plain string reads is a reasonable start.
        {
            "app/config.py": "import os\nSMTP_HOST = os.getenv('SMTP_HOST', '')\n",
            "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        },
        "import os\nHOME = os.environ.get('HOME')\nDEBUG = os.getenv('DEBUG')\n",
    ]
    INVALID = [
        {
            "app/config.py": "import os\nSECRET = os.getenv('SECRET_KEY', '')\n",
            "app/emails.py": "import os\nSMTP_PORT = int(os.getenv('SMTP_PORT', '587'))\n",
            "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        },
        {
            "app/__init__.py": "import os\nfrom flask import Flask\ndef create_app():\n    app = Flask(__name__)\n    app.config['PAGE_SIZE'] = int(os.environ.get('PAGE_SIZE', '50'))\n    return app\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index):
            return
        settings_modules = {relpath for relpath, _ in settings_classes(index)} | config_class_modules(index)
        reads = {
            rel: r for rel, r in app_env_reads(index).items()
            if rel not in settings_modules and not all(ENVIRONMENT_VARS.search(x.name or "") or (x.name or "").endswith("_CONFIG") for x in r)
        }
        for relpath, module_reads in reads.items():
            parsed = [r for r in module_reads if r.converted]
            if len(reads) < 2 and not parsed:
                continue
            others = len(reads) - 1
            where = f"here and in {others} other module{'s' if others != 1 else ''}" if others else "here"
            names = ", ".join(dict.fromkeys(r.name or "?" for r in module_reads))
            message = f"settings read from the environment {where} ({names}), not from one validated settings object"
            if parsed:
                message += f"; parsed by hand with {parsed[0].converted}()"
            yield self.at(relpath, module_reads[0].span, message, severity=Severity.MEDIUM if parsed else None)


@register
class RequiredSettingUnchecked(ProjectRule):
    code = "PR402"
    name = "required-setting-unchecked"
    category = Category.STAGING
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "The app starts fine without a required secret or database setting and only fails when the "
        "first user hits the feature that needs it, usually in production."
    )
    fix_summary = "Reads the setting once at startup through the settings object, so a missing value stops the app with a clear message."
    doc = """
## What it does
Finds required-looking settings (secrets, keys, tokens, database URLs) that are not checked
at startup: `os.environ["X"]` read inside a function of a module that serves routes (read when
a request comes in, not at startup), or `X = os.getenv("X")` at module level with no default
and no check anywhere in the module.

## Why is this bad in production
A deploy with a missing variable looks healthy: health checks pass and the first real request
that needs the value fails with `KeyError` or `None` used as a key, long after the deploy.

## Example
```python
def verify(payload, signature):
    secret = os.environ["WEBHOOK_SECRET"].encode()
```

## Use instead
```python
class Settings(BaseSettings):
    webhook_secret: SecretStr  # required: the app does not start without it

def verify(payload, signature, settings=get_settings()):
    secret = settings.webhook_secret.get_secret_value().encode()
```

## Fix safety
Review: a deploy without the variable now fails at startup instead of at first use.
"""
    VALID = [
        "import os\nfrom flask import Flask\ndef create_app():\n    app = Flask(__name__)\n    app.secret_key = os.environ['SECRET_KEY']\n    return app\n",
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nSLACK_WEBHOOK_URL = os.getenv('SLACK_WEBHOOK_URL')\ndef notify():\n    if SLACK_WEBHOOK_URL:\n        post(SLACK_WEBHOOK_URL)\n",
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nAPI_TOKEN = os.getenv('API_TOKEN')\nif not API_TOKEN:\n    raise RuntimeError('API_TOKEN is required')\n",
    ]
    INVALID = [
        "import os\nfrom flask import Flask\napp = Flask(__name__)\n@app.post('/hook')\ndef hook():\n    secret = os.environ['WEBHOOK_SECRET']\n    return {}\n",
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nAPI_TOKEN = os.getenv('API_TOKEN')\ndef headers():\n    return {'Authorization': 'Bearer ' + API_TOKEN}\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index):
            return
        for relpath, reads in app_env_reads(index).items():
            facts = index.modules[relpath]
            checked: set[str] | None = None
            for read in reads:
                if read.form == "environ[]" and facts.routes and self.at_request_time(facts, read.function):
                    yield self.at(relpath, read.span, f"{read.name or 'setting'} is read at request time with os.environ[...]: a missing value fails the request, not the deploy")
                elif read.form != "environ[]" and read.default is None and read.function is None and REQUIRED_NAME.search(read.name or ""):
                    if checked is None:
                        checked = self.checked_names(index.tree(relpath))
                    variable = self.assigned_name(index.tree(relpath), read.span.line)
                    if variable and variable not in checked:
                        yield self.at(relpath, read.span, f"{read.name} may be missing (None) and nothing checks it at startup")

    @staticmethod
    def at_request_time(facts, qualname: str | None) -> bool:
        """Inside a function of a route module that is not a startup/settings function or cached."""
        if qualname is None or STARTUP_FUNCTION.search(qualname.rpartition(".")[2]):
            return False
        function = facts.functions.get(qualname)
        return not (function and any(d.rpartition(".")[2] in {"lru_cache", "cache", "cached_property"} for d in function.decorators))

    @staticmethod
    def assigned_name(tree: ast.Module, line: int) -> str | None:
        for stmt in tree.body:
            if isinstance(stmt, ast.Assign) and stmt.lineno == line and isinstance(stmt.targets[0], ast.Name):
                return stmt.targets[0].id
        return None

    @staticmethod
    def checked_names(tree: ast.Module) -> set[str]:
        names = set()
        for node in ast.walk(tree):
            test = getattr(node, "test", None) if isinstance(node, (ast.If, ast.IfExp, ast.While, ast.Assert)) else None
            if test is not None:
                names.update(n.id for n in ast.walk(test) if isinstance(n, ast.Name))
        return names


@register
class HardcodedEnvironmentValue(ProjectRule):
    code = "PR410"
    name = "hardcoded-environment-value"
    category = Category.STAGING
    severity = Severity.MEDIUM
    impact = (
        "Staging and production end up talking to the same database, or to a developer's laptop "
        "address, because the location is written into the code instead of coming from the environment."
    )
    fix_summary = "Removes the literal and makes the setting required in the settings object, with the value in each environment's config."
    doc = """
## What it does
Finds environment-specific values written into the app's code: database URLs
(`postgresql://...`, `sqlite:///...`), database paths used as fallbacks for an environment
variable, `localhost` addresses used as fallbacks, and lists of allowed CORS origins.

## Why is this bad in production
A fallback hides a missing variable: production quietly connects to `localhost` or creates a
SQLite file on the container's disk, and staging can point at production data because both run
the same code with the same literal.

## Example
```python
DATABASE_URL = os.getenv("DATABASE_URL", "postgresql://postgres:postgres@localhost/app")
```

## Use instead
```python
class Settings(BaseSettings):
    database_url: str  # required; set per environment
```

## Fix safety
Review: a deploy that relied on the fallback must now set the variable.
"""
    VALID = [
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nDATABASE_URL = os.environ['DATABASE_URL']\n",
        {"tests/conftest.py": "import os\nos.environ['DATABASE_URL'] = 'sqlite:///test.db'\n", "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n"},
        "from fastapi import FastAPI\nfrom sqlalchemy import create_engine\napp = FastAPI()\ntest_engine = create_engine('sqlite://')\n",
        "from fastapi import FastAPI\nfrom fastapi.middleware.cors import CORSMiddleware\nfrom app.settings import settings\napp = FastAPI()\napp.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins)\n",
    ]
    INVALID = [
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nDATABASE_URL = os.getenv('DATABASE_URL', 'postgresql://postgres:postgres@localhost:5432/app')\n",
        "from flask import Flask\napp = Flask(__name__)\napp.config['SQLALCHEMY_DATABASE_URI'] = 'sqlite:///prod.db'\n",
        "import os\nfrom flask import Flask\napp = Flask(__name__)\napp.config['DATABASE'] = os.environ.get('DATABASE_PATH', 'shop.db')\n",
        "from fastapi import FastAPI\nfrom fastapi.middleware.cors import CORSMiddleware\napp = FastAPI()\napp.add_middleware(CORSMiddleware, allow_origins=['http://localhost:3000', 'https://app.example.com'])\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index):
            return
        for relpath, facts in app_modules(index):
            reported: set[int] = set()
            for read in facts.env_reads:
                default = (read.default or "").strip("'\"")
                if not default or read.default[:1] not in "'\"":
                    continue
                if DB_ENV_NAME.search(read.name or "") or re.match(r"^\w+(\+\w+)?://", default) and "sqlite" in default.lower():
                    reported.add(read.span.line)
                    yield self.at(relpath, read.span, f"{read.name} falls back to a hard-coded database location ({short(default)})")
                elif LOCALHOST.search(default):
                    reported.add(read.span.line)
                    yield self.at(relpath, read.span, f"{read.name} falls back to a local address ({short(default)})", severity=Severity.LOW)
            for line, url in facts.url_literals:
                if line in reported or url.rstrip("/") in {"sqlite:", "sqlite://"} or ":memory:" in url or url.endswith("://"):
                    continue
                yield self.at(relpath, ast.Constant(lineno=line, col_offset=0), f"database URL written in the code ({short(url)})")
            for site in facts.middleware:
                origins = site.kwargs.get("allow_origins", "")
                if origins.startswith(("[", "(")) and re.search(r"https?://", origins):
                    yield self.at(relpath, site.span, f"allowed CORS origins written in the code ({short(origins)}): each environment has its own", severity=Severity.LOW)


def short(text: str) -> str:
    text = mask_secrets(text)  # the same masking as the reports' code excerpts
    return text if len(text) <= 50 else text[:47] + "..."


@register
class SqliteDefaultForServerDatabase(ProjectRule):
    code = "PR411"
    name = "sqlite-default-for-server-db"
    category = Category.STAGING
    severity = Severity.MEDIUM
    impact = (
        "If the database variable is missing in production, the app quietly starts on an empty SQLite "
        "file: users see their data vanish and new data is written to a file that disappears on redeploy."
    )
    fix_summary = "Removes the SQLite fallback so the app refuses to start without the server database URL."
    doc = """
## What it does
Reports a SQLite URL used as a fallback or default in the app's code when the project targets a
server database (PostgreSQL or MySQL drivers in its imports or requirements, or server URLs in
the code).

## Why is this bad in production
The fallback turns a configuration mistake into silent data loss: the app runs, answers 200,
and writes to a local file that no backup covers and the next deploy throws away. SQLite also
behaves differently (types, locking, constraints) from the database you test against.

## Example
```python
DATABASE_URL = os.getenv("DATABASE_URL", "sqlite:///./app.db")  # psycopg2 in requirements.txt
```

## Use instead
```python
DATABASE_URL = os.environ["DATABASE_URL"]  # or a required field of the settings object
```

## Fix safety
Review: local development must now set DATABASE_URL (e.g. in .env).
"""
    VALID = [
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nDATABASE_URL = os.getenv('DATABASE_URL', 'sqlite:///./app.db')\n",
        {
            "requirements.txt": "fastapi\npsycopg2-binary\n",
            "app/main.py": "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nDATABASE_URL = os.environ['DATABASE_URL']\n",
        },
    ]
    INVALID = [
        {
            "requirements.txt": "fastapi\npsycopg2-binary\n",
            "app/main.py": "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nDATABASE_URL = os.getenv('DATABASE_URL', 'sqlite:///./app.db')\n",
        },
        "import os\nimport psycopg2\nfrom flask import Flask\napp = Flask(__name__)\nDSN = os.environ.get('DATABASE_URL') or 'sqlite:///local.db'\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index) or not self.targets_server_database(index):
            return
        for relpath, facts in app_modules(index):
            for line, url in facts.url_literals:
                if url.lower().startswith("sqlite") and ":memory:" not in url and url.rstrip("/") not in {"sqlite:", "sqlite://"}:
                    yield self.at(relpath, ast.Constant(lineno=line, col_offset=0), f"SQLite fallback ({short(url)}) in an app that runs on a server database")

    @staticmethod
    def targets_server_database(index) -> bool:
        if {"postgresql", "mysql"} & index.databases:
            return True
        if {"psycopg2", "psycopg", "asyncpg", "pymysql", "MySQLdb", "aiomysql"} & index.imported_packages:
            return True
        for relpath in index.other_files:
            name = relpath.rpartition("/")[2]
            if (name.startswith("requirements") and name.endswith(".txt")) or name in {"pyproject.toml", "Pipfile", "setup.cfg"}:
                if SERVER_DRIVERS.search(index.source(relpath)):
                    return True
        return any(url.startswith(("postgres", "mysql", "mariadb")) for _, f in app_modules(index) for _, url in f.url_literals)


def base_names(index) -> set[str]:
    return {relpath.rpartition("/")[2] for relpath in index.other_files}


PLATFORM_VARS = frozenset({"PORT", "HOST", "HOME", "PATH", "PYTHONPATH", "TZ", "WEB_CONCURRENCY", "USER", "PWD"})
PLACEHOLDER = re.compile(
    r"^$|change|replace|your[-_]|^<.*>$|^\$\{.*\}$|example|placeholder|dummy|^x+$|^\*+$|todo|fixme|^dev|^test|^local|^secret$|^password$",
    re.I,
)


def setting_names(index, classes: list[tuple[str, str]], reads: dict[str, list]) -> set[str]:
    """Upper-case names of the variables the app reads: env reads and settings-class fields."""
    names = {read.name.upper() for module_reads in reads.values() for read in module_reads if read.name}
    for relpath, name in classes:
        node = NoEnvExample.class_line(index, relpath, name)
        for stmt in getattr(node, "body", []):
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id != "model_config":
                names.add(stmt.target.id.upper())
    return names - PLATFORM_VARS


def dotenv_values(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip().upper()] = value.split(" #")[0].strip().strip("'\"")
    return values


def env_template_lists_everything(index, classes: list[tuple[str, str]], reads: dict[str, list]) -> bool:
    """A committed `.env` (not ignored, so it travels with the code) that names every setting the
    app reads, with placeholder values: empty, `change-me`, `<your key>`, `${VAR}`, local defaults.
    A `.env` holding a real-looking credential is no template."""
    from auditor.rules.hardening import secret_value

    found = [rel for rel in index.other_files if rel.rpartition("/")[2] == ".env"]
    if not found:
        return False
    values: dict[str, str] = {}
    for rel in found:
        values.update(dotenv_values(index.source(rel)))
    needed = setting_names(index, classes, reads)
    keys = set(values)
    if not needed or not all(n in keys or any(k.endswith("_" + n) for k in keys) for n in needed):  # env_prefix
        return False
    return not any(secret_value(value, key.lower()) and not PLACEHOLDER.search(value) for key, value in values.items())


@register
class NoEnvExample(ProjectRule):
    code = "PR420"
    name = "no-env-example"
    category = Category.STAGING
    severity = Severity.LOW
    impact = (
        "Setting up a new server or staging environment is guesswork: nobody knows which variables "
        "the app needs until it crashes without one."
    )
    fix_summary = "Adds a .env.example listing every setting the app reads, with safe placeholder values."
    doc = """
## What it does
Reports a web app that reads settings from the environment but ships no `.env.example` (or
`.env.sample` / `.env.template`) listing them. A committed `.env` (not ignored by git) that
names every setting with placeholder values (empty, `change-me`, local defaults; no real
credential) counts as the list.

## Why is this bad in production
The list of required variables lives only in the code. Each new environment (staging, a
teammate's machine, a new region) is configured by trial and error, and a forgotten variable
surfaces as a runtime error.

## Example
```text
app/config.py reads DATABASE_URL, SECRET_KEY, SMTP_HOST ... and the repository has no .env.example
```

## Use instead
```text
# .env.example
DATABASE_URL=postgresql://user:password@localhost:5432/app
SECRET_KEY=change-me
SMTP_HOST=
```

## Fix safety
Safe: adds a new file with placeholder values and no secrets.
"""
    VALID = [
        {".env.example": "DATABASE_URL=\n", "app/main.py": "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nURL = os.getenv('DATABASE_URL', '')\n"},
        "from fastapi import FastAPI\napp = FastAPI()\n",
        "import os\nHOME = os.getenv('HOME')\n",
        # A committed .env with a placeholder for every setting is the list.
        {".env": "DATABASE_URL=sqlite:///./dev.db\nSECRET_KEY=change-me\n", "app/main.py": "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nURL = os.getenv('DATABASE_URL', '')\nKEY = os.environ['SECRET_KEY']\n"},
    ]
    INVALID = [
        "import os\nfrom fastapi import FastAPI\napp = FastAPI()\nURL = os.getenv('DATABASE_URL', '')\n",
        {
            "app/settings.py": "from pydantic_settings import BaseSettings\nclass Settings(BaseSettings):\n    database_url: str\n",
            "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        },
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index):
            return
        classes = settings_classes(index)
        reads = app_env_reads(index)
        if not classes and not reads:
            return
        names = base_names(index)
        if any(name in names or (index.root / name).exists() for name in ENV_EXAMPLES):
            return
        if env_template_lists_everything(index, classes, reads):
            return  # a committed .env with placeholder values already is the list
        if classes:
            relpath, name = classes[0]
            anchor = (relpath, self.class_line(index, relpath, name))
        else:
            anchor = app_anchor(index)
        if anchor:
            yield self.at(anchor[0], anchor[1], "no .env.example: the settings this app needs are listed nowhere outside the code")

    @staticmethod
    def class_line(index, relpath: str, name: str):
        for stmt in index.tree(relpath).body:
            if isinstance(stmt, ast.ClassDef) and stmt.name == name:
                return stmt
        return ast.Constant(lineno=1, col_offset=0)


@register
class NoStagingConfig(ProjectRule):
    code = "PR421"
    name = "no-staging-config"
    category = Category.STAGING
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "There is no way to run a copy of the app that behaves like production but is safe to break, "
        "so every change is first tried on real users."
    )
    fix_summary = "Adds an environment setting (development/staging/production) and a .env.staging with staging's non-secret values."
    doc = """
## What it does
Reports a web app with no sign of separate environments: no environment setting
(`ENVIRONMENT`, `APP_ENV`, `FLASK_ENV`, an `environment` field in the settings class), and no
staging or production configuration file (`.env.staging`, `config/production.yaml`...).
Configuration that is already environment-driven is not reported: a settings class
(pydantic-settings) with no debug switch fixed in code, per-environment config classes
(`ProductionConfig`), Flask's `from_prefixed_env()` / `from_envvar()`, or both the database URL
and the app's secret key read from the environment.

## Why is this bad in production
Without an environment switch, the same debug flags, docs, log levels and third-party keys
apply everywhere, and there is no staging copy in which to try a migration or a new release
before customers see it.

## Example
```python
app = FastAPI(debug=True)  # the same in every environment
```

## Use instead
```python
class Settings(BaseSettings):
    environment: Literal["development", "staging", "production"] = "development"
# plus .env.staging with staging's (non-secret) values
```

## Fix safety
Safe: adds a setting and a file; current behaviour stays the default.
"""
    VALID = [
        {".env.staging": "APP_ENVIRONMENT=staging\n", "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n"},
        "import os\nfrom flask import Flask\napp = Flask(__name__)\nENVIRONMENT = os.getenv('APP_ENV', 'development')\n",
        {
            "app/settings.py": "from pydantic_settings import BaseSettings\nclass Settings(BaseSettings):\n    environment: str = 'development'\n",
            "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
        },
        "def not_a_web_app():\n    return 1\n",
        # Per-environment config classes chosen by name at startup.
        "from flask import Flask\nclass Config:\n    DEBUG = False\nclass DevelopmentConfig(Config):\n    DEBUG = True\nclass ProductionConfig(Config):\n    pass\napp = Flask(__name__)\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI(debug=True)\n",
        "import os\nfrom flask import Flask\napp = Flask(__name__)\napp.config['DATABASE'] = os.getenv('DATABASE_PATH', 'app.db')\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index):
            return
        if any(re.search(r"staging|production|\bprod\b", name, re.I) for name in base_names(index)):
            return
        if any(re.search(r"(^|/)(staging|production|prod)(\.py|/)", relpath) for relpath in index.modules):
            return
        if any(ENVIRONMENT_VARS.search(read.name or "") for reads in app_env_reads(index).values() for read in reads):
            return
        for relpath, name in settings_classes(index):
            node = NoEnvExample.class_line(index, relpath, name)
            fields = {s.target.id for s in getattr(node, "body", []) if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
            if fields & {"environment", "env", "app_env", "stage"}:
                return
        if self.environment_driven(index):
            return
        anchor = app_anchor(index)
        if anchor:
            yield self.at(anchor[0], anchor[1], "no staging or per-environment configuration: every environment runs with the same settings")


    @staticmethod
    def environment_driven(index) -> bool:
        """Each environment already gets its own values without code changes: a settings class
        every field of which the environment overrides, per-environment config classes
        (`ProductionConfig`), Flask's `from_envvar`/`from_prefixed_env`, or both the database URL
        and the secret key read from the environment."""
        for relpath, facts in app_modules(index):
            if any(PER_ENV_CLASS.search(name) for name in facts.classes):
                return True
            if facts.routers and FIXED_DEBUG.search(index.source(relpath)):
                return False  # `FastAPI(debug=True)`: the same switch in every environment
        if settings_classes(index):
            return True
        for relpath, facts in app_modules(index):
            if (facts.env_reads or facts.routers) and CONFIG_FROM_ENV.search(index.source(relpath)):
                return True
        names = {read.name or "" for reads in app_env_reads(index).values() for read in reads}
        return any(DB_ENV_NAME.search(n) for n in names) and any(APP_SECRET.match(n) for n in names)


@register
class DocsExposedInProduction(ProjectRule):
    code = "PR422"
    name = "docs-exposed-in-production"
    category = Category.STAGING
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "Anyone on the internet can browse a full map of your API, including admin and internal "
        "endpoints, and call them from the built-in test page."
    )
    fix_summary = "Turns the interactive docs and the OpenAPI schema off in production (docs_url/openapi_url from settings)."
    doc = """
## What it does
Reports FastAPI apps whose OpenAPI schema is served in every environment (`openapi_url` not
given, or a fixed path), so `/openapi.json` and with it `/docs` and `/redoc` are public
everywhere, and debug routes (`/debug...`) registered unconditionally.

## Why is this bad in production
The schema lists every route and parameter, which is a ready-made map for anyone probing the
API. Debug routes often dump settings or internal state. Both are useful in development and
staging, rarely in production.

## Example
```python
app = FastAPI(title="TaskFlow API")
```

## Use instead
```python
app = FastAPI(
    title="TaskFlow API",
    docs_url="/docs" if settings.docs_enabled else None,
    openapi_url="/openapi.json" if settings.docs_enabled else None,
)
```

## Fix safety
Review: the docs disappear where the setting turns them off; a public API may want to keep them.
"""
    VALID = [
        "from fastapi import FastAPI\nDOCS = False\napp = FastAPI(docs_url='/docs' if DOCS else None, openapi_url='/openapi.json' if DOCS else None)\n",
        "from fastapi import FastAPI\napp = FastAPI(openapi_url=None)\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/items')\ndef items():\n    return []\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI(title='TaskFlow API')\n",
        "from fastapi import FastAPI\nPREFIX = '/api/v1'\napp = FastAPI(docs_url=None, openapi_url=f'{PREFIX}/openapi.json')\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/debug/config')\ndef dump():\n    return dict(app.config)\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index):
            return
        for qualified, (relpath, decl) in sorted(index.routers.items()):
            if decl.kind != "fastapi-app" or is_test_or_script(relpath):
                continue
            call = call_at(index, relpath, decl.span.line, "FastAPI")
            if call is None:
                continue
            keywords = {k.arg: k.value for k in call.keywords}
            if None in keywords:
                continue  # FastAPI(**options): configured elsewhere
            if not self.always_on(keywords.get("openapi_url")):
                continue  # the schema (and with it the docs) can be switched off per environment
            yield self.at(relpath, decl.span, "API docs and the OpenAPI schema are served in every environment (docs_url/openapi_url not set per environment)")
        for route in index.routes:
            if re.search(r"(^|/)_?debug\b", route.path) and not is_test_or_script(route.relpath):
                yield self.at(route.relpath, route.span, f"debug route {route.label()} is registered in every environment")

    @staticmethod
    def always_on(value: ast.AST | None) -> bool:
        """Not given (FastAPI's default is on), or a fixed path: `"/openapi.json"`, `f"{PREFIX}/openapi.json"`."""
        return value is None or isinstance(value, ast.JoinedStr) or (isinstance(value, ast.Constant) and bool(value.value))


@register
class NoHealthEndpoint(ProjectRule):
    code = "PR430"
    name = "no-health-endpoint"
    category = Category.STAGING
    severity = Severity.LOW
    impact = (
        "Without a health endpoint the load balancer or platform cannot tell a broken instance from a "
        "working one: it keeps sending users to an app whose database is down."
    )
    fix_summary = "Adds a /health route that answers 200, or 503 when the database it can reach is down."
    doc = """
## What it does
Reports a web app (FastAPI or Flask routes found) that has no health-check route such as
`/health`, `/healthz` or `/ready`. A `GET /` that answers a status (`{"status": "ok"}`,
`"OK"`) is taken as the health check; a welcome banner or a page is not.

## Why is this bad in production
Deploy platforms, load balancers and uptime monitors need one cheap URL that says whether this
instance can serve traffic. Without it, a bad deploy or a lost database connection keeps
receiving users until someone notices by hand.

## Example
```python
app = FastAPI()

@app.get("/tasks")
def list_tasks(): ...
```

## Use instead
```python
@app.get("/health")
def health(db: Session = Depends(get_db)):
    db.execute(text("SELECT 1"))
    return {"status": "ok"}
```

## Fix safety
Safe: adds a new route and changes no existing one.
"""
    VALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/tasks')\ndef tasks():\n    return []\n@app.get('/health')\ndef health():\n    return {}\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/healthz')\ndef hz():\n    return 'ok'\n",
        "def not_a_web_app():\n    return 1\n",
        {"tests/test_app.py": "from flask import Flask\napp = Flask(__name__)\n@app.route('/items')\ndef items():\n    return []\n"},
        # The root answers a status: that is what platforms probe by default.
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef root():\n    return {'status': 'ok'}\n@app.get('/tasks')\ndef tasks():\n    return []\n",
    ]
    INVALID = [
        "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/tasks')\ndef tasks():\n    return []\n",
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/items')\ndef items():\n    return []\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        routes = [r for r in index.routes if not is_test_or_script(r.relpath)]
        if not routes or any(HEALTH_PATH.search(r.path) for r in routes):
            return
        if any(r.path == "/" and "GET" in r.methods and self.answers_status(index, r) for r in routes):
            return  # `GET /` answering {"status": "ok"} is the health check platforms probe by default
        apps = sorted((rel, decl) for rel, decl in index.routers.values() if decl.kind.endswith("-app") and not is_test_or_script(rel))
        anchor = (apps[0][0], apps[0][1].span) if apps else (routes[0].relpath, routes[0].span)
        yield self.at(anchor[0], anchor[1], "no health-check route (/health): platforms cannot tell when this app is broken")


    @staticmethod
    def answers_status(index, route) -> bool:
        """Every return of the handler is a small status answer: `{"status": "ok"}`, `"OK"`,
        `jsonify(status="up")` (not a page, data, or a welcome banner)."""
        node = index.function_node(route.relpath, route.handler.qualname)
        returns = [n.value for n in ast.walk(node) if isinstance(n, ast.Return)] if node else []
        return bool(returns) and all(status_answer(value) for value in returns)


STATUS_KEYS = frozenset({"status", "health", "healthy", "ok", "alive", "ready", "state"})
STATUS_WORDS = re.compile(r"^(ok|okay|healthy|up|alive|ready|running|pong)$", re.I)


def status_answer(value: ast.AST | None) -> bool:
    while isinstance(value, (ast.Tuple, ast.Call)):  # `return {...}, 200` / jsonify({...}) / JSONResponse({...})
        if isinstance(value, ast.Tuple):
            value = value.elts[0] if value.elts else None
        elif (dotted(value.func) or "").rpartition(".")[2] in {"jsonify", "JSONResponse", "PlainTextResponse", "dict", "make_response"}:
            if not value.args and value.keywords:
                return any(k.arg in STATUS_KEYS for k in value.keywords)
            value = value.args[0] if value.args else None
        else:
            return False
    if isinstance(value, ast.Constant):
        return isinstance(value.value, str) and bool(STATUS_WORDS.search(value.value))
    if isinstance(value, ast.Dict):
        keys = [k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        words = [v.value for v in value.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
        # A status field or a status word; a welcome banner ({"message": "API is running"}) is not one.
        return len(keys) == len(value.keys) and (bool(STATUS_KEYS & set(keys)) or any(STATUS_WORDS.search(w) for w in words))
    return False


FAILURE_KINDS = {
    # A 400 alone may be any rejection (a duplicate, a business rule): look for 422 or a broken body.
    "invalid input (422, blank or malformed bodies)": re.compile(
        r"\b422\b|HTTP_422|UNPROCESSABLE|json=\{\}|json=None|data=(\"\"|'')|invalid|malformed|blank|wrong_type", re.I
    ),
    "duplicates (409)": re.compile(r"\b409\b|HTTP_409|CONFLICT|IntegrityError|duplicate", re.I),
    "expired tokens": re.compile(r"expire", re.I),
    "concurrent requests": re.compile(r"ThreadPoolExecutor|threading|asyncio\.gather|Barrier|concurrent"),
}
def is_test_module(relpath: str) -> bool:
    """test_x.py, x_test.py, conftest.py, and Django-style tests.py / test.py."""
    name = relpath.rpartition("/")[2]
    return name.startswith(("test_", "conftest")) or name.endswith("_test.py") or name in {"tests.py", "test.py"}


TOKEN_PACKAGES = {"jwt", "jose", "itsdangerous", "authlib", "flask_jwt_extended", "fastapi_users", "paseto"}


@register
class NoFailurePathTests(ProjectRule):
    code = "PR431"
    name = "no-failure-path-tests"
    category = Category.STAGING
    severity = Severity.LOW
    confidence = Confidence.MEDIUM
    impact = (
        "The tests only prove the happy path works; the ways real users break things — bad input, double "
        "submits, expired logins — are first tried in production."
    )
    fix_summary = "Adds tests that send invalid input, repeat a create, and use expired or missing tokens, asserting the 4xx answers."
    doc = """
## What it does
Looks at the project's test files and reports a web app whose tests leave out two or more of
these failure paths: invalid input (422, blank or malformed bodies), duplicates (409), expired tokens (when the app
issues tokens) and concurrent requests. Also reports a web app with no tests (`test_*.py`,
`*_test.py`, `conftest.py` and Django-style `tests.py` count).

## Why is this bad in production
Most production incidents come from the unhappy paths: a blank form, a retried payment, a
token that expired overnight. If no test sends them, nobody knows whether the app answers with
a clean 4xx or a 500 and a half-written record.

## Example
```python
def test_create_order(client):
    assert client.post("/orders", json=ORDER).status_code == 201
```

## Use instead
```python
def test_blank_order_is_422(client):
    assert client.post("/orders", json={}).status_code == 422

def test_repeated_order_is_not_duplicated(client):
    ...
```

## Fix safety
Safe: adds test files only.
"""
    VALID = [
        {
            "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n@app.post('/orders')\ndef order():\n    return {}\n",
            "tests/test_orders.py": "def test_blank(client):\n    assert client.post('/orders', json={}).status_code == 422\n"
            "def test_anonymous(client):\n    assert client.get('/orders').status_code == 401\n"
            "def test_duplicate(client):\n    assert client.post('/orders').status_code == 409\n",
        },
        "def not_a_web_app():\n    return 1\n",
    ]
    INVALID = [
        {
            "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n@app.post('/orders')\ndef order():\n    return {}\n",
            "tests/test_orders.py": "def test_create(client):\n    assert client.post('/orders', json={'qty': 1}).status_code == 200\n",
        },
        "from flask import Flask\napp = Flask(__name__)\n@app.route('/items')\ndef items():\n    return []\n",
    ]

    def check(self, index) -> Iterable[Finding]:
        if not is_web_project(index):
            return
        tests = [rel for rel in index.modules if is_test_module(rel)]
        if not tests:
            anchor = app_anchor(index)
            if anchor:
                yield self.at(anchor[0], anchor[1], "no tests found: no failure path (bad input, duplicates, expired tokens) is tested")
            return
        text = "\n".join(index.source(rel) for rel in sorted(tests))
        kinds = {k: p for k, p in FAILURE_KINDS.items() if k != "expired tokens" or TOKEN_PACKAGES & index.imported_packages}
        missing = [kind for kind, pattern in kinds.items() if not pattern.search(text)]
        if len(missing) < 2:
            return
        first = sorted(t for t in tests if "conftest" not in t) or sorted(tests)
        yield self.at(first[0], ast.Constant(lineno=1, col_offset=0), f"the tests never exercise: {', '.join(missing)}")

"""Step 2 — infrastructure (PR22x): secrets in source, debug switches, CORS and cookies."""

from __future__ import annotations

import ast
import re

from auditor.index.project import is_script_path
from auditor.models import Category, Confidence, Severity
from auditor.rules.base import ModuleRule, register
from auditor.rules.tokens import JWT_DECODE, JWT_ENCODE
from auditor.walk import ModuleContext, const_str, dotted, kwarg

SECRET_NAME = re.compile(
    r"(secret|passw(or)?d|(^|_)pwd$|api_?key|apikey|access_?key|private_?key|auth_?token|access_?token|(^|_)token$|"
    r"signing_?key|client_?secret|credentials?$|(^|_)dsn$)",
    re.I,
)
STRONG_NAME = re.compile(r"(secret|passw(or)?d|(^|_)pwd$|api_?key|apikey|access_?key|private_?key|signing_?key)", re.I)
NOT_A_VALUE = re.compile(r"[][(){}|\\^]|%\(|%s")  # regular expressions, templates, format strings
NOT_A_SECRET = re.compile(
    r"(_url|_uri|_path|_file|_field|_header|_name|_length|_len|_ttl|_minutes|_seconds|_days|_hours|_expires?|_expiry|"
    r"_algorithm|_alg|_prefix|_type|_env|_var|_id|_endpoint|_param|_cookie|_label|_format|_pattern|_regex|_timeout|"
    r"_lifetime|_scheme|_location|_policy|_hint|_reset|_required|_min_\w+|_max_\w+)$|^(max|min|num|is|has)_",
    re.I,
)
KNOWN_KEY = re.compile(
    r"^(sk|rk)_(live|test)_[0-9A-Za-z]{8,}|^AKIA[0-9A-Z]{16}$|^gh[pousr]_[0-9A-Za-z]{20,}|^xox[abpr]-[0-9A-Za-z-]{10,}|"
    r"^AIza[0-9A-Za-z_-]{30,}|-----BEGIN( RSA| EC| OPENSSH)? PRIVATE KEY-----"
)
DSN_WITH_PASSWORD = re.compile(r"^[a-z][\w+.-]*://[^:/@\s]+:([^@/\s]+)@([^/:?\s]+)", re.I)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "0.0.0.0", "db", "postgres", "postgresql", "mysql", "database", "host.docker.internal"})
ENV_METHODS = frozenset({"getenv", "get", "setdefault", "getenvb"})
ENV_READS = frozenset({"os.getenv", "os.environ.get", "os.environ.setdefault", "environ.get", "os.getenvb"})
WEB_MODULES = ("fastapi", "flask", "starlette", "quart", "uvicorn", "django", "sanic")


def _name_of(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript):
        return const_str(target.slice)
    return None


def secret_name(name: str | None) -> bool:
    return bool(name) and bool(SECRET_NAME.search(name)) and not NOT_A_SECRET.search(name)


SIGNING_NAME = re.compile(r"(^|_)(secret(_?key)?|signing_?key|jwt_?key|session_?key)$", re.I)
WEAK_WORDS = re.compile(r"^(secret|changeme|change[-_ ]?me|change[-_ ]?this|password|default|dev|development|test|testing|key|"
                        r"mysecret|my[-_]?secret[-_]?key|secret[-_]?key|supersecret|your[-_]?secret[-_]?key(?:[-_]?here)?|"
                        r"xxx+|abc\d*|123\d*|qwerty|foo|bar|example|insecure|placeholder|todo)$", re.I)


def weak_secret(value: str) -> bool:
    """A guessable signing secret: a placeholder word, short, or of few distinct characters."""
    return bool(WEAK_WORDS.match(value)) or len(value) < 16 or len(set(value)) <= 6


def signing_secret(value: str, name: str | None) -> bool:
    """A literal given to a signing secret (SECRET_KEY, app.secret_key, JWT_SECRET...): any such
    value is in the code, and masks or words that would pass as labels elsewhere are weak keys here."""
    if not name or not SIGNING_NAME.search(name) or NOT_A_SECRET.search(name) or not value:
        return False
    if any(c.isspace() for c in value) or value.startswith(("/", "http", "$", "<", "{")) or NOT_A_VALUE.search(value):
        return False
    return not re.fullmatch(r"[A-Z][A-Z0-9_]+", value) or bool(WEAK_WORDS.match(value))  # not an env var's name


def secret_value(value: str, name: str | None) -> bool:
    """A literal that looks like a real credential (not a label, a pattern, a mask, an env var name or a URL)."""
    if KNOWN_KEY.search(value) or signing_secret(value, name):
        return True
    dsn = DSN_WITH_PASSWORD.match(value)
    if dsn:
        return dsn.group(2).lower() not in LOCAL_HOSTS and not dsn.group(1).startswith(("$", "{", "<"))
    if not name or not name.isidentifier() or not secret_name(name) or len(value) < 3:
        return False
    if any(c.isspace() for c in value) or value.startswith(("/", "http", "$", "<")) or NOT_A_VALUE.search(value):
        return False
    if value.lower() in {name.lower(), "true", "false", "none", "null"} or re.fullmatch(r"[A-Z][A-Z0-9_]+", value):
        return False  # a boolean, or the name of an environment variable
    if len(set(value)) <= 2 or SECRET_NAME.fullmatch(value.lower()):
        return False  # a mask ("********") or a field name (password="passwd")
    if not STRONG_NAME.search(name):  # "token" names many things: demand something that looks generated
        return len(value) >= 16 and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
    return True


def _is_settings_class(node: ast.ClassDef | None, ctx: ModuleContext) -> bool:
    return node is not None and any((ctx.resolve(b) or "").endswith("BaseSettings") for b in node.bases)


def _active(ctx: ModuleContext) -> bool:
    return not is_script_path(ctx.relpath)


@register
class HardcodedSecret(ModuleRule):
    code = "PR220"
    name = "hardcoded-secret"
    category = Category.SECRETS
    severity = Severity.HIGH
    impact = (
        "The secret is in the code, so everyone who can read the repository — and every copy of it — can "
        "sign session tokens as any user or call the paid API on your account."
    )
    fix_summary = "Reads the secret from an environment variable (failing at start-up when it is missing)."
    doc = """
## What it does
Finds secret keys, passwords, API keys and tokens written as string literals in source: an
assignment or keyword argument whose name says secret/password/api_key/token, a literal key
passed to `jwt.encode`/`jwt.decode`, values in well-known key formats (`sk_live_...`,
`AKIA...`, private key blocks) and database URLs with a password for a non-local host.
A signing secret (`SECRET_KEY`, `app.secret_key`, `JWT_SECRET`, a literal JWT key) written as
a placeholder word (`'secret'`, `'changeme'`), shorter than 16 characters or made of a few
repeated characters (`'aaaaaaa'`) is reported as a weak placeholder.
Tests, scripts and local development URLs are left out.

## Why is this bad in production
Source code is copied everywhere: laptops, CI logs, forks, backups. A committed key stays in
the git history even after it is removed, and with the session or JWT key anyone can mint
a valid login for any user.

## Example
```python
SECRET_KEY = "supersecret123"
app.secret_key = "dev-secret"
```

## Use instead
```python
SECRET_KEY = os.environ["SECRET_KEY"]
```

## Fix safety
Review: the app needs the variable set in every environment; rotate the exposed secret too.
"""
    VALID = [
        """
import os
from fastapi.security import OAuth2PasswordBearer
SECRET_KEY = os.environ["SECRET_KEY"]
TOKEN_URL = "/auth/token"
PASSWORD_MIN_LENGTH = 12
API_KEY_HEADER = "X-API-Key"
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login")
token_type = "bearer"
password_prompt = "Enter your password: "
SECRET_ENV = "APP_SECRET"
DATABASE_URL = "postgresql://postgres:postgres@localhost:5432/dev"
def login(form):
    return {"access_token": make(form), "token_type": "bearer"}
""",
        {"tests/conftest.py": "SECRET_KEY = 'test-secret-0123456789'\n"},
    ]
    INVALID = [
        "SECRET_KEY = 'supersecret123'\n",
        "from flask import Flask\napp = Flask(__name__)\napp.secret_key = 'dev-secret'\napp.config['JWT_SECRET_KEY'] = 'k3y'\n",
        "STRIPE = 'sk_live_51HqLyjWDarjtT1zdp7dc'\nDB = 'postgresql://app:hunter22@db.prod.example.com/app'\n",
        "from flask import Flask\napp = Flask(__name__)\napp.config['SECRET_KEY'] = 'aaaaaaa'\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = _active(ctx)

    def _check(self, ctx: ModuleContext, node: ast.AST, name: str | None, value: ast.AST | None, label: str | None = None) -> None:
        text = const_str(value)
        if text and secret_value(text, name):
            what = label or name or "a credential"
            if (label or SIGNING_NAME.search(name or "")) and weak_secret(text):
                self.report(
                    ctx, node,
                    f"{what} is a weak placeholder ({len(text)} characters, easy to guess) hard-coded in source: "
                    "anyone can sign sessions or tokens with it; read a long random value from the environment",
                )
                return
            self.report(ctx, node, f"{what} is hard-coded in source: read it from the environment and rotate it")

    def visit_Assign(self, node: ast.Assign | ast.AnnAssign, ctx: ModuleContext) -> None:
        if not self.active or const_str(node.value) is None or _is_settings_class(ctx.enclosing_class(), ctx):
            return  # settings defaults are PR221's business
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            self._check(ctx, node, _name_of(target), node.value)

    visit_AnnAssign = visit_Assign

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active:
            return
        func = ctx.resolve(node.func) if len(node.args) > 1 or node.keywords else None
        if func in JWT_ENCODE | JWT_DECODE and len(node.args) > 1:
            self._check(ctx, node.args[1], "signing_key", node.args[1], label="the JWT signing key")
            return
        if func in ENV_READS:
            return  # fallbacks are PR221's business
        for keyword in node.keywords:
            if keyword.arg:
                self._check(ctx, keyword.value, keyword.arg, keyword.value)

    def visit_Dict(self, node: ast.Dict, ctx: ModuleContext) -> None:
        if self.active:
            for key, value in zip(node.keys, node.values):
                name = const_str(key)
                if name and name[:1].isupper() and any(c.islower() for c in name):
                    continue  # a display label ({"Password": "Updated."}), not a setting
                self._check(ctx, value, name, value)


@register
class SecretWithLiteralFallback(ModuleRule):
    code = "PR221"
    name = "secret-with-literal-fallback"
    category = Category.SECRETS
    severity = Severity.HIGH
    impact = (
        "If the variable is missing in production, the app starts anyway with a key everyone can read in "
        "the code — and tokens signed with it are accepted."
    )
    fix_summary = (
        "Replaces the literal with a random value: used in development only, the app refusing to start "
        "elsewhere until the real secret is set; in a plain config class, one per process."
    )
    doc = """
## What it does
Finds secrets read from the environment with a literal fallback —
`os.getenv("SECRET_KEY", "dev")`, `os.environ.get(...) or "changeme"`, a settings field
`jwt_secret: str = "change-me"` — where a missing variable silently means a known value.
A random fallback (`secrets.token_hex()`) or no fallback at all is fine.

## Why is this bad in production
Deploys lose environment variables: a renamed key, a new host, a typo. With a literal
fallback nothing fails; the app runs on the development secret, and anyone who has seen the
code can forge sessions and tokens.

## Example
```python
SECRET_KEY = os.getenv("SECRET_KEY", "dev")
```

## Use instead
```python
SECRET_KEY = os.environ["SECRET_KEY"]  # KeyError at start-up when missing
```

## Fix safety
Review: the app no longer starts without the variable.
"""
    VALID = [
        """
import os, secrets
from pydantic import SecretStr
from pydantic_settings import BaseSettings
SECRET_KEY = os.environ["SECRET_KEY"]
SESSION_KEY = os.getenv("SESSION_KEY") or secrets.token_hex(32)
API_KEY = os.getenv("API_KEY", "")
PASSWORD_MIN = int(os.getenv("PASSWORD_MIN_LENGTH", "12"))
class Settings(BaseSettings):
    jwt_secret: SecretStr
    payments_api_key: SecretStr = SecretStr("")
    jwt_algorithm: str = "HS256"
""",
    ]
    INVALID = [
        "import os\nSECRET_KEY = os.getenv('SECRET_KEY', 'dev')\n",
        "import os\nAPI_KEY = os.environ.get('PAYMENT_API_KEY') or 'sk_test_123456789'\n",
        "from pydantic_settings import BaseSettings\nclass Settings(BaseSettings):\n    jwt_secret: str = 'change-me'\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = _active(ctx)

    @staticmethod
    def _env_secret(node: ast.AST, ctx: ModuleContext) -> bool:
        return (
            isinstance(node, ast.Call)
            and ctx.resolve(node.func) in ENV_READS
            and bool(node.args)
            and secret_name(const_str(node.args[0]))
        )

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if self.active and isinstance(node.func, ast.Attribute) and node.func.attr in ENV_METHODS and self._env_secret(node, ctx):
            default = node.args[1] if len(node.args) > 1 else kwarg(node, "default")
            if const_str(default):
                self.report(ctx, node, f"{const_str(node.args[0])} falls back to a literal when the variable is missing: fail at start-up instead")

    def visit_BoolOp(self, node: ast.BoolOp, ctx: ModuleContext) -> None:
        if self.active and isinstance(node.op, ast.Or) and self._env_secret(node.values[0], ctx) and const_str(node.values[-1]):
            self.report(ctx, node, f"{const_str(node.values[0].args[0])} falls back to a literal when the variable is missing: fail at start-up instead")

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: ModuleContext) -> None:
        if not (self.active and isinstance(node.target, ast.Name) and secret_name(node.target.id)):
            return
        if not _is_settings_class(ctx.enclosing_class(), ctx):
            return
        value = node.value
        if isinstance(value, ast.Call) and (dotted(value.func) or "").rpartition(".")[2] in {"SecretStr", "Field"}:
            value = value.args[0] if value.args else kwarg(value, "default")
        if const_str(value):
            self.report(ctx, node, f"setting {node.target.id} has a literal default: a missing variable means a known secret")


@register
class DebugModeEnabled(ModuleRule):
    code = "PR222"
    name = "debug-mode-enabled"
    category = Category.SECRETS
    severity = Severity.HIGH
    impact = (
        "Error pages show source code, settings and secrets to whoever triggers an error; with Flask's "
        "debugger they can even run their own code on the server."
    )
    fix_summary = "Reads the debug and reload switches from the environment, off unless development asks for them."
    doc = """
## What it does
Finds debug switches hard-wired on: `app.run(debug=True)` (Flask), `FastAPI(debug=True)` /
`Starlette(debug=True)`, `app.debug = True`, `app.config["DEBUG"] = True`, and
`uvicorn.run(..., reload=True)` in the entry point.

## Why is this bad in production
The entry point that runs in development is often the one that gets deployed. Flask's
debugger is an interactive Python console in the browser; FastAPI's debug mode returns
tracebacks; auto-reload watches files and runs a single process.

## Example
```python
if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000, debug=True)
```

## Use instead
```python
if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000, debug=os.getenv("FLASK_DEBUG") == "1")
```

## Fix safety
Safe: development keeps debug mode by setting the variable.
"""
    VALID = [
        """
import os
import asyncio
from fastapi import FastAPI
app = FastAPI(debug=os.getenv("DEBUG") == "1")
async def main():
    pass
asyncio.run(main(), debug=True)
if __name__ == "__main__":
    import uvicorn
    uvicorn.run("app:app", reload=os.getenv("RELOAD") == "1")
""",
        "from flask import Flask\napp = Flask(__name__)\napp.config['DEBUG'] = False\nif __name__ == '__main__':\n    app.run()\n",
    ]
    INVALID = [
        "from app import create_app\napp = create_app()\nif __name__ == '__main__':\n    app.run(host='0.0.0.0', port=5000, debug=True)\n",
        "from fastapi import FastAPI\napp = FastAPI(title='x', debug=True)\n",
        "import uvicorn\nif __name__ == '__main__':\n    uvicorn.run('app.main:app', host='0.0.0.0', reload=True)\n",
        "from flask import Flask\napp = Flask(__name__)\napp.config['DEBUG'] = True\n",
    ]
    APP_NAMES = frozenset({"app", "application", "flask_app", "server", "api"})

    def begin(self, ctx: ModuleContext) -> None:
        self.active = _active(ctx)
        self.web = any(ctx.imports_module(m) for m in WEB_MODULES)

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active or not node.keywords:
            return
        func = ctx.resolve(node.func) or ""
        tail = func.rpartition(".")[2]
        debug, reload = kwarg(node, "debug"), kwarg(node, "reload")
        on = lambda value: isinstance(value, ast.Constant) and value.value is True  # noqa: E731
        if func in {"fastapi.FastAPI", "starlette.applications.Starlette", "fastapi.applications.FastAPI"} and on(debug):
            self.report(ctx, node, f"{tail}(debug=True) sends tracebacks to clients: read the flag from the environment")
        elif func == "uvicorn.run" and on(reload):
            self.report(ctx, node, "uvicorn.run(reload=True) is a development server setting", severity=Severity.LOW)
        elif tail == "run" and on(debug) and isinstance(node.func, ast.Attribute) and self._is_app(node.func.value, ctx):
            public = const_str(kwarg(node, "host")) == "0.0.0.0"
            where = " on every network interface" if public else ""
            self.report(ctx, node, f"app.run(debug=True) starts the Werkzeug debugger{where}: anyone who reaches it can run code")
        elif tail == "update" and on(kwarg(node, "DEBUG")) and (dotted(node.func) or "").endswith("config.update"):
            self.report(ctx, node, "DEBUG=True in the app config: read it from the environment")

    def _is_app(self, receiver: ast.AST, ctx: ModuleContext) -> bool:
        return isinstance(receiver, ast.Name) and receiver.id not in ctx.imports and (receiver.id in self.APP_NAMES or self.web)

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        if not (self.active and self.web and isinstance(node.value, ast.Constant) and node.value.value is True):
            return
        for target in node.targets:
            owner = target.value if isinstance(target, (ast.Attribute, ast.Subscript)) else None
            if _name_of(target) == "DEBUG" and isinstance(target, ast.Subscript) and (dotted(owner) or "").endswith("config"):
                self.report(ctx, node, "DEBUG=True in the app config: read it from the environment")
            elif isinstance(target, ast.Attribute) and target.attr == "debug" and self._is_app(owner, ctx):
                self.report(ctx, node, "app.debug = True turns on the debugger: read it from the environment")


@register
class CorsWildcardWithCredentials(ModuleRule):
    code = "PR223"
    name = "cors-wildcard-with-credentials"
    category = Category.SECRETS
    severity = Severity.HIGH
    impact = (
        "Any website a logged-in user visits can call your API as that user — read their data or act for "
        "them — because every origin is trusted with their cookies."
    )
    fix_summary = "Replaces the wildcard with the explicit list of your front-end origins, read from settings."
    doc = """
## What it does
Finds CORS set up to allow every origin together with credentials: Starlette/FastAPI
`CORSMiddleware(allow_origins=["*"] or allow_origin_regex=".*", allow_credentials=True)`
(also through a module-level variable), Flask-CORS `CORS(app, supports_credentials=True)`,
`cors.init_app(...)` and `@cross_origin(...)` with the default or a `*` origin (also set
through `CORS_SUPPORTS_CREDENTIALS` / `CORS_ORIGINS` in the app config), and hand-written
headers that echo the request's `Origin` together with `Access-Control-Allow-Credentials: true`.

## Why is this bad in production
Browsers refuse a literal `*` with credentials, so these libraries echo back whatever
origin asks. The result is that every site on the internet may send credentialed requests
and read the answers.

## Example
```python
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True)
```

## Use instead
```python
app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True)
```

## Fix safety
Review: origins not in the list lose access.
"""
    VALID = [
        """
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=["https://app.example.com"], allow_credentials=True)
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"])
""",
        "from flask import Flask\nfrom flask_cors import CORS\napp = Flask(__name__)\nCORS(app, origins=['https://app.example.com'], supports_credentials=True)\nCORS(app)\n",
    ]
    INVALID = [
        """
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
app = FastAPI()
app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_credentials=True, allow_methods=["*"])
""",
        "from flask import Flask\nfrom flask_cors import CORS\napp = Flask(__name__)\nCORS(app, supports_credentials=True)\n",
        "from starlette.middleware import Middleware\nfrom starlette.middleware.cors import CORSMiddleware\nmiddleware = [Middleware(CORSMiddleware, allow_origin_regex='.*', allow_credentials=True)]\n",
        "from flask import Flask\nfrom flask_cors import CORS\napp = Flask(__name__)\napp.config['CORS_SUPPORTS_CREDENTIALS'] = True\nCORS(app)\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.constants: dict[str, ast.AST] | None = None
        self.flask_cors: list[ast.Call] = []  # CORS(app) / init_app calls, judged with the app config at the end
        self.config_credentials = False  # app.config["CORS_SUPPORTS_CREDENTIALS"] = True
        self.config_origins: ast.AST | None = None  # app.config["CORS_ORIGINS"] = [...]

    def value(self, node: ast.AST | None, ctx: ModuleContext) -> ast.AST | None:
        """A module-level constant's value for a name (`origins = ["*"]`), else the node itself."""
        if isinstance(node, ast.Name):
            if self.constants is None:
                self.constants = {
                    stmt.targets[0].id: stmt.value
                    for stmt in ctx.tree.body
                    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
                }
            return self.constants.get(node.id, node)
        return node

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not node.keywords and (dotted(node.func) or "").rpartition(".")[2] != "CORS":
            return  # only `CORS(app)` matters without keywords (credentials set in the app config)
        func = ctx.resolve(node.func) or ""
        tail = func.rpartition(".")[2]
        if tail in {"add_middleware", "Middleware"} and node.args and (ctx.resolve(node.args[0]) or "").endswith("CORSMiddleware"):
            self._starlette(node, ctx)
        elif tail == "CORSMiddleware":
            self._starlette(node, ctx)
        elif func in {"flask_cors.CORS", "flask_cors.cross_origin"} or (
            tail == "init_app" and "flask_cors.CORS" in ctx.imports.values() and node.keywords
        ):
            self.flask_cors.append(node)

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        for target in node.targets:
            if not isinstance(target, ast.Subscript):
                continue
            key = const_str(target.slice)
            if key == "CORS_SUPPORTS_CREDENTIALS":
                self.config_credentials = _true(node.value)
            elif key == "CORS_ORIGINS":
                self.config_origins = node.value
            elif key and key.lower() == "access-control-allow-origin" and self._echoes_origin(node.value) and self._sends_credentials(ctx):
                self.report(ctx, node, "every request's Origin is echoed back with credentials allowed: any website can act as your logged-in users")

    def end(self, ctx: ModuleContext) -> None:
        for node in self.flask_cors:
            credentials = _true(kwarg(node, "supports_credentials")) or (kwarg(node, "supports_credentials") is None and self.config_credentials)
            origins = self.value(kwarg(node, "origins"), ctx)
            if origins is None:
                origins = self.config_origins
            if credentials and (origins is None or _wildcard(origins)):
                self.report(ctx, node, "Flask-CORS allows every origin with credentials: any website can act as your logged-in users")

    def _starlette(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not _true(self.value(kwarg(node, "allow_credentials"), ctx)):
            return
        regex = const_str(self.value(kwarg(node, "allow_origin_regex"), ctx))
        if _wildcard(self.value(kwarg(node, "allow_origins"), ctx)) or regex in {".*", "^.*$", ".+", "https?://.*", "https://.*"}:
            self.report(ctx, node, "CORS allows every origin together with credentials: any website can act as your logged-in users")

    @staticmethod
    def _echoes_origin(value: ast.AST) -> bool:
        """`request.headers.get("Origin")` / `request.headers["Origin"]` (also through `or "*"`)."""
        return any(const_str(n) in {"Origin", "origin"} for n in ast.walk(value))

    @staticmethod
    def _sends_credentials(ctx: ModuleContext) -> bool:
        scope = next((p for p in reversed(ctx.parents) if isinstance(p, (ast.FunctionDef, ast.AsyncFunctionDef))), ctx.tree)
        return any(
            isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Subscript) and (const_str(t.slice) or "").lower() == "access-control-allow-credentials" for t in n.targets)
            and (const_str(n.value) or "").lower() == "true"
            for n in ast.walk(scope)
        )


def _true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _wildcard(node: ast.AST | None) -> bool:
    if const_str(node) == "*":
        return True
    return isinstance(node, (ast.List, ast.Tuple, ast.Set)) and any(const_str(e) == "*" for e in node.elts)


SESSION_COOKIE = re.compile(r"(session|token|auth|jwt|access|refresh|sid|remember|login)", re.I)


@register
class InsecureSessionCookie(ModuleRule):
    code = "PR224"
    name = "insecure-session-cookie"
    category = Category.SECRETS
    severity = Severity.MEDIUM
    impact = (
        "The login cookie can travel over plain HTTP or be read by scripts on the page, so a café Wi-Fi or one "
        "injected script is enough to steal a user's session."
    )
    fix_summary = "Marks the session cookie Secure and HttpOnly (SameSite=Lax), driven by a setting that development can turn off."
    doc = """
## What it does
Finds session and token cookies set without `secure=True` or `httponly=True`
(`response.set_cookie(...)`), Starlette's `SessionMiddleware` without `https_only=True`,
`SESSION_COOKIE_SECURE = False` in Flask config, and Flask apps that sign sessions
(`secret_key` set) but never turn `SESSION_COOKIE_SECURE` on. A value read from settings
counts as set.

## Why is this bad in production
Without `Secure` the browser also sends the cookie over plain HTTP, where anyone on the
network can copy it. Without `HttpOnly` any script running on the page can read it.

## Example
```python
response.set_cookie("session", token)
```

## Use instead
```python
response.set_cookie("session", token, secure=True, httponly=True, samesite="lax")
```

## Fix safety
Review: over plain HTTP (local development without TLS) the browser stops sending the cookie.
"""
    VALID = [
        """
from fastapi import Response
def login(response: Response, token: str, settings):
    response.set_cookie("session", token, secure=True, httponly=True, samesite="lax")
    response.set_cookie("refresh_token", token, secure=settings.cookie_secure, httponly=True)
    response.set_cookie("theme", "dark")
""",
        "from flask import Flask\nimport os\napp = Flask(__name__)\napp.secret_key = os.environ['SECRET_KEY']\napp.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True)\n",
        "from flask import Flask\napp = Flask(__name__)\napp.config.from_object('config.ProductionConfig')\n",
    ]
    INVALID = [
        "from fastapi import Response\ndef login(response: Response, token: str):\n    response.set_cookie('access_token', token)\n",
        "from fastapi import FastAPI\nfrom starlette.middleware.sessions import SessionMiddleware\napp = FastAPI()\napp.add_middleware(SessionMiddleware, secret_key=KEY)\n",
        "from flask import Flask\nimport os\napp = Flask(__name__)\napp.secret_key = os.environ['SECRET_KEY']\n",
        "from flask import Flask\napp = Flask(__name__)\napp.config['SESSION_COOKIE_SECURE'] = False\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = _active(ctx)
        self.secret_key_site: ast.AST | None = None

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        tail = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        if not self.active or tail not in {"set_cookie", "add_middleware", "update"} and not (isinstance(node.func, ast.Name) and node.func.id == "Middleware"):
            return
        if tail == "set_cookie" and node.args:
            name = const_str(node.args[0]) or const_str(kwarg(node, "key")) or ""
            missing = [flag for flag in ("secure", "httponly") if _off(kwarg(node, flag))]
            if SESSION_COOKIE.search(name) and missing and not any(k.arg is None for k in node.keywords):
                self.report(ctx, node, f"cookie '{name}' is set without {' and '.join(missing)}: it can leak over HTTP or to page scripts")
        elif tail != "update" and node.args and (ctx.resolve(node.args[0]) or "").endswith("SessionMiddleware"):
            if _off(kwarg(node, "https_only")):
                self.report(ctx, node, "SessionMiddleware without https_only=True: the session cookie is not marked Secure")
        elif tail == "update" and (dotted(node.func) or "").endswith("config.update"):
            value = kwarg(node, "SESSION_COOKIE_SECURE")
            if isinstance(value, ast.Constant) and value.value is False:
                self.report(ctx, node, "SESSION_COOKIE_SECURE=False: the session cookie is sent over plain HTTP")

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        if not self.active:
            return
        for target in node.targets:
            name = _name_of(target)
            if name == "SESSION_COOKIE_SECURE" and isinstance(node.value, ast.Constant) and node.value.value is False:
                self.report(ctx, node, "SESSION_COOKIE_SECURE = False: the session cookie is sent over plain HTTP")
            elif name == "secret_key" and isinstance(target, ast.Attribute) and ctx.imports_module("flask"):
                self.secret_key_site = node

    def end(self, ctx: ModuleContext) -> None:
        site = getattr(self, "secret_key_site", None)
        if site is None:
            return
        source = ctx.source
        if "SESSION_COOKIE_SECURE" in source or re.search(r"config\.from_(object|pyfile|envvar|prefixed_env|file|mapping)", source):
            return
        self.report(
            ctx,
            site,
            "Flask signs sessions here but SESSION_COOKIE_SECURE is never turned on: the session cookie also travels over plain HTTP",
            confidence=Confidence.MEDIUM,
        )


def _off(node: ast.AST | None) -> bool:
    """Missing, or literally False (a value from settings counts as on)."""
    return node is None or (isinstance(node, ast.Constant) and not node.value)

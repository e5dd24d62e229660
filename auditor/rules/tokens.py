"""Step 2 — infrastructure (PR21x): JWTs, session tokens and password hashes."""

from __future__ import annotations

import ast
import re

from auditor.index.project import is_script_path
from auditor.models import Category, Confidence, Severity
from auditor.rules.base import ModuleRule, register
from auditor.rules.webapp import is_test_or_script
from auditor.walk import ModuleContext, const_str, kwarg

JWT_DECODE = frozenset({"jwt.decode", "jwt.api_jwt.decode", "jose.jwt.decode", "jwt.PyJWT.decode"})
JWT_ENCODE = frozenset({"jwt.encode", "jwt.api_jwt.encode", "jose.jwt.encode"})
DISABLING_OPTIONS = frozenset({"verify_signature", "verify_exp"})
EXP_MENTION = re.compile(r"""["']exp["']|\bexp\s*=|\bexpires_delta\b|\bset_exp\(""")
TOKEN_NAME = re.compile(r"(token|session|secret|api_?key|nonce|otp|reset_?code|verification_?code|invite_?code|magic|sid)", re.I)
WEAK_RANDOM = frozenset({"random.choice", "random.choices", "random.randint", "random.random", "random.getrandbits", "random.sample", "random.randrange"})
PREDICTABLE_INPUT = re.compile(r"\b(time\.time|datetime\.(utc)?now|\.email\b|\.id\b|user_id|username|\.username\b)")
IDENTITY_COOKIE = re.compile(r"^(user_?id|uid|user|username|email|role|is_admin|account_?id)$", re.I)
PASSWORD_FUNCTION = re.compile(r"(^|_)(hash|check|verify|set|make|encrypt|encode)_?pass(word|wd)|pass(word|wd)_?(hash|digest)", re.I)
FAST_HASHES = frozenset({f"hashlib.{name}" for name in ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "blake2b", "blake2s", "new")})


def _options_disable(call: ast.Call) -> str | None:
    """The verification option turned off by `options={"verify_signature": False}` (or `verify=False`)."""
    verify = kwarg(call, "verify")
    if isinstance(verify, ast.Constant) and verify.value is False:
        return "verify"
    options = kwarg(call, "options")
    if isinstance(options, ast.Dict):
        for key, value in zip(options.keys, options.values):
            if const_str(key) in DISABLING_OPTIONS and isinstance(value, ast.Constant) and value.value is False:
                return const_str(key)
    return None


def _jwt_ok(ctx: ModuleContext) -> bool:
    """App code using a JWT library (not the library itself)."""
    own_package = ctx.module_name.partition(".")[0] in {"jwt", "jose"}
    return not (is_script_path(ctx.relpath) or own_package) and (ctx.imports_module("jwt") or ctx.imports_module("jose"))


@register
class JwtVerificationDisabled(ModuleRule):
    code = "PR210"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "jwt-verification-disabled"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = (
        "Anyone can write their own token — any user id, any role, no expiry — and the app believes it, "
        "because the signature is never checked."
    )
    fix_summary = "Decodes the token with the secret key and the pinned algorithm, so forged tokens are rejected."
    doc = """
## What it does
Finds `jwt.decode(...)` (PyJWT, python-jose) called with signature or expiry verification
switched off: `options={"verify_signature": False}`, `options={"verify_exp": False}` or
`verify=False`. Reading the unverified claims to choose a key, followed by a verified decode
in the same function or in the function that called the peeking helper, is fine.

## Why is this bad in production
A JWT is just base64: without the signature check its claims are whatever the sender typed.
Without the expiry check a leaked token works forever.

## Example
```python
claims = jwt.decode(token, options={"verify_signature": False})
```

## Use instead
```python
claims = jwt.decode(token, SECRET_KEY, algorithms=["HS256"])
```

## Fix safety
Review: tokens that were accepted before (forged or expired) are now rejected.
"""
    VALID = [
        """
import jwt
def read(token, key):
    return jwt.decode(token, key, algorithms=["HS256"])
def pick_key(token, keys):
    unverified = jwt.decode(token, options={"verify_signature": False})
    key = keys[unverified["iss"]]
    return jwt.decode(token, key, algorithms=["RS256"], audience="api")
def header(token):
    return jwt.get_unverified_header(token)["kid"]
def issuer_of(token):
    return jwt.decode(token, options={"verify_signature": False})["iss"]
def verify(token, keys):
    return jwt.decode(token, keys[issuer_of(token)], algorithms=["RS256"], audience="api")
""",
        {"tests/test_tokens.py": "import jwt\ndef test_claims(token):\n    assert jwt.decode(token, options={'verify_signature': False})['sub']\n"},
    ]
    INVALID = [
        "import jwt\ndef read_token(token):\n    return jwt.decode(token, options={'verify_signature': False})\n",
        "from jose import jwt\ndef read(token, key):\n    return jwt.decode(token, key, algorithms=['HS256'], options={'verify_exp': False})\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = _jwt_ok(ctx)
        self.pending: dict[int, list[tuple[ast.Call, str]]] = {}
        self.verified: set[int] = set()
        self.names: dict[int, str] = {}  # function scope -> its name
        self.calls: dict[int, set[str]] = {}  # function scope -> names it calls

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active:
            return
        function = ctx.enclosing_function()
        scope = id(function)
        if function is not None and isinstance(node.func, ast.Name):
            self.names[scope] = function.name
            self.calls.setdefault(scope, set()).add(node.func.id)
        if ctx.resolve(node.func) not in JWT_DECODE:
            return
        if function is not None:
            self.names[scope] = function.name
        disabled = _options_disable(node)
        if disabled:
            self.pending.setdefault(scope, []).append((node, disabled))
        else:
            self.verified.add(scope)

    def end(self, ctx: ModuleContext) -> None:
        for scope, calls in getattr(self, "pending", {}).items():
            if scope in self.verified:
                continue  # unverified peek at the claims, then a verified decode
            name = self.names.get(scope)
            if name and any(name in self.calls.get(v, ()) for v in self.verified):
                continue  # a helper that peeks (the issuer, the key id) for a function that then verifies
            for node, option in calls:
                what = "expiry" if option == "verify_exp" else "signature"
                self.report(ctx, node, f"jwt.decode() with {what} verification turned off: forged or expired tokens are accepted")


@register
class JwtAlgorithmNotPinned(ModuleRule):
    code = "PR211"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "jwt-algorithm-not-pinned"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = (
        "An attacker can choose how their token is checked — `alg: none`, or an RSA public key used as an "
        "HMAC secret — and log in as anyone."
    )
    fix_summary = "Passes an explicit algorithms=[...] list with the one algorithm the app signs with."
    doc = """
## What it does
Finds `jwt.decode(...)` calls that verify the signature but do not pin the accepted
algorithms: no `algorithms=` argument, an algorithm list containing `none`, or algorithms
read from the token's own header.

## Why is this bad in production
The token says which algorithm to verify it with. Accepting whatever it says enables the
classic JWT forgeries (`alg: none`, RS256/HS256 confusion). PyJWT 1.x and python-jose accept
a missing `algorithms` silently.

## Example
```python
header = jwt.get_unverified_header(token)
claims = jwt.decode(token, key, algorithms=[header["alg"]])
```

## Use instead
```python
claims = jwt.decode(token, key, algorithms=["RS256"])
```

## Fix safety
Review: tokens signed with any other algorithm are rejected.
"""
    VALID = [
        "import jwt\nALGORITHM = 'HS256'\ndef read(token, key):\n    return jwt.decode(token, key, algorithms=[ALGORITHM])\n",
        "import jwt\ndef read(token, key, settings):\n    return jwt.decode(token, key, [settings.jwt_algorithm])\n",
        "import jwt\ndef peek(token):\n    return jwt.decode(token, options={'verify_signature': False})  # PR210's business\n",
    ]
    INVALID = [
        "import jwt\ndef read(token, key):\n    return jwt.decode(token, key)\n",
        "import jwt\ndef read(token, key):\n    alg = jwt.get_unverified_header(token)['alg']\n    return jwt.decode(token, key, algorithms=[alg])\n",
        "from jose import jwt\ndef read(token, key):\n    return jwt.decode(token, key, algorithms=['HS256', 'none'])\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = _jwt_ok(ctx)
        self.header_names: set[str] = set()

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        if self.active and isinstance(node.value, (ast.Call, ast.Subscript)) and "get_unverified_header" in ast.dump(node.value):
            self.header_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active or ctx.resolve(node.func) not in JWT_DECODE or _options_disable(node):
            return
        algorithms = kwarg(node, "algorithms") or (node.args[2] if len(node.args) > 2 else None)
        if algorithms is None:
            if any(k.arg is None for k in node.keywords):
                return  # **kwargs: cannot tell
            self.report(ctx, node, "jwt.decode() without algorithms=[...]: the token chooses how it is verified")
            return
        names = {n.id for n in ast.walk(algorithms) if isinstance(n, ast.Name)}
        if "get_unverified_header" in ast.dump(algorithms) or names & self.header_names:
            self.report(ctx, node, "jwt.decode() takes its algorithm from the token header: the attacker chooses it")
        elif any(const_str(n) and const_str(n).lower() == "none" for n in ast.walk(algorithms)):
            self.report(ctx, node, "jwt.decode() accepts the 'none' algorithm: unsigned tokens pass")


@register
class JwtWithoutExpiry(ModuleRule):
    code = "PR212"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "jwt-without-expiry"
    category = Category.AUTH
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    impact = (
        "Tokens never expire: one leaked from a log, a browser or a former employee's laptop keeps working "
        "for ever, and logging out changes nothing."
    )
    fix_summary = "Adds an `exp` claim (issue time plus a configured lifetime) when the token is created."
    doc = """
## What it does
Finds `jwt.encode(...)` calls whose claims have no `exp`: a dict literal without the key,
or claims built in a function that never mentions `exp`.

## Why is this bad in production
A JWT without `exp` is valid until the signing key is rotated. Access tokens, invitation
links and password-reset tokens all need a lifetime; without it there is no way to limit the
damage of a leak.

## Example
```python
def create_access_token(data: dict) -> str:
    return jwt.encode(data.copy(), SECRET_KEY, algorithm="HS256")
```

## Use instead
```python
def create_access_token(data: dict) -> str:
    claims = {**data, "exp": datetime.now(timezone.utc) + timedelta(minutes=30)}
    return jwt.encode(claims, SECRET_KEY, algorithm="HS256")
```

## Fix safety
Review: tokens stop working after their lifetime; clients must refresh them.
"""
    VALID = [
        """
import jwt
from datetime import datetime, timedelta, timezone
def create_token(sub, key):
    now = datetime.now(timezone.utc)
    return jwt.encode({"sub": sub, "iat": now, "exp": now + timedelta(minutes=15)}, key, algorithm="HS256")
def create_refresh(data, key):
    to_encode = data.copy()
    to_encode.update({"exp": datetime.now(timezone.utc) + timedelta(days=7)})
    return jwt.encode(to_encode, key, algorithm="HS256")
""",
        "from flask_jwt_extended import create_access_token\ndef login(user):\n    return create_access_token(identity=user.id)\n",
    ]
    INVALID = [
        "import jwt\ndef create_access_token(data, key):\n    to_encode = data.copy()\n    return jwt.encode(to_encode, key, algorithm='HS256')\n",
        "from jose import jwt\ndef invite_token(ws, email, key):\n    return jwt.encode({'workspace_id': ws, 'email': email}, key, algorithm='HS256')\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.active = _jwt_ok(ctx)

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if not self.active or ctx.resolve(node.func) not in JWT_ENCODE or not node.args:
            return
        claims = node.args[0]
        if isinstance(claims, ast.Dict):
            if any(key is None for key in claims.keys):  # {**base, ...}: look at the function
                pass
            elif "exp" in {const_str(k) for k in claims.keys}:
                return
            else:
                self.report(ctx, node, "jwt.encode() without an 'exp' claim: the token never expires")
                return
        function = ctx.enclosing_function()
        scope = ctx.lines[function.lineno - 1 : function.end_lineno] if function else ctx.lines
        if not EXP_MENTION.search("\n".join(scope)):
            self.report(ctx, node, "jwt.encode() without an 'exp' claim: the token never expires")


@register
class HandRolledSessionToken(ModuleRule):
    code = "PR213"
    scope = "request"  # judged only on code a route or a background job reaches
    name = "hand-rolled-session-token"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = (
        "Session, reset or API tokens can be guessed or forged: an attacker who predicts the next token, or "
        "sets a cookie to another user's id, is logged in as that user."
    )
    fix_summary = "Generates tokens with secrets.token_urlsafe() and keeps identity in a signed session, not a plain cookie."
    doc = """
## What it does
Finds tokens built by hand from predictable parts: `random` module calls (not
cryptographically secure), `uuid.uuid1()`, hashes of the user's id, email or the current
time, and cookies that hold the user's id or role in plain text.

## Why is this bad in production
`random` is a Mersenne Twister: a few outputs reveal all the next ones. A hash of
"email + timestamp" can be recomputed by anyone who knows the email and roughly when the
token was made. A `user_id` cookie can simply be edited in the browser.

## Example
```python
token = hashlib.sha256(f"{user.email}{time.time()}".encode()).hexdigest()
response.set_cookie("user_id", str(user.id))
```

## Use instead
```python
token = secrets.token_urlsafe(32)
session["user_id"] = user.id  # Flask's session cookie is signed
```

## Fix safety
Review: existing tokens stop matching the new format.
"""
    VALID = [
        """
import hashlib, random, secrets, uuid
from fastapi import FastAPI
def new_reset_token():
    token = secrets.token_urlsafe(32)
    token_hash = hashlib.sha256(token.encode()).hexdigest()   # store only the hash
    return token, token_hash
def pick_color():
    color = random.choice(["red", "blue"])
    request_id = uuid.uuid4().hex
    return color, request_id
def remember(response, theme):
    response.set_cookie("theme", theme)
""",
    ]
    INVALID = [
        """
import hashlib, time
from fastapi import FastAPI
def make_session(user):
    token = hashlib.sha256(f"{user.email}{time.time()}".encode()).hexdigest()
    return token
""",
        "import random, string\nfrom flask import Flask\ndef new_code():\n    reset_code = ''.join(random.choices(string.digits, k=6))\n    return reset_code\n",
        "from fastapi import Response\ndef login(response: Response, user):\n    response.set_cookie('user_id', str(user.id))\n",
        "import uuid\nfrom flask import Flask\ndef api_key():\n    api_key = str(uuid.uuid1())\n    return api_key\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        web = ("fastapi", "flask", "starlette", "quart", "django", "jwt", "itsdangerous", "sqlalchemy")
        self.active = not is_script_path(ctx.relpath) and any(ctx.imports_module(m) for m in web)

    def visit_Assign(self, node: ast.Assign, ctx: ModuleContext) -> None:
        if not self.active:
            return
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if not any(TOKEN_NAME.search(n) and "hash" not in n.lower() for n in names):
            return
        calls = {ctx.resolve(c.func) for c in ast.walk(node.value) if isinstance(c, ast.Call)}
        if calls & WEAK_RANDOM:
            self.report(ctx, node, f"{names[0]} is made with the random module, which is predictable; use secrets.token_urlsafe()")
        elif "uuid.uuid1" in calls:
            self.report(ctx, node, f"{names[0]} is a uuid1 (time and machine address): guessable; use secrets.token_urlsafe()")
        elif calls & FAST_HASHES and PREDICTABLE_INPUT.search(ast.unparse(node.value)) and not any(
            c and c.startswith(("secrets.", "os.urandom")) for c in calls
        ):
            self.report(ctx, node, f"{names[0]} is a hash of guessable values (id, email, time): anyone can recompute it; use secrets.token_urlsafe()")

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        if self.active and isinstance(node.func, ast.Attribute) and node.func.attr == "set_cookie" and node.args:
            name = const_str(node.args[0]) or const_str(kwarg(node, "key"))
            if name and IDENTITY_COOKIE.match(name):
                self.report(ctx, node, f"cookie '{name}' holds the user's identity unsigned: anyone can edit it and become another user")


STORED_PASSWORD = re.compile(r"^(password|passwd|pwd)$", re.I)  # a column holding the password itself
STORED_OWNER = re.compile(r"user|account|member|admin|customer|row|record|owner", re.I)
TYPED_PASSWORD = re.compile(r"(request|data|body|payload|json|form|args|credentials|params)\b.*pass(word|wd)|\[[\'\"]pass(word|wd)[\'\"]\]|\.get\([\'\"]pass(word|wd)", re.I)


@register
class WeakPasswordHash(ModuleRule):
    code = "PR214"
    name = "weak-password-hash"
    category = Category.AUTH
    severity = Severity.HIGH
    impact = (
        "If the database ever leaks, most passwords are cracked within hours — and people reuse them for "
        "their email and bank."
    )
    fix_summary = "Hashes passwords with a slow, salted algorithm (argon2, bcrypt, scrypt or PBKDF2)."
    doc = """
## What it does
Finds passwords kept as typed (`user.password == data.get("password")`: the stored column
is compared with what the client sent) and passwords hashed with a fast digest
(`hashlib.md5/sha1/sha256/...`): a `hashlib` call on a password variable, or in a function
whose name says it hashes or checks passwords.

## Why is this bad in production
Fast hashes are built to be fast: a GPU tries billions of SHA-256 guesses per second, and an
unsalted hash is cracked for every user with the same password at once.

## Example
```python
def hash_password(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()
```

## Use instead
```python
from werkzeug.security import generate_password_hash
def hash_password(password: str) -> str:
    return generate_password_hash(password)  # scrypt / pbkdf2 with a random salt
```

## Fix safety
Review: existing hashes must be upgraded at each user's next login.
"""
    VALID = [
        """
import hashlib, secrets
def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    return salt.hex() + hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1).hex()
def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
def reset_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
""",
        # Two typed values compared (a confirmation field), and a stored hash checked properly.
        """
from flask import request
from werkzeug.security import check_password_hash
def register(form):
    return form.password.data == form.confirm.data
def login(user):
    return check_password_hash(user.password_hash, request.form["password"])
""",
    ]
    INVALID = [
        "from flask import Flask, request\ndef login(user):\n    data = request.get_json()\n    return data.get('password') == user.password\n",
        "import hashlib\ndef hash_password(password: str) -> str:\n    return hashlib.sha256(password.encode()).hexdigest()\n",
        "import hashlib\ndef register(form):\n    pw = hashlib.md5(form['password'].encode()).hexdigest()\n    return pw\n",
    ]

    def begin(self, ctx: ModuleContext) -> None:
        self.app_code = not is_script_path(ctx.relpath) and not is_test_or_script(ctx.relpath)
        self.active = self.app_code and ctx.imports_module("hashlib")
        self.plain_reported: set[int] = set()

    def visit_Compare(self, node: ast.Compare, ctx: ModuleContext) -> None:
        """`user.password == data.get("password")`: the password is stored as it was typed."""
        if not self.app_code or len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            return
        sides = (node.left, node.comparators[0])
        stored = [s for s in sides if isinstance(s, ast.Attribute) and STORED_PASSWORD.match(s.attr) and STORED_OWNER.search(ast.unparse(s.value))]
        typed = [s for s in sides if s not in stored and TYPED_PASSWORD.search(ast.unparse(s))]
        function = ctx.enclosing_function()
        if stored and typed and id(function) not in self.plain_reported:  # once per function
            self.plain_reported.add(id(function))
            self.report(ctx, node, "passwords are stored and compared as plain text: a leaked database gives every password away; store a slow salted hash (argon2, bcrypt)")

    def visit_Call(self, node: ast.Call, ctx: ModuleContext) -> None:
        func = ctx.resolve(node.func) if self.active else None
        if func not in FAST_HASHES:
            return
        function = ctx.enclosing_function()
        in_password_function = function is not None and PASSWORD_FUNCTION.search(function.name)
        hashed = ast.unparse(node.args[1] if func == "hashlib.new" and len(node.args) > 1 else node.args[0]) if node.args else ""
        if in_password_function or re.search(r"pass(word|wd)|\bpwd\b", hashed, re.I):
            self.report(ctx, node, f"password hashed with {func.rpartition('.')[2]}, a fast hash: use argon2, bcrypt, scrypt or PBKDF2")

"""What an endpoint is for, read from what its code does rather than from its name.

Signup hashes a new password and inserts a user; login verifies a password; a token endpoint
issues a token; a password reset mails a one-time token or takes one back with a new password;
a webhook checks an HMAC signature. These routes are public by design, and the ones where
credentials can be guessed need a rate limit.

Each function is summarised once (memoised per index) with the helpers it calls, up to a few
levels deep and across modules, so a route -> service -> repository chain is followed.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from auditor.walk import const_str, dotted

HASHER = re.compile(r"(pwd|pass|crypt|hasher|argon|bcrypt|^ph$|_ph$)", re.I)
HASH_CALL = re.compile(
    r"(^|\.)(generate_password_hash|hashpw|get_password_hash|hash_password|make_password|set_password|"
    r"encrypt_password|create_password_hash)$",
    re.I,
)
VERIFY_PASSWORD_CALL = re.compile(
    r"(^|\.)(check_password_hash|checkpw|verify_password|check_password|authenticate_user|authenticate|"
    r"verify_user|validate_password|verify_credentials|check_credentials|password_matches)$",
    re.I,
)
ISSUE_CALL = re.compile(
    r"(^|\.)(login_user|create_access_token|create_refresh_token|encode_auth_token|generate_auth_token|"
    r"create_token|create_tokens|issue_token|make_token|generate_token|create_jwt|encode_jwt|create_session|"
    r"create_auth_token|generate_jwt|sign_token|mint_token)$",
    re.I,
)
JWT_ENCODE = frozenset({"jwt.encode", "jose.jwt.encode", "jwt.api_jwt.encode"})
JWT_DECODE = frozenset({"jwt.decode", "jose.jwt.decode", "jwt.api_jwt.decode", "jwt.PyJWT.decode"})
DECODE_CALL = re.compile(
    r"(^|\.)(decode_token|decode_access_token|decode_jwt|verify_token|verify_jwt|verify_reset_token|"
    r"verify_refresh_token|confirm_token|get_jwt_identity|verify_jwt_in_request|verify_id_token|loads|unsign|"
    r"validate_token|check_token|introspect_token)$",
    re.I,
)
HMAC_CALL = re.compile(
    r"(^|\.)(compare_digest|construct_event|verify_signature|verify_webhook\w*|validate_signature|"
    r"check_signature|verify_hmac|validate_request)$|^hmac\.(new|digest)$|(^|\.)Webhook\.verify$",
    re.I,
)
SIGNATURE_HEADER = re.compile(r"signature|x-hub|x-slack|svix|stripe", re.I)
MAIL_CALL = re.compile(r"(^|\.|_)(send_mail|send_email|send_message|sendmail|send_reset\w*|send_password\w*|send_async_email)$|^mail\.send$", re.I)
RESET_TOKEN_CALL = re.compile(r"^secrets\.token_(urlsafe|hex|bytes)$|(^|\.)(dumps|generate_reset_token|create_reset_token|get_reset_token|get_reset_password_token)$", re.I)
OAUTH_CALL = re.compile(r"(^|\.)(authorize_access_token|fetch_token|fetch_access_token|exchange_code\w*|parse_request_body_response)$", re.I)
USER_CREATE_CALL = re.compile(r"(^|\.)(create_user|register_user|add_user|create_account|signup_user|sign_up)$", re.I)
INVITE_PARAM = re.compile(r"[{<](\w+:)?(\w*(token|invite|invitation|code|key|uuid|secret)\w*)[}>]", re.I)
STRONG_TOKEN = re.compile(r"^secrets\.token_(urlsafe|hex)$|^uuid\.uuid4$|(^|\.)uuid4$")
IDENTITY_WORDS = re.compile(r"(username|user_name|email|login|user_id|userid|\buser\b|account)", re.I)
MAX_DEPTH = 3

# Roles
SIGNUP = "signup"
LOGIN = "login"
PASSWORD_RESET = "password-reset"
TOKEN_REFRESH = "token-refresh"
OAUTH = "oauth"
TOKEN_FOR_ANYONE = "token-without-credentials"
WEBHOOK = "webhook"
PUBLIC_ROLES = frozenset({SIGNUP, LOGIN, PASSWORD_RESET, TOKEN_REFRESH, OAUTH, TOKEN_FOR_ANYONE, WEBHOOK})
# Where a password, a one-time code or an account can be tried by the thousand.
GUESSABLE_ROLES = frozenset({SIGNUP, LOGIN, PASSWORD_RESET})


@dataclass
class Behaviour:
    """What a function (with the helpers it calls) does that matters for auth."""

    hashes_password: bool = False
    creates_user: bool = False
    verifies_password: bool = False
    issues_token: bool = False
    decodes_token: bool = False
    hmac: bool = False
    reads_signature_header: bool = False
    sends_mail: bool = False
    makes_reset_token: bool = False
    oauth: bool = False
    reads_identity: bool = False  # reads a username/email from the request
    other_check: bool = False  # some verify_*/check_* call: an OTP, an API key...
    reads_auth_header: bool = False  # reads the Authorization header: the caller's own login token
    ignored_verifications: list[tuple[str, int, str]] = field(default_factory=list)  # (relpath, line, call)

    FLAGS = (
        "hashes_password", "creates_user", "verifies_password", "issues_token", "decodes_token", "hmac",
        "reads_signature_header", "sends_mail", "makes_reset_token", "oauth", "reads_identity", "other_check",
        "reads_auth_header",
    )

    def merge(self, other: Behaviour) -> None:
        for flag in self.FLAGS:
            if getattr(other, flag):
                setattr(self, flag, True)
        for item in other.ignored_verifications:
            if item not in self.ignored_verifications:
                self.ignored_verifications.append(item)


# Calls whose only output is their result: True/False. Called as a statement, they check nothing.
BOOLEAN_VERIFIER = re.compile(
    r"(^|\.)(compare_digest|checkpw|check_password_hash|check_password|verify_password|password_matches|"
    r"is_valid_signature|verify_signature|is_valid_token|check_token|validate_token)$",
    re.I,
)


def _jwt_decode_verifies(call: ast.Call) -> bool:
    for keyword in call.keywords:
        if keyword.arg == "verify" and isinstance(keyword.value, ast.Constant) and keyword.value.value is False:
            return False
        if keyword.arg == "options" and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values):
                if const_str(key) == "verify_signature" and isinstance(value, ast.Constant) and value.value is False:
                    return False
    if len(call.args) > 2 and isinstance(call.args[2], ast.Constant) and call.args[2].value is False:
        return False  # PyJWT 1.x: decode(token, key, False)
    return len(call.args) > 1 or any(k.arg == "key" for k in call.keywords)


class Roles:
    """Behaviour summaries and endpoint roles for one index (see `endpoint_roles`)."""

    def __init__(self, index) -> None:
        self.index = index
        self._memo: dict[int, Behaviour] = {}
        self._routes: dict[int, str | None] = {}
        from auditor.rules.querying import data_shape  # noqa: PLC0415 (the rules package imports this module)

        shape = data_shape(index)
        self.user_models = {shape.tables[t].model for t in shape.users if shape.tables[t].model}
        self.user_tables = set(shape.users)
        self.user_passwords = any(re.search(r"passw|pwd", c, re.I) for t in shape.users for c in shape.tables[t].columns)

    # -- functions --------------------------------------------------------------------------------

    def behaviour(self, relpath: str, node: ast.AST, depth: int = 0) -> Behaviour:
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        found = self._memo[key] = Behaviour()  # a recursion guard too
        from auditor.rules.route_code import resolve_helper  # noqa: PLC0415 (route_code imports querying)

        facts = self.index.modules.get(relpath)
        deliberate = _before_rejection(node)
        for sub in _walk_body(node):  # not the decorators: @authenticate(auth) is not what the body does
            if isinstance(sub, ast.Call):
                self._call(sub, relpath, facts, found)
                if depth < MAX_DEPTH and facts is not None:
                    helper = resolve_helper(self.index, relpath, sub)
                    if helper is not None and helper[1] is not node:
                        found.merge(self.behaviour(helper[0], helper[1], depth + 1))
            elif isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Call) and id(sub) not in deliberate:
                name = self._name(sub.value, facts)
                if BOOLEAN_VERIFIER.search(name) or (name.endswith(".verify") and HASHER.search(name.rpartition(".")[0].rpartition(".")[2])):
                    found.ignored_verifications.append((relpath, sub.lineno, name.rpartition(".")[2]))
            elif isinstance(sub, ast.Compare) and _compares_passwords(sub):
                found.verifies_password = True
            elif isinstance(sub, ast.Compare) and _compares_secret(sub):
                found.other_check = True  # a one-time code, a PIN, an API key compared by hand
            elif isinstance(sub, ast.Assign):
                for target in sub.targets:
                    if isinstance(target, ast.Attribute) and re.fullmatch(r"(hashed_)?password(_hash)?|pwd", target.attr):
                        found.hashes_password = True  # user.password = ... through a hashing setter
                    if isinstance(target, ast.Subscript) and dotted(target.value) == "session":
                        if re.search(r"user|account|uid|logged", ast.unparse(target.slice), re.I):
                            found.issues_token = True
            elif isinstance(sub, (ast.Subscript, ast.Attribute, ast.Constant)):
                self._reads(sub, found)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for arg in [*node.args.args, *node.args.kwonlyargs]:
                if IDENTITY_WORDS.search(arg.arg):
                    found.reads_identity = True
                if arg.annotation is not None and re.search(r"PasswordRequestForm|Login|Credentials", ast.unparse(arg.annotation)):
                    found.reads_identity = True
            for decorator in node.decorator_list:
                if re.search(r"jwt_required|refresh_token_required", dotted(decorator.func if isinstance(decorator, ast.Call) else decorator) or ""):
                    found.decodes_token = True
        return found

    def _name(self, call: ast.Call, facts) -> str:
        name = dotted(call.func) or ""
        head, _, rest = name.partition(".")
        if facts is not None and head in facts.imports:
            return facts.imports[head] + (f".{rest}" if rest else "")
        return name

    def _call(self, call: ast.Call, relpath: str, facts, found: Behaviour) -> None:
        name = self._name(call, facts)
        tail = name.rpartition(".")[2]
        receiver = name.rpartition(".")[0].rpartition(".")[2]
        if HASH_CALL.search(name) or (tail == "hash" and HASHER.search(receiver)):
            found.hashes_password = True
        if VERIFY_PASSWORD_CALL.search(name) or (tail == "verify" and HASHER.search(receiver)):
            found.verifies_password = True
        elif re.match(r"(verify|check|validate)_", tail) or tail == "verify":
            found.other_check = True
        if ISSUE_CALL.search(name) or name in JWT_ENCODE:
            found.issues_token = True
        if name in JWT_DECODE:
            found.decodes_token |= _jwt_decode_verifies(call)
        elif DECODE_CALL.search(name):
            found.decodes_token = True
        if HMAC_CALL.search(name):
            found.hmac = True
        if MAIL_CALL.search(name) or any(MAIL_CALL.search(dotted(a) or "") for a in call.args if isinstance(a, (ast.Name, ast.Attribute))):
            found.sends_mail = True  # also handed to a background task: add_task(send_email, ...)
        if RESET_TOKEN_CALL.search(name):
            found.makes_reset_token = True
        if OAUTH_CALL.search(name):
            found.oauth = True
        if USER_CREATE_CALL.search(name) or tail in self.user_models or (
            receiver in self.user_models and tail in {"create", "objects", "insert"}
        ):
            found.creates_user = True
        for arg in call.args[:1]:
            text = const_str(arg) or ""
            if text and any(re.search(rf"\binsert\s+into\s+[\"`]?{t}\b", text, re.I) for t in self.user_tables):
                found.creates_user = True
            if text.lower() == "authorization" and tail in {"get", "getheader", "get_header"}:
                found.reads_auth_header = True
            if text and SIGNATURE_HEADER.search(text) and tail in {"get", "getheader", "get_header"}:
                found.reads_signature_header = True
            if text and IDENTITY_WORDS.fullmatch(text.lower()) and tail in {"get", "getlist"}:
                found.reads_identity = True

    @staticmethod
    def _reads(node: ast.AST, found: Behaviour) -> None:
        if isinstance(node, ast.Subscript) and (const_str(node.slice) or "").lower() == "authorization":
            found.reads_auth_header = True
        if isinstance(node, ast.Constant) and node.value in {"authorization_code", "client_secret"}:
            found.oauth = True  # exchanges an OAuth code with the provider by hand
        elif isinstance(node, ast.Subscript):
            key = const_str(node.slice) or ""
            if key and SIGNATURE_HEADER.search(key) and "header" in (dotted(node.value) or "").lower():
                found.reads_signature_header = True
            if key and IDENTITY_WORDS.fullmatch(key.lower()):
                found.reads_identity = True
        elif isinstance(node, ast.Attribute) and IDENTITY_WORDS.fullmatch(node.attr.lower()):
            if isinstance(node.value, ast.Name) and node.value.id in {"form", "body", "data", "payload", "credentials", "login", "form_data", "request"}:
                found.reads_identity = True

    # -- routes ------------------------------------------------------------------------------------

    def route_behaviour(self, route) -> Behaviour | None:
        node = self.index.function_node(route.relpath, route.handler.qualname)
        return None if node is None else self.behaviour(route.relpath, node)

    def role(self, route) -> str | None:
        key = id(route)
        if key not in self._routes:
            self._routes[key] = self._role(route)
        return self._routes[key]

    def _role(self, route) -> str | None:
        found = self.route_behaviour(route)
        if found is None:
            return None
        if found.hmac or found.reads_signature_header:
            return WEBHOOK
        if found.reads_auth_header and found.decodes_token:
            return None  # the handler checks the caller's login token itself: not a public endpoint
        if found.oauth:
            return OAUTH  # (a first sign-in with another service may create the account too)
        if found.creates_user and (found.hashes_password or found.issues_token or self.user_passwords):
            return SIGNUP  # (a user model with a password column hashes in its own setter)
        if found.verifies_password:
            return LOGIN
        if (found.sends_mail and (found.makes_reset_token or found.issues_token)) or (found.decodes_token and found.hashes_password):
            return PASSWORD_RESET
        if found.issues_token:
            if found.decodes_token or found.other_check:
                return TOKEN_REFRESH  # a token for another credential: a refresh token, an OTP, an API key
            if found.reads_identity:
                return TOKEN_FOR_ANYONE
        return None

    def takes_unguessable_token(self, route) -> bool:
        """The route is reached with a long random token in its path (an invitation, a reset link)
        the project makes with `secrets.token_urlsafe`/`token_hex`/`uuid4`: nothing to guess."""
        if not INVITE_PARAM.search(route.path):
            return False
        return self._strong_tokens

    @property
    def _strong_tokens(self) -> bool:
        cached = self.__dict__.get("_strong")
        if cached is None:
            cached = False
            for facts in self.index.modules.values():
                if not facts.top_imports & {"secrets", "uuid"}:
                    continue  # (functions are unpickled only where they could make such a token)
                if any(STRONG_TOKEN.search(call) for function in facts.functions.values() for call in function.calls):
                    cached = True
                    break
            self.__dict__["_strong"] = cached
        return cached


def _walk_body(node: ast.AST):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        for stmt in node.body:
            yield from ast.walk(stmt)
    else:
        yield from ast.walk(node)


def _before_rejection(node: ast.AST) -> set[int]:
    """Statements followed in their block by a rejection (`return None`/`False`, `raise`, `abort`):
    a check run only to spend the same time on a wrong user name (timing), not to decide."""
    found: set[int] = set()
    for sub in ast.walk(node):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(sub, name, None)
            if not isinstance(block, list):
                continue
            for i, stmt in enumerate(block[:-1]):
                if isinstance(stmt, ast.Expr) and _rejects(block[i + 1]):
                    found.add(id(stmt))
    return found


def _rejects(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Raise):
        return True
    if isinstance(stmt, ast.Return):
        return stmt.value is None or (isinstance(stmt.value, ast.Constant) and stmt.value.value in (None, False))
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and (dotted(stmt.value.func) or "").rpartition(".")[2] == "abort"


SECRET_WORDS = re.compile(r"(otp|totp|code|pin|token|secret|api_?key|passcode|nonce)", re.I)


def _compares_secret(node: ast.Compare) -> bool:
    """`body["otp"] != user.otp_code`: a credential other than a password, checked by hand."""
    if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
        return False
    sides = [node.left, *node.comparators]
    return not any(isinstance(side, ast.Constant) for side in sides) and any(SECRET_WORDS.search(ast.unparse(side)) for side in sides)


def _compares_passwords(node: ast.Compare) -> bool:
    """`user.password == body.password`, `row["password_hash"] == hashed`: a (weak) password check."""
    if len(node.ops) != 1 or not isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
        return False
    sides = [node.left, *node.comparators]
    return all(re.search(r"passw|pwd", ast.unparse(side), re.I) for side in sides)


def endpoint_roles(index) -> Roles:
    """One Roles per index, built on first use."""
    roles = index.__dict__.get("_endpoint_roles")
    if roles is None:
        roles = index.__dict__["_endpoint_roles"] = Roles(index)
    return roles

"""One auth model for the whole project: who may call each route, and whether the check verifies anything.

The index already resolves each route's dependencies, decorators and hooks across modules
(FastAPI `Depends`/`Security`, `Annotated` aliases, router and `include_router` dependencies,
Flask decorators and `before_request` hooks). On top of that this model says, once per index:

- for every auth mechanism a route relies on, whether it verifies something: a JWT decoded
  without its signature, a username taken from a header or an unsigned cookie, or a `verify()`
  whose answer is thrown away let anyone in ("weak");
- which names point into files that could not be parsed ("unknown": not "no login");
- which routers are mounted only in development, or never mounted (their routes are not served);
- what each endpoint is for (signup, login, token, password reset, webhook: see endpoint_roles);
- which tables hold users' rows, also without foreign keys (a `user_id` column in raw SQL).

Every auth rule (PR201-PR207, PR240) and the auth fixers read this model.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from auditor.index.endpoint_roles import BOOLEAN_VERIFIER, HASHER, PUBLIC_ROLES, Roles, endpoint_roles
from auditor.walk import const_str, dotted

ROLE_DECORATOR = re.compile(
    r"^((admin|staff|superuser|role|roles|permission|permissions)_(required|only|accepted)|requires?_(admin|staff|superuser|roles?|permissions?))$", re.I
)
IDENTITY_HEADER = re.compile(r"^(x[-_])?(remote[-_])?(forwarded[-_])?(auth[-_])?(user|username|user[-_]?id|email|login|role|uid|account)$", re.I)
IDENTITY_COOKIE = re.compile(r"^(user_?id|uid|user|username|email|role|is_admin|account_?id|logged_?in(_user)?)$", re.I)
UNVERIFIED_CLAIMS = re.compile(r"(^|\.)(get_unverified_claims|decode_complete_unverified|unverified_claims)$")
STRONG_CALL = re.compile(
    r"(^|\.)(verify\w*|check\w*|validate\w*|authenticate\w*|compare_digest|checkpw|loads|unsign|get_jwt_identity|"
    r"verify_jwt_in_request|decode_token|decode_access_token|decode_jwt|introspect\w*|login_required|jwt_required|"
    r"get_current_user|current_user|get_user_by_token|get_by_token)$",
    re.I,
)
LIBRARY_AUTH_DECORATORS = frozenset({"authenticate", "auth_required", "requires_auth", "token_required"})
PLAIN_DECODERS = frozenset({"json", "pickle", "base64", "marshal", "yaml", "msgpack"})  # decode, sign nothing
DEV_VALUE = re.compile(r"^(dev|development|local|test|testing|debug)$", re.I)
OWNER_COLUMN = re.compile(r"^(user_id|owner_id|author_id|creator_id|created_by(_id)?|account_id|customer_id|member_id|userid|uid)$", re.I)
GROUP_COLUMN = re.compile(r"^(team_id|org_id|organization_id|organisation_id|workspace_id|group_id|tenant_id|company_id|project_id)$", re.I)
FEED_PATH = re.compile(r"(^|/)(feed|timeline|explore|public|popular|latest|trending|discover|home|all)(/|$)", re.I)
PUBLIC_FLAG = re.compile(r"^(is_)?(public|published|visible|listed)$", re.I)
SECRET_NAME = re.compile(r"(secret|signing|webhook_?key|hmac_?key|signature_?key|endpoint_?key)", re.I)


@dataclass
class Mechanism:
    name: str  # as the route carries it (a dependency, decorator, hook or the handler's qualname)
    kind: str  # dependency | decorator | hook | handler (an auth middleware covers the app: `middleware_auth`)
    verdict: str  # auth | role | weak | unknown
    weakness: str | None = None  # plain words: why it verifies nothing
    where: tuple[str, str, int] | None = None  # (relpath, qualname, line) of the function that is weak
    target: str | None = None  # the dependency a factory returns: Depends(authorizer()) -> _get_current_user


@dataclass
class RouteAuth:
    route: object
    mechanisms: list[Mechanism] = field(default_factory=list)
    role: str | None = None  # endpoint role by behaviour (endpoint_roles)
    mounted: str = "always"  # always | dev-only | unmounted
    user_params: set[str] = field(default_factory=set)  # handler parameters the model knows hold the user
    scoped: bool = False  # Security(..., scopes=[...]) or @auth.login_required(role="admin"): a role check

    @property
    def guarded(self) -> bool:
        """Something asks for a login (even when it verifies nothing, or is in a file not read)."""
        return bool(self.mechanisms)

    @property
    def verified(self) -> bool:
        return any(m.verdict in {"auth", "role"} for m in self.mechanisms)

    @property
    def unknown(self) -> bool:
        return any(m.verdict == "unknown" for m in self.mechanisms) and not self.verified

    @property
    def weak(self) -> list[Mechanism]:
        return [m for m in self.mechanisms if m.verdict == "weak"]

    def guard_names(self) -> list[str]:
        """The route's decorators and dependencies by name, a factory's by the dependency it returns."""
        targets = {m.name: m.target for m in self.mechanisms if m.target}
        return [targets.get(name) or name for name in [*self.route.decorators, *self.route.dependencies]]

    @property
    def role_checked(self) -> bool:
        route = self.route
        return route.role_checked or self.scoped or any(ROLE_DECORATOR.search(name.rpartition(".")[2]) for name in route.decorators)

    @property
    def served(self) -> bool:
        return self.mounted == "always"

    @property
    def public_by_design(self) -> bool:
        return self.role in PUBLIC_ROLES


@dataclass
class Judgement:
    verdict: str  # auth | weak | neutral
    weakness: str | None = None
    where: tuple[str, str, int] | None = None


class AuthModel:
    def __init__(self, index) -> None:
        self.index = index
        self.roles: Roles = endpoint_roles(index)
        self._judged: dict[str, Judgement] = {}
        self._unparsed: dict[str, bool] = {}
        self._mount_files = {id(m): relpath for relpath, facts in index.modules.items() for m in facts.mounts}
        self.routes: list[RouteAuth] = [self._route(route) for route in index.routes]
        self._by_route = {id(ra.route): ra for ra in self.routes}

    def of(self, route) -> RouteAuth:
        found = self._by_route.get(id(route))
        return found if found is not None else self._route(route)

    @property
    def has_auth(self) -> bool:
        return any(ra.guarded for ra in self.routes)

    # -- mechanisms -------------------------------------------------------------------------------

    def _route(self, route) -> RouteAuth:
        index = self.index
        facts = index.modules[route.relpath]
        found = RouteAuth(route)
        kinds = {**{d: "hook" for d in route.hooks}, **{d: "decorator" for d in route.decorators}, **{d: "dependency" for d in route.dependencies}}
        for name in route.auth:
            kind = kinds.get(name, "handler")
            qualified = name if "." in name and kind != "handler" else (index.qualify(name, facts) if kind != "handler" else f"{facts.module}.{name}")
            verdict = "role" if route.role_checked and kind != "handler" and index.is_auth_callable(qualified, decorator=kind == "decorator") == "role" else "auth"
            judgement = self.judge(qualified) if kind != "handler" else Judgement("neutral")
            if judgement.verdict == "weak":
                found.mechanisms.append(Mechanism(name, kind, "weak", judgement.weakness, judgement.where))
            else:
                found.mechanisms.append(Mechanism(name, kind, verdict))
        for hook in route.hooks:  # @bp.before_request stacked on @auth.login_required
            resolved = index.resolve_function(hook) if hook not in route.auth else None
            if resolved is not None and any(index.is_auth_callable(d, decorator=True) for d in resolved[1].decorators if d):
                found.mechanisms.append(Mechanism(hook, "hook", "auth"))
        for name in route.decorators:  # @authenticate(token_auth) (APIFairy): a library's login decorator
            if name not in route.auth and name.rpartition(".")[2] in LIBRARY_AUTH_DECORATORS and index.resolve_function(name) is None:
                found.mechanisms.append(Mechanism(name, "decorator", "auth"))
        for name in [*route.dependencies, *route.decorators]:
            if name not in route.auth:
                qualified = name if "." in name else index.qualify(name, facts)
                if self.in_unparsed_file(qualified):
                    found.mechanisms.append(Mechanism(name, kinds.get(name, "dependency"), "unknown"))
                    continue
                # Depends(get_current_user_authorizer()): a factory returning the dependency
                params = [p for p in route.handler.params if p.depends_on == name]
                target = self.factory_target(qualified, params[0].default if params else "") if kinds.get(name) == "dependency" else None
                if target and index.is_auth_callable(target):
                    judgement = self.judge(target)
                    verdict = "weak" if judgement.verdict == "weak" else "auth"
                    found.mechanisms.append(Mechanism(name, "dependency", verdict, judgement.weakness, judgement.where, target))
                    found.user_params |= {p.name for p in params}
        found.scoped = self._scoped(route, facts)
        found.mounted = self._mounted(route)
        if not found.mechanisms:  # token = request.headers["Authorization"]; decode(token): its own login check
            behaviour = self.roles.route_behaviour(route)
            if behaviour is not None and behaviour.reads_auth_header and behaviour.decodes_token:
                found.mechanisms.append(Mechanism(route.handler.qualname, "handler", "auth"))
        if not any(m.verdict in {"auth", "role"} and m.kind != "handler" for m in found.mechanisms):
            found.role = self.roles.role(route)
            if found.role in PUBLIC_ROLES:  # a login answering 401 to a wrong password checks no token
                found.mechanisms = [m for m in found.mechanisms if m.kind != "handler"]
            elif found.verified:
                found.role = None
        return found

    def _scoped(self, route, facts) -> bool:
        """A role asked for in the arguments of the login check itself."""
        if any(p.default and "Security(" in p.default and "scopes=" in p.default for p in route.handler.params):
            return True
        if not any(d.endswith("login_required") or d.rpartition(".")[2] in LIBRARY_AUTH_DECORATORS for d in route.decorators):
            return False
        node = self.index.function_node(route.relpath, route.handler.qualname)
        for decorator in node.decorator_list if node is not None else []:
            if isinstance(decorator, ast.Call) and any(k.arg in {"role", "roles"} for k in decorator.keywords):
                return True
        return False

    def in_unparsed_file(self, qualified: str) -> bool:
        """`qualified` names something in a project file the scan could not parse: unknown, not absent."""
        if qualified in self._unparsed:
            return self._unparsed[qualified]
        checker = getattr(self.index, "is_unknown", None)  # the index's own answer, with re-exports followed
        if checker is not None and checker(qualified):
            self._unparsed[qualified] = True
            return True
        answer = False
        unparsed = getattr(self.index, "unparsed", None)  # relpaths, when the engine records them
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:cut])
            if module in self.index.by_module:
                break
            relative = Path(*module.split("."))
            for candidate in (relative.with_suffix(".py"), relative / "__init__.py", Path("src") / relative.with_suffix(".py")):
                if unparsed is not None:
                    if str(candidate.as_posix()) in unparsed:
                        answer = True
                elif (self.index.root / candidate).is_file():
                    answer = True
            if answer:
                break
        self._unparsed[qualified] = answer
        return answer

    def factory_target(self, qualified: str, call_text: str | None) -> str | None:
        """The dependency a factory returns: `get_current_user_authorizer()` returns `_get_current_user`
        (None for `required=False`/`auto_error=False`: optional auth lets everyone in)."""
        if call_text and re.search(r"\b(required|auto_error)\s*=\s*False", call_text):
            return None
        resolved = self.index.resolve_function(qualified)
        if resolved is None:
            return None
        relpath, function = resolved
        facts = self.index.modules[relpath]
        node = self.index.function_node(relpath, function.qualname)
        for value in _own_returns(node) if node is not None else []:
            for name in [n.id for n in ast.walk(value) if isinstance(n, ast.Name)]:
                if f"{function.qualname}.{name}" in facts.functions:
                    return f"{facts.module}.{function.qualname}.{name}"
                if name in facts.functions and name != function.qualname:
                    return f"{facts.module}.{name}"
                if name in facts.imports:
                    return facts.imports[name]
        return None

    def judge(self, qualified: str, depth: int = 0) -> Judgement:
        """Does the auth callable `qualified` (with the dependencies and decorators it relies on)
        verify the caller, or only look like it?"""
        if qualified in self._judged:
            return self._judged[qualified]
        self._judged[qualified] = Judgement("neutral")  # recursion guard
        index = self.index
        resolved = index.resolve_function(qualified)
        if resolved is None:
            return self._judged[qualified]
        relpath, function = resolved
        node = index.function_node(relpath, function.qualname)
        if node is None:
            return self._judged[qualified]
        strong, weakness = self._signals(relpath, node)
        judgement = Judgement("auth") if strong else Judgement("neutral")
        inner: list[Judgement] = []
        if depth < 4:
            facts = index.modules[relpath]
            for param in function.params:
                dep = index.param_dependency(param, facts)
                if dep:
                    dep = dep if "." in dep else index.qualify(dep, facts)
                    inner.append(self.judge(self.factory_target(dep, param.default or "") or dep, depth + 1))
            for decorator in function.decorators:
                if decorator:
                    inner.append(self.judge(decorator, depth + 1))
        if not strong:
            if any(j.verdict == "auth" for j in inner):
                judgement = Judgement("auth")
            elif weakness:
                judgement = Judgement("weak", weakness, (relpath, function.qualname, function.span.line))
            else:
                judgement = next((j for j in inner if j.verdict == "weak"), judgement)
        self._judged[qualified] = judgement
        return judgement

    def _signals(self, relpath: str, node: ast.AST) -> tuple[bool, str | None]:
        """(verifies something, why it verifies nothing) from the function's own code and its helpers."""
        facts = self.index.modules.get(relpath)
        imports = facts.imports if facts is not None else {}
        strong = False
        weakness = None
        ignored: set[int] = set()
        from auditor.index.endpoint_roles import _before_rejection  # noqa: PLC0415

        deliberate = _before_rejection(node)
        cookie_names = {  # raw = request.cookies.get("session")
            t.id for sub in ast.walk(node) if isinstance(sub, ast.Assign) and "cookies" in ast.unparse(sub.value)
            for t in sub.targets if isinstance(t, ast.Name)
        }
        for sub in ast.walk(node):
            if isinstance(sub, ast.Expr) and isinstance(sub.value, ast.Call) and id(sub) not in deliberate:
                name = dotted(sub.value.func) or ""
                receiver = name.rpartition(".")[0].rpartition(".")[2]
                if BOOLEAN_VERIFIER.search(name) or (name.endswith(".verify") and HASHER.search(receiver)):
                    ignored.add(id(sub.value))
                    weakness = weakness or f"calls {name.rpartition('.')[2]}() but ignores its answer, so every caller passes"
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                raw = dotted(sub.func) or ""
                head, _, rest = raw.partition(".")
                name = imports[head] + (f".{rest}" if rest else "") if head in imports else raw
                tail = name.rpartition(".")[2]
                if name in {"jwt.decode", "jose.jwt.decode", "jwt.api_jwt.decode"}:
                    from auditor.index.endpoint_roles import _jwt_decode_verifies  # noqa: PLC0415

                    if _jwt_decode_verifies(sub):
                        strong = True
                    else:
                        weakness = "decodes the token without checking its signature, so a token anyone writes is accepted"
                elif UNVERIFIED_CLAIMS.search(name) or (tail in {"b64decode", "urlsafe_b64decode"} and "token" in ast.unparse(sub).lower()):
                    weakness = weakness or "reads the token's claims without checking its signature, so a token anyone writes is accepted"
                elif name.partition(".")[0] in PLAIN_DECODERS and _mentions_cookie(sub, cookie_names):
                    weakness = weakness or "reads the user from a cookie it decodes but never signs, so any caller can write one"
                elif id(sub) not in ignored and STRONG_CALL.search(name) and tail != "get_unverified_header" and name.partition(".")[0] not in PLAIN_DECODERS:
                    strong = True
                elif tail == "get" and sub.args:
                    key = const_str(sub.args[0]) or ""
                    holder = dotted(sub.func.value) if isinstance(sub.func, ast.Attribute) else ""
                    if holder in {"session", "flask.session"} and key:
                        strong = True  # Flask's session cookie is signed
                    elif holder and holder.endswith("headers") and IDENTITY_HEADER.match(key):
                        weakness = weakness or f"takes the user from the {key} header, which any caller can set to any name"
                    elif holder and holder.endswith("cookies") and IDENTITY_COOKIE.match(key):
                        weakness = weakness or f"takes the user from the unsigned '{key}' cookie, which any caller can edit"
                else:
                    helper = self._helper(relpath, sub)
                    if helper is not None:
                        behaviour = self.roles.behaviour(*helper)
                        strong |= behaviour.decodes_token or behaviour.verifies_password or behaviour.hmac or behaviour.other_check
            elif isinstance(sub, ast.Subscript):
                key = const_str(sub.slice) or ""
                holder = dotted(sub.value) or ""
                if holder in {"session", "flask.session"}:
                    strong = True
                elif holder.endswith("headers") and IDENTITY_HEADER.match(key):
                    weakness = weakness or f"takes the user from the {key} header, which any caller can set to any name"
                elif holder.endswith("cookies") and IDENTITY_COOKIE.match(key):
                    weakness = weakness or f"takes the user from the unsigned '{key}' cookie, which any caller can edit"
            elif isinstance(sub, ast.Attribute) and sub.attr in {"is_authenticated", "is_anonymous"}:
                strong = True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = [*node.args.args, *node.args.kwonlyargs]
            defaults = [*([None] * (len(node.args.args) - len(node.args.defaults))), *node.args.defaults, *node.args.kw_defaults]
            for arg, default in zip(args, defaults):
                callee = (dotted(default.func) or "").rpartition(".")[2] if isinstance(default, ast.Call) else ""
                if callee == "Header" and IDENTITY_HEADER.match(arg.arg):
                    weakness = weakness or f"takes the user from the {arg.arg.replace('_', '-')} header, which any caller can set to any name"
                elif callee == "Cookie" and IDENTITY_COOKIE.match(arg.arg):
                    weakness = weakness or f"takes the user from the unsigned '{arg.arg}' cookie, which any caller can edit"
        return strong, weakness

    def _helper(self, relpath: str, call: ast.Call):
        from auditor.rules.route_code import resolve_helper  # noqa: PLC0415 (the rules package imports this module)

        return resolve_helper(self.index, relpath, call)

    # -- where routes are served ---------------------------------------------------------------

    @cached_property
    def dev_mounts(self) -> set[tuple[str, int]]:
        """(relpath, line) of include_router/register_blueprint calls made only in development."""
        found = set()
        for relpath, facts in self.index.modules.items():
            if not any(self.index._canonical_router(m.child, facts) in self.index.routers for m in facts.mounts):
                continue  # (session.mount(...) of an HTTP client is no router)
            lines = {m.span.line for m in facts.mounts}
            for node in ast.walk(self.index.tree(relpath)):
                if isinstance(node, ast.If) and _dev_condition(node.test):
                    for stmt in node.body:
                        for line in range(stmt.lineno, (stmt.end_lineno or stmt.lineno) + 1):
                            if line in lines:
                                found.add((relpath, line))
        return found

    def _mounted(self, route) -> str:
        index = self.index
        roles = getattr(type(index), "roles", None) and index.roles  # code roles, when the index has them
        reason = roles.not_deployed(route) if roles is not None and hasattr(roles, "not_deployed") else None
        if reason and reason.startswith("mounted only"):
            return "dev-only"  # (a module nothing imports is the code roles' own call: rules are filtered by it)
        mounts = index._mounts_by_child
        router = route.router
        seen = set()
        while router not in seen:
            seen.add(router)
            parents = mounts.get(router)
            decl = index.routers.get(router)
            if not parents:
                kind = decl[1].kind if decl else ""
                if kind in {"fastapi-router", "flask-blueprint"} and self._all_mounts_known:
                    return "unmounted"
                return "always"
            if all((self._mount_files.get(id(m), ""), m.span.line) in self.dev_mounts for _, m in parents):
                return "dev-only"
            router = parents[0][0]
        return "always"

    @property
    def _all_mounts_known(self) -> bool:
        """Every include_router/register_blueprint in the project mounts a router the index knows
        (no loops over a list of routers, nothing computed): an unmounted router is then dead code."""
        cached = self.__dict__.get("_mounts_known")
        if cached is None:
            index = self.index
            apps = [d for _, d in index.routers.values() if d.kind.endswith("-app")]
            cached = bool(apps) and all(child in index.routers for child in index._mounts_by_child)
            self.__dict__["_mounts_known"] = cached
        return cached

    @cached_property
    def middleware_auth(self) -> bool:
        """An app-wide middleware that checks credentials (then every route is guarded by it)."""
        for facts in self.index.modules.values():
            if not facts.middleware:
                continue  # (functions are unpickled only where middleware is registered)
            for function in facts.functions.values():
                if function.checks_auth and any(d.endswith(".middleware") for d in function.decorators):
                    return True
            for site in facts.middleware:
                if site.args and re.search(r"Auth", site.args[0]):
                    return True
        return False

    # -- whose rows -------------------------------------------------------------------------------

    @property
    def owned(self) -> dict[str, str]:
        """Tables holding users' rows: through foreign keys (the data shape), or a `user_id`-like
        column in a table without foreign keys (raw SQL schemas often have none)."""
        cached = self.__dict__.get("_owned")
        if cached is None:
            from auditor.rules.querying import data_shape  # noqa: PLC0415

            shape = data_shape(self.index)
            cached = dict(shape.owned)
            for name, table in shape.tables.items():
                if name in cached or name in shape.users:
                    continue
                column = next((c for c in table.columns if OWNER_COLUMN.match(c)), None)
                if column:
                    cached[name] = column
            self.__dict__["_owned"] = cached
        return cached

    def public_table(self, table: str) -> bool:
        """Rows meant for everyone: the table has a public/published flag, or a page without login
        shows them while no logged-in route reads the same resource (a blog's posts, a profile).
        (An open read next to guarded reads of the same resource is the gap PR201 reports.)"""
        from auditor.rules.querying import data_shape  # noqa: PLC0415

        shape = data_shape(self.index)
        found = shape.tables.get(table)
        if found is not None and any(PUBLIC_FLAG.match(c) for c in found.columns):
            return True
        return table in self._public_reads

    @property
    def _public_reads(self) -> set[str]:
        cached = self.__dict__.get("_public_reads_cache")
        if cached is None:
            from auditor.rules.querying import data_shape  # noqa: PLC0415
            from auditor.rules.route_code import tables_touched  # noqa: PLC0415

            shape = data_shape(self.index)
            # Per router: a web blueprint's open pages next to an API blueprint behind a login are two faces.
            guarded = {(ra.route.router, _resource(ra.route.path)) for ra in self.routes if ra.guarded and "GET" in ra.route.methods}
            cached = set()
            for ra in self.routes:
                route = ra.route
                if ra.guarded or not ra.served or "GET" not in route.methods or (route.router, _resource(route.path)) in guarded:
                    continue
                node = self.index.function_node(route.relpath, route.handler.qualname)
                if node is not None:
                    cached |= set(tables_touched(node, shape))
            self.__dict__["_public_reads_cache"] = cached
        return cached

    # -- webhooks -------------------------------------------------------------------------------

    def fails_open(self, route) -> int | None:
        """The line where a webhook's signature check is skipped when its secret is unset, or None."""
        node = self.index.function_node(route.relpath, route.handler.qualname)
        if node is None:
            return None
        return self._fails_open(route.relpath, node, 0)

    def _fails_open(self, relpath: str, node: ast.AST, depth: int) -> int | None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.If) and _secret_test(sub.test):
                positive = not (isinstance(sub.test, ast.UnaryOp) and isinstance(sub.test.op, ast.Not))
                if positive and _has_signature_check(sub.body) and not _has_signature_check(sub.orelse) and not _rejects(sub.orelse):
                    return sub.lineno  # if secret: verify  (nothing when it is unset)
                if not positive and not _rejects(sub.body) and any(isinstance(s, ast.Return) for s in sub.body):
                    return sub.lineno  # if not secret: return process(...)
            if isinstance(sub, ast.If) and isinstance(sub.test, ast.BoolOp) and isinstance(sub.test.op, ast.And):
                first = sub.test.values[0]
                if _secret_test(first) and _has_signature_check(sub.test.values[1:]) and _rejects(sub.body):
                    return sub.lineno  # if secret and not valid: abort  (passes when unset)
            if depth < 2 and isinstance(sub, ast.Call):
                helper = self._helper(relpath, sub)
                if helper is not None and helper[1] is not node:
                    line = self._fails_open(helper[0], helper[1], depth + 1)
                    if line is not None:
                        return line
        return None

    # -- verifications thrown away --------------------------------------------------------------

    def ignored_verifications(self) -> list[tuple[str, int, str]]:
        """`verify(...)` calls whose True/False answer nothing reads, in code that serves routes."""
        found: list[tuple[str, int, str]] = []
        for ra in self.routes:
            behaviour = self.roles.route_behaviour(ra.route)
            if behaviour is not None:
                found += behaviour.ignored_verifications
        for qualified in list(self._judged):
            resolved = self.index.resolve_function(qualified)
            if resolved is not None:
                node = self.index.function_node(resolved[0], resolved[1].qualname)
                if node is not None:
                    found += self.roles.behaviour(resolved[0], node).ignored_verifications
        return sorted(set(found))

    def weak_functions(self) -> dict[tuple[str, str, int], tuple[str, list]]:
        """(relpath, qualname, line) of each auth function that verifies nothing -> (why, routes relying on it)."""
        found: dict[tuple[str, str, int], tuple[str, list]] = {}
        for ra in self.routes:
            for mechanism in ra.weak:
                if mechanism.where is not None:
                    found.setdefault(mechanism.where, (mechanism.weakness or "", []))[1].append(ra.route)
        return found


def _resource(path: str) -> str:
    """The resource a path is about: `/api/v1/tasks/{id}` -> `tasks` (`post` and `posts` alike)."""
    for segment in path.strip("/").split("/"):
        if not re.fullmatch(r"api|v\d+|[{<].*", segment):
            return segment.lower().rstrip("s")
    return ""


def _mentions_cookie(call: ast.Call, names: set[str]) -> bool:
    text = ast.unparse(call)
    return "cookies" in text or any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(call))


def _own_returns(node: ast.AST) -> list[ast.expr]:
    """The values the function itself returns (not those of functions nested in it)."""
    found: list[ast.expr] = []
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(child, ast.Return) and child.value is not None:
            found.append(child.value)
        stack.extend(ast.iter_child_nodes(child))
    return found


def _dev_condition(test: ast.AST) -> bool:
    """`settings.ENV == "development"`, `app.debug`, `if DEBUG:`, `os.getenv("ENV") in ("dev", "local")`."""
    if isinstance(test, ast.Compare):
        values = [const_str(c) for c in [test.left, *test.comparators]]
        values += [const_str(e) for c in test.comparators if isinstance(c, (ast.Tuple, ast.List, ast.Set)) for e in c.elts]
        if any(v and DEV_VALUE.match(v) for v in values) and all(isinstance(op, (ast.Eq, ast.In, ast.Is)) for op in test.ops):
            return True
        return False
    if isinstance(test, (ast.Name, ast.Attribute)):
        name = (dotted(test) or "").rpartition(".")[2]
        return name.lower() in {"debug", "testing", "dev", "development", "is_dev", "is_development", "is_local", "dev_mode", "local"}
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_dev_condition(v) for v in test.values)
    return False


def _secret_test(test: ast.AST) -> bool:
    inner = test.operand if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) else test
    if isinstance(inner, ast.Compare) and len(inner.ops) == 1 and isinstance(inner.ops[0], (ast.Is, ast.IsNot)):
        inner = inner.left
    name = dotted(inner) if isinstance(inner, (ast.Name, ast.Attribute)) else None
    return bool(name and SECRET_NAME.search(name.rpartition(".")[2]))


def _has_signature_check(nodes) -> bool:
    from auditor.index.endpoint_roles import HMAC_CALL  # noqa: PLC0415

    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and HMAC_CALL.search(dotted(sub.func) or ""):
                return True
            if isinstance(sub, ast.Call) and re.search(r"(verify|signature)", dotted(sub.func) or "", re.I):
                return True
    return False


def _rejects(nodes) -> bool:
    """The block refuses the request: raises, aborts, or returns an error status."""
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Raise):
                return True
            if isinstance(sub, ast.Call) and (dotted(sub.func) or "").rpartition(".")[2] in {"abort", "HTTPException", "Response", "JSONResponse", "jsonify"}:
                if any(isinstance(a, ast.Constant) and isinstance(a.value, int) and a.value >= 400 for a in ast.walk(sub)):
                    return True
            if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple) and len(sub.value.elts) == 2:
                code = sub.value.elts[1]
                if isinstance(code, ast.Constant) and isinstance(code.value, int) and code.value >= 400:
                    return True
    return False


def auth_model(index) -> AuthModel:
    """One AuthModel per index, built on first use."""
    model = index.__dict__.get("_auth_model")
    if model is None:
        model = index.__dict__["_auth_model"] = AuthModel(index)
    return model

"""Auth fixes, in the project's own terms: its auth dependency or login decorator on routes that
have none (PR201), a role check on admin routes (PR202), the current user in the queries of
routes that load other users' rows (PR203), and JWT handling (PR210-PR212).

Each fix reuses what the route's neighbours already do (the same module first, then the same
router or blueprint, then the app), names things the way the edited module does, and is left to
the user, with the reason, when the app gives no safe way to do it: routes that create accounts
or hand out credentials stay public, a role is checked only on a flag or column the user model has.
"""

from __future__ import annotations

import ast
import builtins
import re
from collections import Counter
from dataclasses import dataclass, field, replace

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor

from auditor.index.auth_model import auth_model
from auditor.index.endpoint_roles import LOGIN, OAUTH, PASSWORD_RESET, SIGNUP, TOKEN_FOR_ANYONE, TOKEN_REFRESH, WEBHOOK
from auditor.index.extract import module_name_for
from auditor.models import Confidence, Finding
from auditor.rules.auth import WEBHOOK_PATH
from auditor.rules.querying import data_shape
from auditor.rules.route_code import handler_node, id_params, is_user_expr, user_params
from auditor.walk import dotted
from fixers.base import Fixer, Outcomes
from fixers.cst import (
    FixCommand,
    Target,
    dotted_name,
    first_free,
    fix_with,
    header_end,
    insert_at,
    names_in,
    parse_module,
    write_module,
)
from fixers.cst_dispatch import QuickTransformer, QuickVisitor
from fixers.rewrite import (
    FunctionRewrite,
    add_param,
    code_of,
    decorator_names,
    param_names,
    route_at,
    run_codemod,
    set_keyword,
    statements,
    tail,
    transform,
)
from fixers.pipeline.workspace import Skip, Workspace

ADMIN_FLAGS = ("is_admin", "is_superuser", "is_staff", "is_administrator", "admin", "superuser")
ADMIN_VALUE = re.compile(r"""\brole\s*(?:==|!=)\s*(["'])(admin\w*|superuser|superadmin|staff|owner)\1|\brole\s*=\s*(["'])(admin\w*|superuser|superadmin)\3""", re.I)
NO_ADMIN_FLAG = (
    "by hand: your User model has no admin flag or role column (is_admin, role...), so who is an "
    "administrator cannot be checked automatically"
)
ADMIN_CHECK_NAME = re.compile(r"(require|ensure|check|only)_?(admin|superuser|staff)|(admin|superuser|staff)_(required|only|user)", re.I)
ADMIN_DECORATOR = re.compile(r"(admin|superuser|staff)_(required|only)|(require|ensure|check)_(admin|superuser|staff)", re.I)
SESSION_USER = re.compile(r"""session\s*(\[\s*["'](\w*user\w*)["']\s*\]|\.get\(\s*["'](\w*user\w*)["'])""")
SESSION_USER_IN = re.compile(r"""()["'](\w*user\w*)["']\s+(?:not\s+)?in\s+session\b""")  # `"user_id" not in session`
HTTPAUTH_OBJECT = re.compile(r"^(\w+)\s*=\s*(?:flask_httpauth\.)?(?:HTTPBasicAuth|HTTPTokenAuth|HTTPDigestAuth|MultiAuth)\(", re.M)

# Routes that create accounts or hand out credentials: a login requirement there locks everyone out.
CREDENTIAL_SEGMENT = re.compile(
    r"^(log[-_]?in|sign[-_]?in|sign[-_]?up|register|registration|signup|token|tokens|refresh|"
    r"[\w-]*password[\w-]*|forgot[\w-]*|reset[\w-]*|activate|activation|verify[\w-]*|confirm[\w-]*|"
    r"magic[-_]?link|otp|oauth\w*|callback|sso|authorize)$",
    re.I,
)
MODEL_CONSTRUCTORS = frozenset({"model_validate", "from_orm", "parse_obj", "model_construct", "construct", "create", "create_user"})
INVITATION = re.compile(r"(^|/)invit\w*(/|$)", re.I)
ACCEPTING = re.compile(r"(^|/)(accept|join|redeem|claim)(/|$)|[{<](\w+:)?(token|code|key)[}>]", re.I)
PASSWORD_HASHING = re.compile(r"(^|\.|_)(hash_password|generate_password_hash|set_password|hashpw|make_password|get_password_hash|password_hash)$|^(pwd_context|password_context|ph|argon2|bcrypt)\.hash$", re.I)
CREDENTIAL_ISSUING = re.compile(
    r"(^|\.)(login_user|create_access_token|create_refresh_token|encode_auth_token|generate_auth_token|"
    r"create_token|issue_token|make_token|generate_token|create_session|jwt\.encode|secrets\.token_urlsafe|secrets\.token_hex)$",
    re.I,
)


def split(qualified: str) -> tuple[str, str]:
    module, _, name = qualified.rpartition(".")
    return module, name


# -- naming things in the edited module ------------------------------------------------------------


def _same(a: str, b: str) -> bool:
    """Two dotted names for the same thing: equal, or one written from another root than the scan's
    (`app.models` in the code, `backend.app.models` in the index). A one-part name is too common
    (`db`, `models`) to be matched as the end of another."""
    short, long = sorted((a, b), key=len)
    return a == b or ("." in short and long.endswith("." + short))


@dataclass
class ModuleNames:
    """What the module-level names of one module stand for (from its current text), and how code
    added to it names a project model or a library object: by the name the module already has for
    it, through a module it imports (`models.Page`), or with an import in its own style."""

    module: str
    package: str
    imported: dict[str, str] = field(default_factory=dict)  # local name -> absolute dotted target
    spelled: dict[str, tuple[str, int]] = field(default_factory=dict)  # absolute module -> (as written, level)
    defined: set[str] = field(default_factory=set)
    star: bool = False

    @classmethod
    def read(cls, relpath: str, text: str) -> ModuleNames:
        module = module_name_for(relpath)
        package = module if relpath.endswith("__init__.py") else module.rpartition(".")[0]
        names = cls(module, package)
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return names
        for node in tree.body:
            for sub in ast.walk(node) if isinstance(node, (ast.Try, ast.If)) else [node]:
                names._bind(sub)
        return names

    def _bind(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.imported[alias.asname] = alias.name
                else:
                    head = alias.name.partition(".")[0]
                    self.imported.setdefault(head, head)
        elif isinstance(node, ast.ImportFrom):
            base = self.resolve(node.module or "", node.level)
            self.spelled.setdefault(base, (node.module or "", node.level))
            for alias in node.names:
                if alias.name == "*":
                    self.star = True
                else:
                    self.imported[alias.asname or alias.name] = f"{base}.{alias.name}" if base else alias.name
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                self.defined |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}

    def resolve(self, module: str, level: int) -> str:
        if not level:
            return module
        parts = self.package.split(".") if self.package else []
        base = parts[: len(parts) - (level - 1)] if level > 1 else parts
        return ".".join([*base, module] if module else base)

    def bound(self, name: str) -> bool:
        return name in self.imported or name in self.defined

    def ref(self, module: str, name: str, imports: list) -> str:
        """How this module names `module.name`; when it has no name for it yet, `name`, with an
        import appended to `imports`. Skip when `name` already means something else here."""
        if name in self.defined and _same(module, self.module):
            return name
        target = self.imported.get(name)
        if target is not None and _same(target, f"{module}.{name}"):
            return name
        for local, target in sorted(self.imported.items()):
            if _same(target, module) and local not in self.defined:
                return f"{local}.{name}"
        if self.bound(name) or hasattr(builtins, name):
            raise Skip(f"by hand: the name {name} means something else in this module, so the fix cannot use {module}.{name} there")
        imports.append((*self.spelling(module), name))
        return name

    def spelling(self, module: str) -> tuple[str, int]:
        """How the module writes an import of `module`: as it already does, else like its imports
        of its neighbours (relative, or absolute from the same root)."""
        for resolved, spelled in self.spelled.items():
            if resolved and _same(resolved, module):
                return spelled
        if any(level for _, level in self.spelled.values()):
            ours, theirs = self.package.split("."), module.split(".")
            common = 0
            while common < min(len(ours), len(theirs) - 1) and ours[common] == theirs[common]:
                common += 1
            if common:
                return ".".join(theirs[common:]), len(ours) - common + 1
        return module, 0


class HandlerRewrite(FunctionRewrite):
    """FunctionRewrite whose callbacks also get the module's names; the imports the successful
    rewrites need are scheduled on the codemod context, so AddImportsVisitor adds them to the
    module's own import block (into its existing `from .models import ...` when there is one)."""

    def __init__(self, context, targets=(), edits: dict | None = None, names: ModuleNames | None = None) -> None:
        wrapped = {qualname: (targets_, self._scoped(callback)) for qualname, (targets_, callback) in (edits or {}).items()}
        super().__init__(context, targets, edits=wrapped)
        self.module_names = names
        self.pending: list[tuple[str, int, str | None]] = []

    def _scoped(self, callback):
        def run(function: cst.FunctionDef) -> cst.FunctionDef:
            imports: list[tuple[str, int, str | None]] = []
            new = callback(function, self.module_names, imports)  # on Skip nothing is imported
            self.pending.extend(imports)
            return new

        return run

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        tree = super().transform_module_impl(tree)
        names = self.module_names
        pending = list(dict.fromkeys(self.pending))
        relative = [(module, level) for module, level, _ in pending if level]
        if names is not None and relative and all(names.resolve(*r) in names.spelled for r in relative):
            # Only names from modules the file already imports relatively: libcst merges them into
            # those lines once it knows the package the relative imports start from.
            self.context = replace(self.context, full_package_name=names.package)
            pending = [(names.resolve(module, level), 0, name) if level else (module, level, name) for module, level, name in pending]
        for module, level, name in pending:
            AddImportsVisitor.add_needed_import(self.context, module, name, relative=level)
        return tree


def _findings_by_handler(ws: Workspace, findings: list[Finding], outcomes: Outcomes) -> dict[str, dict[str, tuple[list[Target], object]]]:
    by_file: dict[str, dict[str, tuple[list[Target], object]]] = {}
    for finding in findings:
        try:
            route = route_at(ws, finding)
        except Skip as exc:
            outcomes[finding] = str(exc)
            continue
        edits = by_file.setdefault(route.relpath, {})
        targets, _ = edits.get(route.handler.qualname, ([], None))
        targets.append(Target(finding, finding.line, None))
        edits[route.handler.qualname] = (targets, route)
    return by_file


def handler_edit(ws: Workspace, findings: list[Finding], rewrite) -> Outcomes:
    """Apply `rewrite(route, function) -> function` to each finding's handler, file by file."""
    outcomes: Outcomes = {}
    for relpath, found in _findings_by_handler(ws, findings, outcomes).items():
        edits = {q: (targets, lambda function, route=route: rewrite(route, function)) for q, (targets, route) in found.items()}
        all_targets = [t for targets, _ in edits.values() for t in targets]
        command = transform(ws, relpath, FunctionRewrite, all_targets, edits=edits)
        outcomes.update({t.finding: command.outcomes.get(t.finding, "the handler was not found") for t in all_targets})
    return outcomes


def scoped_handler_edit(ws: Workspace, findings: list[Finding], rewrite) -> Outcomes:
    """Apply `rewrite(route, function, names, imports) -> function` to each finding's handler:
    `names.ref(module, name, imports)` names a model or library object in the handler's module."""
    outcomes: Outcomes = {}
    for relpath, found in _findings_by_handler(ws, findings, outcomes).items():
        names = ModuleNames.read(relpath, ws.read(relpath) or "")
        edits = {
            q: (targets, lambda function, names, imports, route=route: rewrite(route, function, names, imports))
            for q, (targets, route) in found.items()
        }
        all_targets = [t for targets, _ in edits.values() for t in targets]
        command = run_codemod(ws, relpath, HandlerRewrite, all_targets, keep_any_change=True, edits=edits, names=names)
        outcomes.update({t.finding: command.outcomes.get(t.finding, "the handler was not found") for t in all_targets})
    return outcomes


# -- routes that are public by design ----------------------------------------------------------------


ROLE_REASONS = {
    SIGNUP: "it creates accounts",
    LOGIN: "it checks a password and hands out logins",
    PASSWORD_RESET: "it resets passwords",
    TOKEN_REFRESH: "it hands out logins (tokens or sessions)",
    TOKEN_FOR_ANYONE: "it hands out logins (tokens or sessions)",
    OAUTH: "it completes a sign-in with another service",
    WEBHOOK: "it is a webhook that checks its sender's signature",
}


def public_by_design(ws: Workspace, route) -> str | None:
    """Why a route looks meant for people who are not logged in yet (it creates accounts or hands
    out credentials), from its path and from what its handler does; None otherwise."""
    segments = [s for s in route.path.lower().split("/") if s and not s.startswith(("{", "<"))]
    if INVITATION.search(route.path) and ACCEPTING.search(route.path):
        return "it accepts an invitation sent by link"
    role = auth_model(ws.index).roles.role(route)  # what the handler does, whatever it is called
    if role in ROLE_REASONS:
        return ROLE_REASONS[role]
    if any(CREDENTIAL_SEGMENT.match(s) for s in segments):
        return "its address is for signing up, logging in or resetting a password"
    node = handler_node(ws.index, route)
    if node is None:
        return None
    shape = data_shape(ws.index)
    user_models = {shape.tables[t].model for t in shape.users if shape.tables[t].model}
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            name = dotted(sub.func) or ""
            head, _, method = name.partition(".")
            if name.rpartition(".")[2] in user_models or (head in user_models and method in MODEL_CONSTRUCTORS):
                return "it creates accounts"
            if PASSWORD_HASHING.search(name):
                return "it sets passwords"
            if CREDENTIAL_ISSUING.search(name):
                return "it hands out logins (tokens or sessions)"
            if sub.args and isinstance(sub.args[0], ast.Constant) and isinstance(sub.args[0].value, str):
                if any(re.search(rf"\binsert\s+into\s+{t}\b", sub.args[0].value, re.I) for t in shape.users):
                    return "it creates accounts"
        if isinstance(sub, ast.Assign) and any(
            isinstance(t, ast.Subscript) and dotted(t.value) == "session" and re.search(r"user", ast.unparse(t.slice), re.I) for t in sub.targets
        ):
            return "it hands out logins (tokens or sessions)"
    return None


def _reads_user(ws: Workspace, route) -> bool:
    """The handler reads the logged-in user itself (current_user, g.user, the session's user...)."""
    node = handler_node(ws.index, route)
    return node is not None and is_user_expr(node, frozenset())


def public_reason(why: str) -> str:
    return f"by hand: this route looks public by design ({why}); if it is, add it to public-routes"


# -- the project's own auth: what the route's neighbours use -------------------------------------------


def neighbours(index, route) -> list[list]:
    """Other routes of the same framework: of the same module, of the same router/blueprint, of the app."""
    others = [r for r in index.routes if r is not route and r.framework == route.framework]
    return [[r for r in others if r.relpath == route.relpath], [r for r in others if r.router == route.router], others]


def qualified_dependency(index, param, facts) -> str | None:
    """The qualified Depends(...) target of a handler parameter; through an `Annotated` alias it
    is named in the alias's module, not the handler's."""
    if param.depends_on:
        return param.depends_on if "." in param.depends_on else index.qualify(param.depends_on, facts)
    dependency = index.param_dependency(param, facts)
    if not dependency or "." in dependency:
        return dependency
    head, _, rest = (param.annotation or "").partition(".")
    located = index.module_of(facts.imports[head] + (f".{rest}" if rest else "")) if head in facts.imports else None
    return index.qualify(dependency, index.modules[located[0]]) if located else index.qualify(dependency, facts)


@dataclass
class FastapiAuth:
    dependency: str  # qualified name of the auth dependency
    param: str  # the parameter as the project writes it: "current_user: User = Depends(get_current_user)"
    name: str  # the parameter's name
    local: bool = False  # written as in this module (every name in it is bound there)


def fastapi_auth(ws: Workspace, route_or_relpath) -> FastapiAuth:
    """The auth dependency the route's nearest neighbours use, with the parameter as a route of
    the same module writes it when there is one."""
    index = ws.index
    if isinstance(route_or_relpath, str):  # a module rather than a route: its first route's neighbours
        route = next((r for r in index.routes if r.relpath == route_or_relpath), None)
        tiers = neighbours(index, route) if route is not None else [index.routes]
        tiers = [[route, *tiers[0]] if route is not None else [], *tiers[1:]]
    else:
        route = route_or_relpath
        tiers = neighbours(index, route)
    for tier in tiers:
        uses: Counter = Counter()
        written: dict[str, FastapiAuth] = {}
        for other in tier:
            facts = index.modules[other.relpath]
            for param in other.handler.params:
                qualified = qualified_dependency(index, param, facts)
                if qualified is None or index.is_auth_callable(qualified) != "auth":
                    continue
                uses[qualified] += 1
                if route is not None and other.relpath == route.relpath and qualified not in written:
                    annotation = f": {param.annotation}" if param.annotation else ""
                    default = f" = {param.default}" if param.default else ""
                    written[qualified] = FastapiAuth(qualified, f"{param.name}{annotation}{default}", param.name, True)
            for dep in other.dependencies:  # router- or app-level dependencies=[Depends(...)]
                if dep in other.auth and not any(index.param_dependency(p, facts) == dep for p in other.handler.params):
                    qualified = dep if "." in dep else index.qualify(dep, facts)
                    if index.resolve_function(qualified) is not None and index.is_auth_callable(qualified) == "auth":
                        uses[qualified] += 1
        if uses:
            dependency = uses.most_common(1)[0][0]
            return written.get(dependency) or FastapiAuth(dependency, f"current_user=Depends({split(dependency)[1]})", "current_user")
    raise Skip("the app has no auth dependency (Depends(get_current_user)) to reuse")


@dataclass
class FlaskGuard:
    """A login decorator as the neighbours use it: `login_required`, `token_auth.login_required`."""

    module: str  # where the decorator, or the object it hangs on, is defined or imported from
    name: str  # that name: login_required / token_auth
    attribute: str  # "" or "login_required" for `token_auth.login_required`
    kind: str  # flask-login | httpauth | project

    def written(self, local: str) -> str:
        return f"{local}.{self.attribute}" if self.attribute else local

    def user(self, local: str) -> str | None:
        """The logged-in user as a handler under this guard reads it."""
        if self.kind == "httpauth":
            return f"{local}.current_user()"
        if self.kind == "flask-login":
            return "current_user"
        return None


def httpauth_objects(index) -> set[str]:
    """Qualified names of the Flask-HTTPAuth objects (`auth = HTTPTokenAuth()`) the project makes."""
    found = set()
    for relpath, facts in index.modules.items():
        if "flask_httpauth" in facts.top_imports:
            found |= {f"{facts.module}.{name}" for name in HTTPAUTH_OBJECT.findall(index.source(relpath))}
    return found


def flask_guard_of(index, route, decorator: str) -> FlaskGuard | None:
    """The guard a decorator of `route` is, when it authenticates (and checks no role). The index
    writes decorators qualified (`flask_login.login_required`, `app.api.auth.token_auth.login_required`),
    or bare when defined in the route's own module."""
    facts = index.modules[route.relpath]
    qualified = decorator if "." in decorator else f"{facts.module}.{decorator}"
    if index.is_auth_callable(decorator if "." in decorator else index.qualify(decorator, facts), decorator=True) != "auth":
        return None
    prefix, _, attribute = decorator.rpartition(".")
    if prefix:
        candidates = {prefix, f"{facts.module}.{prefix}"} if "." not in prefix else {prefix}
        for obj in httpauth_objects(index):
            if obj in candidates or any("." in c and _same(obj, c) for c in candidates):
                return FlaskGuard(*split(obj if obj in candidates else next(iter(candidates))), attribute, "httpauth")
    if qualified in ("flask_login.login_required", "flask_login.utils.login_required"):
        return FlaskGuard("flask_login", "login_required", "", "flask-login")
    return FlaskGuard(*split(qualified), "", "project")


def flask_guard(ws: Workspace, route) -> FlaskGuard:
    """The login decorator the route's nearest neighbours use. When the nearest logged-in
    neighbours are guarded by their blueprint's before_request hook instead, there is no
    decorator of theirs to copy: the route belongs on that blueprint, which is for the user to say."""
    index = ws.index
    for tier in neighbours(index, route):
        uses: Counter = Counter()
        hooked = 0
        for other in tier:
            hooked += any(hook in other.auth for hook in other.hooks)
            for decorator in other.decorators:
                if decorator in other.auth:
                    guard = flask_guard_of(index, other, decorator)
                    if guard is not None:
                        uses[(guard.module, guard.name, guard.attribute, guard.kind)] += 1
        if uses:
            return FlaskGuard(*uses.most_common(1)[0][0])
        if hooked:
            raise Skip(
                "by hand: the routes next to this one are protected by a before_request check on their blueprint; "
                "register this route on that blueprint, or add the same check to it"
            )
    raise Skip("the app has no login decorator to reuse (routes are guarded some other way, e.g. a before_request hook)")


def guard_redirects(index, guard: FlaskGuard) -> bool:
    """The guard sends people who are not logged in to a login page (an HTML redirect)."""
    if guard.kind == "flask-login":
        return login_redirects(index)
    if guard.kind == "project":
        resolved = index.resolve_function(f"{guard.module}.{guard.name}")
        node = index.function_node(resolved[0], resolved[1].qualname) if resolved else None
        return node is not None and any(
            isinstance(c, ast.Call) and (dotted(c.func) or "").rpartition(".")[2] == "redirect" for c in ast.walk(node)
        )
    return False


def answers_json(index, route) -> bool:
    """The handler answers with JSON (jsonify, dicts, lists), not pages or redirects."""
    node = handler_node(index, route)
    if node is None:
        return False
    calls = {(dotted(c.func) or "").rpartition(".")[2] for c in ast.walk(node) if isinstance(c, ast.Call)}
    if calls & {"render_template", "render_template_string", "redirect", "send_file"}:
        return False
    returns = [r.value for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None]
    firsts = [v.elts[0] if isinstance(v, ast.Tuple) and v.elts else v for v in returns]
    return "jsonify" in calls or any(isinstance(v, (ast.Dict, ast.List)) for v in firsts)


def login_redirects(index) -> bool:
    """Flask-Login is set to send people who are not logged in to a login page."""
    sources = [index.source(relpath) for relpath, facts in index.modules.items() if "flask_login" in facts.top_imports]
    sources += [index.source(relpath) for relpath, facts in index.modules.items() if "flask_login" not in facts.top_imports and "login_view" in index.source(relpath)]
    joined = "\n".join(sources)
    return bool(re.search(r"\blogin_view\s*=|LoginManager\([^)]*login_view", joined)) and not re.search(r"unauthorized_handler|unauthorized_callback\s*=", joined)


def guard_local(names: ModuleNames, guard: FlaskGuard, imports: list) -> str:
    """The guard's name in the module (imported when the module has none for it)."""
    return names.ref(guard.module, guard.name, imports) if guard.module else guard.name


def add_decorator(function: cst.FunctionDef, code: str, route_owner: str, below: set[str] | frozenset[str] = frozenset()) -> cst.FunctionDef:
    """Add a decorator right below the route decorator (it must wrap the view first), or below
    the last of the decorators named in `below` (a role check goes under the login check)."""
    decorators = list(function.decorators)
    new = cst.Decorator(cst.parse_expression(code))
    names = decorator_names(function)
    position = next((i + 1 for i, name in enumerate(names) if name.startswith(route_owner + ".")), len(decorators))
    for i, name in enumerate(names):
        if name and any(b == name or b.endswith("." + name) for b in below):
            position = max(position, i + 1)
    decorators.insert(position, new)
    return function.with_changes(decorators=decorators)


class AuthRouteFixer(Fixer):
    """PR201: the login check the route's neighbours use, on the route."""

    def fix(self, findings, ws: Workspace) -> Outcomes:
        findings = list(findings)
        outcomes: Outcomes = {}
        usable = []
        for finding in findings:
            try:
                route = route_at(ws, finding)
            except Skip as exc:
                outcomes[finding] = str(exc)
                continue
            if WEBHOOK_PATH.search(route.path):
                outcomes[finding] = "a webhook cannot log in: verify the sender's signature (HMAC of the raw body) instead"
            elif why := public_by_design(ws, route):
                outcomes[finding] = public_reason(why)
            elif "GET" in route.methods and route.is_mutating and _reads_user(ws, route):
                outcomes[finding] = (
                    "by hand: this route also shows a page to visitors (GET) and reads the logged-in user itself; "
                    "a login requirement would hide the page from visitors, so check the login in the part that "
                    "changes data"
                )
            elif finding.confidence == Confidence.LOW and not route.is_mutating:
                outcomes[finding] = (
                    "by hand: no other route that reads these rows needs a login, so this one may be public on "
                    "purpose (a catalog, a public profile); if it is, add it to public-routes"
                )
            else:
                usable.append(finding)
        for relpath in sorted({f.path for f in usable}):
            group = [f for f in usable if f.path == relpath]
            result = self.guarded(group, ws, lambda group=group: self.add_auth(group, ws))
            if len(group) > 1 and all(result.get(f) for f in group):  # one bad route must not sink the others
                result = {}
                for finding in group:
                    result.update(self.guarded([finding], ws, lambda finding=finding: self.add_auth([finding], ws)))
            outcomes.update(result)
        return outcomes

    def add_auth(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        """The login check, and the current user in its lookups of users' rows by a path id (a
        route that starts to require a login should not then serve other users' rows). Each route
        gets the check of its own neighbours."""
        outcomes: Outcomes = {}
        checks: dict[str, object] = {}  # handler qualname -> the FastapiAuth / FlaskGuard it gets
        usable = []
        for finding in findings:
            route = route_at(ws, finding)
            try:
                checks[route.handler.qualname] = self._check_for(ws, route)
            except Skip as exc:
                outcomes[finding] = str(exc)
            else:
                usable.append(finding)
        shape = data_shape(ws.index)

        def rewrite(route, function, names, imports):
            check = checks[route.handler.qualname]
            style = paramstyle(ws, route.relpath)
            if isinstance(check, FastapiAuth):
                name, param = check.name, check.param
                if name in param_names(function) | names_in(function.body):  # `user = db.get(User, user_id)`
                    name = first_free(param_names(function) | names_in(function.body) | names.imported.keys() | names.defined, "current_user", "caller", "auth_user")
                    param = name + param[len(check.name):]
                if not check.local:
                    depends = names.ref("fastapi", "Depends", imports)
                    param = f"{name}={depends}({names.ref(*split(check.dependency), imports)})"
                function = add_param(function, param, first="=" not in param)
                return own_rows_only(shape, route, function, f"{name}.id", style, names, imports)
            local = guard_local(names, check, imports)
            function = add_decorator(function, check.written(local), route.router.rpartition(".")[2])
            user_imports: list = []
            if check.kind == "flask-login":
                user = names.ref("flask_login", "current_user", user_imports) + ".id"
            elif check.kind == "httpauth":
                user = f"{local}.current_user().id"
            else:
                found = user_read_by(ws.index, f"{check.module}.{check.name}")
                if found is None:
                    return function
                try:
                    user = _user_names(*found, names, user_imports)
                except Skip:
                    return function
            return own_rows_only(shape, route, function, user, style, names, imports, user_imports)

        outcomes.update(scoped_handler_edit(ws, usable, rewrite))
        return outcomes

    @staticmethod
    def _check_for(ws: Workspace, route) -> FastapiAuth | FlaskGuard:
        if route.framework == "fastapi":
            return fastapi_auth(ws, route)
        guard = flask_guard(ws, route)
        if answers_json(ws.index, route) and guard_redirects(ws.index, guard):
            raise Skip(
                "by hand: this route answers JSON, but the app's login check sends people who are not logged in "
                "to the HTML login page; protect it with a check that answers 401"
            )
        return guard

    @staticmethod
    def _imports(ws: Workspace, relpath: str, imports: list[tuple[str, str]], param: str) -> None:
        """Import what the added code names, unless the module has it already."""
        text = ws.read(relpath) or ""
        module = parse_module(text)
        bound = _bound_names(module)
        wanted = [(mod, name) for mod, name in imports if name not in bound and mod]
        if wanted:
            module = add_imports(module, relpath, wanted)
        write_module(ws, relpath, module)


def _bound_names(module: cst.Module) -> set[str]:
    names: set[str] = set()
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)) and not isinstance(small.names, cst.ImportStar):
                    names |= {a.evaluated_alias or a.evaluated_name.split(".")[0] for a in small.names}
                elif isinstance(small, cst.Assign):
                    names |= {t.target.value for t in small.targets if isinstance(t.target, cst.Name)}
        elif isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
            names.add(statement.name.value)
        elif isinstance(statement, cst.Try):
            names |= _bound_names(cst.Module(body=list(statement.body.body)))
    return names


def add_imports(module: cst.Module, relpath: str, imports: list[tuple[str, str | None]]) -> cst.Module:
    from fixers.cst import add_imports_in_order

    return add_imports_in_order(module, relpath, imports)  # in the module's own import order


# -- PR202: role checks ---------------------------------------------------------------------------


def _model_class(index, relpath: str, name: str) -> ast.ClassDef | None:
    return next((n for n in index.tree(relpath).body if isinstance(n, ast.ClassDef) and n.name == name), None)


def role_expression(ws: Workspace, user: str) -> str:
    """How the project's user model says "admin": a flag (is_admin, is_superuser...), a property
    or method of that name, or a role column compared with the value the app itself uses. Skip
    when the model has none of these: a check on a missing attribute would turn everyone away."""
    index = ws.index
    shape = data_shape(index)
    for table in (shape.tables[name] for name in sorted(shape.users)):
        for flag in ADMIN_FLAGS:
            if flag in table.columns:
                return f"{user}.{flag}"
        node = _model_class(index, table.path, table.model) if table.model and table.path.endswith(".py") else None
        for sub in node.body if node is not None else []:
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and sub.name in ADMIN_FLAGS:
                decorated = {dotted(d) or "" for d in sub.decorator_list}
                attribute = decorated & {"property", "cached_property", "functools.cached_property", "hybrid_property"}
                return f"{user}.{sub.name}" if attribute else f"{user}.{sub.name}()"
            if isinstance(sub, (ast.Assign, ast.AnnAssign)) and any(
                isinstance(t, ast.Name) and t.id in ADMIN_FLAGS for t in (sub.targets if isinstance(sub, ast.Assign) else [sub.target])
            ):
                name = next(t.id for t in (sub.targets if isinstance(sub, ast.Assign) else [sub.target]) if isinstance(t, ast.Name))
                return f"{user}.{name}"
        if "role" in table.columns:
            for relpath in sorted(index.modules):
                match = ADMIN_VALUE.search(index.source(relpath))
                if match:
                    return f'{user}.role == "{match.group(2) or match.group(4)}"'
            raise Skip("by hand: your User model has a role column, but no value of it is used for administrators anywhere in the app, so which role is an admin cannot be told automatically")
    raise Skip(NO_ADMIN_FLAG)


def existing_role_check(ws: Workspace, framework: str) -> str | None:
    """A role-checking dependency or decorator the project already has (qualified name)."""
    index = ws.index
    for relpath, facts in sorted(index.modules.items()):
        for qualname, function in facts.functions.items():
            if "." in qualname or not ADMIN_CHECK_NAME.search(function.name):
                continue
            qualified = f"{facts.module}.{qualname}"
            if index.is_auth_callable(qualified, decorator=framework == "flask") == "role":
                return qualified
    return None


class AdminRoleFixer(Fixer):
    """PR202: the project's role check on admin routes (a require_admin dependency is created from
    its auth dependency when it has none)."""

    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        route = route_at(ws, findings[0])
        if route.framework == "fastapi":
            return self._fastapi(findings, ws, route)
        return self._flask(findings, ws, route)

    def _fastapi(self, findings, ws: Workspace, route) -> Outcomes:
        auth = fastapi_auth(ws, route.relpath)
        check = existing_role_check(ws, "fastapi") or self._create_dependency(ws, auth)
        index = ws.index

        def rewrite(route, function, names, imports):
            users = user_params(index, route)
            params = [p for p in function.params.params if p.name.value in users]
            if not params:
                raise Skip("the handler gets the current user some other way; add Depends(" + split(check)[1] + ") by hand")
            depends = names.ref("fastapi", "Depends", imports)
            local = names.ref(*split(check), imports)
            # `user: CurrentUser` (an Annotated alias that already depends on the login) loses the
            # alias: FastAPI refuses a Depends both in Annotated and as the default
            new_params = [
                p.with_changes(
                    default=cst.parse_expression(f"{depends}({local})"),
                    equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")) if p.default is None else p.equal,
                    annotation=None if p.default is None else p.annotation,
                )
                if p in params
                else p
                for p in function.params.params
            ]
            return function.with_changes(params=function.params.with_changes(params=new_params))

        return scoped_handler_edit(ws, findings, rewrite)

    def _create_dependency(self, ws: Workspace, auth: FastapiAuth) -> str:
        """`require_admin` next to the auth dependency, built on it."""
        located = ws.index.module_of(auth.dependency)
        if located is None:
            raise Skip("the auth dependency is not defined in this project; add a role check by hand")
        relpath, local = located
        text = ws.read(relpath) or ""
        if re.search(r"^def require_admin\b", text, re.M):
            return f"{module_name_for(relpath)}.require_admin"
        code = (
            "def require_admin(current_user=Depends({dep})):\n"
            '    """The current user, when they are an administrator; 403 for everyone else."""\n'
            "    if not ({check}):\n"
            '        raise HTTPException(status_code=403, detail="Administrators only")\n'
            "    return current_user\n"
        ).format(dep=local, check=role_expression(ws, "current_user"))
        module = parse_module(text)
        # right below the dependency it builds on: routes further down may use it as a default
        after = next((i + 1 for i, s in enumerate(module.body) if isinstance(s, cst.FunctionDef) and s.name.value == local), len(module.body))
        module = module.with_changes(body=insert_at(list(module.body), after, statements(code)))
        module = add_imports(module, relpath, [("fastapi", "Depends"), ("fastapi", "HTTPException")])
        write_module(ws, relpath, module)
        return f"{module_name_for(relpath)}.require_admin"

    def _flask(self, findings, ws: Workspace, route) -> Outcomes:
        check = existing_role_check(ws, "flask")
        owner = route.router.rpartition(".")[2]
        below = set(route.auth)
        if check is not None:
            return scoped_handler_edit(
                ws, findings, lambda route, function, names, imports: add_decorator(function, names.ref(*split(check), imports), owner, below)
            )
        names = ModuleNames.read(route.relpath, ws.read(route.relpath) or "")
        functions = {name for name in ws.index.modules[route.relpath].functions if "." not in name}
        own = sorted(n for n in names.imported.keys() | (names.defined & functions) if ADMIN_DECORATOR.fullmatch(n))
        if own:  # the module has an admin decorator of its own (flasky's admin_required): use it
            return handler_edit(ws, findings, lambda route, function: add_decorator(function, own[0], owner, below))
        guards = [g for d in route.auth if (g := flask_guard_of(ws.index, route, d)) is not None]
        guard = next((g for g in guards if g.kind != "project"), None)
        if guard is None:
            raise Skip("the app keeps only an id in the session, so there is no user object to check a role on; add an admin check by hand")
        user = guard.user(guard_local(names, guard, []))
        self._create_decorator(ws, route.relpath, user, guard.kind == "flask-login", answers_json(ws.index, route))
        return handler_edit(ws, findings, lambda route, function: add_decorator(function, "admin_required", owner, below))

    @staticmethod
    def _create_decorator(ws: Workspace, relpath: str, user: str, flask_login: bool, json: bool) -> None:
        """`admin_required` at the top of the module; a JSON API answers its 403 in JSON."""
        text = ws.read(relpath) or ""
        if re.search(r"^def admin_required\b", text, re.M):
            return
        deny = 'return jsonify(error="Administrators only"), 403' if json else "abort(403)"
        code = (
            "def admin_required(view):\n"
            '    """Only administrators get through (403 for everyone else); use below the login check."""\n\n'
            "    @functools.wraps(view)\n"
            "    def wrapped(*args, **kwargs):\n"
            "        if not ({check}):\n"
            "            {deny}\n"
            "        return view(*args, **kwargs)\n\n"
            "    return wrapped\n"
        ).format(check=role_expression(ws, user), deny=deny)
        module = parse_module(text)
        body = insert_at(list(module.body), header_end(module.body), statements(code))
        imports = [("functools", None), ("flask", "jsonify" if json else "abort")] + ([("flask_login", "current_user")] if flask_login else [])
        module = add_imports(module.with_changes(body=body), relpath, imports)
        write_module(ws, relpath, module)


# -- PR203: the current user in the query ------------------------------------------------------------


@dataclass
class Join:
    child: str  # model names
    column: str
    parent: str
    target: str  # the parent's column the child's points at


@dataclass
class Ownership:
    joins: list[Join]
    owner: str  # the model holding the owner column
    column: str  # its owner column


OWNER_COLUMN = re.compile(r"^(owner|user|account|customer|created_by|author|creator)(_id)?$|_(owner|user)_id$", re.I)


def owner_path(shape, table_name: str, depth: int = 0) -> list[tuple[str, str]] | None:
    """The foreign keys from a table to the users table, as [(table, column), ...]: an owner-like
    column first (owner_id, user_id...), else through a parent that has one, else any user
    column (assignee_id). None when the rows lead to no user."""
    table = shape.tables.get(table_name)
    if table is None or depth > 3:
        return None
    direct = [(c, t) for c, t in table.fk_targets().items() if t in shape.users]
    for column, _ in direct:
        if OWNER_COLUMN.search(column):
            return [(table_name, column)]
    for column, target in table.fk_targets().items():
        if target not in shape.users and target != table_name:
            rest = owner_path(shape, target, depth + 1)
            if rest and OWNER_COLUMN.search(rest[-1][1]):
                return [(table_name, column), *rest]
    return [(table_name, direct[0][0])] if direct else None


def ownership(shape, model: str) -> Ownership:
    """How rows of `model` lead to the user: its owner column, or joins through its parents."""
    table = shape.table_of(model)
    path = owner_path(shape, table.name) if table is not None else None
    if not path:
        raise Skip(f"{model} has no column leading to a user")
    joins: list[Join] = []
    for (child, column), (parent, _) in zip(path, path[1:]):
        child_model, parent_model = shape.tables[child].model, shape.tables[parent].model
        if parent_model is None or child_model is None:
            raise Skip(f"{parent} has no model to join on")
        target_column = shape.tables[child].columns[column].foreign_key.partition(".")[2] or "id"
        joins.append(Join(child_model, column, parent_model, target_column))
    last_table, last_column = path[-1]
    owner_model = shape.tables[last_table].model
    if owner_model is None:
        raise Skip(f"{last_table} has no model to filter on")
    return Ownership(joins, owner_model, last_column)


def user_expression(ws: Workspace, route, names: ModuleNames | None = None, imports: list | None = None) -> tuple[str, list[tuple[str, str]]]:
    """The current user's id as this route can read it, and the imports that needs: from the
    check that guards it (Flask-Login, a Flask-HTTPAuth object, or what the app's own decorator
    or before_request hook reads). Skip when that cannot be told: a guess (Flask-Login's
    current_user on a route another check guards) would fail on every request."""
    if route.framework == "fastapi":
        users = sorted(user_params(ws.index, route))
        if not users:
            raise Skip("the handler has no current-user parameter to filter by")
        return f"{users[0]}.id", []
    checks = []
    for decorator in route.auth:
        guard = flask_guard_of(ws.index, route, decorator) if decorator in route.decorators else None
        if guard is not None and guard.kind != "project":
            if guard.kind == "flask-login":
                return "current_user.id", [("flask_login", "current_user")]
            local = guard_local(names, guard, imports if imports is not None else []) if names is not None else guard.name
            return f"{guard.user(local)}.id", []
        checks.append(f"{guard.module}.{guard.name}" if guard is not None else decorator)
    for qualified in checks:
        found = user_read_by(ws.index, qualified)
        if found is not None:
            return found
    raise Skip("cannot tell how this route reads the logged-in user (its login check is the app's own)")


def user_read_by(index, qualified: str) -> tuple[str, list[tuple[str, str]]] | None:
    """How the app's own login check (a decorator or before_request hook) reads the user: the
    session's user id, or Flask-Login's current_user."""
    resolved = index.resolve_function(qualified) if "." in qualified else None
    node = index.function_node(resolved[0], resolved[1].qualname) if resolved else None
    if node is None:
        return None
    source = ast.unparse(node)
    match = SESSION_USER.search(source) or SESSION_USER_IN.search(source)
    if match:
        return f'session["{next(g for g in match.groups()[1:] if g)}"]', [("flask", "session")]
    if re.search(r"\bcurrent_user\b", source) and "flask_login" in index.modules[resolved[0]].top_imports:
        return "current_user.id", [("flask_login", "current_user")]
    return None


SQL_WHERE = re.compile(r"\bwhere\b", re.I)
SQL_TAIL = re.compile(r"\b(order\s+by|group\s+by|limit|returning)\b", re.I)


def paramstyle(ws: Workspace, relpath: str) -> str:
    """`format` (%s) for psycopg/MySQL drivers used by the module, else `qmark` (?)."""
    text = ws.read(relpath) or ""
    if re.search(r"^\s*(import|from)\s+(psycopg2?|pymysql|MySQLdb|mysql)\b", text, re.M):
        return "format"
    if re.search(r"^\s*(import|from)\s+sqlite3\b", text, re.M) or "sqlite" in ws.index.databases:
        return "qmark"
    return "format" if {"psycopg2", "psycopg", "pymysql"} & ws.index.imported_packages else "qmark"


def _user_names(user: str, extra: list, names: ModuleNames, imports: list) -> str:
    """`user` with the library name it starts with (current_user, session) as the module names it."""
    for module, name in extra:
        local = names.ref(module, name, imports)
        if user.startswith(name):
            user = local + user[len(name):]
    return user


class OwnershipFixer(Fixer):
    """PR203: other users' rows answer 404 — the owner condition goes into the query."""

    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        shape = data_shape(ws.index)

        def rewrite(route, function, names, imports):
            user_imports: list = []
            user, extra = user_expression(ws, route, names, user_imports)
            user = _user_names(user, extra, names, user_imports)
            finding = next(f for f in findings if route_at(ws, f) is route)
            editor = OwnerFilter(shape, route, user, finding.message, paramstyle(ws, route.relpath), names)
            new = function.visit(editor)
            if not editor.changed:
                raise Skip(editor.problem or "no query of the user's rows was found to restrict")
            imports.extend(editor.imports + (user_imports if editor.uses_user else []))
            return new

        return scoped_handler_edit(ws, findings, rewrite)


def own_rows_only(
    shape, route, function: cst.FunctionDef, user: str, style: str, names: ModuleNames, imports: list, user_imports: list = ()
) -> cst.FunctionDef:
    """The function with its lookups of users' rows by a path id restricted to `user` (unchanged
    when it has none, or when the models cannot be named in the module)."""
    editor = OwnerFilter(shape, route, user, "loads by a path id", style, names)
    try:
        new = function.visit(editor)
    except Skip:
        return function
    if not editor.changed:
        return function
    imports.extend([*editor.imports, *(user_imports if editor.uses_user else [])])
    return new


class OwnerFilter(QuickTransformer):
    """Inside one handler: adds the owner condition to the lookups by a path id (or to the
    unfiltered read), or checks the parent row a body field points at before the write. Models
    are named as the module names them (`models.Page`), imports it lacks collected in `imports`."""

    def __init__(self, shape, route, user: str, message: str, paramstyle: str = "qmark", names: ModuleNames | None = None) -> None:
        self.paramstyle = paramstyle
        self.shape = shape
        self.route = route
        self.user = user
        self.ids = set(id_params(route.path))
        self.message = message
        self.changed = False
        self.uses_user = False
        self.problem: str | None = None
        self.names = names or ModuleNames(module_name_for(route.relpath), "")
        self.imports: list[tuple[str, int, str | None]] = []
        self.lookups: dict[int, str] = {}  # restricted `x = ...first()` statements -> x
        self.body_params = {p.name for p in route.handler.params if p.depends_on is None and p.name not in self.ids}
        self.depth = 0

    def ref(self, model: str) -> str:
        """The model as this module names it (Skip when its name means something else here)."""
        table = self.shape.table_of(model)
        if table is None or not table.path.endswith(".py"):
            raise Skip(f"{model} is not a model of this project")
        return self.names.ref(module_name_for(table.path), model, self.imports)

    def library(self, module: str, name: str) -> str:
        return self.names.ref(module, name, self.imports)

    # -- ORM queries -----------------------------------------------------------------------------

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = original_node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else tail(dotted_name(func) or "")
        if name == "query" and original_node.args and "creates" not in self.message:
            return self._restrict_query(original_node, updated_node)
        if name in {"execute"} and original_node.args and "creates" not in self.message:
            return self._restrict_sql(original_node, updated_node)
        return updated_node

    def _restrict_query(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        model = dotted_name(original.args[0].value)
        table = self.shape.table_of(tail(model or ""))
        if table is None or table.name not in self.shape.owned:
            return updated
        if "every user's" not in self.message and not self._chain_uses_ids(original):
            return updated
        try:
            owner = ownership(self.shape, tail(model))
        except Skip as exc:
            self.problem = str(exc)
            return updated
        if self._called_on(original, "get"):  # Query.get() refuses a query that already has criteria
            self.problem = f"by hand: query({tail(model)}).get(...) cannot take the owner condition; write it as .filter({tail(model)}.id == ...).first() first"
            return updated
        if owner.joins and self._called_on(original, "filter_by"):
            # filter_by() filters the last joined table: after the join it would pick the wrong row
            self.problem = (
                f"by hand: the query uses filter_by(), which after a join to {owner.joins[0].parent} would filter "
                f"{owner.joins[-1].parent} instead of {tail(model)}; write it with filter({tail(model)}.id == ...) first"
            )
            return updated
        expr: cst.BaseExpression = updated
        for join in owner.joins:
            parent = self.ref(join.parent)
            condition = f"{self.ref(join.child)}.{join.column} == {parent}.{join.target}"
            expr = cst.Call(cst.Attribute(expr, cst.Name("join")), args=[cst.Arg(cst.parse_expression(parent), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))), cst.Arg(cst.parse_expression(condition))])
        condition = f"{self.ref(owner.owner)}.{owner.column} == {self.user}"
        expr = cst.Call(cst.Attribute(expr, cst.Name("filter")), args=[cst.Arg(cst.parse_expression(condition))])
        self.changed = self.uses_user = True
        return expr

    def _chain_uses_ids(self, query: cst.Call) -> bool:
        """The statement around this query filters by a path id (checked on the whole handler
        source of the query's line: the chain parent is not reachable from a leave_Call)."""
        return bool(self.ids) and bool(self.ids & self.current_names)

    current_names: set[str] = set()
    current_methods: set[str] = set()  # methods called in the statement (`filter_by`, `first`...)

    current_calls: list[cst.Call] = []

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.current_names = variables_in(node)
        self.current_calls = _calls_in(node)
        self.current_methods = _methods_in(node)

    def visit_If(self, node: cst.If) -> None:
        self.current_names = variables_in(node.test)
        self.current_calls = _calls_in(node.test)
        self.current_methods = _methods_in(node.test)

    def _called_on(self, query: cst.Call, method: str) -> bool:
        """`method` is called on the chain that starts with `query` (`query(M).filter(...).get(id)`)."""
        for call in self.current_calls:
            if isinstance(call.func, cst.Attribute) and call.func.attr.value == method:
                node = call.func.value
                while isinstance(node, (cst.Call, cst.Attribute)):
                    if node is query:
                        return True
                    node = node.func if isinstance(node, cst.Call) else node.value
        return False

    # -- raw SQL ---------------------------------------------------------------------------------

    def _restrict_sql(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        first = original.args[0].value
        if not isinstance(first, cst.SimpleString):
            if isinstance(first, (cst.FormattedString, cst.BinaryOperation)):
                self.problem = "the SQL is built from strings: bind its parameters first (see the sql-injection fix)"
            return updated
        sql = first.evaluated_value
        if not isinstance(sql, str):
            return updated
        match = re.search(r"\b(?:from|update|into)\s+(\w+)", sql, re.I)
        table = self.shape.tables.get(match.group(1).lower()) if match else None
        if table is None or table.name not in self.shape.owned:
            return updated
        if "every user's" not in self.message and not (self.ids & self.current_names):
            return updated
        column = self.shape.owned[table.name]
        if " -> " in column:
            self.problem = f"{table.name} belongs to a user only through {column.split(' -> ')[1]}: add a JOIN by hand"
            return updated
        if SQL_TAIL.search(sql):
            self.problem = "the SQL has ORDER BY/GROUP BY/LIMIT after its WHERE: add the owner condition by hand"
            return updated
        placeholder = "%s" if "%s" in sql or (self.paramstyle == "format" and "?" not in sql) else "?"
        joiner = " AND " if SQL_WHERE.search(sql) else " WHERE "
        new_sql = sql.rstrip().rstrip(";") + f"{joiner}{column} = {placeholder}"
        quote = first.quote
        literal = cst.SimpleString(f"{first.prefix}{quote}{new_sql}{quote}") if quote not in new_sql.replace(quote * 3, "") or len(quote) == 3 else cst.SimpleString(repr(new_sql))
        args = list(updated.args)
        args[0] = args[0].with_changes(value=literal)
        if len(args) == 1:
            args[0] = args[0].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            args.append(cst.Arg(cst.parse_expression(f"({self.user},)")))
        else:
            params = args[1].value
            if not isinstance(params, (cst.Tuple, cst.List)):
                self.problem = "the query parameters are not a literal tuple"
                return updated
            elements = list(params.elements)
            if elements:
                elements[-1] = elements[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            elements.append(cst.Element(cst.parse_expression(self.user)))
            args[1] = args[1].with_changes(value=params.with_changes(elements=elements))
        self.changed = self.uses_user = True
        return updated.with_changes(args=args)

    # -- writes pointing at a parent from the body ---------------------------------------------------

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
        if self.changed and updated_node is not original_node and m.matches(
            updated_node, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])
        ):
            value = updated_node.body[0].value
            method = value.func.attr.value if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) else ""
            if method in {"first", "fetchone", "one_or_none", "scalar", "scalar_one_or_none"}:
                self.lookups[id(updated_node)] = updated_node.body[0].targets[0].target.value
        return updated_node

    def _not_found(self, var: str) -> list[cst.BaseStatement]:
        if self.route.framework == "fastapi":
            error = self.library("fastapi", "HTTPException")
            return statements(f'if {var} is None:\n    raise {error}(status_code=404, detail="Not found")\n')
        return statements(f"if {var} is None:\n    {self.library('flask', 'abort')}(404)\n")

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if "creates" not in self.message:
            body = list(updated_node.body)
            for index in range(len(body) - 1, -1, -1):
                var = self.lookups.get(id(body[index]))
                following = body[index + 1] if index + 1 < len(body) else None
                if var and not (isinstance(following, cst.If) and var in variables_in(following.test)):
                    body[index + 1 : index + 1] = self._not_found(var)
            return updated_node.with_changes(body=body)
        body = list(updated_node.body)
        for index, statement in enumerate(body):
            guard = self._parent_guard(statement)
            if guard:
                body[index:index] = statements(guard)
                self.changed = True
                return updated_node.with_changes(body=body)
        return updated_node

    def _parent_guard(self, statement: cst.BaseStatement) -> str | None:
        if self.changed or not isinstance(statement, cst.SimpleStatementLine):
            return None
        for call in _calls_in(statement):
            table = self.shape.by_model.get(tail(dotted_name(call.func) or ""))
            if table is None:
                continue
            for arg in call.args:
                if arg.keyword is None:
                    continue
                target = table.fk_targets().get(arg.keyword.value)
                root = arg.value
                while isinstance(root, (cst.Attribute, cst.Subscript)):
                    root = root.value
                if target not in self.shape.owned or not (isinstance(root, cst.Name) and root.value in self.body_params):
                    continue
                parent = self.shape.tables[target]
                if parent.model is None or self.route.framework != "fastapi":
                    self.problem = "check that the parent row belongs to the user by hand (no ORM model to query)"
                    return None
                session = self._session(statement)
                if session is None:
                    self.problem = "no database session found in the handler to check the parent row with"
                    return None
                owner = ownership(self.shape, parent.model)
                parent_ref = self.ref(parent.model)
                query = f"{session}.query({parent_ref})"
                for join in owner.joins:
                    join_ref = self.ref(join.parent)
                    query += f".join({join_ref}, {self.ref(join.child)}.{join.column} == {join_ref}.{join.target})"
                condition = f"{self.ref(owner.owner)}.{owner.column} == {self.user}"
                value = code_of(arg.value)
                error = self.library("fastapi", "HTTPException")
                self.uses_user = True
                return (
                    f"if {query}.filter({parent_ref}.id == {value}, {condition}).first() is None:\n"
                    f'    raise {error}(status_code=404, detail="{parent.model} not found")\n'
                )
        return None

    def _session(self, statement) -> str | None:
        for param in self.route.handler.params:
            if param.depends_on and re.search(r"(db|session)", tail(param.depends_on), re.I):
                return param.name
        return None


def variables_in(node: cst.CSTNode) -> set[str]:
    """Names used as variables (not the attribute part of `x.attr`, not keyword names)."""
    found: set[str] = set()

    class Collect(QuickVisitor):
        def visit_Attribute(self, attribute: cst.Attribute) -> bool:
            attribute.value.visit(self)
            return False

        def visit_Arg(self, arg: cst.Arg) -> bool:
            arg.value.visit(self)
            return False

        def visit_Name(self, name: cst.Name) -> None:
            found.add(name.value)

    node.visit(Collect())
    return found


def _methods_in(node: cst.CSTNode) -> set[str]:
    return {call.func.attr.value for call in _calls_in(node) if isinstance(call.func, cst.Attribute)}


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Collect(QuickVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

    node.visit(Collect())
    return found


# -- PR210 / PR211 / PR212: JWTs ------------------------------------------------------------------


@dataclass
class Signing:
    key: str  # source of the key expression used by jwt.encode in this module
    algorithm: str  # source of the algorithm expression


def module_signing(text: str) -> Signing | None:
    """The key and algorithm this module signs tokens with (from its jwt.encode calls)."""
    module = parse_module(text)
    for call in _calls_in(module):
        name = dotted_name(call.func) or ""
        if tail(name) == "encode" and "jwt" in name and len(call.args) > 1:
            algorithm = next((a.value for a in call.args if a.keyword and a.keyword.value == "algorithm"), None)
            if algorithm is None and len(call.args) > 2 and call.args[2].keyword is None:
                algorithm = call.args[2].value
            if algorithm is not None and isinstance(call.args[1].value, (cst.Name, cst.Attribute)):
                return Signing(code_of(call.args[1].value), code_of(algorithm))
    return None


class JwtHandling(FixCommand):
    """Verification back on with the module's own key and algorithm, algorithms pinned, `exp`
    added to the claims of created tokens."""

    def __init__(self, context, targets=(), signing: Signing | None = None, framework: str | None = None) -> None:
        super().__init__(context, targets)
        self.signing = signing
        self.framework = framework
        self.verified_lines: set[int] = set()
        self.try_depth = 0

    def visit_Try(self, node: cst.Try) -> None:
        self.try_depth += 1

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions = [*getattr(self, "functions", []), node.name.value]

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.functions.pop()
        return updated_node

    def leave_Try(self, original_node: cst.Try, updated_node: cst.Try) -> cst.Try:
        self.try_depth -= 1
        return updated_node

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine):
        """A decode that now verifies raises on forged or expired tokens: answer 401, not a 500."""
        line = self.span(original_node).start.line
        if line not in self.verified_lines or self.try_depth or self.framework is None:
            return updated_node
        if self.framework == "fastapi":
            AddImportsVisitor.add_needed_import(self.context, "fastapi", "HTTPException")
            reject = 'raise HTTPException(status_code=401, detail="Invalid or expired token")\n'
        else:
            AddImportsVisitor.add_needed_import(self.context, "flask", "abort")
            reject = "abort(401)\n"
        return cst.Try(
            body=cst.IndentedBlock([updated_node.with_changes(leading_lines=[])]),
            handlers=[cst.ExceptHandler(body=cst.IndentedBlock(statements(reject)), type=cst.parse_expression("jwt.InvalidTokenError"))],
            leading_lines=updated_node.leading_lines,
        )

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        name = dotted_name(original_node.func) or ""
        if "jwt" not in name or tail(name) not in {"encode", "decode"}:
            return updated_node
        targets = [t for t in self.targets if t.finding not in self.outcomes and t.line == self.span(original_node).start.line]
        if not targets:
            return updated_node
        call = updated_node
        for target in targets:
            try:
                call = getattr(self, "_" + target.finding.rule.lower())(call)
            except Skip as exc:
                self.skipped([target], str(exc))
            else:
                self.fixed([target])
                if target.finding.rule == "PR210" and name == "jwt.decode":
                    self.verified_lines.add(self.span(original_node).start.line)
        return call

    def _pr210(self, call: cst.Call) -> cst.Call:
        options = next((a for a in call.args if a.keyword and a.keyword.value == "options"), None)
        verify = next((a for a in call.args if a.keyword and a.keyword.value == "verify"), None)
        args = [a for a in call.args if a is not verify]
        if options is not None and isinstance(options.value, cst.Dict):
            kept = [e for e in options.value.elements if not (isinstance(e, cst.DictElement) and _is_disabling(e))]
            if kept:
                kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                args = [a.with_changes(value=a.value.with_changes(elements=kept)) if a is options else a for a in args]
            else:
                args = [a for a in args if a is not options]
        positional = [a for a in args if a.keyword is None]
        if len(positional) < 2:
            if self.signing is None:
                raise Skip("no key found to verify with: this module signs no token (pass the signing key and algorithms=[...])")
            args.insert(1, cst.Arg(cst.parse_expression(self.signing.key), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
        call = call.with_changes(args=_fix_commas(args))
        if not any(a.keyword and a.keyword.value == "algorithms" for a in call.args) and len([a for a in call.args if a.keyword is None]) < 3:
            call = self._pr211(call)
        return call

    def _pr211(self, call: cst.Call) -> cst.Call:
        existing = next((a for a in call.args if a.keyword and a.keyword.value == "algorithms"), None)
        if existing is not None and isinstance(existing.value, cst.List):
            kept = [e for e in existing.value.elements if not (isinstance(e.value, cst.SimpleString) and e.value.evaluated_value.lower() == "none")]
            if kept and len(kept) < len(existing.value.elements) and all(isinstance(e.value, cst.SimpleString) for e in kept):
                kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                return set_keyword(call, "algorithms", existing.value.with_changes(elements=kept))
        if self.signing is None:
            raise Skip("cannot tell which algorithm the tokens are signed with: pass algorithms=[\"...\"] by hand")
        return set_keyword(call, "algorithms", f"[{self.signing.algorithm}]")

    def visit_Module(self, node: cst.Module) -> None:
        super().visit_Module(node)
        self.datetime_module = any(
            m.matches(s, m.SimpleStatementLine(body=[m.Import(names=[m.ImportAlias(name=m.Name("datetime"), asname=None)])])) for s in node.body
        )

    def _pr212(self, call: cst.Call) -> cst.Call:
        if not call.args:
            raise Skip("jwt.encode() without claims")
        claims = call.args[0].value
        where = code_of(call) + " ".join(getattr(self, "functions", []))
        lifetime = "timedelta(days=7)" if re.search(r"invit", where, re.I) else "timedelta(minutes=60)"
        if self.datetime_module:  # `import datetime`: spell it out, add no import
            expiry = f"datetime.datetime.now(datetime.timezone.utc) + datetime.{lifetime}"
        else:
            expiry = f"datetime.now(timezone.utc) + {lifetime}"
            for name in ("datetime", "timedelta", "timezone"):
                AddImportsVisitor.add_needed_import(self.context, "datetime", name)
        if isinstance(claims, cst.Dict):
            elements = list(claims.elements)
            if elements and not isinstance(elements[-1].comma, cst.Comma):
                elements[-1] = elements[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            elements.append(cst.DictElement(cst.SimpleString('"exp"'), cst.parse_expression(expiry)))
            new = claims.with_changes(elements=elements)
        else:
            new = cst.parse_expression(f'{{**{code_of(claims)}, "exp": {expiry}}}')
        args = list(call.args)
        args[0] = args[0].with_changes(value=new)
        return call.with_changes(args=args)


def _is_disabling(element: cst.DictElement) -> bool:
    return isinstance(element.key, cst.SimpleString) and element.key.evaluated_value in {"verify_signature", "verify_exp"} and m.matches(element.value, m.Name("False"))


def _fix_commas(args: list[cst.Arg]) -> list[cst.Arg]:
    fixed = []
    for index, arg in enumerate(args):
        last = index == len(args) - 1
        if last:
            fixed.append(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        elif not isinstance(arg.comma, cst.Comma):
            fixed.append(arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
        else:
            fixed.append(arg)
    return fixed


class JwtFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        signing = module_signing(ws.read(relpath) or "")
        frameworks = ws.index.frameworks if ws.index is not None else set()
        framework = "fastapi" if "fastapi" in frameworks else "flask" if "flask" in frameworks else None
        return fix_with(JwtHandling, relpath, findings, ws, signing=signing, framework=framework)

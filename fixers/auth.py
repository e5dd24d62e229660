"""Auth fixes, in the project's own terms: its auth dependency or login decorator on routes that
have none (PR201), a role check on admin routes (PR202), the current user in the queries of
routes that load other users' rows (PR203), and JWT handling (PR210-PR212).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor

from auditor.index.extract import module_name_for
from auditor.models import Finding
from auditor.rules.auth import WEBHOOK_PATH
from auditor.rules.querying import data_shape
from auditor.rules.route_code import id_params, user_params
from fixers.base import Fixer, Outcomes
from fixers.cst import FixCommand, Target, dotted_name, fix_with, header_end, insert_at
from fixers.rewrite import (
    FunctionRewrite,
    add_param,
    code_of,
    decorator_names,
    param_names,
    route_at,
    set_keyword,
    statements,
    tail,
    transform,
)
from fixers.pipeline.workspace import Skip, Workspace

ROLE_COLUMNS = (("is_admin", "{user}.is_admin"), ("is_superuser", "{user}.is_superuser"), ("is_staff", "{user}.is_staff"), ("role", '{user}.role == "admin"'))
ADMIN_CHECK_NAME = re.compile(r"(require|ensure|check|only)_?(admin|superuser|staff)|(admin|superuser|staff)_(required|only|user)", re.I)
SESSION_USER = re.compile(r"""session\s*(\[\s*["'](\w*user\w*)["']\s*\]|\.get\(\s*["'](\w*user\w*)["'])""")


def split(qualified: str) -> tuple[str, str]:
    module, _, name = qualified.rpartition(".")
    return module, name


def handler_edit(ws: Workspace, findings: list[Finding], rewrite) -> Outcomes:
    """Apply `rewrite(route, function) -> function` to each finding's handler, file by file."""
    outcomes: Outcomes = {}
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
        edits[route.handler.qualname] = (targets, lambda function, route=route: rewrite(route, function))
    for relpath, edits in by_file.items():
        all_targets = [t for targets, _ in edits.values() for t in targets]
        command = transform(ws, relpath, FunctionRewrite, all_targets, edits=edits)
        outcomes.update({t.finding: command.outcomes.get(t.finding, "the handler was not found") for t in all_targets})
    return outcomes


# -- the project's own auth -------------------------------------------------------------------------


@dataclass
class FastapiAuth:
    dependency: str  # qualified name of the auth dependency
    param: str  # the parameter as the project writes it: "current_user: User = Depends(get_current_user)"
    name: str  # the parameter's name


def fastapi_auth(ws: Workspace, relpath: str) -> FastapiAuth:
    """The auth dependency most routes use, with the parameter as written in `relpath` if it is there."""
    index = ws.index
    uses: Counter = Counter()
    for route in index.routes:
        for param in route.handler.params:
            if param.depends_on:
                qualified = param.depends_on if "." in param.depends_on else index.qualify(param.depends_on, index.modules[route.relpath])
                if index.is_auth_callable(qualified) == "auth":
                    uses[qualified] += 1
    if not uses:
        raise Skip("the app has no auth dependency (Depends(get_current_user)) to reuse")
    dependency = uses.most_common(1)[0][0]
    local = dependency.rpartition(".")[2]
    for route in index.routes:
        if route.relpath != relpath:
            continue
        for param in route.handler.params:
            if param.depends_on and param.depends_on.rpartition(".")[2] == local and param.default:
                annotation = f": {param.annotation}" if param.annotation else ""
                return FastapiAuth(dependency, f"{param.name}{annotation} = {param.default}", param.name)
    return FastapiAuth(dependency, f"current_user=Depends({local})", "current_user")


def flask_login_decorator(ws: Workspace) -> str:
    """The qualified login decorator most authenticated Flask routes use."""
    index = ws.index
    uses: Counter = Counter()
    for route in index.routes:
        for decorator in route.decorators:
            qualified = decorator if "." in decorator else index.qualify(decorator, index.modules[route.relpath])
            if decorator in route.auth and index.is_auth_callable(qualified, decorator=True) == "auth":
                uses[qualified] += 1
    if not uses:
        raise Skip("the app has no login decorator to reuse (routes are guarded some other way, e.g. a before_request hook)")
    return uses.most_common(1)[0][0]


def add_decorator(function: cst.FunctionDef, code: str, route_owner: str) -> cst.FunctionDef:
    """Add a decorator right below the route decorator (it must wrap the view first)."""
    decorators = list(function.decorators)
    new = cst.Decorator(cst.parse_expression(code))
    names = decorator_names(function)
    position = next((i + 1 for i, name in enumerate(names) if name.startswith(route_owner + ".")), len(decorators))
    decorators.insert(position, new)
    return function.with_changes(decorators=decorators)


def import_in(context, qualified: str) -> str:
    module, name = split(qualified)
    if module:
        AddImportsVisitor.add_needed_import(context, module, name)
    return name


class AuthRouteFixer(Fixer):
    """PR201: the project's auth dependency or login decorator on the route."""

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
            else:
                usable.append(finding)
        for relpath in sorted({f.path for f in usable}):
            group = [f for f in usable if f.path == relpath]
            outcomes.update(self.guarded(group, ws, lambda group=group: self.add_auth(group, ws)))
        return outcomes

    def add_auth(self, findings: list[Finding], ws: Workspace) -> Outcomes:
        """The login check, and the current user in its lookups of users' rows by a path id (a
        route that starts to require a login should not then serve other users' rows)."""
        route = route_at(ws, findings[0])
        needed: list[tuple[str, str]] = []
        shape = data_shape(ws.index)
        if route.framework == "fastapi":
            auth = fastapi_auth(ws, route.relpath)

            def rewrite(route, function):
                if auth.name in param_names(function):
                    raise Skip(f"the handler already has a parameter named {auth.name}")
                function = add_param(function, auth.param)
                return own_rows_only(shape, route, function, f"{auth.name}.id", paramstyle(ws, route.relpath), needed)

            outcomes = handler_edit(ws, findings, rewrite)
            self._imports(ws, route.relpath, [("fastapi", "Depends"), split(auth.dependency), *needed], auth.param)
            return outcomes
        decorator = flask_login_decorator(ws)
        local = split(decorator)[1]
        owner = route.router.rpartition(".")[2]

        def rewrite_flask(route, function):
            function = add_decorator(function, local, owner)
            try:
                user, imports = user_expression(ws, route)
            except Skip:
                return function
            needed.extend(imports)
            return own_rows_only(shape, route, function, user, paramstyle(ws, route.relpath), needed)

        outcomes = handler_edit(ws, findings, rewrite_flask)
        self._imports(ws, route.relpath, [split(decorator), *needed], "")
        return outcomes

    @staticmethod
    def _imports(ws: Workspace, relpath: str, imports: list[tuple[str, str]], param: str) -> None:
        """Import what the added code names, unless the module has it already."""
        text = ws.read(relpath) or ""
        module = cst.parse_module(text)
        bound = _bound_names(module)
        wanted = [(mod, name) for mod, name in imports if name not in bound and mod]
        if wanted:
            module = add_imports(module, relpath, wanted)
        ws.write(relpath, module.code)


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
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor as Adder

    context = CodemodContext(filename=relpath, full_module_name=module_name_for(relpath))
    for mod, name in imports:
        Adder.add_needed_import(context, mod, name)
    return Adder(context).transform_module(module)


# -- PR202: role checks ---------------------------------------------------------------------------


def role_expression(ws: Workspace, user: str) -> str:
    """How the project's user model says "admin" (an is_admin flag, a role column...)."""
    shape = data_shape(ws.index)
    for table in (shape.tables[name] for name in sorted(shape.users)):
        for column, expression in ROLE_COLUMNS:
            if column in table.columns:
                return expression.format(user=user)
    return f'getattr({user}, "is_admin", False) or getattr({user}, "role", None) == "admin"'


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
        local = split(check)[1]
        index = ws.index

        def rewrite(route, function):
            users = user_params(index, route)
            params = [p for p in function.params.params if p.name.value in users]
            if not params:
                raise Skip("the handler gets the current user some other way; add Depends(" + local + ") by hand")
            new_params = [
                p.with_changes(default=cst.parse_expression(f"Depends({local})")) if p in params else p for p in function.params.params
            ]
            return function.with_changes(params=function.params.with_changes(params=new_params))

        outcomes = handler_edit(ws, findings, rewrite)
        AuthRouteFixer._imports(ws, route.relpath, [("fastapi", "Depends"), split(check)], "")
        return outcomes

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
            "\n\ndef require_admin(current_user=Depends({dep})):\n"
            '    """The current user, when they are an administrator; 403 for everyone else."""\n'
            "    if not ({check}):\n"
            '        raise HTTPException(status_code=403, detail="Administrators only")\n'
            "    return current_user\n"
        ).format(dep=local, check=role_expression(ws, "current_user"))
        module = cst.parse_module(text.rstrip("\n") + "\n" + code)
        module = add_imports(module, relpath, [("fastapi", "Depends"), ("fastapi", "HTTPException")])
        ws.write(relpath, module.code)
        return f"{module_name_for(relpath)}.require_admin"

    def _flask(self, findings, ws: Workspace, route) -> Outcomes:
        check = existing_role_check(ws, "flask")
        owner = route.router.rpartition(".")[2]
        if check is None:
            if "flask_login" not in ws.index.imported_packages:
                raise Skip("the app keeps only an id in the session, so there is no user object to check a role on; add an admin check by hand")
            self._create_decorator(ws, route.relpath)
            local = "admin_required"
        else:
            local = split(check)[1]
        outcomes = handler_edit(ws, findings, lambda route, function: add_decorator(function, local, owner))
        if check is not None:
            AuthRouteFixer._imports(ws, route.relpath, [split(check)], "")
        return outcomes

    @staticmethod
    def _create_decorator(ws: Workspace, relpath: str) -> None:
        text = ws.read(relpath) or ""
        if re.search(r"^def admin_required\b", text, re.M):
            return
        code = (
            "def admin_required(view):\n"
            '    """Only administrators get through (403 for everyone else); use below @login_required."""\n\n'
            "    @functools.wraps(view)\n"
            "    def wrapped(*args, **kwargs):\n"
            "        if not ({check}):\n"
            "            abort(403)\n"
            "        return view(*args, **kwargs)\n\n"
            "    return wrapped\n"
        ).format(check=role_expression(ws, "current_user"))
        module = cst.parse_module(text)
        body = insert_at(list(module.body), header_end(module.body), statements(code))
        module = add_imports(module.with_changes(body=body), relpath, [("functools", None), ("flask", "abort"), ("flask_login", "current_user")])
        ws.write(relpath, module.code)


# -- PR203: the current user in the query ------------------------------------------------------------


@dataclass
class Join:
    model: str  # the parent model joined
    condition: str  # Child.fk == Parent.id


@dataclass
class Ownership:
    joins: list[Join]
    condition: str  # Owner.owner_id == <user>.id
    models: set[str]  # model names the code needs imported


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


def ownership(shape, model: str, user_id: str) -> Ownership:
    """How rows of `model` lead to the user: its owner column, or joins through its parents."""
    table = shape.table_of(model)
    path = owner_path(shape, table.name) if table is not None else None
    if not path:
        raise Skip(f"{model} has no column leading to a user")
    joins: list[Join] = []
    models = {model}
    for (child, column), (parent, _) in zip(path, path[1:]):
        child_model, parent_model = shape.tables[child].model, shape.tables[parent].model
        if parent_model is None or child_model is None:
            raise Skip(f"{parent} has no model to join on")
        target_column = shape.tables[child].columns[column].foreign_key.partition(".")[2] or "id"
        joins.append(Join(parent_model, f"{child_model}.{column} == {parent_model}.{target_column}"))
        models.add(parent_model)
    last_table, last_column = path[-1]
    owner_model = shape.tables[last_table].model
    if owner_model is None:
        raise Skip(f"{last_table} has no model to filter on")
    return Ownership(joins, f"{owner_model}.{last_column} == {user_id}", models)


def user_expression(ws: Workspace, route) -> tuple[str, list[tuple[str, str]]]:
    """The current user's id as this route can read it, and the imports that needs."""
    if route.framework == "fastapi":
        users = sorted(user_params(ws.index, route))
        if not users:
            raise Skip("the handler has no current-user parameter to filter by")
        return f"{users[0]}.id", []
    if "flask_login" in ws.index.imported_packages:
        return "current_user.id", [("flask_login", "current_user")]
    for relpath in sorted(ws.index.modules):
        match = SESSION_USER.search(ws.index.source(relpath))
        if match:
            return f'session["{match.group(2) or match.group(3)}"]', [("flask", "session")]
    raise Skip("cannot tell how this app stores the logged-in user")


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


class OwnershipFixer(Fixer):
    """PR203: other users' rows answer 404 — the owner condition goes into the query."""

    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        shape = data_shape(ws.index)
        needed: list[tuple[str, str]] = []

        def rewrite(route, function):
            user, imports = user_expression(ws, route)
            finding = next(f for f in findings if route_at(ws, f) is route)
            editor = OwnerFilter(shape, route, user, finding.message, paramstyle(ws, route.relpath))
            new = function.visit(editor)
            if not editor.changed:
                raise Skip(editor.problem or "no query of the user's rows was found to restrict")
            needed.extend(imports)
            needed.extend(editor.imports)
            return new

        outcomes = handler_edit(ws, findings, rewrite)
        if needed:
            AuthRouteFixer._imports(ws, findings[0].path, list(dict.fromkeys(needed)), "")
        return outcomes


def own_rows_only(shape, route, function: cst.FunctionDef, user: str, style: str, needed: list) -> cst.FunctionDef:
    """The function with its lookups of users' rows by a path id restricted to `user` (unchanged
    when it has none)."""
    editor = OwnerFilter(shape, route, user, "loads by a path id", style)
    new = function.visit(editor)
    if editor.changed:
        needed.extend(editor.imports)
        return new
    return function


class OwnerFilter(cst.CSTTransformer):
    """Inside one handler: adds the owner condition to the lookups by a path id (or to the
    unfiltered read), or checks the parent row a body field points at before the write."""

    def __init__(self, shape, route, user: str, message: str, paramstyle: str = "qmark") -> None:
        self.paramstyle = paramstyle
        self.shape = shape
        self.route = route
        self.user = user
        self.ids = set(id_params(route.path))
        self.message = message
        self.changed = False
        self.problem: str | None = None
        self.imports: list[tuple[str, str]] = []
        self.lookups: dict[int, str] = {}  # restricted `x = ...first()` statements -> x
        self.body_params = {p.name for p in route.handler.params if p.depends_on is None and p.name not in self.ids}
        self.depth = 0

    def _model_import(self, model: str) -> None:
        table = self.shape.table_of(model)
        if table is not None:
            self.imports.append((module_name_for(table.path), model))

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
            owner = ownership(self.shape, tail(model), self.user)
        except Skip as exc:
            self.problem = str(exc)
            return updated
        expr: cst.BaseExpression = updated
        for join in owner.joins:
            expr = cst.Call(cst.Attribute(expr, cst.Name("join")), args=[cst.Arg(cst.Name(join.model), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))), cst.Arg(cst.parse_expression(join.condition))])
        expr = cst.Call(cst.Attribute(expr, cst.Name("filter")), args=[cst.Arg(cst.parse_expression(owner.condition))])
        for other in owner.models - {tail(model)}:
            self._model_import(other)
        self.changed = True
        return expr

    def _chain_uses_ids(self, query: cst.Call) -> bool:
        """The statement around this query filters by a path id (checked on the whole handler
        source of the query's line: the chain parent is not reachable from a leave_Call)."""
        return bool(self.ids) and bool(self.ids & self.current_names)

    current_names: set[str] = set()

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.current_names = variables_in(node)

    def visit_If(self, node: cst.If) -> None:
        self.current_names = variables_in(node.test)

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
        self.changed = True
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
            self.imports.append(("fastapi", "HTTPException"))
            return statements(f'if {var} is None:\n    raise HTTPException(status_code=404, detail="Not found")\n')
        self.imports.append(("flask", "abort"))
        return statements(f"if {var} is None:\n    abort(404)\n")

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
                owner = ownership(self.shape, parent.model, self.user)
                query = f"{session}.query({parent.model})"
                for join in owner.joins:
                    query += f".join({join.model}, {join.condition})"
                value = code_of(arg.value)
                self._model_import(parent.model)
                for other in owner.models:
                    self._model_import(other)
                self.imports.append(("fastapi", "HTTPException"))
                noun = parent.model
                return (
                    f"if {query}.filter({parent.model}.id == {value}, {owner.condition}).first() is None:\n"
                    f'    raise HTTPException(status_code=404, detail="{noun} not found")\n'
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

    class Collect(cst.CSTVisitor):
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


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Collect(cst.CSTVisitor):
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
    module = cst.parse_module(text)
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

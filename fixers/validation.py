"""A Pydantic model at the validation boundary (PR301).

The fields come from how the handler uses the body: `body["qty"]` is a required field,
`body.get("note", "")` makes it optional with that default, a key read only under an `if` is
optional. Each field gets a real type from its uses (fixers/body_types.py: casts, the ORM or SQL
column it is stored in, the function it is passed to...). FastAPI then validates from the
signature (the model replaces `dict`/`Any` or `await request.json()`); a Flask handler validates
the JSON itself and answers 422 with the error details instead of failing with a 500.

Handlers that use the body as a whole (iterate it, pass it on, write to it), or a field whose
type no use proves, are left alone: `Any` would validate nothing.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field

import libcst as cst
import libcst.matchers as m
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

from auditor.models import Finding
from fixers.base import Fixer, Outcomes
from fixers.body_types import FieldType, TypeSource, infer_types, project_has_email_validator
from fixers.cst import FixCommand, dotted_name, first_free, fix_with, names_in
from fixers.cst_dispatch import QuickTransformer, QuickVisitor
from fixers.request_limits import max_length
from fixers.pipeline.workspace import Skip, Workspace

CASTS = {"int": "int", "float": "float", "str": "str", "bool": "bool", "Decimal": "Decimal", "decimal.Decimal": "Decimal"}
PASSWORD_KEY = re.compile(r"passw(or)?d|passphrase", re.I)
REQUIREMENT_FILES = ("requirements.txt", "requirements.in", "requirements/base.txt", "requirements/prod.txt", "pyproject.toml", "setup.cfg", "Pipfile")
LOOSE_TYPES = {"dict", "Dict", "typing.Dict", "Any", "typing.Any", "Mapping", "typing.Mapping"}
CONDITIONAL = (cst.If, cst.For, cst.While, cst.Try, cst.IfExp, cst.BooleanOperation, cst.Lambda, cst.ListComp, cst.DictComp, cst.SetComp, cst.GeneratorExp)
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log", "print"}


@dataclass
class BodyField:
    key: str
    attr: str
    types: set[str] = field(default_factory=set)
    required: bool = False
    default: str | None = None  # source of the default from .get(key, default)
    kind: FieldType | None = None  # decided from every use (body_types.infer_types)

    def annotation(self, spelled: dict[str, str] | None = None) -> str:
        kind = self.kind.kind if self.kind else next(iter(self.types))
        kind = (spelled or {}).get(kind, kind)
        if not self.required and self.default in (None, "None"):
            return f"Optional[{kind}]"
        return kind

    def line(self, spelled: dict[str, str] | None = None) -> str:
        annotation = self.annotation(spelled)
        options = []  # Field(...) arguments, when a plain default is not enough
        if not self.required:
            options.append(f"default={self.default or 'None'}")
        if self.attr != self.key:
            options.append(f"alias={json.dumps(self.key)}")
        if annotation.removeprefix("Optional[").rstrip("]") == "str":
            if self.required and PASSWORD_KEY.search(self.key):
                # A blank password is never valid; a higher minimum would lock out existing users.
                options.append("min_length=1")
            # Bounded from the start (the column's own length when it has one), so PR302 has
            # nothing to add later.
            options.append(f"max_length={(self.kind and self.kind.max_length) or max_length(self.key)}")
        if options == [f"default={self.default or 'None'}"]:
            return f"{self.attr}: {annotation} = {self.default or 'None'}"
        if not options:
            return f"{self.attr}: {annotation}"
        return f"{self.attr}: {annotation} = Field({', '.join(options)})"


def attribute_for(key: str, taken: set[str]) -> str:
    """A Python attribute for a JSON key (an alias keeps the key itself on the wire)."""
    from pydantic import BaseModel

    name = re.sub(r"\W", "_", key) or "field"
    if name[0].isdigit() or name.startswith("_"):
        name = "f_" + name.lstrip("_")
    if keyword.iskeyword(name) or hasattr(BaseModel, name) or name.startswith("model_"):
        name += "_"
    while name in taken:
        name += "_"
    return name


def literal_type(node: cst.BaseExpression) -> str | None:
    """The type a literal default gives a field; None for None (no information); "unknown" for
    anything that is not a literal."""
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)):
        return "str"
    if m.matches(node, m.Name("True") | m.Name("False")):
        return "bool"
    if m.matches(node, m.Name("None")):
        return None
    return {cst.Integer: "int", cst.Float: "float", cst.List: "list", cst.Dict: "dict"}.get(type(node), "unknown")


class BodyUses(QuickVisitor):
    """Every use of the body variable inside a handler, and whether it can become an attribute."""

    def __init__(self, var: str) -> None:
        self.var = var
        self.fields: dict[str, BodyField] = {}
        self.problem: str | None = None
        self.stack: list[cst.CSTNode] = []
        self.accepted: set[int] = set()  # ids of Name nodes already accounted for

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.stack.append(node)
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.stack.pop()
        super().on_leave(original_node)

    def conditional(self) -> bool:
        """Whether the current node may not run: inside an `if` body, a loop body, the right
        side of `and`/`or`... The test of an `if` or `while`, a loop's iterable and the left
        side of `and`/`or` always run."""
        for parent, child in zip(self.stack, self.stack[1:]):
            if not isinstance(parent, CONDITIONAL):
                continue
            if isinstance(parent, (cst.If, cst.While, cst.IfExp)) and child is parent.test:
                continue
            if isinstance(parent, cst.For) and child is parent.iter:
                continue
            if isinstance(parent, cst.BooleanOperation) and child is parent.left:
                continue
            return True
        return False

    def field(self, key: str) -> BodyField:
        if key not in self.fields:
            taken = {f.attr for f in self.fields.values()}
            self.fields[key] = BodyField(key, attribute_for(key, taken))
        return self.fields[key]

    def cast_around(self) -> str | None:
        parent = self.stack[-2] if len(self.stack) > 1 else None
        if isinstance(parent, cst.Arg) and len(self.stack) > 2 and isinstance(self.stack[-3], cst.Call):
            call = self.stack[-3]
            if len(call.args) == 1:
                return CASTS.get(dotted_name(call.func) or "")
        return None

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if not m.matches(node.value, m.Name(self.var)):
            return
        self.accepted.add(id(node.value))
        key = node.slice[0].slice.value if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index) else None
        if not isinstance(key, cst.SimpleString) or not isinstance(key.evaluated_value, str):
            self.problem = f"`{self.var}[...]` with a computed key"
            return
        parent = self.stack[-2] if len(self.stack) > 1 else None
        if isinstance(parent, (cst.AssignTarget, cst.AugAssign, cst.Del)) or (
            isinstance(parent, cst.AnnAssign) and parent.target is node
        ):
            self.problem = f"the handler writes into `{self.var}`"
            return
        entry = self.field(key.evaluated_value)
        cast = self.cast_around()
        if cast:
            entry.types.add(cast)
        if not self.conditional():
            entry.required = True

    def visit_Call(self, node: cst.Call) -> None:
        if not m.matches(node.func, m.Attribute(value=m.Name(self.var), attr=m.Name("get"))):
            return
        self.accepted.add(id(node.func.value))
        args = node.args
        if not args or not isinstance(args[0].value, cst.SimpleString) or not isinstance(args[0].value.evaluated_value, str):
            self.problem = f"`{self.var}.get(...)` with a computed key"
            return
        entry = self.field(args[0].value.evaluated_value)
        cast = self.cast_around()
        if cast:
            entry.types.add(cast)
        if len(args) > 1:
            kind = literal_type(args[1].value)
            if kind == "unknown":
                self.problem = f"`{self.var}.get({args[0].value.value}, ...)` with a computed default"
                return
            entry.default = cst.Module([]).code_for_node(args[1].value)
            if kind and not cast:
                entry.types.add(kind)

    def visit_Name(self, node: cst.Name) -> None:
        if node.value != self.var or id(node) in self.accepted or self.problem:
            return
        parent = self.stack[-2] if len(self.stack) > 1 else None
        if isinstance(parent, (cst.Param, cst.AssignTarget)) or (
            isinstance(parent, (cst.Attribute, cst.Arg)) and node in (getattr(parent, "attr", None), getattr(parent, "keyword", None))
        ):
            return  # an attribute or keyword spelled like the variable
        # Passed whole to print() or a logger only: a model prints as well as a dict.
        if isinstance(parent, cst.Arg) and len(self.stack) > 2 and isinstance(self.stack[-3], cst.Call):
            callee = dotted_name(self.stack[-3].func) or ""
            if callee.rpartition(".")[2] in LOG_METHODS:
                return
        self.problem = f"the handler uses `{self.var}` as a whole, so its fields cannot be inferred"


def is_route(function: cst.FunctionDef) -> bool:
    for decorator in function.decorators:
        name = dotted_name(decorator.decorator.func if isinstance(decorator.decorator, cst.Call) else decorator.decorator) or ""
        if name.rpartition(".")[2] in {"route", "get", "post", "put", "patch", "delete", "api_route"}:
            return True
    return False


def body_read(statement: cst.CSTNode) -> tuple[str, str] | None:
    """(`var`, `fastapi`|`flask`) for `var = await request.json()` / `var = request.get_json()`."""
    if not m.matches(statement, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])):
        return None
    assign = statement.body[0]
    var, value = assign.targets[0].target.value, assign.value
    if m.matches(value, m.Await(m.Call(func=m.Attribute(value=m.Name(), attr=m.Name("json")), args=[]))):
        return var, "fastapi"
    if m.matches(value, m.Call(func=m.Attribute(value=m.Name("request"), attr=m.Name("get_json")))) or m.matches(
        value, m.Attribute(value=m.Name("request"), attr=m.Name("json"))
    ):
        return var, "flask"
    return None


def pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part) or "Request"


class ToAttributes(QuickTransformer):
    """`body["k"]` / `body.get("k", d)` -> `body.k` (the model holds the default)."""

    def __init__(self, var: str, fields: dict[str, BodyField]) -> None:
        self.var, self.fields = var, fields

    def _attribute(self, key: cst.BaseExpression) -> cst.Attribute | None:
        if isinstance(key, cst.SimpleString) and key.evaluated_value in self.fields:
            return cst.Attribute(cst.Name(self.var), cst.Name(self.fields[key.evaluated_value].attr))
        return None

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.BaseExpression:
        if m.matches(updated_node.value, m.Name(self.var)) and isinstance(updated_node.slice[0].slice, cst.Index):
            return self._attribute(updated_node.slice[0].slice.value) or updated_node
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if m.matches(updated_node.func, m.Attribute(value=m.Name(self.var), attr=m.Name("get"))) and updated_node.args:
            return self._attribute(updated_node.args[0].value) or updated_node
        return updated_node


class RequestModel(FixCommand):
    DESCRIPTION = "Validate request bodies with a generated Pydantic model."
    ONLY_WHERE_TARGETED = True

    def __init__(self, context, targets=(), types: TypeSource | None = None) -> None:
        super().__init__(context, targets)
        self.types = types or TypeSource()
        self.models: list[tuple[int, cst.BaseStatement]] = []  # (line of the handler, class)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        updated_node = super().leave_FunctionDef(original_node, updated_node)
        if self.untargeted(original_node):
            return updated_node
        first = self.span(original_node.decorators[0]).start.line if original_node.decorators else None
        lines = (first or self.span(original_node).start.line, self.span(original_node).end.line)
        targets = self.targets_within(original_node, lines)
        if not targets or not isinstance(original_node.body, cst.IndentedBlock):
            return updated_node
        line = self.span(original_node).start.line
        return self.attempt(targets, updated_node, lambda function: self.validated(function, line))

    def validated(self, function: cst.FunctionDef, line: int) -> cst.FunctionDef:
        if not is_route(function):
            raise Skip("not a route handler")
        body = list(function.body.body)
        loose = [
            p for p in function.params.params
            if p.annotation is not None and dotted_name(self._base(p.annotation.annotation)) in LOOSE_TYPES and p.default is None
        ]
        reads = [(i, found) for i, s in enumerate(body) if (found := body_read(s))]
        if loose:
            var, framework, read_at = loose[0].name.value, "fastapi", None
        elif reads:
            read_at, (var, framework) = reads[0]
        else:
            raise Skip("no `dict` body parameter or JSON read found in the handler")
        uses = BodyUses(var)
        cst.Module(body[read_at + 1 :] if read_at is not None else body).visit(uses)
        if uses.problem:
            raise Skip(uses.problem)
        if not uses.fields:
            raise Skip(f"the handler reads no keys from `{var}`")
        code = cst.Module([]).code_for_node(function.with_changes(decorators=[]))
        kinds = infer_types(code, var, {key: f.types for key, f in uses.fields.items()}, self.types)
        for key, found in kinds.items():
            uses.fields[key].kind = found
        model = first_free(self.names, pascal(function.name.value) + "Body", pascal(function.name.value) + "Payload")
        self.names.add(model)
        self.models.append((line, self.model_class(model, uses.fields)))
        converted = [s.visit(ToAttributes(var, uses.fields)) for s in body]
        if framework == "flask":
            converted[read_at] = self.flask_validation(var, model, names_in(function))
            return function.with_changes(body=function.body.with_changes(body=converted))
        if read_at is None:
            params = [
                p.with_changes(annotation=cst.Annotation(cst.Name(model))) if p is loose[0] else p
                for p in function.params.params
            ]
        else:
            request = body[read_at].body[0].value.expression.func.value.value
            del converted[read_at]
            params = self._replace_request_param(function, request, var, model, converted)
        return function.with_changes(
            params=function.params.with_changes(params=params),
            body=function.body.with_changes(body=converted),
        )

    @staticmethod
    def _base(annotation: cst.BaseExpression) -> cst.BaseExpression:
        return annotation.value if isinstance(annotation, cst.Subscript) else annotation

    def _replace_request_param(self, function, request: str, var: str, model: str, body) -> list[cst.Param]:
        """The body becomes a parameter (before any parameter with a default); `request` goes
        when nothing else uses it."""
        still_used = request in names_in(cst.Module(body))
        params = [p for p in function.params.params if still_used or p.name.value != request]
        if not still_used:
            for module in ("fastapi", "starlette.requests"):
                RemoveImportsVisitor.remove_unused_import(self.context, module, "Request")
        new = cst.Param(cst.Name(var), cst.Annotation(cst.Name(model)))
        at = next((i for i, p in enumerate(params) if p.default is not None), len(params))
        params.insert(at, new)
        return [p.with_changes(comma=cst.MaybeSentinel.DEFAULT) if i == len(params) - 1 else p for i, p in enumerate(params)]

    def flask_validation(self, var: str, model: str, taken: set[str]) -> cst.BaseStatement:
        error = first_free(taken, "exc", "error", "validation_error")
        AddImportsVisitor.add_needed_import(self.context, "flask", "jsonify")
        AddImportsVisitor.add_needed_import(self.context, "pydantic", "ValidationError")
        return cst.parse_statement(
            f"try:\n"
            f"    {var} = {model}.model_validate(request.get_json(silent=True) or {{}})\n"
            f"except ValidationError as {error}:\n"
            f'    return jsonify(error="invalid request body", details={error}.errors(include_url=False, include_context=False)), 422\n'
        )

    def model_class(self, name: str, fields: dict[str, BodyField]) -> cst.BaseStatement:
        AddImportsVisitor.add_needed_import(self.context, "pydantic", "BaseModel")
        kinds = {f.kind.kind if f.kind else next(iter(f.types)) for f in fields.values()}
        spelled: dict[str, str] = {}
        for kind, module in (("Decimal", "decimal"), ("EmailStr", "pydantic"), ("datetime", "datetime"), ("date", "datetime")):
            if kind not in kinds:
                continue
            if module == "datetime" and self._imports_datetime_module():
                spelled[kind] = f"datetime.{kind}"  # `import datetime`: the name is the module already
            else:
                AddImportsVisitor.add_needed_import(self.context, module, kind)
        lines = [f.line(spelled) for f in fields.values()]
        text = "\n".join(lines)
        if re.search(r"\bOptional\[", text):
            AddImportsVisitor.add_needed_import(self.context, "typing", "Optional")
        if "Field(" in text:
            AddImportsVisitor.add_needed_import(self.context, "pydantic", "Field")
        body = "".join(f"    {line}\n" for line in lines)
        return cst.parse_statement(f"class {name}(BaseModel):\n{body}")

    def _imports_datetime_module(self) -> bool:
        return any(
            m.matches(s, m.SimpleStatementLine(body=[m.Import(names=[m.ImportAlias(name=m.Name("datetime"), asname=None)])]))
            for s in self._module.body
        )

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        body = self.place(original_node, list(updated_node.body), [(line, False, [model]) for line, model in self.models])
        return super().leave_Module(original_node, updated_node.with_changes(body=body))


class RequestModelFixer(Fixer):
    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        email_validator = project_has_email_validator([ws.read(name) or "" for name in REQUIREMENT_FILES])
        types = TypeSource(ws.index, relpath, email_validator)
        # Form fields: the model would have to follow the form's own parsing (files, repeated keys).
        forms = {f: "by hand: these are form fields; check them with a form class (Flask-WTF) or a schema over request.form" for f in findings if f.message.startswith("`request.form` values")}
        outcomes = fix_with(RequestModel, relpath, [f for f in findings if f not in forms], ws, types=types) if len(forms) < len(findings) else {}
        if any(v is None for v in outcomes.values()):
            ws.require("pydantic>=2", self.name)
        return {**outcomes, **forms}

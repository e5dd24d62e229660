"""libcst plumbing shared by the codemods: running one, finding the node a finding points at,
and the module logger most fixes log through.

Imports are added by scheduling `AddImportsVisitor` on the codemod context (libcst's own
codemods do the same); `CodemodCommand.transform_module` runs it after the transform.
"""

from __future__ import annotations

import re
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TypeVar

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodCommand, CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import CodeRange, MetadataWrapper

from auditor.index.extract import module_name_for
from auditor.models import Finding
from fixers import matcher_speedup
from fixers.codegen import code_for, module_code
from fixers.cst_dispatch import QuickTransformer, QuickVisitor
from fixers.pipeline.workspace import Skip, Workspace
from fixers.positions import Positions

matcher_speedup.install()

N = TypeVar("N", bound=cst.CSTNode)
STRICT_FLAG = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name("__strict__"))])])
LOCAL_MODULES = "prodready.local_modules"  # CodemodContext.scratch key: the project's top-level names


@dataclass
class Target:
    """A finding located in the current text: column None matches any node on the line."""

    finding: Finding
    line: int
    col: int | None


class FixCommand(CodemodCommand, QuickTransformer):
    """One codemod. Subclasses mark each target fixed (`self.fixed(t)`) or skipped with a reason.

    A plain CSTTransformer run as a codemod (AddImportsVisitor afterwards), not libcst's
    VisitorBasedCodemodCommand: none of these use matcher decorators, whose per-node bookkeeping
    was a third of the time it takes to plan every fix of a project. Node positions (`span`) come
    from fixers.positions, worked out for a top-level statement when first asked for."""

    DESCRIPTION = ""
    # True for a codemod that changes code only where its targets point (and keeps no state from
    # one top-level statement to the next): statements no open target points into are not walked.
    ONLY_WHERE_TARGETED = False

    def __init__(self, context: CodemodContext, targets: Sequence[Target] = ()) -> None:
        CodemodCommand.__init__(self, context)
        cst.CSTTransformer.__init__(self)
        self.targets = list(targets)
        self.outcomes: dict[Finding, str | None] = {}
        self.logger_name = ""
        self._logger_exists = True
        self._logger_needed = False
        self.functions: list[str] = []  # names of the enclosing functions, innermost last
        self.positions: Positions | None = None
        self._statement: int | None = None  # index of the top-level statement being visited
        self._in_statement: set[int] = set()  # ids of the nodes visited in it so far

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        return tree.visit(self)

    @contextmanager
    def _handle_metadata_reference(self, module: cst.Module) -> Iterator[cst.Module]:
        """libcst's own, without its deep copy of the tree. The copy keeps nodes shared with another
        tree from mixing their metadata; every FixCommand runs on a tree parsed for it alone, and
        the copy cost as much as the parse (a tenth of the time to plan a project's fixes)."""
        previous = self.context.wrapper
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        self.positions = positions_for(module)
        with self.resolve(wrapper):
            self.context = replace(self.context, wrapper=wrapper)
            try:
                yield wrapper.module
            finally:
                self.context = replace(self.context, wrapper=previous)

    def _instantiate_and_run(self, transform, tree: cst.Module) -> cst.Module:
        if transform is AddImportsVisitor:
            return add_imports_to_header(self.context, tree)
        if transform is RemoveImportsVisitor:
            return remove_imports_cheaply(self.context, tree)  # its scope analysis was most of a codemod's cost
        return super()._instantiate_and_run(transform, tree)

    def transform_module(self, tree: cst.Module) -> cst.Module:
        """The codemod, then libcst's import visitors, then the new imports moved into the
        module's own import order."""
        local = self.context.scratch.get(LOCAL_MODULES, ())
        return place_new_imports(tree, super().transform_module(tree), self.context.filename or "", local)

    # -- walking and targets --------------------------------------------------------------------

    def on_visit(self, node: cst.CSTNode) -> bool:
        statement = self.positions.index.get(id(node)) if self.positions is not None else None
        if statement is not None:
            self._statement, self._in_statement = statement, set()
        self._in_statement.add(id(node))
        walk = super().on_visit(node)
        # A statement not walked still has its own visit and leave methods called, in pairs.
        return walk and (statement is None or self.walks(node))

    def walks(self, statement: cst.CSTNode) -> bool:
        """Whether to walk inside a top-level statement (see ONLY_WHERE_TARGETED)."""
        return not self.ONLY_WHERE_TARGETED or not self.untargeted(statement)

    def on_leave(self, original_node, updated_node):
        updated = super().on_leave(original_node, updated_node)
        if self._statement is not None and self.positions.index.get(id(original_node)) == self._statement:
            self._statement, self._in_statement = None, set()
        return updated

    def span(self, node: cst.CSTNode) -> CodeRange:
        """Where node is (PositionProvider's range; KeyError for a node not in the visited tree)."""
        if self.positions is None:
            raise KeyError("positions are known while the codemod runs")
        return self.positions.of(node, self._statement)

    def untargeted(self, node: cst.CSTNode) -> bool:
        """Whether node is in the top-level statement being visited and no open target points
        into that statement: then no target is at node, and its position need not be worked out."""
        if self._statement is None or id(node) not in self._in_statement:
            return False
        first, last = self.positions.lines_of(self._statement)
        return not any(first <= t.line <= last for t in self.targets if t.finding not in self.outcomes)

    def targets_at(self, node: cst.CSTNode) -> list[Target]:
        """Targets pointing at the start of node (or anywhere on its first line when the column is lost)."""
        if self.untargeted(node):
            return []
        start = self.span(node).start
        return [
            t for t in self.targets
            if t.finding not in self.outcomes and t.line == start.line and (t.col is None or t.col == start.column)
        ]

    def targets_within(self, node: cst.CSTNode, lines: tuple[int, int] | None = None) -> list[Target]:
        if lines is None and self.untargeted(node):
            return []
        first, last = lines or (self.span(node).start.line, self.span(node).end.line)
        return [t for t in self.targets if t.finding not in self.outcomes and first <= t.line <= last]

    def fixed(self, targets: Sequence[Target]) -> None:
        for target in targets:
            self.outcomes[target.finding] = None

    def skipped(self, targets: Sequence[Target], reason: str) -> None:
        for target in targets:
            self.outcomes.setdefault(target.finding, reason)

    def attempt(self, targets: Sequence[Target], node: N, rewrite: Callable[[N], cst.CSTNode]) -> cst.CSTNode:
        """`rewrite(node)`, the targets marked fixed; on Skip, node unchanged and its reason kept."""
        try:
            new = rewrite(node)
        except Skip as exc:
            self.skipped(targets, str(exc))
            return node
        self.fixed(targets)
        return new

    # -- where we are ---------------------------------------------------------------------------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node.name.value)

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.functions.pop()
        return updated_node

    def where(self, default: str = "module") -> str:
        """The enclosing function's name, for log messages."""
        return self.functions[-1] if self.functions else default

    # -- the module logger ------------------------------------------------------------------------

    def visit_Module(self, node: cst.Module) -> None:
        self._module = node
        self._names: set[str] | None = None
        existing = module_logger(node)
        self._logger_exists = existing is not None
        self.logger_name = existing or ""

    @property
    def names(self) -> set[str]:
        """Every name the module uses (computed once, on demand: it walks the whole tree)."""
        if self._names is None:
            self._names = names_in(self._module)
        return self._names

    def logger(self) -> str:
        """The module logger's name; it is created after the imports when the module has none."""
        self._logger_needed = True
        if not self.logger_name:
            self.logger_name = first_free(self.names, "logger", "log", "_logger")
        return self.logger_name

    def place(self, original: cst.Module, body: list, placements: Sequence[tuple[int, bool, Sequence]]) -> list:
        """Insert module-level statements next to the top-level statement holding a line:
        (line, after it?, statements). Placements at one spot keep their order."""
        spots = []
        for order, (line, after, statements) in enumerate(placements):
            index = next(
                (i for i, s in enumerate(original.body) if self.span(s).start.line <= line <= self.span(s).end.line),
                len(body),
            )
            spots.append((index + after, order, statements))
        for index, _, statements in sorted(spots, key=lambda spot: spot[:2], reverse=True):  # bottom up
            body = insert_at(body, index, statements)
        return body

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        if self._logger_needed and not self._logger_exists:
            AddImportsVisitor.add_needed_import(self.context, "logging")
            statement = cst.parse_statement(f"{self.logger_name} = logging.getLogger(__name__)\n")
            updated_node = insert_after_header(updated_node, [statement])
        return updated_node


# Fixers run one after another over the same few modules, most of them leaving the text as it
# was: the parsed tree is kept per text, and the positions worked out in a tree per tree. libcst
# trees are immutable, so sharing one between codemods is safe. (Plans are made one at a time:
# fixers.pipeline.plan.ONE_PLAN_AT_A_TIME.)
_PARSED: OrderedDict[str, cst.Module] = OrderedDict()
_POSITIONS: OrderedDict[int, tuple[cst.Module, Positions]] = OrderedDict()  # id(tree) -> (tree, its positions)
_CACHE_LIMIT = 64


def parse_module(source: str) -> cst.Module:
    """`cst.parse_module(source)`, kept for the next codemod on the same text."""
    cached = _PARSED.get(source)
    if cached is not None:
        _PARSED.move_to_end(source)
        return cached
    module = cst.parse_module(source)
    remember_parse(source, module)
    return module


def write_module(ws: Workspace, relpath: str, module: cst.Module) -> None:
    """Store a module's code in the workspace, its tree kept as the parse of that code."""
    code = module_code(module)
    ws.write(relpath, code)
    remember_parse(code, module)


def remember_parse(source: str, module: cst.Module) -> None:
    """Keep a transformed tree as the parse of `source`, the code it generates, for the next
    codemod: libcst trees round-trip, so parsing that code would give an equal tree."""
    if source not in _PARSED:
        _PARSED[source] = module
        if len(_PARSED) > _CACHE_LIMIT:
            _PARSED.popitem(last=False)


def positions_for(module: cst.Module) -> Positions:
    """The positions of a tree, one Positions per tree so that what was worked out is reused."""
    found = _POSITIONS.get(id(module))
    if found is not None and found[0] is module:
        _POSITIONS.move_to_end(id(module))
        return found[1]
    positions = Positions(module)
    _POSITIONS[id(module)] = (module, positions)
    if len(_POSITIONS) > _CACHE_LIMIT:
        _POSITIONS.popitem(last=False)
    return positions


def run_codemod(
    ws: Workspace,
    relpath: str,
    command_cls: type[FixCommand],
    targets: Sequence[Target],
    /,  # positional: a codemod may take a `relpath` keyword of its own
    keep_any_change: bool = False,
    **kwargs,
) -> FixCommand:
    """Transform the current text of relpath with one codemod and store the result in the
    workspace: when it fixed a target, or (keep_any_change) whenever the text changed."""
    source = ws.read(relpath)
    if source is None:
        raise Skip(f"{relpath} does not exist")
    try:
        module = parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise Skip(f"libcst cannot parse {relpath}: {str(exc).splitlines()[0]}") from None
    context = CodemodContext(filename=relpath, full_module_name=module_name_for(relpath))
    context.scratch[LOCAL_MODULES] = local_modules(ws)
    command = command_cls(context, targets, **kwargs)
    new_module = command.transform_module(module)
    code = generated = module_code(new_module)
    if not source.startswith("\n"):
        code = code.lstrip("\n")  # a removed first import leaves its blank line behind
    fixed = any(outcome is None for outcome in command.outcomes.values())
    if code != source and (fixed or keep_any_change):
        ws.write(relpath, code)
        if code == generated:
            remember_parse(code, new_module)
    return command


def local_modules(ws: Workspace) -> frozenset[str]:
    """Top-level names of the project's own modules and packages (its "first party" imports)."""
    index = ws.index
    relpaths = set(index.modules if index is not None else ())
    relpaths |= {r for r, s in ws.files.items() if r.endswith(".py") and s.text is not None}
    names = {module_name_for(r).partition(".")[0] for r in relpaths}
    return frozenset(n for n in names if n and n.isidentifier())


def locate(ws: Workspace, findings: Sequence[Finding]) -> list[Target]:
    return [Target(f, *ws.position(f)) for f in findings]


def fix_with(command_cls: type[FixCommand], relpath: str, findings: Sequence[Finding], ws: Workspace, **kwargs) -> dict:
    """The usual `fix_file`: run one codemod over the file's findings; unanswered ones are skipped."""
    command = run_codemod(ws, relpath, command_cls, locate(ws, findings), **kwargs)
    return {f: command.outcomes.get(f, "no matching code found at this place any more") for f in findings}


# -- module structure ---------------------------------------------------------------------------


def is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body
    )


def is_docstring(statement: cst.CSTNode) -> bool:
    return m.matches(statement, m.SimpleStatementLine(body=[m.Expr(m.SimpleString() | m.ConcatenatedString())]))


def header_end(body: Sequence[cst.CSTNode]) -> int:
    """Index of the first statement after the module docstring, the imports (guarded
    `try: import x` and `if TYPE_CHECKING:` blocks count) and a module logger right after them."""
    for index, statement in enumerate(body):
        if index == 0 and is_docstring(statement):
            continue
        if is_import_line(statement) or is_logger_assignment(statement):
            continue
        if isinstance(statement, (cst.Try, cst.If)) and all(is_import_line(s) for s in statement.body.body):
            continue
        return index
    return len(body)


def spaced(statement: cst.CSTNode, blank_lines: int = 1) -> cst.CSTNode:
    """Make sure a statement starts after at least `blank_lines` empty lines (comments kept)."""
    lines = list(statement.leading_lines)
    leading = 0
    while leading < len(lines) and lines[leading].comment is None:
        leading += 1
    if leading < blank_lines:
        lines = [cst.EmptyLine()] * (blank_lines - leading) + lines
    return statement.with_changes(leading_lines=lines)


def blank_lines_around(statement: cst.CSTNode) -> int:
    return 2 if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) else 1


def insert_at(body: Sequence[cst.CSTNode], index: int, statements: Sequence[cst.CSTNode]) -> list[cst.CSTNode]:
    """Insert module-level statements with PEP 8 spacing (two blank lines around definitions)."""
    new = []
    previous = body[index - 1] if index > 0 else None
    for statement in statements:
        gap = max(blank_lines_around(statement), blank_lines_around(previous)) if previous is not None else 0
        new.append(spaced(statement.with_changes(leading_lines=[]), gap))
        previous = statement
    rest = list(body[index:])
    if rest and new:
        rest[0] = spaced(rest[0], max(blank_lines_around(rest[0]), blank_lines_around(new[-1])))
    return list(body[:index]) + new + rest


def insert_after_header(module: cst.Module, statements: Sequence[cst.CSTNode]) -> cst.Module:
    return module.with_changes(body=insert_at(module.body, header_end(module.body), statements))


LOGGER_ASSIGNMENT = m.SimpleStatementLine(
    body=[
        m.Assign(
            targets=[m.AssignTarget(target=m.Name())],
            value=m.Call(func=m.Attribute(value=m.Name("logging"), attr=m.Name("getLogger")) | m.Name("getLogger")),
        )
    ]
)


def is_logger_assignment(statement: cst.CSTNode) -> bool:
    return m.matches(statement, LOGGER_ASSIGNMENT)


def module_logger(module: cst.Module) -> str | None:
    """The name of a module-level `x = logging.getLogger(...)`, if there is one."""
    for statement in module.body:
        if is_logger_assignment(statement):
            return statement.body[0].targets[0].target.value
    return None


def names_in(node: cst.CSTNode) -> set[str]:
    names: set[str] = set()

    class Collect(QuickVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            names.add(name.value)

    node.visit(Collect())
    return names


def first_free(used: set[str], *candidates: str) -> str:
    for name in candidates:
        if name not in used:
            return name
    base, n = candidates[0], 2
    while f"{base}{n}" in used:
        n += 1
    return f"{base}{n}"


def string_text(node: cst.BaseExpression) -> str:
    """The literal text parts of a string expression (for wording heuristics), '' otherwise."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else ""
    if isinstance(node, cst.FormattedString):
        return "".join(p.value for p in node.parts if isinstance(p, cst.FormattedStringText))
    if isinstance(node, cst.ConcatenatedString):
        return string_text(node.left) + string_text(node.right)
    return ""


def dotted_name(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = dotted_name(node.value)
        return f"{head}.{node.attr.value}" if head else None
    return None


# -- imports where the module's own imports are ------------------------------------------------

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
SECTIONS = ("future", "stdlib", "thirdparty", "local", "relative")


def _import_module(statement: cst.CSTNode) -> tuple[str, int] | None:
    """(module, relative level) of a one-import line, None for anything else."""
    if not is_import_line(statement) or len(statement.body) != 1:
        return None
    small = statement.body[0]
    if isinstance(small, cst.Import):
        return code_of(small.names[0].name), 0
    return (dotted_name(small.module) or "" if small.module is not None else ""), len(small.relative)


def import_section(module: str, level: int, local: frozenset[str]) -> str:
    top = module.partition(".")[0]
    if level:
        return "relative"
    if top in local:
        return "local"
    if top == "__future__":
        return "future"
    return "stdlib" if top in STDLIB else "thirdparty"


def _sort_keys(statement: cst.CSTNode) -> tuple[tuple, str]:
    """(isort's default key: `import x` lines before `from x import`, then the module; the key
    of force_sort_within_sections: the module alone)."""
    module, level = _import_module(statement)
    name = "." * level + module.lower()
    return (isinstance(statement.body[0], cst.ImportFrom), name), name


def _key(statement: cst.CSTNode) -> str:
    """The statement's code without its leading lines (each renders as one line of the code)."""
    code, lines = code_of(statement), len(statement.leading_lines)
    return (re.split(r"\r\n?|\n", code, maxsplit=lines)[-1] if lines else code).strip()


def _blank_prefix(lines: Sequence[cst.EmptyLine]) -> tuple[list, list]:
    """(the blank lines before the first comment, the rest)."""
    index = 0
    while index < len(lines) and lines[index].comment is None:
        index += 1
    return list(lines[:index]), list(lines[index:])


def _names_in_order(before: cst.SimpleStatementLine, after: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
    """`from m import b, a, c` as libcst extended it (new names first) -> the names in the
    original line's order: sorted when they were, else the new ones at the end."""
    old, new = before.body[0], after.body[0]
    if not isinstance(new, cst.ImportFrom) or isinstance(new.names, cst.ImportStar) or new.lpar is not None:
        return after
    had = [a.evaluated_name for a in old.names]
    aliases = {a.evaluated_name: a for a in new.names}
    added = [name for name in aliases if name not in had]
    if not added or any(name not in aliases for name in had):
        return after
    if had == sorted(had):
        order = sorted(aliases)
    elif had == sorted(had, key=str.lower):
        order = sorted(aliases, key=str.lower)
    else:
        order = had + added
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    names = [aliases[n].with_changes(comma=comma) for n in order]
    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return after.with_changes(body=[new.with_changes(names=names)])


def place_new_imports(before: cst.Module, after: cst.Module, relpath: str, local: Sequence[str] = ()) -> cst.Module:
    """Move the import lines `after` has and `before` had not into the module's own import
    block, in its order: `from __future__`, standard library, third party, the project's own
    (`local` top-level names and the module's own package), relative imports; one blank line
    between sections, and within a section at its sorted place when the section is sorted
    (isort's or ruff's default order, or by module alone), else at its end.

    AddImportsVisitor puts every new import after the module's last import, so `import os` can
    land under `from app.models import User`; this keeps the file as isort or ruff would."""
    originals = {_key(s): s for s in before.body if is_import_line(s)}
    body = list(after.body)
    kept = {_key(s) for s in body if is_import_line(s)}  # (rendering every statement was costly)
    # An import line libcst extended (`from m import a` -> `from m import a, b`) stays where it is.
    extended = {_import_module(s): s for s in before.body if is_import_line(s) and _key(s) not in kept}
    new = []
    for index, statement in enumerate(body):
        if not is_import_line(statement) or _key(statement) in originals or _import_module(statement) is None:
            continue
        if _import_module(statement) in extended:
            body[index] = _names_in_order(extended[_import_module(statement)], statement)
        else:
            new.append(statement)
    if not new:
        return after.with_changes(body=body)
    tops = frozenset(local) | {module_name_for(relpath).partition(".")[0]}
    body = [s for s in body if not any(s is n for n in new)]
    # libcst leaves a blank line after the imports it adds: the code after them keeps its own spacing.
    first_code = header_end(list(before.body))
    if first_code < len(before.body):
        following = header_end(body)
        if following < len(body) and _key(body[following]) == _key(before.body[first_code]):
            body[following] = body[following].with_changes(leading_lines=before.body[first_code].leading_lines)
    order = {name: i for i, name in enumerate(SECTIONS)}
    for statement in new:
        module, level = _import_module(statement)
        section = import_section(module, level, tops)
        header = header_end(body)
        imports = [(i, import_section(*_import_module(s), tops)) for i, s in enumerate(body[:header]) if _import_module(s) is not None]
        same = [i for i, sec in imports if sec == section]
        statement = statement.with_changes(leading_lines=[])
        if same:
            at = same[-1] + 1
            for which in (0, 1):
                keys = [_sort_keys(body[i])[which] for i in same]
                if keys == sorted(keys):
                    mine = _sort_keys(statement)[which]
                    at = next((i for i, key in zip(same, keys) if key > mine), same[-1] + 1)
                    break
            if at == same[0]:  # new first line of the section: it takes the section's spacing and comments
                statement = statement.with_changes(leading_lines=body[at].leading_lines)
                body[at] = body[at].with_changes(leading_lines=[])
            body.insert(at, statement)
            continue
        earlier = [i for i, sec in imports if order[sec] < order[section]]
        later = [i for i, sec in imports if order[sec] > order[section]]
        if earlier:
            at = earlier[-1] + 1
            body.insert(at, statement.with_changes(leading_lines=[cst.EmptyLine()]))
            if at + 1 < len(body) and _import_module(body[at + 1]) is not None and not body[at + 1].leading_lines:
                body[at + 1] = body[at + 1].with_changes(leading_lines=[cst.EmptyLine()])
        elif later:
            at = later[0]
            blanks, rest = _blank_prefix(body[at].leading_lines)
            body.insert(at, statement.with_changes(leading_lines=blanks))
            body[at + 1] = body[at + 1].with_changes(leading_lines=[cst.EmptyLine(), *rest])
        else:  # no import yet: after the docstring, where AddImportsVisitor would have put it
            at = 1 if body and is_docstring(body[0]) else 0
            body.insert(at, statement.with_changes(leading_lines=[cst.EmptyLine()] if at else []))
            if at + 1 < len(body) and not _import_module(body[at + 1]):
                body[at + 1] = spaced(body[at + 1], 1)
    return after.with_changes(body=body)


def code_of(node: cst.CSTNode) -> str:
    """The source of one node."""
    return code_for(node)


def remove_imports_cheaply(context: CodemodContext, module: cst.Module) -> cst.Module:
    """Settle the import removals RemoveImportsVisitor has scheduled without its scope analysis
    of the whole module, where the text decides. A name the module still mentions outside its
    top-level import lines keeps its import (a mention in a string or a comment keeps it too:
    harmless). An unused one is removed from its import lines by the visitor run on each line
    alone (all it needs to see, once the text has shown the name unused), and a line it empties
    leaves its comments to the next statement. Nothing is left for the visitor afterwards."""
    scheduled = list(dict.fromkeys(context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY, [])))  # one removal each
    if not scheduled:
        return module
    body = list(module.body)
    code = module_code(module)
    imports = "\n".join(code_of(s) for s in body if is_import_line(s))

    def mentions(text: str, entry) -> int:
        return len(re.findall(rf"\b{re.escape(entry[2] or (entry[1] or entry[0]).partition('.')[0])}\b", text))

    unused = [entry for entry in scheduled if mentions(code, entry) == mentions(imports, entry)]
    context.scratch[RemoveImportsVisitor.CONTEXT_KEY] = []
    if not unused:
        return module
    names = {entry[0].partition(".")[0] for entry in unused}
    line_context = replace(context, scratch={})
    index = 0
    while index < len(body):
        statement = body[index]
        if not is_import_line(statement) or not any(re.search(rf"\b{re.escape(n)}\b", code_of(statement)) for n in names):
            index += 1
            continue
        alone = module.with_changes(header=[], body=[statement], footer=[])
        kept = RemoveImportsVisitor(line_context, unused).transform_module(alone).body
        if kept:
            body[index] = kept[0]
            index += 1
            continue
        del body[index]
        if index < len(body) and any(line.comment for line in statement.leading_lines):
            body[index] = body[index].with_changes(leading_lines=[*statement.leading_lines, *body[index].leading_lines])
    return module.with_changes(body=body)


def add_imports_to_header(context: CodemodContext, module: cst.Module) -> cst.Module:
    """AddImportsVisitor's result, computed on the module's header alone.

    The visitor only reads and extends the import block at the top of the module (after the
    docstring), and inserts after it; yet it walks the whole tree twice. Run on the header plus
    the first statement after it (whose spacing it adjusts), it gives the same module in a
    fraction of the time: planning a project's fixes ran it about a hundred times."""
    body = list(module.body)
    end = 1 if body and (is_docstring(body[0]) or m.matches(body[0], STRICT_FLAG)) else 0
    while end < len(body) and is_import_line(body[end]):
        end += 1
    if _all_imported(context.scratch.get(AddImportsVisitor.CONTEXT_KEY, ()), body[:end]):
        return module  # what the visitor would find: nothing to add (most calls; it costs a parse's time)
    # (visited directly: run as a codemod, it would first deep-copy the tree for metadata it does not use)
    if end >= len(body):
        return module.visit(AddImportsVisitor(context))
    # The first statement after the imports only has its leading lines adjusted: a stand-in
    # with the same leading lines takes its place (it can be a whole class).
    stand_in = cst.SimpleStatementLine([cst.Pass()], leading_lines=body[end].leading_lines)
    head = module.with_changes(body=[*body[:end], stand_in]).visit(AddImportsVisitor(context))
    first = body[end].with_changes(leading_lines=head.body[-1].leading_lines)
    return module.with_changes(body=[*head.body[:-1], first, *body[end + 1 :]])


def _all_imported(scheduled: Sequence, header: Sequence[cst.CSTNode]) -> bool:
    """Whether the module's top import lines (as AddImportsVisitor reads them: one import per
    line) already have every scheduled import, under the same names. Relative imports are
    left to the visitor, which resolves them."""
    plain: set[tuple[str, str | None]] = set()  # import m [as a]
    names: set[tuple[str, str, str | None]] = set()  # from m import n [as a]; n "*" for a star
    for statement in header:
        if not is_import_line(statement) or len(statement.body) != 1:
            continue
        node = statement.body[0]
        if isinstance(node, cst.Import):
            plain.update((code_of(a.name), a.evaluated_alias) for a in node.names)
        elif not node.relative and node.module is not None:
            module = code_of(node.module)
            if isinstance(node.names, cst.ImportStar):
                names.add((module, "*", None))
            else:
                names.update((module, a.evaluated_name, a.evaluated_alias) for a in node.names)
    for item in scheduled:
        if item.relative:
            return False
        if item.obj_name is None:
            if (item.module, item.alias) not in plain:
                return False
        elif (item.module, item.obj_name, item.alias) not in names and (
            item.alias is not None or (item.module, "*", None) not in names
        ):
            return False
    return True


def add_imports_in_order(module: cst.Module, relpath: str, imports: Sequence[tuple[str, str | None]], local: Sequence[str] = ()) -> cst.Module:
    """`module` with `from m import name` (`import m` when name is None) for each import it does
    not have yet, placed in the module's own import order (see place_new_imports)."""
    context = CodemodContext(filename=relpath, full_module_name=module_name_for(relpath))
    for mod, name in imports:
        AddImportsVisitor.add_needed_import(context, mod, name)
    return place_new_imports(module, add_imports_to_header(context, module), relpath, local)

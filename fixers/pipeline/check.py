"""Is a fixer's output still a working app? Checked after every unit of fixing, before it is offered.

Compiling proves little: a fix that uses a name its module never imports compiles, then answers
500 on every request. Three checks compare each touched module before and after the unit, and
only what the unit adds counts (a project's own sloppiness is not the fix's fault):

- pyflakes: names that are undefined, read before assignment, redefined, listed in `__all__`
  without a definition;
- imports of the project's own modules: the module must exist and define the name;
- class attributes (`User.is_admin`) of the project's ORM models and settings classes: the class,
  or one of the project's classes it inherits from, must define them.

When a module cannot be judged (a `__getattr__`, a star import, a base class from elsewhere) the
check passes: it refuses only what would surely break.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from pyflakes import messages as flakes
from pyflakes.checker import Checker

from auditor.index.extract import module_name_for
from auditor.walk import record_import

# pyflakes messages that mean the module would crash at run time or silently use the wrong object.
BREAKING: dict[type, str] = {
    flakes.UndefinedName: "the fix would use `{name}` in {path}, which that file does not import or define",
    flakes.UndefinedLocal: "the fix would read `{name}` in {path} before it is assigned",
    flakes.UndefinedExport: "the fix would list `{name}` in `__all__` of {path}, which that file does not define",
    flakes.RedefinedWhileUnused: "the fix would define `{name}` a second time in {path}, hiding the one already there",
    flakes.DuplicateArgument: "the fix would give a function in {path} two parameters named `{name}`",
    flakes.ImportShadowedByLoopVar: "the fix would reuse the imported name `{name}` as a loop variable in {path}",
}

# Bases whose subclasses are ORM models or settings: their attributes are the class body's plus
# what the base itself provides (below). Matched on the last part of the dotted name, from these
# packages (or `db.Model`, Flask-SQLAlchemy's base on the app's own `db` object).
ORM_BASES = frozenset({"DeclarativeBase", "DeclarativeBaseNoMeta", "SQLModel", "Model"})
PYDANTIC_BASES = frozenset({"BaseModel", "BaseSettings", "SQLModel"})
NEUTRAL_BASES = frozenset({"object", "MappedAsDataclass", "AsyncAttrs"})
KNOWN_PACKAGES = frozenset({"sqlalchemy", "flask_sqlalchemy", "sqlmodel", "pydantic", "pydantic_settings"})
OTHER_ORMS = frozenset({"django", "peewee", "tortoise", "mongoengine", "ormar", "piccolo", "pony"})
DECLARATIVE_FACTORIES = re.compile(r"(^|\.)(declarative_base|generate_base|as_declarative)$")
ORM_PROVIDED = frozenset({"query", "query_class", "metadata", "registry", "c", "columns"})
SETTINGS_PROVIDED = frozenset({"settings_customise_sources"})


@dataclass(frozen=True)
class Texts:
    """The project's modules at one moment (before or after a unit of fixing)."""

    read: Callable[[str], str | None]  # relpath -> text, None when the file does not exist
    modules: dict[str, str]  # dotted module name -> relpath
    classes: dict = field(default_factory=dict, compare=False)  # (module, class) -> its attributes

    def module_text(self, module: str) -> tuple[str, str] | None:
        relpath = self.modules.get(module)
        text = self.read(relpath) if relpath else None
        return (relpath, text) if relpath and text is not None else None

    def is_package(self, module: str) -> bool:
        prefix = module + "."
        return any(name.startswith(prefix) for name in self.modules)


def module_table(index, relpaths: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """Dotted module name -> relpath: the scanned modules, updated with the files of a plan."""
    table = dict(index.by_module) if index is not None else {}
    for relpath, text in relpaths:
        if not relpath.endswith(".py"):
            continue
        module = module_name_for(relpath)
        if text is None:
            if table.get(module) == relpath:
                del table[module]
        else:
            table[module] = relpath
    return table


# -- parsing, once per text ------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def parsed(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@lru_cache(maxsize=1024)
def _imports_and_attributes(text: str) -> tuple[tuple[ast.AST, ...], tuple[ast.Attribute, ...]]:
    """The module's import statements and attribute reads, anywhere in it, in ast.walk's order
    (one walk for the checks below that need them)."""
    tree = parsed(text)
    imports: list[ast.AST] = []
    attributes: list[ast.Attribute] = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            attributes.append(node)
    return tuple(imports), tuple(attributes)


@lru_cache(maxsize=1024)
def _flakes(text: str) -> tuple[tuple[type, str], ...]:
    tree = parsed(text)
    if tree is None:
        return ()
    found = Checker(tree, filename="module.py").messages
    return tuple((type(m), str(m.message_args[0])) for m in found if type(m) in BREAKING)


def package_of(relpath: str) -> str:
    module = module_name_for(relpath)
    return module if relpath.endswith("__init__.py") else module.rpartition(".")[0]


@lru_cache(maxsize=1024)
def top_level_names(text: str) -> frozenset[str] | None:
    """The names a module defines at its top level; None when that cannot be known statically
    (a module `__getattr__`, a star import, writes to `globals()`, a file that does not parse)."""
    tree = parsed(text)
    if tree is None or "globals()" in text:
        return None
    names: set[str] = set()
    with_globals = "global" in text
    for statement in tree.body:
        for node in _module_scope_nodes(statement, with_globals):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, ast.Import):
                names.update(a.asname or a.name.partition(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if any(a.name == "*" for a in node.names):
                    return None
                names.update(a.asname or a.name for a in node.names)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
            elif isinstance(node, ast.Global):
                names.update(node.names)
    if "__getattr__" in names:
        return None
    return frozenset(names)


def _module_scope_nodes(node: ast.AST, with_globals: bool = False) -> Iterable[ast.AST]:
    """Nodes whose bindings land in the module namespace: everything but the inside of functions,
    classes, lambdas and comprehensions (with_globals: their `global` statements are kept)."""
    yield node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if with_globals:
            yield from (n for n in ast.walk(node) if isinstance(n, ast.Global))
        return
    if isinstance(node, (ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return
    for child in ast.iter_child_nodes(node):
        yield from _module_scope_nodes(child, with_globals)


# -- 1. pyflakes -----------------------------------------------------------------------------------


def name_problems(relpath: str, text: str | None) -> Counter:
    """(message kind, name) -> how often, for the breaking pyflakes messages of one module text."""
    found: Counter = Counter()
    if text is not None:
        for kind, name in _flakes(text):
            found[(kind, name)] += 1
    return found


def name_reason(relpath: str, key) -> str:
    kind, name = key
    return BREAKING[kind].format(name=name, path=relpath)


# -- 2. imports of the project's own modules -------------------------------------------------------


def import_problems(relpath: str, text: str | None, project: Texts, only: set[str] | None = None) -> Counter:
    """Imports of project modules that do not exist, or of names they do not define:
    (module, name or None) -> how often. `only`: look at imports from these modules alone."""
    found: Counter = Counter()
    if text is None:
        return found
    for module, name in _imports_in(text, package_of(relpath)):
        if only is not None and module not in only:
            continue
        if _missing_module(module, project):
            found[(module, None)] += 1
        elif name is not None and _missing_name(module, name, project):
            found[(module, name)] += 1
    return found


@lru_cache(maxsize=1024)
def _imports_in(text: str, package: str) -> tuple[tuple[str, str | None], ...]:
    """Every import of the module, anywhere in it: (module, None) for `import a.b`, (module, name)
    for `from module import name` (relative imports resolved)."""
    found: list[tuple[str, str | None]] = []
    for node in _imports_and_attributes(text)[0]:
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported: dict[str, str] = {}
            record_import(node, imported, package)
            for qualified in imported.values():
                module, _, name = qualified.rpartition(".")
                if module:
                    found.append((module, name))
    return tuple(found)


def _missing_module(module: str, project: Texts) -> bool:
    """`import app.x` where `app` is the project's package and app.x is no module of it."""
    head = module.partition(".")[0]
    if module == head or not (head in project.modules or project.is_package(head)):
        return False
    return module not in project.modules and not project.is_package(module)


def _missing_name(module: str, name: str, project: Texts) -> bool:
    located = project.module_text(module)
    if located is None:
        return False  # not a project module (or a namespace package): not ours to judge
    if f"{module}.{name}" in project.modules or project.is_package(f"{module}.{name}"):
        return False  # a submodule
    names = top_level_names(located[1])
    return names is not None and name not in names


def import_reason(relpath: str, key, project: Texts) -> str:
    module, name = key
    if name is None:
        return f"the fix would import {module} in {relpath}, which is not a module of this project"
    where = project.modules.get(module, module)
    return f"the fix would import `{name}` from {module} in {relpath}, but {where} does not define it"


def cycle_problems(relpath: str, text: str | None, project: Texts) -> Counter:
    """`from M import name` at the top level of this module, where M imports this module at its
    own top level before it defines `name`: whichever of the two loads first, the other finds the
    name missing (ImportError at start-up). (M, name) -> how often."""
    found: Counter = Counter()
    if text is None:
        return found
    module = module_name_for(relpath)
    for other, name in _top_level_imports(text, package_of(relpath)):
        if name is None or other == module:
            continue
        if relpath.endswith("__init__.py") and other.startswith(module + "."):
            continue  # a package's own submodule loads after it, never before: the other direction tells
        located = project.module_text(other)
        if located is None:
            continue
        defined_first = _bound_before_import_of(located[1], package_of(located[0]), module)
        if defined_first is not None and name not in defined_first:
            found[(other, name)] += 1
    return found


@lru_cache(maxsize=1024)
def _top_level_imports(text: str, package: str) -> tuple[tuple[str, str | None], ...]:
    """The imports a module runs when it loads (not those inside functions)."""
    tree = parsed(text)
    found: list[tuple[str, str | None]] = []
    for statement in tree.body if tree is not None else ():
        for node in _module_scope_nodes(statement):
            if isinstance(node, ast.Import):
                found.extend((alias.name, None) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported: dict[str, str] = {}
                record_import(node, imported, package)
                found.extend((q.rpartition(".")[0], q.rpartition(".")[2]) for q in imported.values() if "." in q)
    return tuple(found)


@lru_cache(maxsize=1024)
def _bound_before_import_of(text: str, package: str, target: str) -> frozenset[str] | None:
    """The names a module has bound when, loading, it first imports `target`; None when it never
    imports it at its top level (or the module cannot be judged)."""
    tree = parsed(text)
    if tree is None:
        return None
    for position, statement in enumerate(tree.body):
        for node in _module_scope_nodes(statement):
            imported: dict[str, str] = {}
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                record_import(node, imported, package)
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else list(imported.values())
                if any(n == target or n.startswith(target + ".") for n in names):
                    before = top_level_names(ast.unparse(ast.Module(body=tree.body[:position], type_ignores=[])))
                    return before if before is not None else None
    return None


def cycle_reason(relpath: str, key, project: Texts) -> str:
    module, name = key
    where = project.modules.get(module, module)
    first, second = sorted((relpath, where))
    return (
        f"the fix would make {first} and {second} import each other as they load, so `{name}` would be "
        "imported before it is defined and the app would fail to start (a circular import)"
    )


# -- 3. attributes of the project's models and settings classes ------------------------------------


def attribute_problems(relpath: str, text: str | None, project: Texts) -> Counter:
    """`Model.attribute` reads where Model is a project ORM model or settings class that does not
    define the attribute: (class module, class, attribute) -> how often."""
    found: Counter = Counter()
    if text is None:
        return found
    for owner, cls, attribute in _class_attribute_reads(text, relpath):
        if owner not in project.modules:
            continue
        defined = class_attributes(owner, cls, project)
        if defined is not None and attribute not in defined and not _backref(attribute, project):
            found[(owner, cls, attribute)] += 1
    return found


@lru_cache(maxsize=1024)
def _class_attribute_reads(text: str, relpath: str) -> tuple[tuple[str, str, str], ...]:
    """Every `Name.attribute` (or `module.Name.attribute`) read whose Name the module imports or
    defines as a class at its top level: (module of Name, Name, attribute)."""
    tree = parsed(text)
    if tree is None:
        return ()
    module = module_name_for(relpath)
    imports = _imports_of(text, package_of(relpath))
    local_classes = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
    reads = []
    for node in _imports_and_attributes(text)[1]:
        if node.attr.startswith("_"):
            continue
        dotted = _dotted(node.value)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        if head in imports:
            qualified = imports[head] + (f".{rest}" if rest else "")
        elif not rest and head in local_classes:
            qualified = f"{module}.{head}"
        else:
            continue
        owner, _, cls = qualified.rpartition(".")
        if owner:
            reads.append((owner, cls, node.attr))
    return tuple(reads)


@lru_cache(maxsize=1024)
def _imports_of(text: str, package: str) -> dict[str, str]:
    """Local name -> qualified name, for every import of the module (callers must not mutate it)."""
    imports: dict[str, str] = {}
    for node in _imports_and_attributes(text)[0]:
        record_import(node, imports, package)
    return imports


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def class_attributes(module: str, name: str, project: Texts, depth: int = 0) -> frozenset[str] | None:
    """The attributes a project class surely has, when it is an ORM model or settings class whose
    every base is known; None when it cannot be told (or it is some other kind of class)."""
    key = (module, name)
    if key not in project.classes:
        project.classes[key] = None  # a class inheriting from itself (through imports) stays unknown
        project.classes[key] = _class_attributes(module, name, project, depth)
    return project.classes[key]


def _class_attributes(module: str, name: str, project: Texts, depth: int) -> frozenset[str] | None:
    located = project.module_text(module)
    if located is None or depth > 5:
        return None
    text = located[1]
    tree = parsed(text)
    if tree is None:
        return None
    found = _class_node(tree, name)
    if found is None:
        return _reexported(text, module, located[0], name, project, depth)
    if any(not _is_dataclass(d) for d in found.decorator_list) or any(k.arg in (None, "metaclass") for k in found.keywords):
        return None
    body = _class_body_names(text, name)
    if body is None:
        return None
    names = set(body)
    imports = _imports_of(text, package_of(located[0]))
    kind = None  # "orm" / "pydantic": at least one base must say what the class is
    for base in found.bases:
        dotted = _dotted(base)
        if dotted is None:
            return None  # Generic[T], a call: cannot tell
        inherited = _project_base(dotted, tree, module, imports, project, depth)
        if inherited is not None:
            if inherited is False:
                return None
            names |= inherited
            kind = kind or "project"
        elif (known := _known_base(dotted, imports)) == "neutral":
            continue
        elif known is not None:
            names |= _provided(known)
            kind = kind or "known"
        else:
            return None
    return frozenset(names) if kind else None


def _known_base(dotted: str, imports: dict[str, str]) -> str | None:
    """The base's last name when it is one of the known ORM/pydantic bases ("neutral" for
    `object` and mixins that add no attributes), else None."""
    head, _, rest = dotted.partition(".")
    last = dotted.rpartition(".")[2]
    qualified = imports.get(head, head) + (f".{rest}" if rest else "")
    package = qualified.partition(".")[0]
    if last in NEUTRAL_BASES and (dotted == "object" or package in KNOWN_PACKAGES):
        return "neutral"
    if last not in ORM_BASES | PYDANTIC_BASES:
        return None
    if package in KNOWN_PACKAGES:
        return last
    if rest == "Model" and imports.get(head, "").partition(".")[0] not in OTHER_ORMS:
        return last  # `db.Model` on the app's `db = SQLAlchemy(...)`
    return None


def _class_node(tree: ast.Module, name: str) -> ast.ClassDef | None:
    defs = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name]
    return defs[0] if len(defs) == 1 else None


def _reexported(text: str, module: str, relpath: str, name: str, project: Texts, depth: int) -> frozenset[str] | None:
    imports = _imports_of(text, package_of(relpath))
    target = imports.get(name)
    if target and "." in target and target != f"{module}.{name}":
        owner, _, cls = target.rpartition(".")
        return class_attributes(owner, cls, project, depth + 1)
    return None


def _is_dataclass(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return (_dotted(target) or "").rpartition(".")[2] == "dataclass"


@lru_cache(maxsize=1024)
def _class_body_names(text: str, name: str) -> frozenset[str] | None:
    node = _class_node(parsed(text), name)
    names: set[str] = set()
    for statement in node.body:
        for sub in _module_scope_nodes(statement):
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                names.update(a.asname or a.name.partition(".")[0] for a in sub.names)
    if names & {"__getattr__", "__getattribute__", "__table__"}:  # dynamic, or columns from a Table
        return None
    return frozenset(names)


def _project_base(dotted: str, tree, module: str, imports: dict[str, str], project: Texts, depth: int):
    """For a base that is the project's own: its attributes (a frozenset), False when it is the
    project's but cannot be judged, None when it is not the project's."""
    head, _, rest = dotted.partition(".")
    if head in imports:
        qualified = imports[head] + (f".{rest}" if rest else "")
    elif not rest:
        qualified = f"{module}.{head}"
    else:
        return None
    owner, _, base = qualified.rpartition(".")
    located = project.module_text(owner)
    if located is None:
        return None
    base_tree = parsed(located[1])
    if base_tree is None:
        return False
    if _declarative_base(base_tree, base):
        return ORM_PROVIDED
    if _class_node(base_tree, base) is None and base not in _imports_of(located[1], package_of(located[0])):
        return False
    inherited = class_attributes(owner, base, project, depth + 1)
    return False if inherited is None else inherited


def _declarative_base(tree: ast.Module, name: str) -> bool:
    """`Base = declarative_base()` (or `registry().generate_base()`) at the module's top level."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            value = node.value
            return isinstance(value, ast.Call) and bool(DECLARATIVE_FACTORIES.search(_dotted(value.func) or ""))
    return False


@lru_cache(maxsize=8)
def _provided(base: str) -> frozenset[str]:
    names: set[str] = set()
    if base in ORM_BASES:
        names |= ORM_PROVIDED
    if base in PYDANTIC_BASES:
        import pydantic

        names |= {n for n in dir(pydantic.BaseModel) if not n.startswith("_")} | SETTINGS_PROVIDED
    return frozenset(names)


def _backref(attribute: str, project: Texts) -> bool:
    """A relationship elsewhere may add the attribute to the class (`backref="owner"`)."""
    pattern = re.compile(r"backref\s*[=(]\s*['\"]" + re.escape(attribute) + r"['\"]")
    return any(pattern.search(project.read(relpath) or "") for relpath in set(project.modules.values()))


def attribute_reason(relpath: str, key, project: Texts) -> str:
    module, cls, attribute = key
    where = project.modules.get(module, module)
    return f"the fix would use `{cls}.{attribute}` in {relpath}, but the {cls} class ({where}) has no `{attribute}`"


# -- one unit of fixing ----------------------------------------------------------------------------


def check_unit(touched: Iterable[str], before: Texts, after: Texts) -> list[str]:
    """Plain-words reasons why the texts after a unit of fixing would break the app (empty: fine).

    `touched` are the files the unit changed; modules importing from them are checked too (a
    name the unit removed or renamed breaks its importers)."""
    touched = [r for r in touched if r.endswith(".py")]
    if not touched:
        return []
    reasons: list[str] = []
    for relpath in touched:
        old, new = before.read(relpath), after.read(relpath)
        if old == new:
            continue
        for key in name_problems(relpath, new) - name_problems(relpath, old):
            reasons.append(name_reason(relpath, key))
        for key in attribute_problems(relpath, new, after) - attribute_problems(relpath, old, before):
            reasons.append(attribute_reason(relpath, key, after))
        for key in import_problems(relpath, new, after) - import_problems(relpath, old, before):
            reasons.append(import_reason(relpath, key, after))
    # Circular imports: in the touched modules, and in the project modules they import as they load
    # (a touched module may start importing one that imports it back).
    loading = set(touched)
    for relpath in touched:
        for module, name in _top_level_imports(after.read(relpath) or "", package_of(relpath)):
            loading.update(after.modules[m] for m in (module, f"{module}.{name}") if m in after.modules)
    cycles: set[frozenset[str]] = set()
    for relpath in sorted(loading):
        old, new = before.read(relpath), after.read(relpath)
        for key in cycle_problems(relpath, new, after) - cycle_problems(relpath, old, before):
            pair = frozenset((relpath, after.modules.get(key[0], key[0])))
            if pair not in cycles:  # one reason per pair of modules
                cycles.add(pair)
                reasons.append(cycle_reason(relpath, key, after))
    # Other modules may import a name the unit removed from a touched module.
    touched_modules = {module_name_for(r) for r in touched}
    for relpath in sorted(set(after.modules.values()) - set(touched)):
        text = after.read(relpath)
        new = import_problems(relpath, text, after, only=touched_modules)
        if new:
            for key in new - import_problems(relpath, before.read(relpath), before, only=touched_modules):
                reasons.append(import_reason(relpath, key, after))
    return list(dict.fromkeys(reasons))


def describe(reasons: list[str]) -> str:
    """One sentence for the user (the first problems; a fix rarely has more than one)."""
    if len(reasons) <= 2:
        return "; ".join(reasons)
    return f"{reasons[0]}; {reasons[1]} (and {len(reasons) - 2} more)"

"""Facts extracted from one module: small picklable records the project index is built from.

They travel from the parsing workers to the main process and into the on-disk cache, so
they hold strings and numbers, never ast nodes.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field


@dataclass
class Span:
    line: int
    col: int
    end_line: int


@dataclass
class Param:
    name: str
    annotation: str | None = None  # source text, e.g. "int", "dict", "Optional[str]"
    default: str | None = None  # source text of the default
    depends_on: str | None = None  # qualified target of Depends(...)/Security(...)
    kind: str = "normal"  # normal | vararg | kwarg


@dataclass
class Function:
    name: str
    qualname: str
    span: Span
    is_async: bool
    decorators: list[str]  # qualified names of decorators (the callee for decorator calls)
    params: list[Param]
    calls: list[str]  # qualified names of everything called in the body (deduplicated)
    checks_auth: bool  # decodes a token, reads the session user, answers 401/403, ...
    checks_role: bool  # compares a role / is_admin / permission
    wraps_inner: bool = False  # a decorator factory: defines and returns an inner function
    returns: list[str] = field(default_factory=list)  # source of returned expressions (short)


@dataclass
class RouteDecl:
    """A route as written in one module; prefixes and router-level auth come from the index."""

    framework: str  # fastapi | flask
    owner: str  # the app/router/blueprint variable the decorator hangs on
    methods: list[str]
    path: str
    function: str  # qualname of the handler in this module
    span: Span
    dependencies: list[str]  # qualified names from dependencies=[Depends(...)] on the decorator


@dataclass
class RouterDecl:
    """FastAPI()/APIRouter()/Flask()/Blueprint() assigned to a name."""

    var: str
    kind: str  # fastapi-app | fastapi-router | flask-app | flask-blueprint
    prefix: str
    dependencies: list[str]
    span: Span


@dataclass
class Mount:
    """app.include_router(x, prefix=...) / app.register_blueprint(bp, url_prefix=...)."""

    parent: str  # variable of the including app/router
    child: str  # qualified name of the included router/blueprint expression
    prefix: str | None
    dependencies: list[str]
    span: Span


@dataclass
class Hook:
    """A before_request hook / app-level middleware registered on an app or blueprint."""

    owner: str
    function: str  # qualified name
    span: Span


@dataclass
class Column:
    name: str
    type: str  # source text of the type: "Integer", "String(255)", "Float", "DateTime(timezone=True)"
    span: Span
    primary_key: bool = False
    index: bool = False
    unique: bool = False
    nullable: bool | None = None  # None: not said (SQLAlchemy's default: nullable unless PK)
    foreign_key: str | None = None  # "users.id"
    default: str | None = None
    server_default: str | None = None


@dataclass
class Relationship:
    name: str
    target: str
    lazy: str | None
    span: Span


@dataclass
class Model:
    name: str
    table: str
    kind: str  # sqlalchemy | sqlmodel | flask-sqlalchemy
    span: Span
    columns: list[Column]
    relationships: list[Relationship]
    indexed: list[list[str]]  # column lists from Index(...) in __table_args__ or module level
    unique_sets: list[list[str]]  # column lists from UniqueConstraint(...)
    abstract: bool = False  # a mixin, `__abstract__` or inheriting class: no table of its own


@dataclass
class IndexDecl:
    """An index declared outside a model: `Index("ix", Model.col)` or `op.create_index(...)` in a migration."""

    table: str  # model class name or table name
    columns: list[str]
    unique: bool
    span: Span


@dataclass
class CallSite:
    """A call worth knowing about: engine/connection creation, env reads, logging setup."""

    func: str  # qualified callee
    span: Span
    function: str | None  # qualname of the enclosing function, None at module level
    args: list[str]  # source of positional args (truncated)
    kwargs: dict[str, str]  # keyword -> source (truncated)


@dataclass
class EnvRead:
    name: str | None  # the variable name when it is a literal
    default: str | None  # source of the fallback, None when there is none
    span: Span
    function: str | None
    form: str  # getenv | environ.get | environ[]
    converted: str | None = None  # int/float/bool wrapped around it


class FunctionTable(MutableMapping):
    """qualname -> Function, pickled as one opaque blob and unpickled only when first read.

    Functions are most of a module's facts, and most modules' functions are never looked at
    (only route handlers, dependencies and the like are): the cache and the worker processes
    hand them over without paying to rebuild tens of thousands of objects.
    """

    __slots__ = ("_data", "_blob")

    def __init__(self, data: dict[str, Function] | None = None) -> None:
        self._data: dict[str, Function] | None = {} if data is None else data
        self._blob: bytes | None = None

    def _items(self) -> dict[str, Function]:
        if self._data is None:
            self._data = pickle.loads(self._blob)
            self._blob = None
        return self._data

    def __getitem__(self, key: str) -> Function:
        return self._items()[key]

    def __setitem__(self, key: str, value: Function) -> None:
        self._items()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __contains__(self, key: object) -> bool:
        return key in self._items()

    def get(self, key: str, default: Function | None = None) -> Function | None:
        return self._items().get(key, default)

    def __getstate__(self) -> bytes:
        return self._blob if self._data is None else pickle.dumps(self._data, protocol=pickle.HIGHEST_PROTOCOL)

    def __setstate__(self, blob: bytes) -> None:
        self._data = None
        self._blob = blob

    def __repr__(self) -> str:
        return f"FunctionTable({len(self)} functions)"


@dataclass
class ModuleFacts:
    relpath: str
    module: str
    imports: dict[str, str]
    functions: FunctionTable  # qualname -> Function, unpickled lazily
    classes: dict[str, list[str]]  # class name -> qualified bases
    routers: list[RouterDecl]
    routes: list[RouteDecl]
    mounts: list[Mount]
    hooks: list[Hook]
    models: list[Model]
    connections: list[CallSite]  # create_engine, *.connect, MongoClient, pools
    env_reads: list[EnvRead]
    logging_setup: list[CallSite]
    middleware: list[CallSite]  # app.add_middleware / app.middleware("http") / wsgi wrappers
    exception_handlers: list[CallSite]
    has_main_guard: bool
    top_imports: set[str]  # top-level package names imported anywhere in the module
    sql_strings: list[tuple[int, str]] = field(default_factory=list)  # (line, text) of literal DDL in code
    indexes: list[IndexDecl] = field(default_factory=list)
    schema_setup: list[CallSite] = field(default_factory=list)  # metadata.create_all(), executescript(...)
    # Module-level `CurrentUser = Annotated[User, Depends(get_current_user)]`: alias -> dependency
    dependency_aliases: dict[str, str] = field(default_factory=dict)
    url_literals: list[tuple[int, str]] = field(default_factory=list)  # (line, text) of database URLs written in code
    code_roles: object = None  # auditor.index.roles.RoleFacts: full imports, CLI commands, main guard, dev-only blocks

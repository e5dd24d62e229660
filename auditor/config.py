"""`[tool.prodready]` in the scanned project's pyproject.toml (or a prodready.toml), validated.

Found like Ruff finds its settings: the nearest pyproject.toml that has a `[tool.prodready]`
table, or a `prodready.toml`, in the scanned folder or above it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from auditor.models import Severity


def _parse_toml(text: str) -> dict[str, Any]:
    """Read-only parse (imported on first use). The stdlib parser (3.11+) starts faster; tomlkit,
    which keeps formatting, is for writing."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomlkit

        return tomlkit.parse(text).unwrap()
    return tomllib.loads(text)


class ConfigError(Exception):
    """A bad configuration: the message names the file and the key."""


# A plain dataclass, validated by pydantic only when there is something to validate: building a
# pydantic model class costs more at start-up than a warm rescan of a large tree.
@dataclass(frozen=True)
class Config:
    """The settings; in TOML each name is spelled with dashes (`per-file-ignores`)."""

    select: list[str] = field(default_factory=list)  # rule codes or prefixes to run (all when empty)
    ignore: list[str] = field(default_factory=list)  # rule codes or prefixes to skip
    exclude: list[str] = field(default_factory=list)  # gitignore-style patterns of paths not to scan
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)  # glob -> codes ignored there
    public_routes: list[str] = field(default_factory=list)  # route globs public by design ('/public/*')
    fail_on: Severity = Severity.LOW  # lowest severity that makes the exit code 1
    max_file_size: int = 2_000_000  # files larger than this many bytes are skipped
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-rule option tables
    rehearse: dict[str, Any] = field(default_factory=dict)  # [tool.prodready.rehearse]: users = "module:function"

    @classmethod
    def from_toml(cls, raw: dict[str, Any]) -> Config:
        """Validate a `[tool.prodready]` table (dashed or underscored keys); ConfigError names the key."""
        if not raw:
            return cls()
        from pydantic import TypeAdapter, ValidationError

        data = {key.replace("-", "_"): value for key, value in raw.items()}
        known = [f.name for f in fields(cls)]
        problems = [(key, f"unknown setting{_did_you_mean(key, known)}") for key in data if key not in known]
        config = None
        try:
            config = TypeAdapter(cls).validate_python({k: v for k, v in data.items() if k in known})
        except ValidationError as exc:
            problems += [(str(err["loc"][0]), f"{_where(err['loc'][1:])}{err['msg']}") for err in exc.errors()]
        if config is not None:
            problems += _value_problems(config)
        if problems or config is None:
            order = list(data)  # report in the file's order, each key as the TOML spells it
            problems.sort(key=lambda problem: order.index(problem[0]) if problem[0] in order else len(order))
            raise ConfigError("; ".join(f"{key.replace('_', '-')}: {message}" for key, message in problems))
        return replace(config, select=[c.upper() for c in config.select], ignore=[c.upper() for c in config.ignore])

    def as_toml(self) -> dict[str, Any]:
        """The settings as a `[tool.prodready]` table would spell them."""
        return {key.replace("_", "-"): _plain(value) for key, value in asdict(self).items()}

    def rule_enabled(self, code: str) -> bool:
        if self.select and not any(code.startswith(prefix) for prefix in self.select):
            return False
        return not any(code.startswith(prefix) for prefix in self.ignore)

    def ignored_in_file(self, code: str, relpath: str) -> bool:
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(relpath, pattern) and any(code.startswith(c.upper()) for c in codes):
                return True
        return False

    def is_public_route(self, path: str, methods: list[str] | None = None) -> bool:
        return public_route_matches(self.public_routes, path, methods)

    def fingerprint(self) -> str:
        """Changes whenever anything that affects per-file results changes (for the cache)."""
        return hashlib.sha1(json.dumps(self.as_toml(), sort_keys=True).encode()).hexdigest()[:16]


def public_route_matches(patterns: list[str], path: str, methods: list[str] | None = None) -> bool:
    """Whether `public-routes` declares a route public: an entry is a path glob ('/public/*', every
    method, the older form) or a method and a glob ('GET /tasks/{id}'); a route answering several
    methods is public only when each of them is."""
    wanted = [m.upper() for m in methods or []] or ["*"]
    for method in wanted:
        for pattern in patterns:
            verb, _, glob = pattern.strip().partition(" ")
            if not glob:  # no method: the path alone
                verb, glob = "*", verb
            if (verb == "*" or verb.upper() == method) and fnmatch.fnmatch(path, glob.strip()):
                break
        else:
            return False
    return True


def _value_problems(config: Config) -> list[tuple[str, str]]:
    """What the types allow but the settings do not: (setting, problem)."""
    problems = [
        (key, f"{code!r} is not a rule code (codes look like PR301 or a prefix like PR3)")
        for key in ("select", "ignore")
        for code in getattr(config, key)
        if not code.upper().startswith("PR")
    ]
    if config.max_file_size <= 0:
        problems.append(("max_file_size", "should be a number of bytes greater than 0"))
    return problems


def _did_you_mean(key: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean {close[0].replace('_', '-')}?)" if close else f" (known: {', '.join(k.replace('_', '-') for k in known)})"


def _where(inner: tuple) -> str:
    """Where inside a setting pydantic found the problem: ('a_b.py', 0) -> "in a_b.py.0: "."""
    return f"in {'.'.join(map(str, inner))}: " if inner else ""


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Severity) else value


CONFIG_FILE_NAMES = ("prodready.toml", "pyproject.toml")


def find_config_file(start: Path) -> Path | None:
    """The nearest prodready.toml, or pyproject.toml with [tool.prodready], at or above `start`."""
    folder = start if start.is_dir() else start.parent
    for candidate in [folder, *folder.parents]:
        own = candidate / "prodready.toml"
        if own.is_file():
            return own
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = _parse_toml(pyproject.read_text(encoding="utf-8"))
            except Exception:
                continue  # reported when it is the project's own file; an unrelated parent is skipped
            if "prodready" in data.get("tool", {}):
                return pyproject
    return None


def load_config(start: Path, overrides: dict[str, Any] | None = None, use_cache: bool = False) -> tuple[Config, Path | None]:
    """Read and validate the config that applies to `start`; `overrides` come from CLI flags.

    With `use_cache`, a table validated before is read back from the cache folder instead of
    loading pydantic again (keyed by the table's content and the settings' own fields)."""
    path = find_config_file(start)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            document = _parse_toml(path.read_text(encoding="utf-8"))
        except Exception as exc:  # tomllib.TOMLDecodeError, tomlkit's ParseError subclasses, decoding
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        raw = dict(document if path.name == "prodready.toml" else document.get("tool", {}).get("prodready", {}))
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        if raw and use_cache:
            from auditor.cache import remembered

            key = json.dumps(raw, sort_keys=True, default=str) + repr([(f.name, f.type) for f in fields(Config)])
            return remembered("config", key, lambda: Config.from_toml(raw)), path
        return Config.from_toml(raw), path
    except ConfigError as exc:
        where = f"{path} [tool.prodready]" if path and path.name == "pyproject.toml" else str(path or "options")
        raise ConfigError(f"invalid configuration in {where}: {exc}") from None

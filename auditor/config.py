"""`[tool.prodready]` in the scanned project's pyproject.toml (or a prodready.toml), validated.

Found like Ruff finds its settings: the nearest pyproject.toml that has a `[tool.prodready]`
table, or a `prodready.toml`, in the scanned folder or above it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from pathlib import Path
from typing import Any

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from auditor.models import Severity


class ConfigError(Exception):
    """A bad configuration: the message names the file and the key."""


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    select: list[str] = Field(default_factory=list, description="Rule codes or prefixes to run (all when empty).")
    ignore: list[str] = Field(default_factory=list, description="Rule codes or prefixes to skip.")
    exclude: list[str] = Field(default_factory=list, description="Gitignore-style patterns of paths not to scan.")
    per_file_ignores: dict[str, list[str]] = Field(
        default_factory=dict, alias="per-file-ignores", description="Glob -> rule codes ignored in matching files."
    )
    public_routes: list[str] = Field(
        default_factory=list,
        alias="public-routes",
        description="Route paths (globs, e.g. '/public/*') that are public by design.",
    )
    fail_on: Severity = Field(Severity.LOW, alias="fail-on", description="Lowest severity that makes the exit code 1.")
    max_file_size: int = Field(
        2_000_000, alias="max-file-size", gt=0, description="Files larger than this many bytes are skipped."
    )
    rules: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Per-rule option tables.")

    @field_validator("select", "ignore")
    @classmethod
    def _codes_look_like_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not code.upper().startswith("PR"):
                raise ValueError(f"{code!r} is not a rule code (codes look like PR301 or a prefix like PR3)")
        return [code.upper() for code in codes]

    def rule_enabled(self, code: str) -> bool:
        if self.select and not any(code.startswith(prefix) for prefix in self.select):
            return False
        return not any(code.startswith(prefix) for prefix in self.ignore)

    def ignored_in_file(self, code: str, relpath: str) -> bool:
        for pattern, codes in self.per_file_ignores.items():
            if fnmatch.fnmatch(relpath, pattern) and any(code.startswith(c.upper()) for c in codes):
                return True
        return False

    def is_public_route(self, path: str) -> bool:
        return any(fnmatch.fnmatch(path, pattern) for pattern in self.public_routes)

    def fingerprint(self) -> str:
        """Changes whenever anything that affects per-file results changes (for the cache)."""
        return hashlib.sha1(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()[:16]


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
                data = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
            except Exception:
                continue  # reported when it is the project's own file; an unrelated parent is skipped
            if "prodready" in data.get("tool", {}):
                return pyproject
    return None


def load_config(start: Path, overrides: dict[str, Any] | None = None) -> tuple[Config, Path | None]:
    """Read and validate the config that applies to `start`; `overrides` come from CLI flags."""
    path = find_config_file(start)
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            document = tomlkit.parse(path.read_text(encoding="utf-8"))
        except Exception as exc:  # tomlkit raises its own ParseError subclasses
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        table = document if path.name == "prodready.toml" else document.get("tool", {}).get("prodready", {})
        raw = table.unwrap() if hasattr(table, "unwrap") else dict(table)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Config.model_validate(raw), path
    except ValidationError as exc:
        where = f"{path} [tool.prodready]" if path and path.name == "pyproject.toml" else str(path or "options")
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration in {where}: {problems}") from None

"""The app's environment for a rehearsal: its own example settings, fresh secrets, and a database
that is thrown away afterwards (never the one its settings point at)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ENV_FILES = (".env.example", ".env.sample", ".env.template", ".env.staging")  # later ones win
LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
COMMENTED = re.compile(r"^\s*#\s*([A-Z_][A-Z0-9_]*)\s*=")
DATABASE = re.compile(r"(^|_)(DATABASE_URL|DATABASE_URI|DB_URL|DB_URI|SQLALCHEMY_DATABASE_URI)$")
SECRET = re.compile(r"SECRET|(^|_)KEY$|TOKEN$|PASSWORD$|PASSWD$|SALT$")
ALWAYS = ("SECRET_KEY", "JWT_SECRET", "JWT_SECRET_KEY")


@dataclass
class Environment:
    values: dict[str, str]
    database_url: str
    secrets: list[str] = field(default_factory=list)  # the values generated (to recognise the signing key)
    sources: list[str] = field(default_factory=list)  # the files read
    database_vars: list[str] = field(default_factory=list)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value.split(" #", 1)[0].strip()


def _scheme(values: dict[str, str], database_vars: list[str]) -> str:
    """The driver the app's example settings name for PostgreSQL (postgresql+psycopg, ...)."""
    for name in database_vars:
        scheme = values.get(name, "").partition("://")[0]
        if scheme.startswith("postgres"):
            return scheme.replace("postgres+", "postgresql+") if scheme != "postgres" else "postgresql"
    return "postgresql"


def build_environment(root: Path, database_file: Path, env_names: set[str] = frozenset(), database_url=None) -> Environment:
    """Settings from the project's example/staging files, every secret generated afresh, and
    every database URL pointed at a SQLite file in the rehearsal's temporary folder."""
    values: dict[str, str] = {}
    names: set[str] = set(env_names)
    sources = []
    for name in ENV_FILES:
        path = root / name
        if not path.is_file():
            continue
        sources.append(name)
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = LINE.match(line)
            if match and not line.lstrip().startswith("#"):
                values[match.group(1)] = _unquote(match.group(2))
                names.add(match.group(1))
            elif (commented := COMMENTED.match(line)) is not None:
                names.add(commented.group(1))
    database_vars = sorted({n for n in names if DATABASE.search(n)} | {"DATABASE_URL"})
    # database_url(scheme the app's settings use) -> the URL of the rehearsal's own server database
    url = database_url(_scheme(values, database_vars)) if database_url else f"sqlite:///{database_file}"
    for name in database_vars:
        values[name] = url
    generated = []
    for name in sorted(names | set(ALWAYS)):
        if name in database_vars or name.endswith("_URL") or not SECRET.search(name):
            continue
        values[name] = secrets.token_hex(32)
        generated.append(values[name])
    return Environment(values, url, generated, sources, database_vars)

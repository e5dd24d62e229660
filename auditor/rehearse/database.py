"""Which throwaway database a rehearsal uses: the kind the app itself runs on.

An app whose database URL is PostgreSQL (in its example settings, a settings default, or the
engine's literal URL) is rehearsed against a private PostgreSQL cluster, so that connection
and pool behaviour are the real ones; otherwise, or when PostgreSQL cannot be used here, a
SQLite file, with the reason said in one line. `--database-url` takes a database the user
provides: only a local one (127.0.0.1, localhost, ::1, a Unix socket) unless remote ones are
allowed explicitly, since the rehearsal creates tables and writes hundreds of rows into it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from auditor.index.project import is_script_path, is_test_path
from auditor.rehearse.environment import DATABASE, ENV_FILES, LINE, _unquote
from auditor.rehearse.postgres import binaries

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}
URL_LITERAL = re.compile(r"""["'](postgres(?:ql)?(?:\+\w+)?)://""")
# The module a SQLAlchemy URL scheme loads (postgresql:// means psycopg2).
DRIVERS = {"": "psycopg2", "psycopg2": "psycopg2", "psycopg": "psycopg", "pg8000": "pg8000", "asyncpg": "asyncpg", "psycopg2cffi": "psycopg2cffi"}


class DatabaseRefused(Exception):
    """A --database-url the rehearsal will not write into."""


@dataclass
class Choice:
    kind: str  # "sqlite" | "postgres" | "url"
    reason: str  # one line: why this database
    url: str | None = None  # the user's own, for kind "url"


def remote_hosts(url: str) -> list[str]:
    """The hosts of a database URL that are not this machine (empty: it is local).

    A host in the query (`?host=/run/postgresql`, libpq's form) counts like one after the `@`;
    a path there, or no host at all, is a Unix socket."""
    parts = urlsplit(url)
    if parts.scheme.startswith("sqlite"):
        return []
    hosts = []
    netloc_hosts = parts.netloc.rpartition("@")[2]
    for item in netloc_hosts.split(","):  # libpq takes host1:5432,host2:5432
        host = item.strip()
        if host.startswith("["):  # [::1]:5432
            host = host[1:].partition("]")[0]
        elif host.count(":") == 1:
            host = host.partition(":")[0]
        hosts.append(host.lower())
    for value in parse_qs(parts.query).get("host", []):
        hosts.extend(h.strip().lower() for h in value.split(","))
    return [h for h in hosts if h not in LOCAL_HOSTS and not h.startswith("/") and not h.startswith("%2f")]


def check_url(url: str, allow_remote: bool) -> None:
    if "://" not in url:
        raise DatabaseRefused(f"--database-url {url!r} is not a database URL (scheme://user@host/name)")
    remote = remote_hosts(url)
    if remote and not allow_remote:
        raise DatabaseRefused(
            f"--database-url points at {', '.join(remote)}, which is not this machine: the rehearsal creates tables "
            "and writes hundreds of rows there. Use a local database (127.0.0.1, localhost, ::1 or a Unix socket), "
            "or add --allow-remote-database if that database is a throwaway one"
        )


def app_scheme(result, root: Path) -> tuple[str | None, str]:
    """The PostgreSQL scheme the app's database URL uses (postgresql, postgresql+psycopg...) and
    where it was seen, or (None, "") when the app's URL is not PostgreSQL."""
    for name in reversed(ENV_FILES):  # .env.staging first: it wins in the environment too
        path = Path(root) / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = LINE.match(line)
            if match and not line.lstrip().startswith("#") and DATABASE.search(match.group(1)):
                scheme = _unquote(match.group(2)).partition("://")[0]
                if scheme:
                    return (scheme if scheme.startswith("postgres") else None), name
    index = result.index
    for relpath in sorted(index.modules):
        if is_test_path(relpath) or is_script_path(relpath):
            continue
        try:
            found = URL_LITERAL.search(index.source(relpath))
        except (OSError, KeyError):
            continue
        if found:
            return found.group(1), relpath
    if "postgresql" in index.databases:
        return "postgresql", "the code's database calls"
    return None, ""


def driver_of(scheme: str) -> str:
    return DRIVERS.get(scheme.partition("+")[2], scheme.partition("+")[2])


def choose(result, sandbox, requested: str | None = None, url: str | None = None, allow_remote: bool = False) -> Choice:
    """The database for this rehearsal. requested: "sqlite" or "postgres" to force one, None to
    follow the app. Raises DatabaseRefused for a remote --database-url."""
    if url:
        check_url(url, allow_remote)
        return Choice("url", "the database given with --database-url", url)
    if requested == "sqlite":
        return Choice("sqlite", "SQLite chosen with --database sqlite")
    if requested == "postgres":
        return Choice("postgres", "PostgreSQL chosen with --database postgres")
    scheme, where = app_scheme(result, sandbox.root)
    if scheme is None:
        return Choice("sqlite", "the app's database URL is not PostgreSQL")
    if binaries() is None:
        return Choice(
            "sqlite",
            f"the app uses PostgreSQL ({where}) but PostgreSQL's initdb and pg_ctl are not installed here: "
            "a throwaway SQLite file instead (connection counts are not measured)",
        )
    driver = driver_of(scheme.replace("postgres+", "postgresql+"))
    check = sandbox.run(["{python}", "-c", f"import {driver}"], cwd=sandbox.tmp, timeout=60)
    if not check.ok:
        return Choice(
            "sqlite",
            f"the app uses PostgreSQL ({where}) through {driver}, which is not installed in {sandbox.python.describe()}: "
            "a throwaway SQLite file instead",
        )
    return Choice("postgres", f"the app uses PostgreSQL ({where})")

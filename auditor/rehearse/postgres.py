"""A private PostgreSQL cluster for one rehearsal: the system's `initdb` and `pg_ctl` (on PATH or
under /usr/lib/postgresql/*/bin), a temporary data folder, a Unix socket only (no TCP port), no
password (trust, for the socket's owner only), stopped and removed at the end.

`initdb` refuses to run as root, so as root the cluster runs as the unprivileged `nobody`."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "rehearsal"  # the database role the app connects as


class PostgresError(Exception):
    """No cluster could be started: the message says why."""


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: PATH first, then the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    for folder in reversed(versions):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    return None


@dataclass
class Cluster:
    base: Path
    bin: Path
    socket_dir: Path
    database: str = "postgres"

    def url(self, scheme: str = "postgresql") -> str:
        """A URL for the app's own driver (the scheme its settings use): pg8000 takes the socket
        file, psycopg and asyncpg the socket's folder."""
        if scheme.endswith("+pg8000"):
            return f"{scheme}://{USER}@/{self.database}?unix_sock={self.socket_dir}/.s.PGSQL.5432"
        return f"{scheme}://{USER}@/{self.database}?host={self.socket_dir}"

    def psql(self) -> list[str]:
        psql = self.bin / "psql" if (self.bin / "psql").is_file() else shutil.which("psql")
        return [str(psql), "-h", str(self.socket_dir), "-U", USER, "-d", self.database, "-Atqc"]

    def stop(self) -> None:
        if (self.base / "data" / "postmaster.pid").exists():
            _as_owner([str(self.bin / "pg_ctl"), "-D", str(self.base / "data"), "-m", "immediate", "-w", "stop"], timeout=30)
        shutil.rmtree(self.base, ignore_errors=True)


def _owner() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _as_owner(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    owner = _owner()

    def drop() -> None:  # runs in the child before exec
        if owner is not None:
            os.setgid(owner[1])
            os.setgroups([])
            os.setuid(owner[0])

    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, preexec_fn=drop, env=env, cwd="/")


def _parent_for(owner: tuple[int, int] | None) -> str | None:
    """The temporary folder, unless the unprivileged owner cannot reach into it (a private
    TMPDIR under root's home): then /tmp, which everyone can."""
    if owner is None:
        return None
    folder = Path(tempfile.gettempdir()).resolve()
    if all(os.stat(p).st_mode & 0o001 for p in (folder, *folder.parents)):
        return str(folder)
    return "/tmp"


def start_cluster(timeout: float = 60.0) -> Cluster:
    folder = binaries()
    if folder is None:
        raise PostgresError("PostgreSQL's initdb and pg_ctl were not found (on PATH or under /usr/lib/postgresql/*/bin)")
    owner = _owner()
    base = Path(tempfile.mkdtemp(prefix="prodready-pg-", dir=_parent_for(owner)))
    if owner is not None:
        os.chown(base, *owner)
    cluster = Cluster(base, folder, base)
    try:
        init = _as_owner([str(folder / "initdb"), "-D", str(base / "data"), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"], timeout)
        if init.returncode != 0:
            raise PostgresError(f"initdb failed: {(init.stderr or init.stdout).strip()[-400:]}")
        options = f"-k {base} -c listen_addresses='' -c fsync=off -c max_connections=200"
        start = _as_owner(
            [str(folder / "pg_ctl"), "-D", str(base / "data"), "-o", options, "-l", str(base / "server.log"), "-w", "-t", str(int(timeout)), "start"],
            timeout + 5,
        )
        if start.returncode != 0:
            log = (base / "server.log").read_text(errors="replace")[-600:] if (base / "server.log").is_file() else ""
            raise PostgresError(f"pg_ctl start failed: {(start.stderr or start.stdout).strip()[-300:]} {log}")
    except BaseException:
        cluster.stop()
        raise
    return cluster

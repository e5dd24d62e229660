"""Running the user's own code (their tests, their server) without risk to their tree or network.

Only `fix --verify` and `rehearse` come here; `scan` never runs the project. Every run:
- works in a temporary copy of the project (never the user's files; the copy is removed after);
- uses the project's Python (`.venv/` or `venv/` in the project), else the one prodready runs in;
- runs in a process group of its own, killed as a whole on timeout or stop;
- sees no network but 127.0.0.1: a fresh network namespace with only `lo` up (Linux `unshare`),
  else outbound HTTP is pointed at a closed local proxy, and the report says isolation was weaker;
- gets a small environment (no tokens or keys from the caller's shell), a private HOME and TMPDIR.

`Sandbox` holds one temporary folder for a whole verification or rehearsal: copies of the project,
runs (`run`, waits) and long-running processes (`start` / `Process.stop`, for a server). A run
`beside` a started process shares its network namespace: a client that reaches the server on
127.0.0.1 and nothing else.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

DEFAULT_TIMEOUT = 300.0  # seconds for one test-suite run
OUTPUT_LIMIT = 20_000  # characters of output kept (the head and, mostly, the tail)

# Never copied: version control, environments, caches, prodready's own backups.
SKIPPED_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", "node_modules", ".prodready", "__pycache__",
     ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox"}
)  # fmt: skip

# The caller's environment variables a run keeps; everything else (tokens, cloud keys) stays out.
KEPT_ENV = ("PATH", "LANG", "LANGUAGE", "TERM", "TZ", "USER", "LOGNAME", "SHELL", "SYSTEMROOT", "LD_LIBRARY_PATH")

# Brings `lo` up inside the new network namespace (no dependency on `ip`), then becomes the command.
_LOOPBACK_UP = """\
import fcntl, os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
request = struct.pack("16sH14x", b"lo", 0)
flags = struct.unpack("16sH14x", fcntl.ioctl(s, 0x8913, request))[1]  # SIOCGIFFLAGS
fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", flags | 1))  # SIOCSIFFLAGS: IFF_UP
s.close()
os.execvp(sys.argv[1], sys.argv[1:])
"""

# Run after _LOOPBACK_UP when probing: loopback must work inside the namespace.
_LOOPBACK_CHECK = """\
import socket
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
client = socket.create_connection(server.getsockname(), timeout=2)
print("loopback-ok")
"""


# -- which Python ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectPython:
    executable: Path
    source: str  # in plain words: whose interpreter this is

    @property
    def venv(self) -> Path | None:
        parent = self.executable.parent.parent
        return parent if (parent / "pyvenv.cfg").is_file() else None

    def describe(self) -> str:
        return f"{self.executable} ({self.source})"


def project_python(root: Path) -> ProjectPython:
    """The project's virtual environment (`.venv/`, then `venv/`), else prodready's interpreter."""
    for folder in (".venv", "venv"):
        for candidate in (Path(root) / folder / "bin" / "python", Path(root) / folder / "Scripts" / "python.exe"):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return ProjectPython(candidate, f"the project's {folder}/")
    return ProjectPython(Path(sys.executable), "the Python prodready runs in: the project has no .venv/ or venv/")


# -- network isolation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Isolation:
    prefix: tuple[str, ...]  # put before the command
    isolated: bool
    description: str

    def beside(self, pid: int) -> tuple[str, ...]:
        """The prefix that runs a command in the network namespace of process `pid` (a server
        started with this isolation), so it can reach that process's 127.0.0.1."""
        if not self.isolated:
            return ()
        user = ("-U", "--preserve-credentials") if "-rn" in self.prefix else ()
        return ("nsenter", "-t", str(pid), *user, "-n", "--")


@cache
def network_isolation() -> Isolation:
    """A fresh network namespace with only loopback, when this system allows one (probed once)."""
    reasons = []
    if not sys.platform.startswith("linux"):
        reasons.append(f"no network namespaces on {sys.platform}")
    elif shutil.which("unshare") is None:
        reasons.append("`unshare` (util-linux) is not installed")
    else:
        # As root a plain network namespace; otherwise one inside a user namespace (-r).
        for flags in (("-n",), ("-rn",)) if os.geteuid() == 0 else (("-rn",), ("-n",)):
            prefix = ("unshare", *flags, "--", sys.executable, "-I", "-c", _LOOPBACK_UP)
            try:
                probe = subprocess.run(
                    [*prefix, sys.executable, "-I", "-c", _LOOPBACK_CHECK], capture_output=True, text=True, timeout=10
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                reasons.append(f"unshare {' '.join(flags)}: {exc}")
                continue
            if probe.returncode == 0 and "loopback-ok" in probe.stdout:
                return Isolation(prefix, True, "no network but 127.0.0.1 (a network namespace of its own)")
            last = (probe.stderr.strip().splitlines() or ["it failed"])[-1]
            reasons.append(f"unshare {' '.join(flags)}: {last}")
    return Isolation(
        (),
        False,
        "network isolation was not available here (" + "; ".join(reasons) + "): outbound HTTP is "
        "pointed at a closed local proxy instead, but other connections are not blocked",
    )


def _proxy_env() -> dict[str, str]:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there
    env = {}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = env[name.lower()] = closed
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,::1"
    return env


# -- the copy of the project -----------------------------------------------------------------------


def copy_project(root: Path, dest: Path) -> list[str]:
    """Copy the project into dest (created), leaving out SKIPPED_DIRS and any other virtualenv.

    Symlinks that stay inside the project are kept as links into the copy; a link to a file
    outside is copied as a file; a link to a folder outside, or anything else odd, is left out
    (a test writing through it would reach the user's files). Returns what was left out."""
    root = Path(root).resolve()
    dest.mkdir(parents=True, exist_ok=False)
    left_out: list[str] = []
    for folder, dirnames, filenames in os.walk(root):
        here = Path(folder)
        target_dir = dest / here.relative_to(root)
        kept = []
        for name in sorted(dirnames):
            path = here / name
            if name in SKIPPED_DIRS or (path / "pyvenv.cfg").is_file():
                continue
            if path.is_symlink():
                _copy_link(root, dest, path, left_out)
            else:
                (target_dir / name).mkdir()
                kept.append(name)
        dirnames[:] = kept
        for name in filenames:
            path = here / name
            if path.is_symlink():
                _copy_link(root, dest, path, left_out)
            elif path.is_file():
                shutil.copy2(path, target_dir / name)
            else:  # sockets, fifos
                left_out.append(path.relative_to(root).as_posix())
    return left_out


def _copy_link(root: Path, dest: Path, link: Path, left_out: list[str]) -> None:
    relative = link.relative_to(root)
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # dangling or a loop
        left_out.append(relative.as_posix())
        return
    copy = dest / relative
    if target == root or root in target.parents:
        os.symlink(os.path.relpath(dest / target.relative_to(root), copy.parent), copy)
    elif target.is_file():
        shutil.copy2(target, copy)
    else:
        left_out.append(relative.as_posix())


def write_files(copy: Path, files: Mapping[str, bytes]) -> None:
    """Write files (relative paths) into a copy; never outside it."""
    base = copy.resolve()
    for relpath, data in files.items():
        path = (base / relpath).resolve()
        if base not in path.parents:
            raise ValueError(f"{relpath} is outside the copy")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


# -- runs ------------------------------------------------------------------------------------------


@dataclass
class RunResult:
    command: list[str]
    returncode: int | None  # None: killed on timeout
    output: str  # stdout and stderr interleaved, cut to OUTPUT_LIMIT characters
    duration: float
    timed_out: bool
    timeout: float
    isolation: Isolation

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        if self.timed_out:
            return f"timed out after {self.timeout:g} s"
        return f"exit code {self.returncode} after {self.duration:.1f} s"


def cut(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """The first lines and, mostly, the last ones: where tracebacks and summaries are."""
    if len(text) <= limit:
        return text
    head = limit // 10
    tail = limit - head
    return f"{text[:head]}\n… ({len(text) - limit} characters left out) …\n{text[-tail:]}"


@contextmanager
def held_interrupt() -> Iterator[list[int]]:
    """Ctrl-C held back while a child is being started: an interrupt in the middle of Popen
    leaves a child running that nobody knows the pid of. Yields the list the held signal goes
    to; the caller raises KeyboardInterrupt once the child is known (and stopped). Outside the
    main thread (where no interrupt arrives) it holds nothing."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = signal.signal(signal.SIGINT, lambda number, frame: held.append(number))
    try:
        yield held
    finally:
        signal.signal(signal.SIGINT, previous)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Process:
    """A long-running process of the project (a server) in its own process group."""

    popen: subprocess.Popen
    log: Path  # its stdout and stderr
    command: list[str]
    isolation: Isolation
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        try:
            return cut(self.log.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            return ""

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM to the whole group, SIGKILL after `grace` seconds; returns the exit code."""
        if self.popen.poll() is None:
            kill_group(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self.pid, signal.SIGKILL)  # whatever the leader left behind in its group
        try:
            return self.popen.wait(grace)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL does not fail
            return None


class Sandbox:
    """One temporary folder for copies, logs and runs; removed (processes stopped) on close."""

    def __init__(self, root: Path, python: ProjectPython | None = None, isolate: bool = True):
        self.root = Path(root).resolve()
        self.python = python or project_python(self.root)
        self.isolation = network_isolation() if isolate else Isolation((), False, "network isolation turned off")
        self.dir = Path(tempfile.mkdtemp(prefix="prodready-run-"))
        self.home = self.dir / "home"
        self.tmp = self.dir / "tmp"
        self.home.mkdir()
        self.tmp.mkdir()
        self.processes: list[Process] = []
        self.left_out: list[str] = []
        self._runs = 0

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for process in self.processes:
            process.stop(grace=2.0)
        self.processes.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    def copy(self, name: str, files: Mapping[str, bytes] | None = None) -> Path:
        """A fresh copy of the project, with `files` (relative path -> bytes) written over it."""
        dest = self.dir / name
        self.left_out = copy_project(self.root, dest)
        if files:
            write_files(dest, files)
        return dest

    def env(self, cwd: Path, extra: Mapping[str, str] | None = None, path: Sequence[Path] = ()) -> dict[str, str]:
        env = {k: os.environ[k] for k in KEPT_ENV if k in os.environ}
        env.update({k: v for k, v in os.environ.items() if k.startswith("LC_")})
        env.update(
            HOME=str(self.home),
            TMPDIR=str(self.tmp),
            # pip install --user packages stay importable with the private HOME
            PYTHONUSERBASE=os.environ.get("PYTHONUSERBASE", os.path.expanduser("~/.local")),
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONHASHSEED="0",
            PYTHONUNBUFFERED="1",
            # the copy's code first, even where the project is pip-installed (editable) into its venv
            PYTHONPATH=os.pathsep.join(str(p) for p in (cwd / "src", cwd, *path) if p.is_dir()),
        )
        venv = self.python.venv
        if venv is not None:
            env["VIRTUAL_ENV"] = str(venv)
            env["PATH"] = os.pathsep.join([str(self.python.executable.parent), env.get("PATH", os.defpath)])
        if not self.isolation.isolated:
            env.update(_proxy_env())
        if extra:
            env.update(extra)
        return env

    def command(self, args: Sequence[str], beside: Process | None = None) -> list[str]:
        """args with "{python}" standing for the project's interpreter, behind the isolation prefix
        (a new namespace, or with `beside` the namespace of that running process)."""
        prefix = self.isolation.prefix if beside is None else self.isolation.beside(beside.pid)
        return [*prefix, *(str(self.python.executable) if a == "{python}" else a for a in args)]

    def run(
        self,
        args: Sequence[str],
        cwd: Path,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
        path: Sequence[Path] = (),
        beside: Process | None = None,
    ) -> RunResult:
        """Run to the end (or the timeout, then kill the whole group); output from a file, so a
        grandchild that keeps the output open cannot hang the wait. `path`: folders added to
        PYTHONPATH after the copy (a plugin of prodready's own, kept outside the copy). `beside`:
        run in the network namespace of that started process (a client of a server)."""
        command = self.command(args, beside)
        self._runs += 1
        log = self.dir / f"run-{self._runs}.log"
        started = time.monotonic()
        with open(log, "wb") as out:
            with held_interrupt() as interrupted:
                popen = subprocess.Popen(
                    command, cwd=cwd, env=self.env(cwd, env, path), stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            timed_out = False
            try:
                if interrupted:
                    raise KeyboardInterrupt
                returncode: int | None = popen.wait(timeout)
            except BaseException as exc:  # the timeout, or Ctrl-C: the whole group goes
                kill_group(popen.pid)
                popen.wait()
                if not isinstance(exc, subprocess.TimeoutExpired):
                    raise
                timed_out, returncode = True, None
            kill_group(popen.pid)  # children left running in the background go too
        output = cut(log.read_text(encoding="utf-8", errors="replace"))
        return RunResult(command, returncode, output, time.monotonic() - started, timed_out, timeout, self.isolation)

    def start(
        self, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, path: Sequence[Path] = ()
    ) -> Process:
        """Start a long-running process (a server); `Process.stop()` or `close()` ends its group."""
        command = self.command(args)
        self._runs += 1
        log = self.dir / f"process-{self._runs}.log"
        with open(log, "wb") as out, held_interrupt() as interrupted:
            popen = subprocess.Popen(
                command, cwd=cwd, env=self.env(cwd, env, path), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            process = Process(popen, log, command, self.isolation)
            self.processes.append(process)  # close() stops it, whatever happens next
        if interrupted:
            raise KeyboardInterrupt
        return process

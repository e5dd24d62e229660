"""On-disk cache of per-file results, keyed by content and invalidated by version and config.

One pickle per scanned root and configuration under $PRODREADY_CACHE_DIR (default
~/.cache/prodready), never inside the scanned tree; the few most recently used configurations of
a folder are kept. An unreadable or corrupt cache is ignored and rewritten.

Each entry is `relpath -> (mtime_ns, size, digest, blob)`: the blob is the file's pickled
FileResult, so loading and saving the cache copies bytes instead of rebuilding thousands of
objects, and a rescan unpickles each result once. A file whose mtime or size moved is read and
hashed: same content, same result (a `git checkout` or `touch` costs a hash, not an analysis).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from pathlib import Path

from collections.abc import Callable
from typing import TypeVar

from auditor import __version__
from auditor.atomic import atomic_write

FORMAT = 3
# An mtime this close to "now" may be followed by a same-size edit within the clock's resolution
# ("racy git"): such entries keep mtime 0, so the next scan checks their content hash.
RACY_NS = 2_000_000_000
KEPT_PER_FOLDER = 3  # configurations cached per scanned folder (say, a full scan and a --select run)


def cache_dir() -> Path:
    configured = os.environ.get("PRODREADY_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "prodready"


def cache_disabled() -> bool:
    return os.environ.get("PRODREADY_NO_CACHE", "").lower() not in {"", "0", "false", "no"}


def digest_of(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _write_atomically(path: Path, value: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), durable=False)
    except OSError:
        pass  # a read-only home or a full disk: everything still works, just without a cache


T = TypeVar("T")


def remembered(kind: str, key: str, compute: Callable[[], T]) -> T:
    """compute() once per key and prodready version; later runs unpickle the answer.

    For answers that cost more to compute than to load, e.g. a validated configuration
    (validating loads pydantic, which is most of a warm rescan's start-up)."""
    name = hashlib.sha1(f"{FORMAT}:{__version__}:{key}".encode()).hexdigest()[:20]
    path = cache_dir() / kind / f"{name}.pickle"
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except Exception:  # missing, corrupt, from another Python: compute it again
        pass
    value = compute()
    _write_atomically(path, value)
    return value


class ResultCache:
    """relpath -> (mtime_ns, size, digest, pickled FileResult) for one root and one configuration."""

    def __init__(self, root: Path, key: str) -> None:
        self.root = root
        self.key = f"{FORMAT}:{__version__}:{key}"
        self.folder_id = hashlib.sha1(str(root).encode()).hexdigest()[:20]
        self.path = cache_dir() / f"{self.folder_id}-{hashlib.sha1(self.key.encode()).hexdigest()[:12]}.pickle"
        self.entries: dict[str, tuple[int, int, str, bytes]] = {}
        self.dirty = False
        self.problem: str | None = None
        self.rehashed = 0  # files whose stamp moved but whose content had not

    def load(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.problem = f"cache file {self.path} was unreadable ({exc.strerror}); rebuilt"
            return
        try:
            stored = pickle.loads(data)
        except Exception as exc:  # corrupt, truncated, from another version of Python...
            self.problem = f"cache file {self.path} was unreadable ({type(exc).__name__}); rebuilt"
            return
        if isinstance(stored, dict) and stored.get("key") == self.key and isinstance(stored.get("entries"), dict):
            self.entries = stored["entries"]
            try:
                os.utime(self.path)  # most recently used: the last to be forgotten
            except OSError:
                pass

    def get(self, relpath: str, mtime_ns: int, size: int):
        """The cached FileResult when the file's content is unchanged, else None."""
        entry = self.entries.get(relpath)
        if entry is None or entry[1] != size:
            return None
        if entry[0] != mtime_ns:
            try:
                data = (self.root / relpath).read_bytes()
            except OSError:
                return None
            if digest_of(data) != entry[2]:
                return None
            self.entries[relpath] = (_trusted(mtime_ns), size, entry[2], entry[3])
            self.dirty = True
            self.rehashed += 1
        try:
            return pickle.loads(entry[3])
        except Exception:  # an entry that no longer unpickles is simply analysed again
            return None

    def put(self, relpath: str, mtime_ns: int, size: int, result, blob: bytes | None = None) -> None:
        if blob is None:
            blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        self.entries[relpath] = (_trusted(mtime_ns), size, result.digest, blob)
        self.dirty = True

    def prune(self, keep: set[str]) -> None:
        for relpath in set(self.entries) - keep:
            del self.entries[relpath]
            self.dirty = True

    def save(self) -> None:
        if self.dirty:
            _write_atomically(self.path, {"key": self.key, "entries": self.entries})
            self._forget_old_configurations()

    def _forget_old_configurations(self) -> None:
        def last_used(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:
                return 0.0

        mine = sorted(self.path.parent.glob(f"{self.folder_id}*.pickle"), key=last_used, reverse=True)
        for old in mine[KEPT_PER_FOLDER:]:
            try:
                old.unlink()
            except OSError:
                pass


def _trusted(mtime_ns: int) -> int:
    return 0 if mtime_ns > time.time_ns() - RACY_NS else mtime_ns

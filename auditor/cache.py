"""On-disk cache of per-file results, keyed by content and invalidated by version and config.

One pickle per scanned root under $PRODREADY_CACHE_DIR (default ~/.cache/prodready), never
inside the scanned tree. An unreadable or corrupt cache is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from auditor import __version__

FORMAT = 1


def cache_dir() -> Path:
    configured = os.environ.get("PRODREADY_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "prodready"


def cache_disabled() -> bool:
    return os.environ.get("PRODREADY_NO_CACHE", "").lower() not in {"", "0", "false", "no"}


class ResultCache:
    """relpath -> (mtime_ns, size, digest, FileResult) for one root and one configuration."""

    def __init__(self, root: Path, key: str) -> None:
        self.key = f"{FORMAT}:{__version__}:{key}"
        self.path = cache_dir() / (hashlib.sha1(str(root).encode()).hexdigest()[:20] + ".pickle")
        self.entries: dict[str, tuple] = {}
        self.dirty = False
        self.problem: str | None = None

    def load(self) -> None:
        try:
            with open(self.path, "rb") as handle:
                stored = pickle.load(handle)
        except FileNotFoundError:
            return
        except Exception as exc:  # corrupt, truncated, from another version of Python...
            self.problem = f"cache file {self.path} was unreadable ({type(exc).__name__}); rebuilt"
            return
        if isinstance(stored, dict) and stored.get("key") == self.key and isinstance(stored.get("entries"), dict):
            self.entries = stored["entries"]

    def get(self, relpath: str, mtime_ns: int, size: int):
        entry = self.entries.get(relpath)
        if entry and entry[0] == mtime_ns and entry[1] == size:
            return entry[3]
        return None

    def get_by_digest(self, relpath: str, digest: str):
        entry = self.entries.get(relpath)
        return entry[3] if entry and entry[2] == digest else None

    def put(self, relpath: str, mtime_ns: int, size: int, result) -> None:
        self.entries[relpath] = (mtime_ns, size, result.digest, result)
        self.dirty = True

    def prune(self, keep: set[str]) -> None:
        for relpath in set(self.entries) - keep:
            del self.entries[relpath]
            self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tmp-", suffix=".pickle")
            with os.fdopen(fd, "wb") as handle:
                pickle.dump({"key": self.key, "entries": self.entries}, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home: scanning still works, just without a cache

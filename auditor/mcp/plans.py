"""The plans an assistant has shown, by id, so that apply_fixes writes only a plan the user saw.

A plan id is a hash of the plan (its diff, fixes, what it left out) and of the bytes of every
file it was made from: the project's Python files and the other files the rules read (the
scan's discovery), and the files the plan edits or creates. The same plan on the same files
gets the same id; any change to a file gives another, so an id seen by the user names exactly
one set of writes. Plans live in the server's memory only: an id from another session, or one
made up, is unknown.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from auditor.discovery import discover
from auditor.mcp import Refused

KEEP = 8  # plans remembered at once (each holds its scan and parsed trees); the oldest is forgotten first
Snapshot = dict[str, "str | None"]  # relpath (or absolute path of a config above the root) -> sha256, None: absent


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def snapshot(root: Path, config, config_path: Path | None, extra: Iterable[str] = ()) -> Snapshot:
    """The hash of every file a scan of `root` with `config` reads, plus `extra` (the plan's edits)."""
    found = discover(root, config.exclude, config.max_file_size)
    names = {*found.python_files, *found.other_files, *extra}
    files: Snapshot = {name: _digest(root / name) for name in sorted(names)}
    if config_path is not None:
        config_path = Path(config_path).resolve()
        if root not in config_path.parents:  # a [tool.prodready] table above the scanned folder
            files[str(config_path)] = _digest(config_path)
    return files


def changed_files(before: Snapshot, after: Snapshot) -> list[str]:
    """The files whose bytes differ, that appeared or that went away."""
    return sorted(name for name in {*before, *after} if before.get(name) != after.get(name))


def plan_id(plan_json: dict, files: Snapshot) -> str:
    text = json.dumps({"plan": plan_json, "files": files}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def listed(names: list[str], most: int = 3) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


@dataclass
class StoredPlan:
    plan_id: str
    plan: object  # fixers.pipeline.plan.FixPlan
    files: Snapshot
    include_review: bool

    @property
    def root(self) -> Path:
        return Path(self.plan.root)

    def current_files(self) -> Snapshot:
        result = self.plan.result
        named = [name for name in self.files if not Path(name).is_absolute()]  # the same names as at planning
        return snapshot(self.root, result.config, result.config_path, [*named, *self.plan.files_changed])

    def check_current(self) -> None:
        """Refused when any file the plan was made from changed since."""
        changed = changed_files(self.files, self.current_files())
        if changed:
            raise Refused(
                f"stale plan {self.plan_id}: {listed(changed)} changed since it was planned; "
                "nothing was written. Call plan_fixes again and show the user the new diff"
            )


class PlanStore:
    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self._plans: OrderedDict[str, StoredPlan] = OrderedDict()
        self._applied: dict[str, Path] = {}  # plan id -> root, until an undo of that root
        self._lock = threading.Lock()

    def add(self, plan, files: Snapshot, include_review: bool) -> StoredPlan:
        stored = StoredPlan(plan_id(plan.to_json(), files), plan, files, include_review)
        with self._lock:
            self._plans[stored.plan_id] = stored
            self._plans.move_to_end(stored.plan_id)
            self._applied.pop(stored.plan_id, None)  # planned again on the same files: the user saw it again
            while len(self._plans) > self.keep:
                self._plans.popitem(last=False)
        return stored

    def get(self, plan_id: str, root: Path) -> StoredPlan:
        with self._lock:
            stored = self._plans.get(plan_id.strip())
            applied = plan_id.strip() in self._applied
        if stored is None:
            raise Refused(
                f"unknown plan id {plan_id!r} (this session keeps its last {self.keep} plans): call plan_fixes, "
                "show the user its diff, then apply with the plan_id it returns"
            )
        if stored.root != root:
            raise Refused(f"plan {plan_id} was made for {stored.root}, not {root}")
        if applied:
            raise Refused(f"plan {plan_id} was already applied; undo puts the files back as they were before it")
        return stored

    def mark_applied(self, stored: StoredPlan) -> None:
        with self._lock:
            self._applied[stored.plan_id] = stored.root

    def undone(self, root: Path) -> None:
        """After an undo the files are as they were planned: those plans may be applied again."""
        with self._lock:
            for key in [k for k, r in self._applied.items() if r == root]:
                del self._applied[key]

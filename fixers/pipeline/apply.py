"""Writing a FixPlan: all files or none, after every check passed, with a backup to undo it.

Order: lock the project; refuse anything outside it, any text that does not parse, any file
that changed since the plan read it, any read-only file or folder; back up every touched file
with a manifest; write each file atomically; mark the manifest applied; unlock; rescan to tell
which findings are gone. When anything fails or stops the writes (a full disk, Ctrl-C), what
was written is put back at once; what cannot be put back, `prodready undo` restores from the
manifest, which says "applying" until the last file is written.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from auditor.models import Finding
from fixers.base import check_compiles
from fixers.pipeline.errors import FixError, ReadOnlyFileError, StaleFileError, UnparsableResultError, WriteError
from fixers.pipeline.plan import FileEdit, FixPlan
from fixers.pipeline.storage import (
    MANIFEST,
    atomic_write,
    file_mode,
    is_read_only,
    new_backup_dir,
    not_writable,
    project_lock,
    sha256,
    write_manifest,
)
from fixers.pipeline.workspace import inside


@dataclass
class ApplyReport:
    backup_dir: Path | None
    changed: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    findings_gone: list[Finding] = field(default_factory=list)
    findings_left: list[Finding] = field(default_factory=list)  # planned, yet still reported
    rescan: object | None = None  # the ScanResult after the write

    def summary(self) -> str:
        if self.backup_dir is None:
            return "nothing to apply"
        text = f"{len(self.changed)} file(s) changed, {len(self.created)} created; {len(self.findings_gone)} finding(s) gone"
        if self.findings_left:
            text += f", {len(self.findings_left)} still reported"
        return text


def validate(edit: FileEdit, path: Path) -> None:
    """Every refusal that must happen before the first byte is written."""
    if edit.relpath.endswith(".py"):
        problem = check_compiles(edit.relpath, edit.new)
        if problem:
            raise UnparsableResultError(edit.relpath, problem)
    elif edit.relpath.endswith(".toml"):
        import tomlkit

        try:
            tomlkit.parse(edit.new)
        except Exception as exc:
            raise UnparsableResultError(edit.relpath, str(exc).splitlines()[0]) from None
    if edit.is_new:
        if path.exists():
            raise StaleFileError(edit.relpath, "was created since the scan")
    elif not path.is_file():
        raise StaleFileError(edit.relpath, "was deleted since the scan")
    elif sha256(path.read_bytes()) != edit.base_hash:
        raise StaleFileError(edit.relpath)
    elif is_read_only(path):
        raise ReadOnlyFileError(edit.relpath)
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not os.access(folder, os.W_OK):  # the atomic write creates its temporary file there
        raise ReadOnlyFileError(edit.relpath)


def _missing_dirs(path: Path, root: Path) -> list[Path]:
    missing = []
    parent = path.parent
    while parent != root and not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return list(reversed(missing))


def apply_plan(plan: FixPlan, rescan: bool = True) -> ApplyReport:
    if plan.is_empty:
        return ApplyReport(backup_dir=None)
    root = Path(plan.root)
    targets = [(edit, inside(root, edit.relpath)) for edit in plan.edits]
    twice = [p for p, n in Counter(path for _, path in targets).items() if n > 1]
    if twice:  # the second write would hide the first from undo's checks
        raise FixError(f"{twice[0].relative_to(root).as_posix()} is edited twice in one plan; nothing was written")
    with project_lock(root):
        for edit, path in targets:
            validate(edit, path)
        backup = None
        try:
            backup = new_backup_dir(root)
            manifest = _back_up(plan, root, backup, targets)
            write_manifest(backup, manifest)
        except OSError as exc:  # a read-only or full disk: refused before any project file is touched
            if backup is not None:
                shutil.rmtree(backup, ignore_errors=True)
            raise not_writable(root, exc) from None
        _write_all(root, backup, targets, manifest)

    report = ApplyReport(
        backup_dir=backup,
        changed=[e.relpath for e, _ in targets if not e.is_new],
        created=[e.relpath for e, _ in targets if e.is_new],
        dependencies=list(plan.dependencies),
    )
    if rescan:
        from auditor.engine import scan

        after = scan(root, config=plan.result.config, use_cache=False)
        report.rescan = after
        report.findings_gone, report.findings_left = findings_gone(plan, after.findings)
    return report


def _back_up(plan: FixPlan, root: Path, backup: Path, targets: list[tuple[FileEdit, Path]]) -> dict:
    """Copy every file about to change into the backup; the manifest says what undo must check."""
    manifest: dict = {
        "version": 1,
        "state": "applying",
        "applied_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "changed": [],
        "created": [],
        "created_dirs": [],
        "fixes": [
            {"rule": f.finding.rule, "path": f.finding.path, "line": f.finding.line, "fixer": f.fixer}
            for f in plan.fixes
        ],
        "dependencies": plan.dependencies,
    }
    for edit, path in targets:
        if edit.is_new:
            manifest["created"].append({"path": edit.relpath, "after": sha256(edit.new_bytes)})
            for folder in _missing_dirs(path, root):
                relative = folder.relative_to(root).as_posix()
                if relative not in manifest["created_dirs"]:
                    manifest["created_dirs"].append(relative)
        else:
            copy = backup / "files" / edit.relpath
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(edit.base)
            manifest["changed"].append(
                {"path": edit.relpath, "before": edit.base_hash, "after": sha256(edit.new_bytes), "mode": file_mode(path)}
            )
    return manifest


def _write_all(root: Path, backup: Path, targets: list[tuple[FileEdit, Path]], manifest: dict) -> None:
    """Write every file, then mark the manifest applied; on any failure or interruption, put
    back what was written (all or nothing) and raise."""
    modes = {entry["path"]: entry["mode"] for entry in manifest["changed"]}
    written: list[tuple[FileEdit, Path]] = []
    try:
        for relative in manifest["created_dirs"]:
            (root / relative).mkdir()
        for edit, path in targets:
            atomic_write(path, edit.new_bytes, modes.get(edit.relpath))
            written.append((edit, path))
        manifest["state"] = "applied"
        write_manifest(backup, manifest)
    except BaseException as exc:  # KeyboardInterrupt too: never leave a half-applied project
        unrestored = _put_back(root, written, manifest["created_dirs"], modes)
        if not unrestored:
            manifest["state"] = "rolled-back"
            with suppress(OSError):
                write_manifest(backup, manifest)
        if not isinstance(exc, OSError):
            raise
        failed = targets[len(written)][0].relpath if len(written) < len(targets) else (backup / MANIFEST).relative_to(root).as_posix()
        raise WriteError(failed, exc.strerror or str(exc), unrestored) from None


def _put_back(root: Path, written: list[tuple[FileEdit, Path]], created_dirs: list[str], modes: dict[str, int]) -> list[str]:
    """Undo the writes done so far; returns the files that could not be put back (undo can)."""
    unrestored = []
    for edit, path in reversed(written):
        try:
            if edit.is_new:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, edit.base, modes[edit.relpath])
        except OSError:
            unrestored.append(edit.relpath)
    for relative in reversed(created_dirs):
        with suppress(OSError):
            (root / relative).rmdir()
    return sorted(unrestored)


def findings_gone(plan: FixPlan, after: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """Which planned findings the rescan no longer reports. Lines move after a fix, so findings
    are matched by (rule, file): as many are gone as that pair lost."""
    before = Counter((f.rule, f.path) for f in plan.result.findings)
    remaining = Counter((f.rule, f.path) for f in after)
    budget = {key: max(0, before[key] - remaining[key]) for key in before}
    gone, left = [], []
    for fix in plan.fixes:
        key = (fix.finding.rule, fix.finding.path)
        if budget.get(key, 0) > 0:
            budget[key] -= 1
            gone.append(fix.finding)
        else:
            left.append(fix.finding)
    return gone, left

"""Writing a FixPlan: all files or none, after every check passed, with a backup to undo it.

Order: lock the project; refuse anything outside it, any text that does not parse, any file
that changed since the plan read it, any read-only file; back up every touched file with a
manifest; write each file atomically (on a failure, put back what was written); unlock;
rescan to tell which findings are gone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from auditor.models import Finding
from fixers.base import check_compiles
from fixers.errors import ReadOnlyFileError, StaleFileError, UnparsableResultError, WriteError
from fixers.plan import FileEdit, FixPlan
from fixers.storage import (
    atomic_write,
    file_mode,
    is_read_only,
    new_backup_dir,
    project_lock,
    sha256,
    write_manifest,
)
from fixers.workspace import inside


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
        return
    if not path.is_file():
        raise StaleFileError(edit.relpath, "was deleted since the scan")
    if sha256(path.read_bytes()) != edit.base_hash:
        raise StaleFileError(edit.relpath)
    if is_read_only(path):
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
    with project_lock(root):
        for edit, path in targets:
            validate(edit, path)
        backup = new_backup_dir(root)
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
        write_manifest(backup, manifest)
        _write_all(root, targets, manifest)
        manifest["state"] = "applied"
        write_manifest(backup, manifest)

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


def _write_all(root: Path, targets: list[tuple[FileEdit, Path]], manifest: dict) -> None:
    modes = {entry["path"]: entry["mode"] for entry in manifest["changed"]}
    written: list[tuple[FileEdit, Path]] = []
    try:
        for relative in manifest["created_dirs"]:
            (root / relative).mkdir()
        for edit, path in targets:
            atomic_write(path, edit.new_bytes, modes.get(edit.relpath))
            written.append((edit, path))
    except OSError as exc:
        for edit, path in reversed(written):  # put back what was written: all or nothing
            if edit.is_new:
                path.unlink(missing_ok=True)
            else:
                atomic_write(path, edit.base, modes[edit.relpath])
        for relative in reversed(manifest["created_dirs"]):
            try:
                (root / relative).rmdir()
            except OSError:
                pass
        failed = targets[len(written)][0].relpath if len(written) < len(targets) else "?"
        raise WriteError(failed, exc.strerror or str(exc)) from None


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

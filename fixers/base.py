"""What a fixer is: the findings of its rules in, edits to the workspace out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from auditor.models import Finding
from fixers.registry import FixerSpec
from fixers.pipeline.workspace import Skip, Workspace

Outcomes = dict[Finding, str | None]  # finding -> None when fixed, else why it was skipped


def check_compiles(relpath: str, text: str) -> str | None:
    """None when `text` is valid Python, else one line saying where it is not."""
    try:
        compile(text, relpath, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    except ValueError as exc:  # null bytes
        return str(exc)
    return None


class Fixer:
    """Base class. Subclasses implement `fix_file` (one module at a time) or override `fix`."""

    def __init__(self, spec: FixerSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        return self.spec.name

    def fix(self, findings: Iterable[Finding], ws: Workspace) -> Outcomes:
        """Fix each file's findings together; a file whose fix fails is left as it was."""
        by_file: dict[str, list[Finding]] = defaultdict(list)
        for finding in findings:
            by_file[finding.path].append(finding)
        outcomes: Outcomes = {}
        for relpath, group in sorted(by_file.items()):
            outcomes.update(self.guarded(group, ws, lambda: self.fix_file(relpath, group, ws)))
        return outcomes

    def guarded(self, findings: list[Finding], ws: Workspace, run) -> Outcomes:
        """Run one unit of fixing; on Skip or a result that does not compile, undo it whole."""
        checkpoint = ws.checkpoint()
        try:
            outcomes = run()
            for relpath in ws.changed_since(checkpoint):
                text = ws.read(relpath)
                if relpath.endswith(".py") and text is not None:
                    problem = check_compiles(relpath, text)
                    if problem:
                        raise Skip(f"the fixed {relpath} would not compile ({problem})")
        except Skip as exc:
            ws.rollback(checkpoint)
            return {f: str(exc) for f in findings}
        return outcomes

    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        raise NotImplementedError

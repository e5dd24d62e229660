"""What a fixer is: the findings of its rules in, edits to the workspace out."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from functools import lru_cache

from auditor.models import Finding
from fixers.pipeline.check import Texts, check_unit, describe, module_table
from fixers.registry import FixerSpec
from fixers.pipeline.workspace import Skip, Workspace

Outcomes = dict[Finding, str | None]  # finding -> None when fixed, else why it was skipped


PYTHON = f"Python {sys.version_info.major}.{sys.version_info.minor}"


def check_compiles(relpath: str, text: str) -> str | None:
    """None when `text` is valid Python, else one line saying where it is not."""
    return _compile_problem(text)


@lru_cache(maxsize=512)
def _compile_problem(text: str) -> str | None:
    """(Each unit and each fixer group checks the texts it touched: most were compiled already.)"""
    try:
        compile(text, "<fix>", "exec", dont_inherit=True)
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
            outcomes.update(
                self.guarded(group, ws, lambda: self.fix_file(relpath, group, ws), alone=lambda f: self.fix_file(relpath, [f], ws))
            )
        return outcomes

    def guarded(
        self,
        findings: list[Finding],
        ws: Workspace,
        run: Callable[[], Outcomes],
        alone: Callable[[Finding], Outcomes] | None = None,
    ) -> Outcomes:
        """Run one unit of fixing; on Skip, or a result that does not compile or would break the
        app (check_output), undo it whole. With `alone` (the same fix for one finding), a unit of
        several findings whose result would break is retried finding by finding, so only the
        findings whose own fix breaks are left out."""
        checkpoint = ws.checkpoint()
        try:
            outcomes = run()
            problem = check_output(ws, checkpoint)
        except Skip as exc:
            ws.rollback(checkpoint)
            return {f: str(exc) for f in findings}
        if problem is None:
            return outcomes
        ws.rollback(checkpoint)
        if alone is not None and len(findings) > 1:
            result: Outcomes = {}
            for finding in findings:
                result.update(self.guarded([finding], ws, lambda finding=finding: alone(finding)))
            return result
        # A finding the fixer itself passed over keeps its own reason.
        return {f: outcomes.get(f) or problem for f in findings}

    def fix_file(self, relpath: str, findings: list[Finding], ws: Workspace) -> Outcomes:
        raise NotImplementedError


def check_output(ws: Workspace, checkpoint) -> str | None:
    """Why the files changed since the checkpoint would break the app, or None when they are fine:
    a Python file that does not compile, or new undefined names, missing project imports or
    attributes (fixers.pipeline.check)."""
    touched = ws.changed_since(checkpoint)
    for relpath in touched:
        text = ws.read(relpath)
        if relpath.endswith(".py") and text is not None:
            problem = check_compiles(relpath, text)
            before = ws.text_at(checkpoint, relpath)
            if problem and before is not None and check_compiles(relpath, before):
                # The file was written for a newer Python than this one: its fix cannot be checked.
                return f"by hand: {relpath} is written for a newer Python than {PYTHON}, which prodready runs on, so a fix there cannot be checked"
            if problem:
                return f"the fixed {relpath} would not compile ({problem})"
    if not any(relpath.endswith(".py") for relpath in touched):
        return None
    reasons = check_unit(touched, texts_at(ws, checkpoint), texts_at(ws))
    return describe(reasons) if reasons else None


def texts_at(ws: Workspace, checkpoint=None) -> Texts:
    """The project's modules as the workspace has them now, or as they were at a checkpoint."""
    index = ws.index

    def read(relpath: str) -> str | None:
        if relpath in ws.files:
            return ws.files[relpath].text if checkpoint is None else ws.text_at(checkpoint, relpath)
        return index.source(relpath) if index is not None and relpath in index.modules else None

    return Texts(read, module_table(index, ((r, read(r)) for r in ws.files)))

"""`prodready scan --add-ignore="reason"`: a suppression comment on the line of every current finding.

Adopting prodready on an old codebase starts from "silence what is there, catch what is new";
every comment carries the reason given, so it stays honest (and PR590 reports it once it matches
nothing). Comments are placed with libcst, which keeps the file's formatting: a comment goes at
the end of the finding's line, merged into a `# prodready: ignore[...]` already there, appended
after any other comment (`# noqa`, `# type: ignore` keep working). A line that cannot take a
comment (inside a multi-line string, say) is skipped and listed, and the file is written only
when the result still parses to the same syntax tree.
"""

from __future__ import annotations

import ast
import stat
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from auditor.atomic import atomic_write
from auditor.engine import UNUSED_SUPPRESSION, ScanResult
from auditor.models import Finding
from auditor.suppress import Suppression, parse_comment


@dataclass
class AddIgnoreReport:
    added: int = 0
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[Finding, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"added {self.added} suppression comment{'s' if self.added != 1 else ''} in {len(self.files)} file{'s' if len(self.files) != 1 else ''}"]
        lines += [f"  skipped {f.rule} {f.path}:{f.line}: {why}" for f, why in self.skipped]
        return "\n".join(lines)


def merged_comment(existing: str | None, codes: set[str], reason: str) -> str | None:
    """The comment text for a line that needs `codes` ignored, or None when it cannot take one."""
    wanted = Suppression(0, "ignore", frozenset(codes), reason)
    if existing is None:
        return wanted.comment()
    current = parse_comment(existing)
    if current is None:
        return f"{existing}  {wanted.comment()}"
    if current.kind != "ignore":
        return None  # one suppression per line: a fixme comment cannot also ignore other rules
    if not current.codes:
        return existing  # a bare ignore already covers every rule
    merged = Suppression(0, "ignore", current.codes | codes, current.reason or reason)
    return existing[: current.col] + merged.comment()  # current.col: where `# prodready:` starts


class _AddComments(cst.CSTTransformer):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, wanted: dict[int, set[str]], reason: str) -> None:
        super().__init__()
        self.wanted = wanted
        self.reason = reason
        self.placed: set[int] = set()
        self.refused: set[int] = set()

    def leave_TrailingWhitespace(
        self, original: cst.TrailingWhitespace, updated: cst.TrailingWhitespace
    ) -> cst.TrailingWhitespace:
        line = self.get_metadata(PositionProvider, original).start.line
        if line not in self.wanted or line in self.placed:
            return updated
        existing = updated.comment.value if updated.comment else None
        text = merged_comment(existing, self.wanted[line], self.reason)
        if text is None:
            self.refused.add(line)
            return updated
        self.placed.add(line)
        whitespace = updated.whitespace if updated.whitespace.value else cst.SimpleWhitespace("  ")
        return updated.with_changes(whitespace=whitespace, comment=cst.Comment(text))


def add_ignores(result: ScanResult, reason: str) -> AddIgnoreReport:
    """Suppress every current finding of `result` in place; findings marked fixme are left alone."""
    report = AddIgnoreReport()
    by_file: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    findings: dict[tuple[str, int], list[Finding]] = defaultdict(list)
    for finding in result.findings:
        if finding in result.fixme or finding.rule == UNUSED_SUPPRESSION:
            continue
        if not finding.path.endswith(".py") or not (result.root / finding.path).is_file():
            report.skipped.append((finding, "not a Python file; use per-file-ignores in the config"))
            continue
        by_file[finding.path][finding.line].add(finding.rule)
        findings[(finding.path, finding.line)].append(finding)
    for relpath, wanted in sorted(by_file.items()):
        placed, refused, problem = _rewrite(result.root / relpath, dict(wanted), reason)
        for line in sorted(wanted):
            if problem or line not in placed:
                why = problem or ("the line already has a fixme comment" if line in refused else "no comment fits at the end of this line")
                report.skipped.extend((f, why) for f in findings[(relpath, line)])
        if placed and not problem:
            report.added += len(placed)
            report.files.append(relpath)
    return report


def _rewrite(path: Path, wanted: dict[int, set[str]], reason: str) -> tuple[set[int], set[int], str]:
    data = path.read_bytes()
    try:
        module = cst.parse_module(data)
    except cst.ParserSyntaxError:
        return set(), set(), "libcst cannot parse this file"
    transformer = _AddComments(wanted, reason)
    new = MetadataWrapper(module).visit(transformer)
    if not transformer.placed:
        return set(), transformer.refused, ""
    try:
        same = ast.dump(ast.parse(data)) == ast.dump(ast.parse(new.bytes))
    except SyntaxError:
        same = False
    if not same:
        return set(), set(), "adding the comment would change the code; left untouched"
    atomic_write(path, new.bytes, stat.S_IMODE(path.stat().st_mode))
    return transformer.placed, transformer.refused, ""

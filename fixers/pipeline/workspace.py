"""The texts a plan is built on: files as they were at the scan, and as the fixes leave them.

Fixes compose: each one reads the current text of a file (what the previous fixes left) and
writes a new one. Findings keep the line numbers of the scan, so `position` maps a scan-time
line to where that line is now.

A plan can take several rounds (the rules run again on what the fixes wrote): each round's
findings point into the texts the round started from (`start`), while `base`/`original` stay
what is on disk, so the plan's edits always go from the disk to the last round's text.
"""

from __future__ import annotations

import ast
import difflib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditor.models import Finding
from fixers.pipeline.check import parsed
from fixers.pipeline.errors import OutsideProjectError, StaleFileError

BOM = "\ufeff"


class Skip(Exception):
    """A fixer cannot fix this finding safely; the message says why (shown to the user)."""


@dataclass
class FileState:
    relpath: str
    base: bytes | None  # bytes on disk when the plan read it; None: the file did not exist
    original: str | None  # decoded base (without BOM)
    text: str | None  # the text the fixes leave so far
    bom: bool = False
    start: str | None = None  # the text this round of fixes started from (findings point into it)

    def __post_init__(self) -> None:
        if self.start is None:
            self.start = self.original

    def encode(self) -> bytes:
        assert self.text is not None
        return ((BOM if self.bom else "") + self.text).encode("utf-8")

    @property
    def changed(self) -> bool:
        return self.text != self.original


def source_lines(text: str) -> list[str]:
    """Lines as Python numbers them: only LF, CRLF and CR end one (str.splitlines also breaks on
    form feeds and other separators, which would shift every line number after them)."""
    return io.StringIO(text, newline="").readlines()


def normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def inside(root: Path, relpath: str) -> Path:
    """The absolute path of relpath, refusing anything that leaves the project folder."""
    if not relpath or Path(relpath).is_absolute() or "\\" in relpath:
        raise OutsideProjectError(relpath or "''")
    path = (root / relpath).resolve()
    if path != root and root not in path.parents:
        raise OutsideProjectError(relpath)
    return path


@dataclass
class Workspace:
    root: Path
    index: Any = None  # auditor.index.ProjectIndex of the scan, when there is one
    files: dict[str, FileState] = field(default_factory=dict)
    requirements: dict[str, str] = field(default_factory=dict)  # requirement -> fixer that needs it
    notes: list[tuple[str, tuple]] = field(default_factory=list)  # (to do by hand, the findings it follows)
    _opcode_cache: dict[str, tuple[str, list]] = field(default_factory=dict)  # relpath -> (text, opcodes)

    # -- reading and writing ------------------------------------------------------------------

    def state(self, relpath: str) -> FileState:
        if relpath not in self.files:
            path = inside(self.root, relpath)
            if path.is_file():
                data = path.read_bytes()
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise Skip(f"{relpath} is not UTF-8 text") from None
                bom = text.startswith(BOM)
                text = text[1:] if bom else text
                self._check_scan_time(relpath, text)
                self.files[relpath] = FileState(relpath, data, text, text, bom)
            else:
                self.files[relpath] = FileState(relpath, None, None, None)
        return self.files[relpath]

    def _check_scan_time(self, relpath: str, text: str) -> None:
        """A Python file must still be what the scan read (the findings point into that text)."""
        sources = getattr(self.index, "_sources", None)
        if sources and relpath in sources and normalize_newlines(text) != normalize_newlines(sources[relpath]):
            raise StaleFileError(relpath)

    def read(self, relpath: str) -> str | None:
        return self.state(relpath).text

    def tree(self, relpath: str) -> ast.Module | None:
        """The module's `ast` as its text is now; None when it is missing or does not parse.
        Parsed once per text (fixers ask for the same modules hundreds of times in a plan):
        read it, never change it."""
        text = self.read(relpath)
        return parsed(text) if text is not None else None

    def exists(self, relpath: str) -> bool:
        return self.read(relpath) is not None

    def write(self, relpath: str, text: str) -> None:
        self.state(relpath).text = text

    def require(self, requirement: str, by: str) -> None:
        """Record a package the scanned project needs after the fix ("pydantic>=2")."""
        self.requirements.setdefault(requirement, by)

    def note(self, text: str, findings) -> None:
        """Something the user must do by hand once these findings' fixes are applied (the plan
        keeps it only if one of them is fixed)."""
        self.notes.append((text, tuple(findings)))

    # -- all-or-nothing per fix -----------------------------------------------------------------

    def checkpoint(self) -> tuple[dict[str, str | None], dict[str, str]]:
        return {k: s.text for k, s in self.files.items()}, dict(self.requirements)

    def rollback(self, checkpoint: tuple[dict[str, str | None], dict[str, str]]) -> None:
        texts, requirements = checkpoint
        for relpath, state in list(self.files.items()):
            if relpath in texts:
                state.text = texts[relpath]
            else:
                state.text = state.start
        self.requirements = requirements

    def changed_since(self, checkpoint: tuple[dict[str, str | None], dict[str, str]]) -> list[str]:
        texts, _ = checkpoint
        return sorted(
            relpath
            for relpath, state in self.files.items()
            if state.text != texts.get(relpath, state.start)
        )

    def text_at(self, checkpoint: tuple[dict[str, str | None], dict[str, str]], relpath: str) -> str | None:
        """The text of a file (already read) as it was at the checkpoint."""
        state = self.files[relpath]
        return checkpoint[0].get(relpath, state.start)

    def changed(self) -> list[FileState]:
        return [s for _, s in sorted(self.files.items()) if s.changed]

    def new_round(self, index: Any) -> None:
        """Start another round of fixes on the texts so far, with the index of a scan of them
        (its findings point into these texts)."""
        self.index = index
        for state in self.files.values():
            state.start = state.text
        self._opcode_cache.clear()

    # -- where a scan-time finding is now ---------------------------------------------------------

    def position(self, finding: Finding) -> tuple[int, int | None]:
        """(line, column in characters) of the finding in the current text; column None when the
        line itself was rewritten by an earlier fix (match on the line alone then)."""
        state = self.state(finding.path)
        if state.text is None or state.start is None:
            raise Skip(f"{finding.path} no longer exists in the plan")
        original_lines = source_lines(state.start)
        line = finding.line
        if state.text != state.start:
            opcodes = self._opcodes(finding.path, state)
            for tag, i1, i2, j1, j2 in opcodes:
                if i1 <= line - 1 < i2:
                    if tag == "equal":
                        line = j1 + (line - 1 - i1) + 1
                        break
                    return j1 + min(line - 1 - i1, max(j2 - j1 - 1, 0)) + 1, None
        text_line = original_lines[finding.line - 1] if 0 < finding.line <= len(original_lines) else ""
        # ast columns count UTF-8 bytes; libcst columns count characters.
        col = len(text_line.encode("utf-8")[: finding.col].decode("utf-8", errors="ignore"))
        return line, col

    def _opcodes(self, relpath: str, state: FileState) -> list[tuple[str, int, int, int, int]]:
        cached = self._opcode_cache.get(relpath)
        if cached is None or cached[0] != state.text:
            matcher = difflib.SequenceMatcher(None, source_lines(state.start), source_lines(state.text), autojunk=False)
            cached = (state.text, matcher.get_opcodes())
            self._opcode_cache[relpath] = cached
        return cached[1]

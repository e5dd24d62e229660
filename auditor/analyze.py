"""Read, parse and analyse one file: the unit of work the scan spreads across processes.

Each file is parsed once with the stdlib `ast` and walked once: the fact extractor and every
enabled per-module rule share that walk. Problems with the file itself (undecodable bytes,
syntax errors, binary content) become diagnostics, never exceptions.
"""

from __future__ import annotations

import ast
import gc
import io
import sys
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from auditor.cache import digest_of
from auditor.index.extract import FactExtractor, module_name_for
from auditor.index.facts import ModuleFacts
from auditor.index.parsing import parse_module
from auditor.index.roles import RoleVisitor
from auditor.models import Diagnostic, Finding
from auditor.suppress import Suppression, find_suppressions, spread_over_headers
from auditor.walk import Dispatcher, ModuleContext


@dataclass
class FileResult:
    relpath: str
    digest: str
    facts: ModuleFacts | None = None
    findings: list[Finding] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressions: dict[int, Suppression] = field(default_factory=dict)
    tree: ast.Module | None = None  # kept only in-process; never pickled (see __getstate__)
    source: str | None = None

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["tree"] = None
        state["source"] = None
        return state


def decode_source(data: bytes) -> str:
    """Decode as Python does: BOM, then a PEP 263 coding cookie, then UTF-8."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding)
    return text[1:] if text.startswith("\ufeff") else text


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic GC while building many acyclic objects (a parsed tree, an unpickled cache).

    The collector would walk every live object again and again as allocations pile up;
    reference counting frees them all the same."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Analyzer:
    """Holds the enabled module rules (built once per process) and analyses files."""

    def __init__(self, module_rules: list) -> None:
        # The shared walk recurses once per tree level; long `a + b + ...` chains go deep.
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 6000))
        self.rules = module_rules
        self.extractor = FactExtractor()
        self.roles = RoleVisitor()
        self.dispatcher = Dispatcher([self.extractor, self.roles, *module_rules])

    def analyze(self, root: Path, relpath: str, keep_tree: bool = False, data: bytes | None = None) -> FileResult:
        with paused_gc():
            return self._analyze(root, relpath, keep_tree, data)

    def _analyze(self, root: Path, relpath: str, keep_tree: bool, data: bytes | None) -> FileResult:
        if data is None:
            try:
                data = (root / relpath).read_bytes()
            except OSError as exc:
                return FileResult(relpath, "", diagnostics=[_diag(relpath, "unreadable", f"cannot read: {exc.strerror}")])
        result = FileResult(relpath, digest_of(data))
        if b"\0" in data:
            result.diagnostics.append(_diag(relpath, "binary", "binary content (NUL bytes); skipped"))
            return result
        try:
            source = decode_source(data)
        except (UnicodeDecodeError, SyntaxError, LookupError) as exc:
            reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
            result.diagnostics.append(_diag(relpath, "decode-error", f"not valid text in its declared encoding ({reason}); skipped"))
            return result
        try:
            parsed = parse_module(source, relpath)  # newer grammar (3.12-3.14) read too, lines kept
        except SyntaxError as exc:
            hint = ""
            if exc.msg and ("Missing parentheses" in exc.msg or "print" in exc.msg):
                hint = " (this looks like Python 2 code)"
            result.diagnostics.append(
                _diag(
                    relpath,
                    "syntax-error",
                    f"syntax error at line {exc.lineno}: {exc.msg}{hint}; skipped "
                    f"(what it defines, say a login check, counts as unknown)",
                )
            )
            return result
        except (ValueError, RecursionError, MemoryError) as exc:
            result.diagnostics.append(_diag(relpath, "syntax-error", f"cannot parse: {type(exc).__name__}; skipped"))
            return result
        # Rules and fixers read the file's own text (a rewrite for a newer grammar moves columns
        # on the rewritten lines only); comments are looked up in the text the tree came from.
        tree = parsed.tree
        ctx = ModuleContext(relpath, source, tree, module_name_for(relpath))
        self.extractor.begin(ctx)
        self.roles.begin(ctx)
        for rule in self.rules:
            rule.begin(ctx)
        try:
            self.dispatcher.walk(ctx)
            self.extractor.end(ctx)
            self.roles.end(ctx)
            for rule in self.rules:
                rule.end(ctx)
        except RecursionError:
            result.diagnostics.append(_diag(relpath, "syntax-error", "too deeply nested to analyse; skipped"))
            return result
        except Exception as exc:  # a bug in a rule must not end the scan; it is reported
            result.diagnostics.append(_diag(relpath, "rule-error", f"internal error analysing this file: {type(exc).__name__}: {exc}"))
        result.facts = self.extractor.facts
        result.facts.code_roles = self.roles.facts
        result.findings = ctx.findings
        result.suppressions = spread_over_headers(find_suppressions(parsed.source), tree)
        if keep_tree:
            result.tree = tree
            result.source = source
        return result


def _diag(relpath: str, kind: str, message: str) -> Diagnostic:
    return Diagnostic(path=relpath, kind=kind, message=message)

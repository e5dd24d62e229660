"""What `auditor.cli` and the command modules in `auditor.commands` share: exit codes, the
usage error, the rule-filter flags, the progress line and the scan helper.

The dependency runs one way: `auditor.cli` imports `auditor.commands`, and both import this
module; nothing here imports either of them.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def _codes(value: str) -> list[str]:
    return [c.strip().upper() for c in value.split(",") if c.strip()]


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def add_rule_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--select", type=_codes, help="only these rule codes or prefixes (comma-separated: PR2,PR301)")
    parser.add_argument("--ignore", type=_codes, help="skip these rule codes or prefixes")
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    parser.add_argument("--no-cache", action="store_true", help="analyse every file again (same as PRODREADY_NO_CACHE=1)")
    parser.add_argument("--jobs", "-j", type=_positive, metavar="N", help="worker processes for large trees (default: the CPUs this process may use)")


class ProgressLine:
    """One line on stderr, rewritten in place, for work that lasts over a second (a terminal only)."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.started = time.perf_counter()
        self.width = 0

    def show(self, text: str) -> None:
        if self.enabled and time.perf_counter() - self.started > 1.0:
            sys.stderr.write("\r" + text.ljust(self.width))
            sys.stderr.flush()
            self.width = max(self.width, len(text))

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")


def scan_for_cli(args: argparse.Namespace, path: str | list[str]):
    """Run the engine with the CLI's filters and a progress line on stderr for long scans.

    Several paths are scanned as one project rooted at their deepest common folder (see
    `scan_scope`): one index, one report, paths relative to that folder."""
    from auditor.config import ConfigError, load_config
    from auditor.engine import resolve_root, scan
    from auditor.errors import ScanError
    from auditor.rules.base import resolve_codes

    paths = [path] if isinstance(path, str) else list(path)
    overrides = {}
    try:
        if args.select:
            overrides["select"] = resolve_codes(args.select)
        if args.ignore:
            overrides["ignore"] = resolve_codes(args.ignore)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if getattr(args, "fail_on", None):
        overrides["fail-on"] = args.fail_on
    root, only = scan_scope(paths)
    if only:
        try:  # the project's own excludes still apply, after (so over) the scope's patterns
            config, _ = load_config(resolve_root(root), overrides)
        except ConfigError as exc:
            raise ScanError(str(exc)) from None
        overrides["exclude"] = only + list(config.exclude)
    with ProgressLine(enabled=not args.no_progress) as line:
        return scan(
            root,
            overrides=overrides,
            progress=lambda phase, done, total: line.show(f"{'scanning' if phase == 'parse' else 'checking'} {done}/{total} files"),
            use_cache=False if args.no_cache else None,
            jobs=args.jobs,
        )


def scan_scope(paths: list[str]) -> tuple[str, list[str]]:
    """(folder to scan, exclude patterns that keep its Python files to `paths`).

    One path is scanned as given. Several paths are one project rooted at their deepest common
    folder: report paths are relative to it, and the non-Python files on the way down to each
    path (pyproject.toml, requirements.txt, .env.example next to the project) are still read,
    since rules look at them. Every path must be a folder; paths that share only the file
    system's root are refused."""
    from auditor.engine import resolve_root
    from auditor.errors import ScanError

    if len(paths) <= 1:
        return (paths[0] if paths else "."), []
    resolved = []
    for path in paths:
        try:
            resolved.append(resolve_root(path))
        except ScanError as exc:
            raise UsageError(str(exc)) from None
    root = Path(os.path.commonpath([str(p) for p in resolved]))
    if root == Path(root.anchor) or root == Path.home():
        raise UsageError(f"{', '.join(paths)} have no common project folder (only {root}); scan them one at a time")
    if root in resolved:  # one path holds all the others: it is scanned whole
        return str(root), []
    return str(root), _scope_patterns(sorted({p.relative_to(root).as_posix() for p in resolved}))


def _scope_patterns(relative: list[str]) -> list[str]:
    """Gitignore patterns that skip every Python file and folder off the way to `relative`."""
    from auditor.discovery import OTHER_NAMES, OTHER_SUFFIXES

    keep_files = sorted(f"*{suffix}" for suffix in OTHER_SUFFIXES) + sorted(_escape(name) for name in OTHER_NAMES)
    children: dict[str, set[str]] = {}  # folder on the way -> its child on the way to a path
    for rel in relative:
        parts = rel.split("/")
        for depth in range(len(parts)):
            children.setdefault("/".join(parts[:depth]), set()).add(parts[depth])
    # A path that is itself on the way to another (`a` and `a/b`) is scanned whole.
    whole = set(relative)
    patterns: list[str] = []
    for folder in sorted(children, key=lambda f: (f.count("/"), f)):
        if folder in whole or any(folder.startswith(w + "/") for w in whole):
            continue
        prefix = "/" + "".join(_escape(part) + "/" for part in folder.split("/") if part)
        patterns.append(prefix + "*")
        patterns += [f"!{prefix}{_escape(child)}/" for child in sorted(children[folder])]
        patterns += [f"!{prefix}{name}" for name in keep_files]
    return patterns


def _escape(name: str) -> str:
    """A file name as a literal gitignore pattern."""
    escaped = "".join("\\" + c if c in "*?[]\\!#" else c for c in name)
    return "\\" + escaped if escaped.startswith(" ") else escaped


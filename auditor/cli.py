"""`prodready` command line. Every command calls the same engine functions as the wizard.

Exit codes: 0 nothing at or above --fail-on, 1 findings, 2 usage or runtime error, or nothing
to audit (no Python files, no web app): one clear line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import sys
from pathlib import Path

from auditor import __version__
from auditor.cli_support import (  # noqa: F401  (ProgressLine and scan_for_cli: tests and callers import them from here)
    EXIT_CLEAN,
    EXIT_ERROR,
    EXIT_FINDINGS,
    ProgressLine,
    UsageError,
    add_rule_filters,
    scan_for_cli,
)
from auditor.models import Severity


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prodready",
        description="Find and fix what breaks a quickly-built Python web backend in production. "
        "With no command, opens the wizard on the current folder.",
    )
    parser.add_argument("--version", action="version", version=f"prodready {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = sub.add_parser("scan", help="audit a project and report findings (for CI and reviewers)")
    scan.add_argument(
        "path", nargs="*", default=["."],
        help="project folder (default: .); several folders are scanned as one project rooted at their common folder",
    )  # fmt: skip
    scan.add_argument("--format", default="text", help="text | json | sarif | markdown | github | html")
    scan.add_argument("--fail-on", choices=[s.value for s in Severity], help="lowest severity that exits 1 (default: low)")
    scan.add_argument("--output", "-o", type=Path, help="also write the report to this file")
    scan.add_argument("--output-format", help="format of the --output file (default: --format)")
    scan.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings (errors still exit 2)")
    once = scan.add_mutually_exclusive_group()
    once.add_argument("--baseline", type=Path, metavar="FILE", help="report only findings that are not in this baseline")
    once.add_argument("--write-baseline", type=Path, metavar="FILE", help="record today's findings in FILE and exit 0")
    once.add_argument(
        "--add-ignore", metavar="REASON", help="add `# prodready: ignore[CODE]  REASON` on the line of every current finding"
    )
    add_rule_filters(scan)
    scan.set_defaults(handler=cmd_scan)

    rules = sub.add_parser("rules", help="list every rule")
    rules.add_argument("--format", choices=["text", "json", "markdown"], default="text", help="markdown: the docs/rules.md reference")
    rules.set_defaults(handler=cmd_rules)

    explain = sub.add_parser("explain", help="explain one rule: what it finds, why it matters, how to fix it")
    explain.add_argument("code", help="rule code, e.g. PR301")
    explain.set_defaults(handler=cmd_explain)

    from auditor.commands import REGISTRARS

    for register in REGISTRARS:  # commands that live in their own modules (fix, undo, wizard, ...)
        register(parser, sub)
    return parser


def cmd_scan(args: argparse.Namespace) -> int:
    from auditor.report import FORMATS
    from auditor.scoring import audit_gap

    output_format = args.output_format or args.format
    for name in (args.format, output_format):
        if name not in FORMATS:
            raise UsageError(f"unknown format {name!r}: choose one of {', '.join(FORMATS)}")
    known = _load_baseline(args.baseline) if args.baseline else None
    # One scan, one report, exit: reference counting frees what this process drops, and the
    # cyclic collector would only walk the cached results again (tens of ms on a large tree).
    gc.disable()
    result = scan_for_cli(args, args.path)
    if args.write_baseline:
        from auditor.baseline import write_baseline

        try:
            count = write_baseline(result, args.write_baseline)
        except OSError as exc:
            raise UsageError(f"cannot write {args.write_baseline}: {exc.strerror}") from None
        print(f"prodready: recorded {count} findings in {args.write_baseline}", file=sys.stderr)
        return EXIT_CLEAN
    if args.add_ignore is not None:
        from auditor.add_ignore import add_ignores

        print(add_ignores(result, args.add_ignore).summary())
        return EXIT_CLEAN
    if known is not None:
        from auditor.baseline import new_findings

        fresh = new_findings(result, known)
        print(f"prodready: {len(result.findings) - len(fresh)} findings from the baseline not shown", file=sys.stderr)
        result = dataclasses.replace(result, findings=fresh)
    color = args.format == "text" and sys.stdout.isatty()
    report = FORMATS[args.format](result, color=color)
    sys.stdout.write(report + "\n")
    if args.output:
        if output_format != args.format or color:
            report = FORMATS[output_format](result, color=False)
        try:
            args.output.write_text(report + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror}") from None
    threshold = result.config.fail_on.rank
    failing = any(f.severity.rank >= threshold for f in result.findings)
    if failing and not args.exit_zero:
        return EXIT_FINDINGS
    gap = audit_gap(result)
    if gap is not None:  # nothing a readiness step reviews: not "ready", not a clean pass either
        print(f"prodready: nothing to audit: {gap[1]}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_CLEAN


def _load_baseline(path: Path):
    from auditor.baseline import BaselineError, load_baseline

    try:
        return load_baseline(path)
    except BaselineError as exc:
        raise UsageError(str(exc)) from None


def cmd_rules(args: argparse.Namespace) -> int:
    import json

    from auditor.rules.base import all_rules

    rules = all_rules()
    if args.format == "markdown":
        from auditor.docs import render_rules_markdown

        sys.stdout.write(render_rules_markdown())
        return EXIT_CLEAN
    if args.format == "json":
        rows = [
            {
                "code": code,
                "name": cls.name,
                "step": cls.step().value,
                "category": cls.category.value,
                "severity": cls.severity.value,
                "confidence": cls.confidence.value,
                "fix_safety": cls.fix().value if cls.fix() else None,
            }
            for code, cls in rules.items()
        ]
        print(json.dumps(rows, indent=2))
        return EXIT_CLEAN
    current = None
    for code, cls in rules.items():
        if cls.step() != current:
            current = cls.step()
            print(f"\n{current.number}. {current.title}")
        fix = cls.fix().value if cls.fix() else "-"
        print(f"  {code}  {cls.name:<40} {cls.severity.value:<7} {cls.category.value:<16} fix: {fix}")
    return EXIT_CLEAN


def cmd_explain(args: argparse.Namespace) -> int:
    from auditor.rules.base import all_rules

    rules = all_rules()
    cls = rules.get(args.code.upper())
    if cls is None:
        raise UsageError(f"unknown rule code {args.code!r} (see `prodready rules`)")
    print(f"{cls.code} {cls.name} ({cls.step().title} / {cls.category.value}, severity {cls.severity.value})\n")
    print(cls.doc.strip())
    return EXIT_CLEAN


def _command_parser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's own parser, so the usage line shown is the command's
        _command_parser(parser, args.command).error(f"unrecognized arguments: {' '.join(extra)}")
    from auditor.errors import ScanError

    try:
        if args.command is None:
            default = getattr(parser, "default_handler", None)
            if default is None:
                parser.print_help()
                return EXIT_CLEAN
            return default(args)
        return args.handler(args)
    except (UsageError, ScanError) as exc:
        print(f"prodready: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("prodready: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_CLEAN
    except OSError as exc:
        print(f"prodready: error: {exc.strerror or exc}: {getattr(exc, 'filename', '') or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR


def run() -> int:
    """The `prodready` program: main(), then no last pass of the garbage collector at exit over
    what the command leaves behind (a plan keeps hundreds of thousands of libcst nodes: that
    pass took most of a second). Tests call main(), which leaves the collector alone."""
    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    raise SystemExit(run())

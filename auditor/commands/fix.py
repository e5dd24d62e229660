"""`prodready fix PATH` (dry run by default, `--apply` to write) and `prodready undo [PATH]`.

The dry run and the apply build the same plan from the same flags: what the diff shows is
exactly what `--apply` writes. Dry run exit codes: 1 when there is something to apply (so CI
can fail on unfixed gaps), 0 when there is nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser, sub) -> None:
    from auditor.cli_support import add_rule_filters

    fix = sub.add_parser(
        "fix",
        help="show the fixes as a diff (dry run); --apply writes them",
        description="Plan codemods for the findings. Without --apply nothing is written: the diff "
        "shows exactly what --apply would write. Exit code 1 when there is something to apply.",
    )
    fix.add_argument("path", nargs="*", default=["."], help="project folder (default: .); one project at a time")
    mode = fix.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print the diff and write nothing (the default)")
    mode.add_argument("--apply", action="store_true", help="write the fixes (backed up for `prodready undo`)")
    fix.add_argument(
        "--include-review",
        action="store_true",
        help="also the fixes that change behaviour (marked review: validation, pooling, error handlers)",
    )
    fix.add_argument("--diff-file", type=Path, metavar="FILE", help="also write the diff to FILE (a patch `git apply` takes)")
    fix.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="json: the plan (fixes, findings not fixed with the reason, diff, dependencies, notes) as one JSON object",
    )
    fix.add_argument(
        "--verify",
        action="store_true",
        help="run the project's own tests before and after the fixes (on a copy, no network but "
        "127.0.0.1), and boot the app there to check that signup, login, create and list still answer 2xx; "
        "leave out any fix that makes a passing test or one of those fail",
    )
    fix.add_argument(
        "--no-rehearse",
        action="store_true",
        help="with --verify: only the tests (by default the app is also booted on a copy and signup, login, "
        "create and list must still answer 2xx with the fixes)",
    )
    fix.add_argument(
        "--verify-timeout", type=float, default=300.0, metavar="SECONDS", help="time allowed for one run of the tests (default: 300)"
    )
    add_rule_filters(fix)
    fix.set_defaults(handler=cmd_fix)

    undo = sub.add_parser("undo", help="restore the files as they were before the last `fix --apply`")
    undo.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
    undo.add_argument(
        "--force",
        action="store_true",
        help="undo even when files changed since the apply: their current versions are first copied to the "
        "backup's kept-at-undo/ folder",
    )
    undo.set_defaults(handler=cmd_undo)


def _say(line: str) -> None:
    print(line, file=sys.stderr)


def cmd_fix(args: argparse.Namespace) -> int:
    from auditor.cli_support import EXIT_CLEAN, EXIT_FINDINGS, ProgressLine, UsageError, scan_for_cli
    from fixers import FixError, apply_plan, plan_fixes
    from fixers.pipeline.plan import why_not_fixed

    result = scan_for_cli(args, _one_project(args.path))
    try:
        with ProgressLine(enabled=not args.no_progress) as line:
            plan = plan_fixes(
                result,
                include_review=args.include_review,
                progress=lambda fixer, done, total: line.show(f"preparing fixes {done + 1}/{total}: {fixer}"),
            )
    except FixError as exc:
        raise UsageError(str(exc)) from None
    if args.verify:
        plan = _verify(plan, args)
    if args.diff_file:
        try:
            args.diff_file.write_text(plan.diff(), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.diff_file}: {exc.strerror}") from None
    as_json = args.format == "json"
    if not as_json:
        for finding, reason in plan.skipped:
            _say(f"prodready: {finding.location} {finding.rule} not fixed automatically: {why_not_fixed(reason)}")
    review_left = 0
    if not args.include_review:
        review_left = sum(1 for f in result.findings if f.fix_safety is not None and f.fix_safety.value == "review")

    if not args.apply and as_json:
        print(json.dumps(plan.to_json(), indent=2))
        return EXIT_CLEAN if plan.is_empty else EXIT_FINDINGS
    if not args.apply:
        sys.stdout.write(plan.diff(color=sys.stdout.isatty()))
        _say(f"prodready: {plan.summary()}" + ("" if plan.is_empty else " (dry run: nothing written; --apply writes it)"))
        if review_left:
            _say(f"prodready: {review_left} more fix(es) change behaviour; add --include-review to see them")
        for note in plan.notes:
            _say(f"prodready: {note}")
        return EXIT_CLEAN if plan.is_empty else EXIT_FINDINGS

    try:
        report = apply_plan(plan)
    except FixError as exc:
        raise UsageError(str(exc)) from None
    if as_json:
        print(json.dumps({**plan.to_json(), "applied": _applied_json(report, result.root)}, indent=2))
        return EXIT_CLEAN
    if report.backup_dir is None:
        _say("prodready: nothing to apply")
        return EXIT_CLEAN
    for relpath in report.changed:
        print(f"fixed    {relpath}")
    for relpath in report.created:
        print(f"created  {relpath}")
    for finding in report.findings_gone:
        print(f"gone     {finding.rule} {finding.location} {finding.name}")
    for finding in report.findings_left:
        print(f"left     {finding.rule} {finding.location} {finding.name} (still reported after the fix)")
    if report.dependencies:
        print(f"added dependencies: {', '.join(report.dependencies)} (install them before running the app)")
    for note in plan.notes:
        print(f"to do by hand: {note}")
    backup = report.backup_dir.relative_to(result.root)
    _say(f"prodready: {report.summary()}; backup in {backup} (`prodready undo` restores it)")
    return EXIT_CLEAN


def _one_project(paths: list[str]) -> str:
    """fix writes files, backups and an undo record for one project: several folders are refused
    (scan reads several as one project; fix would have to guess where new files go)."""
    from auditor.cli_support import UsageError

    if len(paths) > 1:
        runs = " and ".join(f"`prodready fix {p}`" for p in paths[:3])
        raise UsageError(f"fix works on one project folder at a time: run {runs}{' ...' if len(paths) > 3 else ''} one after the other")
    return paths[0]


def _verify(plan, args: argparse.Namespace):
    """The plan once the project's tests have run without and with it (groups that break a
    passing test left out); exit 2 when the tests cannot run at all."""
    from auditor.cli_support import ProgressLine, UsageError
    from fixers import FixError
    from fixers.pipeline.verify import WHAT_IT_RUNS, verify_plan

    if args.verify_timeout <= 0:
        raise UsageError("--verify-timeout must be a positive number of seconds")
    if plan.is_empty:
        return plan
    _say(f"prodready: {WHAT_IT_RUNS}")
    happy = None
    if not args.no_rehearse:  # the app's happy paths too: a fix must not break signup, login, create, list
        from auditor.rehearse.happy_check import HappyPaths, can_rehearse

        why_not = can_rehearse(plan.result)
        if why_not:
            _say(f"prodready: verify: the app cannot be rehearsed ({why_not}); checking the fixes with your tests only")
        else:
            _say("prodready: verify: the app also boots on each copy (your code, 127.0.0.1 only): signup, login, create and list must answer 2xx")
            happy = HappyPaths(timeout=min(args.verify_timeout, 90.0), say=_say)
    try:
        with ProgressLine(enabled=not args.no_progress) as line:
            report = verify_plan(
                plan,
                include_review=args.include_review,
                timeout=args.verify_timeout,
                progress=lambda what, done, most: line.show(f"verify, run {done + 1}: {what}"),
                also=happy,
            )
    except FixError as exc:
        raise UsageError(str(exc)) from None
    for text in report.lines(output=True):
        _say(f"prodready: {text}" if not text.startswith(" ") else text)
    return report.plan


def _applied_json(report, root: Path) -> dict:
    def finding(f) -> dict:
        return {"rule": f.rule, "path": f.path, "line": f.line}

    return {
        "changed": report.changed,
        "created": report.created,
        "findings_gone": [finding(f) for f in report.findings_gone],
        "findings_left": [finding(f) for f in report.findings_left],
        "backup": report.backup_dir.relative_to(root).as_posix() if report.backup_dir else None,
    }


def cmd_undo(args: argparse.Namespace) -> int:
    from auditor.cli_support import EXIT_CLEAN, EXIT_ERROR, UsageError
    from auditor.engine import resolve_root
    from fixers import FixError, undo
    from fixers.pipeline.undo import ChangedSinceApplyError

    root = resolve_root(args.path)
    try:
        report = undo(root, force=args.force)
    except ChangedSinceApplyError as exc:  # the files are listed in full, with the way out
        _say(f"prodready: cannot undo: {len(exc.relpaths)} file(s) changed since the fix backed up in {exc.backup} was applied:")
        for relpath in exc.relpaths:
            _say(f"  {relpath}")
        _say(
            "prodready: nothing was restored. `prodready undo --force` first keeps a copy of these files as they are "
            f"now in {exc.backup}/kept-at-undo/, then restores the backup"
        )
        return EXIT_ERROR
    except FixError as exc:
        raise UsageError(str(exc)) from None
    for relpath in report.restored:
        print(f"restored {relpath}")
    for relpath in report.deleted:
        print(f"deleted  {relpath}")
    for relpath in report.kept:
        print(f"kept     {relpath} (as it was before this undo) in {report.kept_dir.relative_to(root) / relpath}")
    _say(f"prodready: {report.summary()}")
    return EXIT_CLEAN

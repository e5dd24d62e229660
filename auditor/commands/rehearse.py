"""`prodready rehearse PATH`: boot the app on 127.0.0.1 against a throwaway database and run the
failure paths against it. Exit codes: 1 when a probe failed (the problem is real), 0 when none
did, 2 when the rehearsal could not run (the app did not boot: its last log lines are shown)."""

from __future__ import annotations

import argparse
import sys

from auditor.rehearse.run import WHAT_IT_RUNS


def register(parser: argparse.ArgumentParser, sub) -> None:
    rehearse = sub.add_parser(
        "rehearse",
        help="boot the app on 127.0.0.1 against a throwaway database and run the failure paths (runs your code)",
        description=f"{WHAT_IT_RUNS} It signs up two users through the app's own routes, then sends what "
        "production traffic will: no token, another user's objects, blank and wrong-typed bodies, the same "
        "request twice, 30 wrong passwords, expired and forged tokens. Each probe names the rule it "
        "confirms. Exit code 1 when a probe failed (the problem is real), 0 when none did, 2 on error.",
    )
    rehearse.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
    rehearse.add_argument(
        "--format", choices=["text", "json", "html"], default="text",
        help="json: the probes as one JSON object; html: the scan's HTML report with the rehearsal's table, the findings it confirmed marked",
    )  # fmt: skip
    rehearse.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE instead of the standard output")
    rehearse.add_argument("--boot-timeout", type=float, default=30.0, metavar="SECONDS", help="time for the app to start answering (default: 30)")
    rehearse.add_argument("--request-timeout", type=float, default=5.0, metavar="SECONDS", help="time for one request (default: 5)")
    rehearse.add_argument("--timeout", type=float, default=180.0, metavar="SECONDS", help="time for the whole rehearsal (default: 180)")
    rehearse.add_argument("--list-rows", type=int, default=500, metavar="N", help="rows created through the API before the unpaginated_list probe reads the list (default: 500; more than a page)")
    rehearse.add_argument("--concurrent", type=int, default=50, metavar="N", help="simultaneous requests of the concurrency probe (default: 50)")
    rehearse.add_argument(
        "--database", choices=["sqlite", "postgres"], default=None,
        help="by default the kind the app uses: a private PostgreSQL cluster (started with the system's initdb and pg_ctl "
        "in a temporary folder; the concurrency probe then counts open connections) when the app's database URL is "
        "PostgreSQL and PostgreSQL is installed, else a throwaway SQLite file; sqlite or postgres forces one",
    )  # fmt: skip
    rehearse.add_argument(
        "--database-url", metavar="URL",
        help="use this database instead of a throwaway one (tables are created and rows written in it); only a local "
        "one (127.0.0.1, localhost, ::1, a Unix socket) unless --allow-remote-database is given",
    )  # fmt: skip
    rehearse.add_argument("--allow-remote-database", action="store_true", help="let --database-url point at another machine")
    rehearse.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    rehearse.set_defaults(handler=cmd_rehearse)


def cmd_rehearse(args: argparse.Namespace) -> int:
    from auditor.rehearse import report
    from auditor.rehearse.run import RehearsalError, rehearse

    def progress(line: str) -> None:
        if not args.no_progress:
            print(line, file=sys.stderr, flush=True)

    if args.no_progress:
        print(WHAT_IT_RUNS, file=sys.stderr)  # said even when quiet: the user's code runs
    scanned = None
    if args.format == "html":  # the report is the scan's, with the rehearsal in it: scan once for both
        from auditor.engine import ScanError, scan

        try:
            scanned = scan(args.path)
        except ScanError as exc:
            print(f"prodready rehearse: {exc}", file=sys.stderr)
            return 2
    try:
        result = rehearse(
            args.path, scan_result=scanned, boot_timeout=args.boot_timeout, request_timeout=args.request_timeout,
            total_timeout=args.timeout, list_rows=args.list_rows, concurrent=args.concurrent,
            database=args.database, database_url=args.database_url,
            allow_remote_database=args.allow_remote_database, progress=progress,
        )  # fmt: skip
    except RehearsalError as exc:
        print(f"prodready rehearse: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("prodready rehearse: stopped; the app was shut down and its temporary data removed", file=sys.stderr)
        return 2
    if args.format == "html":
        import json

        from auditor.report.html import render_html

        text = render_html(scanned, rehearsal=json.loads(report.to_json(result)))
    else:
        text = report.to_json(result) if args.format == "json" else report.to_text(result)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as out:
                out.write(text + "\n")
        except OSError as exc:
            print(f"prodready rehearse: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
            return 2
        print(f"prodready rehearse: report written to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 1 if result.failed else 0

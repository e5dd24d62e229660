"""The rehearsal's results as a text table (for people) or JSON (for pipelines).

JSON contract (version bumps on a breaking change):
{"version": 1, "tool": "prodready", "app": "app.main:app", "probes": [{"kind", "method", "path",
 "outcome": "failed" | "passed" | "skipped", "rule": "PR2xx" | null, "evidence": {...}, "reason"}]}
"failed" means the problem is real: the app was seen doing it.
"""

from __future__ import annotations

import json

from auditor.rehearse.compare import answered
from auditor.rehearse.run import WHAT_IT_RUNS, Rehearsal

MARKS = {"failed": "FAILED", "passed": "passed", "skipped": "skipped"}


def to_json(rehearsal: Rehearsal) -> str:
    data = {
        "version": 1,
        "tool": "prodready",
        "app": rehearsal.app,
        "framework": rehearsal.framework,
        "root": rehearsal.root,
        "summary": summary(rehearsal),
        "probes": rehearsal.probes,
        "happy_paths": rehearsal.happy_paths,
        "confirmed_findings": rehearsal.confirmed,
        "users": rehearsal.users,
        "notes": rehearsal.notes,
    }
    return json.dumps(data, indent=2, default=str)


def summary(rehearsal: Rehearsal) -> dict:
    counts = {"failed": 0, "passed": 0, "skipped": 0}
    for probe in rehearsal.probes:
        counts[probe["outcome"]] = counts.get(probe["outcome"], 0) + 1
    return {**counts, "requests": rehearsal.requests, "seconds": round(rehearsal.duration, 1)}


def to_text(rehearsal: Rehearsal, show_passed: bool = True) -> str:
    lines = [WHAT_IT_RUNS, f"app: {rehearsal.app} ({rehearsal.framework})", ""]
    rows = [p for p in rehearsal.probes if show_passed or p["outcome"] != "passed"]
    order = {"failed": 0, "passed": 1, "skipped": 2}
    rows.sort(key=lambda p: order.get(p["outcome"], 3))
    headers = ("outcome", "probe", "route", "rule", "what happened")
    table = [headers] + [
        (MARKS.get(p["outcome"], p["outcome"]), p["kind"], f"{p['method'] or ''} {p['path'] or ''}".strip() or "-", p["rule"] or "-", p["reason"])
        for p in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(4)]
    for row in table:
        lines.append("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + str(row[4]))
    if rehearsal.users:
        lines += ["", f"users: {rehearsal.users}"]
    happy = [h for h in rehearsal.happy_paths if not answered(h["status"])]
    if happy:
        lines += ["", "happy paths that did not answer 2xx (or an HTML form's redirect):"] + [f"  {h['step']}: {h['method']} {h['path']} -> {h['status']}" for h in happy]
    if rehearsal.confirmed:
        lines += ["", f"the scan's findings this rehearsal showed to be real ({len(rehearsal.confirmed)}):"]
        lines += [f"  {f['rule']}  {f['path']}:{f['line']}  {f['message']}" for f in rehearsal.confirmed]
    counts = summary(rehearsal)
    lines += [
        "",
        f"{counts['failed']} failed (the problem is real), {counts['passed']} passed, {counts['skipped']} skipped; "
        f"{counts['requests']} requests in {counts['seconds']} s",
    ]
    lines += [f"note: {n}" for n in rehearsal.notes]
    return "\n".join(lines)

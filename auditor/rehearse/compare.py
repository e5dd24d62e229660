"""Two rehearsals side by side (before and after fixes): which gaps are gone, which remain, and
whether a fix broke a happy path (signup, login, create, list no longer answering 2xx); and the
scan's findings a rehearsal confirmed.

For `fix --verify` and the wizard's "rehearse again": a fix that turns a happy path red is not
a fix to keep."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.rehearse.run import Rehearsal


@dataclass
class Comparison:
    fixed: list[dict] = field(default_factory=list)  # failed before, passed after
    still_failing: list[dict] = field(default_factory=list)
    new_failures: list[dict] = field(default_factory=list)  # passed (or absent) before, failed after
    broken_happy_paths: list[str] = field(default_factory=list)  # "create task: POST /tasks/ 200 -> 500"


def _key(probe: dict) -> tuple:
    return probe["kind"], probe["method"], probe["path"]


FORM_REDIRECTS = (301, 302, 303)  # what a browser gets when an HTML form (signup, login) worked


def answered(status) -> bool:
    """A happy path worked: a 2xx, or the redirect an HTML form answers with (post/redirect/get)."""
    return isinstance(status, int) and (200 <= status < 300 or status in FORM_REDIRECTS)


_ok = answered


def compare(before: Rehearsal, after: Rehearsal) -> Comparison:
    result = Comparison()
    earlier = {_key(p): p for p in before.probes}
    for probe in after.probes:
        old = earlier.get(_key(probe))
        was_failed = old is not None and old["outcome"] == "failed"
        if probe["outcome"] == "failed":
            (result.still_failing if was_failed else result.new_failures).append(probe)
        elif probe["outcome"] == "passed" and was_failed:
            result.fixed.append(probe)
    now = {h["step"]: h for h in after.happy_paths}
    for step in before.happy_paths:
        if not _ok(step["status"]):
            continue
        later = now.get(step["step"])
        if later is None or not _ok(later["status"]):
            status = "not reached" if later is None else later["status"]
            result.broken_happy_paths.append(f"{step['step']}: {step['method']} {step['path']} {step['status']} -> {status}")
    return result


# Rules whose finding sits outside the route's handler (the token is made in auth.py, the engine
# in database.py): a failed probe confirms the rule's findings in helpers, not those in the
# handlers of other routes (an invite token made in its own route is another token).
PROJECT_WIDE = {"PR210", "PR212", "PR230", "PR231"}
SAME_PROBE = {"PR301": {"PR301", "PR302", "PR303"}, "PR302": {"PR301", "PR302", "PR303"}}


def confirmed(findings, rehearsal: Rehearsal) -> set:
    """The findings a failed probe showed to be real: same rule (or the same kind of gap), in the
    handler of the route the probe called."""
    where: dict[tuple[str, str], list] = {}
    for route in rehearsal.routes:
        if route.get("where"):
            where.setdefault((route["method"], route["path"].rstrip("/")), []).append(route["where"])
    handlers = [span for spans in where.values() for span in spans]

    def inside(finding, spans) -> bool:
        return any(finding.path == relpath and first <= finding.line <= last for relpath, first, last in spans)

    found = set()
    for probe in rehearsal.probes:
        if probe["outcome"] != "failed" or not probe["rule"]:
            continue
        rules = SAME_PROBE.get(probe["rule"], {probe["rule"]})
        spans = where.get((probe["method"], (probe["path"] or "").rstrip("/")), [])
        for finding in findings:
            if finding.rule not in rules:
                continue
            if inside(finding, spans) or (finding.rule in PROJECT_WIDE and not inside(finding, handlers)):
                found.add(finding)
    return found

"""Two rehearsals side by side (before and after fixes): which gaps are gone, which remain, and
whether a fix broke a happy path (signup, login, create, list no longer answering 2xx).

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


def _ok(status) -> bool:
    return isinstance(status, int) and 200 <= status < 300


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

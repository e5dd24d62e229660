"""What each MCP tool does, with the functions `prodready scan`, `explain`, `fix`, `undo` and
`rehearse` use: the same engine, the same JSON. Synchronous (the server runs them in a worker
thread); `progress(done, total, message)` reports long work. Failures the assistant can act on
raise Refused with one line."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from auditor.mcp import Refused
from auditor.mcp.plans import PlanStore, StoredPlan, changed_files, listed, snapshot

Progress = Callable[[float, "float | None", str], None]

# Scans run in this process alone: the server is multi-threaded (the SDK's transport), and
# forking worker processes from a multi-threaded process can deadlock them.
JOBS = 1

NEXT_STEP = (
    "Show the user this diff and what was not fixed. Call apply_fixes with this plan_id only after "
    "they agree; it is refused if any file changes first."
)


def _overrides(select: Sequence[str] | None, ignore: Sequence[str] | None) -> dict[str, Any]:
    from auditor.rules.base import resolve_codes

    overrides: dict[str, Any] = {}
    try:
        if select:
            overrides["select"] = resolve_codes([c.strip() for c in select if c.strip()])
        if ignore:
            overrides["ignore"] = resolve_codes([c.strip() for c in ignore if c.strip()])
    except ValueError as exc:
        raise Refused(str(exc).replace("(see `prodready rules`)", "(the prodready://rules/ resources list every rule)")) from None
    return overrides


def _scan(root: Path, overrides: dict[str, Any], progress: Progress):
    from auditor.engine import scan

    def show(phase: str, done: int, total: int) -> None:
        progress(done, total, f"{'scanning' if phase == 'parse' else 'checking'} {done}/{total} files")

    return scan(root, overrides=overrides, progress=show, jobs=JOBS)


# -- scan, explain, the rule reference --------------------------------------------------------------


def scan_json(root: Path, select: Sequence[str] | None, ignore: Sequence[str] | None, progress: Progress) -> dict:
    """The findings as `prodready scan --format json` prints them."""
    from auditor.report.json_report import contract

    return contract(_scan(root, _overrides(select, ignore), progress))


def rule_class(code: str):
    from auditor.rules.base import all_rules

    cls = all_rules().get(code.strip().upper())
    if cls is None:
        raise Refused(f"unknown rule code {code!r} (the prodready://rules/ resources list every rule)")
    return cls


def explain_text(code: str) -> str:
    """The rule's doc as `prodready explain CODE` prints it."""
    cls = rule_class(code)
    return f"{cls.code} {cls.name} ({cls.step().title} / {cls.category.value}, severity {cls.severity.value})\n\n{cls.doc.strip()}\n"


def rule_markdown(code: str) -> str:
    """The rule's section of the rule reference (docs/rules.md): doc, examples, fix safety."""
    from auditor.docs import rule_section

    return "\n".join(rule_section(rule_class(code))).rstrip("\n") + "\n"


# -- plan, apply, undo ------------------------------------------------------------------------------


def _chosen(result, refs: Sequence[dict], include_review: bool) -> tuple[list, list[dict]]:
    """The scan's findings named by (rule, path, line); those whose fix changes behaviour only
    with include_review (else listed as held back, with why)."""
    from fixers.registry import spec_for

    by_place = {(f.rule, f.path, f.line): f for f in result.findings}
    chosen, held = [], []
    for ref in refs:
        key = (str(ref.get("rule", "")).upper(), str(ref.get("path", "")), int(ref.get("line", 0)))
        finding = by_place.get(key)
        if finding is None:
            raise Refused(f"no finding {key[0]} at {key[1]}:{key[2]} in a scan of the project now: scan again and name findings from it")
        spec = spec_for(finding.rule)
        if spec is not None and spec.safety.value == "review" and not include_review:
            held.append({"rule": finding.rule, "path": finding.path, "line": finding.line,
                         "reason": "its fix changes behaviour (review): plan it with include_review=true"})  # fmt: skip
            continue
        chosen.append(finding)
    return chosen, held


def make_plan(
    store: PlanStore,
    root: Path,
    rules: Sequence[str] | None,
    findings: Sequence[dict] | None,
    include_review: bool,
    progress: Progress,
) -> dict:
    """`prodready fix --format json` for the project, plus the plan id apply_fixes takes."""
    from auditor.config import ConfigError, load_config
    from fixers import FixError, plan_fixes

    overrides = _overrides(rules, None)
    try:
        config, config_path = load_config(root, overrides)
    except ConfigError as exc:
        raise Refused(str(exc)) from None
    before = snapshot(root, config, config_path)
    result = _scan(root, overrides, progress)
    held: list[dict] = []
    chosen = None
    if findings:
        chosen, held = _chosen(result, findings, include_review)
    try:
        plan = plan_fixes(
            result,
            chosen,
            include_review=include_review,
            progress=lambda fixer, done, total: progress(done, total, f"preparing fixes {done + 1}/{total}: {fixer}"),
        )
    except FixError as exc:
        raise Refused(str(exc)) from None
    after = snapshot(root, result.config, result.config_path, plan.files_changed)
    # A file the plan edits but the scan does not read (a template it fills) is only in `after`.
    moved = [name for name in changed_files(before, after) if name in before or name not in plan.files_changed]
    if moved:
        raise Refused(f"{listed(moved)} changed while the plan was made: call plan_fixes again once the files are saved")
    out = plan.to_json()
    out["not_fixed"] += held
    out["summary"] = plan.summary()
    if not include_review and chosen is None:
        review = sum(1 for f in result.findings if f.fix_safety is not None and f.fix_safety.value == "review")
        out["review_left"] = review  # fixes that change behaviour, planned only with include_review
    if plan.is_empty:
        out["plan_id"] = None
        out["next"] = "Nothing to apply."
        return out
    stored = store.add(plan, after, include_review)
    out["plan_id"] = stored.plan_id
    out["next"] = NEXT_STEP
    return out


def _verify(stored: StoredPlan, progress: Progress):
    """The project's tests (and the app's happy paths) without and with the plan, as `fix --verify`."""
    from auditor.rehearse.happy_check import HappyPaths, can_rehearse
    from fixers.pipeline.verify import verify_plan

    notes = []
    steps = iter(range(1, 10_000))

    def say(line: str) -> None:
        progress(next(steps), None, line)

    happy = None
    why_not = can_rehearse(stored.plan.result)
    if why_not:
        notes.append(f"verify: the app cannot be rehearsed ({why_not}); the fixes were checked with the tests only")
    else:
        happy = HappyPaths(timeout=90.0, say=say)
    report = verify_plan(
        stored.plan,
        include_review=stored.include_review,
        progress=lambda what, done, most: progress(done, most, f"verify, run {done + 1}: {what}"),
        also=happy,
    )
    return report, notes + report.lines()


def _same_writes(a, b) -> bool:
    return [(e.relpath, e.new_bytes) for e in a.edits] == [(e.relpath, e.new_bytes) for e in b.edits]


def apply(store: PlanStore, root: Path, plan_id: str, verify: bool, progress: Progress) -> dict:
    """Write exactly the stored plan, after checking that no file changed since it was planned."""
    from auditor.commands.fix import _applied_json
    from fixers import FixError, apply_plan

    stored = store.get(plan_id, root)
    stored.check_current()
    verified = None
    if verify:
        try:
            report, verified = _verify(stored, progress)
        except FixError as exc:
            raise Refused(str(exc)) from None
        if not _same_writes(report.plan, stored.plan):
            # The tests took fixes out: that is another plan, which the user has not seen.
            smaller = store.add(report.plan, stored.files, stored.include_review) if not report.plan.is_empty else None
            return {
                "applied": False,
                "verify": verified,
                "why": "with some fixes your tests (or the app's happy paths) fail: nothing was written",
                "verified_plan": {**report.plan.to_json(), "plan_id": smaller.plan_id if smaller else None,
                                  "summary": report.plan.summary()},  # fmt: skip
                "next": "Show the user the verified plan's diff; apply_fixes with its plan_id applies only the fixes that passed."
                if smaller
                else "No fix passed the tests; nothing to apply.",
            }
        stored.check_current()  # the tests ran on copies, for minutes: check the files again
    progress(0, 1, "writing the fixes")
    try:
        report = apply_plan(stored.plan)
    except FixError as exc:
        raise Refused(str(exc)) from None
    store.mark_applied(stored)
    progress(1, 1, "written")
    out = {
        "applied": True,
        "plan_id": stored.plan_id,
        **_applied_json(report, root),
        "dependencies": list(report.dependencies),
        "notes": list(stored.plan.notes),
        "summary": report.summary(),
    }
    if report.backup_dir is not None:
        out["next"] = "undo restores every file as it was before this apply."
    if verified is not None:
        out["verify"] = verified
    return out


def undo_json(store: PlanStore, root: Path) -> dict:
    from fixers import FixError, undo

    try:
        report = undo(root)
    except FixError as exc:
        raise Refused(str(exc)) from None
    store.undone(root)
    return {
        "restored": report.restored,
        "deleted": report.deleted,
        "backup": report.backup_dir.relative_to(root).as_posix(),
        "summary": report.summary(),
    }


# -- rehearse ---------------------------------------------------------------------------------------


def rehearse_json(root: Path, progress: Progress) -> dict:
    """`prodready rehearse --format json`: boots the app (the user's code) and probes it."""
    from auditor.rehearse import report
    from auditor.rehearse.run import RehearsalError, rehearse

    steps = iter(range(1, 10_000))
    try:
        result = rehearse(root, progress=lambda line: progress(next(steps), None, line))
    except RehearsalError as exc:
        raise Refused(f"the rehearsal could not run: {exc}") from None
    return json.loads(report.to_json(result))

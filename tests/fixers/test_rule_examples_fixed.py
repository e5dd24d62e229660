"""End to end, for every rule a fixer answers: its INVALID examples are fixed, the result
compiles, the rule no longer fires, and a second plan proposes nothing.

Rules still being written are skipped here until they are registered; their fixers have
their own before/after tests.
"""

from __future__ import annotations

import pytest

from auditor.rules.base import all_rules
from fixers import apply_plan, plan_fixes
from fixers.base import check_compiles
from fixers.registry import FIXERS
from tests.helpers import scan_project, write_project

CODES = sorted(code for spec in FIXERS for code in spec.codes)


def examples(code: str):
    rule = all_rules().get(code)
    if rule is None:
        pytest.skip(f"{code} is not registered yet")
    return rule.INVALID


@pytest.mark.parametrize("code", CODES)
def test_invalid_examples_are_fixed(code, tmp_path):
    fixed_any = False
    for number, example in enumerate(examples(code)):
        root = write_project(tmp_path / f"example{number}", example)
        before = [f for f in scan_project(root).findings if f.rule == code]
        assert before, f"{code} INVALID example {number} gives no finding"
        plan = plan_fixes(scan_project(root), before)
        fixed = [p.finding for p in plan.fixes]
        if not fixed:  # some examples are beyond a codemod: the plan must say why
            assert all(reason for _, reason in plan.skipped)
            continue
        fixed_any = True
        report = apply_plan(plan)
        for relpath in report.changed + report.created:
            if relpath.endswith(".py"):
                assert check_compiles(relpath, (root / relpath).read_text()) is None
        after = scan_project(root)
        left = [f for f in after.findings if f.rule == code]
        assert len(left) == len(before) - len(fixed), f"{code} example {number} still fires: {left}"
        again = plan_fixes(after, [f for f in after.findings if f.rule == code])
        assert again.is_empty, again.diff()
    assert fixed_any, f"no INVALID example of {code} could be fixed"

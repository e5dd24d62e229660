"""Every registered rule's own VALID and INVALID examples, run through the real engine."""

from __future__ import annotations

import pytest

from auditor.rules.base import all_rules
from tests.helpers import scan_example

CASES = [
    pytest.param(code, kind, i, example, id=f"{code}-{kind}-{i}")
    for code, cls in all_rules().items()
    for kind, examples in (("valid", cls.VALID), ("invalid", cls.INVALID))
    for i, example in enumerate(examples)
]


@pytest.mark.parametrize(("code", "kind", "number", "example"), CASES)
def test_rule_example(tmp_path, code, kind, number, example):
    result = scan_example(tmp_path, example, select=[code])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    fired = [f for f in result.findings if f.rule == code]
    if kind == "valid":
        assert fired == [], f"{code} fired on its VALID example {number}: {[f.message for f in fired]}"
    else:
        assert fired, f"{code} did not fire on its INVALID example {number}"


def test_every_rule_is_documented_and_in_its_step():
    rules = all_rules()
    assert len(rules) >= 5
    steps = {cls.step() for cls in rules.values()}
    assert len(steps) == 5, "at least one rule per step"
    for code, cls in rules.items():
        assert cls.name == cls.name.lower() and " " not in cls.name, code
        assert cls.impact.endswith("."), f"{code}: impact should be a full sentence"

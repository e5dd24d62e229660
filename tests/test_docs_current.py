"""docs/rules.md is generated from the rule registry; this fails when someone forgets to regenerate it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from auditor.cli import main
from auditor.docs import DOCS_FILE, REGENERATE, render_rules_markdown
from auditor.rules.base import all_rules


def test_rules_md_is_current():
    expected = render_rules_markdown()
    current = DOCS_FILE.read_text(encoding="utf-8") if DOCS_FILE.exists() else ""
    assert current == expected, f"docs/rules.md is out of date: run `{REGENERATE}`"


def test_every_rule_has_a_section_with_doc_examples_and_fix_safety():
    text = render_rules_markdown()
    for code, cls in all_rules().items():
        start = text.index(f"### {code} {cls.name}\n")
        section = text[start : text.find("\n### ", start + 1)]
        assert "#### Why is this bad in production" in section
        assert "Flagged (INVALID examples)" in section and "Not flagged (VALID examples)" in section
        assert "fix: no automatic fix" in section if cls.fix() is None else f"fix: `{cls.fix().value}`" in section
        first_invalid = cls.INVALID[0] if isinstance(cls.INVALID[0], str) else next(iter(cls.INVALID[0].values()))
        assert textwrap.dedent(first_invalid).strip("\n") in section


def test_the_cli_and_the_module_print_the_same(capsys):
    assert main(["rules", "--format", "markdown"]) == 0
    assert capsys.readouterr().out == render_rules_markdown()
    check = subprocess.run([sys.executable, "-m", "auditor.docs", "--check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr

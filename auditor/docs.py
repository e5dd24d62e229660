"""The rule reference (docs/rules.md), generated from the rule registry.

    python -m auditor.docs            # rewrite docs/rules.md
    python -m auditor.docs --check    # exit 1 when docs/rules.md is not current
    prodready rules --format markdown # the same text on stdout

One section per rule: its doc (Ruff's sections), the VALID and INVALID examples the test suite
runs, and how safe its fix is. Nothing time- or machine-dependent goes in, so the file only
changes when a rule does.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

from auditor.models import Step
from auditor.rules.base import Example, Rule, all_rules

DOCS_FILE = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
REGENERATE = "python -m auditor.docs"


def _example_block(example: Example) -> list[str]:
    files = {"app.py": example} if isinstance(example, str) else example
    out = []
    for relpath, source in files.items():
        if len(files) > 1 or relpath != "app.py":
            out.append(f"`{relpath}`:")
            out.append("")
        out += ["```python", textwrap.dedent(source).strip("\n"), "```", ""]  # as the tests write it
    return out


def _fix_line(cls: type[Rule]) -> str:
    safety = cls.fix()
    if safety is None:
        return "no automatic fix"
    how = "applied by `prodready fix --apply`" if safety.value == "safe" else "applied with `--include-review` or after a yes in the wizard"
    return f"`{safety.value}` ({how})"


def rule_section(cls: type[Rule]) -> list[str]:
    doc = re.sub(r"^## ", "#### ", cls.doc.strip(), flags=re.MULTILINE)
    out = [
        f"### {cls.code} {cls.name}",
        "",
        f"Step **{cls.step().title}** · category `{cls.category.value}` · severity **{cls.severity.value}**"
        f" · confidence {cls.confidence.value} · fix: {_fix_line(cls)}",
        "",
        f"> {cls.impact}",
        "",
    ]
    if cls.fix() is not None and cls.fix_summary:
        out += [f"**What the fix changes:** {cls.fix_summary}", ""]
    out += [doc, ""]
    for title, examples in (("Flagged (INVALID examples)", cls.INVALID), ("Not flagged (VALID examples)", cls.VALID)):
        out += [f"<details><summary>{title}</summary>", ""]
        for example in examples:
            out += _example_block(example)
        out += ["</details>", ""]
    return out


def render_rules_markdown() -> str:
    rules = all_rules()
    out = [
        "# Rule reference",
        "",
        f"<!-- Generated from the rule registry by `{REGENERATE}`; do not edit by hand. -->",
        "",
        f"{len(rules)} rules in five steps. `prodready explain CODE` prints one rule's doc in the terminal;",
        "`# prodready: ignore[CODE]  reason` on a line suppresses it there.",
        "",
    ]
    for step in Step:
        in_step = [cls for cls in rules.values() if cls.step() == step]
        if not in_step:
            continue
        out += [f"- [{step.number}. {step.title}](#{step.number}-{step.title.lower().replace(' ', '-')})"]
        out += [f"  - [{cls.code} {cls.name}](#{cls.code.lower()}-{cls.name})" for cls in in_step]
    out.append("")
    for step in Step:
        in_step = [cls for cls in rules.values() if cls.step() == step]
        if not in_step:
            continue
        out += [f"## {step.number}. {step.title}", ""]
        for cls in in_step:
            out += rule_section(cls)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render_rules_markdown()
    if "--check" in argv:
        current = DOCS_FILE.read_text(encoding="utf-8") if DOCS_FILE.exists() else ""
        if current != text:
            print(f"{DOCS_FILE} is out of date: run `{REGENERATE}`", file=sys.stderr)
            return 1
        return 0
    DOCS_FILE.parent.mkdir(parents=True, exist_ok=True)
    DOCS_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {DOCS_FILE} ({len(all_rules())} rules)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""PR590: suppression comments that no longer suppress anything.

The findings come from the engine's suppression bookkeeping (it alone sees which comments
matched a finding after every rule ran); this class gives the rule its code, doc and examples.
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.models import Category, Finding, Severity
from auditor.rules.base import ProjectRule, register


@register
class UnusedSuppression(ProjectRule):
    code = "PR590"
    name = "unused-suppression"
    category = Category.LOGGING
    severity = Severity.LOW
    impact = (
        "A suppression comment that matches nothing is a silent hole: the next real problem written on that "
        "line is hidden from every report, and nobody remembers why the comment is there."
    )
    fix_summary = "Remove the stale comment, or the codes in it that no longer match."
    doc = """
## What it does
Reports `# prodready: ignore[...]` and `# prodready: fixme[...]` comments that no longer match a
finding on their line, and comments naming a rule code that does not exist. A code is judged
only when its rules ran in this scan, so a `--select` run never calls other rules' comments stale.

## Why is this bad in production
Code moves and gets fixed; the comment stays. A leftover `ignore[PR310]` next to a query that was
made safe will quietly hide the injection someone adds to that line next month, and a typo such as
`ignore[PR3O1]` never suppressed anything in the first place.

## Example
```python
rows = db.execute(text("SELECT * FROM items WHERE id = :id"), {"id": item_id})  # prodready: ignore[PR310] built from user input
```

## Use instead
```python
rows = db.execute(text("SELECT * FROM items WHERE id = :id"), {"id": item_id})
```

## Fix safety
No automatic fix: remove the comment by hand after checking the finding is really gone.
"""
    VALID = [
        "x = 1\n",
        'HELP = "write # prodready: ignore[PR999] to silence a rule"\n',
        "from fastapi import FastAPI\n\ndef f():\n    print('x')  # prodready: ignore[PR502] judged only when PR502 runs\n",
        "total = 2  # prodready: ignore[PR590] keep this marker for the docs\n",
    ]
    INVALID = [
        "x = 1  # prodready: ignore[PR999] no such rule\n",
        "y = 2  # prodready: fixme[PR3O1]\n",
        "z = 3  # prodready: ignore[pr998, PR999]  lower case is read too\n",
    ]

    def check(self, index: object) -> Iterable[Finding]:
        return []  # produced by the engine after suppressions are applied (see engine._stale_suppressions)

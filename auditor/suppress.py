"""Inline suppressions: `# prodready: ignore[PR301, PR302]  reason` or a bare `# prodready: ignore`."""

from __future__ import annotations

import re
from dataclasses import dataclass

PATTERN = re.compile(r"#\s*prodready:\s*(ignore|fixme)(?:\[([A-Za-z0-9,\s]*)\])?(?:\s+(.*))?$")


@dataclass(frozen=True)
class Suppression:
    line: int
    kind: str  # ignore | fixme
    codes: frozenset[str]  # empty: every rule
    reason: str

    def covers(self, code: str) -> bool:
        return not self.codes or any(code.startswith(c) for c in self.codes)


def find_suppressions(source: str) -> dict[int, Suppression]:
    """Line number -> suppression comment on that line (cheap when the file has none)."""
    if "prodready:" not in source:
        return {}
    found = {}
    for number, text in enumerate(source.splitlines(), start=1):
        if "prodready:" not in text:
            continue
        match = PATTERN.search(text)
        if match:
            codes = frozenset(c.strip().upper() for c in (match.group(2) or "").split(",") if c.strip())
            found[number] = Suppression(number, match.group(1), codes, (match.group(3) or "").strip())
    return found

"""Inline suppressions: `# prodready: ignore[PR301, PR302]  reason` or a bare `# prodready: ignore`.

`ignore` silences the listed rules on that line (the reason travels with the suppressed finding
into the reports); `fixme` keeps the finding in the report but marks it as known debt.
Only real comments count: text in a string literal that looks like a suppression is not one.
A comment anywhere in a definition's header (its decorators, a signature over several lines)
covers findings reported on any line of that header: people write it next to `@app.post(...)`.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

MARKER = "prodready:"
PATTERN = re.compile(r"#\s*prodready:\s*(ignore|fixme)(?:\[([A-Za-z0-9,\s]*)\])?(?:\s+(.*))?$")


@dataclass(frozen=True)
class Suppression:
    line: int
    kind: str  # ignore | fixme
    codes: frozenset[str]  # empty: every rule
    reason: str
    col: int = 0  # where the `# prodready:` comment starts

    def covers(self, code: str) -> bool:
        return not self.codes or any(code.startswith(c) for c in self.codes)

    def comment(self) -> str:
        codes = f"[{', '.join(sorted(self.codes))}]" if self.codes else ""
        reason = f"  {self.reason}" if self.reason else ""
        return f"# prodready: {self.kind}{codes}{reason}"


def parse_comment(text: str, line: int = 0, col: int = 0) -> Suppression | None:
    """The suppression in one comment's text (`# ...`), or None."""
    match = PATTERN.search(text)
    if not match:
        return None
    codes = frozenset(c.strip().upper() for c in (match.group(2) or "").split(",") if c.strip())
    return Suppression(line, match.group(1), codes, (match.group(3) or "").strip(), col + match.start())


def find_suppressions(source: str) -> dict[int, Suppression]:
    """Line number -> suppression comment on that line (cheap when the file has none)."""
    if MARKER not in source:
        return {}
    found = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT and MARKER in token.string:
                suppression = parse_comment(token.string, token.start[0], token.start[1])
                if suppression is not None:
                    found[suppression.line] = suppression
    except (tokenize.TokenError, SyntaxError):
        pass  # the file parsed with ast, so this is rare; keep what was found
    return found


def unused_codes(
    suppression: Suppression, matched: set[str], known: set[str], enabled: set[str]
) -> tuple[list[str], list[str]] | None:
    """(unknown codes, codes that matched nothing) of one suppression, or None when it did its job.

    `matched`: rule codes of the findings on its line that it covers. A code is judged only
    when every rule it names ran in this scan (a `--select` run cannot tell about the others);
    a bare suppression only when every rule ran.
    """
    if not suppression.codes:
        return ([], []) if not matched and enabled >= known else None
    unknown, unused = [], []
    for code in sorted(suppression.codes):
        named = {k for k in known if k.startswith(code)}
        if not named:
            unknown.append(code)
        elif named <= enabled and not any(m.startswith(code) for m in matched):
            unused.append(code)
    return (unknown, unused) if unknown or unused else None


def unused_message(suppression: Suppression, unknown: list[str], unused: list[str]) -> str:
    parts = []
    if unknown:
        parts.append(f"{', '.join(unknown)} {'is not a rule code' if len(unknown) == 1 else 'are not rule codes'} (a typo silences nothing)")
    if unused:
        what = "known debt that is gone" if suppression.kind == "fixme" else "nothing on this line"
        parts.append(f"{', '.join(unused)} {'matches' if suppression.kind == 'ignore' else 'marks'} {what}")
    if not suppression.codes:
        parts.append(f"a bare `# prodready: {suppression.kind}` matches nothing on this line")
    return f"stale suppression comment: {'; '.join(parts)}; remove it so it cannot hide a future finding"


def spread_over_headers(suppressions: dict[int, Suppression], tree: ast.Module) -> dict[int, Suppression]:
    """Map every line of a def/class header to the suppression written on one of its lines.

    The header runs from the first decorator to the line before the first body statement. A
    line with a comment of its own keeps it; the Suppression keeps its real line (for PR590)."""
    if not suppressions:
        return suppressions
    spread = dict(suppressions)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        header = range(start, max(node.body[0].lineno, node.lineno + 1))
        written = next((suppressions[line] for line in header if line in suppressions), None)
        if written is not None:
            for line in header:
                spread.setdefault(line, written)
    return spread

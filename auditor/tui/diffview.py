"""Unified diffs that stay readable in a narrow terminal.

Long lines soft-wrap at the panel's width: the continuation rows start with `↪` in the sign
column, so a wrapped line never looks like a new one. Within a changed line the words that
differ are highlighted (as `git diff --word-diff` or delta do): the `-` and `+` rows of a
one-line change differ visibly even when the change sits at the far end of the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from auditor.masking import mask_secrets

CONTINUATION = "↪"
TOKEN = re.compile(r"\w+|\s+|[^\w\s]")
SIMILAR = 0.5  # below this share of common words two lines are a rewrite, not an edit: no word marks


@dataclass(frozen=True)
class Palette:
    removed: str
    added: str
    removed_word: str
    added_word: str
    hunk: str
    header: str
    context: str
    marker: str


DARK = Palette("#ff8787", "#87d787", "bold #ffffff on #8b1a1a", "bold #ffffff on #1f6f1f", "#5fafd7", "bold", "", "dim")
LIGHT = Palette("#af0000", "#005f00", "bold on #ffc8c8", "bold on #c8f0c8", "#005faf", "bold", "", "dim")


def changed_spans(old: str, new: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]] | None:
    """Character spans that differ between two versions of a line (None: too different to pair)."""
    a, b = TOKEN.findall(old), TOKEN.findall(new)
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    # Shared brackets and quotes do not make two lines alike: count the words they share.
    words = max(sum(1 for t in a if t[0].isalnum() or t[0] == "_"), sum(1 for t in b if t[0].isalnum() or t[0] == "_"), 1)
    shared = sum(1 for block in matcher.get_matching_blocks() for t in a[block.a : block.a + block.size] if t[0].isalnum() or t[0] == "_")
    if shared / words < SIMILAR:
        return None
    starts_a = _starts(a)
    starts_b = _starts(b)
    spans_a: list[tuple[int, int]] = []
    spans_b: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            spans_a.append((starts_a[i1], starts_a[i2]))
        if j2 > j1:
            spans_b.append((starts_b[j1], starts_b[j2]))
    return spans_a, spans_b


def _starts(tokens: list[str]) -> list[int]:
    starts, offset = [], 0
    for token in tokens:
        starts.append(offset)
        offset += len(token)
    starts.append(offset)
    return starts


def diff_lines(diff: str, palette: Palette) -> list[Text]:
    """Each diff line as styled Text (sign column included), changed words marked; the file
    header (`diff --git`, `---`, `+++`) becomes one line naming the file."""
    lines = diff.expandtabs(4).splitlines()
    out: list[Text | None] = [Text() for _ in lines]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("-") and not line.startswith("--- "):
            j = i
            while j < len(lines) and lines[j].startswith("-") and not lines[j].startswith("--- "):
                j += 1
            k = j
            while k < len(lines) and lines[k].startswith("+") and not lines[k].startswith("+++ "):
                k += 1
            removed, added = range(i, j), range(j, k)
            for r in removed:
                out[r] = Text(lines[r], style=palette.removed)
            for a in added:
                out[a] = Text(lines[a], style=palette.added)
            for r, a in zip(removed, added):
                spans = changed_spans(lines[r][1:], lines[a][1:])
                if spans is None:
                    continue
                for start, end in spans[0]:
                    out[r].stylize(palette.removed_word, start + 1, end + 1)
                for start, end in spans[1]:
                    out[a].stylize(palette.added_word, start + 1, end + 1)
            i = k
            continue
        if line.startswith(("diff --git", "--- ", "index ", "new file", "deleted file")):
            out[i] = None  # the `+++` line says it once, in words
        elif line.startswith("+++ "):
            new = i > 0 and lines[i - 1].startswith("--- /dev/null")
            name = line[4:].removeprefix("b/")
            out[i] = Text(f"{name}{' (new file)' if new else ''}", style=palette.header)
        elif line.startswith("@@"):
            out[i] = Text(line, style=palette.hunk)
        elif line.startswith("+"):
            out[i] = Text(line, style=palette.added)
        else:
            out[i] = Text(line, style=palette.context)
        i += 1
    return [line for line in out if line is not None]


def wrap_line(line: Text, width: int, console: Console, marker_style: str) -> list[Text]:
    """One diff line cut to `width` cells: later rows start with the continuation marker."""
    if line.cell_len <= width or width < 4:
        return [line]
    sign, body = line[:1], line[1:]
    rows = body.wrap(console, width - 1, overflow="fold", no_wrap=False)
    result = []
    for n, row in enumerate(rows):
        row.rstrip_end(width - 1)
        prefix = sign.copy() if n == 0 else Text(CONTINUATION, style=marker_style)
        result.append(Text.assemble(prefix, row))
    return result


class DiffView:
    """A Rich renderable: the diff wrapped to whatever width the widget gives it."""

    def __init__(self, diff: str, dark: bool = True) -> None:
        self.palette = DARK if dark else LIGHT
        self.lines = diff_lines(mask_secrets(diff), self.palette)  # shown only: the patch written keeps the real text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        for line in self.lines:
            for row in wrap_line(line, width, console, self.palette.marker):
                row.no_wrap, row.overflow, row.end = True, "crop", "\n"
                yield row  # the console applies the row's own style (Text.render alone would drop it)

    def plain_rows(self, width: int) -> list[str]:
        """The rows as they show at `width` (for tests and the hunk index)."""
        console = Console(width=width, file=None, color_system=None)
        return [row.plain for line in self.lines for row in wrap_line(line, width, console, self.palette.marker)]

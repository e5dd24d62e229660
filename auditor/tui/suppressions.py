""""Not a problem on this line": a `# prodready: ignore[CODE]` comment, as an edit shown before it is written.

The comment goes where `prodready scan --add-ignore` puts it (auditor/add_ignore.py places it with
libcst and keeps the file's formatting). Lines are numbered in the file as it was scanned; when
accepted fixes change the same file, each line is found again in the fixed text by diffing the
two, and a line the fixes rewrote is reported instead of guessed at.
"""

from __future__ import annotations

import ast
from difflib import SequenceMatcher
from pathlib import Path

REASON = "not a problem here (answered in the wizard)"


def moved_line(original: str, current: str, line: int) -> int | None:
    """Where 1-based `line` of `original` is in `current`, or None when that line was changed."""
    if original == current:
        return line
    a, b = original.splitlines(), current.splitlines()
    for i1, j1, size in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        if i1 <= line - 1 < i1 + size:
            return j1 + (line - 1 - i1) + 1
    return None


def with_comments(text: str, wanted: dict[int, set[str]]) -> tuple[str, set[int]]:
    """`text` with an ignore comment on each wanted line, and the lines that could not take one.

    Refused as a whole (every line returned) when libcst cannot parse the file or when the
    result would not be the same program."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper

    from auditor.add_ignore import _AddComments  # the placement `--add-ignore` uses

    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return text, set(wanted)
    transformer = _AddComments(wanted, REASON)
    new = MetadataWrapper(module).visit(transformer).code
    try:
        same = ast.dump(ast.parse(text)) == ast.dump(ast.parse(new))
    except SyntaxError:
        same = False
    if not same:
        return text, set(wanted)
    return new, set(wanted) - transformer.placed


def suppressed_texts(
    root: Path, originals: dict[str, str], lines: dict[str, dict[int, set[str]]], base: dict[str, str]
) -> tuple[dict[str, tuple[str, str]], list[tuple[str, int]]]:
    """For each file with lines to suppress: (text the comments go on, text with them), and the
    (file, line) pairs that could not take a comment.

    `originals` are the scanned texts the line numbers refer to; `base` the texts the comments go
    on (the fixed text when accepted fixes change that file, else the file as it is on disk)."""
    out: dict[str, tuple[str, str]] = {}
    refused: list[tuple[str, int]] = []
    for relpath, wanted in sorted(lines.items()):
        path = root / relpath
        current = base.get(relpath)
        if current is None:
            current = path.read_text(encoding="utf-8") if path.is_file() else ""
        moved: dict[int, set[str]] = {}
        for line, codes in wanted.items():
            where = moved_line(originals.get(relpath, current), current, line)
            if where is None:
                refused.append((relpath, line))
            else:
                moved.setdefault(where, set()).update(codes)
        if not moved:
            continue
        new, failed = with_comments(current, moved)
        back = {new_line: old for old, new_line in ((old, moved_line(originals.get(relpath, current), current, old)) for old in wanted)}
        refused.extend((relpath, back.get(line, line)) for line in sorted(failed))
        if new != current:
            out[relpath] = (current, new)
    return out, refused

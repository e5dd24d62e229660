"""Unified diffs in the shape `git apply` accepts (a/ and b/ prefixes, /dev/null for new files)."""

from __future__ import annotations

import difflib

NO_NEWLINE = "\\ No newline at end of file\n"

RED, GREEN, CYAN, BOLD, RESET = "\033[31m", "\033[32m", "\033[36m", "\033[1m", "\033[0m"


def _lines(text: str | None) -> list[str]:
    if not text:
        return []
    lines = text.splitlines(keepends=True)
    # splitlines also breaks on form feeds and other separators diff tools do not know.
    merged: list[str] = []
    for line in lines:
        if merged and not merged[-1].endswith(("\n", "\r")):
            merged[-1] += line
        else:
            merged.append(line)
    return merged


def file_diff(relpath: str, old: str | None, new: str | None) -> str:
    """The diff of one file; old None means the file is created, new None that it is deleted."""
    if old == new:
        return ""
    header = [f"diff --git a/{relpath} b/{relpath}\n"]
    if old is None:
        header.append("new file mode 100644\n")
    elif new is None:
        header.append("deleted file mode 100644\n")
    before = "/dev/null" if old is None else f"a/{relpath}"
    after = "/dev/null" if new is None else f"b/{relpath}"
    out = header + [f"--- {before}\n", f"+++ {after}\n"]
    body = difflib.unified_diff(_lines(old), _lines(new), n=3)
    for line in list(body)[2:]:  # difflib's own ---/+++ lines are replaced by ours
        if line.endswith("\n") or line.endswith("\r"):
            out.append(line)
        else:
            out.append(line + "\n" + NO_NEWLINE)
    return "".join(out)


def colorize(diff: str) -> str:
    colored = []
    for line in diff.splitlines(keepends=True):
        if line.startswith(("diff --git", "--- ", "+++ ", "new file", "deleted file")):
            colored.append(BOLD + line.rstrip("\n") + RESET + "\n")
        elif line.startswith("@@"):
            colored.append(CYAN + line.rstrip("\n") + RESET + "\n")
        elif line.startswith("+"):
            colored.append(GREEN + line.rstrip("\n") + RESET + "\n")
        elif line.startswith("-"):
            colored.append(RED + line.rstrip("\n") + RESET + "\n")
        else:
            colored.append(line)
    return "".join(colored)

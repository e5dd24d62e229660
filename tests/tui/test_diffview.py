"""Diffs in the wizard: long lines wrap with a marker, changed words are marked within a line."""

from __future__ import annotations

from rich.console import Console

from auditor.tui.diffview import CONTINUATION, DARK, DiffView, changed_spans, diff_lines

LONG_OLD = '    return JSONResponse({"id": task.id, "title": task.title, "description": task.description, "done": task.done})'
LONG_NEW = LONG_OLD.replace('"done": task.done', '"done": task.completed')
DIFF = f"--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n def show(task):\n-{LONG_OLD}\n+{LONG_NEW}\n"


def test_long_lines_wrap_with_a_continuation_marker_and_lose_nothing():
    rows = DiffView(DIFF).plain_rows(60)
    assert all(len(row) <= 60 for row in rows)
    continued = [row for row in rows if row.startswith(CONTINUATION)]
    assert len(continued) >= 2, "both long lines wrap"
    removed = next(i for i, row in enumerate(rows) if row.startswith("-    return"))
    added = next(i for i, row in enumerate(rows) if row.startswith("+    return"))
    # the rows of one line, joined back, give the line (the marker stands in the sign column)
    joined = "".join(row[1:] for row in rows[removed:added])
    assert joined.replace(" ", "") == LONG_OLD.replace(" ", "")
    assert "task.completed" in "".join(rows[added:])


def test_a_short_line_is_not_wrapped():
    rows = DiffView(DIFF).plain_rows(200)
    assert rows[0] == "app.py", "the file header is one line naming the file"
    assert rows[3] == f"-{LONG_OLD}"


def test_only_the_changed_word_is_marked_on_a_one_line_change():
    old_spans, new_spans = changed_spans(LONG_OLD, LONG_NEW)
    assert [LONG_OLD[a:b] for a, b in old_spans] == ["done"]
    assert [LONG_NEW[a:b] for a, b in new_spans] == ["completed"]
    lines = diff_lines(DIFF, DARK)
    removed, added = lines[3], lines[4]
    marked = [removed.plain[s.start : s.end] for s in removed.spans if s.style == DARK.removed_word]
    assert marked == ["done"]
    assert [added.plain[s.start : s.end] for s in added.spans if s.style == DARK.added_word] == ["completed"]


def test_a_rewritten_line_gets_no_word_marks():
    assert changed_spans("print('hello there')", "logger.info('%s', value)") is None
    lines = diff_lines("@@ -1 +1 @@\n-print('hello there')\n+logger.info('%s', value)\n", DARK)
    assert not lines[1].spans and not lines[2].spans


def test_rendered_rows_keep_their_colours():
    console = Console(width=50, record=True, force_terminal=True, color_system="truecolor", file=open("/dev/null", "w"))
    console.print(DiffView("@@ -1 +1 @@\n+import logging\n"))
    assert "\x1b[38;2;135;215;135m+import logging" in console.export_text(styles=True)


def test_a_backup_path_wraps_after_a_slash_never_inside_a_name():
    from auditor.tui.summary import LabelledPath

    path = "projects/customer-portal-backend/.prodready/backups/20261206T203303-123456"
    console = Console(width=40, record=True, file=open("/dev/null", "w"))
    console.print(LabelledPath("Backup: ", path))
    rows = console.export_text().splitlines()
    assert len(rows) > 1 and all(len(row) <= 40 for row in rows)
    assert all(row.rstrip().endswith("/") for row in rows[:-1]), rows
    assert "".join(row.strip() for row in rows) == "Backup: " + path

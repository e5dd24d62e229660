"""Property-based tests of the apply machinery: Workspace -> FileEdit -> apply_plan -> undo.

Projects are generated with CRLF or LF line endings, BOMs, tabs, form feeds and other
separators in comments, very long lines, file modes, folders to create and files that are not
UTF-8. Edits to a file come as a sequence, each on the text the previous one left, so they
overlap as fixes on one file do. Whatever happens — success, a file changed under the plan, a
write failing after k files, even the roll-back failing — the tree ends up either exactly as
planned or exactly as before, and `undo` gives back every byte.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixers import FileEdit, FixError, FixPlan, NothingToUndoError, StaleFileError, apply_plan, undo
from fixers.pipeline.workspace import Skip, Workspace
from tests.fixers.helpers import finding
from tests.helpers import write_project
from tests.reliability.helpers import print_routes, snapshot

# Modest by default to keep the suite fast; PRODREADY_EXAMPLES=500 for a deeper search.
EXAMPLES = settings(
    max_examples=int(os.environ.get("PRODREADY_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- generated projects -----------------------------------------------------------------------

# Text a comment may hold: anything but NUL and the two characters that end a line for Python.
# Form feeds, \x1c-\x1e, NEL and U+2028 stay in: str.splitlines() breaks on them, Python does not.
comment_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n")
any_chars = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


@st.composite
def statements(draw) -> str:
    """One top-level statement (sometimes two physical lines): any sequence of them compiles."""
    n = draw(st.integers(0, 999))
    return draw(
        st.one_of(
            st.builds(lambda v: f"v{n} = {v!r}", st.text(any_chars, max_size=30)),
            st.builds(lambda c: f"#{c}", st.text(comment_chars, max_size=30)),
            st.just(f"v{n}\t=\t{n}\t# tabs"),
            st.just(f"if v{n}:\n\tpass"),  # joined with the file's own newline below
            st.builds(lambda size: f"long{n} = '{'x' * size}'", st.integers(2_000, 60_000)),
            st.just(""),
        )
    )


@dataclass
class File:
    relpath: str
    items: list[str] | None  # statements or text pieces; None: bytes that are not UTF-8
    newline: str = "\n"
    bom: bool = False
    trailing: bool = True
    mode: int = 0o644
    raw: bytes = b""

    @property
    def text(self) -> str:
        return self.join(self.items)

    def join(self, items: list[str]) -> str:
        return self.newline.join(i.replace("\n", self.newline) for i in items) + (self.newline if self.trailing and items else "")

    def encode(self, text: str) -> bytes:
        return ("\ufeff" if self.bom else "").encode() + text.encode("utf-8")

    @property
    def data(self) -> bytes:
        return self.raw if self.items is None else self.encode(self.text)


@dataclass
class Project:
    files: list[File]
    edits: dict[str, list[tuple[int, int, list[str]]]]  # relpath -> (start, end, replacement) in sequence
    created: dict[str, str] = field(default_factory=dict)  # new relpath -> text

    def edited(self, file: File) -> list[str]:
        items = list(file.items)
        for start, end, replacement in self.edits[file.relpath]:
            items[start:end] = replacement
        return items


@st.composite
def files(draw, index: int) -> File:
    folder = draw(st.sampled_from(["", "pkg/", "pkg/deep/"]))
    mode = draw(st.sampled_from([0o644, 0o600, 0o755, 0o640]))
    if draw(st.integers(0, 5)) == 0:  # latin-1, not UTF-8: never planned, never touched
        raw = b"# -*- coding: latin-1 -*-\nname = '" + bytes(draw(st.lists(st.integers(0xC0, 0xFF), min_size=1, max_size=8))) + b"'\n"
        return File(f"{folder}legacy{index}.py", None, mode=mode, raw=raw)
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    if draw(st.booleans()):
        items = draw(st.lists(statements(), min_size=1, max_size=8))
        name = f"{folder}m{index}.py"
    else:
        items = draw(st.lists(st.text(any_chars, max_size=40).map(lambda t: t.replace("\r", "").replace("\n", "")), min_size=1, max_size=8))
        name = f"{folder}notes{index}.txt"
    return File(name, items, newline, draw(st.booleans()), draw(st.booleans()), mode)


@st.composite
def edit_sequences(draw, file: File) -> list[tuple[int, int, list[str]]]:
    """1-4 replacements of a slice of items, each on what the previous left: they overlap freely."""
    size = len(file.items)
    pieces = statements() if file.relpath.endswith(".py") else st.text(comment_chars, max_size=20)
    sequence = []
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, size))
        end = draw(st.integers(start, size))
        replacement = draw(st.lists(pieces, max_size=3))
        sequence.append((start, end, replacement))
        size += len(replacement) - (end - start)
    return sequence


@st.composite
def projects(draw) -> Project:
    count = draw(st.integers(1, 5))
    made = [draw(files(i)) for i in range(count)]
    editable = [f for f in made if f.items is not None]
    chosen = draw(st.lists(st.sampled_from(editable), unique_by=lambda f: f.relpath)) if editable else []
    edits = {f.relpath: draw(edit_sequences(f)) for f in chosen}
    created = {}
    for i in range(draw(st.integers(0, 2))):
        folder = draw(st.sampled_from(["", "pkg/", "new/", "new/deeper/"]))
        created[f"{folder}created{i}.py"] = f"CREATED = {i}\n"
    project = Project(made, edits, created)
    for file in chosen:  # an edit that gives back the same text is no edit: a plan leaves it out
        if file.join(project.edited(file)) == file.text:
            del project.edits[file.relpath]
    return project


# -- writing, planning, checking ---------------------------------------------------------------


@contextmanager
def folder():
    """A fresh project folder (hypothesis runs many examples in one test: no tmp_path)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve() / "project"
        root.mkdir()
        yield root


def write(root: Path, project: Project) -> None:
    for file in project.files:
        path = root / file.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(file.data)
        path.chmod(file.mode)


def plan(root: Path, project: Project) -> FixPlan:
    """Edits go through a Workspace, as fixers' edits do; the FileEdits are the ones plan_fixes makes."""
    ws = Workspace(root)
    for file in project.files:
        if file.relpath in project.edits:
            ws.write(file.relpath, file.join(project.edited(file)))
    for relpath, text in project.created.items():
        ws.write(relpath, text)
    made = FixPlan(SimpleNamespace(root=root, findings=[], config=None))
    made.edits = [FileEdit(s.relpath, s.original, s.text, s.base, s.encode()) for s in ws.changed()]
    return made


def expected_tree(root: Path, project: Project, before: dict) -> dict:
    """The snapshot the plan promises: edited bytes, kept modes, new files and folders."""
    umask = os.umask(0)
    os.umask(umask)
    probe = root.parent / "expected"
    for file in project.files:
        target = probe / file.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.encode(file.join(project.edited(file))) if file.relpath in project.edits else file.data)
        target.chmod(file.mode)
    for relpath, text in project.created.items():
        target = probe / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(0o666 & ~umask)
    expected = snapshot(probe)
    for relpath, (kind, mode) in expected.items():  # folders keep the modes they have (created ones: mkdir's)
        if kind == "dir" and relpath in before:
            expected[relpath] = before[relpath]
    return expected


def backups(root: Path) -> list[Path]:
    return sorted((root / ".prodready" / "backups").glob("*/"))


# -- properties ---------------------------------------------------------------------------------


@EXAMPLES
@given(projects())
def test_apply_writes_exactly_the_plan_and_undo_gives_back_every_byte(project):
    with folder() as root:
        write(root, project)
        before = snapshot(root)
        made = plan(root, project)
        assert {e.relpath for e in made.edits} == set(project.edits) | set(project.created)
        report = apply_plan(made, rescan=False)
        assert snapshot(root) == expected_tree(root, project, before)
        if made.is_empty:
            assert report.backup_dir is None and backups(root) == []
            return
        assert sorted(report.changed) == sorted(project.edits) and sorted(report.created) == sorted(project.created)
        undone = undo(root)
        assert sorted(undone.restored) == sorted(project.edits)
        assert snapshot(root) == before
        with pytest.raises(NothingToUndoError):
            undo(root)


@EXAMPLES
@given(projects())
def test_line_endings_bom_and_untouched_lines_survive_the_workspace(project):
    """Read through the Workspace: the text keeps its CRLFs (the BOM is set aside and put back),
    and every line no edit touched is found again where a later fix looks for it."""
    with folder() as root:
        write(root, project)
        ws = Workspace(root)
        for file in project.files:
            if file.items is None:
                with pytest.raises(Skip, match="is not UTF-8 text"):
                    ws.state(file.relpath)
                continue
            state = ws.state(file.relpath)
            assert state.original == file.text and state.bom == file.bom
            assert state.encode() == file.data
            if file.relpath not in project.edits:
                continue
            ws.write(file.relpath, file.join(project.edited(file)))
            old_lines = physical_lines(file.text)
            new_lines = physical_lines(ws.read(file.relpath))
            for number, line in enumerate(old_lines, start=1):
                where, col = ws.position(finding("PR502", file.relpath, number))
                if col is not None:  # the line itself survived: it is at `where` now
                    assert new_lines[where - 1] == line


def physical_lines(text: str) -> list[str]:
    """Lines as Python (and a finding's line number) counts them: only \\n, \\r\\n and \\r end one."""
    import re

    return re.findall(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$", text)


@EXAMPLES
@given(projects(), st.data())
def test_a_file_changed_between_plan_and_apply_is_refused_and_nothing_is_written(project, data):
    targets = sorted(project.edits) + sorted(project.created)
    if not targets:
        return
    with folder() as root:
        write(root, project)
        made = plan(root, project)
        victim = data.draw(st.sampled_from(targets))
        path = root / victim
        if victim in project.created:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("written by hand meanwhile\n")
            detail = "was created since the scan"
        elif data.draw(st.booleans()):
            path.unlink()
            detail = "was deleted since the scan"
        else:
            old = path.read_bytes()
            at = data.draw(st.integers(0, len(old)))
            path.write_bytes(old[:at] + data.draw(st.sampled_from([b"#", b"\r", b"\n", b" "])) + old[at:])
            detail = "changed on disk since the scan"
        before = snapshot(root)
        with pytest.raises(StaleFileError) as refused:
            apply_plan(made, rescan=False)
        assert str(refused.value) == f"{victim} {detail}; scan again and review the new diff"
        assert snapshot(root) == before
        assert backups(root) == []


class Crash(BaseException):
    """Stands for the process being stopped mid-write (Ctrl-C, a kill the finally blocks still see)."""


@EXAMPLES
@given(
    projects(),
    st.integers(0, 8),
    st.sampled_from(["disk full", "i/o error", "interrupted"]),
    st.booleans(),
)
def test_a_write_failing_after_k_files_leaves_nothing_half_applied(project, k, failure, rollback_fails):
    """The replace step fails after k successful ones (manifest writes included). Either every
    file is put back at once, or — when putting back fails too — `undo` restores them."""
    if not project.edits and not project.created:
        return
    with folder() as root:
        write(root, project)
        before = snapshot(root)
        made = plan(root, project)
        calls = {"ok": 0, "failed": False}
        real_replace = os.replace

        def replace(src, dst, *args, **kwargs):
            if calls["failed"] and not rollback_fails:
                return real_replace(src, dst, *args, **kwargs)
            if calls["ok"] == k or calls["failed"]:
                calls["failed"] = True
                if failure == "interrupted" and not rollback_fails:
                    raise Crash()
                code = errno.ENOSPC if failure == "disk full" else errno.EIO
                raise OSError(code, os.strerror(code))
            calls["ok"] += 1
            return real_replace(src, dst, *args, **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(os, "replace", replace)
            try:
                apply_plan(made, rescan=False)
            except FixError as exc:  # WriteError, or NotWritableError when the backup could not be written
                message = str(exc)
            except Crash:
                message = "crash"
            else:
                message = None

        if message is None:  # k was past the last replace: the apply went through
            assert len(made.edits) + 2 <= k
            undo(root)
            assert snapshot(root) == before
            return
        written = made.edits[: max(k - 1, 0)]  # the first replace is the manifest's
        if rollback_fails and any(not edit.is_new for edit in written):  # putting back needs a replace too
            assert "`prodready undo` restores" in message, message
            assert snapshot(root) != before
        else:
            assert snapshot(root) == before, message
            if message != "crash":
                assert message.endswith(("; every file was put back as it was", "; nothing was written")), message
        # Whatever is left, undo brings back the tree as it was (or finds nothing to undo).
        try:
            undo(root)
        except NothingToUndoError:
            pass
        assert snapshot(root) == before
        assert not (root / ".prodready" / "lock").exists()


@pytest.mark.parametrize("bom", [False, True])
def test_a_non_utf8_file_next_to_a_fix_is_left_untouched(tmp_path, bom):
    """A real fix on a project that also holds latin-1 and binary-ish files."""
    from fixers import plan_fixes
    from tests.helpers import scan_project

    flask = b"from flask import Flask\r\napp = Flask(__name__)\r\n"
    (tmp_path / "app.py").write_bytes(("\ufeff" if bom else "").encode() + flask + b"def work():\r\n\tprint('started')\r\n")
    (tmp_path / "legacy.py").write_bytes(b"# -*- coding: latin-1 -*-\r\n" + flask + b"def old():\r\n    print('\xe9t\xe9')\r\n")
    (tmp_path / "data.txt").write_bytes(b"\xff\xfe\x00binary")
    before = snapshot(tmp_path)
    result = scan_project(tmp_path)
    made = plan_fixes(result, [f for f in result.findings if f.rule == "PR502"])
    assert made.files_changed == ["app.py"]
    assert any(f.path == "legacy.py" and "is not UTF-8 text" in reason for f, reason in made.skipped)
    apply_plan(made, rescan=False)
    data = (tmp_path / "app.py").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == bom
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")  # CRLF kept on every line
    assert b"\tlogger.info('started')\r\n" in data
    assert snapshot(tmp_path)["legacy.py"] == before["legacy.py"]
    assert snapshot(tmp_path)["data.txt"] == before["data.txt"]
    undo(tmp_path)
    assert snapshot(tmp_path) == before


# Runs `prodready fix --apply` and kills the process (no except, no finally) before the k-th file.
KILLER = """
import os, sys
from fixers.pipeline import apply as apply_module

real, left = apply_module.atomic_write, int(sys.argv[2])

def dies(path, data, mode=None):
    global left
    if left == 0:
        os._exit(9)
    left -= 1
    real(path, data, mode)

apply_module.atomic_write = dies
from auditor.cli import main

sys.exit(main(["fix", sys.argv[1], "--apply", "--select", "PR502", "--no-cache", "--no-progress"]))
"""


@pytest.mark.parametrize("k", [0, 1, 3])
def test_a_run_killed_after_k_files_is_undone_from_its_backup(tmp_path, k):
    root = write_project(tmp_path, print_routes("orders", "users", "items", "reports"))
    before = snapshot(root)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), PRODREADY_NO_CACHE="1")
    killed = subprocess.run([sys.executable, "-c", KILLER, str(root), str(k)], capture_output=True, env=env)
    assert killed.returncode == 9, killed.stderr
    (manifest,) = (root / ".prodready" / "backups").glob("*/manifest.json")
    assert '"state": "applying"' in manifest.read_text()
    assert sum(before[p] != entry for p, entry in snapshot(root).items()) == k  # truly half-applied
    if k == 0:
        with pytest.raises(NothingToUndoError):
            undo(root)
    else:
        assert len(undo(root).restored) == k
    assert snapshot(root) == before


def test_file_modes_are_kept_and_created_files_follow_the_umask(tmp_path):
    (tmp_path / "run.py").write_text("print('x')\n")
    (tmp_path / "run.py").chmod(0o751)
    made = plan(tmp_path, Project([File("run.py", ["print('x')"], mode=0o751)], {"run.py": [(0, 1, ["print('y')"])]}, {"new/made.py": "X = 1\n"}))
    umask = os.umask(0o027)
    try:
        apply_plan(made, rescan=False)
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "run.py").stat().st_mode) == 0o751
    assert stat.S_IMODE((tmp_path / "new" / "made.py").stat().st_mode) == 0o640


def test_a_plan_that_edits_one_file_twice_is_refused(tmp_path):
    """Two edits of one file in one plan would leave undo unable to tell the first from the second."""
    (tmp_path / "app.py").write_text("x = 1\n")
    first = plan(tmp_path, Project([File("app.py", ["x = 1"])], {"app.py": [(0, 1, ["x = 2"])]}))
    second = plan(tmp_path, Project([File("app.py", ["x = 1"])], {"app.py": [(0, 1, ["x = 3"])]}))
    first.edits += second.edits
    before = snapshot(tmp_path)
    with pytest.raises(FixError, match=r"^app\.py is edited twice in one plan; nothing was written$"):
        apply_plan(first, rescan=False)
    assert snapshot(tmp_path) == before and backups(tmp_path) == []

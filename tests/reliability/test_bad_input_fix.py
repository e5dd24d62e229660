"""Bad input for `prodready fix` and `prodready undo`: one exact line on stderr, exit code 2,
and not a byte of the project changed. (The scan's own bad-input table is in
tests/test_bad_input.py and tests/test_cli.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor.cli import main
from tests.helpers import write_project
from tests.reliability.helpers import read_only_filesystem, snapshot

APP = {
    "app/__init__.py": "",
    "app/routes.py": """
        from flask import Flask

        app = Flask(__name__)


        @app.get("/items")
        def items():
            print("listing items")
            return []
        """,
}


@pytest.fixture
def project(tmp_path) -> Path:
    return write_project(tmp_path / "proj", APP)


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv) + (["--no-cache", "--no-progress"] if argv[0] == "fix" else []))
    return code, capsys.readouterr().err


def applied(capsys, root: Path) -> Path:
    """Apply the print fix; the backup folder it made."""
    assert run(capsys, "fix", str(root), "--apply", "--select", "PR502")[0] == 0
    (backup,) = (root / ".prodready" / "backups").iterdir()
    return backup


@pytest.mark.parametrize(
    ("command", "target", "message"),
    [
        ("fix", "missing", "path does not exist: {root}/missing"),
        ("undo", "missing", "path does not exist: {root}/missing"),
        ("fix", "app/routes.py", "not a folder: {root}/app/routes.py (give the project's folder)"),
        ("undo", "app/routes.py", "not a folder: {root}/app/routes.py (give the project's folder)"),
    ],
)
def test_bad_paths(project, capsys, command, target, message):
    extra = ["--apply"] if command == "fix" else []
    assert run(capsys, command, str(project / target), *extra) == (2, f"prodready: error: {message.format(root=project)}\n")


def test_invalid_config_is_refused_before_any_fix(project, capsys):
    (project / "pyproject.toml").write_text('[tool.prodready]\nfail-on = "sometimes"\nselekt = ["PR1"]\n')
    before = snapshot(project)
    assert run(capsys, "fix", str(project), "--apply") == (
        2,
        f"prodready: error: invalid configuration in {project}/pyproject.toml [tool.prodready]: "
        "fail-on: Input should be 'low', 'medium' or 'high'; selekt: unknown setting (did you mean select?)\n",
    )
    assert snapshot(project) == before and not (project / ".prodready").exists()


def test_unknown_rule_code_in_select_writes_nothing(project, capsys):
    before = snapshot(project)
    assert run(capsys, "fix", str(project), "--apply", "--select", "PR502,PR999") == (
        2,
        "prodready: error: unknown rule code 'PR999' (see `prodready rules`)\n",
    )
    assert snapshot(project) == before and not (project / ".prodready").exists()


def test_unparsable_and_python2_files_are_left_alone_while_the_rest_is_fixed(project, capsys):
    (project / "app" / "legacy.py").write_text("print 'hello'\n")
    (project / "app" / "broken.py").write_text("def f(:\n    print('x')\n")
    (project / "app" / "latin.py").write_bytes(b"from flask import Flask\nprint('\xe9t\xe9')\n")
    untouched = {k: v for k, v in snapshot(project).items() if k.endswith(("legacy.py", "broken.py", "latin.py"))}
    assert run(capsys, "fix", str(project), "--apply", "--select", "PR502")[0] == 0
    assert "logger.info" in (project / "app" / "routes.py").read_text()
    assert {k: v for k, v in snapshot(project).items() if k in untouched} == untouched


# -- a damaged backup: undo refuses, names it, restores nothing ----------------------------------


def _manifest(backup: Path) -> dict:
    return json.loads((backup / "manifest.json").read_text())


def _write_manifest(backup: Path, manifest: dict) -> None:
    (backup / "manifest.json").write_text(json.dumps(manifest))


DAMAGE = {
    "truncated manifest": (
        lambda b: (b / "manifest.json").write_text('{"version": 1, "state": "app'),
        "manifest.json in {backup} is damaged (not valid JSON)",
    ),
    "empty manifest": (lambda b: (b / "manifest.json").write_bytes(b""), "manifest.json in {backup} is damaged (not valid JSON)"),
    "manifest of the wrong shape": (
        lambda b: _write_manifest(b, {**_manifest(b), "changed": "app/routes.py"}),
        "manifest.json in {backup} is damaged (entries missing or of the wrong type)",
    ),
    "manifest without hashes": (
        lambda b: _write_manifest(b, {**_manifest(b), "changed": [{"path": "app/routes.py"}]}),
        "manifest.json in {backup} is damaged (entries missing or of the wrong type)",
    ),
    "saved copy deleted": (
        lambda b: (b / "files" / "app" / "routes.py").unlink(),
        "the saved copy of app/routes.py in {backup} is damaged (No such file or directory)",
    ),
    "saved copy altered": (
        lambda b: (b / "files" / "app" / "routes.py").write_text("# not what was there\n"),
        "the saved copy of app/routes.py in {backup} is damaged (its bytes do not match the manifest)",
    ),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_backup_is_refused_clearly(project, capsys, damage):
    backup = applied(capsys, project)
    harm, problem = DAMAGE[damage]
    harm(backup)
    before = snapshot(project)
    shown = f".prodready/backups/{backup.name}"
    assert run(capsys, "undo", str(project)) == (
        2,
        f"prodready: error: cannot undo: {problem.format(backup=shown)}; nothing was restored "
        f"(the saved originals are in {shown}/files)\n",
    )
    assert snapshot(project) == before


def test_a_manifest_pointing_outside_the_project_is_refused(project, capsys, tmp_path):
    backup = applied(capsys, project)
    outside = tmp_path / "outside.py"
    outside.write_text("keep me\n")
    manifest = _manifest(backup)
    manifest["changed"][0]["path"] = "../outside.py"
    _write_manifest(backup, manifest)
    before = snapshot(project)
    assert run(capsys, "undo", str(project)) == (2, "prodready: error: ../outside.py is outside the project folder; refusing to write there\n")
    assert snapshot(project) == before and outside.read_text() == "keep me\n"


def test_an_apply_that_never_wrote_its_manifest_is_passed_over(project, capsys):
    """A backup folder with no manifest is an apply stopped before its first write: undo goes
    on to the apply before it."""
    original = snapshot(project)
    applied(capsys, project)
    (project / ".prodready" / "backups" / "99999999-999999-999999" / "files").mkdir(parents=True)
    assert run(capsys, "undo", str(project)) == (0, "prodready: restored 1 file(s), deleted 0 created file(s)\n")
    assert snapshot(project) == original


# -- a read-only file system ----------------------------------------------------------------------


def test_apply_on_a_read_only_file_system_writes_nothing(project, capsys, monkeypatch):
    before = snapshot(project)
    read_only_filesystem(monkeypatch, project)
    assert run(capsys, "fix", str(project), "--apply") == (
        2,
        "prodready: error: cannot write .prodready: Read-only file system; nothing was written\n",
    )
    monkeypatch.undo()
    assert snapshot(project) == before and not (project / ".prodready").exists()


def test_apply_into_a_read_only_folder_is_refused_before_the_backup(project, capsys, monkeypatch):
    """Only app/ is read-only (a mount inside the project): refused before any write."""
    before = snapshot(project)
    read_only_filesystem(monkeypatch, project / "app")
    assert run(capsys, "fix", str(project), "--apply", "--select", "PR502") == (
        2,
        "prodready: error: app/routes.py is read-only; make it writable or leave its fixes out\n",
    )
    monkeypatch.undo()
    assert snapshot(project) == before
    assert not list((project / ".prodready").glob("backups/*"))


def test_undo_on_a_read_only_file_system_writes_nothing(project, capsys, monkeypatch):
    applied(capsys, project)
    before = snapshot(project)
    read_only_filesystem(monkeypatch, project)
    assert run(capsys, "undo", str(project)) == (
        2,
        "prodready: error: cannot write .prodready/lock: Read-only file system; nothing was written\n",
    )
    monkeypatch.undo()
    assert snapshot(project) == before
    assert run(capsys, "undo", str(project))[0] == 0  # writable again: the backup is intact

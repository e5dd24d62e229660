"""`prodready wizard`, bare `prodready`, `prodready demo`, and the sample app shipped for the demo."""

from __future__ import annotations

import fnmatch
import tempfile
from pathlib import Path

import pytest
import tomlkit

import auditor.commands.wizard
import auditor.tui
from auditor.cli import main
from auditor.commands.wizard import copy_demo, demo_source
from tests.helpers import FIXTURES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def opened(monkeypatch, tmp_path) -> list[tuple[Path, bool]]:
    """Pretend stdout is a terminal and record which folder the wizard would open."""
    calls: list[tuple[Path, bool]] = []
    monkeypatch.setattr(auditor.commands.wizard, "stdout_is_terminal", lambda: True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # demo copies land in the test's folder
    monkeypatch.setattr(auditor.tui, "run_wizard", lambda root, dry_run=False: calls.append((root, dry_run)) or 0)
    return calls


def test_bare_prodready_in_a_terminal_opens_the_wizard_on_the_current_folder(opened, tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    assert main([]) == 0
    assert opened == [(project.resolve(), False)]


def test_bare_prodready_outside_a_terminal_prints_the_help(capsys):
    assert main([]) == 0
    assert "wizard" in capsys.readouterr().out


def test_wizard_passes_path_and_dry_run(opened):
    assert main(["wizard", str(FIXTURES / "careful_app"), "--dry-run"]) == 0
    assert opened == [((FIXTURES / "careful_app").resolve(), True)]


def test_wizard_outside_a_terminal_is_one_clear_error(capsys):
    assert main(["wizard", str(FIXTURES / "careful_app")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prodready: error: the wizard needs a terminal") and "Traceback" not in err


def test_wizard_on_a_missing_folder_is_one_clear_error(opened, capsys, tmp_path):
    assert main(["wizard", str(tmp_path / "nope")]) == 2
    assert "path does not exist" in capsys.readouterr().err
    assert opened == []


def test_demo_opens_the_wizard_on_a_fresh_copy_of_the_sample(opened, capsys):
    assert main(["demo"]) == 0
    (root, dry_run), = opened
    assert not dry_run and root.name == "taskflow" and (root / "app" / "main.py").is_file()
    assert str(root) in capsys.readouterr().out
    assert not any(part.startswith((".pytest_cache", "__pycache__")) for p in root.rglob("*") for part in p.parts)


def test_demo_copies_are_independent(tmp_path):
    first, second = copy_demo(tmp_path), copy_demo(tmp_path)
    assert first != second
    (first / "app" / "main.py").write_text("# changed\n")
    assert (second / "app" / "main.py").read_text() != "# changed\n"


def test_demo_app_is_the_sloppy_fastapi_fixture():
    # One copy: the fixture is a link to the shipped demo app, so they cannot drift apart.
    assert (FIXTURES / "sloppy_fastapi").resolve() == demo_source().resolve()
    assert (demo_source() / "app" / "main.py").is_file()


def test_the_wheel_ships_the_demo_app_and_the_wizard_styles():
    config = tomlkit.parse((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"]["prodready_templates"] == "templates"
    assert "prodready_templates" in config["packages"] and "auditor.tui" in config["packages"]
    patterns = config["package-data"]["prodready_templates"]
    for path in (REPO / "templates" / "demo_app").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(REPO / "templates").as_posix()
            assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
    assert any(fnmatch.fnmatch("tui/wizard.tcss", p) for p in config["package-data"]["auditor"])

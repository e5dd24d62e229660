"""The wheel carries both packages and every template, and installs on its own."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return next(out.glob("prodready-*.whl"))


def test_wheel_holds_every_template_and_the_console_script(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = [
        p.relative_to(REPO / "templates").as_posix()
        for p in (REPO / "templates").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    missing = [t for t in templates if f"prodready_templates/{t}" not in names]
    assert not missing, missing
    assert "auditor/cli.py" in names and "fixers/__init__.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "prodready = auditor.cli:run" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_runs_and_loads_templates(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import importlib.resources, auditor, prodready_templates, sys\n"
        f"assert auditor.__file__.startswith({str(target)!r}), auditor.__file__\n"
        "files = [p.name for p in importlib.resources.files('prodready_templates').iterdir()]\n"
        "print(len(files))\n"
        "from auditor.cli import main\n"
        "sys.exit(main(['rules']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the checkout: the installed copy must be the one imported
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "PR250" in proc.stdout

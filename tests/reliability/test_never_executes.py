"""prodready reads the project; it never imports or runs it.

Every file Python or a tool might execute — package __init__, modules, conftest.py, setup.py,
sitecustomize/usercustomize, __main__.py, a PEP 517 build backend, alembic's env.py, modules
named like prodready's own dependencies, and 160 more modules so the scan uses its worker
processes — writes a marker file when executed. `scan`, `fix --diff`, `fix --apply
--include-review`, `undo` and the wizard's scan run on it; no marker may appear.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_project

APP = """
import asyncio

import requests
from fastapi import FastAPI

app = FastAPI()


@app.post("/signup")
async def signup(payload: dict):
    print("new signup", payload["email"])
    asyncio.create_task(send_welcome(payload["email"]))
    requests.post("https://mail.example.com/send", json=payload)
    return {"ok": True}


async def send_welcome(email):
    try:
        await asyncio.sleep(0)
    except Exception:
        pass
"""

# Where Python or a tool would look for code to run.
TRAPS = [
    "app/__init__.py", "app/main.py", "conftest.py", "tests/conftest.py", "tests/test_app.py",
    "setup.py", "sitecustomize.py", "usercustomize.py", "__main__.py", "app/__main__.py",
    "manage.py", "build_backend.py", "migrations/env.py",
    # named like prodready's own dependencies: run from this folder, they must not shadow them
    "tomlkit.py", "pathspec.py", "jinja2.py", "pydantic.py", "libcst.py", "textual.py",
    *(f"pkg/mod{i}.py" for i in range(160)),
]  # fmt: skip


def trap(markers: Path, relpath: str) -> str:
    marker = markers / relpath.replace("/", "__")
    return f"__import__('pathlib').Path({str(marker)!r}).write_text('executed')\n"


@pytest.fixture
def project(tmp_path) -> tuple[Path, Path]:
    markers = tmp_path / "markers"
    markers.mkdir()
    files = {relpath: trap(markers, relpath) for relpath in TRAPS}
    files["app/main.py"] += APP
    files["setup.py"] += "from setuptools import setup\n\nsetup(name='victim')\n"
    files["pyproject.toml"] = '[build-system]\nrequires = []\nbuild-backend = "build_backend"\nbackend-path = ["."]\n'
    return write_project(tmp_path / "victim", files), markers


def prodready(root: Path, *args: str) -> subprocess.CompletedProcess:
    """The installed command, run from inside the project as a user would."""
    script = Path(sys.executable).with_name("prodready")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "auditor"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PRODREADY_NO_CACHE": "1"}
    return subprocess.run([*command, *args], cwd=root, capture_output=True, text=True, env=env, timeout=600)


def fired(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())


def test_the_traps_work(project):
    """Control: running one of the files does write its marker."""
    root, markers = project
    runpy.run_path(str(root / "conftest.py"))
    assert fired(markers) == ["conftest.py"]


def test_scan_fix_apply_and_undo_never_execute_the_project(project):
    root, markers = project
    scanned = prodready(root, "scan", ".", "--no-progress")
    assert scanned.returncode == 1 and "PR502 app/main.py" in scanned.stdout, scanned.stderr
    assert f"{len(TRAPS)} files" in scanned.stdout  # every module read (by the worker processes)

    dry = prodready(root, "fix", ".", "--diff", "--include-review", "--no-progress")
    assert dry.returncode == 1 and dry.stdout.startswith("diff --git"), dry.stderr

    applied = prodready(root, "fix", ".", "--apply", "--include-review", "--no-progress")
    assert applied.returncode == 0 and "fixed    app/main.py" in applied.stdout, applied.stderr

    undone = prodready(root, "undo", ".")
    assert undone.returncode == 0, undone.stderr
    assert fired(markers) == []


@pytest.mark.anyio
async def test_the_wizard_scan_never_executes_the_project(project):
    from auditor.tui.app import WizardApp
    from auditor.tui.screenshots import drive_start

    root, markers = project
    app = WizardApp(root, path_label="victim")
    async with app.run_test(size=(80, 24)) as pilot:
        await drive_start(pilot)
        assert any(f.rule == "PR502" for f in app.session.result.findings)
    assert fired(markers) == []


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

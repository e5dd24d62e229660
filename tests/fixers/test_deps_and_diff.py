"""Dependency additions (tomlkit / requirements.txt) and diffs of unusual files."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fixers import apply_plan, plan_fixes
from fixers.pipeline.deps import add_requirements
from fixers.pipeline.diff import file_diff
from fixers.pipeline.workspace import Workspace
from tests.fixers.helpers import finding
from tests.helpers import scan_project, write_project

PYPROJECT = """\
[project]
name = "shop"
dependencies = [
    "flask>=3",  # the web framework
    "requests",
]

[tool.prodready]
ignore = ["PR103"]
"""


def added(tmp_path, files, requirements):
    root = write_project(tmp_path, files)
    ws = Workspace(root)
    new = add_requirements(ws, requirements)
    return new, {s.relpath: s.text for s in ws.changed()}


def test_pyproject_dependencies_keep_their_formatting(tmp_path):
    new, texts = added(tmp_path, {"pyproject.toml": PYPROJECT}, ["pydantic>=2", "Requests>=2"])
    assert new == ["pydantic>=2"]  # requests is declared already (names compare normalized)
    assert texts["pyproject.toml"] == PYPROJECT.replace('    "requests",\n', '    "requests",\n    "pydantic>=2",\n')


def test_poetry_dependencies(tmp_path):
    poetry = '[tool.poetry.dependencies]\npython = "^3.11"\nflask = "^3"\n'
    _, texts = added(tmp_path, {"pyproject.toml": poetry}, ["psycopg-pool>=3.2"])
    assert texts["pyproject.toml"] == poetry + 'psycopg-pool = ">=3.2"\n'


def test_requirements_txt_without_final_newline(tmp_path):
    _, texts = added(tmp_path, {"requirements.txt": "flask==3.1.*\n# tools\npytest"}, ["pydantic>=2"])
    assert texts["requirements.txt"] == "flask==3.1.*\n# tools\npytest\npydantic>=2\n"


def test_a_pyproject_without_a_project_table_leaves_it_to_requirements(tmp_path):
    _, texts = added(tmp_path, {"pyproject.toml": "[tool.ruff]\nline-length = 100\n"}, ["pydantic>=2"])
    assert texts == {"requirements.txt": "pydantic>=2\n"}


def test_already_declared_in_an_extra_is_left_alone(tmp_path):
    text = '[project]\nname = "x"\ndependencies = []\n[project.optional-dependencies]\napi = ["pydantic_settings", "Pydantic>=2"]\n'
    new, texts = added(tmp_path, {"pyproject.toml": text}, ["pydantic>=2"])
    assert new == [] and texts == {}


def test_new_file_and_missing_final_newline_diffs():
    diff = file_diff("app/new.py", None, "x = 1\ny = 2")
    assert diff == (
        "diff --git a/app/new.py b/app/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/app/new.py\n"
        "@@ -0,0 +1,2 @@\n+x = 1\n+y = 2\n\\ No newline at end of file\n"
    )


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_crlf_file_without_final_newline_keeps_its_bytes_and_the_patch_applies(tmp_path):
    source = b"from flask import Flask\r\n\r\ndef f():\r\n    print('hi')\r\n    return 1"
    root = tmp_path / "proj"
    root.mkdir()
    (root / "app.py").write_bytes(source)
    twin = tmp_path / "twin"
    shutil.copytree(root, twin)
    plan = plan_fixes(scan_project(root), [finding("PR502", "app.py", 4, 4)])
    patch = tmp_path / "fix.patch"
    patch.write_bytes(plan.diff().encode())
    apply_plan(plan)
    fixed = (root / "app.py").read_bytes()
    assert b"    logger.info('hi')\r\n    return 1" in fixed and fixed.count(b"\n") == fixed.count(b"\r\n")
    subprocess.run(["git", "init", "-q"], cwd=twin, check=True)
    subprocess.run(["git", "apply", str(patch)], cwd=twin, check=True)
    assert (twin / "app.py").read_bytes() == fixed


# -- requirements in the file's own style --------------------------------------------------------

PINNED = """\
# Production dependencies (pip-compile style pins)
alembic==1.13.1
fastapi==0.110.0
# the database
psycopg2-binary==2.9.9
uvicorn[standard]==0.29.0
"""


def test_a_pinned_requirements_file_gets_a_pin_in_its_alphabetical_place(tmp_path):
    from importlib import metadata

    new, texts = added(tmp_path, {"requirements.txt": PINNED}, ["slowapi>=0.1.9"])
    version = metadata.version("slowapi")  # installed with the test extra
    assert new == [f"slowapi=={version}"]
    assert texts["requirements.txt"] == PINNED.replace("uvicorn[standard]", f"slowapi=={version}\nuvicorn[standard]")


def test_the_projects_own_virtualenv_version_wins(tmp_path):
    info = tmp_path / ".venv/lib/python3.11/site-packages/pydantic_settings-2.3.4.dist-info"
    info.mkdir(parents=True)
    new, texts = added(tmp_path, {"requirements.txt": PINNED}, ["pydantic-settings>=2"])
    assert new == ["pydantic-settings==2.3.4"]
    # "pydantic-settings" sorts after "fastapi" and "psycopg2-binary": the comment stays with its line.
    assert "# the database\npsycopg2-binary==2.9.9\npydantic-settings==2.3.4\nuvicorn" in texts["requirements.txt"]


def test_a_floor_style_file_keeps_the_fixes_minimum_and_an_unsorted_one_gets_it_at_the_end(tmp_path):
    text = "requests>=2.31\nflask>=3.0\nsqlalchemy>=2\n"
    new, texts = added(tmp_path, {"requirements.txt": text}, ["Flask-Limiter>=3.5"])
    assert new == ["Flask-Limiter>=3.5"] and texts["requirements.txt"] == text + "Flask-Limiter>=3.5\n"


def test_compatible_release_style(tmp_path):
    text = "django~=4.2\npsycopg~=3.1\nrequests~=2.31\n"
    info = tmp_path / ".venv/lib/python3.12/site-packages/alembic-1.13.2.dist-info"
    info.mkdir(parents=True)
    new, texts = added(tmp_path, {"requirements.txt": text}, ["alembic>=1.13"])
    assert new == ["alembic~=1.13"] and texts["requirements.txt"] == "alembic~=1.13\n" + text


def test_pyproject_pins_and_order(tmp_path):
    pyproject = """\
[project]
name = "shop"
dependencies = [
    "alembic==1.13.1",
    "fastapi==0.110.0",  # web
    "uvicorn==0.29.0",
]
"""
    info = tmp_path / ".venv/lib/python3.11/site-packages/slowapi-0.1.9.dist-info"
    info.mkdir(parents=True)
    new, texts = added(tmp_path, {"pyproject.toml": pyproject}, ["slowapi>=0.1.9"])
    assert new == ["slowapi==0.1.9"]
    assert texts["pyproject.toml"] == pyproject.replace('    "uvicorn', '    "slowapi==0.1.9",\n    "uvicorn')

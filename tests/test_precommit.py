"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit in a throwaway git repository.

pre-commit installs a `language: python` hook by pip-installing this repository into a fresh
virtualenv, which needs the package index. To stay offline the test runs the same hook
definitions (entry, args, file filters) as a `repo: local` config with `language: system`
against the prodready installed next to this interpreter, and separately validates the
published manifest with `pre-commit validate-manifest`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import FIXTURES, write_project

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
BIN = Path(sys.executable).parent
PRE_COMMIT = BIN / "pre-commit"

pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists() or shutil.which("git") is None, reason="pre-commit (test extra) and git are needed"
)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def repo(tmp_path):
    """A git repository with its own pre-commit home, PATH reaching this venv's prodready."""
    path = tmp_path / "repo"
    path.mkdir()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "PRODREADY_CACHE_DIR": str(tmp_path / "cache"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    run(["git", "init", "-q"], path, env)
    return path, env


def install_hooks(path: Path, env: dict[str, str], args: dict[str, list[str]] | None = None) -> None:
    hooks = []
    for hook in yaml.safe_load(MANIFEST.read_text()):
        hook = {**hook, "language": "system"}
        if args and hook["id"] in args:
            hook["args"] = args[hook["id"]]
        hooks.append(hook)
    config = {"repos": [{"repo": "local", "hooks": hooks}]}
    (path / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    run(["git", "add", "-A"], path, env)


def test_manifest_is_valid_and_has_both_hooks():
    proc = subprocess.run([str(PRE_COMMIT), "validate-manifest", str(MANIFEST)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hooks = {hook["id"]: hook for hook in yaml.safe_load(MANIFEST.read_text())}
    assert hooks["prodready"]["entry"].startswith("prodready scan")
    assert hooks["prodready-fix-diff"]["entry"] == "prodready fix --diff"
    assert all(hook["pass_filenames"] is False for hook in hooks.values())


def test_scan_hook_blocks_a_sloppy_commit_and_passes_a_clean_one(repo):
    path, env = repo
    shutil.copytree(FIXTURES / "sloppy_fastapi" / "app", path / "app")
    install_hooks(path, env)
    proc = run([str(PRE_COMMIT), "run", "prodready", "--all-files"], path, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "prodready scan" in proc.stdout and "Failed" in proc.stdout
    assert "PR250" in proc.stdout  # the report is shown to whoever commits

    shutil.rmtree(path / "app")
    shutil.copytree(FIXTURES / "careful_app", path / "careful")  # a backend with nothing to fix
    run(["git", "add", "-A"], path, env)
    proc = run([str(PRE_COMMIT), "run", "prodready", "--all-files"], path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Passed" in proc.stdout

    shutil.rmtree(path / "careful")  # no web app at all: nothing to audit is not a pass
    write_project(path, {"calc.py": "def add(a, b):\n    return a + b\n"})
    run(["git", "add", "-A"], path, env)
    proc = run([str(PRE_COMMIT), "run", "prodready", "--all-files"], path, env)
    assert proc.returncode == 1 and "exit code: 2" in proc.stdout, proc.stdout + proc.stderr
    assert "no FastAPI or Flask app found" in proc.stdout


def test_scan_hook_with_a_baseline_only_blocks_new_findings(repo):
    path, env = repo
    shutil.copytree(FIXTURES / "sloppy_fastapi" / "app", path / "app")
    subprocess.run(
        [str(BIN / "prodready"), "scan", str(path), "--write-baseline", str(path / ".prodready-baseline.json")],
        env=env, capture_output=True, check=True,
    )  # fmt: skip
    install_hooks(path, env, args={"prodready": ["--baseline", ".prodready-baseline.json"]})
    proc = run([str(PRE_COMMIT), "run", "prodready", "--all-files"], path, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    (path / "app" / "sync.py").write_text("import requests\n\ndef pull(url):\n    return requests.get(url)\n")
    with (path / "app" / "main.py").open("a") as main:  # the app uses it (a module nothing imports is not app code)
        main.write("\nfrom app import sync  # noqa: E402,F401\n")
    run(["git", "add", "-A"], path, env)
    proc = run([str(PRE_COMMIT), "run", "prodready", "--all-files"], path, env)
    assert proc.returncode == 1 and "app/sync.py:4" in proc.stdout, proc.stdout


def test_fix_diff_hook_shows_a_diff_and_writes_nothing(repo):
    path, env = repo
    if run([str(BIN / "prodready"), "fix", "--help"], path, env).returncode != 0:
        pytest.skip("`prodready fix` is not available in this build")
    shutil.copytree(FIXTURES / "sloppy_fastapi" / "app", path / "app")
    install_hooks(path, env)
    before = {p: p.read_bytes() for p in (path / "app").rglob("*.py")}
    proc = run([str(PRE_COMMIT), "run", "prodready-fix-diff", "--all-files"], path, env)
    assert proc.returncode == 1 and "prodready fix (diff only)" in proc.stdout  # fails while fixes are pending
    assert "+++ " in proc.stdout and "--- " in proc.stdout, proc.stdout + proc.stderr  # verbose: the diff is shown
    assert {p: p.read_bytes() for p in (path / "app").rglob("*.py")} == before

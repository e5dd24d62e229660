"""The corpus run: real trees through the whole pipeline.

The Python standard library is scanned (1,700+ modules no rule was written against) and every
fixture app goes through `fix --apply --include-review` on a copy: every changed file must
parse and compile, a second fix must propose nothing, the app's own tests must still pass, and
`undo` must give back every byte, mode and folder. About three minutes on two busy cores, so
CI runs it too; `-m "not corpus"` leaves it out.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from auditor.cli import main
from auditor.engine import scan
from fixers.base import check_compiles
from fixers.registry import FIXERS
from tests.reliability.helpers import FIXTURE_APPS, copy_app, snapshot

pytestmark = pytest.mark.corpus

STDLIB = Path(sysconfig.get_paths()["stdlib"])
READING_PROBLEMS = {"syntax-error", "decode-error", "binary", "too-large", "unreadable", "symlink-loop"}


def rule_errors(result) -> list[str]:
    return [f"{d.path}: {d.message}" for d in result.diagnostics if d.kind == "rule-error"]


def test_the_standard_library_scans_without_a_rule_error():
    started = time.perf_counter()
    result = scan(STDLIB, use_cache=False)
    elapsed = time.perf_counter() - started
    assert result.files > 1000
    assert rule_errors(result) == []
    # Anything else is a file that cannot be read, named one by one (the stdlib ships broken test inputs).
    assert {d.kind for d in result.diagnostics} <= READING_PROBLEMS
    print(f"\nstdlib: {result.files} files scanned, {len(result.findings)} findings, {len(result.diagnostics)} unreadable, {elapsed:.1f}s")


def quiet(*argv: str) -> tuple[int, str, str]:
    """A CLI command with its output captured (module fixtures have no capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*argv, "--no-cache", "--no-progress"] if argv[0] == "fix" else list(argv))
    return code, out.getvalue(), err.getvalue()


def run_app_tests(root: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        # The app's own tests; the generated failure-path tests report real gaps and are
        # counted separately (tests/test_fix_fixture_apps.py).
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ignore", "tests/test_failure_paths.py"],
        cwd=root, capture_output=True, text=True, timeout=600, env=env,
    )  # fmt: skip


@dataclass
class Run:
    """What one fixture app went through; the tests below each check one promise on it."""

    app: str
    root: Path
    rule_errors: list[str]
    before: dict
    after_undo: dict
    written: dict[str, bytes]  # every file the apply created or changed, as written
    manifest: dict
    apply: tuple[int, str, str]
    second: tuple[int, str, str]
    undo: tuple[int, str, str]
    tests: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    done = {}
    for app in FIXTURE_APPS:
        base = tmp_path_factory.mktemp(app)
        root = copy_app(app, base / app)
        errors = rule_errors(scan(root, use_cache=False))
        before = snapshot(root)
        applied_run = quiet("fix", str(root), "--apply", "--include-review")
        applied = snapshot(root)
        written = {rel: (root / rel).read_bytes() for rel, entry in applied.items() if entry[0] != "dir" and before.get(rel) != entry}
        manifests = sorted((root / ".prodready" / "backups").glob("*/manifest.json"))
        manifest = json.loads(manifests[-1].read_text()) if manifests else {}
        second = quiet("fix", str(root), "--include-review")
        # The app's tests run on a second copy: whatever they leave there cannot blur the byte compare.
        tests = run_app_tests(shutil.copytree(root, base / "tested", ignore=shutil.ignore_patterns(".prodready")))
        undone = quiet("undo", str(root)) if manifest else (0, "", "")
        done[app] = Run(app, root, errors, before, snapshot(root), written, manifest, applied_run, second, undone, tests)
    return done


def test_fixture_apps_scan_without_a_rule_error(runs):
    assert {app: run.rule_errors for app, run in runs.items()} == {app: [] for app in runs}


def test_apply_succeeds_and_every_written_file_parses_and_compiles(runs):
    for run in runs.values():
        assert run.apply[0] == 0, run.apply[2]
        for relpath, data in run.written.items():
            if relpath.endswith(".py"):
                # compile() of the bytes: honours a BOM or coding cookie, as the interpreter would.
                assert check_compiles(relpath, data) is None, f"{run.app}/{relpath}"
            elif relpath.endswith(".toml"):
                tomllib.loads(data.decode("utf-8"))


def test_a_second_fix_proposes_nothing(runs):
    for run in runs.values():
        code, diff, err = run.second
        assert (code, diff) == (0, ""), f"{run.app}: {err}\n{diff[:3000]}"


def test_fixture_apps_own_tests_pass_after_apply(runs):
    failing = {app: run.tests for app, run in runs.items() if run.tests.returncode != 0}
    assert not failing, "\n\n".join(f"{app}:\n{done.stdout[-2500:]}{done.stderr[-1500:]}" for app, done in failing.items())


def test_undo_restores_every_byte_mode_and_folder(runs):
    for run in runs.values():
        assert run.undo[0] == 0, run.undo[2]
        assert run.after_undo == run.before, run.app
        assert not list(run.root.glob(".prodready/lock"))


def test_every_codemod_ran_on_the_corpus(runs):
    """A codemod no fixture app exercises is not covered by the promises above."""
    applied = {fix["fixer"] for run in runs.values() for fix in run.manifest.get("fixes", [])}
    assert {spec.name for spec in FIXERS} - applied == set()
    fixes = sum(len(run.manifest.get("fixes", [])) for run in runs.values())
    written = sum(len(data) for run in runs.values() for data in run.written.values())
    # What undo wrote back (the saved originals) and took away (the created files).
    saved = [p for run in runs.values() for p in run.root.glob(".prodready/backups/*/files/**/*") if p.is_file()]
    restored = sum(p.stat().st_size for p in saved)
    print(
        f"\nfixture apps: {fixes} fixes applied by {len(applied)} codemods; {len(saved)} files restored "
        f"({restored} bytes), {sum(len(run.manifest.get('created', [])) for run in runs.values())} created files "
        f"deleted; {written} bytes written in all"
    )

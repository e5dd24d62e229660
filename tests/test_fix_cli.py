"""`prodready fix` / `prodready undo` on copies of the fixture apps."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from auditor.cli import main
from fixers.base import check_compiles
from tests.fixers.helpers import digest
from tests.helpers import FIXTURES

SLOPPY = ["sloppy_fastapi", "sloppy_flask"]


def copy(app: str, tmp_path, name: str | None = None):
    target = tmp_path / (name or app)
    shutil.copytree(FIXTURES / app, target, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".prodready"))
    return target


def fix(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["fix", *args, "--no-cache", "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def run_app_tests(root) -> None:
    done = subprocess.run(
        # The app's own tests; the generated failure-path tests report real gaps and are
        # counted separately (tests/test_fix_fixture_apps.py).
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ignore", "tests/test_failure_paths.py"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def assert_python_compiles(root) -> None:
    for path in root.rglob("*.py"):
        assert check_compiles(str(path), path.read_text(encoding="utf-8")) is None, path


@pytest.mark.parametrize("app", SLOPPY)
def test_dry_run_changes_no_byte_and_exits_1(app, tmp_path, capsys):
    root = copy(app, tmp_path)
    before = digest(root)
    code, out, err = fix(capsys, str(root))
    assert code == 1
    assert out.startswith("diff --git a/") and "\033[" not in out
    assert "dry run: nothing written" in err
    assert digest(root) == before
    assert not (root / ".prodready").exists()


def test_nothing_to_fix_exits_0(tmp_path, capsys):
    root = copy("careful_app", tmp_path)
    before = digest(root)
    code, out, err = fix(capsys, str(root), "--include-review")
    assert (code, out) == (0, "")
    assert "nothing to fix" in err
    assert digest(root) == before


@pytest.mark.parametrize("app", SLOPPY)
@pytest.mark.parametrize("review", [False, True], ids=["safe", "include-review"])
def test_apply_matches_the_dry_run_keeps_the_app_working_and_undo_restores_every_byte(app, review, tmp_path, capsys):
    flags = ["--include-review"] if review else []
    root = copy(app, tmp_path)
    original = digest(root)

    patch = tmp_path / "fix.patch"
    code, shown, _ = fix(capsys, str(root), "--diff-file", str(patch), *flags)
    assert code == 1 and patch.read_text() == shown

    code, out, err = fix(capsys, str(root), "--apply", *flags)
    assert code == 0 and "finding(s) gone" in err and "backup in .prodready/backups/" in err
    applied = digest(root)

    # The dry run showed exactly what was written: its patch gives the same bytes on a fresh copy.
    if shutil.which("git"):
        other = copy(app, tmp_path, "patched")
        subprocess.run(["git", "init", "-q"], cwd=other, check=True)
        subprocess.run(["git", "apply", str(patch)], cwd=other, check=True)
        assert digest(other) == applied

    assert_python_compiles(root)
    code, out, _ = fix(capsys, str(root), *flags)
    assert (code, out) == (0, "")  # idempotent: nothing more to propose
    run_app_tests(root)

    assert main(["undo", str(root)]) == 0
    assert digest(root) == original


def test_select_restricts_the_fixes(tmp_path, capsys):
    root = copy("sloppy_flask", tmp_path)
    code, out, _ = fix(capsys, str(root), "--select", "PR502")
    assert code == 1
    assert "logger." in out and "class CreateItemBody" not in out and "logging_setup.py" not in out
    code, out, _ = fix(capsys, str(root), "--ignore", "PR5", "--include-review")
    assert "logger.info" not in out and "class CreateItemBody" in out


def test_review_fixes_are_announced_but_not_applied_by_default(tmp_path, capsys):
    root = copy("sloppy_flask", tmp_path)
    code, out, err = fix(capsys, str(root))
    assert "more fix(es) change behaviour; add --include-review" in err
    assert "class CreateItemBody" not in out


def test_undo_refuses_clearly_when_a_file_changed(tmp_path, capsys):
    root = copy("sloppy_flask", tmp_path)
    fix(capsys, str(root), "--apply")
    (root / "app" / "auth.py").write_text("# rewritten by hand\n")
    assert main(["undo", str(root)]) == 2
    err = capsys.readouterr().err
    assert "cannot undo: 1 file(s) changed since the fix backed up in .prodready/backups/" in err
    assert "\n  app/auth.py\n" in err and "prodready undo --force" in err
    assert (root / "app" / "auth.py").read_text() == "# rewritten by hand\n"


def test_undo_with_nothing_applied(tmp_path, capsys):
    root = copy("sloppy_flask", tmp_path)
    assert main(["undo", str(root)]) == 2
    assert "nothing to undo" in capsys.readouterr().err


def test_apply_refuses_a_read_only_file_and_writes_nothing(tmp_path, capsys):
    root = copy("sloppy_flask", tmp_path)
    before = digest(root)
    (root / "app" / "orders.py").chmod(0o444)
    try:
        code, out, err = fix(capsys, str(root), "--apply")
    finally:
        (root / "app" / "orders.py").chmod(0o644)
    assert code == 2 and "app/orders.py is read-only" in err and "Traceback" not in err
    assert digest(root) == before


def test_bad_rule_code_is_a_usage_error(tmp_path, capsys):
    root = copy("sloppy_flask", tmp_path)
    code, _, err = fix(capsys, str(root), "--select", "PR999")
    assert code == 2 and "unknown rule code" in err

"""The CLI's contract: JSON shape, exit codes, one-line errors, bad input scanned around."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

from auditor.cli import ProgressLine, main
from tests.helpers import FIXTURES, write_project

CONTRACT_KEYS = [
    "rule", "name", "step", "category", "severity", "confidence", "path",
    "line", "col", "end_line", "message", "fixable", "fix_safety",
]  # fmt: skip


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_matches_the_contract(capsys):
    code, out, _ = run(capsys, "scan", str(FIXTURES / "sloppy_fastapi"), "--format", "json", "--no-cache")
    data = json.loads(out)
    assert code == 1
    assert data["version"] == 1 and data["tool"] == "prodready"
    assert data["root"] == str((FIXTURES / "sloppy_fastapi").resolve())
    assert list(data["summary"]) == ["files", "findings", "by_step"]
    assert list(data["summary"]["by_step"]) == ["data-model", "infrastructure", "validation", "staging", "logging"]
    assert data["summary"]["findings"] == len(data["findings"]) > 0
    for finding in data["findings"]:
        assert list(finding) == CONTRACT_KEYS
        assert not finding["path"].startswith("/") and finding["line"] >= 1
        assert finding["rule"][2] == str(["data-model", "infrastructure", "validation", "staging", "logging"].index(finding["step"]) + 1)


def test_missing_path_is_one_line_and_exit_2():
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "scan", "/does/not/exist"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "prodready: error: path does not exist: /does/not/exist"
    assert proc.stdout == ""


def test_file_instead_of_folder(capsys, tmp_path):
    target = tmp_path / "app.py"
    target.write_text("x = 1\n")
    code, _, err = run(capsys, "scan", str(target))
    assert code == 2 and "not a folder" in err


def test_clean_project_exits_0(capsys, tmp_path):
    write_project(tmp_path, {"app.py": "from flask import Flask\napp = Flask(__name__)\n@app.get('/')\ndef home():\n    return 'ok'\n"})
    code, out, _ = run(capsys, "scan", str(tmp_path), "--select", "PR250", "--no-cache")
    assert code == 0
    assert "0 findings in 1 files" in out


def test_fail_on_threshold(capsys, tmp_path):
    write_project(tmp_path, {"app.py": "from flask import Flask\napp = Flask(__name__)\n@app.route('/items')\ndef items():\n    return []\n"})
    assert run(capsys, "scan", str(tmp_path), "--select", "PR430", "--no-cache")[0] == 1  # low finding
    assert run(capsys, "scan", str(tmp_path), "--select", "PR430", "--fail-on", "medium", "--no-cache")[0] == 0


def test_unknown_rule_code_is_a_usage_error(capsys, tmp_path):
    code, _, err = run(capsys, "scan", str(tmp_path), "--select", "PR999")
    assert code == 2 and "unknown rule code 'PR999'" in err


def test_bad_files_are_reported_once_and_the_rest_is_scanned(capsys, tmp_path):
    write_project(tmp_path, {"good.py": "import requests\nrequests.get('https://example.com')\n"})
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "latin.py").write_bytes(b"name = '\xe9t\xe9'\n")
    (tmp_path / "blob.py").write_bytes(b"\x00\x01\x02binary")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "sub" / "loop")
    os.symlink("self", tmp_path / "self")
    code, out, _ = run(capsys, "scan", str(tmp_path), "--format", "text", "--no-cache")
    assert code == 1
    assert "PR250 good.py:2" in out
    assert out.count("broken.py: syntax error at line 1") == 1
    assert out.count("latin.py: not valid text") == 1
    assert out.count("blob.py: binary content") == 1
    assert out.count("sub/loop: symlink leads back") == 1
    assert out.count("self: cannot follow") == 1


def test_suppression_comment(capsys, tmp_path):
    write_project(
        tmp_path,
        "import requests\n"
        "requests.get('https://a')  # prodready: ignore[PR250] internal mirror, always fast\n"
        "requests.get('https://b')  # prodready: ignore\n"
        "requests.get('https://c')  # prodready: ignore[PR301]\n",
    )
    _, out, _ = run(capsys, "scan", str(tmp_path), "--format", "json", "--no-cache")
    found = [(f["rule"], f["line"]) for f in json.loads(out)["findings"]]
    assert found == [("PR250", 4), ("PR590", 4)]  # PR590: the PR301 comment suppresses nothing


def test_invalid_config_names_the_key(capsys, tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.prodready]\nfail-on = "sometimes"\nselekt = ["PR1"]\n')
    code, _, err = run(capsys, "scan", str(tmp_path))
    assert code == 2
    assert "fail-on" in err and "selekt" in err and err.count("\n") == 1


def test_config_exclude_and_per_file_ignores(capsys, tmp_path):
    write_project(
        tmp_path,
        {
            "pyproject.toml": '[tool.prodready]\nexclude = ["vendor/"]\n[tool.prodready.per-file-ignores]\n"scripts/*" = ["PR250"]\n',
            "vendor/lib.py": "import requests\nrequests.get('https://a')\n",
            "scripts/sync.py": "import requests\nrequests.get('https://a')\n",
            "app.py": "import requests\nrequests.get('https://a')\n",
        },
    )
    _, out, _ = run(capsys, "scan", str(tmp_path), "--format", "json", "--no-cache")
    assert [f["path"] for f in json.loads(out)["findings"]] == ["app.py"]


def test_gitignore_and_virtualenvs_are_skipped(capsys, tmp_path):
    write_project(
        tmp_path,
        {
            ".gitignore": "generated/\n*.tmp.py\n",
            "generated/x.py": "import requests\nrequests.get('https://a')\n",
            "a.tmp.py": "import requests\nrequests.get('https://a')\n",
            "myenv/pyvenv.cfg": "home = /usr\n",
            "myenv/lib/x.py": "import requests\nrequests.get('https://a')\n",
            "node_modules/x.py": "import requests\nrequests.get('https://a')\n",
            "app.py": "x = 1\n",
        },
    )
    _, out, _ = run(capsys, "scan", str(tmp_path), "--format", "json", "--no-cache")
    data = json.loads(out)
    assert data["summary"]["files"] == 1 and data["findings"] == []


def test_sarif_is_2_1_0(capsys):
    _, out, _ = run(capsys, "scan", str(FIXTURES / "sloppy_flask"), "--format", "sarif", "--no-cache")
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    ids = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    assert run_["results"] and all(r["ruleId"] == ids[r["ruleIndex"]] for r in run_["results"])
    assert all(r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in run_["results"])


def test_output_file_and_markdown(capsys, tmp_path):
    target = tmp_path / "report.md"
    code, out, _ = run(capsys, "scan", str(FIXTURES / "sloppy_flask"), "--format", "markdown", "--output", str(target), "--no-cache")
    assert code == 1
    assert target.read_text() == out
    assert out.startswith("# prodready report") and "| 1. Data model |" in out


@pytest.mark.parametrize("code", ["PR250", "pr250"])
def test_explain(capsys, code):
    status, out, _ = run(capsys, "explain", code)
    assert status == 0 and out.startswith("PR250 outbound-http-without-timeout") and "## Use instead" in out


def test_the_progress_line_shows_long_work_on_a_terminal_and_clears_itself(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with ProgressLine() as line:
        line.show("scanning 1/9 files")  # under a second in: nothing yet
        line.started -= 2
        line.show("scanning 5/9 files")
        line.show("checking 9/9")
    assert terminal.getvalue() == "\rscanning 5/9 files\rchecking 9/9      \r" + " " * 18 + "\r"
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a pipe or a CI log: never a progress line
    with ProgressLine() as line:
        line.started -= 2
        line.show("scanning 5/9 files")
    assert sys.stderr.getvalue() == ""


# -- several paths, as `ruff check A B` ---------------------------------------------------------

FLASK_APP = "from flask import Flask\napp = Flask(__name__)\n@app.get('/')\ndef home():\n    return 'ok'\n"
# A route that calls out without a timeout: PR250 on line 6, in any folder.
SLOW_CALL = (
    "import requests\nfrom flask import Flask\napp = Flask(__name__)\n@app.get('/')\ndef home():\n"
    "    return requests.get('https://a').text\n"
)


def test_several_folders_are_one_report_relative_to_their_common_folder(capsys, tmp_path):
    write_project(
        tmp_path,
        {
            "requirements.txt": "flask\nrequests\n",
            "svc/api/app.py": SLOW_CALL,
            "svc/worker/job.py": SLOW_CALL,
            "svc/other/x.py": SLOW_CALL,  # next to the two, not asked for
            "svc/api_old/y.py": SLOW_CALL,  # a name that starts like one of them
        },
    )
    api, worker = tmp_path / "svc" / "api", tmp_path / "svc" / "worker"
    code, out, _ = run(capsys, "scan", str(api), str(worker), "--select", "PR250", "--format", "json", "--no-cache")
    data = json.loads(out)
    assert code == 1
    assert data["root"] == str((tmp_path / "svc").resolve())
    assert data["summary"]["files"] == 2
    assert [f["path"] for f in data["findings"]] == ["api/app.py", "worker/job.py"]


def test_a_folder_given_with_one_inside_it_is_scanned_whole(capsys, tmp_path):
    write_project(tmp_path, {"app.py": FLASK_APP, "sub/job.py": SLOW_CALL, "lib/x.py": SLOW_CALL})
    _, out, _ = run(capsys, "scan", str(tmp_path / "sub"), str(tmp_path), "--select", "PR250", "--format", "json", "--no-cache")
    data = json.loads(out)
    assert data["root"] == str(tmp_path.resolve())
    assert [f["path"] for f in data["findings"]] == ["lib/x.py", "sub/job.py"]


def test_several_paths_keep_the_projects_own_excludes(capsys, tmp_path):
    write_project(
        tmp_path,
        {
            "pyproject.toml": '[tool.prodready]\nexclude = ["legacy/"]\n',
            "a/app.py": FLASK_APP,
            "a/legacy/old.py": SLOW_CALL,
            "b/job.py": SLOW_CALL,
        },
    )
    _, out, _ = run(capsys, "scan", str(tmp_path / "a"), str(tmp_path / "b"), "--select", "PR250", "--format", "json", "--no-cache")
    assert [f["path"] for f in json.loads(out)["findings"]] == ["b/job.py"]


def test_a_missing_one_among_several_paths_is_named(capsys, tmp_path):
    write_project(tmp_path, {"a/app.py": FLASK_APP})
    code, out, err = run(capsys, "scan", str(tmp_path / "a"), str(tmp_path / "nope"))
    assert code == 2 and out == ""
    assert err == f"prodready: error: path does not exist: {tmp_path / 'nope'}\n"


def test_a_bad_flag_prints_scans_own_usage_line():
    proc = subprocess.run([sys.executable, "-m", "auditor", "scan", ".", "--bogus"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: prodready scan ")
    assert proc.stderr.rstrip().endswith("prodready scan: error: unrecognized arguments: --bogus")


def test_fix_refuses_several_folders_with_a_clear_message(capsys, tmp_path):
    write_project(tmp_path, {"a/app.py": FLASK_APP, "b/app.py": FLASK_APP})
    code, out, err = run(capsys, "fix", str(tmp_path / "a"), str(tmp_path / "b"))
    assert code == 2 and out == ""
    assert "fix works on one project folder at a time" in err and f"`prodready fix {tmp_path / 'b'}`" in err


# -- nothing to audit is not "100/100 ready" ------------------------------------------------------


def test_an_empty_folder_says_so_shows_no_score_and_exits_2(capsys, tmp_path):
    code, out, err = run(capsys, "scan", str(tmp_path), "--no-cache")
    assert code == 2
    assert f"No Python files under {tmp_path.resolve()}." in out
    assert "/100" not in out and not re.search(r"score \d", out)
    assert err == f"prodready: nothing to audit: no Python files under {tmp_path.resolve()}\n"


def test_python_without_a_web_app_says_what_was_found(capsys, tmp_path):
    write_project(tmp_path, {"lib/a.py": "def add(a, b):\n    return a + b\n", "lib/b.py": "X = 1\n"})
    code, out, err = run(capsys, "scan", str(tmp_path), "--no-cache")
    assert code == 2
    assert f"2 Python files, no FastAPI or Flask app found under {tmp_path.resolve()}." in out
    assert "/100" not in out
    assert "nothing to audit" in err
    code, out, _ = run(capsys, "scan", str(tmp_path), "--format", "json", "--no-cache")
    data = json.loads(out)
    assert code == 2
    assert data["version"] == 1 and data["root"] == str(tmp_path.resolve())
    assert data["errors"] == [
        {"kind": "no-web-app", "path": ".", "message": f"2 Python files, no FastAPI or Flask app found under {tmp_path.resolve()}"}
    ]
    assert all("score" not in entry for entry in data["summary"]["by_step"].values())


def test_findings_in_a_folder_without_an_app_still_fail_the_run(capsys, tmp_path):
    write_project(tmp_path, {"job.py": "import requests\nrequests.get('https://a')\n"})
    code, out, _ = run(capsys, "scan", str(tmp_path), "--no-cache")
    assert code == 1 and "PR250 job.py:2" in out and "/100" not in out
    assert "no FastAPI or Flask app found" in out


@pytest.mark.parametrize("fmt", ["sarif", "markdown", "html", "github"])
def test_nothing_to_audit_in_the_other_formats(capsys, tmp_path, fmt):
    code, out, _ = run(capsys, "scan", str(tmp_path), "--format", fmt, "--no-cache")
    assert code == 2
    assert "/100" not in out and not re.search(r"score \d", out)
    assert "no python files under" in out.lower()
    if fmt == "sarif":
        notes = json.loads(out)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        assert notes[0]["descriptor"]["id"] == "no-python-files" and notes[0]["level"] == "error"


# -- a step without rules is "not checked" ----------------------------------------------------------


def test_select_shows_the_other_steps_as_not_checked(capsys):
    app = str(FIXTURES / "sloppy_fastapi")
    _, out, _ = run(capsys, "scan", app, "--select", "PR4", "--no-cache")
    headers = [line for line in out.splitlines() if line[:2] in {"1.", "2.", "3.", "4.", "5."}]
    assert len(headers) == 5
    for header in headers:
        if header.startswith("4."):
            assert "score" in header and "/100" in header
        else:
            assert header.endswith("not checked (no rule of this step selected)") and "/100" not in header
    _, out, _ = run(capsys, "scan", app, "--select", "PR4", "--format", "json", "--no-cache")
    by_step = json.loads(out)["summary"]["by_step"]
    assert by_step["staging"]["checked"] is True and 0 < by_step["staging"]["score"] < 100
    for step in ("data-model", "infrastructure", "validation", "logging"):
        assert by_step[step] == {"findings": 0, "checked": False}


def test_ignore_that_empties_a_step_marks_it_not_checked_in_every_format(capsys):
    app = str(FIXTURES / "sloppy_fastapi")
    _, out, _ = run(capsys, "scan", app, "--ignore", "PR1", "--format", "markdown", "--no-cache")
    assert "| 1. Data model | not checked | 0 |" in out
    _, out, _ = run(capsys, "scan", app, "--ignore", "PR1", "--format", "sarif", "--no-cache")
    steps = json.loads(out)["runs"][0]["properties"]["steps"]
    assert steps["data-model"] == {"findings": 0, "checked": False} and "score" in steps["staging"]
    _, out, _ = run(capsys, "scan", app, "--ignore", "PR1", "--format", "html", "--no-cache")
    assert "1. Data model <span class=\"loc\">— not checked" in out
    assert "2. Infrastructure <span class=\"loc\">— score " in out


# -- the command line's modules depend one way ------------------------------------------------------


def test_no_command_module_imports_the_cli_module():
    import ast
    from pathlib import Path

    import auditor.commands

    offenders = []
    for module in sorted(Path(auditor.commands.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if any(name == "auditor.cli" or name.startswith("auditor.cli.") for name in names):
                offenders.append(f"{module.name}:{node.lineno}")
    assert not offenders, f"auditor.commands must not import auditor.cli (use auditor.cli_support): {offenders}"
    support = ast.parse(Path(auditor.commands.__file__).parent.parent.joinpath("cli_support.py").read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(support) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"auditor.cli", "auditor.commands"}


# -- a secret masked in the message is masked in the code shown with it -------------------------

SECRET_APP = (
    "import os\nfrom flask import Flask\n\napp = Flask(__name__)\n"
    "DATABASE_URL = os.getenv('DATABASE_URL', 'postgresql://app:s3cr3t-pw@db.internal:5432/app')\n\n"
    "@app.get('/')\ndef home():\n    return 'ok'\n"
)


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "markdown", "github", "html"])
def test_a_url_password_is_masked_in_messages_and_excerpts(capsys, tmp_path, fmt):
    write_project(tmp_path, {"app.py": SECRET_APP})
    code, out, _ = run(capsys, "scan", str(tmp_path), "--select", "PR410", "--format", fmt, "--no-cache")
    assert code == 1
    assert "s3cr3t-pw" not in out
    assert "postgresql://app:***@db.internal" in out  # the finding is there, its secret is not
    if fmt == "html":  # the excerpt under the finding shows the line, masked the same way
        assert "<span class=\"n\">5</span>DATABASE_URL = os.getenv(&#39;DATABASE_URL&#39;, &#39;postgresql://app:***@db.internal" in out


def test_masking_keeps_the_rest_of_the_line():
    from auditor.masking import mask_secrets

    assert mask_secrets("url = 'redis://:pw@cache:6379/0'  # pw") == "url = 'redis://:***@cache:6379/0'  # pw"
    assert mask_secrets('"mysql://root@localhost/db"') == '"mysql://root@localhost/db"'  # no password: unchanged
    assert mask_secrets("see https://example.com/a@b") == "see https://example.com/a@b"


# -- the demo's closing line runs the tests with a Python that has their packages -------------------


def test_the_demo_prints_a_test_command_whose_python_has_the_apps_packages(monkeypatch, tmp_path, capsys):
    import shlex
    import tempfile

    import auditor.commands.wizard
    import auditor.tui

    monkeypatch.setattr(auditor.commands.wizard, "stdout_is_terminal", lambda: True)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(auditor.tui, "run_wizard", lambda root, dry_run=False: 0)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "&& python -m pytest" not in out  # a bare `python` is often the system's, without FastAPI
    assert f"&& {shlex.quote(sys.executable)} -m pytest -q" in out


def test_the_test_command_prefers_the_apps_own_virtualenv(tmp_path):
    from auditor.commands.wizard import how_to_run_tests

    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    write_project(tmp_path, {"app.py": "import fastapi\n"})
    assert how_to_run_tests(tmp_path).endswith(f"&& {python} -m pytest -q")


def test_the_test_command_explains_a_missing_package_and_ignores_optional_ones(tmp_path):
    from auditor.commands.wizard import how_to_run_tests, third_party_imports

    write_project(
        tmp_path,
        {
            "app/main.py": "import os\nimport fastapi\nfrom app import models\ntry:\n    import psycopg_not_here\nexcept ImportError:\n    pass\n",
            "app/models.py": "X = 1\n",
            "tests/conftest.py": "",
            "tests/test_a.py": "from conftest import X\nimport not_installed_anywhere_pkg\n",
        },
    )
    assert third_party_imports(tmp_path) == {"fastapi", "not_installed_anywhere_pkg"}
    text = how_to_run_tests(tmp_path)
    assert "need not_installed_anywhere_pkg" in text and "psycopg_not_here" not in text
    assert ".venv/bin/python -m pip install -r requirements.txt" in text and text.endswith(".venv/bin/python -m pytest -q")


# -- undo refuses over later edits, names what and where; --force keeps them ----------------------


def test_undo_refuses_then_force_keeps_the_later_edits(capsys, tmp_path):
    import shutil

    root = tmp_path / "app"
    shutil.copytree(FIXTURES / "sloppy_flask", root, symlinks=False)
    before = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert main(["fix", str(root), "--apply", "--no-progress"]) == 0
    capsys.readouterr()
    (backup,) = (root / ".prodready" / "backups").iterdir()
    changed = sorted(p for p in before if (root / p).read_bytes() != before[p])
    assert len(changed) >= 2
    edited_a, edited_b = changed[0], changed[1]
    later_a = (root / edited_a).read_bytes() + b"# a later edit by hand\n"
    (root / edited_a).write_bytes(later_a)
    (root / edited_b).unlink()  # deleted since the apply: nothing to keep, still restored
    created = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py") if p.relative_to(root).as_posix() not in before and ".prodready" not in p.parts)
    assert created
    later_c = (root / created[0]).read_bytes() + b"# kept\n"
    (root / created[0]).write_bytes(later_c)  # a file the fix created, edited since

    code, out, err = run(capsys, "undo", str(root))
    assert code == 2 and out == ""
    shown = f".prodready/backups/{backup.name}"
    assert f"3 file(s) changed since the fix backed up in {shown} was applied" in err
    assert f"\n  {edited_a}\n  {edited_b}\n  {created[0]}\n" in err
    assert "`prodready undo --force`" in err and f"{shown}/kept-at-undo/" in err
    assert (root / edited_a).read_bytes() == later_a and not (root / edited_b).exists()  # nothing written

    code, out, err = run(capsys, "undo", str(root), "--force")
    assert code == 0
    assert f"kept     {edited_a}" in out and f"{shown}/kept-at-undo/{edited_a}" in out
    assert (backup / "kept-at-undo" / edited_a).read_bytes() == later_a
    assert not (backup / "kept-at-undo" / edited_b).exists()
    assert (backup / "kept-at-undo" / created[0]).read_bytes() == later_c
    after = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file() and ".prodready" not in p.parts}
    assert after == before  # every file byte for byte as before the apply, created ones gone
    assert "your later edits to 2 file(s) are kept in" in err

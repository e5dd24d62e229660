"""The CLI's contract: JSON shape, exit codes, one-line errors, bad input scanned around."""

from __future__ import annotations

import io
import json
import os
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
    write_project(tmp_path, "def add(a, b):\n    return a + b\n")
    code, out, _ = run(capsys, "scan", str(tmp_path), "--no-cache")
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

"""What CI needs: GitHub annotations, --exit-zero, --output next to the console, cache env vars."""

from __future__ import annotations

import json

from auditor.cli import main
from auditor.engine import scan
from auditor.report.github import escape_data, escape_property
from tests.helpers import write_project

APP = {
    "svc/app.py": (
        "from fastapi import FastAPI\n"
        "import requests\n"
        "app = FastAPI()\n"
        "@app.get('/health')\n"
        "def health():\n"
        "    print('50% done, really: yes')\n"
        "    requests.get('https://example.com')\n"
        "    return {}\n"
    ),
}


def test_github_annotations(tmp_path, capsys, monkeypatch):
    write_project(tmp_path, APP)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    code = main(["scan", str(tmp_path / "svc"), "--format", "github", "--no-cache", "--select", "PR250,PR502"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    # Paths are relative to the workspace, not the scanned subfolder; levels follow severity.
    assert lines[0] == (
        "::warning file=svc/app.py,line=7,endLine=7,col=5,"
        "title=PR250 outbound-http-without-timeout::requests.get() has no timeout: a slow service will hang this worker"
    )
    assert lines[1].startswith("::notice file=svc/app.py,line=6,endLine=6,col=5,title=PR502 print-diagnostics::")
    assert lines[-1].startswith("prodready: 2 findings in 1 files")


def test_github_escaping():
    assert escape_data("50% done\nnext") == "50%25 done%0Anext"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"


def test_exit_zero_keeps_the_report_but_not_the_failure(tmp_path, capsys):
    write_project(tmp_path, APP)
    assert main(["scan", str(tmp_path), "--no-cache"]) == 1
    capsys.readouterr()
    assert main(["scan", str(tmp_path), "--no-cache", "--exit-zero"]) == 0
    assert "PR250" in capsys.readouterr().out
    assert main(["scan", str(tmp_path / "missing"), "--exit-zero"]) == 2  # errors are still errors


def test_output_file_alongside_the_console(tmp_path, capsys):
    write_project(tmp_path / "p", APP)
    sarif = tmp_path / "prodready.sarif"
    same = tmp_path / "report.txt"
    assert main(["scan", str(tmp_path / "p"), "--no-cache", "--select", "PR250,PR502", "--format", "github", "--output", str(sarif), "--output-format", "sarif"]) == 1
    console = capsys.readouterr().out
    assert console.startswith("::warning file=")
    results = json.loads(sarif.read_text())["runs"][0]["results"]
    assert sorted(r["ruleId"] for r in results) == ["PR250", "PR502"]
    assert main(["scan", str(tmp_path / "p"), "--no-cache", "--output", str(same)]) == 1
    console = capsys.readouterr().out
    assert same.read_text() == console  # without --output-format, the file gets what the console shows
    assert main(["scan", str(tmp_path / "p"), "--output-format", "yaml"]) == 2
    assert "unknown format 'yaml'" in capsys.readouterr().err


def test_cache_dir_and_no_cache_env(tmp_path, monkeypatch):
    project = write_project(tmp_path / "p", APP)
    cache = tmp_path / "cache"
    monkeypatch.setenv("PRODREADY_CACHE_DIR", str(cache))
    monkeypatch.delenv("PRODREADY_NO_CACHE", raising=False)
    first = scan(project)
    assert first.cached_files == 0 and len(list(cache.glob("*.pickle"))) == 1
    second = scan(project)
    assert second.cached_files == 1 and second.findings == first.findings

    other = tmp_path / "other-cache"
    monkeypatch.setenv("PRODREADY_CACHE_DIR", str(other))
    monkeypatch.setenv("PRODREADY_NO_CACHE", "1")
    third = scan(project)
    assert third.cached_files == 0 and not other.exists()
    monkeypatch.setenv("PRODREADY_NO_CACHE", "0")  # "0" means the cache is on
    scan(project)
    assert len(list(other.glob("*.pickle"))) == 1

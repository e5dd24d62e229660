"""Baselines: fingerprints survive unrelated edits, duplicates are counted, only new findings reported."""

from __future__ import annotations

import json

import pytest

from auditor.baseline import BaselineError, filter_new, load_baseline, write_baseline
from auditor.cli import main
from tests.helpers import scan_project, write_project

APP = """\
from fastapi import FastAPI
import requests

app = FastAPI()


@app.get("/health")
def health():
    return {"ok": True}


def sync_rates(url):
    requests.get(url)
    requests.get(url)
    return requests.post(url, json={"refresh": True})
"""


def test_unrelated_edits_above_do_not_bring_findings_back(tmp_path):
    write_project(tmp_path, APP)
    baseline = tmp_path / "baseline.json"
    assert write_baseline(scan_project(tmp_path, select=["PR250"]), baseline) == 3
    shifted = APP.replace("app = FastAPI()\n", 'app = FastAPI(title="rates")\n\n\nVERSION = "2"\n')
    shifted = shifted.replace("    requests.get(url)\n    requests.get(url)", "    requests.get( url )\n        \n    requests.get(url)")
    shifted = shifted.replace('requests.post(url, json={"refresh": True})', 'requests.post(\n        url,\n        json={"refresh": True},\n    )')
    (tmp_path / "app.py").write_text(shifted)
    result = scan_project(tmp_path, select=["PR250"])
    assert len(result.findings) == 3 and result.findings[0].line != 13  # lines moved, code reformatted
    assert filter_new(result, baseline) == []


def test_a_third_copy_of_the_same_line_is_new(tmp_path):
    write_project(tmp_path, APP)
    baseline = tmp_path / "baseline.json"
    write_baseline(scan_project(tmp_path, select=["PR250"]), baseline)
    entries = json.loads(baseline.read_text())["findings"]
    assert entries[0]["fingerprint"] == entries[1]["fingerprint"]  # identical lines share a fingerprint
    assert load_baseline(baseline)[entries[0]["fingerprint"]] == 2
    (tmp_path / "app.py").write_text(APP.replace("    requests.get(url)\n", "    requests.get(url)\n    requests.get(url)\n", 1))
    new = filter_new(scan_project(tmp_path, select=["PR250"]), baseline)
    assert [(f.rule, f.line) for f in new] == [("PR250", 15)]  # the extra copy, in file order


def test_changed_code_or_another_file_is_new(tmp_path):
    write_project(tmp_path, APP)
    baseline = tmp_path / "baseline.json"
    write_baseline(scan_project(tmp_path, select=["PR250"]), baseline)
    # app.py: one call changed, and a new module the app imports (a module nothing imports is not app code)
    (tmp_path / "app.py").write_text(APP.replace("json={\"refresh\": True}", "json={\"refresh\": False}") + "\n\nimport other  # noqa: E402\n")
    (tmp_path / "other.py").write_text("import requests\n\n\ndef pull(url):\n    return requests.get(url)\n")
    new = filter_new(scan_project(tmp_path, select=["PR250"]), baseline)
    assert sorted((f.path, f.line) for f in new) == [("app.py", 15), ("other.py", 5)]


def test_bad_baseline_files(tmp_path):
    with pytest.raises(BaselineError, match="not found"):
        load_baseline(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text('{"something": "else"}')
    with pytest.raises(BaselineError, match="not a prodready baseline"):
        load_baseline(tmp_path / "x.json")


def test_cli_write_then_baseline(tmp_path, capsys):
    project = write_project(tmp_path / "proj", APP)
    baseline = tmp_path / "b.json"
    assert main(["scan", str(project), "--no-cache", "--select", "PR250", "--write-baseline", str(baseline)]) == 0
    assert "recorded 3 findings" in capsys.readouterr().err
    assert main(["scan", str(project), "--no-cache", "--select", "PR250", "--baseline", str(baseline), "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["findings"] == [] and "3 findings from the baseline not shown" in err
    (project / "app.py").write_text(APP + "\n\ndef more(url):\n    return requests.delete(url)\n")
    assert main(["scan", str(project), "--no-cache", "--select", "PR250", "--baseline", str(baseline), "--format", "json"]) == 1
    assert [f["line"] for f in json.loads(capsys.readouterr().out)["findings"]] == [19]
    assert main(["scan", str(project), "--baseline", str(tmp_path / "nope.json")]) == 2
    assert "baseline file not found" in capsys.readouterr().err

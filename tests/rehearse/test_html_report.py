"""The rehearsal in the HTML report: its table (failed probes first), the happy paths that did
not answer 2xx, and the scan's findings a probe confirmed marked as such (and only those)."""

from __future__ import annotations

import re

import pytest

from auditor.cli import main
from auditor.engine import scan
from auditor.report.html import render_html
from tests.helpers import write_project
from tests.rehearse.conftest import copy_app

APP = """
    from fastapi import FastAPI

    app = FastAPI(debug=True)
    items = {}


    @app.get("/items/{item_id}")
    def read(item_id: int):
        return items[item_id]


    @app.delete("/items/{item_id}")
    def delete(item_id: int):
        items.pop(item_id, None)
        return {"ok": True}
"""


def probe(kind, outcome, path, rule, reason):
    return {"kind": kind, "method": "GET", "path": path, "outcome": outcome, "rule": rule, "evidence": {}, "reason": reason}


def rows(html: str) -> list[str]:
    section = html.split('id="rehearsal"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<span class="pill (failed|passed|skipped)">', section)


def test_the_rehearsal_table_and_the_confirmed_findings(tmp_path):
    result = scan(write_project(tmp_path / "p", APP), use_cache=False)
    assert len(result.findings) >= 2
    chosen = result.findings[0]
    data = {
        "version": 1, "tool": "prodready", "app": "app:app",
        "summary": {"failed": 1, "passed": 1, "skipped": 1, "requests": 42, "seconds": 3.2},
        "probes": [
            probe("invalid_body", "passed", "/items/1", None, "answered 422"),
            probe("expired_token", "skipped", None, None, "no login route"),
            probe("unauthenticated", "failed", "/items/1", chosen.rule, "answered 200 <without> a token"),
        ],
        "happy_paths": [
            {"step": "create item", "method": "POST", "path": "/items", "status": 500},
            {"step": "signup A", "method": "POST", "path": "/register", "status": 302},  # an HTML form's redirect: it worked
        ],
        "confirmed_findings": [{"rule": chosen.rule, "path": chosen.path, "line": chosen.line, "message": chosen.message}],
        "users": None,
    }  # fmt: skip
    html = render_html(result, rehearsal=data)
    assert rows(html) == ["failed", "passed", "skipped"]
    assert "answered 200 &lt;without&gt; a token" in html  # escaped
    assert "1 failed (the problem is real), 1 passed, 1 skipped; 42 requests in 3.2 s" in html
    assert "<code>POST /items</code> (create item) answered 500" in html and "/register" not in html
    assert html.count("confirmed by the rehearsal") == 1
    marked = html.split("confirmed by the rehearsal", 1)[1].split("</header>", 1)[0]
    assert f"{chosen.rule} {chosen.name}" in marked and f"{chosen.path}:{chosen.line}" in marked

    plain = render_html(result)
    assert 'id="rehearsal"' not in plain and "confirmed by the rehearsal" not in plain


@pytest.mark.rehearsal
def test_rehearse_writes_the_html_report_with_the_probes(tmp_path, private_tmp):
    app = copy_app("sloppy_fastapi", tmp_path / "demo")
    out = tmp_path / "report.html"
    code = main(["rehearse", str(app), "--format", "html", "--output", str(out), "--no-progress", "--list-rows", "60", "--concurrent", "10"])
    assert code == 1  # the demo app's gaps are real
    html = out.read_text(encoding="utf-8")
    assert "<h1>prodready report</h1>" in html and 'id="rehearsal"' in html
    section = html.split('id="rehearsal"', 1)[1].split("</table>", 1)[0]
    failed_kinds = set(re.findall(r'<span class="pill failed">failed</span></td><td>(\w+)</td>', section))
    assert {"brute_force", "invalid_body", "duplicate_submit"} <= failed_kinds
    assert "confirmed by the rehearsal" in html

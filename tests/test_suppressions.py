"""Inline suppressions: reasons kept in reports, fixme as known debt, stale comments reported, --add-ignore."""

from __future__ import annotations

import json

from auditor.cli import main
from auditor.report import FORMATS
from auditor.suppress import find_suppressions
from tests.helpers import codes, scan_project, write_project

APP = """\
from fastapi import FastAPI
import requests

app = FastAPI()


@app.get("/health")
def health():
    return {"ok": True}


def notify(url):
    requests.get(url)  # prodready: ignore[PR250]  the hook is fire-and-forget by contract
    print("notified")  # prodready: fixme[PR502]  move to logging with the rest of LOG-12
    print("sent")
"""


def test_only_real_comments_count():
    source = 'HELP = "# prodready: ignore[PR301] x"\nx = 1  # prodready: ignore[pr301, PR2]  why not\n'
    found = find_suppressions(source)
    assert list(found) == [2]
    suppression = found[2]
    assert suppression.kind == "ignore" and suppression.codes == {"PR301", "PR2"}
    assert suppression.reason == "why not" and suppression.col == 7
    assert suppression.covers("PR250") and not suppression.covers("PR502")


def test_ignore_keeps_its_reason_and_fixme_stays_reported(tmp_path):
    result = scan_project(write_project(tmp_path, APP), select=["PR250", "PR502", "PR590"])
    assert [(f.rule, f.line) for f in result.findings] == [("PR502", 14), ("PR502", 15)]
    [(silenced, suppression)] = result.suppressed
    assert silenced.rule == "PR250" and suppression.reason == "the hook is fire-and-forget by contract"
    debt = [f for f in result.findings if f in result.fixme]
    assert [f.line for f in debt] == [14]

    data = json.loads(FORMATS["json"](result))
    assert [f["line"] for f in data["findings"]] == [14, 15]  # the contract's list is unchanged in shape
    assert data["suppressed"][0]["rule"] == "PR250"
    assert data["suppressed"][0]["reason"] == "the hook is fire-and-forget by contract"
    assert data["fixme"] == [{"rule": "PR502", "path": "app.py", "line": 14, "reason": "move to logging with the rest of LOG-12"}]

    assert "app.py:14:5" in FORMATS["text"](result)
    assert "(known debt: move to logging with the rest of LOG-12)" in FORMATS["text"](result)
    markdown = FORMATS["markdown"](result)
    assert "known debt: move to logging with the rest of LOG-12" in markdown
    assert "## Suppressed in the code" in markdown and "fire-and-forget by contract" in markdown
    sarif = json.loads(FORMATS["sarif"](result))["runs"][0]["results"]
    by_line = {r["locations"][0]["physicalLocation"]["region"]["startLine"]: r for r in sarif}
    assert by_line[13]["suppressions"] == [{"kind": "inSource", "justification": "the hook is fire-and-forget by contract"}]
    assert by_line[14]["properties"]["fixme"] == "move to logging with the rest of LOG-12"
    assert "suppressions" not in by_line[15] and "fixme" not in by_line[15]["properties"]
    assert "title=PR502 print-diagnostics (known debt)" in FORMATS["github"](result)
    assert "known debt" in FORMATS["html"](result)


STALE = """\
from fastapi import FastAPI
import requests

app = FastAPI()


@app.get("/health")
def health():
    return {"ok": True}  # prodready: ignore[PR502]  printed here once


def notify(url):
    requests.get(url, timeout=5)  # prodready: ignore[PR250]  fixed since
    requests.get(url)  # prodready: ignore[PR250]  still needed
    x = 1  # prodready: ignore
    y = 2  # prodready: fixme[PR3O1]  typo in the code
    return x + y
"""


ROUTES = """\
from fastapi import Depends, FastAPI

from app.auth import current_user

app = FastAPI()


@app.get("/me")
def me(user=Depends(current_user)):
    return user


@app.delete("/items/{item_id}")  # prodready: ignore[PR201]  reachable from the admin network only
def delete_item(item_id: int):
    return {"ok": True}


@app.post(
    "/orders",
)  # prodready: ignore[PR201]  a signed webhook, verified by the gateway
def create_order(
    payload: dict,
):
    return {"ok": True}


@app.post("/plain")
def plain():
    return {"ok": True}  # prodready: ignore[PR201]  in the body: covers nothing
"""
AUTH = "from fastapi import Header, HTTPException\ndef current_user(authorization: str = Header()):\n    if not authorization:\n        raise HTTPException(status_code=401)\n    return {}\n"


def test_a_comment_on_a_decorator_covers_the_definition(tmp_path):
    """PR201 reports the `def` line; the comment sits where the route is declared."""
    write_project(tmp_path, {"app/__init__.py": "", "app/auth.py": AUTH, "app/main.py": ROUTES})
    result = scan_project(tmp_path, select=["PR201", "PR590"])
    assert {(f.path, f.line) for f, _ in result.suppressed} == {("app/main.py", 14), ("app/main.py", 21)}
    assert [(f.rule, f.line) for f in result.findings] == [("PR201", 28), ("PR590", 29)]


def test_stale_suppressions_are_reported(tmp_path):
    result = scan_project(write_project(tmp_path, STALE))
    stale = {f.line: f.message for f in result.findings if f.rule == "PR590"}
    assert sorted(stale) == [9, 13, 15, 16]
    assert "PR502 matches nothing" in stale[9]
    assert "PR250 matches nothing" in stale[13]
    assert "bare `# prodready: ignore`" in stale[15]
    assert "PR3O1 is not a rule code" in stale[16]
    finding = next(f for f in result.findings if f.line == 13)
    assert finding.step.value == "logging" and finding.category.value == "logging"
    assert finding.col == STALE.splitlines()[12].index("#")


def test_stale_is_judged_only_for_rules_that_ran(tmp_path):
    write_project(tmp_path, STALE)
    only_pr590 = scan_project(tmp_path, select=["PR590"])
    # PR502 and PR250 did not run: their comments cannot be judged; the unknown code still can.
    assert [(f.rule, f.line) for f in only_pr590.findings] == [("PR590", 16)]
    quiet = scan_project(tmp_path, **{"per-file-ignores": {"app.py": ["PR590"]}})
    assert "PR590" not in codes(quiet)


def test_a_comment_naming_pr590_keeps_it_quiet(tmp_path):
    write_project(tmp_path, "x = 1  # prodready: ignore[PR590, PR999]  documented example\n")
    assert codes(scan_project(tmp_path)) == []


def test_add_ignore_inserts_merges_and_keeps_formatting(tmp_path, capsys):
    source = (
        "from fastapi import FastAPI\n"
        "import requests\n"
        "\n"
        "app = FastAPI()  # the app\n"
        "\n"
        "@app.get('/health')\n"
        "def health():\n"
        "    print( 'hit' )   # noqa: T201\n"
        "    print('a'); print('b')  # prodready: ignore[PR999]  kept reason\n"
        "    requests.get(\n"
        "        'https://example.com',\n"
        "    )\n"
        "    text = '''\n"
        "    '''; print(text)\n"
        "    return {}\n"
    )
    write_project(tmp_path, {"app.py": source})
    only = ["--no-cache", "--select", "PR250,PR502,PR590"]
    assert main(["scan", str(tmp_path), *only, "--add-ignore", "legacy, see #12"]) == 0
    out = capsys.readouterr().out
    assert "added 4 suppression comments in 1 file" in out
    new = (tmp_path / "app.py").read_text()
    expected = source.splitlines()
    expected[7] = "    print( 'hit' )   # noqa: T201  # prodready: ignore[PR502]  legacy, see #12"
    expected[8] = "    print('a'); print('b')  # prodready: ignore[PR502, PR999]  kept reason"
    expected[9] = "    requests.get(  # prodready: ignore[PR250]  legacy, see #12"
    expected[13] = "    '''; print(text)  # prodready: ignore[PR502]  legacy, see #12"
    assert new.splitlines() == expected
    assert main(["scan", str(tmp_path), *only, "--format", "json"]) == 1  # PR999 is now a stale code
    data = json.loads(capsys.readouterr().out)
    assert [(f["rule"], f["line"]) for f in data["findings"]] == [("PR590", 9)]
    assert {s["reason"] for s in data["suppressed"]} == {"legacy, see #12", "kept reason"}


def test_add_ignore_skips_lines_that_cannot_take_a_comment(tmp_path, capsys):
    # A multi-line f-string: the finding's line ends inside the string, so no comment can go there.
    source = 'from fastapi import FastAPI\nname = "x"\nprint(f"""hello\n{name}""")\n'
    write_project(tmp_path, {"app.py": source})
    assert main(["scan", str(tmp_path), "--no-cache", "--select", "PR502", "--add-ignore", "r"]) == 0
    out = capsys.readouterr().out
    assert "added 0 suppression comments" in out
    assert "skipped PR502 app.py:3: no comment fits at the end of this line" in out
    assert (tmp_path / "app.py").read_text() == source


def test_add_ignore_leaves_fixme_lines_alone(tmp_path, capsys):
    source = "from fastapi import FastAPI\nprint('x')  # prodready: fixme[PR502]  LOG-12\n"
    write_project(tmp_path, {"app.py": source})
    assert main(["scan", str(tmp_path), "--no-cache", "--select", "PR502", "--add-ignore", "r"]) == 0
    assert "added 0" in capsys.readouterr().out
    assert (tmp_path / "app.py").read_text() == source


def test_a_crashed_rule_does_not_make_its_comments_stale(tmp_path, monkeypatch):
    from auditor.rules.base import all_rules

    write_project(
        tmp_path,
        "from fastapi import FastAPI\n"
        "app = FastAPI()  # prodready: ignore[PR430]  no platform probes\n"
        "@app.get('/version')\n"
        "def version():\n"
        "    return {'version': 1}\n",
    )
    assert codes(scan_project(tmp_path, select=["PR430", "PR590"])) == []  # the comment silences PR430

    def crash(self, index):
        raise RuntimeError("boom")

    monkeypatch.setattr(all_rules()["PR430"], "check", crash)
    result = scan_project(tmp_path, select=["PR430", "PR590"])
    assert codes(result) == [] and any(d.kind == "rule-error" for d in result.diagnostics)

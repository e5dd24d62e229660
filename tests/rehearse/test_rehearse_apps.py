"""End to end: the fixture apps booted under a real server and probed.

The demo app shows the gaps as failed probes; the same probes pass once `prodready fix --apply
--include-review` wrote its fixes, and the happy paths (signup, login, create, list) still
answer 2xx. The careful app gets no false alarm. The user's tree is left byte for byte, the
server's process group is gone and the temporary folder removed."""

from __future__ import annotations

import json
import os

import pytest

from auditor import cli
from auditor.rehearse.run import RehearsalError, rehearse
from fixers.pipeline.runner import Sandbox

from .conftest import copy_app, tree_hashes

pytestmark = pytest.mark.rehearsal


def outcome(probes: list[dict], kind: str, method: str, path: str) -> str:
    found = [p["outcome"] for p in probes if (p["kind"], p["method"], p["path"]) == (kind, method, path)]
    assert found, f"no {kind} probe on {method} {path}"
    return found[0]


@pytest.fixture
def servers(monkeypatch):
    """Every long-running process the rehearsal starts, to check afterwards that its group is gone."""
    started = []
    real_start = Sandbox.start

    def start(self, *args, **kwargs):
        process = real_start(self, *args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(Sandbox, "start", start)
    return started


def assert_stopped(servers) -> None:
    assert servers, "no server was started"
    for process in servers:
        assert process.popen.poll() is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)  # nothing of its process group is left


def test_demo_app_failures_are_real(tmp_path, private_tmp, servers, capsys):
    app = copy_app("sloppy_fastapi", tmp_path / "demo")
    before = tree_hashes(app)
    code = cli.main(["rehearse", str(app), "--format", "json", "--list-rows", "120", "--concurrent", "20"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines()[0].startswith("rehearse runs your app (your code) in a separate process on 127.0.0.1")
    assert "] brute_force" in err and "] cross_user" in err  # progress as it runs
    data = json.loads(out)
    assert (data["version"], data["tool"], data["app"]) == (1, "prodready", "app.main:app")
    probes = data["probes"]
    assert all(set(p) == {"kind", "method", "path", "outcome", "rule", "evidence", "reason"} for p in probes)
    assert outcome(probes, "unauthenticated", "GET", "/tasks/{task_id}") == "failed"
    assert outcome(probes, "cross_user", "GET", "/tasks/{task_id}") == "failed"
    login = [p for p in probes if (p["kind"], p["path"]) == ("invalid_body", "/auth/login")][0]
    assert login["outcome"] == "failed" and login["rule"] == "PR301" and 500 in login["evidence"]["statuses"].values()
    duplicate = [p for p in probes if p["kind"] == "duplicate_submit" and p["path"] == "/orders/"][0]
    assert duplicate["outcome"] == "failed" and duplicate["evidence"]["created_with_same_key"] == 2
    brute = [p for p in probes if p["kind"] == "brute_force"][0]
    assert brute["outcome"] == "failed" and brute["rule"] == "PR240" and brute["evidence"]["attempts"] == 30
    assert outcome(probes, "expired_token", "GET", "/tasks/") == "failed"  # its tokens carry no exp
    privilege = [p for p in probes if (p["kind"], p["path"]) == ("privilege", "/admin/users")][0]
    assert privilege["outcome"] == "failed" and privilege["evidence"]["admin_status"] == 200  # the admin made in the database
    confirmed = {(f["rule"], f["path"]) for f in data["confirmed_findings"]}
    assert {("PR201", "app/routers/tasks.py"), ("PR240", "app/routers/users.py"), ("PR330", "app/routers/orders.py")} <= confirmed
    # Well-guarded routes are not reported: the routes that need a login refuse without one.
    assert outcome(probes, "unauthenticated", "GET", "/workspaces") == "passed"
    assert outcome(probes, "forged_token", "GET", "/tasks/") == "passed"
    listing = [p for p in probes if p["kind"] == "unpaginated_list"][0]
    assert (listing["outcome"], listing["path"], listing["evidence"]["items_returned"]) == ("failed", "/tasks/", 120)
    crowd = [p for p in probes if p["kind"] == "concurrency"][0]
    assert crowd["evidence"]["requests"] == 20 and crowd["rule"] == "PR230"
    assert tree_hashes(app) == before
    assert_stopped(servers)
    assert list(private_tmp.iterdir()) == []  # copies, logs and the database removed


def test_after_the_fixes_the_probes_pass_and_happy_paths_answer(tmp_path, private_tmp, servers, capsys):
    app = copy_app("sloppy_fastapi", tmp_path / "demo")
    assert cli.main(["fix", str(app), "--apply", "--include-review"]) in (0, 1)  # every fix, as the user would
    capsys.readouterr()
    before = tree_hashes(app)
    rehearsal = rehearse(app, list_rows=120, concurrent=20)
    probes = rehearsal.probes
    for kind, method, path in [
        ("unpaginated_list", "GET", "/tasks/"),  # 50 a page now
        ("unauthenticated", "GET", "/tasks/{task_id}"),
        ("unauthenticated", "DELETE", "/tasks/{task_id}"),
        ("cross_user", "GET", "/tasks/{task_id}"),
        ("cross_user", "PUT", "/tasks/{task_id}"),
        ("invalid_body", "POST", "/auth/login"),
        ("invalid_body", "POST", "/auth/signup"),
        ("duplicate_submit", "POST", "/orders/"),
        ("brute_force", "POST", "/auth/login"),
        ("expired_token", "GET", "/tasks/"),
    ]:
        assert outcome(probes, kind, method, path) == "passed", (kind, method, path)
    steps = {h["step"]: h["status"] for h in rehearsal.happy_paths}
    for step in ("signup A", "login A", "signup B", "login B", "create workspace", "list workspace", "create task", "list task"):
        assert 200 <= steps[step] < 300, (step, steps[step])
    assert tree_hashes(app) == before
    assert_stopped(servers)


def test_careful_app_gets_no_false_alarm(tmp_path, private_tmp, servers):
    app = copy_app("careful_app", tmp_path / "careful")
    rehearsal = rehearse(app, list_rows=120, concurrent=20)
    checked = [p for p in rehearsal.probes if p["kind"] in ("unauthenticated", "cross_user", "invalid_body", "unpaginated_list")]
    assert [p for p in checked if p["outcome"] == "failed"] == []
    for kind in ("unauthenticated", "cross_user", "invalid_body"):  # and they did run
        assert sum(p["kind"] == kind and p["outcome"] == "passed" for p in checked) >= 5, kind
    # Its admin routes refuse a member (403) and serve the admin the rehearsal made (role = 'admin').
    privilege = {p["path"]: p for p in rehearsal.probes if p["kind"] == "privilege"}
    assert set(privilege) == {"/admin/users", "/admin/stats"}
    for probe in privilege.values():
        assert (probe["outcome"], probe["evidence"]["status"], probe["evidence"]["admin_status"]) == ("passed", 403, 200)
    steps = {h["step"]: h["status"] for h in rehearsal.happy_paths}
    assert steps["signup admin"] in (200, 201) and steps["login admin"] == 200
    assert any("alembic upgrade head" in note for note in rehearsal.notes)  # its tables come from migrations
    assert_stopped(servers)


def test_an_app_that_cannot_boot_is_an_error_with_its_log(tmp_path, private_tmp, servers, capsys):
    app = tmp_path / "broken"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    (app / "app" / "main.py").write_text(
        "import os\nfrom fastapi import FastAPI\n\napp = FastAPI()\n"
        "raise RuntimeError('missing setting PAYMENTS_REGION')\n\n"
        "@app.get('/items')\ndef items():\n    return []\n"
    )
    assert cli.main(["rehearse", str(app)]) == 2
    err = capsys.readouterr().err
    assert "the app exited while starting" in err and "missing setting PAYMENTS_REGION" in err
    assert_stopped(servers)
    assert list(private_tmp.iterdir()) == []


def test_no_app_object_is_an_error(tmp_path, private_tmp):
    (tmp_path / "tool.py").write_text("print('not a web app')\n")
    with pytest.raises(RehearsalError, match="no FastAPI"):
        rehearse(tmp_path)


def test_flask_app_under_gunicorn_with_session_cookies(tmp_path, private_tmp, servers):
    app = copy_app("sloppy_flask", tmp_path / "flask")
    rehearsal = rehearse(app, list_rows=120, concurrent=20)
    assert rehearsal.framework == "flask" and rehearsal.users is None  # users logged in by cookie
    assert "gunicorn" in " ".join(servers[0].command) or "gunicorn" in servers[0].output().lower()
    probes = rehearsal.probes
    assert outcome(probes, "unauthenticated", "GET", "/items/<id>") == "failed"
    assert outcome(probes, "cross_user", "GET", "/items/<id>") == "failed"
    assert outcome(probes, "invalid_body", "POST", "/items") == "failed"  # fields read from request.get_json()
    assert outcome(probes, "brute_force", "POST", "/auth/login") == "failed"
    # Routes behind its login_required decorator refuse a caller without the session cookie.
    assert outcome(probes, "unauthenticated", "POST", "/items") == "passed"
    assert_stopped(servers)


def test_flask_html_forms_and_login_redirects(tmp_path, private_tmp, servers):
    """Sign-up and login are HTML forms answering with a redirect and a session cookie; pages
    behind Flask-Login send a caller with no session to the login page."""
    app = copy_app("apps/flask_blueprints_httpauth", tmp_path / "notes")
    rehearsal = rehearse(app, list_rows=20, concurrent=10)
    assert rehearsal.users is None  # A and B made through POST /register and POST /login (forms)
    steps = {h["step"]: h["status"] for h in rehearsal.happy_paths}
    assert steps["signup A"] == 302 and steps["login B"] == 302
    probes = rehearsal.probes
    assert outcome(probes, "unauthenticated", "GET", "/notes/<int:id>") == "passed"  # 302 to /login?next=...
    assert outcome(probes, "unauthenticated", "GET", "/api/users/<int:id>") == "failed"
    assert outcome(probes, "brute_force", "POST", "/login") == "failed"  # 30 form posts, never a 429
    # The crowd goes to a route user A can read (the JSON API wants a token A does not have).
    crowd = next(p for p in probes if p["kind"] == "concurrency")
    assert crowd["outcome"] == "passed" and crowd["evidence"]["errors"] == 0
    assert_stopped(servers)

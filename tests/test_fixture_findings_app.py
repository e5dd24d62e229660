"""The step 3-5 rules (validation, staging, logging) on the three fixture apps.

Each sloppy app must show the gaps listed in tests/fixtures/README.md and nothing else from
these rules; the careful app must stay silent. Lines are the ones the findings point at (the
line of the problem, or the app object for project-wide findings); a finding may move by a
line or two without failing the test, but not appear in another function or go missing.
"""

from __future__ import annotations

import pytest

from auditor.config import Config
from auditor.engine import scan
from auditor.rules.base import all_rules
from tests.helpers import FIXTURES

STEP_3_TO_5 = sorted(c for c in all_rules() if c[2] in "34" or c in {"PR501", "PR502", "PR503", "PR510", "PR511", "PR520", "PR530"})
SLACK = 2  # lines a finding may move without failing

EXPECTED = {
    "sloppy_fastapi": [
        # validation: bodies without a schema, unconstrained models, untyped path parameter
        ("PR301", "app/routers/users.py", 22),  # signup(payload: dict)
        ("PR301", "app/routers/users.py", 40),  # login: await request.json()
        ("PR301", "app/routers/tasks.py", 67),  # update_task(payload: dict)
        ("PR301", "app/routers/workspaces.py", 114),  # accept_invite(payload: dict)
        ("PR302", "app/routers/orders.py", 22),  # OrderCreate
        ("PR302", "app/routers/tasks.py", 17),  # TaskCreate
        ("PR302", "app/routers/workspaces.py", 21),  # WorkspaceCreate
        ("PR302", "app/routers/workspaces.py", 25),  # ProjectCreate
        ("PR302", "app/routers/workspaces.py", 30),  # InviteCreate
        ("PR303", "app/routers/tasks.py", 59),  # get_task(task_id)
        # injection: q/status from the query string (high); an int path parameter (low)
        ("PR310", "app/routers/tasks.py", 44),  # search_tasks
        ("PR310", "app/routers/reports.py", 21),  # workspace_report
        # pagination
        ("PR320", "app/routers/tasks.py", 39),  # list_tasks
        ("PR320", "app/routers/tasks.py", 45),  # search_tasks: fetchall() with no LIMIT
        ("PR320", "app/routers/users.py", 65),  # admin_list_users
        ("PR320", "app/routers/orders.py", 84),  # list_orders
        ("PR320", "app/routers/workspaces.py", 46),  # list_workspaces
        ("PR320", "app/routers/workspaces.py", 83),  # project_tasks
        # idempotency and races
        ("PR330", "app/routers/orders.py", 50),  # create_order
        ("PR330", "app/routers/workspaces.py", 104),  # invite_member
        ("PR331", "app/routers/orders.py", 59),  # idempotency_key=str(uuid.uuid4())
        ("PR332", "app/routers/users.py", 27),  # signup: query by email, then insert
        ("PR332", "app/routers/workspaces.py", 99),  # invite_member: count, then insert
        # async errors
        ("PR340", "app/main.py", 48),  # startup: create_task(overdue_reminder_loop())
        ("PR340", "app/routers/workspaces.py", 109),  # invite_member: create_task(send_email(...))
        ("PR341", "app/main.py", 35),  # overdue_reminder_loop
        ("PR342", "app/routers/orders.py", 77),  # except Exception: pass around the Slack post
        ("PR342", "app/routers/tasks.py", 88),  # complete_task: rollback + sleep, no log
        ("PR343", "app/main.py", 38),  # overdue_reminder_loop: sync Session in async def
        ("PR343", "app/emails.py", 27),  # send_email: smtplib in async def
        ("PR343", "app/routers/tasks.py", 80),  # complete_task: db + time.sleep
        ("PR343", "app/routers/users.py", 41),  # login
        ("PR343", "app/routers/workspaces.py", 94),  # invite_member
        ("PR344", "app/main.py", 17),
        # staging
        ("PR401", "app/auth.py", 12),
        ("PR401", "app/config.py", 6),
        ("PR401", "app/emails.py", 6),
        ("PR401", "app/main.py", 13),
        ("PR401", "app/routers/orders.py", 19),
        ("PR401", "app/routers/workspaces.py", 18),
        ("PR410", "app/config.py", 6),  # DATABASE_URL falls back to postgres on localhost
        ("PR410", "app/config.py", 12),  # FRONTEND_URL falls back to localhost (low)
        ("PR420", "app/main.py", 17),
        ("PR421", "app/main.py", 17),
        ("PR422", "app/main.py", 17),
        ("PR430", "app/main.py", 17),
        ("PR431", "tests/test_api.py", 1),
        # logging
        ("PR501", "app/main.py", 17),
        ("PR502", "app/main.py", 47),
        ("PR502", "app/emails.py", 18),
        ("PR502", "app/auth.py", 41),
        ("PR502", "app/routers/users.py", 34),
        ("PR502", "app/routers/users.py", 46),
        ("PR511", "app/routers/orders.py", 62),  # logger.error(str(e))
        ("PR520", "app/main.py", 17),
        ("PR530", "app/auth.py", 41),  # prints the bad token
        ("PR530", "app/routers/users.py", 34),  # prints the password
        ("PR530", "app/routers/users.py", 46),  # prints the token
    ],
    "sloppy_flask": [
        ("PR301", "app/auth.py", 23),  # signup: data["email"]
        ("PR301", "app/auth.py", 44),  # login: request.form / get_json()
        ("PR301", "app/items.py", 33),  # create_item: int()/float() of the body
        ("PR301", "app/items.py", 46),  # update_item
        ("PR301", "app/orders.py", 27),  # create_order: int(data["qty"])
        ("PR301", "app/orders.py", 63),  # ship_order
        ("PR301", "app/invites.py", 18),  # create_invite
        ("PR303", "app/items.py", 22),  # get_item <id>
        ("PR303", "app/items.py", 45),  # update_item <id>
        ("PR303", "app/items.py", 56),  # delete_item <id>, int(id)
        ("PR303", "app/orders.py", 49),  # get_order <id>
        ("PR303", "app/orders.py", 58),  # ship_order <id>
        ("PR310", "app/items.py", 15),  # list_items: f-string with q and ORDER BY {sort}
        ("PR310", "app/items.py", 17),  # list_items: "ORDER BY %s" % sort
        ("PR310", "app/items.py", 24),  # get_item: "... = " + id
        ("PR310", "app/items.py", 49),  # update_item: columns and values from the body
        ("PR310", "app/auth.py", 47),  # login: "... '%s'" % email
        ("PR310", "app/orders.py", 51),  # get_order: "... %s" % id
        ("PR310", "app/invites.py", 41),  # list_invites: session value (low)
        ("PR320", "app/items.py", 15),  # list_items
        ("PR320", "app/orders.py", 18),  # list_orders
        ("PR320", "app/invites.py", 41),  # list_invites
        ("PR330", "app/invites.py", 22),  # create_invite
        ("PR330", "app/orders.py", 40),  # create_order
        ("PR330", "app/webhooks.py", 26),  # payment_webhook: re-delivered events insert twice
        ("PR332", "app/auth.py", 29),  # signup: check-then-insert
        ("PR332", "app/orders.py", 35),  # create_order: read stock, then write qty - n
        ("PR342", "app/auth.py", 60),  # logout: bare except: pass
        ("PR344", "app/__init__.py", 9),
        ("PR401", "app/__init__.py", 11),
        ("PR401", "app/invites.py", 12),
        ("PR401", "app/webhooks.py", 13),
        ("PR402", "app/webhooks.py", 13),  # os.environ[...] at request time
        ("PR410", "app/__init__.py", 11),  # DATABASE_PATH falls back to shop.db
        ("PR420", "app/__init__.py", 9),
        ("PR421", "app/__init__.py", 9),
        ("PR430", "app/__init__.py", 9),
        ("PR431", "tests/test_shop.py", 1),
        ("PR501", "app/__init__.py", 9),
        ("PR502", "app/__init__.py", 26),
        ("PR502", "app/auth.py", 38),
        ("PR502", "app/auth.py", 49),
        ("PR502", "app/orders.py", 44),
        ("PR520", "app/__init__.py", 9),
    ],
    # Silent on purpose: whitelisted f-string SQL with bound parameters (workspaces.list_tasks),
    # a signed webhook reading the raw body, IntegrityError-guarded creates, logged background
    # tasks, a JSON log formatter with request ids, settings from pydantic-settings.
    "careful_app": [],
}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def app_scan(request):
    result = scan(FIXTURES / request.param, config=Config(select=STEP_3_TO_5), use_cache=False)
    return request.param, result


def test_expected_findings_present(app_scan):
    name, result = app_scan
    missing = [
        expected
        for expected in EXPECTED[name]
        if not any(f.rule == expected[0] and f.path == expected[1] and abs(f.line - expected[2]) <= SLACK for f in result.findings)
    ]
    assert not missing, f"{name}: expected findings not reported: {missing}"


def test_nothing_unexpected(app_scan):
    name, result = app_scan
    unexpected = [
        (f.rule, f.path, f.line, f.message)
        for f in result.findings
        if not any(f.rule == r and f.path == p and abs(f.line - line) <= SLACK for r, p, line in EXPECTED[name])
    ]
    assert not unexpected, f"{name}: findings not in the expected list: {unexpected}"
    assert len(result.findings) == len(EXPECTED[name])


def test_careful_app_is_silent_and_analysed(app_scan):
    name, result = app_scan
    if name != "careful_app":
        pytest.skip("careful app only")
    assert result.index.routes, "the careful app's routes were found (silence is not from skipping it)"
    assert not [d for d in result.diagnostics if d.kind == "rule-error"]
    assert result.findings == []


def test_severities_follow_the_evidence(app_scan):
    """Injection through an int parameter or the session is low; through request text it is high."""
    name, result = app_scan
    injections = {(f.path, f.line): f.severity.value for f in result.findings if f.rule == "PR310"}
    if name == "sloppy_fastapi":
        assert injections == {("app/routers/tasks.py", 44): "high", ("app/routers/reports.py", 21): "low"}
    elif name == "sloppy_flask":
        assert injections.pop(("app/invites.py", 41)) == "low"
        assert set(injections.values()) == {"high"}

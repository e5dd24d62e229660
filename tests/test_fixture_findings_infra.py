"""Steps 1 and 2 (PR1xx, PR2xx) on the fixture apps: the deliberate gaps are found, nothing else.

Each expectation is (rule, path, line); a finding may sit up to two lines away (a reworded
fixture should not break the test, a finding in the wrong function should). The careful app
must stay silent on these rules: every spot its README calls "suspicious but fine" — the
public auth/health/webhook routes, the whitelisted f-string SQL, the explicit CORS origins,
test-only secrets and create_all in tests/conftest.py — is a false positive if reported.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers import FIXTURES, scan_project

SLOPPY_FASTAPI = [
    # data model: schema
    ("PR101", "app/models.py", 11), ("PR101", "app/models.py", 12),  # workspace_members association table
    ("PR101", "app/models.py", 34), ("PR101", "app/models.py", 48), ("PR101", "app/models.py", 62),
    ("PR101", "app/models.py", 63), ("PR101", "app/models.py", 75), ("PR101", "app/models.py", 76),
    ("PR101", "app/models.py", 89), ("PR101", "app/models.py", 90),  # Invite: 2.0-style mapped_column
    ("PR102", "app/models.py", 20),  # User.email: index=True but not unique
    ("PR103", "app/models.py", 78),  # Order.price = Column(Float)
    ("PR104", "app/models.py", 24), ("PR104", "app/models.py", 36), ("PR104", "app/models.py", 49),
    ("PR104", "app/models.py", 64), ("PR104", "app/models.py", 65), ("PR104", "app/models.py", 66),
    ("PR104", "app/models.py", 82), ("PR104", "app/models.py", 94),
    # nullable columns the create schemas require: Workspace.name, Project.name/workspace_id,
    # Task.title/project_id, Order.workspace_id/plan/price
    ("PR105", "app/models.py", 33), ("PR105", "app/models.py", 47), ("PR105", "app/models.py", 48),
    ("PR105", "app/models.py", 59), ("PR105", "app/models.py", 62), ("PR105", "app/models.py", 76),
    ("PR105", "app/models.py", 77), ("PR105", "app/models.py", 78),
    ("PR106", "app/models.py", 8),  # workspace_members has no key: a member can be added twice
    ("PR110", "app/main.py", 15),  # Base.metadata.create_all at import, no alembic
    ("PR130", "app/models.py", 64),  # Task.due_date, filtered by overdue_reminder_loop
    ("PR130", "app/models.py", 92),  # Invite.token, looked up by accept_invite
    # data model: N+1
    ("PR120", "app/main.py", 40),  # overdue_reminder_loop: a User query per task
    ("PR120", "app/routers/workspaces.py", 49),  # list_workspaces: a Project query per workspace
    ("PR121", "app/routers/workspaces.py", 52),  # list_workspaces: project.tasks per project
    # infrastructure: who may call what
    ("PR201", "app/routers/orders.py", 97),  # order_price_in
    ("PR201", "app/routers/tasks.py", 59),  # get_task
    ("PR201", "app/routers/tasks.py", 95),  # delete_task
    ("PR201", "app/routers/users.py", 56),  # get_user
    ("PR202", "app/routers/users.py", 64), ("PR202", "app/routers/users.py", 70),  # admin_list_users, admin_delete_user
    ("PR203", "app/routers/orders.py", 42),  # create_order: workspace_id from the body
    ("PR203", "app/routers/orders.py", 89),  # get_order
    ("PR203", "app/routers/reports.py", 16),  # workspace_report
    ("PR203", "app/routers/reports.py", 30),  # export_orders: every user's orders
    ("PR203", "app/routers/tasks.py", 38),  # list_tasks: every user's tasks
    ("PR203", "app/routers/tasks.py", 67), ("PR203", "app/routers/tasks.py", 79),  # update_task, complete_task
    ("PR203", "app/routers/workspaces.py", 58),  # get_workspace
    ("PR203", "app/routers/workspaces.py", 73),  # create_project
    ("PR203", "app/routers/workspaces.py", 82),  # project_tasks
    ("PR203", "app/routers/workspaces.py", 88),  # invite_member
    ("PR240", "app/routers/users.py", 22), ("PR240", "app/routers/users.py", 39),  # signup, login
    # tokens and secrets
    ("PR210", "app/auth.py", 33),  # read_token: verify_signature False
    ("PR212", "app/auth.py", 28), ("PR212", "app/routers/workspaces.py", 102),  # no exp
    ("PR214", "app/auth.py", 19),  # unsalted sha256
    ("PR220", "app/config.py", 3),  # SECRET_KEY = "supersecret123"
    ("PR221", "app/auth.py", 12), ("PR221", "app/config.py", 9),  # "dev" and "sk_test_..." fallbacks
    ("PR222", "app/main.py", 17), ("PR222", "app/main.py", 59),  # FastAPI(debug=True), uvicorn reload=True
    ("PR223", "app/main.py", 19),  # allow_origins=["*"] + allow_credentials=True
    # connections and outbound calls
    ("PR230", "app/routers/reports.py", 17), ("PR230", "app/routers/reports.py", 33),
    ("PR231", "app/database.py", 8),
    ("PR250", "app/emails.py", 27), ("PR250", "app/payments.py", 7),
    ("PR250", "app/routers/orders.py", 76), ("PR250", "app/routers/orders.py", 101),
]

SLOPPY_FLASK = [
    # items.owner_id and payments.order_id: never filtered on, and no user or order is ever deleted
    ("PR101", "app/schema.sql", 21), ("PR101", "app/schema.sql", 22), ("PR101", "app/schema.sql", 31),
    ("PR102", "app/schema.sql", 3),
    ("PR103", "app/schema.sql", 13), ("PR103", "app/schema.sql", 24), ("PR103", "app/schema.sql", 41),
    ("PR104", "app/schema.sql", 6), ("PR104", "app/schema.sql", 16), ("PR104", "app/schema.sql", 26),
    ("PR104", "app/schema.sql", 34), ("PR104", "app/schema.sql", 42),
    ("PR110", "app/db.py", 16),  # executescript(schema.sql) from create_app
    ("PR120", "app/orders.py", 20),  # list_orders: an items query per order
    ("PR201", "app/items.py", 10), ("PR201", "app/items.py", 22),  # public catalog reads (low confidence)
    ("PR203", "app/items.py", 45), ("PR203", "app/items.py", 56),  # update_item, delete_item
    ("PR203", "app/orders.py", 49), ("PR203", "app/orders.py", 58),  # get_order, ship_order
    ("PR220", "app/__init__.py", 10),  # app.secret_key = "dev-secret"
    ("PR222", "run.py", 6),
    ("PR224", "app/__init__.py", 10),  # signed sessions, SESSION_COOKIE_SECURE never set
    ("PR230", "app/db.py", 8),  # get_db: sqlite3.connect per call, never closed
    ("PR232", "app/db.py", 8),
    ("PR240", "app/auth.py", 22), ("PR240", "app/auth.py", 43),
    ("PR250", "app/invites.py", 29), ("PR250", "app/orders.py", 61),
]


@pytest.fixture(scope="module")
def findings():
    cache = {}

    def get(app: str):
        if app not in cache:
            cache[app] = scan_project(FIXTURES / app, select=["PR1", "PR2"]).findings
        return cache[app]

    return get


def _check(found, expected):
    missing = [
        (rule, path, line)
        for rule, path, line in expected
        if not any(f.rule == rule and f.path == path and abs(f.line - line) <= 2 for f in found)
    ]
    assert not missing, f"expected findings not reported: {missing}"
    extra = Counter((f.rule, f.path) for f in found) - Counter((rule, path) for rule, path, _ in expected)
    assert not extra, f"unexpected findings: {[(f.rule, f.path, f.line, f.message) for f in found if (f.rule, f.path) in extra]}"


def test_sloppy_fastapi(findings):
    _check(findings("sloppy_fastapi"), SLOPPY_FASTAPI)


def test_sloppy_flask(findings):
    _check(findings("sloppy_flask"), SLOPPY_FLASK)


def test_sloppy_flask_catalog_reads_are_low_confidence(findings):
    reads = [f for f in findings("sloppy_flask") if f.rule == "PR201"]
    assert reads and {f.confidence.value for f in reads} == {"low"}


def test_sloppy_fastapi_missing_auth_is_flagged_with_confidence(findings):
    by_line = {f.line: f.confidence.value for f in findings("sloppy_fastapi") if f.rule == "PR201" and f.path == "app/routers/tasks.py"}
    assert by_line == {59: "medium", 95: "high"}  # a read next to guarded reads; a DELETE


def test_careful_app_is_silent(findings):
    found = findings("careful_app")
    assert found == [], [(f.rule, f.path, f.line, f.message) for f in found]

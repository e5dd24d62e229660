"""Before and after: gaps fixed, gaps left, and happy paths a fix broke."""

from __future__ import annotations

from auditor.rehearse.compare import compare, confirmed
from auditor.rehearse.run import Rehearsal


def probe(kind, path, outcome):
    return {"kind": kind, "method": "GET", "path": path, "outcome": outcome, "rule": None, "evidence": {}, "reason": ""}


def happy(step, status):
    return {"step": step, "method": "POST", "path": "/x", "status": status}


def rehearsal(probes, happy_paths):
    return Rehearsal("app:app", "fastapi", "/p", probes=probes, happy_paths=happy_paths)


def test_fixed_left_and_new_failures_and_broken_happy_paths():
    before = rehearsal(
        [probe("cross_user", "/a", "failed"), probe("brute_force", "/login", "failed"), probe("invalid_body", "/b", "passed")],
        [happy("signup A", 200), happy("create task", 201), happy("create order", 402)],
    )
    after = rehearsal(
        [probe("cross_user", "/a", "passed"), probe("brute_force", "/login", "failed"), probe("invalid_body", "/b", "failed")],
        [happy("signup A", 200), happy("create task", 500)],
    )
    result = compare(before, after)
    assert [p["kind"] for p in result.fixed] == ["cross_user"]
    assert [p["kind"] for p in result.still_failing] == ["brute_force"]
    assert [p["kind"] for p in result.new_failures] == ["invalid_body"]
    # create order never answered 2xx (its payment provider is unreachable): not a regression
    assert result.broken_happy_paths == ["create task: POST /x 201 -> 500"]


def test_a_happy_path_no_longer_reached_is_broken():
    before = rehearsal([], [happy("signup A", 200), happy("login A", 200)])
    after = rehearsal([], [happy("signup A", 200)])
    assert compare(before, after).broken_happy_paths == ["login A: POST /x 200 -> not reached"]


def test_an_html_forms_redirect_is_a_working_happy_path():
    before = rehearsal([], [happy("signup A", 302), happy("login A", 303), happy("create note", 302)])
    after = rehearsal([], [happy("signup A", 302), happy("login A", 401), happy("create note", 304)])
    assert compare(before, after).broken_happy_paths == ["login A: POST /x 303 -> 401", "create note: POST /x 302 -> 304"]


def test_confirmed_findings_are_those_of_the_failed_probes_routes():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Found:  # what confirmed() reads of a Finding
        rule: str
        path: str
        line: int

    def finding(rule, path, line):
        return Found(rule, path, line)

    routes = [
        {"method": "GET", "path": "/tasks/{task_id}", "where": ["app/tasks.py", 10, 20]},
        {"method": "POST", "path": "/auth/login", "where": ["app/users.py", 30, 40]},
    ]
    probes = [
        {**probe("cross_user", "/tasks/{task_id}", "failed"), "rule": "PR203"},
        {**probe("invalid_body", "/auth/login", "failed"), "rule": "PR301", "method": "POST"},
        {**probe("expired_token", "/tasks/", "failed"), "rule": "PR212"},
        {**probe("brute_force", "/auth/login", "passed"), "rule": "PR240", "method": "POST"},
    ]
    shown = rehearsal(probes, [])
    shown.routes = routes
    in_handler = finding("PR203", "app/tasks.py", 12)
    other_route = finding("PR203", "app/orders.py", 12)  # same rule, a route no probe failed on
    body = finding("PR301", "app/users.py", 31)
    token = finding("PR212", "app/auth.py", 5)  # made outside any route
    other_token = finding("PR212", "app/tasks.py", 15)  # made in another route's handler: another token
    not_confirmed = finding("PR240", "app/users.py", 30)  # its probe passed
    result = confirmed([in_handler, other_route, body, token, other_token, not_confirmed], shown)
    assert result == {in_handler, body, token}

"""The client's pure parts: paths filled with the user's objects, bodies from the schema, JWTs."""

from __future__ import annotations

import jwt

from auditor.rehearse.agent import probes, samples
from auditor.rehearse.agent.routes import Route, fill, load


def test_path_parameters_take_the_users_objects_by_name():
    refs = {"workspace": 7, "task": 12}
    assert fill(Route("GET", "/workspaces/{workspace_id}/tasks", True), refs) == "/workspaces/7/tasks"
    assert fill(Route("DELETE", "/tasks/{id}", True), refs) == "/tasks/12"
    assert fill(Route("GET", "/api/tasks/<int:task_id>", True), refs) == "/api/tasks/12"  # Flask
    assert fill(Route("GET", "/orders/{order_id}", True), refs) is None  # no order of theirs: skip
    assert fill(Route("GET", "/orders/{order_id}", True), refs, missing="1") == "/orders/1"  # a login check comes first


def test_valid_body_fills_required_fields_and_references():
    components = {
        "TaskIn": {
            "type": "object",
            "required": ["title", "project_id", "priority"],
            "properties": {
                "title": {"type": "string", "minLength": 3, "maxLength": 80},
                "project_id": {"type": "integer"},
                "priority": {"enum": ["low", "high"]},
                "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
        }
    }
    body = samples.build({"$ref": "#/components/schemas/TaskIn"}, components, {"project": 4})
    assert body["project_id"] == 4 and body["priority"] == "low"
    assert 3 <= len(body["title"]) <= 80
    assert "notes" not in body
    big = samples.oversized(components["TaskIn"], components, body)
    assert len(big["title"]) == samples.OVERSIZED and big["project_id"] == 4


def test_trailing_slash_routes_take_the_served_path():
    openapi = {"paths": {"/orders/": {"post": {"parameters": [{"in": "header", "name": "Idempotency-Key"}]}}}}
    (route,) = load([{"method": "POST", "path": "/orders", "auth": True}], openapi)
    assert route.path == "/orders/" and route.headers == ["Idempotency-Key"]


def test_jwt_signing_matches_pyjwt():
    key = "k" * 40
    token = jwt.encode({"sub": "1", "exp": 2_000_000_000}, key, algorithm="HS256")
    assert probes._verifies(token, key, "HS256")
    assert not probes._verifies(token, "another-key" * 4, "HS256")
    expired = probes._sign({"alg": "HS256", "typ": "JWT"}, {"sub": "1", "exp": 1}, key, "HS256")
    try:
        jwt.decode(expired, key, algorithms=["HS256"])
    except jwt.ExpiredSignatureError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the expired token was accepted")
    assert jwt.decode(expired, key, algorithms=["HS256"], options={"verify_exp": False})["sub"] == "1"

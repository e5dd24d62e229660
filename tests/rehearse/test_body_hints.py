"""Fields of a body the handler never declares, read from the handler itself."""

from __future__ import annotations

import ast
import textwrap

from auditor.rehearse.body_hints import body_hint


def hint(source: str):
    return body_hint(ast.parse(textwrap.dedent(source)).body[0])


def test_flask_get_json_fields_with_their_types():
    schema = hint(
        """
        def create_item():
            data = request.get_json()
            price, qty = float(data["price"]), int(data["qty"])
            return save(data["name"], price, qty, data.get("note", ""))
        """
    )
    assert sorted(schema["required"]) == ["name", "price", "qty"]
    assert schema["properties"] == {
        "price": {"type": "number"}, "qty": {"type": "integer"}, "name": {"type": "string"}, "note": {"type": "string"},
    }  # fmt: skip


def test_fastapi_dict_payload_and_awaited_json():
    signup = hint("def signup(payload: dict, db=None):\n    return payload['email'], payload['password']\n")
    assert set(signup["required"]) == {"email", "password"}
    schema = hint("async def login(request):\n    data = await request.json()\n    return data.get('email')\n")
    assert schema["required"] == [] and set(schema["properties"]) == {"email"}


def test_no_hint_for_a_handler_without_a_body_or_with_other_dicts():
    assert hint("def items(q: str):\n    return {'q': q}['q']\n") is None
    assert hint("def items(config):\n    return config['name']\n") is None  # not the request body


def test_html_form_fields_are_sent_as_a_form():
    schema = hint(
        """
        def register():
            username = request.form["username"]
            form = request.form
            return save(username, form["email"], request.form.get("password"))
        """
    )
    assert schema["x-form"] is True and schema["required"] == ["username", "email"]
    assert set(schema["properties"]) == {"username", "email", "password"}
    assert "x-form" not in hint("def create():\n    data = request.get_json()\n    return data['name']\n")  # JSON stays JSON


def test_a_handler_reading_the_form_or_json_gets_json():
    schema = hint(
        """
        def login():
            email = request.form.get("email") or request.get_json().get("email")
            return email
        """
    )
    assert "x-form" not in schema and set(schema["properties"]) == {"email"}

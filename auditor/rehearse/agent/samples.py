"""Request bodies built from the app's own schema (FastAPI's OpenAPI document): a valid one,
and the invalid ones a production API receives anyway (blank, wrong types, oversized)."""

from __future__ import annotations

import itertools
import re

_serial = itertools.count(1)
OVERSIZED = 100_000  # characters in an oversized string field


def resolve(schema, components: dict):
    """The schema with `$ref`s (and single-item allOf) replaced by what they point to."""
    seen = 0
    while isinstance(schema, dict) and seen < 20:
        seen += 1
        if "$ref" in schema:
            schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
        elif len(schema.get("allOf", [])) == 1:
            schema = schema["allOf"][0]
        else:
            break
    return schema if isinstance(schema, dict) else {}


def _not_null(schema: dict, components: dict) -> dict:
    for key in ("anyOf", "oneOf"):
        options = [resolve(s, components) for s in schema.get(key, [])]
        options = [s for s in options if s.get("type") != "null"]
        if options:
            return options[0]
    return schema


def value(name: str, schema: dict, components: dict, refs: dict):
    """A plausible valid value for one field. `refs`: resource name -> an id of the user's own."""
    schema = _not_null(resolve(schema, components), components)
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    if "default" in schema and schema["default"] is not None and not name.endswith("_id"):
        return schema["default"]
    kind = schema.get("type")
    lowered = name.lower()
    if lowered.endswith("_id") and kind in ("integer", "string", None):
        ref = refs.get(lowered[:-3])
        if ref is not None:
            return ref
        return 1 if kind != "string" else "1"
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), int(schema.get("exclusiveMinimum", 0)) + 1, 1)
    if kind == "number":
        return float(max(schema.get("minimum", 9.5), 9.5))
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return build(schema, components, refs)
    fmt = schema.get("format", "")
    if fmt == "date-time" or lowered.endswith("_at") or "date" in lowered:
        return "2030-01-01T00:00:00" if fmt != "date" else "2030-01-01"
    if fmt == "email" or "email" in lowered:
        return f"rehearsal{next(_serial)}@example.com"
    if "password" in lowered:
        return "Rehearsal-pass-1234"
    if "url" in lowered:
        return "https://example.com/"
    if "currency" in lowered:
        return "USD"
    text = f"rehearsal {lowered or 'value'} {next(_serial)}"
    low, high = schema.get("minLength", 1), schema.get("maxLength")
    text = text.ljust(low, "x")
    return text[:high] if high else text


def build(schema: dict, components: dict, refs: dict) -> dict:
    """A valid object: the required fields, plus optional ones that name another object."""
    schema = resolve(schema, components)
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    body = {}
    for name, field in properties.items():
        if name in required or (name.endswith("_id") and name[:-3] in refs):
            body[name] = value(name, field, components, refs)
    return body


def wrong_typed(schema: dict, components: dict, valid: dict) -> dict | list:
    """Every field of the valid body with a value of another type (a list for a whole body
    whose fields are unknown)."""
    schema = resolve(schema, components)
    properties = schema.get("properties") or {}
    if not properties:
        return [1, 2, 3]
    wrong = {}
    for name, field in properties.items():
        kind = _not_null(resolve(field, components), components).get("type")
        wrong[name] = {"unexpected": ["object"]} if kind in ("string", None) else "not-a-number" if kind in ("integer", "number") else 12345
    return wrong


def oversized(schema: dict, components: dict, valid: dict) -> dict | None:
    """The valid body with its free-text fields made huge; None when it has none."""
    schema = resolve(schema, components)
    properties = schema.get("properties") or {}
    big = dict(valid)
    found = False
    for name, field in properties.items():
        field = _not_null(resolve(field, components), components)
        if field.get("type") == "string" and not field.get("enum") and not field.get("format") and not re.search(
            r"email|password|_id$|url|currency|date", name.lower()
        ):
            big[name] = "x" * OVERSIZED
            found = True
    return big if found else None

"""The app's routes as the rehearsal sees them: from the scan's index, with the body schema from
the app's OpenAPI document when it has one, and path parameters filled with the user's objects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import samples

PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}|<(?:[^>:]+:)?([^>]+)>")
SIGNUP = re.compile(r"/(signup|sign-up|register|registration)/?$", re.I)
LOGIN = re.compile(r"/(login|log-in|signin|sign-in|token|session|sessions)/?$", re.I)
NO_TOUCH = re.compile(r"logout|webhook|password|reset|verify|confirm|accept|callback|oauth|health|ready|live", re.I)


@dataclass
class Route:
    method: str
    path: str
    auth: bool  # the index saw a login check on it
    rules: list = field(default_factory=list)  # rule codes of the findings on its handler
    admin: bool = False
    body: dict | None = None  # JSON schema of the body (None: unknown or none)
    form: bool = False  # the body is a form (OAuth2 password login)
    headers: list = field(default_factory=list)  # header parameters the app declares

    @property
    def params(self) -> list[str]:
        return [a or b for a, b in PARAM.findall(self.path)]

    @property
    def resource(self) -> str:
        """The kind of object the route is about: the last fixed segment, made singular."""
        parts = [p for p in self.path.split("/") if p and not PARAM.fullmatch(p)]
        return singular(parts[-1]) if parts else ""

    @property
    def takes_input(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH") or self.body is not None

    def label(self) -> str:
        return f"{self.method} {self.path}"


def singular(word: str) -> str:
    word = word.lower().replace("-", "_")
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("sses") or word.endswith("xes"):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def param_resource(name: str, route: Route) -> str:
    """`task_id` -> task; a bare `id` -> the segment before it."""
    name = name.lower()
    if name.endswith("_id"):
        return name[:-3]
    if name in ("id", "pk", "uuid"):
        segments = route.path.split("/")
        for i, part in enumerate(segments):
            if PARAM.fullmatch(part) and (PARAM.fullmatch(part).group(1) or PARAM.fullmatch(part).group(2)) == name:
                return singular(segments[i - 1]) if i else ""
    return name


def fill(route: Route, refs: dict, missing: str | None = None) -> str | None:
    """The path with every parameter replaced by an object of the user's; None when one is
    missing (or `missing` in its place)."""

    def swap(match):
        nonlocal absent
        name = match.group(1) or match.group(2)
        ref = refs.get(param_resource(name, route))
        if ref is None:
            absent = True
            return missing or "1"
        return str(ref)

    absent = False
    path = PARAM.sub(swap, route.path)
    return None if absent and missing is None else path


def load(spec_routes: list[dict], openapi: dict | None) -> list[Route]:
    routes = [
        Route(r["method"], r["path"], r["auth"], r.get("rules", []), r.get("admin", False), body=r.get("body_hint"),
              form=bool((r.get("body_hint") or {}).get("x-form")))  # fmt: skip
        for r in spec_routes
    ]
    if not openapi:
        return routes
    components = (openapi.get("components") or {}).get("schemas") or {}
    paths = openapi.get("paths") or {}
    for route in routes:
        key = _openapi_path(route.path)
        if key not in paths:  # "/orders" in the code is served as "/orders/" (a prefix plus "/")
            twin = key[:-1] if key.endswith("/") else key + "/"
            if twin in paths:
                key = twin
                route.path = twin if "{" not in twin else route.path.rstrip("/") + ("/" if twin.endswith("/") else "")
        operation = (paths.get(key) or {}).get(route.method.lower())
        if not operation:
            continue
        content = ((operation.get("requestBody") or {}).get("content")) or {}
        if "application/json" in content:
            declared = samples.resolve(content["application/json"].get("schema", {}), components)
            if declared.get("properties") or route.body is None:  # `payload: dict`: the handler's reads say more
                route.body = declared
        elif "application/x-www-form-urlencoded" in content or "multipart/form-data" in content:
            kind = "application/x-www-form-urlencoded" if "application/x-www-form-urlencoded" in content else "multipart/form-data"
            route.body, route.form = samples.resolve(content[kind].get("schema", {}), components), True
        route.headers = [p.get("name", "") for p in operation.get("parameters", []) if p.get("in") == "header"]
    return routes


def _openapi_path(path: str) -> str:
    return PARAM.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", path)


def components_of(openapi: dict | None) -> dict:
    return ((openapi or {}).get("components") or {}).get("schemas") or {}

"""Two users (A and B) signed up and logged in through the app's own routes."""

from __future__ import annotations

import secrets
import sqlite3
import subprocess
from contextlib import closing

from . import samples
from .client import Answer, Client, Identity
from .routes import LOGIN, SIGNUP, Route

TOKEN_KEYS = ("access_token", "token", "jwt", "id_token", "auth_token")
SEE_OTHER = (301, 302, 303)  # an HTML form answered with a redirect (post/redirect/get)


def accepted(route: Route, answer: Answer) -> bool:
    """A 2xx, or for an HTML form a redirect to the next page (what browsers get on success)."""
    return answer.ok or (route.form and answer.status in SEE_OTHER)


def send_signup(client: Client, route: Route, components: dict, who: Identity) -> Answer:
    body = signup_body(route, components, who.email, who.password)
    if route.form:
        return client.request("POST", route.path, form={k: str(v) for k, v in body.items()}, who=who)
    return client.request("POST", route.path, json_body=body, who=who)


class UsersMissing(Exception):
    """Why two users could not be made, in plain words."""


def find(routes: list[Route], pattern) -> Route | None:
    found = [r for r in routes if r.method == "POST" and pattern.search(r.path)]
    found.sort(key=lambda r: (r.auth, len(r.path)))  # public ones first
    return found[0] if found else None


def signup_body(route: Route, components: dict, email: str, password: str) -> dict:
    body = samples.build(route.body or {}, components, {}) if route.body else {}
    for name in list((samples.resolve(route.body or {}, components).get("properties") or {})):
        lowered = name.lower()
        if "email" in lowered or lowered == "username":
            body[name] = email
        elif "password" in lowered and "confirm" not in lowered:
            body[name] = password
        elif "confirm" in lowered:
            body[name] = password
    if not any("email" in k.lower() or k.lower() == "username" for k in body):
        body["email"] = email  # no schema (a dict or request.json()): the usual field names
    if not any("password" in k.lower() for k in body):
        body["password"] = password
    return body


def login_request(client: Client, route: Route, who: Identity, password: str | None = None) -> Answer:
    password = who.password if password is None else password
    fields = (route.body or {}).get("properties") or {}
    if route.form:  # OAuth2's password form says username; an HTML form may say email
        name = "email" if "email" in fields and "username" not in fields else "username"
        return client.request("POST", route.path, form={name: who.email, "password": password}, who=who)
    name = "username" if "username" in fields and "email" not in fields else "email"
    return client.request("POST", route.path, json_body={name: who.email, "password": password}, who=who)


def token_of(answer: Answer) -> str | None:
    data = answer.json()
    if isinstance(data, dict):
        for key in TOKEN_KEYS:
            if isinstance(data.get(key), str):
                return data[key]
        for nested in data.values():
            if isinstance(nested, dict):
                for key in TOKEN_KEYS:
                    if isinstance(nested.get(key), str):
                        return nested[key]
    return None


def from_hook(users: list[dict], routes: list[Route]) -> tuple[Identity, Identity, Route | None]:
    """The two users the project's hook made ([tool.prodready.rehearse] users)."""
    made = []
    for name, user in zip("AB", users):
        made.append(Identity(
            name, user.get("email", ""), user.get("password", ""), user.get("token"), dict(user.get("cookies") or {}),
            user.get("id"), dict(user.get("headers") or {}),
        ))  # fmt: skip
    return made[0], made[1], find(routes, LOGIN)


def make_users(client: Client, routes: list[Route], components: dict, happy: list) -> tuple[Identity, Identity, Route]:
    signup, login = find(routes, SIGNUP), find(routes, LOGIN)
    if signup is None or login is None:
        missing = " and no ".join(n for n, r in (("signup", signup), ("login", login)) if r is None)
        raise UsersMissing(
            f"the scan found no {missing} route (POST .../signup or /register, POST .../login or /token); "
            "set `[tool.prodready.rehearse] users = \"module:function\"` to make users another way"
        )
    users = []
    for name in ("A", "B"):
        who = Identity(name, f"rehearsal-{name.lower()}-{secrets.token_hex(4)}@example.com", f"Rh-{secrets.token_urlsafe(12)}1a")
        answer = send_signup(client, signup, components, who)
        happy.append({"step": f"signup {name}", "method": "POST", "path": signup.path, "status": answer.status})
        if not accepted(signup, answer):
            raise UsersMissing(
                f"signing up user {name} through POST {signup.path} answered {answer.status or answer.error}: {answer.short()}"
            )
        data = answer.json()
        if isinstance(data, dict):
            who.id = data.get("id", (data.get("user") or {}).get("id") if isinstance(data.get("user"), dict) else None)
        answer = login_request(client, login, who)
        happy.append({"step": f"login {name}", "method": "POST", "path": login.path, "status": answer.status})
        if not accepted(login, answer):
            raise UsersMissing(f"logging in user {name} through POST {login.path} answered {answer.status or answer.error}: {answer.short()}")
        who.token = token_of(answer)
        if not who.token and not who.cookies:
            raise UsersMissing(f"POST {login.path} answered {answer.status} but gave neither a token nor a session cookie")
        users.append(who)
    return users[0], users[1], login


def make_admin(client: Client, routes: list[Route], components: dict, happy: list, plan: dict | None) -> tuple[Identity | None, str | None]:
    """A third user signed up through the app's own routes, then made an admin in the throwaway
    database (no app hands out admin rights at signup), then logged in: (the admin, None), or
    (None, why not) when the app has roles but no admin could be made; (None, None) without roles."""
    if not plan:
        return None, None
    if plan.get("missing"):
        return None, plan["missing"]
    signup, login = find(routes, SIGNUP), find(routes, LOGIN)
    if signup is None or login is None:
        return None, "no signup or login route to make the admin with"
    who = Identity("admin", f"rehearsal-admin-{secrets.token_hex(4)}@example.com", f"Rh-{secrets.token_urlsafe(12)}1a")
    answer = send_signup(client, signup, components, who)
    happy.append({"step": "signup admin", "method": "POST", "path": signup.path, "status": answer.status})
    if not accepted(signup, answer):
        return None, f"signing up the admin through POST {signup.path} answered {answer.status or answer.error}"
    error = promote(plan, who.email)
    if error:
        return None, error
    answer = login_request(client, login, who)
    happy.append({"step": "login admin", "method": "POST", "path": login.path, "status": answer.status})
    who.token = token_of(answer)
    if not accepted(login, answer) or (not who.token and not who.cookies):
        return None, f"logging in the admin through POST {login.path} answered {answer.status or answer.error}"
    return who, None


def promote(plan: dict, email: str) -> str | None:
    """Set the admin flag or role of the user named `email` in the throwaway database; None when
    exactly that one row changed, else why not."""
    table, column, identity, value = plan["table"], plan["column"], plan["identity"], plan["value"]
    where = f"{plan['table']}.{plan['column']}"
    if any('"' in name for name in (table, column, identity)):
        return f"cannot name {where} in SQL"
    try:
        if plan.get("sqlite"):
            with closing(sqlite3.connect(plan["sqlite"], timeout=10)) as db:
                changed = db.execute(
                    f'UPDATE "{table}" SET "{column}" = ? WHERE "{identity}" = ?', (1 if value is True else value, email)
                ).rowcount
                db.commit()
        elif plan.get("psql"):
            literal = "true" if value is True else "'" + str(value).replace("'", "''") + "'"
            done = subprocess.run(
                [*plan["psql"], f'UPDATE "{table}" SET "{column}" = {literal} WHERE "{identity}" = \'{email}\' RETURNING 1'],
                capture_output=True, text=True, timeout=10,
            )  # fmt: skip
            if done.returncode != 0:
                return f"setting {where} failed: {done.stderr.strip()[:200]}"
            changed = len(done.stdout.split())
        else:
            return "no way to reach the database"
    except (sqlite3.Error, OSError, subprocess.TimeoutExpired) as exc:
        return f"setting {where} failed: {exc}"
    return None if changed == 1 else f"{where}: {changed} rows matched the new user's {identity}"

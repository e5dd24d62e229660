"""The probes: each sends what production traffic will send and says whether the app held.

outcome: "failed" (the problem is real), "passed" (the app answered as it should) or "skipped"
(the probe could not tell, with the reason). Every probe names the rule it confirms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from . import samples
from .client import Answer, Client, Identity
from .routes import LOGIN, NO_TOUCH, SIGNUP, Route, fill

BRUTE_FORCE_ATTEMPTS = 30
LIST_ROWS = 500  # rows created through the API before reading the list back
CONCURRENT = 50  # simultaneous requests of the concurrency probe
DENIED = (401, 403)
HIDDEN = (403, 404)

RULES = {
    "unauthenticated": "PR201",
    "cross_user": "PR203",
    "privilege": "PR202",
    "invalid_body": "PR301",
    "duplicate_submit": "PR330",
    "brute_force": "PR240",
    "expired_token": "PR212",
    "forged_token": "PR210",
    "unpaginated_list": "PR320",
    "concurrency": "PR230",
}


def result(kind, route, outcome, evidence=None, reason="", rule=None, method=None, path=None) -> dict:
    return {
        "kind": kind,
        "method": method or (route.method if route else None),
        "path": path or (route.path if route else None),
        "outcome": outcome,
        "rule": rule or RULES.get(kind),
        "evidence": evidence or {},
        "reason": reason,
    }


def to_login(answer: Answer) -> bool:
    """A redirect to the login page (Flask-Login's answer to a caller with no session)."""
    if answer.status not in (301, 302, 303, 307, 308):
        return False
    return bool(LOGIN.search(urlsplit(answer.headers.get("location", "")).path))


def _status(answer: Answer):
    return answer.status or answer.error


class Rehearsal:
    def __init__(self, client: Client, routes: list[Route], components: dict, a: Identity, b: Identity, login: Route,
                 secrets_: list[str], progress, has_schema: bool) -> None:  # fmt: skip
        self.client, self.routes, self.components = client, routes, components
        self.a, self.b, self.login = a, b, login
        self.secrets = secrets_
        self.progress = progress
        self.has_schema = has_schema
        self.psql: list[str] | None = None  # psql over the private cluster's socket (PostgreSQL only)
        self.database_label: str | None = None  # what the app runs on when connections are not counted
        self.admin: Identity | None = None  # a third user with the app's admin role, where it has roles
        self.admin_missing: str | None = None  # why no admin could be made
        self.refs: dict = {}  # resource -> id of one of A's objects
        self.creators: dict = {}  # resource -> the route that created it
        self.results: list[dict] = []
        self.happy: list[dict] = []

    # -- helpers ---------------------------------------------------------------------------------

    def body_for(self, route: Route, refs: dict | None = None):
        if route.body is not None:
            return samples.build(route.body, self.components, refs if refs is not None else self.refs)
        return None if self.has_schema else {}

    def send(self, route: Route, path: str, who: Identity | None, body=None, headers=None) -> Answer:
        if headers is None and any(h.lower() == "idempotency-key" for h in route.headers):
            headers = {"Idempotency-Key": f"rehearsal-{secrets.token_hex(8)}"}  # a new request, not a retry
        if route.form and isinstance(body, dict):
            return self.client.request(route.method, path, form={k: str(v) for k, v in body.items()}, who=who, headers=headers)
        return self.client.request(route.method, path, json_body=body, who=who, headers=headers)

    def is_account_route(self, route: Route) -> bool:
        return bool(SIGNUP.search(route.path) or LOGIN.search(route.path))

    def list_route(self, path: str) -> Route | None:
        for route in self.routes:
            if route.method == "GET" and route.path.rstrip("/") == path.rstrip("/"):
                return route
        return None

    def create(self, route: Route) -> Answer | None:
        path = fill(route, self.refs)
        if path is None:
            return None
        return self.send(route, path, self.a, self.body_for(route))

    def fresh(self, resource: str) -> dict:
        """A's refs with a new object of `resource` (for a probe that deletes it)."""
        refs = dict(self.refs)
        creator = self.creators.get(resource)
        if creator is not None:
            answer = self.create(creator)
            data = answer.json() if answer is not None and answer.ok else None
            if isinstance(data, dict) and data.get("id") is not None:
                refs[resource] = data["id"]
        return refs

    # -- setup: A's own objects --------------------------------------------------------------------

    def setup(self) -> None:
        if self.a.id is not None:
            self.refs["user"] = self.a.id
        candidates = [
            r for r in self.routes
            if r.method == "POST" and not self.is_account_route(r) and not NO_TOUCH.search(r.path) and not r.admin
        ]  # fmt: skip
        tried = set()
        for attempt in range(4):  # objects that need another object first (a task needs a project)
            progressed = False
            for route in candidates:
                resource = route.resource
                if resource in self.refs or route in self.creators.values():
                    continue
                last = route.path.rstrip("/").rsplit("/", 1)[-1]
                if not last.endswith("s") and self.list_route(route.path) is None:
                    continue  # an action on an object (POST /tasks/{id}/complete), not a creation
                if any(p.lower().endswith("_id") and p.lower()[:-3] not in self.refs for p in route.params):
                    continue
                body = self.body_for(route)
                required = (samples.resolve(route.body or {}, self.components).get("required") or [])
                if any(f.endswith("_id") and f[:-3] not in self.refs for f in required) and attempt < 3:
                    continue
                answer = self.create(route)
                if answer is None:
                    continue
                data = answer.json()
                if route.label() not in tried:
                    self.happy.append({"step": f"create {resource}", "method": "POST", "path": route.path, "status": answer.status})
                tried.add(route.label())
                if answer.ok and isinstance(data, dict) and data.get("id") is not None:
                    self.refs[resource] = data["id"]
                    self.creators[resource] = route
                    progressed = True
                    listing = self.list_route(route.path)
                    if listing is not None and not listing.params:
                        seen = self.client.request("GET", listing.path, who=self.a)
                        self.happy.append({"step": f"list {resource}", "method": "GET", "path": listing.path, "status": seen.status})
                elif body is not None and not answer.ok and attempt == 0:
                    self.progress(f"  could not create a {resource} through POST {route.path}: {_status(answer)}")
            if not progressed:
                break

    # -- probes ------------------------------------------------------------------------------------

    def unauthenticated(self, deletes: bool) -> None:
        for route in self.routes:
            if (route.method == "DELETE") != deletes or self.is_account_route(route) or NO_TOUCH.search(route.path):
                continue
            if not (route.auth or "PR201" in route.rules):
                continue
            refs = self.fresh(route.resource) if deletes else self.refs
            # A route the index saw a login check on must refuse before it looks the object up.
            path = fill(route, refs) or (fill(route, refs, missing="1") if route.auth else None)
            if path is None:
                self.results.append(result("unauthenticated", route, "skipped", reason="no object of the user's to put in the path"))
                continue
            answer = self.send(route, path, None, self.body_for(route, refs) if route.takes_input else None)
            evidence = {"status": _status(answer), "sent": f"{route.method} {path} with no token or cookie"}
            if answer.status in DENIED:
                self.results.append(result("unauthenticated", route, "passed", evidence, f"refused without a login ({answer.status})"))
            elif to_login(answer):
                self.results.append(result("unauthenticated", route, "passed", evidence | {"location": answer.headers.get("location")},
                                           f"sent to the login page ({answer.status}) instead of served"))  # fmt: skip
            elif answer.ok:
                self.results.append(result("unauthenticated", route, "failed", evidence | {"body": answer.short()},
                                            f"answered {answer.status} to a caller with no login"))  # fmt: skip
            else:
                self.results.append(result("unauthenticated", route, "skipped", evidence,
                                            f"answered {_status(answer)}: neither refused (401/403) nor served"))  # fmt: skip

    def cross_user(self, deletes: bool) -> None:
        for route in self.routes:
            if (route.method == "DELETE") != deletes or route.admin or self.is_account_route(route) or NO_TOUCH.search(route.path):
                continue
            if not route.params:
                if route.method == "GET" and not deletes and route.resource in self.refs:
                    self._cross_user_list(route)
                continue
            if route.method == "POST" and route.resource in self.creators and self.creators[route.resource] is route:
                continue
            refs = self.fresh(route.resource) if deletes else self.refs
            path = fill(route, refs)
            if path is None:
                self.results.append(result("cross_user", route, "skipped", reason="no object of user A's to put in the path"))
                continue
            mine = self.send(route, path, self.a, self.body_for(route, refs) if route.takes_input else None) if not deletes else None
            if mine is not None and not mine.ok:
                self.results.append(result("cross_user", route, "skipped", {"owner_status": _status(mine)},
                                            f"user A's own request answered {_status(mine)}, so B's answer says nothing"))  # fmt: skip
                continue
            answer = self.send(route, path, self.b, self.body_for(route, refs) if route.takes_input else None)
            evidence = {"status": _status(answer), "sent": f"{route.method} {path} as user B, on user A's object"}
            if answer.status in HIDDEN:
                self.results.append(result("cross_user", route, "passed", evidence, f"user B was refused ({answer.status})"))
            elif answer.ok:
                self.results.append(result("cross_user", route, "failed", evidence | {"body": answer.short()},
                                            f"user B {'read' if route.method == 'GET' else 'changed'} user A's object ({answer.status})"))  # fmt: skip
            else:
                self.results.append(result("cross_user", route, "skipped", evidence, f"answered {_status(answer)}: could not tell"))

    def _cross_user_list(self, route: Route) -> None:
        answer = self.client.request("GET", route.path, who=self.b)
        data = answer.json()
        items = data.get("items", data.get("results")) if isinstance(data, dict) else data
        if not answer.ok or not isinstance(items, list):
            return
        theirs = self.refs[route.resource]
        leaked = [i for i in items if isinstance(i, dict) and i.get("id") == theirs]
        evidence = {"status": answer.status, "items_seen_by_b": len(items), "a_object_id": theirs}
        if leaked:
            self.results.append(result("cross_user", route, "failed", evidence, "user B's list shows user A's object"))
        else:
            self.results.append(result("cross_user", route, "passed", evidence, "user B's list does not show user A's object"))

    def privilege(self) -> None:
        for route in self.routes:
            if not route.admin:
                continue
            if route.method != "GET":
                self.results.append(result("privilege", route, "skipped", reason="not run: it would change data (only reads are probed)"))
                continue
            path = fill(route, self.refs) or route.path
            evidence = {}
            if self.admin is not None:  # the admin's answer shows the route works, so a refusal means something
                own = self.client.request("GET", path, who=self.admin)
                evidence["admin_status"] = _status(own)
                if not own.ok:
                    self.results.append(result("privilege", route, "skipped", evidence,
                                               f"the admin's own request answered {_status(own)}, so a refusal says nothing"))  # fmt: skip
                    continue
            elif self.admin_missing:
                evidence["no_admin"] = self.admin_missing
            answer = self.client.request("GET", path, who=self.b)
            evidence |= {"status": _status(answer), "sent": f"GET {path} as a user who is not an admin"}
            if answer.status in DENIED or (answer.status == 404 and self.admin is not None):
                self.results.append(result("privilege", route, "passed", evidence, f"refused to a non-admin ({answer.status})"
                                           + (" and served to the admin" if self.admin is not None else "")))  # fmt: skip
            elif answer.ok:
                self.results.append(result("privilege", route, "failed", evidence, f"a non-admin got {answer.status}"))
            else:
                self.results.append(result("privilege", route, "skipped", evidence, f"answered {_status(answer)}: could not tell"))

    def invalid_body(self) -> None:
        for route in self.routes:
            if not route.takes_input or route.admin or NO_TOUCH.search(route.path) or route.method == "DELETE":
                continue
            path = fill(route, self.refs)
            if path is None:
                continue
            who = None if self.is_account_route(route) else self.a
            schema = route.body or {}
            valid = self.body_for(route) or {}
            variants = {
                "blank": dict(raw=b""),
                "malformed": dict(raw=b"{not json"),
                "empty_object": dict(json_body={}),
                "wrong_types": dict(json_body=samples.wrong_typed(schema, self.components, valid)),
            }
            big = samples.oversized(schema, self.components, valid) if route.body is not None else None
            if big is not None:
                variants["oversized"] = dict(json_body=big)
            seen = {}
            for name, kwargs in variants.items():
                answer = self.client.request(route.method, path, who=who, **kwargs)
                seen[name] = _status(answer)
            crashed = [n for n, s in seen.items() if not isinstance(s, int) or s >= 500]
            accepted_big = isinstance(seen.get("oversized"), int) and 200 <= seen["oversized"] < 300
            evidence = {"statuses": seen}
            if crashed:
                self.results.append(result("invalid_body", route, "failed", evidence,
                                           f"{', '.join(crashed)} body answered {', '.join(str(seen[n]) for n in crashed)}: the app crashed instead of answering 4xx"))  # fmt: skip
            elif accepted_big:
                self.results.append(result("invalid_body", route, "failed", evidence,
                                           f"a {samples.OVERSIZED:,}-character field was accepted and stored", rule="PR302"))  # fmt: skip
            else:
                self.results.append(result("invalid_body", route, "passed", evidence, "every invalid body got a 4xx"))

    def duplicate_submit(self) -> None:
        for route in self.routes:
            if route.method != "POST" or self.is_account_route(route):
                continue
            takes_key = any(h.lower() == "idempotency-key" for h in route.headers)
            if "PR330" not in route.rules and not takes_key:
                continue
            listing = self.list_route(route.path)
            path = fill(route, self.refs)
            if listing is None or listing.params or path is None:
                self.results.append(result("duplicate_submit", route, "skipped",
                                           reason="no list route (GET on the same path) to count the objects through"))  # fmt: skip
                continue
            body = self.body_for(route)
            key = f"rehearsal-{secrets.token_hex(8)}"
            before = self._count(listing)
            first = self.send(route, path, self.a, body, headers={"Idempotency-Key": key})
            second = self.send(route, path, self.a, body, headers={"Idempotency-Key": key})
            after = self._count(listing)
            if before is None or after is None:
                self.results.append(result("duplicate_submit", route, "skipped", reason=f"GET {listing.path} did not answer a list"))
                continue
            self.send(route, path, self.a, body)
            self.send(route, path, self.a, body)
            without_key = self._count(listing)
            evidence = {
                "statuses": [_status(first), _status(second)],
                "created_with_same_key": after - before,
                # two more sends without a key (or with two different keys where the app needs one)
                "created_without_key": None if without_key is None else without_key - after,
                "counted_through": f"GET {listing.path}",
            }
            if after - before >= 2:
                self.results.append(result("duplicate_submit", route, "failed", evidence,
                                           "the same request sent twice with one Idempotency-Key created two objects"))  # fmt: skip
            else:
                self.results.append(result("duplicate_submit", route, "passed", evidence,
                                           f"a retry with the same Idempotency-Key created {after - before} object(s) in all"))  # fmt: skip

    def _count(self, listing: Route) -> int | None:
        answer = self.client.request("GET", listing.path, who=self.a)
        data = answer.json()
        if isinstance(data, dict):
            for key in ("total", "count"):
                if isinstance(data.get(key), int):
                    return data[key]
            data = data.get("items", data.get("results"))
        return len(data) if answer.ok and isinstance(data, list) else None

    def tokens(self) -> None:
        target = self._token_target()
        if self.a.token is None or target is None or self.a.token.count(".") != 2:
            reason = "the app does not hand out a JWT" if target is not None else "no route that needs a login answered user A"
            for kind in ("expired_token", "forged_token"):
                self.results.append(result(kind, target, "skipped", reason=reason))
            return
        header_b64, payload_b64, signature_b64 = self.a.token.split(".")
        header, claims = _decode(header_b64), _decode(payload_b64)
        if not isinstance(header, dict) or not isinstance(claims, dict) or not str(header.get("alg", "")).startswith("HS"):
            for kind in ("expired_token", "forged_token"):
                self.results.append(result(kind, target, "skipped", reason="the token is not an HMAC-signed JWT prodready can re-sign"))
            return
        alg = header["alg"]
        forged = _sign(header, claims, secrets.token_hex(32), alg)
        self._token_probe("forged_token", target, forged, "a token signed with another key")
        if "exp" not in claims:
            self.results.append(result("expired_token", target, "failed", {"claims": sorted(claims)},
                                       "the login token has no `exp` claim: it never expires"))  # fmt: skip
            return
        key = next((k for k in self.secrets if _verifies(self.a.token, k, alg)), None)
        if key is None:
            self.results.append(result("expired_token", target, "skipped",
                                       reason="the token is not signed with a secret prodready set, so it cannot make an expired one"))  # fmt: skip
            return
        expired = _sign(header, {**claims, "exp": int(time.time()) - 3600}, key, alg)
        self._token_probe("expired_token", target, expired, "a token whose `exp` is an hour ago")

    def _token_target(self) -> Route | None:
        for route in sorted(self.routes, key=lambda r: len(r.path)):
            if route.method == "GET" and route.auth and not route.admin and not route.params:
                if self.client.request("GET", route.path, who=self.a).ok:
                    return route
        return None

    def _token_probe(self, kind: str, route: Route, token: str, what: str) -> None:
        answer = self.client.request("GET", route.path, headers={"Authorization": f"Bearer {token}"})
        evidence = {"status": _status(answer), "sent": what}
        if answer.status in DENIED:
            self.results.append(result(kind, route, "passed", evidence, f"refused ({answer.status})"))
        elif answer.ok:
            self.results.append(result(kind, route, "failed", evidence, f"{what} was accepted ({answer.status})"))
        else:
            self.results.append(result(kind, route, "skipped", evidence, f"answered {_status(answer)}: could not tell"))

    def brute_force(self) -> None:
        if self.login is None or not self.a.email:
            self.results.append(result("brute_force", self.login, "skipped", reason="no login route, or no email for user A, to guess passwords on"))
            return
        statuses = []
        for attempt in range(1, BRUTE_FORCE_ATTEMPTS + 1):
            from .users import login_request

            answer = login_request(self.client, self.login, Identity("guess", self.a.email), password=f"wrong-{attempt}")
            statuses.append(_status(answer))
            if answer.status == 429:
                self.results.append(result("brute_force", self.login, "passed", {"attempts": attempt, "statuses": statuses[-3:]},
                                           f"slowed down after {attempt} wrong passwords (429)"))  # fmt: skip
                return
            if answer.ok:
                self.results.append(result("brute_force", self.login, "skipped", {"attempts": attempt, "status": answer.status},
                                           f"a wrong password was accepted ({answer.status}): guesses cannot be counted"))  # fmt: skip
                return
        self.results.append(result("brute_force", self.login, "failed", {"attempts": len(statuses), "last_statuses": statuses[-3:]},
                                   f"{len(statuses)} wrong passwords in a row and never a 429: passwords can be guessed at full speed"))  # fmt: skip


    def unpaginated_list(self, rows: int = LIST_ROWS) -> None:
        """Create `rows` objects through the API, then read the list: all of them in one answer
        means the answer grows with the table."""
        listing = self._list_to_fill()
        if listing is None:
            self.results.append(result("unpaginated_list", None, "skipped", reason="no list route whose objects the rehearsal can create"))
            return
        creator = self.creators[listing.resource]
        path = fill(creator, self.refs)
        have = self._count(listing) or 0
        with ThreadPoolExecutor(max_workers=8) as pool:  # a few at a time: faster, and still no flood
            made = sum(pool.map(lambda _: self.send(creator, path, self.a, self.body_for(creator)).ok, range(max(0, rows - have))))
        answer = self.client.request("GET", listing.path, who=self.a)
        data = answer.json()
        items = data.get("items", data.get("results")) if isinstance(data, dict) else data
        if not answer.ok or not isinstance(items, list):
            self.results.append(result("unpaginated_list", listing, "skipped", {"status": _status(answer)}, "the list route did not answer a list"))
            return
        total = have + made
        evidence = {"rows": total, "items_returned": len(items), "bytes": len(answer.body), "seconds": round(answer.seconds, 3)}
        if len(items) >= total >= rows // 2:
            self.results.append(result("unpaginated_list", listing, "failed", evidence,
                                       f"returned all {len(items)} rows ({len(answer.body):,} bytes) in one answer: it grows with the table"))  # fmt: skip
        elif total < rows // 2:
            self.results.append(result("unpaginated_list", listing, "skipped", evidence, f"only {total} rows could be created"))
        else:
            self.results.append(result("unpaginated_list", listing, "passed", evidence, f"returned {len(items)} of {total} rows: it pages"))

    def _list_to_fill(self) -> Route | None:
        lists = [r for r in self.routes if r.method == "GET" and not r.params and r.resource in self.creators and not r.admin
                 and self.creators[r.resource].path.rstrip("/") == r.path.rstrip("/")]  # fmt: skip
        lists.sort(key=lambda r: "PR320" not in r.rules)  # the route the scan flagged first
        return lists[0] if lists else None

    def concurrency(self, count: int = CONCURRENT) -> None:
        """`count` simultaneous reads of a route that queries the database: errors and latency."""
        candidates = [r for r in self.routes if r.method == "GET" and "PR230" in r.rules and fill(r, self.refs)]
        candidates += [self._list_to_fill()]
        candidates += [r for r in self.routes if r.method == "GET" and r.auth == bool(self.a.headers()) and not r.params and not r.admin]
        route = refused = None
        tried: list[Route] = []
        for candidate in candidates:  # the first one user A can read
            if candidate is None or candidate in tried:
                continue
            tried.append(candidate)
            first = self.client.request("GET", fill(candidate, self.refs), who=self.a)
            if first.ok:
                route = candidate
                break
            refused = refused or f"{candidate.label()} answered {_status(first)} to user A"
        if route is None:
            reason = f"no route that reads the database answered user A ({refused})" if refused else "no route that reads the database to call"
            self.results.append(result("concurrency", None, "skipped", reason=reason))
            return
        path = fill(route, self.refs)
        sampler = ConnectionSampler(self.psql) if self.psql else None
        if sampler:
            sampler.start()
        with ThreadPoolExecutor(max_workers=count) as pool:
            answers = list(pool.map(lambda _: self.client.request("GET", path, who=self.a), range(count)))
        connections = sampler.finish() if sampler else None
        seconds = sorted(a.seconds for a in answers)
        errors = [_status(a) for a in answers if not a.ok]
        evidence = {
            "requests": count,
            "errors": len(errors),
            "error_statuses": sorted({str(e) for e in errors}),
            "p50_ms": round(statistics.median(seconds) * 1000),
            "p95_ms": round(seconds[int(len(seconds) * 0.95) - 1] * 1000),
            "max_ms": round(seconds[-1] * 1000),
            "database": "postgresql" if connections else (self.database_label or "sqlite (open connections are counted on the private PostgreSQL cluster only)"),
        }
        if connections:
            evidence.update(connections)
            opened = connections["connections_max"] - connections["connections_before"]
            if opened >= max(2, int(count * 0.6)):
                self.results.append(result("concurrency", route, "failed", evidence,
                                           f"{count} simultaneous requests opened {opened} database connections: one per request, "
                                           "so traffic exhausts the database's connection limit"))  # fmt: skip
                return
        if errors:
            self.results.append(result("concurrency", route, "failed", evidence,
                                       f"{len(errors)} of {count} simultaneous requests failed ({', '.join(evidence['error_statuses'])})"))  # fmt: skip
        else:
            self.results.append(result("concurrency", route, "passed", evidence,
                                       f"{count} simultaneous requests all answered (slowest {evidence['max_ms']} ms)"))  # fmt: skip


class ConnectionSampler:
    """Counts the app's open PostgreSQL connections (pg_stat_activity) while a burst runs."""

    QUERY = "select count(*) from pg_stat_activity where backend_type = 'client backend' and pid <> pg_backend_pid()"

    def __init__(self, psql: list[str]) -> None:
        self.psql = psql
        self.samples: list[int] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.before = self._count()

    def _count(self) -> int | None:
        try:
            done = subprocess.run([*self.psql, self.QUERY], capture_output=True, text=True, timeout=5)
            return int(done.stdout.strip()) if done.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return None

    def _run(self) -> None:
        while not self.stopped.is_set():
            count = self._count()
            if count is not None:
                self.samples.append(count)
            self.stopped.wait(0.05)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> dict | None:
        self.stopped.set()
        self.thread.join(10)
        time.sleep(0.5)
        after = self._count()
        if self.before is None or not self.samples:
            return None
        return {"connections_before": self.before, "connections_max": max(self.samples), "connections_after": after}


def _decode(part: str):
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except ValueError:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def _signature(signed: str, key: str, alg: str) -> str:
    return _b64(hmac.new(key.encode(), signed.encode(), _DIGESTS.get(alg, hashlib.sha256)).digest())


def _verifies(token: str, key: str, alg: str) -> bool:
    """Whether `key` signed the app's token (so it can sign an expired one the app would trust)."""
    signed, _, signature = token.rpartition(".")
    return hmac.compare_digest(_signature(signed, key, alg), signature)


def _sign(header: dict, claims: dict, key: str, alg: str) -> str:
    """An HS256/384/512 JWT with these claims."""
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{head}.{body}.{_signature(f'{head}.{body}', key, alg)}"

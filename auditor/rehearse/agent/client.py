"""HTTP to the app under rehearsal: 127.0.0.1 only, a timeout on every request."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

JSON = "application/json"


class ServerGone(Exception):
    """The app stopped answering (it crashed or was stopped): the rehearsal ends."""


@dataclass
class Answer:
    status: int  # 0: no answer (timeout, connection reset)
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def short(self, limit: int = 160) -> str:
        if self.error:
            return self.error
        return self.body[:limit].decode("utf-8", errors="replace")


@dataclass
class Identity:
    """How one user authenticates: a bearer token and/or session cookies."""

    name: str
    email: str = ""
    password: str = ""
    token: str | None = None
    cookies: dict = field(default_factory=dict)
    id: object = None
    extra_headers: dict = field(default_factory=dict)  # from the users hook (an API key, say)

    def headers(self) -> dict:
        headers = dict(self.extra_headers)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers


class Client:
    def __init__(self, port: int, timeout: float, deadline: float) -> None:
        self.port = port
        self.timeout = timeout
        self.deadline = deadline
        self.refused = 0
        self.count = 0

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body=None,
        raw: bytes | None = None,
        form: dict | None = None,
        who: Identity | None = None,
        headers: dict | None = None,
        content_type: str | None = None,
        _redirects: int = 0,
    ) -> Answer:
        if time.monotonic() > self.deadline:
            raise TimeoutError("the rehearsal ran out of time")
        sent = dict(who.headers() if who else {})
        data = None
        if form is not None:
            data, sent["Content-Type"] = urlencode(form).encode(), "application/x-www-form-urlencoded"
        elif raw is not None:
            data, sent["Content-Type"] = raw, content_type or JSON
        elif json_body is not None:
            data, sent["Content-Type"] = json.dumps(json_body).encode(), JSON
        sent.update(headers or {})
        started = time.monotonic()
        self.count += 1
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            body = response.read()
            answer = Answer(response.status, body, {k.lower(): v for k, v in response.getheaders()}, time.monotonic() - started)
            self.refused = 0
        except ConnectionRefusedError:
            self.refused += 1
            if self.refused >= 3:
                raise ServerGone("the app stopped accepting connections") from None
            return Answer(0, error="connection refused", seconds=time.monotonic() - started)
        except (OSError, http.client.HTTPException) as exc:
            return Answer(0, error=f"no answer: {type(exc).__name__}: {exc}"[:200], seconds=time.monotonic() - started)
        finally:
            connection.close()
        if who is not None:
            for header, value in response.getheaders():
                if header.lower() == "set-cookie":
                    name, _, rest = value.partition("=")
                    who.cookies[name.strip()] = rest.split(";", 1)[0]
        location = answer.headers.get("location", "")
        if answer.status in (307, 308) and location and _redirects < 2:
            # "/items" served as "/items/": the same request again, only ever on 127.0.0.1
            target = urlsplit(location)
            if target.hostname in (None, "127.0.0.1", "localhost") and target.path:
                local = target.path + (f"?{target.query}" if target.query else "")
                return self.request(method, local, json_body=json_body, raw=raw, form=form, who=who, headers=headers,
                                    content_type=content_type, _redirects=_redirects + 1)  # fmt: skip
        return answer

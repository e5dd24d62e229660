"""`[tool.prodready.rehearse] users = "module:function"`: the project's own way to make users when
its routes cannot (an invite-only app, a login through another service).

The function is called as `function(base_url)` inside the server's network namespace, with the
rehearsal's settings (the same throwaway database), and returns two users or more, each a dict
with any of: "token" (a bearer token), "headers", "cookies", "email", "password", "id"."""

from __future__ import annotations

import json
from pathlib import Path

from auditor.rehearse.boot import log_tail

HOOK = '''\
import importlib, json, sys
spec, base_url, out = sys.argv[1:4]
module, _, name = spec.partition(":")
users = getattr(importlib.import_module(module), name)(base_url)
with open(out, "w") as f:
    json.dump([dict(u) for u in users], f, default=str)
'''
FIELDS = ("token", "headers", "cookies", "email", "password", "id")


class HookError(Exception):
    """The hook is misconfigured or failed: the message says how."""


def hook_spec(config) -> str | None:
    spec = (getattr(config, "rehearse", None) or {}).get("users")
    if spec is None:
        return None
    module, _, name = str(spec).partition(":")
    if not module or not name.isidentifier():
        raise HookError(f'[tool.prodready.rehearse] users = {spec!r}: expected "module:function", e.g. "tests.rehearsal:make_users"')
    return str(spec)


def run_hook(sandbox, copy: Path, server, spec: str, env: dict, timeout: float) -> list[dict]:
    script, out = sandbox.dir / "users_hook.py", sandbox.dir / "users.json"
    script.write_text(HOOK, encoding="utf-8")
    run = sandbox.run(["{python}", str(script), spec, f"http://127.0.0.1:{server.port}", str(out)], cwd=copy, env=env,
                      timeout=timeout, beside=server.process)  # fmt: skip
    if not run.ok or not out.is_file():
        raise HookError(f"the users hook {spec} failed ({run.describe()}):\n{log_tail(run.output, 15)}")
    users = json.loads(out.read_text(encoding="utf-8"))
    if not isinstance(users, list) or len(users) < 2 or not all(isinstance(u, dict) for u in users):
        raise HookError(f"the users hook {spec} must return two users or more (dicts with a token, headers or cookies)")
    return [{k: u[k] for k in FIELDS if k in u} for u in users[:2]]

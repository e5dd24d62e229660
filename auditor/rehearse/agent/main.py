"""Entry point of the rehearsal client: reads the plan (JSON), writes the results (JSON).

Run as `python -I -c <bootstrap> PLAN RESULTS` in the server's network namespace; progress
lines are appended to the plan's progress file as the probes run."""

from __future__ import annotations

import json
import sys
import time
import traceback

from . import routes as routes_mod
from .client import Client, Identity, ServerGone
from .probes import Rehearsal, result
from .users import UsersMissing, from_hook, make_admin, make_users



def main(argv: list[str]) -> int:
    plan = json.loads(open(argv[0], encoding="utf-8").read())
    out_path = argv[1]
    progress_file = open(plan["progress"], "a", encoding="utf-8", buffering=1)

    def progress(line: str) -> None:
        progress_file.write(line + "\n")

    client = Client(plan["port"], plan["request_timeout"], time.monotonic() + plan["seconds"])
    routes = routes_mod.load(plan["routes"], plan.get("openapi"))
    components = routes_mod.components_of(plan.get("openapi"))
    report = {"probes": [], "happy_paths": [], "users": None, "error": None, "requests": 0}
    try:
        happy: list = []
        try:
            if plan.get("users"):
                a, b, login = from_hook(plan["users"], routes)
            else:
                a, b, login = make_users(client, routes, components, happy)
        except UsersMissing as exc:
            report["users"] = str(exc)
            report["happy_paths"] = happy
            progress(f"users: {exc}")
            for kind in ("unauthenticated", "cross_user", "invalid_body", "duplicate_submit", "brute_force"):
                report["probes"].append(result(kind, None, "skipped", reason=f"no users: {exc}"))
            # Public routes still take a crowd.
            anonymous = Identity("anonymous")
            run = Rehearsal(client, routes, components, anonymous, anonymous, None, [], progress, bool(plan.get("openapi")))
            run.psql = plan.get("psql")
            run.database_label = plan.get("database_label")
            if plan.get("happy_only"):
                return _write(out_path, report, client)
            progress("concurrency (public routes only)")
            run.concurrency(plan.get("concurrent", 50))
            report["probes"] += run.results
            return _write(out_path, report, client)
        progress("users: A and B signed up and logged in through the app's own routes")
        run = Rehearsal(client, routes, components, a, b, login, plan.get("secrets", []), progress, bool(plan.get("openapi")))
        if plan.get("admin") and not plan.get("happy_only"):
            run.admin, run.admin_missing = make_admin(client, routes, components, happy, plan["admin"])
            if run.admin is not None:
                progress(f"users: an admin signed up, given {plan['admin']['table']}.{plan['admin']['column']} in the throwaway database")
        run.happy = happy
        run.psql = plan.get("psql")
        run.database_label = plan.get("database_label")
        steps = [
            ("user A's objects", run.setup),
            ("unauthenticated", lambda: run.unauthenticated(deletes=False)),
            ("cross_user", lambda: run.cross_user(deletes=False)),
            ("privilege", run.privilege),
            ("invalid_body", run.invalid_body),
            ("duplicate_submit", run.duplicate_submit),
            ("tokens", run.tokens),
            ("deletes", lambda: (run.unauthenticated(deletes=True), run.cross_user(deletes=True))),
            ("concurrency", lambda: run.concurrency(plan.get("concurrent", 50))),
            ("unpaginated_list", lambda: run.unpaginated_list(plan.get("list_rows", 500))),
            ("brute_force", run.brute_force),  # last: a working limit locks the login out for a while
        ]
        if plan.get("happy_only"):  # fix verification: signup, login, create and list only
            steps = steps[:1]
        for number, (name, step) in enumerate(steps, 1):
            progress(f"[{number}/{len(steps)}] {name}")
            step()
        report["probes"], report["happy_paths"] = run.results, run.happy
        if run.admin_missing:
            report["admin"] = f"no admin user: {run.admin_missing}; the privilege probe ran as a non-admin only"
    except ServerGone as exc:
        report["error"] = str(exc)
    except TimeoutError as exc:
        report["error"] = str(exc)
    except Exception:  # a bug in a probe: reported, not hidden
        report["error"] = "internal error in the rehearsal client:\n" + traceback.format_exc(limit=6)
    return _write(out_path, report, client)


def _write(path: str, report: dict, client: Client) -> int:
    report["requests"] = client.count
    with open(path, "w", encoding="utf-8") as out:
        json.dump(report, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A real MCP client session with `prodready mcp`, over stdio, as an AI assistant would run it.

    python scripts/mcp_client_demo.py [APP_FOLDER]

Copies APP_FOLDER (default: the demo app, templates/demo_app) to a temporary folder, starts
`prodready mcp` there with the SDK's stdio_client, declares that folder as the client's only
root, and prints a transcript: the tools, a scan, a rule explained, a plan and its diff, the
refusals (a made-up plan id, a path outside the root, the plan once a file it read was edited),
an apply of that plan, and an undo (every byte checked back). Needs `pip install 'prodready[mcp]'`. The original folder is never written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import anyio
import mcp_types as types
from mcp import ClientSession, StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parent.parent


def say(text: str = "") -> None:
    print(text, flush=True)


def tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".prodready" not in p.relative_to(root).parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def server_command() -> list[str]:
    script = Path(sys.executable).with_name("prodready")
    return [str(script), "mcp"] if script.exists() else [sys.executable, "-m", "auditor", "mcp"]


async def call(session: ClientSession, name: str, arguments: dict) -> types.CallToolResult:
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or f"{done}/{total}")

    say(f"> tools/call {name} {json.dumps(arguments)}")
    result = await session.call_tool(name, arguments, progress_callback=on_progress)
    if progress:
        say(f"  progress: {len(progress)} notifications, last: {progress[-1]!r}")
    if result.is_error:
        say(f"  error: {result.content[0].text}")
    return result


async def main(app: Path) -> int:
    with tempfile.TemporaryDirectory(prefix="prodready-mcp-demo-") as tmp:
        project = Path(tmp) / app.name
        shutil.copytree(app, project, symlinks=False)  # a copy: the demo writes its fixes there
        before = tree_hash(project)
        asked: list[str] = []

        async def list_roots(context) -> types.ListRootsResult:
            asked.append(project.as_uri())
            return types.ListRootsResult(roots=[types.Root(uri=project.as_uri(), name=project.name)])

        command = server_command()
        say(f"$ {' '.join(Path(c).name if i == 0 else c for i, c in enumerate(command))}   (stdio, cwd {project})")
        params = StdioServerParameters(command=command[0], args=command[1:], cwd=str(project))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, list_roots_callback=list_roots) as session:
                init = await session.initialize()
                say(f"< initialize: {init.server_info.name} {init.server_info.version}, protocol {init.protocol_version}")

                tools = await session.list_tools()
                say(f"< tools/list: {len(tools.tools)} tools")
                for tool in tools.tools:
                    params_shown = ", ".join(
                        f"{k}{'' if k in tool.input_schema.get('required', []) else '?'}" for k in tool.input_schema["properties"]
                    )
                    say(f"  {tool.name}({params_shown}): {tool.description}")
                resources = await session.list_resources()
                say(f"< resources/list: {len(resources.resources)} rules, e.g. {resources.resources[0].uri}")

                scan = await call(session, "scan", {"path": "."})
                report = scan.structured_content
                say(f"  roots/list answered: {asked[-1] if asked else 'never asked'}")
                say(f"< {report['summary']['findings']} findings in {report['summary']['files']} files (scan --format json, version {report['version']})")
                for finding in report["findings"][:3]:
                    say(f"  {finding['rule']} {finding['path']}:{finding['line']} {finding['severity']}: {finding['message'][:90]}")

                explain = await call(session, "explain", {"rule": "PR301"})
                say(f"< {explain.content[0].text.splitlines()[0]}")

                plan = (await call(session, "plan_fixes", {"path": "."})).structured_content
                say(f"< {plan['summary']}; plan_id {plan['plan_id']}; {len(plan['not_fixed'])} not fixed")
                for fix in plan["fixes"][:3]:
                    say(f"  fix {fix['rule']} {fix['path']}:{fix['line']} ({fix['safety']}) by {fix['fixer']}")
                diff = plan["diff"].splitlines()
                say(f"  diff: {len(diff)} lines, first ones:")
                for line in diff[:8]:
                    say(f"    {line}")

                await call(session, "apply_fixes", {"path": ".", "plan_id": "0" * 32})
                await call(session, "scan", {"path": "/etc"})

                edited = project / plan["fixes"][0]["path"]
                saved = edited.read_bytes()
                edited.write_bytes(saved + b"\n# the user edits this file after seeing the plan\n")
                say(f"  (the user edits {edited.relative_to(project)})")
                await call(session, "apply_fixes", {"path": ".", "plan_id": plan["plan_id"]})
                edited.write_bytes(saved)
                say(f"  (the edit is undone: {edited.relative_to(project)} has the bytes the plan was made from again)")

                applied = (await call(session, "apply_fixes", {"path": ".", "plan_id": plan["plan_id"]})).structured_content
                say(f"< applied: {applied['summary']}; backup in {applied['backup']}")
                await call(session, "apply_fixes", {"path": ".", "plan_id": plan["plan_id"]})
                undone = (await call(session, "undo", {"path": "."})).structured_content
                say(f"< {undone['summary']}")
        restored = tree_hash(project) == before
        say(f"every byte restored after undo: {restored} (tree hash {before})")
        return 0 if restored else 1


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "templates" / "demo_app"
    raise SystemExit(anyio.run(main, folder.resolve()))

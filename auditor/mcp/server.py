"""The MCP server: prodready's tools and rule reference on the official `mcp` SDK (MCPServer).

Every tool runs its work (actions.py) in a worker thread and reports progress from there.
Paths are confined to the client's roots, asked for on each call (the SDK's ListRoots
resolver: a request mid-call on handshake-era connections, an input round on newer ones),
else to the folder the server was started in. A failure reaches the assistant as one line
(a tool error it can read and act on), never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context, ListRoots, MCPServer, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp_types import ListRootsResult, ToolAnnotations
from pydantic import BaseModel, Field

from auditor import __version__
from auditor.mcp import Refused, actions
from auditor.mcp.confine import confine, roots_from_uris
from auditor.mcp.plans import PlanStore

T = TypeVar("T")
log = logging.getLogger("prodready.mcp")

INSTRUCTIONS = (
    "prodready audits Python web backends (FastAPI, Flask) for what breaks in production and fixes "
    "it with checked codemods. scan and explain read only. plan_fixes writes nothing: show the user "
    "its diff, and call apply_fixes with its plan_id only after they agree; undo puts the files back. "
    "rehearse runs the user's app: ask first."
)

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False)
RUNS_CODE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


class FindingRef(BaseModel):
    """One finding of a scan, by where it is."""

    rule: str = Field(description="rule code, e.g. PR301")
    path: str = Field(description="the finding's path, relative to the project folder")
    line: int = Field(description="the finding's line (1-based)")


def one_line(text: str) -> str:
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip()) or "failed"


def client_roots(ctx: Context) -> ListRoots | None:
    """Ask for the client's roots when it declared it has some (resolver of the `roots` parameters)."""
    caps = ctx.client_capabilities
    return ListRoots() if caps is not None and caps.roots is not None else None


Roots = Annotated[ListRootsResult | None, Resolve(client_roots)]
ProjectPath = Annotated[str, Field(description="the project folder, absolute or relative to the workspace root (\".\" is the root)")]


async def _work(ctx: Context, job: Callable[[actions.Progress], T]) -> T:
    """Run `job` in a worker thread; its progress goes to the client as progress notifications."""

    def progress(done: float, total: float | None, message: str) -> None:
        try:
            anyio.from_thread.run(ctx.report_progress, done, total, message)
        except Exception:  # a client gone or without progress must not stop the work
            pass

    try:
        return await anyio.to_thread.run_sync(job, progress)
    except Refused as exc:
        raise ToolError(one_line(exc)) from None
    except Exception as exc:
        from auditor.errors import ScanError
        from fixers.pipeline.errors import FixError

        if isinstance(exc, (ScanError, FixError)):
            raise ToolError(one_line(exc)) from None
        if isinstance(exc, OSError):
            where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
            raise ToolError(one_line(f"{exc.strerror or exc}{where}")) from None
        log.error("internal error: %s: %s", type(exc).__name__, one_line(exc))
        raise ToolError(one_line(f"internal error in prodready ({type(exc).__name__}: {exc}); please report it")) from None


def build_server(start: Path | None = None, store: PlanStore | None = None) -> MCPServer:
    """The server, confined to the client's roots or else to `start` (default: the current folder)."""
    start = (start or Path.cwd()).resolve()
    plans = store or PlanStore()
    server = MCPServer(name="prodready", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")

    def folder(path: str, roots: ListRootsResult | None) -> Path:
        declared = roots_from_uris(str(r.uri) for r in roots.roots) if roots is not None else []
        try:
            return confine(path, declared or [start])
        except Refused as exc:
            raise ToolError(one_line(exc)) from None

    @server.tool(
        description="Audit a Python web backend (FastAPI/Flask) for what breaks in production; returns the findings "
        "as `prodready scan --format json` does. Reads files only, never runs the code.",
        annotations=READ_ONLY,
    )
    async def scan(
        path: ProjectPath,
        ctx: Context,
        roots: Roots,
        select: Annotated[list[str] | None, Field(description="only these rule codes or prefixes, e.g. [\"PR2\", \"PR301\"]")] = None,
        ignore: Annotated[list[str] | None, Field(description="skip these rule codes or prefixes")] = None,
    ) -> dict[str, Any]:
        root = folder(path, roots)
        return await _work(ctx, lambda progress: actions.scan_json(root, select, ignore, progress))

    @server.tool(
        description="Explain one rule (e.g. PR301): what it finds, why it breaks in production, and what to write instead.",
        annotations=READ_ONLY,
    )
    async def explain(rule: Annotated[str, Field(description="rule code, e.g. PR301")], ctx: Context) -> str:
        return await _work(ctx, lambda progress: actions.explain_text(rule))

    @server.tool(
        description="Preview fixes as a unified diff (writes nothing): the fixes with their safety, what was not fixed and "
        "why, and a plan_id. Show the user the diff before apply_fixes.",
        annotations=READ_ONLY,
    )
    async def plan_fixes(
        path: ProjectPath,
        ctx: Context,
        roots: Roots,
        rules: Annotated[list[str] | None, Field(description="only findings of these rule codes or prefixes")] = None,
        findings: Annotated[list[FindingRef] | None, Field(description="only these findings of the last scan")] = None,
        include_review: Annotated[
            bool, Field(description="also fixes that change behaviour (auth, rate limits, validation): safety `review`")
        ] = False,
    ) -> dict[str, Any]:
        root = folder(path, roots)
        refs = [f.model_dump() for f in findings] if findings else None
        return await _work(ctx, lambda progress: actions.make_plan(plans, root, rules, refs, include_review, progress))

    @server.tool(
        description="Write the plan the user saw and agreed to (by its plan_id), backed up for undo; refused when the plan "
        "is unknown or any file changed since it was planned.",
        annotations=WRITES,
    )
    async def apply_fixes(
        path: ProjectPath,
        plan_id: Annotated[str, Field(description="the plan_id plan_fixes returned for the diff the user saw")],
        ctx: Context,
        roots: Roots,
        verify: Annotated[
            bool,
            Field(description="first run the project's own tests and boot the app (its code) on copies; if a fix breaks "
                  "them nothing is written and a smaller plan is returned"),  # fmt: skip
        ] = False,
    ) -> dict[str, Any]:
        root = folder(path, roots)
        return await _work(ctx, lambda progress: actions.apply(plans, root, plan_id, verify, progress))

    @server.tool(
        description="Restore every file as it was before the last apply_fixes (or `prodready fix --apply`) in the project.",
        annotations=WRITES,
    )
    async def undo(path: ProjectPath, ctx: Context, roots: Roots) -> dict[str, Any]:
        root = folder(path, roots)
        return await _work(ctx, lambda progress: actions.undo_json(plans, root))

    @server.tool(
        description="RUNS THE USER'S APP (their code): boots it on 127.0.0.1 on a copy of the project against a throwaway "
        "database and sends failure-path requests; ask the user first. Takes up to minutes.",
        annotations=RUNS_CODE,
    )
    async def rehearse(path: ProjectPath, ctx: Context, roots: Roots) -> dict[str, Any]:
        root = folder(path, roots)
        return await _work(ctx, lambda progress: actions.rehearse_json(root, progress))

    _add_rule_resources(server)
    return server


def _add_rule_resources(server: MCPServer) -> None:
    """prodready://rules/CODE: one resource per rule, the rule reference's section for it."""
    from auditor.rules.base import all_rules

    for code, cls in all_rules().items():
        server.add_resource(
            FunctionResource(
                uri=f"prodready://rules/{code}",
                name=code,
                title=f"{code} {cls.name}",
                description=cls.impact,
                mime_type="text/markdown",
                fn=lambda code=code: actions.rule_markdown(code),
            )
        )


def run(start: Path | None = None) -> None:
    """Serve over stdio until the client closes the connection."""
    server = build_server(start)
    anyio.run(server.run_stdio_async)

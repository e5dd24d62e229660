"""`prodready mcp`: serve prodready's tools to an AI coding assistant over stdio (Model Context
Protocol). Needs the optional extra: without it, one line names what to install, exit 2."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(parser: argparse.ArgumentParser, sub) -> None:
    mcp = sub.add_parser(
        "mcp",
        help="serve scan, explain, fix plans, apply, undo and rehearse to an AI assistant (MCP over stdio)",
        description="A Model Context Protocol server on stdin/stdout, for assistants such as Claude Code or Cursor. "
        "Paths are confined to the workspace roots the client declares, else to the folder the server starts in. "
        "Fixes are applied only by the plan_id of a plan the assistant showed; `prodready undo` or the undo tool "
        "puts the files back.",
    )
    mcp.add_argument("--root", type=Path, metavar="FOLDER", help="the workspace when the client declares no roots (default: the current folder)")
    mcp.set_defaults(handler=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    from auditor.mcp import INSTALL_HINT

    try:
        from auditor.mcp.server import run
    except ImportError as exc:  # the extra is not installed, or an mcp older than 2.3 (no MCPServer)
        print(f"prodready: error: the MCP server needs the mcp package, 2.3 or later ({exc}): {INSTALL_HINT}", file=sys.stderr)
        return 2
    if args.root is not None and not args.root.is_dir():
        print(f"prodready: error: --root {args.root} is not a folder", file=sys.stderr)
        return 2
    try:
        run(args.root)
    except KeyboardInterrupt:
        pass
    return 0

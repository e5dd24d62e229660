"""`prodready mcp`: the engine as Model Context Protocol tools for AI coding assistants.

server.py wires the tools and resources to the official `mcp` SDK (the optional extra
`prodready[mcp]`); actions.py does the work with the same functions as the CLI; confine.py
keeps every path inside the client's workspace roots; plans.py remembers the plans an
assistant showed, so that only a plan the user saw can be applied.

Only server.py imports the SDK: the rest runs (and is tested) without it.
"""

from __future__ import annotations

INSTALL_HINT = "pip install 'prodready[mcp]'"


class Refused(Exception):
    """A tool call refused or failed for a reason the assistant can act on: one line, no traceback."""

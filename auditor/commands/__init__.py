"""Subcommands that live in their own modules. Each module exposes `register(parser, subparsers)`.

A registrar may set `parser.default_handler` for the bare `prodready` command.
"""

from __future__ import annotations

REGISTRARS: list = []

from auditor.commands import init  # noqa: E402

REGISTRARS.append(init.register)

from auditor.commands import wizard  # noqa: E402

REGISTRARS.append(wizard.register)

from auditor.commands import fix  # noqa: E402

REGISTRARS.append(fix.register)

from auditor.commands import rehearse  # noqa: E402

REGISTRARS.append(rehearse.register)

from auditor.commands import mcp  # noqa: E402

REGISTRARS.append(mcp.register)

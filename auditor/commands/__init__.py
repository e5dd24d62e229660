"""Subcommands that live in their own modules. Each module exposes `register(parser, subparsers)`.

A registrar may set `parser.default_handler` for the bare `prodready` command.
"""

from __future__ import annotations

REGISTRARS: list = []

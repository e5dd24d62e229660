"""`prodready init [PATH]`: write a commented starter `[tool.prodready]` section.

It goes into the folder's pyproject.toml (appended with tomlkit, every other byte of the file
kept), or into a new prodready.toml when the folder has no pyproject.toml: creating a
pyproject.toml would change how pip builds the project. It refuses when a configuration is
already there, so it never overwrites choices someone made.
"""

from __future__ import annotations

import argparse
from pathlib import Path

# (key, default, comment above it)
STARTER = [
    ("select", [], "Rule codes or prefixes to run; empty runs every rule (`prodready rules` lists them)."),
    ("ignore", [], 'Rule codes or prefixes to skip everywhere, e.g. ["PR502"].'),
    ("exclude", [], "Gitignore-style paths not to scan (.gitignore, virtualenvs and caches are skipped already)."),
    ("public-routes", [], 'Route paths that are public by design and need no auth, e.g. ["/public/*"].'),
    ("fail-on", "low", "Lowest severity that makes `prodready scan` exit 1: low, medium or high."),
]
TAIL_COMMENTS = [
    "Rules to skip in some files only:",
    "[tool.prodready.per-file-ignores]",
    '"tests/*" = ["PR2"]',
    "",
    "Options for one rule (`prodready explain CODE` lists them):",
    "[tool.prodready.rules.PR201]",
]


class InitError(Exception):
    pass


def fill_starter(container, in_pyproject: bool):
    """Add the starter keys and comments to a tomlkit table or document."""
    import tomlkit  # every `prodready` command registers this one; only `init` needs tomlkit

    container.add(tomlkit.comment("prodready: what `prodready scan` checks and when it fails (docs/rules.md lists the rules)."))
    for key, default, comment in STARTER:
        container.add(tomlkit.comment(comment))
        container.add(key, default)
    container.add(tomlkit.nl())
    for line in TAIL_COMMENTS:
        if not in_pyproject:
            line = line.replace("[tool.prodready.", "[")
        container.add(tomlkit.comment(line) if line else tomlkit.nl())
    if in_pyproject:
        container.add(tomlkit.nl())  # keep a blank line before whatever table follows
    return container


def target_for(path: Path) -> Path:
    if path.suffix == ".toml" or path.is_file():
        return path
    if (path / "prodready.toml").exists():
        return path / "prodready.toml"
    if (path / "pyproject.toml").exists():
        return path / "pyproject.toml"
    return path / "prodready.toml"


def init_config(path: str | Path) -> Path:
    """Write the starter section; returns the file written. Raises InitError when one exists."""
    import tomlkit

    path = Path(path)
    if not path.exists() and path.suffix != ".toml":
        raise InitError(f"path does not exist: {path}")
    target = target_for(path)
    is_pyproject = target.name != "prodready.toml"
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    try:
        document = tomlkit.parse(text)
    except Exception as exc:  # tomlkit's ParseError subclasses
        raise InitError(f"{target}: not valid TOML ({exc}); fix it first") from None
    if not is_pyproject:
        if text.strip():
            raise InitError(f"{target} already exists; edit it instead")
        document = fill_starter(tomlkit.document(), in_pyproject=False)
    else:
        if "prodready" in document.get("tool", {}):
            raise InitError(f"{target} already has a [tool.prodready] section; edit it instead")
        if text and not text.endswith("\n"):
            document.add(tomlkit.nl())
        tool = document.get("tool")
        if tool is None:
            tool = tomlkit.table(is_super_table=True)
            document.add("tool", tool)
        tool.add("prodready", fill_starter(tomlkit.table(), in_pyproject=True))
    target.write_text(tomlkit.dumps(document), encoding="utf-8")
    return target


def cmd_init(args: argparse.Namespace) -> int:
    from auditor.cli_support import EXIT_CLEAN, UsageError

    try:
        target = init_config(args.path)
    except InitError as exc:
        raise UsageError(str(exc)) from None
    print(f"wrote a starter [tool.prodready] section to {target}")
    return EXIT_CLEAN


def register(parser: argparse.ArgumentParser, subparsers: argparse._SubParsersAction) -> None:
    init = subparsers.add_parser("init", help="write a commented starter configuration (pyproject.toml or prodready.toml)")
    init.add_argument("path", nargs="?", default=".", help="project folder or .toml file (default: .)")
    init.set_defaults(handler=cmd_init)

"""`prodready wizard PATH`, `prodready demo`, and bare `prodready` (the wizard on the current folder).

textual is imported only when a wizard actually opens, so `scan` and `fix` stay light.
"""

from __future__ import annotations

import argparse
import functools
import shlex
import sys
from pathlib import Path

DEMO_PACKAGE = "prodready_templates"
DEMO_FOLDER = "demo_app"
IGNORED_IN_COPY = ("__pycache__", "*.pyc", ".pytest_cache", ".prodready*")


def register(parser: argparse.ArgumentParser, subparsers) -> None:
    wizard = subparsers.add_parser("wizard", help="walk through the five steps and fix what matters (the default)")
    wizard.add_argument("path", nargs="?", default=".", help="project folder (default: .)")
    wizard.add_argument("--dry-run", action="store_true", help="never write to the project; export the changes as a patch")
    wizard.set_defaults(handler=cmd_wizard)

    demo = subparsers.add_parser("demo", help="open the wizard on a copy of a small sloppy sample app")
    demo.add_argument("--dry-run", action="store_true", help="never write; export the changes as a patch")
    demo.set_defaults(handler=cmd_demo)

    parser.default_handler = functools.partial(cmd_default, parser=parser)


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _open(path: str | Path, dry_run: bool) -> int:
    from auditor.cli_support import UsageError
    from auditor.engine import ScanError, resolve_root

    try:
        root = resolve_root(path)
    except ScanError as exc:
        raise UsageError(str(exc)) from None
    if not stdout_is_terminal():
        raise UsageError("the wizard needs a terminal; use `prodready scan` in scripts and CI")
    from auditor.tui import run_wizard

    return run_wizard(root, dry_run=dry_run)


def cmd_wizard(args: argparse.Namespace) -> int:
    return _open(args.path, args.dry_run)


def cmd_default(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Bare `prodready`: the wizard in a terminal, the help text anywhere else."""
    if not stdout_is_terminal():
        parser.print_help()
        return 0
    return _open(".", dry_run=False)


def demo_source() -> Path:
    """The sample app shipped inside the package (templates/demo_app in the source tree)."""
    from importlib import resources  # the demo's imports wait for the demo: every command loads this module

    return Path(str(resources.files(DEMO_PACKAGE) / DEMO_FOLDER))


def copy_demo(target_parent: Path | None = None) -> Path:
    """Copy the sample app to a fresh temporary folder and return the copy's path."""
    import shutil
    import tempfile

    parent = Path(tempfile.mkdtemp(prefix="prodready-demo-", dir=target_parent))
    target = parent / "taskflow"
    shutil.copytree(demo_source(), target, ignore=shutil.ignore_patterns(*IGNORED_IN_COPY))
    return target


def cmd_demo(args: argparse.Namespace) -> int:
    from auditor.cli_support import UsageError

    if not stdout_is_terminal():
        raise UsageError("the demo opens the wizard and needs a terminal")
    source = demo_source()
    if not source.is_dir():
        raise UsageError(f"the sample app is missing from this installation ({source})")
    target = copy_demo()
    code = _open(target, args.dry_run)
    print(f"The sample app, with whatever you applied, is in {target}\n{how_to_run_tests(target)}  (delete the folder when done)")
    return code


def how_to_run_tests(target: Path) -> str:
    """The command that runs the app's tests with a Python that has what they import.

    A bare `python` is whatever comes first on PATH (often the system's, without FastAPI). The
    app's own .venv/ comes first; else prodready's interpreter when it has every package the app
    imports (fixes may have added some); else the steps to make a .venv/ for the app."""
    import importlib.util

    from fixers.pipeline.runner import project_python

    folder = shlex.quote(str(target))
    python = project_python(target)
    if python.venv is not None and python.venv != Path(sys.prefix):
        return f"Run its tests there: cd {folder} && {shlex.quote(str(python.executable))} -m pytest -q"
    missing = [name for name in sorted(third_party_imports(target)) if importlib.util.find_spec(name) is None]
    if not missing:
        return f"Run its tests there: cd {folder} && {shlex.quote(sys.executable)} -m pytest -q"
    return (
        f"Its tests need {', '.join(missing)}, which prodready's Python does not have. Run them in a virtual environment:\n"
        f"  cd {folder} && python3 -m venv .venv && .venv/bin/python -m pip install -r requirements.txt pytest"
        " && .venv/bin/python -m pytest -q"
    )


def third_party_imports(root: Path) -> set[str]:
    """Top-level packages the project's modules import unconditionally (not under try, if or def:
    those are optional) that are neither the standard library nor the project's own."""
    import ast

    found: set[str] = set()
    own: set[str] = set()
    for path in root.rglob("*.py"):
        relative = path.relative_to(root)
        if any(part.startswith(".") or part in {"venv", "__pycache__"} for part in relative.parts):
            continue
        own.update(part.removesuffix(".py") for part in relative.parts)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, ast.Import):
                found.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name not in own}

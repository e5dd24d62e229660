"""Paths an assistant gives are confined to the workspace: the roots the client declares
(file:// URIs), else the folder the server was started in. Symlinks are resolved first, so a
link inside the workspace that leads out of it is refused too."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from auditor.mcp import Refused


def roots_from_uris(uris: Iterable[str]) -> list[Path]:
    """The local folders of the client's roots (other schemes are ignored)."""
    folders = []
    for uri in uris:
        parsed = urlparse(str(uri))
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            continue
        folders.append(Path(url2pathname(unquote(parsed.path))).resolve())
    return folders


def _shown(roots: list[Path]) -> str:
    listed = ", ".join(str(r) for r in roots[:3])
    return listed + (f" and {len(roots) - 3} more" if len(roots) > 3 else "")


def confine(path: str, roots: list[Path]) -> Path:
    """The absolute, resolved folder for `path` (relative paths start at the first root);
    Refused when it is not one of the roots or inside one."""
    if not roots:
        raise Refused("no workspace folder is known: start the server in the project folder, or let the client declare its roots")
    if not path or not path.strip():
        raise Refused("path is empty: give the project folder (\".\" is the workspace root)")
    given = Path(path.strip()).expanduser()
    target = (given if given.is_absolute() else roots[0] / given).resolve()
    if any(target == root or root in target.parents for root in roots):
        return target
    raise Refused(f"{path} is outside the workspace ({_shown(roots)}): prodready only reads and writes folders inside it")

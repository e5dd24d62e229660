"""Adding the packages a fix needs to the scanned project's declared dependencies.

pyproject.toml is edited with tomlkit (the user's formatting and comments stay); otherwise
requirements.txt gets a line. A package already declared anywhere is left alone.
"""

from __future__ import annotations

import re

from fixers.pipeline.workspace import Workspace

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str | None:
    match = _NAME.match(requirement)
    return normalize(match.group(1)) if match else None


def _requirements_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name = requirement_name(line)
            if name:
                names.add(name)
    return names


def _pyproject_names(doc) -> set[str]:
    names: set[str] = set()
    project = doc.get("project", {})
    for requirement in project.get("dependencies", []) or []:
        names.add(requirement_name(str(requirement)) or "")
    for group in (project.get("optional-dependencies", {}) or {}).values():
        names.update(requirement_name(str(r)) or "" for r in group)
    poetry = doc.get("tool", {}).get("poetry", {})
    for key in ("dependencies", "dev-dependencies"):
        names.update(normalize(str(n)) for n in poetry.get(key, {}) or {})
    names.discard("")
    return names


def add_requirements(ws: Workspace, requirements: list[str]) -> list[str]:
    """Declare each requirement the project lacks; returns the ones added."""
    import tomlkit

    pyproject = ws.read("pyproject.toml")
    doc = tomlkit.parse(pyproject) if pyproject is not None else None
    declared = _pyproject_names(doc) if doc is not None else set()
    requirements_txt = ws.read("requirements.txt")
    if requirements_txt is not None:
        declared |= _requirements_names(requirements_txt)
    missing = []
    for requirement in requirements:
        name = requirement_name(requirement)
        if name and name not in declared:
            missing.append(requirement)
            declared.add(name)
    if not missing:
        return []

    if doc is not None and isinstance(doc.get("project", {}).get("dependencies"), list):
        for requirement in missing:
            doc["project"]["dependencies"].append(requirement)
        ws.write("pyproject.toml", tomlkit.dumps(doc))
    elif doc is not None and "dependencies" in doc.get("tool", {}).get("poetry", {}):
        table = doc["tool"]["poetry"]["dependencies"]
        for requirement in missing:
            name = _NAME.match(requirement).group(1)
            table[name] = requirement[len(name):].strip() or "*"
        ws.write("pyproject.toml", tomlkit.dumps(doc))
    elif (
        requirements_txt is not None
        or doc is None
        or "project" not in doc
        or "dependencies" in doc["project"].get("dynamic", [])  # the build reads them from elsewhere
    ):
        text = requirements_txt or ""
        if text and not text.endswith("\n"):
            text += "\n"
        ws.write("requirements.txt", text + "".join(f"{r}\n" for r in missing))
    else:
        doc["project"]["dependencies"] = missing
        ws.write("pyproject.toml", tomlkit.dumps(doc))
    return missing

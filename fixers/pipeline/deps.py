"""Adding the packages a fix needs to the scanned project's declared dependencies.

pyproject.toml is edited with tomlkit (the user's formatting and comments stay); otherwise
requirements.txt gets a line. A package already declared anywhere is left alone.

A new requirement is written in the file's own style: pinned `pkg==X.Y.Z` where the file pins
its requirements with `==` (the version the project's own virtualenv has, else the one installed
next to prodready, else the fix's minimum), `pkg~=X.Y` where it uses `~=`, the fix's minimum
(`pkg>=X`) otherwise; and at its alphabetical place when the list is sorted.
"""

from __future__ import annotations

import re
from collections import Counter
from importlib import metadata
from pathlib import Path

from fixers.pipeline.workspace import Workspace

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_OPERATOR = re.compile(r"^\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*(===|==|~=|>=|<=|!=|<|>)")
_FLOOR = re.compile(r">=\s*([0-9][0-9A-Za-z.]*)")


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


# -- the file's own style ----------------------------------------------------------------------


def pin_style(requirements: list[str]) -> str:
    """How a list of requirement strings pins: "==", "~=" or ">=" (the most common operator of
    the first clause; bare names count as ">=", a fix's minimum being kept)."""
    operators = Counter()
    for requirement in requirements:
        match = _OPERATOR.match(requirement)
        operator = match.group(1) if match else ">="
        operators["==" if operator == "===" else operator if operator in {"==", "~="} else ">="] += 1
    if not operators:
        return ">="
    return max(("==", "~=", ">="), key=lambda op: (operators[op], op == ">="))


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def _venv_versions(root: Path) -> dict[str, str]:
    """Distribution name (normalized) -> version in the project's own virtualenv."""
    found: dict[str, str] = {}
    for venv in (".venv", "venv", "env"):
        for info in (root / venv).glob("lib/python3*/site-packages/*.dist-info"):
            name, _, version = info.name[: -len(".dist-info")].rpartition("-")
            if name and version:
                found.setdefault(normalize(name), version)
    return found


def installed_version(root: Path, name: str, floor: str | None) -> str:
    """The version to pin: the project's virtualenv's, else prodready's own environment's (when
    it is at least the fix's minimum), else the minimum itself."""
    minimum = _release(floor) if floor else ()
    candidates = [_venv_versions(root).get(normalize(name))]
    try:
        candidates.append(metadata.version(name))
    except metadata.PackageNotFoundError:
        pass
    for version in candidates:
        if version and re.fullmatch(r"\d+(\.\d+)*", version) and _release(version) >= minimum:
            return version
    release = list(minimum or (0,))
    return ".".join(str(part) for part in (release + [0, 0])[:3])


def styled(requirement: str, style: str, root: Path) -> str:
    """The fix's requirement ("slowapi>=0.1.9") written in the file's style."""
    name = _NAME.match(requirement).group(1)
    floor = _FLOOR.search(requirement)
    if style == "==":
        return f"{name}=={installed_version(root, name, floor.group(1) if floor else None)}"
    if style == "~=":
        version = installed_version(root, name, floor.group(1) if floor else None)
        return f"{name}~={'.'.join(version.split('.')[:2])}"
    return requirement


def is_sorted(names: list[str]) -> bool:
    keys = [normalize(n) for n in names]
    return len(keys) > 2 and keys == sorted(keys)  # two names in order may be chance


def _requirements_lines(text: str, missing: list[str]) -> str:
    """requirements.txt with the new lines: at their alphabetical place when the file's
    requirements are sorted (comments stay where they are), else at the end."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entries = [(i, requirement_name(line)) for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith(("#", "-"))]
    entries = [(i, n) for i, n in entries if n]
    if not is_sorted([n for _, n in entries]):
        return "".join(lines) + "".join(f"{r}\n" for r in missing)
    for requirement in sorted(missing, key=lambda r: requirement_name(r) or "", reverse=True):
        name = requirement_name(requirement) or ""
        after = [i for i, n in entries if n < name]
        at = after[-1] + 1 if after else entries[0][0]
        lines.insert(at, f"{requirement}\n")
        entries = [(i + (i >= at), n) for i, n in entries]
    return "".join(lines)


def _append_sorted(array, requirements: list[str]) -> None:
    """Add to a tomlkit array of requirement strings, in order when it is sorted."""
    names = [requirement_name(str(item)) or "" for item in array]
    if not is_sorted(names):
        for requirement in requirements:
            array.append(requirement)
        return
    for requirement in requirements:
        name = requirement_name(requirement) or ""
        names = [requirement_name(str(item)) or "" for item in array]
        at = next((i for i, n in enumerate(names) if n > name), len(names))
        if at == len(names):
            array.append(requirement)
        else:
            array.insert(at, requirement)


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
        dependencies = doc["project"]["dependencies"]
        style = pin_style([str(r) for r in dependencies])
        missing = [styled(r, style, ws.root) for r in missing]
        _append_sorted(dependencies, missing)
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
        listed = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        style = pin_style([line for line in listed if line and not line.startswith("-")])
        missing = [styled(r, style, ws.root) for r in missing]
        ws.write("requirements.txt", _requirements_lines(text, missing))
    else:
        doc["project"]["dependencies"] = missing
        ws.write("pyproject.toml", tomlkit.dumps(doc))
    return missing

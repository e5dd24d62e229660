"""Write the wizard's answers into `[tool.prodready]`, keeping the user's formatting.

The answers:
- "not a problem" for a rule in one file (`per-file-ignores`) or everywhere (`ignore`); for one
  line the wizard writes a `# prodready: ignore[...]` comment instead (auditor/tui/suppressions.py);
- "this route is public by design": the method and path join `public-routes` ("GET /health").

tomlkit edits the parsed document in place, so comments, key order and quoting elsewhere in
the file stay as the user wrote them. Nothing is written until `ConfigEdit.write()`: the wizard
shows `ConfigEdit.diff()` first.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit
from tomlkit.items import Array, Table


class ConfigWriteError(Exception):
    """The answers cannot be written (unreadable TOML, file changed meanwhile): one clear line."""


@dataclass
class Answers:
    """What the user said about findings, before it is written anywhere."""

    ignores: dict[str, list[str]] = field(default_factory=dict)  # relpath -> rule codes
    public_routes: list[str] = field(default_factory=list)  # "GET /path" entries
    everywhere: list[str] = field(default_factory=list)  # rule codes ignored in every file

    def ignore_everywhere(self, code: str) -> None:
        if code not in self.everywhere:
            self.everywhere.append(code)

    def ignore(self, relpath: str, code: str) -> None:
        codes = self.ignores.setdefault(relpath, [])
        if code not in codes:
            codes.append(code)

    def unignore(self, relpath: str, code: str) -> None:
        codes = self.ignores.get(relpath, [])
        if code in codes:
            codes.remove(code)
        if not codes:
            self.ignores.pop(relpath, None)

    def make_public(self, route: str) -> None:
        if route not in self.public_routes:
            self.public_routes.append(route)

    def unmake_public(self, route: str) -> None:
        if route in self.public_routes:
            self.public_routes.remove(route)

    @property
    def is_empty(self) -> bool:
        return not self.ignores and not self.public_routes and not self.everywhere


@dataclass
class ConfigEdit:
    path: Path
    before: str  # "" when the file does not exist yet
    after: str
    label: str  # the path as shown in diffs, relative to the project root when inside it

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.label}" if self.before else "/dev/null",
                tofile=f"b/{self.label}",
            )
        )

    def write(self) -> None:
        """Write `after`, refusing if the file changed since `before` was read."""
        current = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        if current != self.before:
            raise ConfigWriteError(f"{self.label} changed since the answers were prepared; rescan and try again")
        try:
            self.path.write_text(self.after, encoding="utf-8")
        except OSError as exc:
            raise ConfigWriteError(f"cannot write {self.label}: {exc.strerror}") from None


def config_target(root: Path, config_path: Path | None) -> Path:
    """The file the answers go to: the config already in use, else the project's pyproject.toml."""
    return config_path if config_path is not None else root / "pyproject.toml"


def plan_answers(
    root: Path, config_path: Path | None, answers: Answers, planned: dict[str, str] | None = None
) -> ConfigEdit | None:
    """The edit that records `answers`, or None when there is nothing new to record.

    `planned` maps relpaths to their text after a fix plan (which may add dependencies to the
    same pyproject.toml): the answers then go on top of that text, so one diff shows both.
    """
    if answers.is_empty:
        return None
    path = config_target(root, config_path)
    try:
        label = path.relative_to(root).as_posix()
    except ValueError:
        label = str(path)
    before = path.read_text(encoding="utf-8") if path.exists() else ""
    base = (planned or {}).get(label, before)
    after = with_answers(base, answers, own_file=path.name == "prodready.toml")
    if after == base:
        return None
    return ConfigEdit(path, before, after, label)


def with_answers(text: str, answers: Answers, *, own_file: bool = False) -> str:
    """`text` (a pyproject.toml, or a prodready.toml when `own_file`) with the answers added."""
    try:
        document = tomlkit.parse(text)
    except Exception as exc:  # tomlkit's ParseError subclasses
        raise ConfigWriteError(f"the config file is not valid TOML: {exc}") from None
    table = document if own_file else _prodready_table(document)
    if answers.everywhere:
        _extend_array(table, "ignore", answers.everywhere)
    if answers.public_routes:
        _extend_array(table, "public-routes", answers.public_routes)
    if answers.ignores:
        ignores = table.get("per-file-ignores")
        if ignores is None:
            ignores = tomlkit.table()
            table.add("per-file-ignores", ignores)
        for relpath, codes in sorted(answers.ignores.items()):
            _extend_array(ignores, relpath, codes)
    return tomlkit.dumps(document)


def _prodready_table(document: tomlkit.TOMLDocument) -> Table:
    tool = document.get("tool")
    if tool is None:
        if document.body and not tomlkit.dumps(document).endswith("\n\n"):
            document.add(tomlkit.nl())
        tool = tomlkit.table(is_super_table=True)
        document.add("tool", tool)
    table = tool.get("prodready")
    if table is None:
        table = tomlkit.table()
        tool.add("prodready", table)
    return table


def _extend_array(table, key: str, values: list[str]) -> None:
    current = table.get(key)
    if current is None:
        table[key] = tomlkit.item(list(values))
        return
    if not isinstance(current, (Array, list)):
        raise ConfigWriteError(f"[tool.prodready] {key} should be a list")
    for value in values:
        if value not in current:
            current.append(value)

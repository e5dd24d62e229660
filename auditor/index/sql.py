"""Tables, columns and indexes from SQL DDL (schema files and DDL strings in code).

A deliberately small reader: CREATE TABLE column lines, inline REFERENCES/UNIQUE/PRIMARY KEY,
table-level FOREIGN KEY/UNIQUE constraints, and CREATE [UNIQUE] INDEX ... ON t (cols).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from auditor.index.facts import Column, Span

CREATE_TABLE = re.compile(
    r"create\s+table\s+(?:if\s+not\s+exists\s+)?[\"`\[]?(\w+)[\"`\]]?\s*\((.*?)\)\s*;", re.I | re.S
)
CREATE_INDEX = re.compile(
    r"create\s+(unique\s+)?index\s+(?:if\s+not\s+exists\s+)?\w*\s*on\s+[\"`]?(\w+)[\"`]?\s*\(([^)]*)\)", re.I
)
CONSTRAINT_WORDS = ("primary key", "foreign key", "unique", "constraint", "check", "index", "key ")


@dataclass
class SqlTable:
    name: str
    path: str
    span: Span
    columns: list[Column] = field(default_factory=list)
    indexed: list[list[str]] = field(default_factory=list)
    unique_sets: list[list[str]] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)  # from a table-level PRIMARY KEY (...)


def _split_top_level(body: str) -> list[str]:
    parts, depth, current = [], 0, []
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _cols(text: str) -> list[str]:
    return [c.strip().strip('"`[]').split()[0] for c in text.split(",") if c.strip()]


def parse_sql(text: str, path: str, base_line: int = 1) -> list[SqlTable]:
    text_no_comments = re.sub(r"--[^\n]*", lambda m: " " * len(m.group(0)), text)
    tables: dict[str, SqlTable] = {}
    for match in CREATE_TABLE.finditer(text_no_comments):
        name, body = match.group(1), match.group(2)
        start_line = base_line + text_no_comments.count("\n", 0, match.start())
        end_line = base_line + text_no_comments.count("\n", 0, match.end())
        table = SqlTable(name, path, Span(start_line, 0, end_line))
        offset = match.start(2)
        for part in _split_top_level(body):
            lower = part.lower()
            line = base_line + text_no_comments.count("\n", 0, text_no_comments.find(part, offset))
            if lower.startswith(CONSTRAINT_WORDS):
                inner = re.search(r"\(([^)]*)\)", part)
                cols = _cols(inner.group(1)) if inner else []
                if "foreign key" in lower:
                    ref = re.search(r"references\s+[\"`]?(\w+)[\"`]?\s*\(([^)]*)\)", part, re.I)
                    for column in table.columns:
                        if cols and column.name == cols[0] and ref:
                            column.foreign_key = f"{ref.group(1)}.{_cols(ref.group(2))[0]}"
                elif "primary key" in lower:
                    table.indexed.append(cols)
                    table.primary_key = cols
                    for column in table.columns:
                        if column.name in cols and len(cols) == 1:
                            column.primary_key = True
                elif "unique" in lower:
                    table.unique_sets.append(cols)
                    table.indexed.append(cols)
                continue
            words = part.split()
            if len(words) < 2:
                continue
            column = Column(name=words[0].strip('"`[]'), type=words[1], span=Span(line, 0, line))
            if "with time zone" in lower and "without time zone" not in lower:
                column.type = "TIMESTAMPTZ"
            column.primary_key = "primary key" in lower
            column.unique = " unique" in lower
            column.nullable = False if ("not null" in lower or column.primary_key) else None
            ref = re.search(r"references\s+[\"`]?(\w+)[\"`]?\s*(?:\(([^)]*)\))?", part, re.I)
            if ref:
                column.foreign_key = f"{ref.group(1)}.{_cols(ref.group(2))[0] if ref.group(2) else 'id'}"
            default = re.search(r"default\s+(\S+)", part, re.I)
            column.default = default.group(1) if default else None
            table.columns.append(column)
            offset = text_no_comments.find(part, offset) + len(part)
        tables[name.lower()] = table
    for match in CREATE_INDEX.finditer(text_no_comments):
        table = tables.get(match.group(2).lower())
        cols = _cols(match.group(3))
        if table is not None:
            table.indexed.append(cols)
            if match.group(1):
                table.unique_sets.append(cols)
        else:  # an index on a table defined elsewhere: keep it as a bare record
            tables.setdefault(
                "__index__" + match.group(2).lower(),
                SqlTable(match.group(2), path, Span(1, 0, 1), indexed=[cols], unique_sets=[cols] if match.group(1) else []),
            )
    return list(tables.values())

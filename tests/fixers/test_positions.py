"""Positions worked out one top-level statement at a time are libcst's own, node for node."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from fixers.positions import Positions

DEMO = Path(__file__).resolve().parents[2] / "templates" / "demo_app"

TRICKY = {
    "header comments and decorators": (
        "#!/usr/bin/env python\n# a comment\n\n\"\"\"Doc.\"\"\"\nimport os\n\n\n"
        "@app.get('/x')\n@limit(\n    '5/minute'\n)\nasync def x(a: int = 1):\n    # inside\n    return {'a': [a,\n        2]}\n"
        "\n\nclass C:\n    '''doc'''\n\n    def f(self): return 1  # trailing\n\n    # before g\n    def g(self):\n        pass\n"
        "\n# footer comment\n"
    ),
    "windows newlines": "import os\r\n\r\ndef f():\r\n    x = 1\r\n    return x\r\n\r\nY = f()\r\n",
    "no trailing newline": "a = 1\nif a:\n    b = (a +\n         2)\nc = 'end'",
    "tabs and semicolons": "def f():\n\tx = 1; y = 2\n\tif x:\n\t\treturn y\n\nz = f()\n",
    "continued lines": "total = 1 + \\\n    2\ns = '''many\nlines'''\nt = [\n    s,\n]\n",
}


def _modules():
    for name, source in TRICKY.items():
        yield name, source
    for path in sorted(DEMO.rglob("*.py")):
        yield str(path.relative_to(DEMO)), path.read_text()


@pytest.mark.parametrize("name,source", list(_modules()), ids=[n for n, _ in _modules()])
def test_each_statement_alone_gives_libcsts_ranges(name, source):
    module = cst.parse_module(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    positions = Positions(module)
    for index in reversed(range(len(module.body))):  # out of order on purpose: each stands alone
        positions._statement(index)
    in_statements = dict(positions.ranges)
    for node, where in in_statements.items():
        assert where == expected[node], (name, type(node).__name__)
    # The rest (the module, its header and footer comments) come from the whole module.
    rest = [node for node in expected if node not in in_statements]
    assert all(positions.of(node) == expected[node] for node in rest)
    assert len(rest) < 20 and (in_statements or not module.body)


def test_statement_lines_and_nodes_outside_any_statement():
    source = TRICKY["header comments and decorators"]
    module = cst.parse_module(source)
    positions = Positions(module)
    lines = source.splitlines()
    first, last = positions.lines_of(2)  # the decorated function, from the blank lines above it
    assert lines[first - 1] == "" and lines[last - 1] == "        2]}"
    assert "async def x" in "\n".join(lines[first - 1 : last])
    # The module itself is outside every statement: asking for it works out the whole module.
    assert positions.of(module).start.line == 1
    with pytest.raises(KeyError):
        positions.of(cst.Name("elsewhere"))

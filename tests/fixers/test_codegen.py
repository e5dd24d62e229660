"""Code generated from cached statement code is libcst's own, byte for byte."""

from __future__ import annotations

import libcst as cst
import pytest

from fixers.codegen import code_for, module_code
from tests.fixers.test_positions import TRICKY, _modules

EXTRA = {
    "empty": "",
    "only a newline": "\n",
    "only comments": "# one\n\n# two\n",
    "two-space indent": "def f():\n  if True:\n    return 1\n",
}


@pytest.mark.parametrize("name,source", [*_modules(), *EXTRA.items()], ids=[n for n, _ in [*_modules(), *EXTRA.items()]])
def test_module_code_is_libcsts_code(name, source):
    module = cst.parse_module(source)
    assert module_code(module) == module.code == source


def test_a_transformed_module_reuses_the_code_of_statements_it_kept():
    module = cst.parse_module(TRICKY["header comments and decorators"])
    kept = module.body[2]
    code_for(kept, module)
    changed = module.with_changes(body=[cst.parse_statement("import sys\n"), *module.body[1:]])
    assert changed.body[1] is module.body[1]  # libcst shares the statements a change did not touch
    assert module_code(changed) == changed.code
    # A node with the same id but another object is not taken for the cached one.
    assert code_for(cst.parse_statement("x = 1\n")) == "x = 1\n"


@pytest.mark.parametrize("source", [
    "import os\n",
    "\n\n# c\nimport os  # x\n",
    "# a\n# b\nfrom m import (\n    a,\n    b,\n)\n",
    "# a\r# b\rimport x\r",
    "# a\r\n\r\nimport y\r\n",
    "# before\ndef f():\n    pass\n",
])
def test_an_import_lines_key_is_its_code_without_leading_lines(source):
    from fixers.cst import _key

    statement = cst.parse_module(source).body[0]
    assert _key(statement) == code_for(statement.with_changes(leading_lines=[])).strip()

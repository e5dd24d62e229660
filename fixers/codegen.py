"""The code of libcst nodes, generated once per node.

libcst trees are immutable, and a codemod that changes one function hands back a module whose
other statements are the very same node objects. Their code is kept here, so generating a
module's code after a codemod costs only what changed (planning a project's fixes generated the
code of every module a hundred times).
"""

from __future__ import annotations

from collections import OrderedDict

import libcst as cst

# (id of the node, indentation, newline) -> (the node, kept alive so its id is not reused; its code)
_CODE: OrderedDict[tuple[int, str, str], tuple[cst.CSTNode, str]] = OrderedDict()
_LIMIT = 50_000
_PLAIN = cst.Module([])


def code_for(node: cst.CSTNode, module: cst.Module = _PLAIN) -> str:
    """`module.code_for_node(node)`, from the cache when this node's code was generated before."""
    key = (id(node), module.default_indent, module.default_newline)
    found = _CODE.get(key)
    if found is not None and found[0] is node:
        return found[1]
    code = module.code_for_node(node)
    _CODE[key] = (node, code)
    if len(_CODE) > _LIMIT:
        _CODE.popitem(last=False)
    return code


def module_code(module: cst.Module) -> str:
    """`module.code`, built from the code of its header lines, statements and footer (libcst's
    Module codegen: the same parts in the same order, then the trailing newline rule)."""
    if not module.has_trailing_newline:
        return module.code  # (drops the last newline token: rare, left to libcst)
    code = "".join(code_for(node, module) for node in (*module.header, *module.body, *module.footer))
    return code or module.default_newline

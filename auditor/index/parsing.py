"""Parse a module with the running Python's `ast`, falling back to a newer grammar when it refuses.

A project may be written for a newer Python than the one prodready runs on: `except A, B:`
(3.14), f-strings reusing their own quotes or holding a backslash (3.12), `type X = ...` and
`def f[T]()` (3.12), t-strings (3.14). Reading such a file as "unparsable" hides what it
defines, e.g. the login dependency of every route.

The fallback is libcst's native parser, chosen over tree-sitter-python and parso because it
is already a dependency (the fixers use it), knows the grammar up to 3.14, and gives a
concrete tree we can turn back into source: the few newer constructs are rewritten into their
3.11 equivalents on the same lines, and the result goes through `ast.parse` again. The rules
and the index then see an ordinary `ast` tree whose line numbers are those of the file.
tree-sitter-python and parso would be new dependencies, each with a tree of its own that
would need a converter to `ast` for every node type.

Cost: only files that `ast` rejects for a reason newer grammar may explain pay for it (a
Python 2 file or a typo does not even import libcst). Reading and rewriting with libcst takes
about 25 times as long as `ast.parse` (0.4 s for a 1,600-line module on a busy 2-core machine);
the result is cached with the rest of the file's analysis.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass

# libcst's native parser reads every grammar it knows whatever `python_version` says (the
# option only steers its retired pure-Python parser): 3.12 from libcst 1.1, 3.14's `except A, B`
# and t-strings from 1.8.3.
NEWEST_GRAMMAR = "3.14"
EXCEPT_STAR = sys.version_info >= (3, 11)  # prodready itself may run on 3.10, which has no except*


@dataclass
class Parsed:
    tree: ast.Module
    source: str  # the text the tree comes from: the file's, or its rewrite (same lines)
    grammar: str | None = None  # None: read by the running Python; else the newer grammar used


def parse_module(source: str, filename: str = "<unknown>") -> Parsed:
    """The module's `ast` tree, reading newer grammar when needed.

    Raises the running Python's SyntaxError when no grammar reads the file (that error names
    the first offending line, which is what the user needs to see)."""
    try:
        return Parsed(ast.parse(source, filename=filename), source)
    except SyntaxError as error:
        first = error
    if not newer_grammar_likely(first, source):
        raise first  # Python 2, a typo, a merge conflict: no grammar will read it
    rewritten = downgrade(source)
    if rewritten is None:
        raise first
    try:
        return Parsed(ast.parse(rewritten, filename=filename), rewritten, NEWEST_GRAMMAR)
    except (SyntaxError, ValueError):
        raise first from None


# On the lines around a SyntaxError: an f- or t-string, `type X =`, `def f[T]`, `class C[T]`, `except`.
NEWER_HINT = re.compile(
    r"""\b(?:[fFtT][rR]?|[rR][fFtT])['"]|^\s*type\s+\w+\s*[=\[]|\b(?:def|class)\s+\w+\s*\[|^\s*except\b""",
    re.M,
)


def newer_grammar_likely(error: SyntaxError, source: str) -> bool:
    """Whether the error may come from grammar newer than the running Python's.

    Keeps the fallback (and the import of libcst) off files that are simply broken."""
    message = error.msg or ""
    if message.startswith("f-string") or "must be parenthesized" in message:
        return True
    if not error.lineno:
        return False
    lines = source.splitlines()[max(0, error.lineno - 3) : error.lineno]
    return NEWER_HINT.search("\n".join(lines)) is not None


def parse_tree(source: str, filename: str = "<unknown>") -> ast.Module:
    return parse_module(source, filename).tree


def downgrade(source: str) -> str | None:
    """`source` with newer-than-3.11 constructs rewritten to 3.11 ones on the same lines,
    or None when libcst cannot read it either (or a rewrite would move a line)."""
    try:
        import libcst as cst
    except ImportError:  # pragma: no cover - libcst is a dependency
        return None
    try:
        module = cst.parse_module(source)
        text = module.visit(_downgrader()).code
    except Exception:  # libcst's ParserSyntaxError, or a construct the rewrite cannot express
        return None
    if text.count("\n") != source.count("\n"):
        return None
    return text


_DOWNGRADER = None


def _downgrader():
    """The transformer class, built on first use so importing this module does not import libcst."""
    global _DOWNGRADER
    if _DOWNGRADER is None:
        _DOWNGRADER = _build_downgrader()
    return _DOWNGRADER()


def _valid_311(code: str) -> bool:
    try:
        ast.parse(f"(\n{code}\n)", mode="eval")
        return True
    except (SyntaxError, ValueError):
        return False


def _build_downgrader():
    import libcst as cst

    empty = cst.Module(body=[])

    def code_of(node: cst.CSTNode) -> str:
        return empty.code_for_node(node)

    class Requote(cst.CSTTransformer):
        """Inside an f-string's fields: string literals in the f-string's own quote take the other one."""

        def __init__(self, outer: str) -> None:
            super().__init__()
            self.outer = outer
            self.other = "'" if outer == '"' else '"'

        def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.SimpleString:
            quote = updated.quote
            if quote[0] != self.outer:
                return updated
            body = updated.value[len(updated.prefix) + len(quote) : -len(quote)]
            if self.other in body or "\\" in body:
                raise ValueError("cannot requote")
            new_quote = self.other * len(quote)
            return updated.with_changes(value=f"{updated.prefix}{new_quote}{body}{new_quote}")

    def requoted(node: cst.FormattedString) -> cst.FormattedString | None:
        transformer = Requote(node.quote[0])

        def fix(parts):
            out = []
            for part in parts:
                if isinstance(part, cst.FormattedStringExpression):
                    part = part.with_changes(
                        expression=part.expression.visit(transformer),
                        format_spec=fix(part.format_spec) if part.format_spec else part.format_spec,
                    )
                out.append(part)
            return out

        try:
            candidate = node.with_changes(parts=fix(node.parts))
        except ValueError:
            return None
        return candidate if _valid_311(code_of(candidate)) else None

    def format_call(node: cst.FormattedString) -> cst.BaseExpression:
        """f"a{x!r:>{w}}" -> "a{!r:>{}}".format((x), (w)): every field becomes an ordinary argument,
        free of the quoting limits 3.11 puts on f-string fields. Lines are kept: the fields' own
        line breaks travel with them and the ones dropped around them close the call."""
        template: list[str] = []
        args: list[str] = []

        def add(parts) -> None:
            for part in parts:
                if isinstance(part, cst.FormattedStringText):
                    template.append(part.value)
                    continue
                expression = code_of(part.expression)
                if part.equal is not None:  # f"{x=}": the text, then the value's repr
                    said = code_of(part.whitespace_before_expression) + expression + code_of(part.whitespace_after_expression)
                    template.append(said.replace("{", "{{").replace("}", "}}").replace("\n", " ") + "=")
                args.append(f"({expression})")
                conversion = part.conversion or ("r" if part.equal is not None and not part.format_spec else None)
                template.append("{" + (f"!{conversion}" if conversion else ""))
                if part.format_spec:
                    template.append(":")
                    add(part.format_spec)
                template.append("}")

        add(node.parts)
        prefix = "".join(c for c in node.prefix if c not in "fF")
        quote = node.quote
        call = f"{prefix}{quote}{''.join(template)}{quote}.format({', '.join(args)})"
        missing = code_of(node).count("\n") - call.count("\n")
        if missing > 0:
            call = call[:-1] + "\n" * missing + ")"
        expression = cst.parse_expression(call)
        return expression.with_changes(lpar=node.lpar, rpar=node.rpar)

    class Downgrade(cst.CSTTransformer):
        def leave_ExceptHandler(self, original, updated):
            return _parenthesize_type(updated)

        def leave_ExceptStarHandler(self, original, updated):
            return _parenthesize_type(updated)

        def leave_TryStar(self, original, updated):  # on 3.10: try/except* read as try/except
            if EXCEPT_STAR:
                return updated
            handlers = [
                cst.ExceptHandler(
                    body=h.body, type=h.type, name=h.name, leading_lines=h.leading_lines,
                    whitespace_after_except=cst.SimpleWhitespace(" "), whitespace_before_colon=h.whitespace_before_colon,
                )
                for h in updated.handlers
            ]  # fmt: skip
            return cst.Try(
                body=updated.body, handlers=handlers, orelse=updated.orelse, finalbody=updated.finalbody,
                leading_lines=updated.leading_lines, whitespace_before_colon=updated.whitespace_before_colon,
            )  # fmt: skip

        def leave_TypeAlias(self, original, updated):  # type X[T] = int | str  ->  X = int | str
            return cst.Assign(targets=[cst.AssignTarget(target=updated.name)], value=updated.value, semicolon=updated.semicolon)

        def leave_FunctionDef(self, original, updated):  # def f[T](x: T)  ->  def f(x: T)
            if updated.type_parameters is None:
                return updated
            return updated.with_changes(type_parameters=None, whitespace_after_type_parameters=cst.SimpleWhitespace(""))

        def leave_ClassDef(self, original, updated):
            if updated.type_parameters is None:
                return updated
            return updated.with_changes(type_parameters=None, whitespace_after_type_parameters=cst.SimpleWhitespace(""))

        def leave_FormattedString(self, original, updated):
            if _valid_311(code_of(updated)):
                return updated
            return requoted(updated) or format_call(updated)

        def leave_TemplatedString(self, original, updated):
            # t"..." (3.14) reads as the f-string it is written like; its fields are the same.
            code = code_of(updated)
            start = updated.start
            as_f = start.replace("t", "f").replace("T", "F") + code[len(start) :]
            return self.leave_FormattedString(original, cst.parse_expression(as_f))

        def leave_ConcatenatedString(self, original, updated):
            # A part turned into a .format() call can no longer be implicitly concatenated.
            if isinstance(updated.left, cst.BaseString) and isinstance(updated.right, cst.BaseString):
                return updated
            return cst.BinaryOperation(
                left=updated.left,
                operator=cst.Add(whitespace_before=updated.whitespace_between),
                right=updated.right,
                lpar=updated.lpar or [cst.LeftParen()],
                rpar=updated.rpar or [cst.RightParen()],
            )

    def _parenthesize_type(handler):  # except A, B:  ->  except (A, B):
        kind = handler.type
        if isinstance(kind, cst.Tuple) and not kind.lpar:
            return handler.with_changes(type=kind.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()]))
        return handler

    return Downgrade

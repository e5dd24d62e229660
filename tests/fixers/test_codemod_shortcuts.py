"""The shortcuts that make planning fast change nothing in what is planned.

Codemods skip top-level statements no finding points into, work out positions one statement
at a time, reuse a transformed tree as the parse of its code, and find their visit methods once
per class. The plan of every fix on the demo app must be the same with all of that switched off.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import libcst as cst
from libcst.codemod import CodemodContext

import fixers.cst as fixers_cst
from auditor.engine import scan
from fixers import plan_fixes
from fixers.cst import FixCommand
from fixers.cst_dispatch import QuickTransformer
from fixers.rewrite import FunctionRewrite

DEMO_APP = Path(__file__).resolve().parents[2] / "templates" / "demo_app"


def _plan(root):
    plan = plan_fixes(scan(str(root)), include_review=True)
    return (
        {e.relpath: e.new for e in plan.edits},
        sorted(f"{p.finding.rule} {p.finding.location}" for p in plan.fixes),
        sorted(f"{f.rule} {f.location}: {reason}" for f, reason in plan.skipped),
    )


def test_plan_is_the_same_without_the_shortcuts(tmp_path, monkeypatch):
    app = tmp_path / "app"
    shutil.copytree(DEMO_APP, app)
    fast = _plan(app)

    fixers_cst._PARSED.clear()
    fixers_cst._POSITIONS.clear()
    monkeypatch.setattr(FixCommand, "walks", lambda self, statement: True)
    monkeypatch.setattr(FixCommand, "untargeted", lambda self, node: False)
    monkeypatch.setattr(fixers_cst, "remember_parse", lambda source, module: None)
    for name in ("on_visit", "on_leave"):
        monkeypatch.setattr(QuickTransformer, name, getattr(cst.CSTTransformer, name))
    classes = [QuickTransformer]
    while classes:  # libcst's lookups by name on every node and field again
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        for name in ("on_visit_attribute", "on_leave_attribute"):
            monkeypatch.setattr(cls, name, getattr(cst.CSTTransformer, name))
    slow = _plan(app)

    assert fast == slow
    assert len(fast[1]) > 50  # the demo has plenty to fix: the comparison means something


def _rewrite(source: str, qualname: str) -> str:
    module = cst.parse_module(textwrap.dedent(source))
    renamed = lambda function: function.with_changes(name=cst.Name(function.name.value + "_checked"))  # noqa: E731
    command = FunctionRewrite(CodemodContext(), [], edits={qualname: ([], renamed)})
    return command.transform_module(module).code


def test_function_rewrite_reaches_functions_under_if_and_in_classes():
    source = """
        import typing

        if typing.TYPE_CHECKING:
            pass
        else:
            def hidden(): return 1

        class Api:
            def get(self): return 2

        def other(): return 3
    """
    assert "def hidden_checked(): return 1" in _rewrite(source, "hidden")
    rewritten = _rewrite(source, "Api.get")
    assert "def get_checked(self): return 2" in rewritten and "def other(): return 3" in rewritten


def test_quick_visitors_call_field_methods_and_leave_methods_as_libcst_does():
    from fixers.cst_dispatch import QuickVisitor

    calls: list[str] = []

    class Plain(QuickVisitor):
        def visit_FunctionDef(self, node):
            calls.append(f"visit {node.name.value}")
            return False  # not into its body

        def leave_FunctionDef(self, node):
            calls.append(f"leave {node.name.value}")

        def visit_Name(self, node):
            calls.append(f"name {node.value}")

    class WithFields(Plain):  # a subclass of a class without field methods that has one
        def visit_FunctionDef_body(self, node):
            calls.append(f"body of {node.name.value}")

    module = cst.parse_module("def f():\n    inner = 1\n\nx = y\n")
    module.visit(Plain())
    assert calls == ["visit f", "leave f", "name x", "name y"]
    calls.clear()
    module.visit(WithFields())
    assert calls == ["visit f", "leave f", "name x", "name y"]  # the body is not visited: no field call
    calls.clear()

    class Into(WithFields):
        def visit_FunctionDef(self, node):
            calls.append(f"visit {node.name.value}")

    module.visit(Into())
    assert calls == ["visit f", "name f", "body of f", "name inner", "leave f", "name x", "name y"]


def test_two_plans_asked_at_once_are_made_one_after_the_other(tmp_path, monkeypatch):
    """The wizard may ask for a preview and the review in two threads: they share the codemods'
    caches, so the second plan waits for the first instead of running beside it."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import fixers.pipeline.plan as planning

    app = tmp_path / "app"
    shutil.copytree(DEMO_APP, app)
    result = scan(str(app))
    inside, overlaps = [], []
    run_round = planning.run_round

    def watched(*args, **kwargs):
        inside.append(threading.get_ident())
        if len(inside) > 1:
            overlaps.append(list(inside))
        time.sleep(0.05)  # room for the other thread to come in, if nothing keeps it out
        try:
            return run_round(*args, **kwargs)
        finally:
            inside.remove(threading.get_ident())

    monkeypatch.setattr(planning, "run_round", watched)
    with ThreadPoolExecutor(max_workers=2) as pool:
        plans = list(pool.map(lambda _: planning.plan_fixes(result, include_review=True), range(2)))
    assert overlaps == []
    assert all(plan.fixes for plan in plans)

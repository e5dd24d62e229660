"""New imports go where the module's own imports are, in its order: after the docstring and
`from __future__`, standard library, third party, then the project's own modules."""

from __future__ import annotations

import textwrap

import libcst as cst

from fixers import apply_plan, plan_fixes
from tests.fixers.helpers import finding
from tests.helpers import scan_project, write_project


def added(source: str, imports, relpath: str = "app/routers/orders.py", local=("app",)) -> str:
    from fixers.cst import add_imports_in_order

    source = textwrap.dedent(source).lstrip("\n")
    return add_imports_in_order(cst.parse_module(source), relpath, imports, local).code


ISORTED = '''
"""Order routes."""

from __future__ import annotations

import json
from datetime import datetime

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from app.database import get_db
from app.models import Order

router = APIRouter()
'''


def test_each_import_joins_its_section_in_alphabetical_order():
    code = added(ISORTED, [("logging", None), ("sqlalchemy", "text"), ("httpx", None), ("app.settings", "settings"), ("app.auth", "current_user")])
    assert code == textwrap.dedent(
        '''
        """Order routes."""

        from __future__ import annotations

        import json
        import logging
        from datetime import datetime

        import httpx
        from fastapi import APIRouter, Depends
        from sqlalchemy import text
        from sqlalchemy.orm import Session

        from app.auth import current_user
        from app.database import get_db
        from app.models import Order
        from app.settings import settings

        router = APIRouter()
        '''
    ).lstrip("\n")


def test_a_name_joins_an_existing_from_import_where_it_is():
    code = added(ISORTED, [("fastapi", "HTTPException")])
    assert "from fastapi import APIRouter, Depends, HTTPException\nfrom sqlalchemy.orm import Session\n" in code


def test_a_missing_section_is_created_between_its_neighbours():
    source = '''
        """Payments."""
        import requests

        from .config import PAYMENT_URL


        def charge():
            return requests.post(PAYMENT_URL)
    '''
    code = added(source, [("logging", None), ("app.settings", "settings")], relpath="app/payments.py")
    # The project's absolute imports come before the relative ones, as isort and ruff order them.
    assert code.startswith('"""Payments."""\nimport logging\n\nimport requests\n\nfrom app.settings import settings\n\nfrom .config import PAYMENT_URL\n\n\ndef charge')


def test_an_unsorted_section_gets_the_import_at_its_end():
    source = """
        import sys
        import os

        from flask import Flask
    """
    assert added(source, [("logging", None)], relpath="app.py").startswith("import sys\nimport os\nimport logging\n\nfrom flask import Flask\n")


def test_a_file_without_blank_lines_between_sections_keeps_its_layout():
    source = """
        import os
        from flask import Flask
        from app.db import get_db
        app = Flask(__name__)
    """
    code = added(source, [("sqlalchemy", "text")])
    assert code.startswith("import os\nfrom flask import Flask\nfrom sqlalchemy import text\nfrom app.db import get_db\napp = Flask(__name__)\n")


def test_a_section_comment_stays_on_top_of_its_section():
    source = '''
        """The app."""

        # third party
        from fastapi import FastAPI

        app = FastAPI()
    '''
    code = added(source, [("contextlib", "asynccontextmanager"), ("anyio", None)], relpath="main.py")
    assert code == '"""The app."""\n\nfrom contextlib import asynccontextmanager\n\n# third party\nimport anyio\nfrom fastapi import FastAPI\n\napp = FastAPI()\n'


def test_a_codemod_places_its_import_in_the_stdlib_block(tmp_path):
    """Through a real fix (print -> logger): `import logging` lands with `import json`, not under
    the project's own imports, where libcst alone would put it."""
    root = write_project(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/models.py": "class Order:\n    id = 1\n",
            "app/main.py": (
                "import json\n\nfrom fastapi import FastAPI\n\nfrom app.models import Order\n\napp = FastAPI()\n\n\n"
                "@app.get('/orders')\ndef orders():\n    print('listing orders')\n    return json.loads('[]')\n"
            ),
        },
    )
    plan = plan_fixes(scan_project(root), [finding("PR502", "app/main.py", 12, 4)])
    assert plan.fixes, plan.skipped
    apply_plan(plan)
    text = (root / "app/main.py").read_text()
    assert text.startswith("import json\nimport logging\n\nfrom fastapi import FastAPI\n\nfrom app.models import Order\n\nlogger = logging.getLogger(__name__)\n")


def test_import_removals_settled_from_the_text_match_libcsts_visitor():
    """remove_imports_cheaply settles every scheduled removal without RemoveImportsVisitor's
    scope analysis of the whole module, with libcst's own result: unused names go (a line they
    empty goes too), names still mentioned stay, a removal scheduled twice is done once."""
    import libcst as cst
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import RemoveImportsVisitor

    from fixers.cst import remove_imports_cheaply

    source = (
        "import os\nimport sys, json\nfrom typing import Any, Optional\nfrom fastapi import Request\n\n"
        "# uses sys\nprint(sys.argv, Optional)\n"
    )
    entries = [("os", None, None), ("sys", None, None), ("json", None, None), ("typing", "Any", None),
               ("typing", "Optional", None), ("fastapi", "Request", None), ("os", None, None)]
    context = CodemodContext()
    for entry in entries:
        RemoveImportsVisitor.remove_unused_import(context, *entry)
    cheap = remove_imports_cheaply(context, cst.parse_module(source)).code
    assert context.scratch[RemoveImportsVisitor.CONTEXT_KEY] == []  # nothing left for the visitor
    reference = CodemodContext()
    for entry in entries:
        RemoveImportsVisitor.remove_unused_import(reference, *entry)
    assert cheap == RemoveImportsVisitor(reference).transform_module(cst.parse_module(source)).code
    assert cheap.startswith("import sys\nfrom typing import Optional\n\n# uses sys")
    # A mention in a string keeps the import (libcst would remove it; keeping it is harmless).
    context = CodemodContext()
    RemoveImportsVisitor.remove_unused_import(context, "fastapi", "Request")
    kept = remove_imports_cheaply(context, cst.parse_module("from fastapi import Request\nx = 'Request'\n")).code
    assert kept == "from fastapi import Request\nx = 'Request'\n"


def test_an_import_line_removed_whole_leaves_its_comment_to_the_next_statement():
    import libcst as cst
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import RemoveImportsVisitor

    from fixers.cst import remove_imports_cheaply

    source = "import os\n\n# the web part\nfrom fastapi import Request\nfrom fastapi import Depends\n\nx = Depends\n"
    context = CodemodContext()
    RemoveImportsVisitor.remove_unused_import(context, "fastapi", "Request")
    assert remove_imports_cheaply(context, cst.parse_module(source)).code == (
        "import os\n\n# the web part\nfrom fastapi import Depends\n\nx = Depends\n"
    )

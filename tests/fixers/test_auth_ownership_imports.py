"""PR203's owner filter names models the way the module does: through `models.` when the module
imports the models module, with an import in the module's own import block otherwise, and never
through a name that means something else there (a pydantic schema of the same name)."""

from __future__ import annotations

from fixers import apply_plan, plan_fixes
from tests.fixers.roundtrip import read, run_python
from tests.helpers import scan_project, write_project

# The layout of FastAPI's SQL tutorial: `from . import models`, queries on `models.Page`.
TUTORIAL_APP = {
    "app/__init__.py": "",
    "app/database.py": """
from sqlalchemy import create_engine
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import StaticPool

engine = create_engine("sqlite://", connect_args={"check_same_thread": False}, poolclass=StaticPool)
SessionLocal = sessionmaker(bind=engine)
Base = declarative_base()
""",
    "app/models.py": """
from sqlalchemy import Column, ForeignKey, Integer, String

from .database import Base


class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String, unique=True)


class Notebook(Base):
    __tablename__ = "notebooks"
    id = Column(Integer, primary_key=True)
    title = Column(String)
    owner_id = Column(Integer, ForeignKey("users.id"), index=True)


class Page(Base):
    __tablename__ = "pages"
    id = Column(Integer, primary_key=True)
    text = Column(String)
    notebook_id = Column(Integer, ForeignKey("notebooks.id"), index=True)
""",
    "app/schemas.py": """
from pydantic import BaseModel


class Notebook(BaseModel):
    id: int
    title: str
""",
    "app/deps.py": """
from fastapi import Depends, Header, HTTPException

from . import models
from .database import SessionLocal


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


def get_current_user(x_user: int = Header(0), db=Depends(get_db)):
    user = db.get(models.User, x_user)
    if user is None:
        raise HTTPException(status_code=401, detail="login required")
    return user
""",
    "app/main.py": """
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.orm import Session

from . import models
from .deps import get_current_user, get_db
from .schemas import Notebook

app = FastAPI()


@app.get("/pages/{page_id}")
def read_page(page_id: int, db: Session = Depends(get_db), user: models.User = Depends(get_current_user)):
    page = db.query(models.Page).filter(models.Page.id == page_id).first()
    if page is None:
        raise HTTPException(status_code=404, detail="Page not found")
    return {"id": page.id, "text": page.text}


@app.get("/notebooks/{notebook_id}", response_model=Notebook)
def read_notebook(notebook_id: int, db: Session = Depends(get_db), user: models.User = Depends(get_current_user)):
    notebook = db.query(models.Notebook).filter(models.Notebook.id == notebook_id).first()
    if notebook is None:
        raise HTTPException(status_code=404, detail="Notebook not found")
    return Notebook(id=notebook.id, title=notebook.title)
""",
}

CHECK_TUTORIAL = """
from fastapi.testclient import TestClient
from app import models
from app.database import Base, SessionLocal, engine
from app.main import app
Base.metadata.create_all(engine)
with SessionLocal() as db:
    db.add_all([models.User(id=1, email="ann@x.io"), models.User(id=2, email="bob@x.io"),
                models.Notebook(id=1, title="ann's", owner_id=1), models.Page(id=1, text="hi", notebook_id=1)])
    db.commit()
client = TestClient(app)
ann, bob = {"x-user": "1"}, {"x-user": "2"}
assert client.get("/pages/1", headers=ann).json() == {"id": 1, "text": "hi"}
assert client.get("/pages/1", headers=bob).status_code == 404
assert client.get("/notebooks/1", headers=ann).json() == {"id": 1, "title": "ann's"}
assert client.get("/notebooks/1", headers=bob).status_code == 404
"""


def test_owner_filter_names_models_through_the_module_the_handler_uses(tmp_path):
    root = write_project(tmp_path, TUTORIAL_APP)
    found = [f for f in scan_project(root).findings if f.rule == "PR203"]
    assert len(found) == 2
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert not [f for f, _ in plan.skipped if f in found], plan.skipped
    apply_plan(plan)
    main = read(root, "app/main.py")
    assert (
        "page = db.query(models.Page).join(models.Notebook, models.Page.notebook_id == models.Notebook.id)"
        ".filter(models.Notebook.owner_id == user.id).filter(models.Page.id == page_id).first()" in main
    )
    assert "db.query(models.Notebook).filter(models.Notebook.owner_id == user.id).filter(models.Notebook.id == notebook_id)" in main
    # nothing imported: `models` is already there, and `Notebook` is the response schema here
    assert main.count("import") == TUTORIAL_APP["app/main.py"].count("import")
    run_python(root, CHECK_TUTORIAL)


def test_a_model_the_module_does_not_import_is_imported_in_its_import_block(tmp_path):
    files = dict(TUTORIAL_APP)
    files["app/main.py"] = """
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy.orm import Session

from .deps import get_current_user, get_db
from .models import Page

app = FastAPI()


@app.get("/pages/{page_id}")
def read_page(page_id: int, db: Session = Depends(get_db), user=Depends(get_current_user)):
    page = db.query(Page).filter(Page.id == page_id).first()
    if page is None:
        raise HTTPException(status_code=404, detail="Page not found")
    return {"id": page.id, "text": page.text}
"""
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR203"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert not [f for f, _ in plan.skipped if f in found], plan.skipped
    apply_plan(plan)
    main = read(root, "app/main.py")
    # the module's own relative import grows; no second, absolute one
    assert "from .models import Notebook, Page\n" in main and "from app.models" not in main
    run_python(root, CHECK_TUTORIAL.replace('assert client.get("/notebooks/1", headers=ann).json() == {"id": 1, "title": "ann\'s"}\n', "").replace('assert client.get("/notebooks/1", headers=bob).status_code == 404\n', ""))


def test_a_model_name_taken_by_something_else_is_skipped_with_the_reason(tmp_path):
    files = dict(TUTORIAL_APP)
    files["app/main.py"] = """
from fastapi import Depends, FastAPI
from sqlalchemy.orm import Session

from .deps import get_current_user, get_db
from .models import Page
from .schemas import Notebook

app = FastAPI()


@app.get("/pages/{page_id}")
def read_page(page_id: int, db: Session = Depends(get_db), user=Depends(get_current_user)):
    page = db.query(Page).filter(Page.id == page_id).first()
    return {"id": page.id, "notebook": Notebook(id=1, title="x").title}
"""
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR203"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert plan.is_empty
    assert "Notebook" in plan.skipped[0][1] and "something else" in plan.skipped[0][1]


def test_module_names_follow_the_modules_own_imports():
    from fixers.auth import ModuleNames
    from fixers.pipeline.workspace import Skip

    def ref(text, module="app.models", name="Notebook", relpath="app/routers/pages.py"):
        imports: list = []
        return ModuleNames.read(relpath, text).ref(module, name, imports), imports

    assert ref("from ..db import get_db\n") == ("Notebook", [("models", 2, "Notebook")])       # relative, like its neighbours
    assert ref("from app.db import get_db\n") == ("Notebook", [("app.models", 0, "Notebook")])
    assert ref("from ..models import Page\n") == ("Notebook", [("models", 2, "Notebook")])
    assert ref("import app.models as m\n") == ("m.Notebook", [])
    assert ref("from app import models\n") == ("models.Notebook", [])
    assert ref("from app.models import Notebook as NB, Notebook\n") == ("Notebook", [])
    assert ref("class Notebook:\n    pass\n", module="app.routers.pages") == ("Notebook", [])
    # scanned from above the package root: the file's `app.models` is the project's `backend.app.models`
    assert ref("from app.models import Page\n", module="backend.app.models", relpath="backend/app/routers/pages.py") == (
        "Notebook",
        [("app.models", 0, "Notebook")],
    )
    for taken in ("from app.schemas import Notebook\n", "Notebook = None\n", "def Notebook():\n    pass\n"):
        try:
            ref(taken)
        except Skip as exc:
            assert "Notebook means something else" in str(exc)
        else:
            raise AssertionError(f"no Skip for {taken!r}")


def test_a_one_part_module_name_is_not_taken_for_the_end_of_another():
    """Models in db.py at the root, and a module that imports Flask-SQLAlchemy's `db` object."""
    from fixers.auth import ModuleNames

    imports: list = []
    names = ModuleNames.read("views.py", "from app.extensions import db\nfrom db import Page\n")
    assert names.ref("db", "Notebook", imports) == "Notebook" and imports == [("db", 0, "Notebook")]


def test_a_filter_by_after_the_owner_join_is_left_by_hand(tmp_path):
    """`query(Page).join(Notebook, ...).filter_by(id=...)` would filter notebooks.id: the wrong row."""
    files = dict(TUTORIAL_APP)
    files["app/main.py"] = TUTORIAL_APP["app/main.py"].replace(
        "page = db.query(models.Page).filter(models.Page.id == page_id).first()", "page = db.query(models.Page).filter_by(id=page_id).first()"
    )
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR203" and "pages" in f.message]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [reason for f, reason in plan.skipped if f in found] == [
        "by hand: the query uses filter_by(), which after a join to Notebook would filter Notebook instead of Page; "
        "write it with filter(Page.id == ...) first"
    ]
    # a model owned directly needs no join: filter_by still means the model itself
    files["app/main.py"] = TUTORIAL_APP["app/main.py"].replace(
        "db.query(models.Notebook).filter(models.Notebook.id == notebook_id)", "db.query(models.Notebook).filter_by(id=notebook_id)"
    )
    root = write_project(tmp_path / "direct", files)
    found = [f for f in scan_project(root).findings if f.rule == "PR203"]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [p.finding for p in plan.fixes if p.finding in found] == found, plan.skipped
    apply_plan(plan)
    assert "db.query(models.Notebook).filter(models.Notebook.owner_id == user.id).filter_by(id=notebook_id)" in read(root, "app/main.py")
    run_python(root, CHECK_TUTORIAL)


def test_a_query_get_is_left_by_hand(tmp_path):
    """`query(Notebook).filter(owner).get(id)` raises in SQLAlchemy (get() on a query with criteria)."""
    files = dict(TUTORIAL_APP)
    files["app/main.py"] = TUTORIAL_APP["app/main.py"].replace(
        "db.query(models.Notebook).filter(models.Notebook.id == notebook_id).first()", "db.query(models.Notebook).get(notebook_id)"
    )
    root = write_project(tmp_path, files)
    found = [f for f in scan_project(root).findings if f.rule == "PR203" and "notebooks" in f.message]
    plan = plan_fixes(scan_project(root), found, include_review=True)
    assert [reason for f, reason in plan.skipped if f in found] == [
        "by hand: query(Notebook).get(...) cannot take the owner condition; write it as .filter(Notebook.id == ...).first() first"
    ]

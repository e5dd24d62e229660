"""A column type change (Float -> Numeric for money, naive -> aware datetimes) follows through
the code that computes with the column, or is not offered, with the place that would break."""

from __future__ import annotations

import pytest

from fixers import apply_plan, plan_fixes
from tests.fixers.roundtrip import fix_project, read, run_python
from tests.helpers import scan_project, write_project

DATABASE = """
import os

from sqlalchemy import create_engine
from sqlalchemy.orm import declarative_base, sessionmaker

engine = create_engine(os.getenv("DATABASE_URL", "sqlite:///app.db"))
SessionLocal = sessionmaker(bind=engine)
Base = declarative_base()
"""

INVOICES = """
from sqlalchemy import Column, Float, Integer, String

from app.database import Base

TAX_RATE = 0.2


class Invoice(Base):
    __tablename__ = "invoices"

    id = Column(Integer, primary_key=True)
    customer = Column(String(100))
    quantity = Column(Integer, default=1)
    unit_price = Column(Float)
    discount = Column(Float, default=0.0)

    @property
    def subtotal(self):
        return self.unit_price * self.quantity

    @property
    def total(self):
        return round((self.subtotal - self.discount) * (1 + TAX_RATE), 2)

    def with_fee(self):
        return self.total + 1.5
"""

ROUTES = """
from fastapi import Depends, FastAPI
from pydantic import BaseModel

from app.database import SessionLocal
from app.models import Invoice

app = FastAPI()


class Quote(BaseModel):
    unit_price: float


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()


@app.get("/invoices/{invoice_id}")
def read_invoice(invoice_id: int, db=Depends(get_db)):
    invoice = db.query(Invoice).filter(Invoice.id == invoice_id).first()
    return {"id": invoice.id, "total": invoice.total, "half": invoice.total * 0.5, "label": f"{invoice.total:.2f}"}


@app.get("/revenue")
def revenue(db=Depends(get_db)):
    total = 0.0
    for invoice in db.query(Invoice).all():
        total += invoice.total
    return {"revenue": total, "big": [i.id for i in db.query(Invoice).all() if i.unit_price > 100]}


@app.get("/summary")
def summary(db=Depends(get_db)):
    rows = db.query(Invoice).all()
    return {"count": len(rows), "total": round(sum(i.total for i in rows), 2)}


@app.post("/quote")
def quote(data: Quote):
    # A request model's float, not the column: left alone.
    return {"total": data.unit_price * 1.2}
"""

INVOICE_APP = {"app/__init__.py": "", "app/database.py": DATABASE, "app/models.py": INVOICES, "app/main.py": ROUTES}

COMPUTE = """
from decimal import Decimal
from fastapi.testclient import TestClient
from app.database import Base, SessionLocal, engine
from app.main import app
from app.models import Invoice

Base.metadata.create_all(engine)
client = TestClient(app)
print(client.get("/summary").json())  # no invoices yet: sum() of nothing is 0
print(repr(Invoice(customer="b", quantity=2, unit_price=5.5, discount=0.5).total))  # before any commit
with SessionLocal() as db:
    db.add(Invoice(customer="a", quantity=3, unit_price=9.99, discount=1.0))
    db.commit()
    invoice = db.query(Invoice).first()
    print(repr(invoice.unit_price), repr(invoice.total), repr(invoice.with_fee()))
print(client.get("/invoices/1").json())
print(client.get("/revenue").json())
print(client.post("/quote", json={"unit_price": 10}).json())
"""


def test_the_money_fix_rewrites_the_arithmetic_and_the_totals_still_compute(tmp_path):
    root, plan, _ = fix_project(tmp_path / "app", INVOICE_APP, {"PR103"})
    models = read(root, "app/models.py")
    assert "unit_price = Column(Numeric(12, 2))" in models
    # float literals and float constants become Decimal, rounding becomes quantize
    assert '((self.subtotal - Decimal(str(self.discount))) * (1 + Decimal(str(TAX_RATE)))).quantize(Decimal("0.01"))' in models
    assert 'return self.total + Decimal("1.5")' in models
    main = read(root, "app/main.py")
    assert '"half": invoice.total * Decimal("0.5")' in main and 'total = Decimal("0.0")' in main
    assert "data.unit_price * 1.2" in main  # the request model's float is not the column
    assert "from decimal import Decimal" in models and "from decimal import Decimal" in main
    assert 'Decimal(sum(i.total for i in rows)).quantize(Decimal("0.01"))' in main
    assert '@validates("unit_price")' in models  # Decimal from the moment the value is set
    # The fixed app really computes, on SQLite through SQLAlchemy.
    done = run_python(root, COMPUTE, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'fixed.db'}"})
    empty, fresh, first, invoice, revenue, quote = done.stdout.splitlines()
    assert empty == "{'count': 0, 'total': 0.0}"
    assert fresh == "Decimal('12.60')"  # (2 * 5.5 - 0.5) * 1.2, exact before the first commit too
    assert first == "Decimal('9.99') Decimal('34.76') Decimal('36.26')"
    assert invoice == "{'id': 1, 'total': 34.76, 'half': 17.38, 'label': '34.76'}"
    assert revenue == "{'revenue': 34.76, 'big': []}"
    assert quote == "{'total': 12.0}"


def test_a_value_of_unknown_type_in_the_arithmetic_keeps_the_column_as_it_is(tmp_path):
    routes = ROUTES + '''

@app.get("/invoices/{invoice_id}/in/{currency}")
def converted(invoice_id: int, currency: str, db=Depends(get_db)):
    invoice = db.get(Invoice, invoice_id)
    rates = {"EUR": 0.92}
    return {"total": round(invoice.total * rates[currency], 2)}
'''
    root = write_project(tmp_path / "app", {**INVOICE_APP, "app/main.py": routes})
    result = scan_project(root)
    found = [f for f in result.findings if f.rule == "PR103"]
    plan = plan_fixes(result, found, include_review=True)
    assert plan.is_empty and not plan.fixes
    (finding, reason), = plan.skipped
    assert reason.startswith("by hand: app/main.py:")
    assert "multiplies `invoice.total` by `rates[currency]`, which may be a float" in reason
    assert "Invoice.unit_price" in reason


@pytest.mark.parametrize(
    "use, words",
    [
        ("import json\n\ndef dump(invoice: Invoice):\n    return json.dumps({'total': invoice.unit_price})\n", "json.dumps cannot write Decimal values"),
        ("import math\n\ndef rounded(invoice: Invoice):\n    return math.floor(invoice.unit_price)\n", "math.floor() works on floats"),
        ("def same(invoice: Invoice, other):\n    return invoice.unit_price == other\n", "for equality"),
        # an int column on the model, a float field of the same name on a request model
        ("from pydantic import BaseModel\n\nclass Line(BaseModel):\n    quantity: float\n\ndef line_total(invoice: Invoice, line: Line):\n    return invoice.unit_price * line.quantity\n", "by `line.quantity`, which may be a float"),
        ("import json\n\ndef export(db):\n    rows = [{'total': o.unit_price} for o in db.query(Invoice).all()]\n    return json.dumps(rows)\n", "to json.dumps(): json.dumps cannot write Decimal values"),
        ("from fastapi import Depends\n\ndef grand_total(db):\n    return sum((o.total for o in db.query(Invoice)), 0.0) * rate()\n", "multiplies `sum((o.total for o in db.query(Invoice)), 0.0)` by `rate()`"),
        # a project function that receives the column and computes with a float
        ("def fee(amount):\n    return amount * 1.03\n\ndef charge(invoice: Invoice):\n    return fee(invoice.unit_price)\n", "fee() receives the column"),
    ],
)
def test_uses_that_cannot_be_made_safe_are_named(tmp_path, use, words):
    files = {**INVOICE_APP, "app/billing.py": "from app.models import Invoice\n\n\n" + use}
    root = write_project(tmp_path / "app", files)
    result = scan_project(root)
    plan = plan_fixes(result, [f for f in result.findings if f.rule == "PR103"], include_review=True)
    assert not plan.fixes and plan.is_empty
    assert words in plan.skipped[0][1] and "app/billing.py:" in plan.skipped[0][1]


FLASK_TO_DICT = """
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
db = SQLAlchemy(app)


class Product(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    price = db.Column(db.Float)

    def to_dict(self):
        return {"id": self.id, "price": self.price}


@app.route("/products")
def products():
    return jsonify([p.to_dict() for p in Product.query.all()])
"""


def test_flask_answers_built_by_a_model_method_are_followed(tmp_path):
    root = write_project(tmp_path / "app", {"app.py": FLASK_TO_DICT})
    result = scan_project(root)
    plan = plan_fixes(result, [f for f in result.findings if f.rule == "PR103"], include_review=True)
    assert not plan.fixes
    assert "app.py:13 returns `self.price` in a JSON answer" in plan.skipped[0][1]


def test_flask_answers_would_change_from_numbers_to_strings(tmp_path):
    files = {
        "app.py": """
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
db = SQLAlchemy(app)


class Product(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    price = db.Column(db.Float)


@app.route("/products/<int:product_id>")
def product(product_id):
    item = Product.query.get_or_404(product_id)
    return jsonify({"id": item.id, "price": item.price})
""",
    }
    root = write_project(tmp_path / "app", files)
    result = scan_project(root)
    found = [f for f in result.findings if f.rule == "PR103"]
    assert found
    plan = plan_fixes(result, found, include_review=True)
    assert not plan.fixes and 'as strings ("9.99" instead of 9.99)' in plan.skipped[0][1]


def test_uses_that_work_with_decimal_are_left_as_they_are(tmp_path):
    """Suspicious-looking but fine: comparisons, formatting, float(), int arithmetic, SQL
    expressions on the class, a request model's own float field."""
    routes = '''
from app.models import Invoice


def describe(invoice: Invoice, db):
    cheap = Invoice.unit_price < 5.0  # a SQL expression, not a Python float
    label = f"{invoice.unit_price:.2f} ({float(invoice.unit_price)})"
    doubled = invoice.unit_price * 2 + invoice.quantity
    if invoice.unit_price > 100:
        label += "!"
    return {"label": label, "doubled": doubled, "cheap": db.query(Invoice).filter(cheap).count()}
'''
    models = INVOICES.replace("        return round((self.subtotal - self.discount) * (1 + TAX_RATE), 2)", "        return self.subtotal")
    models = models.replace("        return self.total + 1.5", "        return self.total + 1")
    root, plan, _ = fix_project(tmp_path / "app", {**INVOICE_APP, "app/models.py": models, "app/main.py": routes}, {"PR103"})
    assert plan.files_changed == ["app/models.py"]  # nothing to rewrite elsewhere
    assert "Decimal(" not in read(root, "app/main.py")


TIMES = """
from datetime import datetime, timedelta

from sqlalchemy import Column, DateTime, Integer, String

from app.database import Base


class Invite(Base):
    __tablename__ = "invites"

    id = Column(Integer, primary_key=True)
    email = Column(String(200))
    created_at = Column(DateTime, default=datetime.utcnow)
    sent_at = Column(DateTime, default=datetime.utcnow)

    def is_expired(self):
        return self.created_at < datetime.utcnow() - timedelta(days=7)

    def as_dict(self):
        return {"email": self.email, "sent": self.sent_at.isoformat() if self.sent_at else None}

    def mark_sent(self):
        self.sent_at = datetime.utcnow()
        self.created_at = datetime.utcnow()


def resend(db):
    stale = db.query(Invite).filter(Invite.sent_at < datetime.utcnow() - timedelta(days=1)).all()
    db.add(Invite(email="again@example.com", sent_at=datetime.utcnow()))
    return stale
"""


def test_aware_datetimes_are_not_offered_where_the_code_compares_with_naive_ones(tmp_path):
    root = write_project(tmp_path / "app", {"app/__init__.py": "", "app/database.py": DATABASE, "app/models.py": TIMES, "app/main.py": "from fastapi import FastAPI\n\nfrom app.models import Invite\n\napp = FastAPI()\n\n\n@app.get('/')\ndef index():\n    return {}\n"})
    result = scan_project(root)
    found = {f.line: f for f in result.findings if f.rule == "PR104"}
    assert set(found) == {13, 14}
    plan = plan_fixes(result, list(found.values()), include_review=True)
    fixed = {p.finding.line for p in plan.fixes}
    skipped = {f.line: reason for f, reason in plan.skipped}
    assert fixed == {14}  # sent_at is only formatted
    assert "app/models.py:17 compares `self.created_at` with `datetime.utcnow() - timedelta(days=7)`" in skipped[13]
    assert "Invite.created_at" in skipped[13]
    apply_plan(plan)
    models = read(root, "app/models.py")
    assert "created_at = Column(DateTime, default=datetime.utcnow)" in models
    # The aware column gets aware values wherever the code writes it or compares it in a query.
    assert "        self.sent_at = datetime.now(timezone.utc)\n        self.created_at = datetime.utcnow()\n" in models
    assert 'Invite(email="again@example.com", sent_at=datetime.now(timezone.utc))' in models
    assert "Invite.sent_at < datetime.now(timezone.utc) - timedelta(days=1)" in models
    # the fixed model still works
    done = run_python(root, "from app.database import Base, SessionLocal, engine\nfrom app.models import Invite\nBase.metadata.create_all(engine)\nwith SessionLocal() as db:\n    db.add(Invite(email='a@b.c')); db.commit()\n    i = db.query(Invite).first()\n    print(i.is_expired(), i.as_dict()['email'])\n    i.mark_sent(); db.commit()\n    from app.models import resend\n    print(len(resend(db)))\n", env={"DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}"})
    assert done.stdout.split() == ["False", "a@b.c", "0"]


def test_rewrites_nest_inside_each_other():
    from fixers.column_uses import Rewrite, apply_rewrites

    text = "x = round(a * 0.5, 2)\n"
    rewrites = [
        Rewrite("m.py", (1, 4), (1, 21), '({}).quantize(Decimal("0.01"))', ((1, 10), (1, 17))),
        Rewrite("m.py", (1, 14), (1, 17), 'Decimal("0.5")'),
    ]
    assert apply_rewrites(text, rewrites) == 'x = (a * Decimal("0.5")).quantize(Decimal("0.01"))\n'


def test_a_rate_keeps_its_decimal_places(tmp_path):
    models = INVOICES.replace("    discount = Column(Float, default=0.0)", "    discount = Column(Float, default=0.0)\n    tax_rate = Column(Float, default=0.075)")
    models = models.replace("(1 + TAX_RATE)", "(1 + self.tax_rate)")
    root, plan, _ = fix_project(tmp_path / "app", {**INVOICE_APP, "app/models.py": models}, {"PR103"})
    text = read(root, "app/models.py")
    assert "tax_rate = Column(Numeric(9, 6), default=0.075)" in text  # 0.075 would round to 0.08 with 2 places
    assert "unit_price = Column(Numeric(12, 2))" in text
    assert '@validates("unit_price", "tax_rate")' in text
    assert any("alembic revision --autogenerate" in note for note in plan.notes)


def test_rows_selected_with_select_are_followed(tmp_path):
    billing = """
from sqlalchemy import select

from app.models import Invoice


def grand_total(db):
    total = 0
    for invoice in db.scalars(select(Invoice).where(Invoice.quantity > 0)).all():
        total += invoice.unit_price * 1.1
    return total
"""
    root, _, _ = fix_project(tmp_path / "app", {**INVOICE_APP, "app/billing.py": billing}, {"PR103"})
    assert 'total += invoice.unit_price * Decimal("1.1")' in read(root, "app/billing.py")


def test_raw_sql_on_postgres_keeps_its_types(tmp_path):
    """psycopg2 returns NUMERIC as Decimal and TIMESTAMPTZ as aware datetimes: the code reading
    the rows by SQL cannot be followed, so the schema's types are changed by hand."""
    files = {
        "schema.sql": "CREATE TABLE orders (\n    id SERIAL PRIMARY KEY,\n    email TEXT,\n    price REAL NOT NULL,\n    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP\n);\n",
        "app.py": """
import os

import psycopg2
from flask import Flask

app = Flask(__name__)


def get_db():
    return psycopg2.connect(os.environ["DATABASE_URL"])


@app.route("/orders/<int:order_id>")
def order(order_id):
    cur = get_db().cursor()
    cur.execute("SELECT price, created_at FROM orders WHERE id = %s", (order_id,))
    price, created = cur.fetchone()
    return {"with_tax": price * 1.2, "created": str(created)}
""",
    }
    root = write_project(tmp_path / "app", files)
    result = scan_project(root)
    found = [f for f in result.findings if f.rule in {"PR103", "PR104"}]
    assert {f.rule for f in found} == {"PR103", "PR104"}
    plan = plan_fixes(result, found, include_review=True)
    assert not plan.fixes
    reasons = {f.rule: reason for f, reason in plan.skipped}
    assert reasons["PR103"].startswith("by hand: with postgresql, NUMERIC columns come back as Decimal values")
    assert "aware datetimes" in reasons["PR104"]


ALEMBIC_PROJECT = {
    "app/__init__.py": "",
    "app/database.py": DATABASE,
    "app/models.py": """
from datetime import datetime

from sqlalchemy import Column, DateTime, Float, ForeignKey, Integer, String

from app.database import Base


class Account(Base):
    __tablename__ = "accounts"

    id = Column(Integer, primary_key=True)
    email = Column(String(200), index=True, nullable=False)
    created_at = Column(DateTime, default=datetime.utcnow)


class Payment(Base):
    __tablename__ = "payments"

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("accounts.id"))
    amount = Column(Float, nullable=False)
""",
    "app/main.py": "from fastapi import FastAPI\n\nfrom app import models\n\napp = FastAPI()\n\n\n@app.get('/')\ndef index():\n    return {}\n",
    "alembic.ini": "[alembic]\nscript_location = migrations\nprepend_sys_path = .\n",
    "migrations/env.py": """
import os

from alembic import context
from sqlalchemy import create_engine

from app import models  # noqa: F401
from app.database import Base

engine = create_engine(os.environ["DATABASE_URL"])
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
""",
    "migrations/versions/0001_initial.py": """
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade():
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime()),
    )
    op.create_index("ix_accounts_email", "accounts", ["email"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id")),
        sa.Column("amount", sa.Float(), nullable=False),
    )


def downgrade():
    op.drop_table("payments")
    op.drop_table("accounts")
""",
}

MODELS_MATCH_MIGRATIONS = """
import os
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from app import models
from app.database import Base

command.upgrade(Config("alembic.ini"), "head")
engine = create_engine(os.environ["DATABASE_URL"])
with engine.connect() as conn:
    print(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata))
command.downgrade(Config("alembic.ini"), "0001")
with engine.connect() as conn:
    print(len(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)) > 0)
"""


def test_a_project_with_alembic_gets_the_migration_of_its_column_changes(tmp_path):
    root = write_project(tmp_path / "app", ALEMBIC_PROJECT)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'before.db'}"}
    before = run_python(root, MODELS_MATCH_MIGRATIONS.replace('command.downgrade(Config("alembic.ini"), "0001")', ""), env=env)
    assert before.stdout.startswith("[]")  # models and migrations agree before the fix
    root, plan, _ = fix_project(tmp_path / "app", ALEMBIC_PROJECT, {"PR101", "PR102", "PR103", "PR104"})
    revisions = sorted((root / "migrations" / "versions").glob("*_column_changes.py"))
    assert revisions, plan.files_changed
    assert any("come with the migration migrations/versions/" in note for note in plan.notes)
    # `alembic upgrade head` brings a database to the fixed models, and downgrade undoes it.
    done = run_python(root, MODELS_MATCH_MIGRATIONS, env={"DATABASE_URL": f"sqlite:///{tmp_path / 'after.db'}"})
    assert done.stdout.splitlines() == ["[]", "True"], done.stdout


def test_several_migration_heads_are_left_to_the_user(tmp_path):
    files = dict(ALEMBIC_PROJECT)
    files["migrations/versions/0002_a.py"] = 'revision = "0002a"\ndown_revision = "0001"\n'
    files["migrations/versions/0002_b.py"] = 'revision = "0002b"\ndown_revision = "0001"\n'
    root = write_project(tmp_path / "app", files)
    result = scan_project(root)
    found = [f for f in result.findings if f.rule in {"PR101", "PR103"}]
    plan = plan_fixes(result, found, include_review=True)
    assert not plan.fixes and "several heads (0002a, 0002b)" in plan.skipped[0][1]


def test_idioms_around_the_column(tmp_path):
    """Defaults (`or 0.0`, a conditional), sums of comprehensions and %-formatting."""
    billing = """
from app.models import Invoice


def report(db):
    rows = db.query(Invoice).all()
    label = "%.2f" % rows[0].unit_price if rows else "-"
    total = round(sum([i.unit_price for i in rows]), 2)
    first = (rows[0].unit_price or 0.0) * 1.5 if rows else 0
    paid = rows[0].unit_price if rows and rows[0].quantity else 0.5
    if rows and rows[0].unit_price or total:
        label += "!"
    return label, total, first, paid
"""
    root, _, _ = fix_project(tmp_path / "app", {**INVOICE_APP, "app/billing.py": billing}, {"PR103"})
    text = read(root, "app/billing.py")
    assert '"%.2f" % rows[0].unit_price' in text
    assert 'total = Decimal(sum([i.unit_price for i in rows])).quantize(Decimal("0.01"))' in text
    assert 'first = (rows[0].unit_price or Decimal("0.0")) * Decimal("1.5") if rows else 0' in text
    assert 'paid = rows[0].unit_price if rows and rows[0].quantity else Decimal("0.5")' in text

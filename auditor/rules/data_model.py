"""Step 1 — data model (PR1xx): schema constraints, indexes, migrations, N+1 queries."""

from __future__ import annotations

import re
from collections.abc import Iterable

from auditor.models import Category, Finding, Severity
from auditor.rules.base import ProjectRule, register

MONEY_NAME = re.compile(r"(price|amount|total|cost|balance|fee|salary|subtotal|tax|payment|revenue|refund)", re.I)


@register
class MoneyAsFloat(ProjectRule):
    code = "PR103"
    name = "money-as-float"
    category = Category.DATA_MODEL
    severity = Severity.MEDIUM
    impact = (
        "Prices and balances stored as binary floating point drift by fractions of a cent "
        "(0.1 + 0.2 is 0.30000000000000004), so totals, refunds and invoices stop adding up."
    )
    fix_summary = "Stores the column as Numeric(12, 2), an exact decimal (needs a migration)."
    doc = """
## What it does
Finds ORM columns and SQL schema columns whose name says money (price, amount, total,
balance, fee...) but whose type is `Float`/`REAL`/`DOUBLE`.

## Why is this bad in production
Binary floating point cannot represent most decimal amounts exactly. Sums of many small
amounts drift, comparisons like `paid == total` fail, and rounding differs between the
database, Python and the payment provider.

## Example
```python
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    total = Column(Float)
```

## Use instead
```python
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    total = Column(Numeric(12, 2))
```

## Fix safety
Review: the column type changes, so the table needs a migration.
"""
    VALID = [
        """
from sqlalchemy import Column, Integer, Numeric, Float
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    total = Column(Numeric(12, 2))
    latitude = Column(Float)
""",
        {"schema.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY, total NUMERIC(12, 2), score REAL);"},
    ]
    INVALID = [
        """
from sqlalchemy import Column, Integer, Float
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Order(Base):
    __tablename__ = "orders"
    id = Column(Integer, primary_key=True)
    total = Column(Float)
""",
        """
from sqlalchemy import Integer, Float
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
class Base(DeclarativeBase):
    pass
class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[float] = mapped_column(Float)
""",
        {"schema.sql": "CREATE TABLE orders (id INTEGER PRIMARY KEY, price REAL NOT NULL);"},
    ]

    def check(self, index) -> Iterable[Finding]:
        for relpath, model in index.models:
            for column in model.columns:
                if MONEY_NAME.search(column.name) and re.match(r"(sa\.|sqlalchemy\.|db\.)?(Float|REAL|Double|float)\b", column.type):
                    yield self.at(relpath, column.span, f"{model.name}.{column.name} stores money as a float; use Numeric(12, 2)")
        for table in index.sql_tables:
            for column in table.columns:
                if MONEY_NAME.search(column.name) and column.type.upper().startswith(("REAL", "FLOAT", "DOUBLE")):
                    yield self.at(table.path, column.span, f"{table.name}.{column.name} stores money as {column.type}; use NUMERIC(12, 2)")

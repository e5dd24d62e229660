"""Duplicate writes and races followed through the app's helpers; stock races and webhook retries."""

from __future__ import annotations

from auditor.models import Severity
from fixers import plan_fixes
from tests.helpers import scan_example, scan_project, write_project

MODELS = """
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base
Base = declarative_base()
class Booking(Base):
    __tablename__ = "bookings"
    id = Column(Integer, primary_key=True)
    slot = Column(String(20))
class User(Base):
    __tablename__ = "users"
    id = Column(Integer, primary_key=True)
    email = Column(String(254), unique=True)
"""
SERVICE = """
from sqlalchemy.exc import IntegrityError
from app.models import Booking, User
def save_booking(db, slot):
    booking = Booking(slot=slot)
    db.add(booking)
    db.commit()
    return booking
def book(db, slot):
    return save_booking(db, slot)
def book_once(db, slot):
    db.add(Booking(slot=slot))
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
def user_by_email(db, email):
    return db.query(User).filter(User.email == email).first()
def create_user(db, email):
    db.add(User(email=email))
    db.commit()
"""


def project(main: str) -> dict[str, str]:
    return {"app/__init__.py": "", "app/models.py": MODELS, "app/service.py": SERVICE, "app/main.py": main}


def fired(tmp_path, files, code):
    return [f for f in scan_example(tmp_path, files, select=[code]).findings if f.rule == code]


def test_a_booking_created_two_helpers_down(tmp_path):
    main = "from fastapi import FastAPI\nfrom app import service\napp = FastAPI()\n@app.post('/bookings')\ndef create(slot: str, db=None):\n    return service.book(db, slot)\n"
    found = fired(tmp_path, project(main), "PR330")
    assert [(f.path, f.line) for f in found] == [("app/main.py", 6)]
    assert "book() → save_booking()" in found[0].message


def test_a_helper_that_handles_the_duplicate_is_enough(tmp_path):
    main = "from fastapi import FastAPI\nfrom app import service\napp = FastAPI()\n@app.post('/bookings')\ndef create(slot: str, db=None):\n    return service.book_once(db, slot)\n"
    assert fired(tmp_path, project(main), "PR330") == []


def test_the_idempotency_fixer_hands_a_helper_finding_over(tmp_path):
    main = "from fastapi import Depends, FastAPI\nfrom app import service\napp = FastAPI()\ndef get_db():\n    yield None\n@app.post('/bookings')\ndef create(slot: str, db=Depends(get_db)):\n    return service.book(db, slot)\n"
    result = scan_project(write_project(tmp_path, project(main)), select=["PR330"])
    findings = [f for f in result.findings if f.rule == "PR330"]
    assert findings
    plan = plan_fixes(result, findings, include_review=True)
    assert plan.is_empty and plan.skipped and all(f.rule == "PR330" for f, _ in plan.skipped)


def test_check_then_insert_through_repository_helpers(tmp_path):
    main = (
        "from fastapi import FastAPI, HTTPException\nfrom app import service\napp = FastAPI()\n"
        "@app.post('/signup')\ndef signup(email: str, db=None):\n"
        "    if service.user_by_email(db, email):\n        raise HTTPException(400, 'taken')\n"
        "    service.create_user(db, email)\n    return {}\n"
        "@app.post('/lookup')\ndef lookup(email: str, db=None):\n"
        "    if service.user_by_email(db, email):\n        raise HTTPException(400, 'taken')\n    return {}\n"
    )
    found = fired(tmp_path, project(main), "PR332")
    assert [f.line for f in found] == [6]


def test_stock_read_then_awaited_payment_then_written(tmp_path):
    found = fired(
        tmp_path,
        """
from fastapi import FastAPI
from sqlalchemy import update
app = FastAPI()
@app.post("/buy/{item_id}")
async def buy(item_id: int, db=None):
    item = db.query(Item).filter(Item.id == item_id).first()
    await charge_card(item.price)
    item.stock = item.stock - 1
    db.commit()
@app.post("/buy-safely/{item_id}")
async def buy_safely(item_id: int, db=None):
    result = db.execute(update(Item).where(Item.id == item_id, Item.stock >= 1).values(stock=Item.stock - 1))
    await charge_card(1)
    db.commit()
@app.post("/locked/{item_id}")
async def locked(item_id: int, db=None):
    item = db.query(Item).filter(Item.id == item_id).with_for_update().first()
    await charge_card(item.price)
    item.stock -= 1
    db.commit()
""",
        "PR333",
    )
    assert [(f.line, f.severity) for f in found] == [(8, Severity.HIGH)]


def test_counter_incremented_in_python_without_await_is_medium(tmp_path):
    found = fired(
        tmp_path,
        "from flask import Flask\napp = Flask(__name__)\n@app.post('/coupons/<code>/redeem')\ndef redeem(code):\n"
        "    coupon = Coupon.query.filter_by(code=code).first()\n    coupon.uses += 1\n    db.session.commit()\n    return {}\n",
        "PR333",
    )
    assert [(f.line, f.severity) for f in found] == [(6, Severity.MEDIUM)]


def test_webhook_credits_twice_without_event_id(tmp_path):
    found = fired(
        tmp_path,
        """
import stripe
from fastapi import FastAPI, Request
app = FastAPI()
@app.post("/billing/events")
async def billing(request: Request, db=None):
    event = stripe.Webhook.construct_event(await request.body(), request.headers["stripe-signature"], "whsec")
    user = db.query(User).filter(User.stripe_customer == event.data.object.customer).first()
    user.credits += 100
    db.commit()
@app.post("/webhooks/deduped")
async def deduped(request: Request, db=None):
    event = await request.json()
    if db.get(ProcessedEvent, event["id"]):
        return {}
    db.add(ProcessedEvent(id=event["id"]))
    db.query(User).filter(User.id == event["user"]).first().credits += 1
    db.commit()
""",
        "PR334",
    )
    assert [f.line for f in found] == [8]


def test_webhook_writing_through_a_helper(tmp_path):
    found = fired(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/ledger.py": "def record(db, event):\n    db.add(LedgerEntry(amount=event['amount']))\n    db.commit()\n",
            "app/main.py": "from flask import Flask, request\nfrom app.ledger import record\napp = Flask(__name__)\n@app.post('/hooks/paypal')\ndef paypal():\n    record(get_db(), request.get_json())\n    return ''\n",
        },
        "PR334",
    )
    assert [(f.path, f.line) for f in found] == [("app/main.py", 6)]


def test_a_sign_in_callback_is_not_a_webhook(tmp_path):
    found = fired(
        tmp_path,
        "from fastapi import FastAPI, Request\napp = FastAPI()\n@app.post('/auth/apple/callback')\nasync def apple(request: Request, db=None):\n"
        "    form = await request.form()\n    db.add(User(email=form['email']))\n    db.commit()\n",
        "PR334",
    )
    assert found == []

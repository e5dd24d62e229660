import logging
import os
import uuid

import requests
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app import payments
from app.auth import get_current_user
from app.config import EXCHANGE_API_URL
from app.database import get_db
from app.models import Order, User, Workspace

router = APIRouter(prefix="/orders", tags=["orders"])
logger = logging.getLogger(__name__)

SLACK_WEBHOOK_URL = os.getenv("SLACK_WEBHOOK_URL")


class OrderCreate(BaseModel):
    workspace_id: int
    plan: str
    price: float
    currency: str = "USD"


def order_to_dict(o: Order) -> dict:
    return {
        "id": o.id,
        "workspace_id": o.workspace_id,
        "plan": o.plan,
        "price": o.price,
        "currency": o.currency,
        "status": o.status,
        "payment_id": o.payment_id,
    }


@router.post("/")
def create_order(data: OrderCreate, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    order = Order(
        user_id=current_user.id,
        workspace_id=data.workspace_id,
        plan=data.plan,
        price=data.price,
        currency=data.currency,
    )
    db.add(order)
    db.commit()
    db.refresh(order)

    try:
        charge = payments.charge(
            amount=data.price,
            currency=data.currency,
            customer_email=current_user.email,
            idempotency_key=str(uuid.uuid4()),
        )
    except Exception as e:
        logger.error(str(e))
        order.status = "failed"
        db.commit()
        raise HTTPException(status_code=402, detail="Payment failed")

    order.status = "paid"
    order.payment_id = charge["id"]
    ws = db.query(Workspace).filter(Workspace.id == data.workspace_id).first()
    ws.plan = data.plan
    db.commit()
    db.refresh(order)

    if SLACK_WEBHOOK_URL:
        try:
            requests.post(SLACK_WEBHOOK_URL, json={"text": f"New order #{order.id}: {order.plan} ({order.price})"})
        except Exception:
            pass
    return order_to_dict(order)


@router.get("/")
def list_orders(db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    orders = db.query(Order).filter(Order.user_id == current_user.id).all()
    return [order_to_dict(o) for o in orders]


@router.get("/{order_id}")
def get_order(order_id: int, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    order = db.query(Order).filter(Order.id == order_id).first()
    if not order:
        raise HTTPException(status_code=404, detail="Order not found")
    return order_to_dict(order)


@router.get("/{order_id}/price")
def order_price_in(order_id: int, currency: str = "EUR", db: Session = Depends(get_db)):
    order = db.query(Order).filter(Order.id == order_id).first()
    if not order:
        raise HTTPException(status_code=404, detail="Order not found")
    rates = requests.get(EXCHANGE_API_URL, params={"base": order.currency}).json()["rates"]
    return {"order_id": order.id, "currency": currency, "price": round(order.price * rates[currency], 2)}

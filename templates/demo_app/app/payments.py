import requests

from app.config import PAYMENT_API_KEY, PAYMENT_API_URL


def charge(amount: float, currency: str, customer_email: str, idempotency_key: str) -> dict:
    resp = requests.post(
        f"{PAYMENT_API_URL}/charges",
        json={
            "amount": int(amount * 100),
            "currency": currency,
            "receipt_email": customer_email,
        },
        headers={
            "Authorization": f"Bearer {PAYMENT_API_KEY}",
            "Idempotency-Key": idempotency_key,
        },
    )
    resp.raise_for_status()
    return resp.json()

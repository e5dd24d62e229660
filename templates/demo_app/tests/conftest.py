import os
import tempfile

_tmpdir = tempfile.mkdtemp(prefix="taskflow-tests-")
os.environ["DATABASE_URL"] = f"sqlite:///{os.path.join(_tmpdir, 'test.db')}"
os.environ.setdefault("SECRET_KEY", "test-secret")
os.environ.setdefault("RATE_LIMIT_ENABLED", "0")  # the tests log in more often than a rate limit allows

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from app import payments  # noqa: E402
from app.database import Base, engine  # noqa: E402
from app.main import app  # noqa: E402


@pytest.fixture(autouse=True)
def clean_db():
    Base.metadata.drop_all(bind=engine)
    Base.metadata.create_all(bind=engine)
    yield


@pytest.fixture
def client():
    return TestClient(app)


@pytest.fixture
def fake_payments(monkeypatch):
    calls = []

    def fake_charge(amount, currency, customer_email, idempotency_key):
        calls.append({"amount": amount, "currency": currency, "email": customer_email, "key": idempotency_key})
        return {"id": f"ch_{len(calls)}", "status": "succeeded"}

    monkeypatch.setattr(payments, "charge", fake_charge)
    return calls


def signup_and_login(client, email="alice@example.com", password="hunter22"):
    r = client.post("/auth/signup", json={"email": email, "password": password, "full_name": "Test User"})
    assert r.status_code == 200, r.text
    r = client.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture
def auth_headers(client):
    return signup_and_login(client)

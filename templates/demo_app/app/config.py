import os

SECRET_KEY = "supersecret123"
ALGORITHM = "HS256"

DATABASE_URL = os.getenv("DATABASE_URL", "postgresql://postgres:postgres@localhost:5432/taskflow")

PAYMENT_API_URL = os.getenv("PAYMENT_API_URL", "https://api.paystream.io/v1")
PAYMENT_API_KEY = os.getenv("PAYMENT_API_KEY", "sk_test_51HqLyjWDarjtT1zdp7dc")
EXCHANGE_API_URL = "https://api.exchangerate.host/latest"

FRONTEND_URL = os.getenv("FRONTEND_URL", "http://localhost:3000")

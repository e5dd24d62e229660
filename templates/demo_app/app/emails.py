import asyncio
import os
import smtplib
from email.message import EmailMessage

SMTP_HOST = os.getenv("SMTP_HOST")
SMTP_PORT = int(os.getenv("SMTP_PORT", "587"))
SMTP_USER = os.getenv("SMTP_USER", "")
SMTP_PASSWORD = os.getenv("SMTP_PASSWORD", "")
FROM_ADDRESS = os.getenv("EMAIL_FROM", "no-reply@taskflow.app")

sent_emails = []


async def send_email(to: str, subject: str, body: str):
    await asyncio.sleep(0)
    if not SMTP_HOST:
        print(f"[email] to={to} subject={subject}")
        sent_emails.append({"to": to, "subject": subject, "body": body})
        return

    msg = EmailMessage()
    msg["From"] = FROM_ADDRESS
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    with smtplib.SMTP(SMTP_HOST, SMTP_PORT) as server:
        server.starttls()
        server.login(SMTP_USER, SMTP_PASSWORD)
        server.send_message(msg)

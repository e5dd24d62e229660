import asyncio
import os
from datetime import datetime

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from app.database import Base, SessionLocal, engine
from app.emails import send_email
from app.models import Task, User
from app.routers import orders, reports, tasks, users, workspaces

REMINDER_INTERVAL = int(os.getenv("REMINDER_INTERVAL_SECONDS", "300"))

Base.metadata.create_all(bind=engine)

app = FastAPI(title="TaskFlow API", debug=True)

app.add_middleware(
    CORSMiddleware,
    allow_origins=["*"],
    allow_credentials=True,
    allow_methods=["*"],
    allow_headers=["*"],
)

app.include_router(users.router)
app.include_router(workspaces.router)
app.include_router(tasks.router)
app.include_router(orders.router)
app.include_router(reports.router)


async def overdue_reminder_loop():
    while True:
        await asyncio.sleep(REMINDER_INTERVAL)
        db = SessionLocal()
        overdue = db.query(Task).filter(Task.due_date < datetime.utcnow(), Task.status != "done").all()
        for task in overdue:
            user = db.query(User).filter(User.id == task.assignee_id).first()
            await send_email(user.email, "Task overdue", f"'{task.title}' is overdue")
        db.close()


@app.on_event("startup")
async def startup():
    print("Starting TaskFlow API...")
    asyncio.create_task(overdue_reminder_loop())


@app.get("/")
def root():
    return {"message": "TaskFlow API is running"}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run("app.main:app", host="0.0.0.0", port=8000, reload=True)

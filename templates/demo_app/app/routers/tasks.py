import time
from datetime import datetime
from typing import Optional

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth import get_current_user
from app.database import get_db
from app.models import Task, User

router = APIRouter(prefix="/tasks", tags=["tasks"])


class TaskCreate(BaseModel):
    title: str
    project_id: int
    description: Optional[str] = None
    assignee_id: Optional[int] = None
    due_date: Optional[datetime] = None


def task_to_dict(t: Task) -> dict:
    return {
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "status": t.status,
        "project_id": t.project_id,
        "assignee_id": t.assignee_id,
        "due_date": t.due_date.isoformat() if t.due_date else None,
    }


@router.get("/")
def list_tasks(db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    return [task_to_dict(t) for t in db.query(Task).all()]


@router.get("/search")
def search_tasks(q: str, status: str = "todo", db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    sql = text(f"SELECT id, title, status FROM tasks WHERE title LIKE '%{q}%' AND status = '{status}'")
    rows = db.execute(sql).fetchall()
    return [{"id": r[0], "title": r[1], "status": r[2]} for r in rows]


@router.post("/")
def create_task(task: TaskCreate, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    db_task = Task(**task.dict())
    db.add(db_task)
    db.commit()
    db.refresh(db_task)
    return task_to_dict(db_task)


@router.get("/{task_id}")
def get_task(task_id, db: Session = Depends(get_db)):
    task = db.query(Task).filter(Task.id == task_id).first()
    if not task:
        raise HTTPException(status_code=404, detail="Task not found")
    return task_to_dict(task)


@router.put("/{task_id}")
def update_task(task_id: int, payload: dict, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    task = db.query(Task).filter(Task.id == task_id).first()
    if not task:
        raise HTTPException(status_code=404, detail="Task not found")
    for key, value in payload.items():
        setattr(task, key, value)
    db.commit()
    db.refresh(task)
    return task_to_dict(task)


@router.post("/{task_id}/complete")
async def complete_task(task_id: int, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    task = db.query(Task).filter(Task.id == task_id).first()
    if not task:
        raise HTTPException(status_code=404, detail="Task not found")
    task.status = "done"
    for attempt in range(3):
        try:
            db.commit()
            break
        except Exception:
            db.rollback()
            time.sleep(0.5)
    return task_to_dict(task)


@router.delete("/{task_id}")
def delete_task(task_id: int, db: Session = Depends(get_db)):
    task = db.query(Task).filter(Task.id == task_id).first()
    if not task:
        raise HTTPException(status_code=404, detail="Task not found")
    db.delete(task)
    db.commit()
    return {"ok": True}

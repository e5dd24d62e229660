import asyncio
import os
from typing import Optional

import jwt
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.auth import get_current_user, read_token
from app.config import FRONTEND_URL, SECRET_KEY
from app.database import get_db
from app.emails import send_email
from app.models import Invite, Project, Task, User, Workspace

router = APIRouter()

MAX_INVITES = int(os.getenv("MAX_INVITES", "5"))


class WorkspaceCreate(BaseModel):
    name: str


class ProjectCreate(BaseModel):
    name: str
    workspace_id: int


class InviteCreate(BaseModel):
    email: str
    message: Optional[str] = None


@router.post("/workspaces")
def create_workspace(data: WorkspaceCreate, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    ws = Workspace(name=data.name, owner_id=current_user.id)
    db.add(ws)
    db.commit()
    db.refresh(ws)
    return {"id": ws.id, "name": ws.name, "owner_id": ws.owner_id, "plan": ws.plan}


@router.get("/workspaces")
def list_workspaces(db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    workspaces = db.query(Workspace).filter(Workspace.owner_id == current_user.id).all()
    result = []
    for ws in workspaces:
        projects = db.query(Project).filter(Project.workspace_id == ws.id).all()
        task_count = 0
        for project in projects:
            task_count += len(project.tasks)
        result.append({"id": ws.id, "name": ws.name, "projects": len(projects), "tasks": task_count})
    return result


@router.get("/workspaces/{workspace_id}")
def get_workspace(workspace_id: int, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    ws = db.query(Workspace).filter(Workspace.id == workspace_id).first()
    if not ws:
        raise HTTPException(status_code=404, detail="Workspace not found")
    return {
        "id": ws.id,
        "name": ws.name,
        "owner_id": ws.owner_id,
        "plan": ws.plan,
        "projects": [{"id": p.id, "name": p.name} for p in ws.projects],
        "members": [m.email for m in ws.members],
    }


@router.post("/projects")
def create_project(data: ProjectCreate, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    project = Project(name=data.name, workspace_id=data.workspace_id)
    db.add(project)
    db.commit()
    db.refresh(project)
    return {"id": project.id, "name": project.name, "workspace_id": project.workspace_id}


@router.get("/projects/{project_id}/tasks")
def project_tasks(project_id: int, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    tasks = db.query(Task).filter(Task.project_id == project_id).all()
    return [{"id": t.id, "title": t.title, "status": t.status} for t in tasks]


@router.post("/workspaces/{workspace_id}/invites")
async def invite_member(
    workspace_id: int,
    data: InviteCreate,
    db: Session = Depends(get_db),
    current_user: User = Depends(get_current_user),
):
    ws = db.query(Workspace).filter(Workspace.id == workspace_id).first()
    if not ws:
        raise HTTPException(status_code=404, detail="Workspace not found")

    pending = db.query(Invite).filter(Invite.workspace_id == ws.id, Invite.accepted == False).count()  # noqa: E712
    if pending >= MAX_INVITES:
        raise HTTPException(status_code=400, detail="Too many pending invites")

    token = jwt.encode({"workspace_id": ws.id, "email": data.email}, SECRET_KEY, algorithm="HS256")
    invite = Invite(workspace_id=ws.id, invited_by=current_user.id, email=data.email, token=token)
    db.add(invite)
    db.commit()
    db.refresh(invite)

    link = f"{FRONTEND_URL}/invite?token={token}"
    asyncio.create_task(send_email(data.email, f"You're invited to {ws.name}", f"{data.message or ''}\n{link}"))
    return {"id": invite.id, "email": invite.email, "token": token}


@router.post("/invites/accept")
def accept_invite(payload: dict, db: Session = Depends(get_db), current_user: User = Depends(get_current_user)):
    claims = read_token(payload["token"])
    ws = db.query(Workspace).filter(Workspace.id == claims["workspace_id"]).first()
    if not ws:
        raise HTTPException(status_code=404, detail="Workspace not found")

    invite = db.query(Invite).filter(Invite.token == payload["token"]).first()
    if invite:
        invite.accepted = True
    ws.members.append(current_user)
    db.commit()
    return {"workspace_id": ws.id, "joined": True}

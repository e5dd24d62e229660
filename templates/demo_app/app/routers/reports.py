from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import create_engine, text

from app.auth import get_current_user
from app.config import DATABASE_URL

try:
    import psycopg2
except ImportError:  # local dev on sqlite
    psycopg2 = None

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get("/workspaces/{workspace_id}")
def workspace_report(workspace_id: int, current_user=Depends(get_current_user)):
    engine = create_engine(DATABASE_URL)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.status, COUNT(*) FROM tasks t "
                "JOIN projects p ON p.id = t.project_id "
                f"WHERE p.workspace_id = {workspace_id} GROUP BY t.status"
            )
        ).fetchall()
    return {"workspace_id": workspace_id, "by_status": {r[0]: r[1] for r in rows}}


@router.get("/export")
def export_orders(current_user=Depends(get_current_user)):
    if psycopg2 is None:
        raise HTTPException(status_code=503, detail="Export needs Postgres")
    conn = psycopg2.connect(DATABASE_URL)
    cur = conn.cursor()
    cur.execute("SELECT id, user_id, plan, price, status, created_at FROM orders")
    rows = cur.fetchall()
    conn.close()
    return [
        {"id": r[0], "user_id": r[1], "plan": r[2], "price": r[3], "status": r[4], "created_at": str(r[5])}
        for r in rows
    ]

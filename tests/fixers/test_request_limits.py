"""max_length on request models' strings; blocking async handlers moved to the thread pool."""

from __future__ import annotations

from tests.fixers.roundtrip import fix_project, read, run_python

MODELS = """
from typing import Optional

from fastapi import FastAPI
from pydantic import BaseModel, Field

app = FastAPI()


class NoteIn(BaseModel):
    title: str
    email: str = Field(...)
    description: Optional[str] = None


@app.post("/notes")
def create(note: NoteIn):
    return {"title": note.title}
"""


def test_string_fields_get_a_max_length(tmp_path):
    root, _, _ = fix_project(tmp_path, MODELS, {"PR302"})
    source = read(root, "app.py")
    assert "    title: str = Field(max_length=255)\n    email: str = Field(..., max_length=320)\n    description: Optional[str] = Field(None, max_length=10000)\n" in source
    run_python(
        root,
        """
from fastapi.testclient import TestClient
from app import app
client = TestClient(app)
assert client.post("/notes", json={"title": "a", "email": "a@x.io"}).status_code == 200
assert client.post("/notes", json={"title": "a" * 300, "email": "a@x.io"}).status_code == 422
""",
    )


BLOCKING = """
import time

from fastapi import FastAPI

app = FastAPI()


@app.post("/tasks/{task_id}/complete")
async def complete(task_id: int):
    time.sleep(0.01)
    return {"id": task_id}


@app.post("/jobs")
async def job():
    time.sleep(0.01)
    await notify()
    return {}


async def notify():
    return None
"""


def test_blocking_async_handler_becomes_sync(tmp_path):
    root, plan, _ = fix_project(tmp_path, BLOCKING, {"PR343"}, skipped_ok=True)
    source = read(root, "app.py")
    assert '@app.post("/tasks/{task_id}/complete")\ndef complete(task_id: int):' in source
    assert "async def job():" in source
    assert [reason for _, reason in plan.skipped] == ["the handler also awaits: move the blocking calls into `await run_in_threadpool(...)` by hand"]

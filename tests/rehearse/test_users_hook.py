"""Users made by the project's own hook when its routes cannot make them, and the plain-words
message when there is neither a signup route nor a hook."""

from __future__ import annotations

import pytest

from auditor.rehearse.run import RehearsalError, rehearse
from tests.helpers import write_project

NOTES_APP = {
    "app/__init__.py": "",
    "app/main.py": """
        from fastapi import Depends, FastAPI, Header, HTTPException
        from pydantic import BaseModel, Field

        app = FastAPI()
        TOKENS = {"token-a": 1, "token-b": 2}  # invite-only: accounts are made by an admin
        NOTES = {}


        class NoteIn(BaseModel):
            text: str = Field(max_length=200)


        def current_user(authorization: str = Header(None)) -> int:
            token = (authorization or "").removeprefix("Bearer ")
            if token not in TOKENS:
                raise HTTPException(status_code=401, detail="Not authenticated")
            return TOKENS[token]


        @app.post("/notes")
        def create_note(body: NoteIn, user: int = Depends(current_user)):
            note = {"id": len(NOTES) + 1, "owner": user, "text": body.text}
            NOTES[note["id"]] = note
            return note


        @app.get("/notes")
        def list_notes(user: int = Depends(current_user)):
            return [n for n in NOTES.values() if n["owner"] == user]


        @app.get("/notes/{note_id}")
        def get_note(note_id: int, user: int = Depends(current_user)):
            note = NOTES.get(note_id)
            if note is None or note["owner"] != user:
                raise HTTPException(status_code=404, detail="Note not found")
            return note
    """,
}

pytestmark = pytest.mark.rehearsal


def outcomes(probes, kind):
    return {(p["method"], p["path"]): p["outcome"] for p in probes if p["kind"] == kind}


def test_users_from_the_hook(tmp_path, private_tmp):
    app = write_project(tmp_path / "notes", {
        **NOTES_APP,
        "rehearsal_users.py": "def make_users(base_url):\n    return [{'token': 'token-a'}, {'token': 'token-b'}]\n",
        "pyproject.toml": '[tool.prodready.rehearse]\nusers = "rehearsal_users:make_users"\n',
    })  # fmt: skip
    rehearsal = rehearse(app)
    assert rehearsal.users is None
    assert any("rehearsal_users:make_users" in note for note in rehearsal.notes)
    assert outcomes(rehearsal.probes, "cross_user")[("GET", "/notes/{note_id}")] == "passed"
    assert outcomes(rehearsal.probes, "unauthenticated")[("GET", "/notes/{note_id}")] == "passed"
    assert outcomes(rehearsal.probes, "invalid_body")[("POST", "/notes")] == "passed"  # max_length holds
    assert outcomes(rehearsal.probes, "brute_force") == {(None, None): "skipped"}


def test_without_routes_or_hook_it_says_what_is_missing(tmp_path, private_tmp):
    app = write_project(tmp_path / "notes", NOTES_APP)
    rehearsal = rehearse(app)
    assert rehearsal.users.startswith("the scan found no signup and no login route")
    assert "[tool.prodready.rehearse]" in rehearsal.users
    assert {p["outcome"] for p in rehearsal.probes} == {"skipped"}


def test_a_broken_hook_is_an_error(tmp_path, private_tmp):
    app = write_project(tmp_path / "notes", {
        **NOTES_APP,
        "rehearsal_users.py": "def make_users(base_url):\n    raise RuntimeError('no admin account to invite with')\n",
        "pyproject.toml": '[tool.prodready.rehearse]\nusers = "rehearsal_users:make_users"\n',
    })  # fmt: skip
    with pytest.raises(RehearsalError, match="no admin account to invite with"):
        rehearse(app)
    assert list(private_tmp.iterdir()) == []


def test_without_network_isolation_the_rehearsal_still_runs(tmp_path, private_tmp, monkeypatch):
    """Where no network namespace can be made (macOS, a locked-down CI runner), the server runs
    in the host's network on 127.0.0.1 and the output says isolation was weaker."""
    from fixers.pipeline import runner

    monkeypatch.setattr(runner, "network_isolation", lambda: runner.Isolation((), False, "network isolation was not available here"))
    app = write_project(tmp_path / "notes", {
        **NOTES_APP,
        "rehearsal_users.py": "def make_users(base_url):\n    return [{'token': 'token-a'}, {'token': 'token-b'}]\n",
        "pyproject.toml": '[tool.prodready.rehearse]\nusers = "rehearsal_users:make_users"\n',
    })  # fmt: skip
    rehearsal = rehearse(app)
    assert "isolation: network isolation was not available here" in rehearsal.notes
    assert outcomes(rehearsal.probes, "cross_user")[("GET", "/notes/{note_id}")] == "passed"
    assert list(private_tmp.iterdir()) == []

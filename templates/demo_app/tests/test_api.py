from conftest import signup_and_login

from app.database import SessionLocal
from app.models import User


def make_project(client, headers, name="Launch"):
    ws = client.post("/workspaces", json={"name": "Acme"}, headers=headers).json()
    project = client.post("/projects", json={"name": name, "workspace_id": ws["id"]}, headers=headers).json()
    return ws, project


def test_root(client):
    assert client.get("/").json() == {"message": "TaskFlow API is running"}


def test_signup_and_me(client, auth_headers):
    r = client.get("/users/me", headers=auth_headers)
    assert r.status_code == 200
    assert r.json()["email"] == "alice@example.com"


def test_login_wrong_password(client):
    client.post("/auth/signup", json={"email": "bob@example.com", "password": "pw123456"})
    r = client.post("/auth/login", json={"email": "bob@example.com", "password": "nope"})
    assert r.status_code == 401


def test_duplicate_signup(client):
    client.post("/auth/signup", json={"email": "carol@example.com", "password": "pw"})
    r = client.post("/auth/signup", json={"email": "carol@example.com", "password": "pw"})
    assert r.status_code == 400


def test_workspace_and_project(client, auth_headers):
    ws, project = make_project(client, auth_headers)
    r = client.get(f"/workspaces/{ws['id']}", headers=auth_headers)
    assert r.status_code == 200
    assert r.json()["projects"] == [{"id": project["id"], "name": "Launch"}]

    listing = client.get("/workspaces", headers=auth_headers).json()
    assert listing[0]["projects"] == 1


def test_task_crud(client, auth_headers):
    _, project = make_project(client, auth_headers)
    r = client.post("/tasks/", json={"title": "Write landing page", "project_id": project["id"]}, headers=auth_headers)
    assert r.status_code == 200
    task_id = r.json()["id"]

    assert client.get(f"/tasks/{task_id}", headers=auth_headers).json()["title"] == "Write landing page"

    r = client.put(f"/tasks/{task_id}", json={"status": "doing"}, headers=auth_headers)
    assert r.json()["status"] == "doing"

    r = client.post(f"/tasks/{task_id}/complete", headers=auth_headers)
    assert r.json()["status"] == "done"

    assert len(client.get("/tasks/", headers=auth_headers).json()) == 1
    assert client.get(f"/projects/{project['id']}/tasks", headers=auth_headers).json()[0]["id"] == task_id

    assert client.delete(f"/tasks/{task_id}", headers=auth_headers).json() == {"ok": True}
    assert client.get(f"/tasks/{task_id}", headers=auth_headers).status_code == 404


def test_task_search(client, auth_headers):
    _, project = make_project(client, auth_headers)
    client.post("/tasks/", json={"title": "Fix login bug", "project_id": project["id"]}, headers=auth_headers)
    client.post("/tasks/", json={"title": "Design logo", "project_id": project["id"]}, headers=auth_headers)
    r = client.get("/tasks/search", params={"q": "login"}, headers=auth_headers)
    assert [t["title"] for t in r.json()] == ["Fix login bug"]


def test_tasks_require_auth(client):
    assert client.get("/tasks/").status_code == 401


def test_create_order(client, auth_headers, fake_payments):
    ws, _ = make_project(client, auth_headers)
    r = client.post("/orders/", json={"workspace_id": ws["id"], "plan": "pro", "price": 29.0}, headers=auth_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "paid"
    assert body["payment_id"] == "ch_1"
    assert fake_payments[0]["amount"] == 29.0
    assert client.get(f"/workspaces/{ws['id']}", headers=auth_headers).json()["plan"] == "pro"
    assert len(client.get("/orders/", headers=auth_headers).json()) == 1


def test_invite_flow(client, auth_headers):
    ws, _ = make_project(client, auth_headers)
    r = client.post(f"/workspaces/{ws['id']}/invites", json={"email": "dave@example.com"}, headers=auth_headers)
    assert r.status_code == 200
    token = r.json()["token"]

    dave = signup_and_login(client, "dave@example.com", "pw-dave")
    r = client.post("/invites/accept", json={"token": token}, headers=dave)
    assert r.json() == {"workspace_id": ws["id"], "joined": True}
    assert "dave@example.com" in client.get(f"/workspaces/{ws['id']}", headers=auth_headers).json()["members"]


def test_workspace_report(client, auth_headers):
    ws, project = make_project(client, auth_headers)
    client.post("/tasks/", json={"title": "a", "project_id": project["id"]}, headers=auth_headers)
    client.post("/tasks/", json={"title": "b", "project_id": project["id"]}, headers=auth_headers)
    r = client.get(f"/reports/workspaces/{ws['id']}", headers=auth_headers)
    assert r.json()["by_status"] == {"todo": 2}


def test_admin_list_users(client, auth_headers):
    with SessionLocal() as db:  # the admin pages are for administrators
        db.query(User).filter(User.email == "alice@example.com").update({"is_admin": True})
        db.commit()
    r = client.get("/admin/users", headers=auth_headers)
    assert r.status_code == 200
    assert r.json()[0]["email"] == "alice@example.com"

"""Answers written into [tool.prodready] keep the user's file as they wrote it."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit

from auditor.config import load_config
from auditor.config_writer import Answers, ConfigWriteError, plan_answers, with_answers
from auditor.engine import scan
from tests.helpers import scan_project, write_project

USER_PYPROJECT = """\
[project]
name = "shop"   # the name on PyPI

[tool.ruff]
line-length = 100

[tool.prodready]
ignore = ["PR5"]  # logging is handled by the platform
public-routes = [
    "/health",  # load balancer
]

[tool.prodready.per-file-ignores]
"scripts/*" = ["PR2"]
"""


def answers(ignores: dict[str, list[str]] | None = None, public: list[str] | None = None) -> Answers:
    result = Answers()
    for relpath, codes in (ignores or {}).items():
        for code in codes:
            result.ignore(relpath, code)
    for route in public or []:
        result.make_public(route)
    return result


def test_existing_table_is_extended_and_every_comment_kept():
    text = with_answers(USER_PYPROJECT, answers({"app/models.py": ["PR103"], "scripts/*": ["PR5"]}, ["/tasks/{task_id}"]))
    for line in USER_PYPROJECT.splitlines():
        if not line.startswith(('"scripts/*"', "]")):
            assert line in text
    data = tomlkit.parse(text)["tool"]["prodready"]
    assert data["public-routes"] == ["/health", "/tasks/{task_id}"]
    assert data["per-file-ignores"]["app/models.py"] == ["PR103"]
    assert data["per-file-ignores"]["scripts/*"] == ["PR2", "PR5"]
    assert '"/health",  # load balancer' in text


def test_table_is_added_after_the_users_sections():
    source = '[project]\nname = "x"  # keep me\n\n[tool.black]\nline-length = 88\n'
    text = with_answers(source, answers(public=["/webhooks/stripe"]))
    assert text.startswith(source)
    assert tomlkit.parse(text)["tool"]["prodready"]["public-routes"] == ["/webhooks/stripe"]
    assert tomlkit.parse(text)["tool"]["black"]["line-length"] == 88


def test_answers_already_recorded_change_nothing(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(USER_PYPROJECT)
    assert plan_answers(tmp_path, tmp_path / "pyproject.toml", answers({"scripts/*": ["PR2"]}, ["/health"])) is None


def test_prodready_toml_gets_top_level_keys(tmp_path: Path):
    config = tmp_path / "prodready.toml"
    config.write_text('fail-on = "high"\n')
    edit = plan_answers(tmp_path, config, answers({"app.py": ["PR301"]}))
    edit.write()
    loaded, path = load_config(tmp_path)
    assert path == config
    assert loaded.per_file_ignores == {"app.py": ["PR301"]}
    assert loaded.fail_on.value == "high"


def test_new_pyproject_is_created_with_a_valid_config(tmp_path: Path):
    edit = plan_answers(tmp_path, None, answers({"app/models.py": ["PR103"]}, ["/public/*"]))
    assert edit.label == "pyproject.toml" and edit.before == ""
    assert edit.diff().startswith("--- /dev/null\n+++ b/pyproject.toml")
    edit.write()
    loaded, _ = load_config(tmp_path)
    assert loaded.per_file_ignores == {"app/models.py": ["PR103"]}
    assert loaded.is_public_route("/public/docs")


def test_a_plan_that_edits_the_same_pyproject_is_the_base_of_the_diff(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = []\n')
    planned = {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["slowapi"]\n'}
    edit = plan_answers(tmp_path, None, answers(public=["/health"]), planned)
    assert '+dependencies = ["slowapi"]' in edit.diff()
    assert '+public-routes = ["/health"]' in edit.diff()


def test_write_refuses_a_file_changed_since_the_diff_was_shown(tmp_path: Path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    edit = plan_answers(tmp_path, None, answers(public=["/health"]))
    path.write_text('[project]\nname = "renamed"\n')
    with pytest.raises(ConfigWriteError, match="changed since"):
        edit.write()
    assert path.read_text() == '[project]\nname = "renamed"\n'


def test_invalid_toml_is_one_clear_error():
    with pytest.raises(ConfigWriteError, match="not valid TOML"):
        with_answers("[tool.prodready\n", answers(public=["/x"]))


def test_a_wrongly_typed_key_is_reported_not_overwritten():
    with pytest.raises(ConfigWriteError, match="public-routes should be a list"):
        with_answers('[tool.prodready]\npublic-routes = "/health"\n', answers(public=["/x"]))


def test_the_scan_honours_a_written_not_a_problem_answer(tmp_path: Path):
    write_project(tmp_path, {"app/models.py": "import requests\n\ndef f():\n    return requests.get('https://x.test')\n"})
    before = [f for f in scan_project(tmp_path).findings if f.rule == "PR250"]
    assert before
    plan_answers(tmp_path, None, answers({"app/models.py": ["PR250"]})).write()
    config, _ = load_config(tmp_path)
    assert not [f for f in scan(tmp_path, config=config, use_cache=False).findings if f.rule == "PR250"]


def test_public_routes_match_per_method_and_the_older_path_form_still_reads():
    from auditor.config import public_route_matches

    entries = ["GET /tasks/{task_id}", "/health", "post /webhooks/*"]
    assert public_route_matches(entries, "/tasks/{task_id}", ["GET"])
    assert not public_route_matches(entries, "/tasks/{task_id}", ["DELETE"]), "public for GET says nothing of DELETE"
    assert not public_route_matches(entries, "/tasks/{task_id}", ["GET", "PUT"]), "every method of the route must be public"
    assert public_route_matches(entries, "/health", ["GET", "HEAD"]), "a bare path covers every method"
    assert public_route_matches(entries, "/webhooks/stripe", ["POST"])
    assert not public_route_matches(entries, "/webhooks/stripe", ["GET"])


def test_a_route_public_for_get_is_still_reported_for_delete(tmp_path: Path):
    import shutil

    from tests.helpers import FIXTURES

    root = tmp_path / "app"
    shutil.copytree(FIXTURES / "sloppy_fastapi", root, ignore=shutil.ignore_patterns("__pycache__"))
    config = root / "prodready.toml"

    def open_routes() -> set[str]:
        return {f.message.split(" returns")[0].split(" changes")[0] for f in scan(root, use_cache=False).findings if f.rule == "PR201"}

    assert {"GET /tasks/{task_id}", "DELETE /tasks/{task_id}"} <= open_routes()
    config.write_text('public-routes = ["GET /tasks/{task_id}"]\n')
    assert "GET /tasks/{task_id}" not in open_routes() and "DELETE /tasks/{task_id}" in open_routes()
    config.write_text('public-routes = ["/tasks/{task_id}"]\n')  # the older form: the path, every method
    assert not {"GET /tasks/{task_id}", "DELETE /tasks/{task_id}"} & open_routes()

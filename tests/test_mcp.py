"""`prodready mcp`, driven through the MCP SDK's own client: in process (the SDK's in-memory
transport, on the current protocol and on the handshake-era one assistants speak today) and
over stdio in a subprocess, as an assistant starts it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import anyio
import mcp
import mcp_types as types  # the `mcp` SDK (in the test extra, as in prodready[mcp])
from mcp import Client, ClientSession, StdioServerParameters, stdio_client

from auditor.cli import main as cli
from auditor.mcp.server import build_server
from auditor.rules.base import all_rules

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "templates" / "demo_app"
FASTAPI_APP = REPO / "tests" / "fixtures" / "apps" / "fastapi_settings_alembic"
TOOLS = {"scan", "explain", "plan_fixes", "apply_fixes", "undo", "rehearse"}


def copy_app(source: Path, dest: Path) -> Path:
    shutil.copytree(source, dest, symlinks=False)  # as `cp -rL`: fixes are written to the copy only
    return dest


def tree(root: Path) -> dict[str, str]:
    """Every file's bytes by path (the server's own .prodready/ folder aside)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".prodready" not in p.relative_to(root).parts
    }


def session(server, roots: list[Path] | None, mode: str = "auto") -> Client:
    """A client declaring `roots` as its workspace roots (None: no roots capability at all)."""

    async def answer(context) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri=r.as_uri(), name=r.name) for r in roots])

    return Client(server, list_roots_callback=answer if roots is not None else None, mode=mode)


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


def error_text(result: types.CallToolResult) -> str:
    assert result.is_error, result.structured_content
    text = result.content[0].text
    assert "\n" not in text and "Traceback" not in text, text
    return text


# -- the tools ------------------------------------------------------------------------------------


def test_lists_the_tools_with_their_schemas_and_one_line_descriptions(tmp_path):
    async def go():
        async with session(build_server(tmp_path), [tmp_path]) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in run(go)}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and "\n" not in tool.description
        props = tool.input_schema["properties"]
        assert "ctx" not in props and "roots" not in props  # filled by the server, never by the assistant
    assert tools["scan"].input_schema["required"] == ["path"]
    assert set(tools["scan"].input_schema["properties"]) == {"path", "select", "ignore"}
    assert set(tools["plan_fixes"].input_schema["properties"]) == {"path", "rules", "findings", "include_review"}
    assert set(tools["apply_fixes"].input_schema["required"]) == {"path", "plan_id"}
    assert tools["explain"].input_schema["required"] == ["rule"]
    assert tools["scan"].annotations.read_only_hint and tools["plan_fixes"].annotations.read_only_hint
    assert tools["apply_fixes"].annotations.destructive_hint and not tools["apply_fixes"].annotations.read_only_hint
    assert "RUNS THE USER'S APP" in tools["rehearse"].description


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_scan_returns_exactly_the_scan_json_contract(tmp_path, capsys, mode):
    root = copy_app(FASTAPI_APP, tmp_path / "app")
    progress = []

    async def on_progress(done, total, message):
        progress.append((done, total, message))

    async def go():
        async with session(build_server(tmp_path / "elsewhere"), [root], mode) as client:
            return await client.call_tool("scan", {"path": "."}, progress_callback=on_progress)

    result = run(go)
    assert not result.is_error, result.content
    assert cli(["scan", str(root), "--format", "json", "--no-progress", "--exit-zero"]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert result.structured_content == expected  # "." is the client's root, not the server's folder
    assert expected["findings"] and expected["root"] == str(root)
    assert json.loads(result.content[0].text) == expected
    assert any(total and message.startswith("scanning") for _, total, message in progress)


def test_scan_filters_by_rule_and_refuses_an_unknown_code(tmp_path):
    root = copy_app(FASTAPI_APP, tmp_path / "app")

    async def go():
        async with session(build_server(root), [root]) as client:
            only = await client.call_tool("scan", {"path": str(root), "select": ["PR5"]})
            unknown = await client.call_tool("scan", {"path": str(root), "select": ["PR999"]})
            return only, unknown

    only, unknown = run(go)
    rules = {f["rule"] for f in only.structured_content["findings"]}
    assert rules and all(r.startswith("PR5") for r in rules)
    assert "unknown rule code 'PR999'" in error_text(unknown)


def test_explain_prints_what_prodready_explain_prints(tmp_path, capsys):
    async def go():
        async with session(build_server(tmp_path), None) as client:
            return await client.call_tool("explain", {"rule": "pr301"}), await client.call_tool("explain", {"rule": "PR999"})

    known, unknown = run(go)
    assert cli(["explain", "PR301"]) == 0
    assert known.content[0].text == capsys.readouterr().out
    assert "## Why is this bad in production" in known.content[0].text
    assert "unknown rule code 'PR999'" in error_text(unknown)


def test_one_resource_per_rule_with_its_reference_section(tmp_path):
    async def go():
        async with session(build_server(tmp_path), None) as client:
            listed = (await client.list_resources()).resources
            with pytest.raises(mcp.MCPError) as unknown:
                await client.read_resource("prodready://rules/PR999")
            assert "PR999" in unknown.value.error.message and "\n" not in unknown.value.error.message
            return listed, await client.read_resource("prodready://rules/PR301")

    listed, read = run(go)
    assert sorted(str(r.uri) for r in listed) == sorted(f"prodready://rules/{code}" for code in all_rules())
    text = read.contents[0].text
    assert text.startswith("### PR301 ") and all_rules()["PR301"].doc.strip().splitlines()[0].strip() in text


# -- plan, apply, undo ------------------------------------------------------------------------------


def test_plan_then_apply_then_undo_restores_every_byte(tmp_path):
    root = copy_app(DEMO, tmp_path / "demo")
    before = tree(root)
    progress = []

    async def on_progress(done, total, message):
        progress.append(message)

    async def go():
        async with session(build_server(tmp_path), [root]) as client:
            plan = await client.call_tool("plan_fixes", {"path": "."}, progress_callback=on_progress)
            planned_tree = tree(root)
            again = await client.call_tool("plan_fixes", {"path": "."})
            applied = await client.call_tool("apply_fixes", {"path": ".", "plan_id": plan.structured_content["plan_id"]})
            applied_tree = tree(root)
            twice = await client.call_tool("apply_fixes", {"path": ".", "plan_id": plan.structured_content["plan_id"]})
            undone = await client.call_tool("undo", {"path": "."})
            return plan, planned_tree, again, applied, applied_tree, twice, undone

    plan, planned_tree, again, applied, applied_tree, twice, undone = run(go)
    plan_json = plan.structured_content
    assert planned_tree == before  # planning writes nothing
    assert plan_json["diff"].startswith("diff --git") and plan_json["fixes"]
    assert {f["safety"] for f in plan_json["fixes"]} == {"safe"}  # review fixes only with include_review
    assert {"rule", "path", "line", "fixer", "safety", "files"} <= set(plan_json["fixes"][0])
    assert again.structured_content["plan_id"] == plan_json["plan_id"]  # same plan, same files: same id
    assert any(m.startswith("preparing fixes") for m in progress)

    report = applied.structured_content
    assert report["applied"] is True
    written = set(report["changed"]) | set(report["created"])
    assert written == {line[len("+++ b/"):] for line in plan_json["diff"].splitlines() if line.startswith("+++ b/")}
    assert {p for p in set(before) | set(applied_tree) if before.get(p) != applied_tree.get(p)} == written
    assert (root / report["backup"] / "manifest.json").is_file()
    assert "already applied" in error_text(twice)

    assert sorted(undone.structured_content["restored"]) == sorted(report["changed"])
    assert sorted(undone.structured_content["deleted"]) == sorted(report["created"])
    assert tree(root) == before


def test_a_plan_is_refused_once_any_file_it_read_changed(tmp_path):
    root = copy_app(FASTAPI_APP, tmp_path / "app")

    async def go(edit):
        async with session(build_server(tmp_path), [root]) as client:
            plan = (await client.call_tool("plan_fixes", {"path": ".", "rules": ["PR50"]})).structured_content
            assert plan["plan_id"] and plan["fixes"], plan
            edited = edit(plan)
            snapshot = tree(root)
            refused = await client.call_tool("apply_fixes", {"path": ".", "plan_id": plan["plan_id"]})
            return edited, snapshot, refused

    def touch_a_file_the_plan_does_not_edit(plan):  # apply's own check looks only at the files it writes
        edited = {path for fix in plan["fixes"] for path in fix["files"]}
        other = next(p for p in sorted(tree(root)) if p.endswith(".py") and p not in edited)
        with open(root / other, "a", encoding="utf-8") as f:
            f.write("\n# edited after the plan\n")
        return other

    def edit_a_file_the_plan_edits(plan):
        target = plan["fixes"][0]["path"]
        with open(root / target, "a", encoding="utf-8") as f:
            f.write("\n# edited after the plan\n")
        return target

    for edit in (touch_a_file_the_plan_does_not_edit, edit_a_file_the_plan_edits):
        edited, snapshot, refused = run(go, edit)
        text = error_text(refused)
        assert "stale plan" in text and edited in text
        assert tree(root) == snapshot  # nothing written


def test_an_unknown_plan_id_is_refused(tmp_path):
    root = copy_app(FASTAPI_APP, tmp_path / "app")
    before = tree(root)

    async def go():
        async with session(build_server(tmp_path), [root]) as client:
            return await client.call_tool("apply_fixes", {"path": ".", "plan_id": "0" * 32})

    assert "unknown plan id" in error_text(run(go))
    assert tree(root) == before


def test_a_plan_applies_only_to_the_project_it_was_made_for(tmp_path):
    first = copy_app(FASTAPI_APP, tmp_path / "first")
    second = copy_app(FASTAPI_APP, tmp_path / "second")
    before = tree(second)

    async def go():
        async with session(build_server(tmp_path), [tmp_path]) as client:
            plan = (await client.call_tool("plan_fixes", {"path": "first", "rules": ["PR50"]})).structured_content
            return await client.call_tool("apply_fixes", {"path": "second", "plan_id": plan["plan_id"]})

    assert f"was made for {first}" in error_text(run(go))
    assert tree(second) == before


def test_findings_named_by_place_are_the_only_ones_planned(tmp_path):
    root = copy_app(FASTAPI_APP, tmp_path / "app")

    async def go():
        async with session(build_server(tmp_path), [root]) as client:
            found = (await client.call_tool("scan", {"path": "."})).structured_content["findings"]
            safe = next(f for f in found if f["fixable"] and f["fix_safety"] == "safe")
            review = next(f for f in found if f["fixable"] and f["fix_safety"] == "review")
            pick = [{k: f[k] for k in ("rule", "path", "line")} for f in (safe, review)]
            plan = await client.call_tool("plan_fixes", {"path": ".", "findings": pick})
            gone = await client.call_tool("plan_fixes", {"path": ".", "findings": [{**pick[0], "line": 9999}]})
            return safe, review, plan.structured_content, gone

    safe, review, plan, gone = run(go)
    assert [(f["rule"], f["path"], f["line"]) for f in plan["fixes"]] == [(safe["rule"], safe["path"], safe["line"])]
    held = [n for n in plan["not_fixed"] if (n["rule"], n["path"], n["line"]) == (review["rule"], review["path"], review["line"])]
    assert held and "include_review" in held[0]["reason"]
    assert "no finding" in error_text(gone) and "scan again" in error_text(gone)


# -- the workspace ----------------------------------------------------------------------------------


def test_paths_outside_the_client_roots_are_refused(tmp_path):
    root = copy_app(FASTAPI_APP, tmp_path / "app")
    outside = copy_app(FASTAPI_APP, tmp_path / "outside")
    (root / "link_out").symlink_to(outside, target_is_directory=True)

    async def go():
        async with session(build_server(outside), [root]) as client:  # started elsewhere: the client's roots win
            return [
                await client.call_tool(tool, {"path": path, **extra})
                for tool, path, extra in [
                    ("scan", str(outside), {}),
                    ("scan", "../outside", {}),
                    ("scan", "link_out", {}),
                    ("plan_fixes", str(outside), {}),
                    ("apply_fixes", "/", {"plan_id": "x"}),
                    ("undo", str(outside), {}),
                    ("rehearse", str(outside), {}),
                ]
            ]

    for result in run(go):
        assert "is outside the workspace" in error_text(result) and str(root) in error_text(result)
    assert not (outside / ".prodready").exists()


def test_without_client_roots_the_start_folder_is_the_workspace(tmp_path):
    root = copy_app(FASTAPI_APP, tmp_path / "app")

    async def go():
        async with session(build_server(root), None) as client:
            inside = await client.call_tool("scan", {"path": "."})
            out = await client.call_tool("scan", {"path": str(tmp_path)})
            return inside, out

    inside, out = run(go)
    assert inside.structured_content["root"] == str(root)
    assert "is outside the workspace" in error_text(out)


def test_an_unexpected_failure_reaches_the_assistant_as_one_line(tmp_path, monkeypatch):
    from auditor.mcp import actions

    def broken(*args, **kwargs):
        raise RuntimeError("first line\nsecond line")

    monkeypatch.setattr(actions, "scan_json", broken)

    async def go():
        async with session(build_server(tmp_path), [tmp_path]) as client:
            return await client.call_tool("scan", {"path": "."})

    assert "internal error in prodready (RuntimeError: first line; second line)" in error_text(run(go))


def test_a_missing_folder_is_said_in_one_line(tmp_path):
    async def go():
        async with session(build_server(tmp_path), [tmp_path]) as client:
            return await client.call_tool("scan", {"path": "missing"}), await client.call_tool("undo", {"path": "."})

    missing, nothing = run(go)
    assert "path does not exist" in error_text(missing)
    assert "nothing to undo" in error_text(nothing)


# -- the command ------------------------------------------------------------------------------------


def test_without_the_extra_the_command_names_it_and_exits_2(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        textwrap.dedent(
            """
            import sys

            class _NoMcp:  # as if `prodready[mcp]` were not installed
                def find_spec(self, name, path=None, target=None):
                    if name == "mcp" or name.startswith(("mcp.", "mcp_types")):
                        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                    return None

            sys.meta_path.insert(0, _NoMcp())
            """
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(REPO)])}
    proc = subprocess.run(
        [sys.executable, "-m", "auditor", "mcp"], capture_output=True, text=True, env=env, cwd=tmp_path, stdin=subprocess.DEVNULL, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'prodready[mcp]'" in lines[0], proc.stderr
    assert proc.stdout == ""


def test_a_real_stdio_session(tmp_path):
    """`prodready mcp` in a subprocess, started by the SDK's stdio client as an assistant does."""
    root = copy_app(FASTAPI_APP, tmp_path / "app")
    asked = []

    async def list_roots(context) -> types.ListRootsResult:
        asked.append(root)
        return types.ListRootsResult(roots=[types.Root(uri=root.as_uri(), name="app")])

    async def go():
        params = StdioServerParameters(command=sys.executable, args=["-m", "auditor", "mcp"], cwd=str(tmp_path))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, list_roots_callback=list_roots) as client:
                init = await client.initialize()
                tools = await client.list_tools()
                scanned = await client.call_tool("scan", {"path": "."})
                outside = await client.call_tool("scan", {"path": str(tmp_path)})
                return init, tools, scanned, outside

    init, tools, scanned, outside = run(go)
    assert init.server_info.name == "prodready"
    assert {t.name for t in tools.tools} == TOOLS
    assert asked and scanned.structured_content["root"] == str(root) and scanned.structured_content["findings"]
    assert "is outside the workspace" in error_text(outside)


def test_verify_writes_nothing_when_a_fix_breaks_a_test_and_offers_the_smaller_plan(tmp_path):
    """verify_prints has a test that reads what greet() prints: the print-to-logger fix breaks it."""
    root = tmp_path / "app"
    shutil.copytree(REPO / "tests" / "fixtures" / "verify_prints", root, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    before = tree(root)

    async def go():
        async with session(build_server(tmp_path), [root]) as client:
            plan = (await client.call_tool("plan_fixes", {"path": "."})).structured_content
            checked = await client.call_tool("apply_fixes", {"path": ".", "plan_id": plan["plan_id"], "verify": True})
            after_check = tree(root)
            smaller = checked.structured_content["verified_plan"]["plan_id"]
            applied = await client.call_tool("apply_fixes", {"path": ".", "plan_id": smaller})
            return plan, checked.structured_content, after_check, applied.structured_content

    plan, checked, after_check, applied = run(go)
    assert "print-to-logger" in {f["fixer"] for f in plan["fixes"]}
    assert checked["applied"] is False and after_check == before  # the plan the user saw is not the one that passed
    assert any("rolled back print-to-logger" in line for line in checked["verify"])
    kept = checked["verified_plan"]
    assert kept["plan_id"] != plan["plan_id"] and kept["fixes"]
    assert "print-to-logger" not in {f["fixer"] for f in kept["fixes"]}
    assert applied["applied"] is True
    assert 'print(message)' in (root / "app" / "main.py").read_text(encoding="utf-8")


def test_root_uris_with_spaces_are_read_and_other_schemes_ignored(tmp_path):
    from auditor.mcp.confine import roots_from_uris

    spaced = tmp_path / "my app"
    spaced.mkdir()
    assert roots_from_uris([spaced.as_uri(), "https://example.org/repo", "file://otherhost/x"]) == [spaced.resolve()]


def test_the_command_checks_its_root_and_the_core_never_imports_the_sdk(tmp_path):
    assert cli(["mcp", "--root", str(tmp_path / "missing")]) == 2
    code = (
        "import sys, auditor.cli\n"
        "auditor.cli.build_parser()\n"
        "print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'mcp_types'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_the_wheel_ships_the_server_and_the_extra_names_the_sdk():
    import tomlkit

    project = tomlkit.parse((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "auditor.mcp" in project["tool"]["setuptools"]["packages"]
    extras = project["project"]["optional-dependencies"]
    assert any(r.startswith("mcp>=2.3") for r in extras["mcp"]) and any(r.startswith("mcp>=2.3") for r in extras["test"])


@pytest.mark.rehearsal
def test_rehearse_boots_a_copy_of_the_app_and_returns_the_rehearsal_json(tmp_path):
    from auditor.rehearse.run import WHAT_IT_RUNS

    root = copy_app(FASTAPI_APP, tmp_path / "app")
    before = tree(root)
    said = []

    async def on_progress(done, total, message):
        said.append(message)

    async def go():
        async with session(build_server(tmp_path), [root]) as client:
            return await client.call_tool("rehearse", {"path": "."}, progress_callback=on_progress)

    result = run(go)
    assert not result.is_error, result.content
    report = result.structured_content
    assert report["version"] == 1 and report["probes"] and report["summary"]["requests"] > 0
    assert {p["outcome"] for p in report["probes"]} <= {"failed", "passed", "skipped"}
    assert said[0] == WHAT_IT_RUNS  # the assistant is told the user's code runs
    assert tree(root) == before  # the app ran on a copy


def test_a_file_saved_while_the_plan_is_made_gives_no_plan_id(tmp_path, monkeypatch):
    import fixers

    root = copy_app(FASTAPI_APP, tmp_path / "app")
    real = fixers.plan_fixes

    def plan_while_the_user_saves(*args, **kwargs):
        plan = real(*args, **kwargs)
        other = next(p for p in sorted(tree(root)) if p.endswith(".py") and p not in plan.files_changed)
        with open(root / other, "a", encoding="utf-8") as f:
            f.write("\n# saved during the plan\n")
        return plan

    monkeypatch.setattr(fixers, "plan_fixes", plan_while_the_user_saves)

    async def go():
        async with session(build_server(tmp_path), [root]) as client:
            return await client.call_tool("plan_fixes", {"path": ".", "rules": ["PR50"]})

    assert "changed while the plan was made" in error_text(run(go))

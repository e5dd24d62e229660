"""The engine: parallel and in-process scans agree, the cache is reused and invalidated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import auditor.engine as engine
from auditor.config import Config
from auditor.engine import scan
from tests.helpers import FIXTURES


def _key(result):
    return sorted((f.rule, f.path, f.line, f.message) for f in result.findings)


def _pools(monkeypatch) -> list[int]:
    """Records max_workers of every process pool the engine starts."""
    import concurrent.futures

    started: list[int] = []

    class Recording(concurrent.futures.ProcessPoolExecutor):
        def __init__(self, max_workers=None, **kwargs):
            started.append(max_workers)
            super().__init__(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Recording)
    return started


def test_parallel_scan_matches_in_process(monkeypatch):
    serial = scan(FIXTURES, config=Config(), use_cache=False, jobs=1)
    pools = _pools(monkeypatch)
    monkeypatch.setattr(engine, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(engine, "FILES_PER_WORKER", 1)
    parallel = scan(FIXTURES, config=Config(), use_cache=False, jobs=2)
    assert pools == [2]
    assert serial.findings and _key(serial) == _key(parallel)
    assert [r.label() for r in serial.index.routes] == [r.label() for r in parallel.index.routes]


def test_workers_get_a_real_share_of_the_files(monkeypatch):
    """A container may report the host's 64 CPUs: never more workers than FILES_PER_WORKER allows."""
    pools = _pools(monkeypatch)
    monkeypatch.setattr(engine, "usable_cpus", lambda: 64)
    monkeypatch.setattr(engine, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(engine, "FILES_PER_WORKER", 20)
    result = scan(FIXTURES, config=Config(), use_cache=False)
    assert pools == [result.files // 20] and 1 < pools[0] < 64


def test_cache_reused_and_invalidated_per_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODREADY_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.py").write_text("import requests\nrequests.get('https://a')\n")
    (project / "b.py").write_text("x = 1\n")
    first = scan(project, config=Config(), use_cache=True)
    assert first.cached_files == 0 and len(first.findings) == 1
    second = scan(project, config=Config(), use_cache=True)
    assert second.cached_files == 2 and _key(second) == _key(first)
    (project / "b.py").write_text("import requests\nrequests.post('https://b')\n")
    os.utime(project / "b.py", ns=(1, 1))  # a different mtime whatever the clock's resolution
    third = scan(project, config=Config(), use_cache=True)
    assert third.cached_files == 1
    assert sorted(f.path for f in third.findings) == ["a.py", "b.py"]


def _project(tmp_path, monkeypatch, files: dict[str, str]):
    monkeypatch.setenv("PRODREADY_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "proj"
    project.mkdir()
    for name, text in files.items():
        (project / name).write_text(text)
    return project


def test_a_touched_file_is_rehashed_not_reanalysed(tmp_path, monkeypatch):
    project = _project(tmp_path, monkeypatch, {"a.py": "import requests\nrequests.get('https://a')\n", "b.py": "x = 1\n"})
    first = scan(project, config=Config(), use_cache=True)
    os.utime(project / "a.py", ns=(5_000_000_000, 5_000_000_000))  # `touch`, `git checkout`: same bytes
    calls = []
    monkeypatch.setattr(engine.Analyzer, "analyze", lambda self, root, relpath, **kw: calls.append(relpath))
    again = scan(project, config=Config(), use_cache=True)
    assert calls == [] and again.cached_files == 2 and _key(again) == _key(first)


def test_a_same_size_edit_within_the_clock_tick_is_seen(tmp_path, monkeypatch):
    """Racy stamps: an edit that keeps size and mtime must not be served from the cache."""
    before = "import requests\nrequests.get('https://a')\n"
    after = "x = 1  # " + "-" * (len(before) - 10) + "\n"  # no finding, same size
    project = _project(tmp_path, monkeypatch, {"a.py": before})
    stamp = (project / "a.py").stat().st_mtime_ns
    assert len(scan(project, config=Config(), use_cache=True).findings) == 1
    (project / "a.py").write_text(after)
    os.utime(project / "a.py", ns=(stamp, stamp))
    assert len(after) == len(before)
    assert scan(project, config=Config(), use_cache=True).findings == []


def test_an_old_unchanged_file_is_trusted_by_its_stamp(tmp_path, monkeypatch):
    project = _project(tmp_path, monkeypatch, {"a.py": "x = 1\n"})
    os.utime(project / "a.py", ns=(5_000_000_000, 5_000_000_000))
    scan(project, config=Config(), use_cache=True)
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(AssertionError(f"read {self}")))
    assert scan(project, config=Config(), use_cache=True).cached_files == 1


def test_corrupt_cache_is_reported_and_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODREADY_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.py").write_text("import requests\nrequests.get('https://a')\n")
    scan(project, config=Config(), use_cache=True)
    for cache_file in (tmp_path / "cache").glob("*.pickle"):
        cache_file.write_bytes(b"not a pickle")
    again = scan(project, config=Config(), use_cache=True)
    assert len(again.findings) == 1
    assert [d.kind for d in again.diagnostics] == ["cache"]
    assert scan(project, config=Config(), use_cache=True).cached_files == 1


def test_config_change_invalidates_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODREADY_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.py").write_text("import requests\nrequests.get('https://a')\n")
    assert len(scan(project, config=Config(), use_cache=True).findings) == 1
    assert scan(project, config=Config(ignore=["PR250"]), use_cache=True).findings == []


def test_progress_reports_every_file(tmp_path):
    for i in range(30):
        (tmp_path / f"m{i}.py").write_text("x = 1\n")
    seen = []
    scan(tmp_path, config=Config(), use_cache=False, progress=lambda phase, done, total: seen.append((phase, done, total)))
    parse = [(d, t) for p, d, t in seen if p == "parse"]
    assert parse[-1] == (30, 30) and all(t == 30 for _, t in parse)
    assert [d for d, _ in parse] == sorted(d for d, _ in parse)
    assert seen[-1][0] == "rules"


def test_project_is_never_imported(tmp_path):
    marker = tmp_path / "imported.marker"
    (tmp_path / "app.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nfrom fastapi import FastAPI\napp = FastAPI()\n")
    (tmp_path / "conftest.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    scan(tmp_path, config=Config(), use_cache=False)
    assert not marker.exists()


@pytest.mark.parametrize("config", ["", '[tool.prodready]\nfail-on = "medium"\n'])
def test_the_scan_path_loads_no_libcst_textual_or_pydantic(tmp_path, config):
    """Start-up is most of a warm rescan: the codemod, UI and validation libraries stay unloaded
    when there is nothing to fix, show or validate (a config validated once is remembered)."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "app.py").write_text("import os\nfrom fastapi import FastAPI\napp = FastAPI()\nKEY = os.environ['KEY']\n")
    if config:
        (project / "pyproject.toml").write_text(config)
    probe = (
        "import sys\nfrom auditor.cli import main\n"
        "code = main(['scan', sys.argv[1], '--format', 'json'])\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'libcst', 'textual', 'pydantic', 'tomlkit', 'pathspec'})\n"
        "print(code, heavy, file=sys.stderr)\n"
    )
    env = dict(os.environ, PRODREADY_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", probe, str(project)], capture_output=True, text=True, timeout=120, env=env)
            for _ in range(2)]
    assert runs[-1].stderr.strip().splitlines()[-1] == "1 []", runs[-1].stderr


def test_a_few_configurations_per_folder_stay_cached(tmp_path, monkeypatch):
    project = _project(tmp_path, monkeypatch, {"a.py": "x = 1\n", "b.py": "y = 2\n"})
    configs = [Config(), Config(ignore=["PR5"]), Config(select=["PR2"]), Config(select=["PR3"])]
    for config in configs[:2]:
        scan(project, config=config, use_cache=True)
    assert [scan(project, config=c, use_cache=True).cached_files for c in configs[:2]] == [2, 2]
    for config in configs[2:]:
        scan(project, config=config, use_cache=True)
    assert len(list((tmp_path / "cache").glob("*.pickle"))) == 3  # the least recently used one went
    assert [scan(project, config=c, use_cache=True).cached_files for c in configs[1:]] == [2, 2, 2]

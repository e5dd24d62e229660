"""Config found like Ruff finds its own, per-file ignores, per-rule options, and `prodready init`."""

from __future__ import annotations

import pytest
import tomlkit

from auditor.cli import main
from auditor.config import Config, ConfigError, find_config_file, load_config
from auditor.engine import enabled_rules, scan
from tests.helpers import write_project

PRINTS = "from fastapi import FastAPI\nprint('x')\n"


def test_nearest_config_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.prodready]\nignore = ["PR502"]\n')
    service = tmp_path / "services" / "api"
    service.mkdir(parents=True)
    (tmp_path / "services" / "pyproject.toml").write_text('[project]\nname = "no-prodready-table"\n')
    assert find_config_file(service) == tmp_path / "pyproject.toml"  # a pyproject without the table is skipped
    (service / "pyproject.toml").write_text('[tool.prodready]\nfail-on = "high"\n')
    assert find_config_file(service) == service / "pyproject.toml"
    (service / "prodready.toml").write_text('fail-on = "medium"\n')
    assert find_config_file(service) == service / "prodready.toml"  # prodready.toml beats pyproject.toml
    config, path = load_config(service)
    assert path == service / "prodready.toml" and config.fail_on.value == "medium"


def test_scan_finds_the_config_without_flags(tmp_path, capsys):
    write_project(tmp_path, {"app/main.py": PRINTS, "app/tools/cli.py": PRINTS})
    (tmp_path / "pyproject.toml").write_text(
        '[tool.prodready]\nselect = ["PR502"]\n\n[tool.prodready.per-file-ignores]\n"app/tools/*" = ["pr5"]\n'
    )
    result = scan(tmp_path / "app", use_cache=False)
    assert result.config_path == tmp_path / "pyproject.toml"
    assert [(f.rule, f.path) for f in result.findings] == [("PR502", "main.py")]
    # Globs match paths relative to the scanned folder.
    result = scan(tmp_path, use_cache=False)
    assert [(f.rule, f.path) for f in result.findings] == [("PR502", "app/main.py")]


def test_per_rule_option_tables_reach_the_rule(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.prodready]\nselect = [\"PR2\"]\n\n[tool.prodready.rules.PR250]\nclients = [\"myhttp\"]\n"
    )
    config, _ = load_config(tmp_path)
    assert config.rules == {"PR250": {"clients": ["myhttp"]}}
    _, project_rules = enabled_rules(config)
    module_rules, _ = enabled_rules(config)
    rule = next(r for r in module_rules + project_rules if r.code == "PR250")
    assert rule.options == {"clients": ["myhttp"]}
    assert all(r.options == {} for r in module_rules + project_rules if r.code != "PR250")


def test_bad_config_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text('[tool.prodready]\nfail-on = "sometimes"\n')
    assert main(["scan", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fail-on" in err and "pyproject.toml" in err


PYPROJECT = """\
[project]
name = "shop"  # the name
version = "1.0"

[tool.ruff]
line-length = 100

[tool.ruff.lint]
select = ["E", "F"]

[build-system]
requires = ["setuptools"]
"""


def test_init_adds_a_commented_section_and_keeps_the_rest(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    assert main(["init", str(tmp_path)]) == 0
    assert "pyproject.toml" in capsys.readouterr().out
    text = (tmp_path / "pyproject.toml").read_text()
    start = text.index("[tool.prodready]")
    end = text.index("[build-system]")
    assert text[:start] + text[end:] == PYPROJECT  # every byte of the user's file is where it was
    section = text[start:end]
    assert "# Lowest severity that makes `prodready scan` exit 1" in section
    assert '# "tests/*" = ["PR2"]' in section
    config, path = load_config(tmp_path)
    assert path == tmp_path / "pyproject.toml" and config.select == [] and config.fail_on.value == "low"
    assert tomlkit.parse(text)["tool"]["ruff"]["line-length"] == 100
    # A second run refuses instead of overwriting someone's choices.
    assert main(["init", str(tmp_path)]) == 2
    assert "already has a [tool.prodready] section" in capsys.readouterr().err
    assert (tmp_path / "pyproject.toml").read_text() == text


def test_init_without_pyproject_writes_prodready_toml(tmp_path, capsys):
    assert main(["init", str(tmp_path)]) == 0
    target = tmp_path / "prodready.toml"
    assert not (tmp_path / "pyproject.toml").exists()
    assert "# [per-file-ignores]" in target.read_text()
    assert load_config(tmp_path)[1] == target
    assert main(["init", str(tmp_path)]) == 2
    capsys.readouterr()


def test_init_refuses_broken_toml(tmp_path, capsys):
    (tmp_path / "pyproject.toml").write_text("[project\nname = \n")
    assert main(["init", str(tmp_path)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_settings_are_validated_and_normalised():
    config = Config.from_toml({"select": ["pr3"], "fail_on": "high", "per-file-ignores": {"tests/*": ["PR2"]}, "max-file-size": 10})
    assert config.select == ["PR3"] and config.fail_on.value == "high" and config.max_file_size == 10
    assert config.per_file_ignores == {"tests/*": ["PR2"]} and Config.from_toml({}) == Config()
    assert Config.from_toml(config.as_toml()) == config  # what as_toml writes reads back the same


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"selct": []}, "selct: unknown setting (did you mean select?)"),
        ({"colour": "red"}, "colour: unknown setting (known: select, ignore, exclude, per-file-ignores,"),
        ({"fail-on": "urgent"}, "fail-on: Input should be 'low', 'medium' or 'high'"),
        ({"public-routes": "/health"}, "public-routes: Input should be a valid list"),
        ({"per-file-ignores": {"test_*.py": [3]}}, "per-file-ignores: in test_*.py.0: Input should be a valid string"),
        ({"max-file-size": 0}, "max-file-size: should be a number of bytes greater than 0"),
        ({"ignore": ["E501"]}, "ignore: 'E501' is not a rule code"),
    ],
)
def test_a_bad_setting_is_named_in_the_toml_spelling(table, message):
    with pytest.raises(ConfigError) as caught:
        Config.from_toml(table)
    assert str(caught.value).startswith(message)


def test_problems_come_in_the_file_order():
    with pytest.raises(ConfigError, match=r"^selekt: unknown .*; fail-on: .*; colour: unknown"):
        Config.from_toml({"selekt": [], "fail-on": "x", "colour": "red"})


def test_a_validated_table_is_remembered_by_its_content(tmp_path, monkeypatch):
    monkeypatch.setenv("PRODREADY_CACHE_DIR", str(tmp_path / "cache"))
    project = tmp_path / "proj"
    project.mkdir()
    validated = []
    real = Config.from_toml.__func__
    monkeypatch.setattr(Config, "from_toml", classmethod(lambda cls, raw: validated.append(raw) or real(cls, raw)))
    (project / "pyproject.toml").write_text('[tool.prodready]\nfail-on = "high"\n')
    first, _ = load_config(project, use_cache=True)
    again, _ = load_config(project, use_cache=True)
    assert again == first and again.fail_on.value == "high" and len(validated) == 1
    (project / "pyproject.toml").write_text('[tool.prodready]\nfail-on = "sometimes"\n')
    for _ in range(2):  # an invalid table is never remembered: it is refused every time
        with pytest.raises(ConfigError, match="fail-on"):
            load_config(project, use_cache=True)
    assert len(validated) == 3
    assert load_config(project, overrides={"fail-on": "low"}, use_cache=True)[0].fail_on.value == "low"

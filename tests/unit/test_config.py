"""``[tool.wheelguard]``: found from the working directory upwards (or ``--config``), validated
like policy files (every problem, with line and a "did you mean"), applied under the command
line, and echoed in the output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.cli import run_wheelguard
from helpers.fixtures import BuiltFixture

from wheelguard.config import find_config, load_config, parse_config
from wheelguard.errors import InvalidConfig
from wheelguard.model import Severity

Wheels = Mapping[str, BuiltFixture]


def _project(root: Path, table: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "pyproject.toml"
    path.write_text(f'[project]\nname = "x"\n\n[tool.wheelguard]\n{table}', encoding="utf-8")
    return path


def test_found_by_walking_up_past_other_pyprojects(tmp_path: Path) -> None:
    config = _project(tmp_path, 'fail-on = "warning"\n')
    sub = tmp_path / "pkg" / "ci"
    sub.mkdir(parents=True)
    (tmp_path / "pkg" / "pyproject.toml").write_text('[project]\nname = "inner"\n')
    assert find_config(sub) == config
    loaded = load_config(explicit=None, cwd=sub)
    assert loaded.path == config
    assert loaded.fail_on == Severity.WARNING
    assert load_config(explicit=None, cwd=sub, isolated=True).path is None


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('polices = ["tvm-ffi"]\n', "key 'polices': unknown key (did you mean 'policies'?)"),
        ('fail_on = "error"\n', "key 'fail_on': unknown key (did you mean 'fail-on'?)"),
        ('selct = ["WG201"]\n', "key 'selct': unknown key (did you mean 'select'?)"),
        ('fail-on = "sometimes"\n', "unknown severity 'sometimes'"),
        ('select = ["rpath-absolut"]\n', "unknown check 'rpath-absolut' (did you mean "
                                         "rpath-absolute?)"),
        ('severity = {WG204 = "fatal"}\n', "WG204: 'fatal' is not error, warning or info"),
        ('size-budget = "lots"\n', "not a size: 'lots'"),
        ('policies = "default"\n', "must be a list of policy names or paths"),
    ],
)
def test_every_mistake_is_named_with_its_line(tmp_path: Path, table: str, expected: str
                                              ) -> None:
    path = _project(tmp_path, table)
    with pytest.raises(InvalidConfig) as e:
        parse_config(path.read_text(), path=path)
    (problem,) = e.value.problems
    assert problem.startswith(f"{path}:5: [tool.wheelguard], key ")
    assert expected in problem


def test_all_problems_at_once(tmp_path: Path) -> None:
    path = _project(tmp_path, 'polices = []\nfail-on = "x"\nwheelhouse = 3\n')
    with pytest.raises(InvalidConfig) as e:
        parse_config(path.read_text(), path=path)
    assert len(e.value.problems) == 3


def test_values_are_typed_and_relative_to_the_file(tmp_path: Path) -> None:
    path = _project(tmp_path, 'policies = ["default", "ci/wg.toml"]\nfail-on = "never"\n'
                    'select = ["rpath-absolute", "WG205"]\nignore = "WG404"\n'
                    'severity = {"rpath-missing-dir" = "error"}\nsize-budget = "100MB"\n'
                    'installed-size-budget = 1000\nwheelhouse = ["deps"]\n')
    c = parse_config(path.read_text(), path=path)
    assert c.policies == ("default", "ci/wg.toml")
    assert c.fail_on == "never"
    assert c.select == {"WG201", "WG205"}
    assert c.ignore == {"WG404"}
    assert dict(c.severity) == {"WG205": Severity.ERROR}
    assert (c.size_budget, c.installed_size_budget) == (100 << 20, 1000)
    assert c.wheelhouse == ((tmp_path / "deps").resolve(),)
    echoed = c.to_json()
    assert echoed["path"] == str(path)
    assert echoed["severity"] == {"WG205": "error"}


def test_config_given_explicitly(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.toml"
    other.write_text('[tool.wheelguard]\nfail-on = "info"\n')
    assert load_config(explicit=str(other), cwd=tmp_path).fail_on == Severity.INFO
    empty = tmp_path / "empty.toml"
    empty.write_text('[tool.other]\n')
    with pytest.raises(InvalidConfig, match=r"no \[tool.wheelguard\] table"):
        load_config(explicit=str(empty), cwd=tmp_path)
    with pytest.raises(InvalidConfig, match="no such file"):
        load_config(explicit="nope.toml", cwd=tmp_path)


def test_the_table_drives_the_audit_and_is_echoed(fixture_wheels: Wheels, tmp_path: Path
                                                  ) -> None:
    """From a subdirectory: the table's severity override turns a warning into a failing
    error, its select narrows the checks, its policy is applied and every output says so."""
    _project(tmp_path, 'policies = ["default"]\nselect = ["WG205", "WG201"]\n'
             'severity = {WG205 = "error"}\nsize-budget = "1KB"\n')
    sub = tmp_path / "build"
    sub.mkdir()
    wheel = fixture_wheels["wg205_rpath_missing_dir"].path
    proc = run_wheelguard("audit", "--format", "json", wheel, cwd=sub)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    (finding,) = doc["wheels"][0]["findings"]
    assert (finding["check"], finding["severity"]) == ("WG205", "error")
    assert doc["run"]["config"]["path"] == str(tmp_path / "pyproject.toml")
    assert [p["name"] for p in doc["run"]["policies"]] == ["default"]
    assert doc["wheels"][0]["not_checked"]["deselected"][0] == "WG101"
    # The command line wins: --select replaces the table's list, --isolated drops the table.
    proc = run_wheelguard("audit", "--format", "json", "--select", "WG404", wheel, cwd=sub)
    assert json.loads(proc.stdout)["wheels"][0]["findings"] == []
    proc = run_wheelguard("audit", "--format", "json", "--isolated", wheel, cwd=sub)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["run"]["config"] == {"path": None}


def test_a_typo_fails_the_gate_closed(fixture_wheels: Wheels, tmp_path: Path) -> None:
    _project(tmp_path, 'polices = ["tvm-ffi"]\n')
    proc = run_wheelguard("audit", fixture_wheels["clean"].path, cwd=tmp_path)
    assert proc.returncode == 2
    assert "did you mean 'policies'?" in proc.stderr
    assert "Traceback" not in proc.stderr

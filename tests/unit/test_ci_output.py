"""CI-native output of ``wheelguard audit``: text made for logs, SARIF checked against the
official 2.1.0 schema, JUnit read back by a common parser, GitHub annotations and the job
summary, baselines. Everything runs the real CLI on real fixture wheels."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import REPO, audit_json, cli_env, neutral_dir, run_inprocess, run_wheelguard
from helpers.fixtures import BuiltFixture
from helpers.wheels import build_wheel

from wheelguard.rules import RULES

Wheels = Mapping[str, BuiltFixture]
SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sarif-schema-2.1.0.json"
WAIVE_WG201 = '''[[rule]]
action = "waive"
check = "WG201"
path = "demo/lib/librpath_abs.so"
reason = "build machine path, fixed upstream"
'''


def _hostile_wheel(tmp_path: Path) -> Path:
    """A wheel whose tree name carries rich markup and GitHub's command separators."""
    return build_wheel(tmp_path / "hostile", {
        "demo/__init__.py": b"",
        "demo/[red]x%2C,y:z/CMakeLists.txt": b"project(x)\n",
        "demo/[red]x%2C,y:z/a.cpp": b"int x;\n",
    })


# ---- text -----------------------------------------------------------------------------------


def test_every_finding_is_one_unbroken_line_in_a_narrow_log(fixture_wheels: Wheels) -> None:
    """COLUMNS=40 and no terminal: a CI log. Nothing may be wrapped or cut."""
    env = {**cli_env(), "COLUMNS": "40"}
    wheel = fixture_wheels["wg201_rpath_absolute"].path
    proc = subprocess.run([sys.executable, "-m", "wheelguard", "audit", "--no-hints", wheel],
                          capture_output=True, text=True, env=env, cwd=neutral_dir(), check=False)
    assert proc.returncode == 1
    _rc, doc = audit_json(wheel)
    lines = proc.stdout.splitlines()
    for f in doc["wheels"][0]["findings"]:
        expected = f"  {f['check']} {f['name']} {f['path']}: {f['message']}"
        assert expected in lines, f"not on one line: {expected}"
    header = next(line for line in lines if line.startswith("FAIL "))
    assert wheel.name in header
    assert max(map(len, lines)) > 40


def test_all_findings_shown_and_max_per_check(fixture_wheels: Wheels) -> None:
    wheel = fixture_wheels["wg201_rpath_absolute"].path
    rc, out, _err = run_inprocess(["audit", wheel])
    assert rc == 1
    assert out.count("  WG201 rpath-absolute ") == 3
    assert "more WG201" not in out
    rc, out, _err = run_inprocess(["audit", "--max-per-check", "1", wheel])
    assert out.count("  WG201 rpath-absolute ") == 1
    assert "... 2 more WG201 not shown (--max-per-check 1)" in out


def test_waived_findings_are_apart_and_not_counted(fixture_wheels: Wheels,
                                                   tmp_path: Path) -> None:
    policy = tmp_path / "waive.toml"
    policy.write_text(WAIVE_WG201, encoding="utf-8")
    wheel = fixture_wheels["wg201_rpath_absolute"].path
    rc, out, _err = run_inprocess(["audit", "--policy", policy, "--max-per-check", "1", wheel])
    rc_json, doc = audit_json("--policy", policy, wheel)
    waived = sum(f["waived"] is not None for f in doc["wheels"][0]["findings"])
    live = doc["wheels"][0]["summary"]["errors"]
    assert waived >= 1
    assert rc == rc_json
    lines = out.splitlines()
    assert f" errors ({live})" in lines if live else " errors (" not in out
    assert f" waived ({waived})" in lines
    waived_lines = [line for line in lines if "(waived: build machine path" in line]
    assert len(waived_lines) == waived  # every waived one shown, none in the --max-per-check slot
    assert f", {waived} waived;" in lines[-1]


def test_missing_file_is_not_counted_as_a_wheel(fixture_wheels: Wheels, tmp_path: Path) -> None:
    rc, out, err = run_inprocess(["audit", fixture_wheels["clean"].path,
                                  tmp_path / "missing-1.0-py3-none-any.whl"])
    assert rc == 2
    assert out.splitlines()[-1].startswith("1 wheel audited, 1 unreadable: 0 errors")
    assert out.splitlines()[-1].endswith("exit 2")
    assert "missing-1.0-py3-none-any.whl  unreadable" in out
    assert "no such file" in err


def test_quiet_prints_only_what_fails_and_the_summary(fixture_wheels: Wheels) -> None:
    rc, out, _err = run_inprocess(["audit", "-q", fixture_wheels["wg205_rpath_missing_dir"].path,
                                   fixture_wheels["wg201_rpath_absolute"].path])
    assert rc == 1
    lines = out.splitlines()
    assert not any("WG205" in line for line in lines)  # a warning does not fail the gate
    assert sum("  WG201 " in line for line in lines) == 3
    assert "fix:" not in out
    assert lines[-1].startswith("2 wheels audited")
    assert len(lines) == 1 + 3 + 1  # the failing wheel's header, its errors, the summary


@pytest.mark.parametrize(("color", "escapes"), [("always", True), ("never", False),
                                                ("auto", False)])
def test_color_option(fixture_wheels: Wheels, color: str, escapes: bool) -> None:
    proc = run_wheelguard("audit", "--color", color, fixture_wheels["wg201_rpath_absolute"].path)
    assert ("\x1b[" in proc.stdout) is escapes


def test_markup_in_member_names_prints_as_itself(tmp_path: Path) -> None:
    rc, out, _err = run_inprocess(["audit", "--color", "always", _hostile_wheel(tmp_path)])
    assert rc == 0
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert "demo/[red]x%2C,y:z/ ships 2 build/source files" in plain


def test_progress_goes_to_stderr_as_plain_lines_off_a_terminal(fixture_wheels: Wheels) -> None:
    wheels = [fixture_wheels[n].path for n in ("clean", "wg201_rpath_absolute",
                                                 "wg205_rpath_missing_dir", "wg404_debug_info")]
    proc = run_wheelguard("audit", "--format", "json", *wheels)
    json.loads(proc.stdout)  # stdout stays the document
    assert [line.split(" auditing ")[0] for line in proc.stderr.splitlines()] == [
        f"wheelguard: [{i}/4]" for i in range(1, 5)]
    assert "\r" not in proc.stderr
    quiet = run_wheelguard("audit", "-q", *wheels)
    assert quiet.stderr == ""


def test_text_header_echoes_config_and_policies(fixture_wheels: Wheels, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.wheelguard]\npolicies = ["default"]\nfail-on = "warning"\n', encoding="utf-8")
    proc = run_wheelguard("audit", fixture_wheels["wg205_rpath_missing_dir"].path, cwd=tmp_path)
    assert proc.returncode == 1  # fail-on warning, from the table
    first = proc.stdout.splitlines()[0]
    assert f"config: {tmp_path / 'pyproject.toml'} [tool.wheelguard]" in first
    assert "policies: default (sha256 " in first
    assert "fail-on: warning" in first


# ---- SARIF ------------------------------------------------------------------------------------


def _sarif(*args: str | Path) -> tuple[int, dict[str, Any]]:
    rc, out, err = run_inprocess(["audit", "--format", "sarif", *args])
    assert out, err
    return rc, json.loads(out)


def test_sarif_is_valid_2_1_0_with_every_rule(fixture_wheels: Wheels, tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    policy = tmp_path / "waive.toml"
    policy.write_text(WAIVE_WG201, encoding="utf-8")
    rc, doc = _sarif("--policy", policy, fixture_wheels["wg201_rpath_absolute"].path,
                     fixture_wheels["wg105_bundled_provided_library"].path,
                     tmp_path / "missing-1.0-py3-none-any.whl")
    assert rc == 2
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker()).validate(doc)
    with pytest.raises(jsonschema.ValidationError):  # the schema is strict enough to catch
        jsonschema.Draft4Validator(schema).validate({**doc, "version": "2.0.0"})
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(RULES)
    assert all(r["shortDescription"]["text"] and r["help"]["text"] for r in rules)
    arts = run["artifacts"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        loc = result["locations"][0]["physicalLocation"]["artifactLocation"]
        art = arts[loc["index"]]
        assert art["location"]["uri"] == loc["uri"]
        if "parentIndex" in art:  # a member: nested in its wheel, path from the archive root
            assert loc["uri"].startswith("/demo/")
            assert arts[art["parentIndex"]]["location"]["uri"].endswith(".whl")
    waived = [r for r in run["results"] if r.get("suppressions")]
    assert waived
    assert all(r["ruleId"] == "WG201" for r in waived)
    assert run["invocations"][0]["executionSuccessful"] is False
    assert "missing-1.0" in run["invocations"][0]["toolExecutionNotifications"][0][
        "message"]["text"]
    assert run["properties"]["wheelguard"]["policies"][0]["name"] == "waive"


# ---- JUnit ------------------------------------------------------------------------------------


def test_junit_reads_back_one_case_per_check_and_wheel(fixture_wheels: Wheels,
                                                       tmp_path: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    out = tmp_path / "junit.xml"
    rc, _out, err = run_inprocess(["audit", "--format", "junit", "-o", out,
                                   fixture_wheels["wg201_rpath_absolute"].path,
                                   fixture_wheels["wg205_rpath_missing_dir"].path,
                                   _hostile_wheel(tmp_path)])
    assert rc == 1, err
    xml = junitparser.JUnitXml.fromfile(str(out))
    suites = list(xml)
    assert len(suites) == 3
    for suite in suites:
        cases = list(suite)
        assert len(cases) == len(RULES)
        by_name = {c.name.split()[0]: c for c in cases}
        linkage = by_name["WG701"].result
        assert linkage
        assert isinstance(linkage[0], junitparser.Skipped)
        assert "not checked" in (linkage[0].message or "")
    wg201 = {c.name.split()[0]: c for c in suites[0]}["WG201"]
    assert isinstance(wg201.result[0], junitparser.Failure)
    assert wg201.result[0].text.count("WG201 rpath-absolute error") == 3
    wg205 = {c.name.split()[0]: c for c in suites[1]}["WG205"]
    assert wg205.is_passed  # a warning is below the default gate
    assert "WG205" in (wg205.system_out or "")
    assert xml.failures == 1
    assert xml.skipped == 3 * 11


# ---- GitHub -----------------------------------------------------------------------------------


def test_github_annotations_are_escaped(tmp_path: Path) -> None:
    rc, out, _err = run_inprocess(["audit", "--format", "github", _hostile_wheel(tmp_path)])
    assert rc == 0
    (line,) = out.splitlines()
    # A few bytes of build files are a note (severity follows the bytes: docs/checks.md).
    assert line.startswith("::notice file=hostile/demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl,"
                           "title=WG402 build-artifacts::")
    message = line.split("::", 2)[2]
    assert "%252C" in message  # the member's own "%2C" stays literal, its "," as is
    assert "\n" not in message
    assert "%0Afix: " in message


def test_on_github_actions_annotations_and_job_summary(fixture_wheels: Wheels,
                                                      tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    env = {**cli_env(), "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    proc = subprocess.run(
        [sys.executable, "-m", "wheelguard", "audit", "--format", "json",
         fixture_wheels["wg201_rpath_absolute"].path],
        capture_output=True, text=True, env=env, cwd=neutral_dir(), check=False)
    assert proc.returncode == 1
    json.loads(proc.stdout)  # annotations never corrupt the document on stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("::error ")]
    assert len(errors) == 3
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n# Release checklist")  # appended, not replaced
    assert "- [ ] **RPATH/RUNPATH entries are relative to $ORIGIN" in text


# ---- baselines --------------------------------------------------------------------------------


def test_baseline_fails_only_on_new_findings(fixture_wheels: Wheels, tmp_path: Path) -> None:
    wheel = fixture_wheels["wg201_rpath_absolute"].path
    base = tmp_path / "baseline.json"
    rc, _out, _err = run_inprocess(["audit", "--format", "json", "-o", base, wheel])
    assert rc == 1
    rc, doc = audit_json("--baseline", base, wheel)
    assert rc == 0
    assert all("known in the baseline" in (f["waived"] or "") for f in doc["wheels"][0]["findings"])
    assert doc["run"]["baseline"] == str(base)
    # Drop one finding from the baseline: exactly that one is new again.
    saved = json.loads(base.read_text(encoding="utf-8"))
    dropped = saved["wheels"][0]["findings"].pop()
    base.write_text(json.dumps(saved), encoding="utf-8")
    rc, doc = audit_json("--baseline", base, wheel)
    assert rc == 1
    live = [f for f in doc["wheels"][0]["findings"] if f["waived"] is None]
    assert [f["fingerprint"] for f in live] == [dropped["fingerprint"]]


def test_baseline_of_one_build_covers_the_next(tmp_path: Path) -> None:
    """Fingerprints ignore the version: a baseline of 1.0 holds for the same finding in 1.1,
    and a new finding in 1.1 still fails."""
    files = {"demo/__init__.py": b"", "demo/src/CMakeLists.txt": b"project(x)\n"}
    old = build_wheel(tmp_path / "old", files, version="1.0")
    base = tmp_path / "baseline.json"
    run_inprocess(["audit", "--format", "json", "-o", base, old])
    same = build_wheel(tmp_path / "new", files, version="1.1")
    # Tiny build files are notes: gate on info so the baseline is what keeps 1.1 passing.
    rc, doc = audit_json("--fail-on", "info", "--baseline", base, same)
    assert rc == 0, doc["wheels"][0]["findings"]
    worse = build_wheel(tmp_path / "worse", {**files, "demo/build/CMakeCache.txt": b"x\n"},
                        version="1.1")
    rc, doc = audit_json("--fail-on", "info", "--baseline", base, worse)
    assert rc == 1
    assert [f["path"] for f in doc["wheels"][0]["findings"] if f["waived"] is None] == [
        "demo/build"]


def test_bad_baseline_is_a_usage_error(fixture_wheels: Wheels, tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text('{"schema_version": 1}', encoding="utf-8")
    rc, _out, err = run_inprocess(["audit", "--baseline", bad, fixture_wheels["clean"].path])
    assert rc == 2
    assert "not a wheelguard audit JSON" in err


def test_readme_documents_every_exit_code() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    for code in ("0", "1", "2", "3", "4", "70", "130"):
        assert re.search(rf"\b{code}\b", text.split("Exit codes", 1)[1][:3000])
    assert (REPO / "wheelguard" / "errors.py").exists()

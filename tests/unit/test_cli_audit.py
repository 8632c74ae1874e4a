"""``wheelguard audit`` as a CI gate: exit codes, --fail-on, --select/--ignore, --output, globs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import audit_json, run_inprocess, run_wheelguard
from helpers.fixtures import BuiltFixture

Wheels = Mapping[str, BuiltFixture]


def _codes(doc: dict[str, Any]) -> list[str]:
    return [f["check"] for w in doc["wheels"] for f in w["findings"]]


@pytest.mark.parametrize(
    ("fixture", "fail_on", "rc"),
    [
        ("clean", None, 0),
        ("clean", "info", 0),
        ("wg201_rpath_absolute", None, 1),  # errors fail by default
        ("wg201_rpath_absolute", "never", 0),
        ("wg201_rpath_absolute", "warning", 1),
        ("wg205_rpath_missing_dir", None, 0),  # a warning passes the default gate
        ("wg205_rpath_missing_dir", "error", 0),
        ("wg205_rpath_missing_dir", "warning", 1),
        ("wg205_rpath_missing_dir", "info", 1),
        ("wg205_rpath_missing_dir", "WARNING", 1),
    ],
)
def test_exit_code_follows_fail_on(
    fixture_wheels: Wheels, fixture: str, fail_on: str | None, rc: int
) -> None:
    args = ["--fail-on", fail_on] if fail_on else []
    got, doc = audit_json(*args, fixture_wheels[fixture].path)
    assert got == rc
    assert doc["fail_on"] == (fail_on or "error").lower()
    assert doc["summary"]["failed"] is bool(rc)


def test_bad_fail_on_is_a_usage_error(fixture_wheels: Wheels) -> None:
    proc = run_wheelguard("audit", "--fail-on", "sometimes", fixture_wheels["clean"].path)
    assert proc.returncode == 2
    assert "unknown severity 'sometimes'" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "codes"),
    [
        ((), ["WG301", "WG204"]),
        (("--select", "WG204"), ["WG204"]),
        (("--select", "rpath-other-distribution"), ["WG204"]),
        (("--select", "wg301"), ["WG301"]),
        (("--select", "WG204,needed-unresolved"), ["WG301", "WG204"]),
        (("--select", "WG204", "--select", "WG301"), ["WG301", "WG204"]),
        (("--ignore", "WG301"), ["WG204"]),
        (("--ignore", "needed-unresolved"), ["WG204"]),
        (("--ignore", "WG204", "--ignore", "WG301"), []),
        (("--select", "WG301,WG204", "--ignore", "WG301"), ["WG204"]),
        (("--select", "WG101"), []),
    ],
)
def test_select_and_ignore(fixture_wheels: Wheels, args: tuple[str, ...], codes: list[str]) -> None:
    rc, doc = audit_json(*args, fixture_wheels["wg301_needed_undeclared_provider"].path)
    assert _codes(doc) == codes
    assert rc == (1 if "WG301" in codes else 0)


def test_unknown_check_is_a_usage_error_with_a_suggestion(fixture_wheels: Wheels) -> None:
    proc = run_wheelguard("audit", "--select", "rpath-absolut", fixture_wheels["clean"].path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "wheelguard: error: unknown check 'rpath-absolut' (did you mean rpath-absolute?)"
    )


def test_output_file_json(fixture_wheels: Wheels, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "audit.json"
    rc, out, _err = run_inprocess(["audit", "--format", "json", "-o", target,
                                   fixture_wheels["wg201_rpath_absolute"].path])
    assert rc == 1
    assert out == ""
    doc = json.loads(target.read_text(encoding="utf-8"))
    assert _codes(doc) == ["WG201"] * 3
    assert not [p for p in target.parent.iterdir() if p != target]  # no temp file left


def test_output_file_text(fixture_wheels: Wheels, tmp_path: Path) -> None:
    target = tmp_path / "audit.txt"
    rc, out, _err = run_inprocess(["audit", "--output", target,
                                   fixture_wheels["wg201_rpath_absolute"].path])
    assert rc == 1
    assert out == ""
    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("wheelguard ")  # what it was judged under
    header = text.splitlines()[1]
    assert header.startswith("FAIL ")
    assert "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl" in header
    assert "WG201 rpath-absolute demo/lib/librpath_abs.so: RUNPATH entry" in text
    assert text.count("fix: ") == 1  # one hint per check and wheel
    assert "\x1b[" not in text  # no terminal escapes in a file


def test_text_report_on_stdout(fixture_wheels: Wheels) -> None:
    proc = run_wheelguard("audit", fixture_wheels["wg205_rpath_missing_dir"].path)
    assert proc.returncode == 0
    header = proc.stdout.splitlines()[1]
    assert header.startswith("ok ")
    assert "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl" in header
    assert "WG205 rpath-missing-dir demo/lib/librpath_missing.so" in proc.stdout
    assert "fix: Drop the stale entry." in proc.stdout
    assert proc.stdout.splitlines()[-1] == (
        "1 wheel audited: 0 errors, 1 warning, 0 info; 0 failing at --fail-on error; exit 0")
    assert proc.stderr == ""
    quiet = run_wheelguard("audit", "--no-hints", fixture_wheels["wg205_rpath_missing_dir"].path)
    assert "fix:" not in quiet.stdout


def test_globs_are_expanded_by_wheelguard(fixture_wheels: Wheels, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in ("clean", "wg205_rpath_missing_dir"):
        src = fixture_wheels[name].path
        shutil.copy(src, dist / src.name.replace("demo-1.0", f"demo-1.0-{len(name)}"))
    # Quoted as a CI shell with no match-expansion would pass it through.
    proc = run_wheelguard("audit", "--format", "json", f"{dist}/*.whl")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["wheels"]) == 2
    assert doc["summary"]["wheels"] == 2
    assert doc["summary"]["warnings"] == 1


def test_unmatched_glob_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_wheelguard("audit", f"{tmp_path}/*.whl")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"wheelguard: error: no wheel matches '{tmp_path}/*.whl'"


def test_any_failing_wheel_fails_the_run(fixture_wheels: Wheels) -> None:
    rc, doc = audit_json(fixture_wheels["clean"].path,
                         fixture_wheels["wg101_duplicate_soname"].path)
    assert rc == 1
    assert [w["failed"] for w in doc["wheels"]] == [False, True]
    assert doc["summary"]["errors"] == 1


def test_size_budget_option(fixture_wheels: Wheels) -> None:
    path = fixture_wheels["clean"].path
    rc, doc = audit_json("--size-budget", "100MB", path)
    assert (rc, _codes(doc)) == (0, [])
    rc, doc = audit_json("--size-budget", "1KB", path)
    assert (rc, _codes(doc)) == (1, ["WG601"])
    proc = run_wheelguard("audit", "--size-budget", "lots", path)
    assert proc.returncode == 2
    assert "not a size: 'lots'" in proc.stderr


@pytest.mark.parametrize("value", ["3", "cp312", "/usr/bin/python3", "3.12.1", "2.7x"])
def test_python_version_is_validated(fixture_wheels: Wheels, value: str) -> None:
    for command in ("audit", "show"):
        rc, _out, err = run_inprocess([command, "--python-version", value,
                                       fixture_wheels["clean"].path])
        assert rc == 2
        assert "want a Python version as X.Y" in err


def test_python_version_and_its_old_spelling(fixture_wheels: Wheels) -> None:
    for flag in ("--python-version", "--python"):
        rc, _out, err = run_inprocess(["audit", flag, "3.12", fixture_wheels["clean"].path])
        assert rc == 0, err

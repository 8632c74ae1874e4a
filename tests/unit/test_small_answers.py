"""The small wrong answers of issue 12, each pinned: the size budget counts the file, repair
does not exit 0 with an error left, show takes several wheels, ``show --deps`` says where it
looked, and ``wheelguard diff`` reports what changed between builds and releases."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.cli import audit_json, run_inprocess, run_wheelguard
from helpers.fixtures import BuiltFixture
from helpers.wheels import build_wheel

Wheels = Mapping[str, BuiltFixture]
CACHE = Path.home() / ".cache" / "wheelguard" / "wheels"
FFI = "apache_tvm_ffi-{}-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"


def test_size_budget_counts_the_wheel_file(tmp_path: Path) -> None:
    """Compressed members leave out the zip's headers: a budget between the two must fail."""
    wheel = build_wheel(tmp_path, {f"demo/m{i}.py": b"x = 1\n" for i in range(60)})
    _rc, doc = audit_json(wheel)
    summary = doc["wheels"][0]["summary"]
    assert summary["file_bytes"] == wheel.stat().st_size > summary["compressed_bytes"]
    between = (summary["file_bytes"] + summary["compressed_bytes"]) // 2
    rc, doc = audit_json("--size-budget", str(between), wheel)
    assert rc == 1
    (finding,) = doc["wheels"][0]["findings"]
    assert finding["data"]["measure"] == "file"
    assert finding["data"]["file"] == wheel.stat().st_size


def test_repair_leaving_an_error_exits_1(fixture_wheels: Wheels, tmp_path: Path) -> None:
    wheel = fixture_wheels["wg301_needed_unresolved"].path
    rc, out, err = run_inprocess(["repair", "--isolated", "-w", tmp_path / "out", wheel])
    assert rc == 1, out + err
    assert "left: WG301 needed-unresolved" in out
    assert "at or above --fail-on error are left: exit 1" in out
    assert (tmp_path / "out" / wheel.name).is_file()  # written, and named as not good enough
    rc, _out, _err = run_inprocess(["repair", "--isolated", "--fail-on", "never", "-w",
                                    tmp_path / "out2", wheel])
    assert rc == 0


def test_show_takes_several_wheels(fixture_wheels: Wheels) -> None:
    paths = [fixture_wheels["clean"].path, fixture_wheels["wg201_rpath_absolute"].path]
    rc, out, _err = run_inprocess(["show", "--format", "json", *paths])
    assert rc == 0
    docs = json.loads(out)
    assert [d["wheel"] for d in docs] == [p.name for p in paths]
    proc = run_wheelguard("show", *paths)
    assert proc.returncode == 0
    assert proc.stdout.count("demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl (") == 2


def test_show_deps_without_wheelhouse_says_so(fixture_wheels: Wheels) -> None:
    proc = run_wheelguard("show", "--deps", fixture_wheels["wg301_needed_undeclared_provider"]
                          .path)
    assert proc.returncode == 0, proc.stderr
    assert "the wheelhouse" not in proc.stdout
    assert "older: no --wheelhouse or --download given" in proc.stdout
    # The verdict no longer says "none needed" above a list of what was needed and missing.
    verdict = next(line for line in proc.stdout.splitlines() if line.startswith("verdict "))
    assert "no provider wheel was read" in verdict
    assert "none needed" not in verdict
    assert "outside the whitelist: libtvm_ffi.so" in proc.stdout


def _ffi(version: str) -> Path:
    path = CACHE / FFI.format(version)
    if not path.is_file():
        pytest.skip(f"{path.name} is not in the wheel cache (python tests/corpus/fetch.py)")
    return path


def test_diff_of_two_published_releases(tmp_path: Path) -> None:
    old, new = _ffi("0.1.11"), _ffi("0.1.12")
    rc, out, err = run_inprocess(["diff", "--format", "json", old, new])
    assert rc == 0, err
    (pair,) = json.loads(out)["pairs"]
    assert pair["version"] == {"old": "0.1.11", "new": "0.1.12"}
    assert pair["size"]["file"]["delta"] == new.stat().st_size - old.stat().st_size
    files = pair["files"]
    assert files["added"]
    assert files["removed"]
    # Directories pair by distribution and tags, so a version bump still pairs.
    for side, wheel in (("old", old), ("new", new)):
        (tmp_path / side).mkdir()
        shutil.copy(wheel, tmp_path / side / wheel.name)
    rc, out, _err = run_inprocess(["diff", tmp_path / "old", tmp_path / "new"])
    assert rc == 0
    lines = out.splitlines()
    assert lines[0] == f"{old.name} -> {new.name}"
    assert "  version 0.1.11 -> 0.1.12" in lines
    assert lines[-1] == "1 wheel(s) compared, 0 added, 0 removed"


def test_diff_names_library_needed_rpath_and_requirement_changes(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    """Two builds of one wheel: a RUNPATH entry and a Requires-Dist that changed."""
    rc, out, _err = run_inprocess(["diff", "--format", "json",
                                   fixture_wheels["wg205_rpath_missing_dir"].path,
                                   fixture_wheels["wg201_rpath_absolute"].path])
    assert rc == 0
    (pair,) = json.loads(out)["pairs"]
    assert pair["libraries"]["added"]
    assert pair["libraries"]["removed"]
    a = build_wheel(tmp_path / "a", {"demo/__init__.py": b""}, requires_dist=["numpy>=1"])
    b = build_wheel(tmp_path / "b", {"demo/__init__.py": b"", "demo/new.py": b"x = 1\n"},
                    requires_dist=["numpy>=2", "torch"])
    rc, out, _err = run_inprocess(["diff", a, b])
    assert "  Requires-Dist: +torch any version; numpy >=1 -> >=2" in out.splitlines()
    assert "  + demo/new.py (6 B)" in out.splitlines()


def test_diff_refuses_a_wheel_against_a_directory(fixture_wheels: Wheels, tmp_path: Path
                                                  ) -> None:
    rc, _out, err = run_inprocess(["diff", fixture_wheels["clean"].path, tmp_path])
    assert rc == 2
    assert "both be wheels or both be directories" in err

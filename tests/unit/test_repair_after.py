"""The repaired wheel's model is derived from the first scan, and must be what a scan reads.

``wheelguard repair`` reports the findings left in its output from a model built out of the
input's scan and the members it wrote (:mod:`wheelguard.repair.after`), instead of scanning
the output again. For every fixture wheel a repair can write, under the policies the project
ships, that model must equal :func:`~wheelguard.reading.scan.scan_wheel` of the output.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.fixtures import FIXTURES, INIT, BuiltFixture, native_files
from helpers.wheels import build_wheel

from wheelguard.errors import RepairError
from wheelguard.policy.load import load_policy
from wheelguard.policy.schema import PolicySet
from wheelguard.reading.archive import WheelArchive
from wheelguard.reading.scan import scan_wheel
from wheelguard.repair.after import repaired_wheel
from wheelguard.repair.write import repair_wheel

Wheels = Mapping[str, BuiltFixture]
TODAY = dt.date(2026, 1, 1)
_SETS = (("default",), ("default", "tvm-ffi"), ("default", "tilelang"))


def _policies(names: tuple[str, ...]) -> PolicySet:
    return PolicySet(tuple(load_policy(n) for n in names), today=TODAY)


@pytest.mark.parametrize("names", _SETS, ids="+".join)
@pytest.mark.parametrize("fixture", [f.name for f in FIXTURES])
def test_derived_model_equals_a_scan_of_the_output(
    fixture_wheels: Wheels, tmp_path: Path, fixture: str, names: tuple[str, ...]
) -> None:
    try:
        result = repair_wheel(fixture_wheels[fixture].path, tmp_path, _policies(names), env={})
    except RepairError:
        pytest.skip("the policies cannot repair this fixture")
    except ValueError as e:  # an input no installer takes is not repaired
        pytest.skip(str(e))
    assert result.output is not None
    assert result.wheel_after is not None
    assert result.wheel_after == scan_wheel(result.output)


def test_mach_o_repair_model_equals_a_scan(tmp_path: Path) -> None:
    files = native_files()
    if files is None:
        pytest.skip("zig is not installed: no Mach-O fixtures")
    wheel = build_wheel(tmp_path / "in", {**INIT, "demo/lib/libfoo.dylib":
                                          files["macos/libfoo-universal2.dylib"]},
                        tag="cp312-abi3-macosx_11_0_arm64")
    result = repair_wheel(wheel, tmp_path / "out", _policies(("default",)), env={})
    assert result.changed
    assert result.output is not None
    assert result.wheel_after == scan_wheel(result.output)


def test_an_output_that_does_not_hold_what_was_written_is_refused(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    src = fixture_wheels["clean"].path
    result = repair_wheel(src, tmp_path, _policies(("default",)), env={})
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        record_name = next(n for n in zf.namelist() if n.endswith("/RECORD"))
        record = zf.read(record_name)
    scanned = scan_wheel(src)
    with WheelArchive(src) as archive:
        assert repaired_wheel(scanned, archive, result.output, {record_name: record}) \
            == scan_wheel(result.output)
        with pytest.raises(RepairError, match="does not hold the bytes written"):
            repaired_wheel(scanned, archive, result.output, {record_name: record + b"x"})

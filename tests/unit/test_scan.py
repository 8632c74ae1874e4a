"""Scanning: every member read once, RECORD parsed as the spec writes it, metadata as given."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from helpers.fixtures import INIT
from helpers.wheels import RecordTweaks, build_wheel, record_digest, wheel_files

from wheelguard.audit import audit_wheel
from wheelguard.knowledge.providers import declared
from wheelguard.reading.scan import scan_wheel


def _record_with(line_end: str) -> bytes:
    rows = [
        (e.name, record_digest(e.data), str(len(e.data)))
        for e in wheel_files(INIT)
        if not e.name.endswith("RECORD")
    ]
    out = io.StringIO()
    rows.append(("demo-1.0.dist-info/RECORD", "", ""))
    csv.writer(out, lineterminator=line_end).writerows(rows)
    return out.getvalue().encode()


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"], ids=["lf", "crlf", "cr"])
def test_record_line_endings(tmp_path: Path, line_end: str) -> None:
    path = build_wheel(tmp_path, INIT, record=RecordTweaks(raw=_record_with(line_end)))
    assert audit_wheel(path).findings == ()


def test_members_are_hashed_as_record_writes_them(tmp_path: Path) -> None:
    data = b"payload\n" * 100
    wheel = scan_wheel(build_wheel(tmp_path, {**INIT, "demo/d.txt": data}))
    member = wheel.member("demo/d.txt")
    assert member is not None
    assert "sha256=" + member.sha256 == record_digest(data)
    assert member.size == len(data)
    assert member.compressed_size < member.size
    assert wheel.record[-1].path == "demo-1.0.dist-info/RECORD"
    assert (wheel.record[-1].hash, wheel.record[-1].size) == (None, None)


def test_requirements_in_force_follow_markers_and_extras(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, INIT, requires_dist=[
        "apache-tvm-ffi>=0.1.12",
        "z3-solver; sys_platform == 'linux'",
        "pywin32; sys_platform == 'win32'",
        "torch; extra == 'gpu'",
    ])
    wheel = scan_wheel(path)
    assert set(declared(wheel)) == {"apache-tvm-ffi", "z3-solver"}
    assert set(declared(wheel, extras=["gpu"])) == {"apache-tvm-ffi", "z3-solver", "torch"}
    assert [str(r.name) for r in wheel.requires_dist] == [
        "apache-tvm-ffi", "z3-solver", "pywin32", "torch",
    ]

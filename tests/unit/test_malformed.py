"""Hostile and broken input never shows a traceback: exit 2 and one line on stderr.

Each case runs the real CLI in a fresh interpreter, as CI would, on an archive crafted to be
wrong in exactly one way.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from helpers.cli import run_wheelguard
from helpers.fixtures import BuiltFixture
from helpers.wheels import (
    RecordTweaks,
    ZipEntry,
    member_data_span,
    patch_central,
    patch_member,
    wheel_files,
    zip_bytes,
)

from wheelguard.errors import InvalidWheel
from wheelguard.reading.archive import Limits, WheelArchive

NAME = "demo-1.0-py3-none-any.whl"
PAYLOAD = {"demo/__init__.py": b'"""demo"""\n', "demo/data.txt": b"0123456789abcdef" * 256}


def _wheel(
    extra: list[ZipEntry] | None = None,
    *,
    record: RecordTweaks | None = None,
    requires_dist: Sequence[str] = (),
) -> bytes:
    """A valid wheel's bytes, with ``extra`` members first (before the good ones)."""
    entries = wheel_files(PAYLOAD, tag="py3-none-any", record=record, requires_dist=requires_dist)
    return zip_bytes([*(extra or []), *entries])


def _corrupt_deflate() -> bytes:
    data = _wheel()
    start, end = member_data_span(data, "demo/data.txt")
    mid = (start + end) // 2
    return data[:mid] + b"\xff" * (end - mid) + data[end:]


def _truncated_deflate() -> bytes:
    """The member's deflate stream cut in half, both headers agreeing on the shorter size (and
    on the full inflated size and CRC): a consistent archive whose stream ends too soon."""
    data = PAYLOAD["demo/data.txt"]
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = packer.compress(data) + packer.flush()
    half = stream[: len(stream) // 2]
    built = _wheel_with({"demo/data.txt": ZipEntry("demo/data.txt", half,
                                                   compress=zipfile.ZIP_STORED)})
    return patch_member(built, "demo/data.txt", method=zipfile.ZIP_DEFLATED,
                        crc=zlib.crc32(data), file_size=len(data))


def _wheel_with(replace: Mapping[str, ZipEntry]) -> bytes:
    entries = wheel_files(PAYLOAD, tag="py3-none-any")
    return zip_bytes([replace.get(e.name, e) for e in entries])


def _bad_crc(*, local_too: bool = True) -> bytes:
    """A CRC-32 that does not match the data, in both headers (or in the central one only)."""
    data = _wheel()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        crc = zf.getinfo("demo/data.txt").CRC
    patch = patch_member if local_too else patch_central
    return patch(data, "demo/data.txt", crc=crc ^ 0xFFFF)


def _encrypted() -> bytes:
    return patch_central(_wheel(), "demo/data.txt", flags=0x1)


def _bomb_ratio() -> bytes:
    return _wheel([ZipEntry("demo/zeros.bin", bytes(16 << 20))])


def _bomb_declared() -> bytes:
    return patch_central(_wheel(), "demo/data.txt", file_size=0xFFFFFFF0)


# name -> (file name, bytes or None for "make a directory"/"leave missing", stderr fragment)
Case = tuple[str, Callable[[], bytes | None] | None, str]
CASES: dict[str, Case] = {
    "not-a-zip": (NAME, lambda: b"this is not a zip file\n" * 10, "not a zip archive"),
    "empty-file": (NAME, lambda: b"", "not a zip archive"),
    "truncated-archive": (NAME, lambda: _wheel()[:200], "not a zip archive"),
    "missing-file": (NAME, None, "no such file"),
    "dotdot-member": (NAME, lambda: _wheel([ZipEntry("demo/../../evil.py", b"x")]),
                      "escapes the install root"),
    "dotdot-directory-entry": (NAME, lambda: _wheel([ZipEntry("../evil/", b"",
                                                              mode=stat.S_IFDIR | 0o755)]),
                               "escapes the install root"),
    "absolute-member": (NAME, lambda: _wheel([ZipEntry("/etc/evil.py", b"x")]),
                        "is an absolute path"),
    "drive-letter-member": (NAME, lambda: _wheel([ZipEntry("C:/evil.py", b"x")]),
                            "is an absolute path"),
    "backslash-member": (NAME, lambda: _wheel([ZipEntry("demo\\evil.py", b"x")]),
                         "backslashes"),
    "duplicate-member": (NAME, lambda: _wheel([ZipEntry("demo/__init__.py", b"other")]),
                         "duplicate member name"),
    "symlink-member": (NAME, lambda: _wheel([ZipEntry("demo/link", b"/etc/passwd",
                                                      mode=stat.S_IFLNK | 0o777)]),
                       "is a symlink"),
    "encrypted-member": (NAME, _encrypted, "is encrypted"),
    "zip-bomb-ratio": (NAME, _bomb_ratio, "zip bomb guard"),
    "zip-bomb-declared-size": (NAME, _bomb_declared, "zip bomb guard"),
    "bad-crc": (NAME, _bad_crc, "is corrupt"),
    "crc-headers-disagree": (NAME, lambda: _bad_crc(local_too=False),
                             "differ from the central directory"),
    "corrupt-deflate": (NAME, _corrupt_deflate, "is corrupt"),
    "truncated-deflate": (NAME, _truncated_deflate, "is corrupt"),
    "no-dist-info": (NAME, lambda: zip_bytes([ZipEntry("demo/__init__.py", b"")]),
                     "no .dist-info directory"),
    "two-dist-infos": (NAME, lambda: _wheel([ZipEntry("x-1.dist-info/METADATA", b"")]),
                       "several .dist-info directories"),
    "no-metadata": (NAME, lambda: zip_bytes(
        [e for e in wheel_files(PAYLOAD, tag="py3-none-any")
         if not e.name.endswith("/METADATA")]), "METADATA is missing"),
    "record-row-two-fields": (NAME, lambda: _wheel(record=RecordTweaks(raw=b"demo/a.py,x\n")),
                              "RECORD line 1 has 2 fields"),
    "record-size-not-int": (NAME, lambda: _wheel(
        record=RecordTweaks(raw=b"demo/__init__.py,sha256=x,twelve\n")), "size 'twelve'"),
    "record-not-csv": (NAME, lambda: _wheel(
        record=RecordTweaks(raw=b"x" * 200_000 + b",,\n")), "RECORD is not valid CSV"),
    "invalid-requires-dist": (NAME, lambda: _wheel(requires_dist=["foo >>> 1"]),
                              "invalid Requires-Dist"),
    "bad-wheel-filename": ("demo.whl", _wheel, "not a wheel file name"),
    "zip-not-whl": ("demo-1.0.zip", _wheel, "not a wheel file name"),
    "directory": (NAME, lambda: None, "is a directory"),
}


def _materialise(tmp_path: Path, case: Case) -> Path:
    filename, make, _ = case
    path = tmp_path / filename
    if make is None:
        return path
    data = make()
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_input_exits_2_with_one_line(tmp_path: Path, case: str) -> None:
    path = _materialise(tmp_path, CASES[case])
    proc = run_wheelguard("audit", path)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"wheelguard: error: {path}: ")
    assert CASES[case][2] in lines[0]


def test_json_report_lists_unreadable_wheels_and_audits_the_rest(
    tmp_path: Path, fixture_wheels: Mapping[str, BuiltFixture]
) -> None:
    bad = _materialise(tmp_path, CASES["symlink-member"])
    good = fixture_wheels["clean"].path
    proc = run_wheelguard("audit", "--format", "json", bad, good)
    assert proc.returncode == 2
    doc = json.loads(proc.stdout)
    assert [e["path"] for e in doc["errors"]] == [str(bad)]
    assert "is a symlink" in doc["errors"][0]["error"]
    assert [w["path"] for w in doc["wheels"]] == [str(good)]
    assert doc["summary"]["unreadable"] == 1
    assert doc["summary"]["failed"] is True


def test_limits_are_checked_from_the_directory_alone(tmp_path: Path) -> None:
    """A member over the size limit is refused before a byte of it is inflated."""
    path = tmp_path / NAME
    path.write_bytes(_wheel())
    with pytest.raises(InvalidWheel, match="over the 100-byte limit"):
        WheelArchive(path, Limits(max_member_size=100))
    with pytest.raises(InvalidWheel, match="members total"):
        WheelArchive(path, Limits(max_total_size=1000))
    with pytest.raises(InvalidWheel, match="exceed the limit"):
        WheelArchive(path, Limits(max_members=2))
    with WheelArchive(path) as archive:
        assert "demo/data.txt" in archive.names()

"""The fixture builders themselves: a test of RECORD checking is only as good as the wheels it
reads, so the packer is checked against pypa's installer, an independent RECORD validator."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.clibs import EM_386, minimal_elf, retarget
from helpers.fixtures import BuiltFixture
from helpers.published import PINS, Pin, cache_dir, fetch
from helpers.wheels import RecordTweaks, ZipEntry, build_wheel, patch_central, zip_bytes
from installer.sources import WheelFile


def _validate(path: Path) -> None:
    with WheelFile.open(path) as source:
        source.validate_record()


def test_packed_wheels_pass_installer_validation(
    fixture_wheels: Mapping[str, BuiltFixture],
) -> None:
    for name, built in fixture_wheels.items():
        if name == "wg507_other_project":  # what WG507 reports, installer refuses too
            with pytest.raises(ValueError, match="dist-info"):
                _validate(built.path)
        elif built.spec.record is None:
            _validate(built.path)
        else:
            with pytest.raises(ValueError, match="RECORD"):
                _validate(built.path)
            assert name in ("wg501_record_mismatch", "wg512_record_unreadable")


def test_archive_order_is_reproducible(tmp_path: Path) -> None:
    files = {"demo/__init__.py": b"", "demo/z.py": b"z", "demo/a.py": b"a"}
    first = build_wheel(tmp_path / "1", files).read_bytes()
    second = build_wheel(tmp_path / "2", dict(reversed(files.items()))).read_bytes()
    assert first == second
    names = zipfile.ZipFile(tmp_path / "1" / "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl")
    assert names.namelist()[-1] == "demo-1.0.dist-info/RECORD"
    assert names.namelist()[0] == "demo/__init__.py"


def test_record_tweaks_break_exactly_what_they_say(tmp_path: Path) -> None:
    tweaks = RecordTweaks(omit=frozenset({"demo/a.py"}))
    path = build_wheel(tmp_path, {"demo/a.py": b"a"}, record=tweaks)
    with pytest.raises(ValueError, match=r"demo/a\.py"):
        _validate(path)


def test_patch_central_changes_one_field() -> None:
    data = zip_bytes([ZipEntry("a.txt", b"hello"), ZipEntry("b.txt", b"world")])
    patched = patch_central(data, "b.txt", flags=0x1)
    with zipfile.ZipFile(io.BytesIO(patched)) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert infos["b.txt"].flag_bits & 0x1
    assert not infos["a.txt"].flag_bits & 0x1


def test_crafted_elves_read_as_their_claimed_machine(
    libs: Mapping[str, bytes], tmp_path: Path
) -> None:
    (tmp_path / "arm.so").write_bytes(retarget(libs["libdemo.so"], 183))
    (tmp_path / "i686.so").write_bytes(minimal_elf(EM_386))
    header = subprocess.run(["readelf", "-h", str(tmp_path / "arm.so")], capture_output=True,
                            text=True, check=True).stdout
    assert "AArch64" in header
    header = subprocess.run(["readelf", "-h", str(tmp_path / "i686.so")], capture_output=True,
                            text=True, check=True).stdout
    assert "Intel 80386" in header
    assert "ELF32" in header


def test_published_cache_hit_needs_no_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"cached bytes"
    pin = Pin("fake", "1.0", "fake-1.0-py3-none-any.whl", hashlib.sha256(data).hexdigest(),
              "any", "3.12")
    monkeypatch.setitem(PINS, "fake", pin)
    (tmp_path / pin.filename).write_bytes(data)
    assert fetch("fake", tmp_path) == tmp_path / pin.filename
    monkeypatch.setenv("WHEELGUARD_WHEEL_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    assert fetch("fake") == tmp_path / pin.filename


def test_pins_match_their_file_names() -> None:
    from packaging.utils import canonicalize_name, parse_wheel_filename

    for key, pin in PINS.items():
        name, version, _build, _tags = parse_wheel_filename(pin.filename)
        # A key may add a platform qualifier ("apache-tvm-ffi-macos") to the project name.
        assert name == canonicalize_name(pin.project)
        assert canonicalize_name(key).startswith(name)
        assert str(version) == pin.version
        assert len(pin.sha256) == 64

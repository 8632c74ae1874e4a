"""The PE adapter against the zig-built fixtures: imports, delay imports, exports and machine
as the Windows loader sees them, lief's reading as the independent reference, and a clean
error on bad input."""

from __future__ import annotations

import random
import struct

import lief
import pytest
from helpers.native_fixtures import FIXTURES, FixtureName, NativeFixtures

from wheelguard.formats import parse_native
from wheelguard.formats.pe import PEParseError, parse_pe
from wheelguard.model import ArchivePath, Binary

lief.logging.disable()

PE: list[FixtureName] = [n for n in FIXTURES if n.startswith("windows/")]


def parse(fx: NativeFixtures, name: FixtureName) -> Binary:
    b = parse_pe(ArchivePath(name), fx.read(name))
    assert b is not None
    return b


@pytest.mark.parametrize(
    ("name", "machine", "bits"),
    [("windows/consumer.dll", "x86_64", 64), ("windows/consumer-i686.dll", "i686", 32),
     ("windows/consumer-arm64.dll", "arm64", 64)],
)
def test_machine_names_match_wheel_tags(
    native_fixtures: NativeFixtures, name: FixtureName, machine: str, bits: int
) -> None:
    b = parse(native_fixtures, name)
    assert (b.format, b.machine, b.bits) == ("pe", machine, bits)
    assert b.is_shared_object
    assert b.pe is not None
    assert b.pe.kind == "dll"
    assert b.soname is None  # Windows loads DLLs by file name
    assert b.pe.imports == ("KERNEL32.dll", "tvm_ffi.dll")
    assert "consumer_call" in b.exported
    assert "TVMFFIFunctionCall" in b.undefined


def test_delay_imports_are_needed_but_marked(native_fixtures: NativeFixtures) -> None:
    b = parse(native_fixtures, "windows/delayed.dll")
    assert b.pe is not None
    assert (b.pe.imports, b.pe.delay_imports) == (("KERNEL32.dll",), ("tvm_ffi.dll",))
    assert b.needed == ("KERNEL32.dll", "tvm_ffi.dll")
    assert "TVMFFIFunctionCall" in b.undefined


def test_extension_module_and_grafted_copy(native_fixtures: NativeFixtures) -> None:
    ext = parse(native_fixtures, "windows/core.cp312-win_amd64.pyd")
    assert ext.needed == ("python312.dll", "tvm_ffi.dll")
    assert "PyInit_core" in ext.exported
    grafted = parse(native_fixtures, "windows/tvm_ffi-1a2b3c4d.dll")
    assert grafted.pe is not None
    assert grafted.pe.export_name == "tvm_ffi.dll"
    assert {"TVMFFIFunctionCall", "TVMFFIObjectIncRef"} <= grafted.exported


@pytest.mark.parametrize("name", PE)
def test_same_facts_as_lief(native_fixtures: NativeFixtures, name: FixtureName) -> None:
    data = native_fixtures.read(name)
    b = parse(native_fixtures, name)
    ref = lief.PE.parse(data)
    assert ref is not None
    assert b.pe is not None
    assert list(b.pe.imports) == [str(i.name) for i in ref.imports]
    assert list(b.pe.delay_imports) == [str(i.name) for i in ref.delay_imports]
    export = ref.get_export() if ref.has_exports else None
    assert b.exported == ({str(e.name) for e in export.entries if e.name} if export else set())


def test_mz_without_pe_header_is_not_a_binary() -> None:
    dos = bytearray(b"MZ" + bytes(126))
    struct.pack_into("<I", dos, 0x3C, 64)
    dos[64:68] = b"NE\0\0"
    assert parse_pe(ArchivePath("old.exe"), bytes(dos)) is None
    assert parse_native(ArchivePath("old.exe"), bytes(dos)) is None


def test_every_truncation_is_a_parse_error(native_fixtures: NativeFixtures) -> None:
    data = native_fixtures.read("windows/delayed.dll")
    for cut in range(0, len(data), 61):
        try:
            parse_pe(ArchivePath("x"), data[:cut])
        except PEParseError:
            continue
        # A cut past every table the adapter reads is a readable (if short) image.
        assert cut > 1024, cut


def test_corrupted_fields_never_escape_as_other_errors(native_fixtures: NativeFixtures) -> None:
    data = native_fixtures.read("windows/delayed.dll")
    rng = random.Random(2718)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(400):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(0x3C, min(len(data), 0x600) - 4)
            struct.pack_into("<I", mutated, at, rng.choice(
                [0, 0xFFFFFFFF, 0x80000000, len(data), rng.getrandbits(32)]))
        try:
            parse_pe(ArchivePath("x"), bytes(mutated))
            outcomes["parsed"] += 1
        except PEParseError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 20, outcomes
    assert outcomes["parsed"] > 20, outcomes

"""The Mach-O adapter against the zig-built fixtures: every fact in Mach-O words, the same
facts lief reads (its parse is the independent reference), and a clean error on bad input."""

from __future__ import annotations

import random
import struct

import lief
import pytest
from helpers.native_fixtures import FIXTURES, MACHO_RPATHS, FixtureName, NativeFixtures
from helpers.native_variants import broken_signature, with_minos

from wheelguard.formats import parse_native
from wheelguard.formats.macho import MachOParseError, parse_macho, signature_range, slice_ranges
from wheelguard.model import ArchivePath, Binary, DylibLoad

lief.logging.disable()

MACHO: list[FixtureName] = [n for n in FIXTURES if n.startswith("macos/") and "Info.plist" not in n]
DSYM: FixtureName = "macos/libfoo-arm64.dylib.dSYM/Contents/Resources/DWARF/libfoo-arm64.dylib"


def parse(fx: NativeFixtures, name: FixtureName) -> Binary:
    return parse_macho(ArchivePath(name), fx.read(name))


def test_consumer_in_mach_o_words(native_fixtures: NativeFixtures) -> None:
    b = parse(native_fixtures, "macos/libfoo-arm64.dylib")
    assert b.macho is not None
    (s,) = b.macho.slices
    assert (s.arch, s.file_type, s.install_name) == ("arm64", "dylib", "@rpath/libfoo.dylib")
    assert b.soname == "@rpath/libfoo.dylib"
    assert [(d.kind, d.name) for d in s.dylibs] == [
        ("load", "/usr/lib/libSystem.B.dylib"),
        ("reexport", "@rpath/libreexported.dylib"),
        ("load", "@rpath/libtvm_ffi.dylib"),
        ("upward", "@rpath/libupward.dylib"),
        ("weak", "@rpath/libweakdep.dylib"),
    ]
    # LC_RPATH verbatim: @loader_path stays @loader_path.
    assert s.rpaths == MACHO_RPATHS == b.rpath
    assert b.runpath == ()
    assert b.search_path_tag == "LC_RPATH"
    assert (s.platform, s.min_os, s.min_os_command) == ("macos", (11, 0, 0), "LC_BUILD_VERSION")
    assert (s.signature, s.signature_valid) == ("linker-signed", True)
    assert {"foo_call", "foo_version"} <= b.exported
    assert {"TVMFFIFunctionCall", "upward_value", "weakdep_value", "getpid"} <= b.undefined
    assert b.is_shared_object
    assert not b.has_debug_info
    assert b.macho.load_kind("@rpath/libweakdep.dylib") == "weak"


def test_versions_of_load_commands(native_fixtures: NativeFixtures) -> None:
    b = parse(native_fixtures, "macos/core.abi3.so")
    assert b.macho is not None
    assert b.macho.slices[0].dylibs[0] == DylibLoad("load", "/usr/lib/libSystem.B.dylib",
                                                    "1359.0.0", "1.0.0")


def test_universal_file_has_both_slices(native_fixtures: NativeFixtures) -> None:
    b = parse(native_fixtures, "macos/libfoo-universal2.dylib")
    assert b.macho is not None
    assert b.macho.fat
    assert b.macho.arches == ("x86_64", "arm64")
    assert b.machine == "arm64+x86_64"
    signatures = [(s.arch, s.signature, s.signature_valid) for s in b.macho.slices]
    assert signatures == [("x86_64", None, None), ("arm64", "linker-signed", True)]
    one = parse(native_fixtures, "macos/libfoo-fat-arm64-only.dylib")
    assert one.macho is not None
    assert one.macho.fat
    assert one.macho.arches == ("arm64",)


@pytest.mark.parametrize(
    ("name", "command", "version"),
    [("macos/libmacos14-arm64.dylib", "LC_BUILD_VERSION", "14.0"),
     ("macos/libmacos1013-x86_64.dylib", "LC_VERSION_MIN_MACOSX", "10.13")],
)
def test_minimum_macos_from_either_command(
    native_fixtures: NativeFixtures, name: FixtureName, command: str, version: str
) -> None:
    (s,) = parse(native_fixtures, name).macho.slices  # type: ignore[union-attr]
    assert (s.min_os_command, s.min_os_text, s.platform) == (command, version, "macos")


def test_signature_absent_present_and_broken(native_fixtures: NativeFixtures) -> None:
    (unsigned,) = parse(native_fixtures, "macos/libfoo-unsigned-arm64.dylib").macho.slices  # type: ignore[union-attr]
    assert (unsigned.signature, unsigned.signature_valid) == (None, None)
    (x86,) = parse(native_fixtures, "macos/libfoo-x86_64.dylib").macho.slices  # type: ignore[union-attr]
    assert x86.signature is None
    data = native_fixtures.read("macos/libmacos14-arm64.dylib")
    (broken,) = parse_macho(ArchivePath("x"), broken_signature(data)).macho.slices  # type: ignore[union-attr]
    assert (broken.signature, broken.signature_valid) == ("linker-signed", False)
    (edited,) = parse_macho(ArchivePath("x"), with_minos(data, 14, 2)).macho.slices  # type: ignore[union-attr]
    assert (edited.min_os_text, edited.signature_valid) == ("14.2", True)


def test_bundle_and_dsym_file_types(native_fixtures: NativeFixtures) -> None:
    bundle = parse(native_fixtures, "macos/core.abi3.so")
    assert bundle.macho is not None
    assert bundle.macho.file_type == "bundle"
    assert bundle.soname is None
    assert bundle.is_shared_object
    assert "PyInit_core" in bundle.exported
    assert "PyModule_Create2" in bundle.undefined
    dsym = parse(native_fixtures, DSYM)
    lib = parse(native_fixtures, "macos/libfoo-arm64.dylib")
    assert dsym.is_debug_companion
    assert not lib.is_debug_companion
    assert dsym.has_debug_info
    assert dsym.needed == ()
    assert dsym.build_id == lib.build_id is not None


def _lief_facts(data: bytes) -> tuple[str | None, list[str], list[str], set[str], set[str]]:
    fat = lief.MachO.parse(data)
    assert fat is not None
    ident, needed, rpaths, exported, imported = None, [], [], set(), set()
    for i in range(fat.size):
        binary = fat.at(i)
        assert binary is not None
        for cmd in binary.commands:
            if isinstance(cmd, lief.MachO.DylibCommand):
                if cmd.command == lief.MachO.LoadCommand.TYPE.ID_DYLIB:
                    ident = ident or cmd.name
                elif cmd.name not in needed:
                    needed.append(cmd.name)
            elif isinstance(cmd, lief.MachO.RPathCommand) and cmd.path not in rpaths:
                rpaths.append(cmd.path)
        exported |= {str(s.name).removeprefix("_") for s in binary.exported_symbols}
        imported |= {str(s.name).removeprefix("_") for s in binary.imported_symbols}
    return ident, needed, rpaths, exported, imported


@pytest.mark.parametrize("name", [n for n in MACHO if n != DSYM])
def test_same_facts_as_lief(native_fixtures: NativeFixtures, name: FixtureName) -> None:
    data = native_fixtures.read(name)
    b = parse_macho(ArchivePath(name), data)
    ident, needed, rpaths, exported, imported = _lief_facts(data)
    assert (b.soname, list(b.needed), list(b.rpath)) == (ident, needed, rpaths)
    assert b.exported == exported
    # lief counts weak definitions it sees in the bind opcodes as imports; the symbol table
    # says which externals are undefined, and those are what this adapter reports.
    assert b.undefined <= imported


def test_slices_and_signature_location(native_fixtures: NativeFixtures) -> None:
    fat = native_fixtures.read("macos/libfoo-universal2.dylib")
    ranges = slice_ranges(fat)
    assert len(ranges) == 2
    thin = native_fixtures.read("macos/libfoo-arm64.dylib")
    assert ranges[1][1] == len(thin)
    assert signature_range(fat, *ranges[0]) is None
    where = signature_range(fat, *ranges[1])
    assert where is not None
    assert where[0] + where[1] <= len(thin)


def test_dispatch_reads_macho(native_fixtures: NativeFixtures) -> None:
    b = parse_native(ArchivePath("x.dylib"), native_fixtures.read("macos/libtvm_ffi-x86_64.dylib"))
    assert b is not None
    assert (b.format, b.machine) == ("macho", "x86_64")


# ---- malformed input: MachOParseError, never anything else --------------------------------


@pytest.mark.parametrize("name", ["macos/libtvm_ffi-arm64.dylib", "macos/libfoo-universal2.dylib"])
def test_every_truncation_is_a_parse_error(native_fixtures: NativeFixtures,
                                           name: FixtureName) -> None:
    data = native_fixtures.read(name)
    cuts = sorted({*range(0, 4096, 7), *range(0, len(data), 997)})
    for cut in cuts:
        with pytest.raises(MachOParseError):
            parse_macho(ArchivePath("x"), data[:cut])


def test_corrupted_fields_never_escape_as_other_errors(native_fixtures: NativeFixtures) -> None:
    """Random words of the header and load commands overwritten: either it still parses or
    it fails with MachOParseError."""
    data = native_fixtures.read("macos/libfoo-arm64.dylib")
    sizeofcmds = struct.unpack_from("<I", data, 20)[0]
    rng = random.Random(1313)
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(400):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(0, 32 + sizeofcmds - 4) & ~3
            struct.pack_into("<I", mutated, at, rng.choice(
                [0, 1, 0xFFFFFFFF, 0x7FFFFFFF, len(data), rng.getrandbits(32)]))
        try:
            parse_macho(ArchivePath("x"), bytes(mutated))
            outcomes["parsed"] += 1
        except MachOParseError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 50, outcomes
    assert outcomes["parsed"] > 50, outcomes


def test_export_trie_cycle_is_refused(native_fixtures: NativeFixtures) -> None:
    data = bytearray(native_fixtures.read("macos/libtvm_ffi-arm64.dylib"))
    b = parse_macho(ArchivePath("x"), bytes(data))
    assert b.exported
    # Point the root's first child back at the root.
    from wheelguard.formats.macho import _SliceReader  # the trie location, as the adapter sees it

    reader = _SliceReader(bytes(data), 0, len(data))
    cmds = reader._commands(32, struct.unpack_from("<I", data, 16)[0],
                            32 + struct.unpack_from("<I", data, 20)[0])
    assert cmds.exports_trie is not None
    offset, _size = cmds.exports_trie
    # root: terminal size 0, then child count, then "edge\0" + uleb child offset
    assert data[offset] == 0
    edge_end = data.index(b"\0", offset + 2)
    data[edge_end + 1] = 0  # child offset 0: the root again
    with pytest.raises(MachOParseError):
        parse_macho(ArchivePath("x"), bytes(data))

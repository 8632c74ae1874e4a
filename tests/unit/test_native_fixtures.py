"""The Mach-O and PE fixtures say what their catalogue promises, read back with lief.

Each expected value is written out here rather than taken from the builder's constants: these
tests are the check that the toolchain (and our byte edits after it) produced those facts.
"""

from __future__ import annotations

import hashlib
import plistlib
import struct
from pathlib import Path
from typing import TypeVar

import lief
import pytest
from helpers.native_fixtures import (
    FIXTURES,
    FixtureName,
    NativeFixtures,
    ToolchainUnavailable,
    build,
    fat_binary,
    reseal_adhoc,
)

lief.logging.disable()

LC = lief.MachO.LoadCommand.TYPE
DYLIB_KINDS = {
    LC.ID_DYLIB: "id",
    LC.LOAD_DYLIB: "load",
    LC.LOAD_WEAK_DYLIB: "weak",
    LC.REEXPORT_DYLIB: "reexport",
    LC.LOAD_UPWARD_DYLIB: "upward",
    LC.LAZY_LOAD_DYLIB: "lazy",
}
FOO_DYLIBS = [
    ("id", "@rpath/libfoo.dylib"),
    ("load", "/usr/lib/libSystem.B.dylib"),
    ("load", "@rpath/libtvm_ffi.dylib"),
    ("reexport", "@rpath/libreexported.dylib"),
    ("upward", "@rpath/libupward.dylib"),
    ("weak", "@rpath/libweakdep.dylib"),
]
FOO_RPATHS = ["@loader_path/../lib", "/Users/runner/work/build/lib", "/opt/homebrew/lib"]
CPU = {"arm64": lief.MachO.Header.CPU_TYPE.ARM64, "x86_64": lief.MachO.Header.CPU_TYPE.X86_64}
DSYM: FixtureName = "macos/libfoo-arm64.dylib.dSYM/Contents/Resources/DWARF/libfoo-arm64.dylib"
T = TypeVar("T")


def need(value: T | None) -> T:
    """lief types most accessors as optional; a fixture that lacks one fails here."""
    assert value is not None
    return value


def text(name: str | bytes) -> str:
    """lief's stubs allow bytes for names that are not valid UTF-8; ours all are."""
    return name.decode() if isinstance(name, bytes) else name


def slices(fx: NativeFixtures, name: FixtureName) -> list[lief.MachO.Binary]:
    """Each slice, owned by the caller: a slice still inside its FatBinary dangles (and
    crashes the interpreter) once the FatBinary is collected."""
    fat = lief.MachO.parse(str(fx.path(name)))
    assert fat is not None, f"lief cannot parse {name}"
    cpus = [binary.header.cpu_type for binary in fat]
    taken = [fat.take(cpu) for cpu in cpus]
    assert all(binary is not None for binary in taken)
    return [binary for binary in taken if binary is not None]


def thin(fx: NativeFixtures, name: FixtureName) -> lief.MachO.Binary:
    (binary,) = slices(fx, name)
    return binary


def dylibs(binary: lief.MachO.Binary) -> list[tuple[str, str]]:
    return sorted(
        (DYLIB_KINDS[cmd.command], cmd.name)
        for cmd in binary.commands
        if isinstance(cmd, lief.MachO.DylibCommand)
    )


def rpaths(binary: lief.MachO.Binary) -> list[str]:
    return [cmd.path for cmd in binary.commands if isinstance(cmd, lief.MachO.RPathCommand)]


def pe(fx: NativeFixtures, name: FixtureName) -> lief.PE.Binary:
    binary = lief.PE.parse(str(fx.path(name)))
    assert binary is not None, f"lief cannot parse {name}"
    return binary


def imports(binary: lief.PE.Binary) -> dict[str, list[str]]:
    return {text(imp.name): [text(e.name) for e in imp.entries] for imp in binary.imports}


def delay_imports(binary: lief.PE.Binary) -> dict[str, list[str]]:
    return {text(imp.name): [text(e.name) for e in imp.entries] for imp in binary.delay_imports}


def exports(binary: lief.PE.Binary) -> list[str]:
    if not binary.has_exports:
        return []
    return sorted(text(e.name) for e in need(binary.get_export()).entries)


def adhoc_page_hashes_valid(data: bytes, binary: lief.MachO.Binary) -> bool:
    """Every code slot of every CodeDirectory equals sha256 of its page, as dyld checks."""
    start = need(binary.code_signature).data_offset
    magic, _length, count = struct.unpack_from(">III", data, start)
    assert magic == 0xFADE0CC0
    checked = 0
    for i in range(count):
        _slot, offset = struct.unpack_from(">II", data, start + 12 + 8 * i)
        base = start + offset
        if struct.unpack_from(">I", data, base)[0] != 0xFADE0C02:
            continue
        f = struct.unpack_from(">9I4B", data, base)
        hash_offset, slots, limit, size, page = f[4], f[7], f[8], f[9], 1 << f[12]
        for k in range(slots):
            want = hashlib.sha256(data[k * page : min((k + 1) * page, limit)]).digest()[:size]
            at = base + hash_offset + k * size
            if data[at : at + size] != want:
                return False
        checked += 1
    return checked > 0


# ---------------------------------------------------------------------------------------------
# The cache


def test_every_catalogued_fixture_exists(native_fixtures: NativeFixtures) -> None:
    for name in FIXTURES:
        assert native_fixtures.path(name).is_file(), name
    again = build()
    assert (again.root, again.built) == (native_fixtures.root, False)


def test_unknown_name_is_an_error(native_fixtures: NativeFixtures) -> None:
    with pytest.raises(KeyError):
        native_fixtures.path("macos/libnope.dylib")  # type: ignore[arg-type]


def test_a_tampered_cache_entry_is_rebuilt(tmp_path: Path) -> None:
    try:
        first = build(tmp_path)
    except ToolchainUnavailable as e:
        pytest.skip(str(e))
    victim = first.path("windows/tvm_ffi.dll")
    original = victim.read_bytes()
    victim.chmod(0o644)
    victim.write_bytes(original[:100])
    second = build(tmp_path)
    assert second.built
    assert second.read("windows/tvm_ffi.dll") == original


# ---------------------------------------------------------------------------------------------
# Mach-O


@pytest.mark.parametrize(
    ("name", "arches"),
    [
        ("macos/libfoo-arm64.dylib", ["arm64"]),
        ("macos/libfoo-x86_64.dylib", ["x86_64"]),
        ("macos/libtvm_ffi-arm64.dylib", ["arm64"]),
        ("macos/libtvm_ffi-x86_64.dylib", ["x86_64"]),
        ("macos/libfoo-universal2.dylib", ["x86_64", "arm64"]),
        ("macos/libfoo-fat-arm64-only.dylib", ["arm64"]),
        ("macos/libfoo-unsigned-arm64.dylib", ["arm64"]),
        ("macos/libmacos14-arm64.dylib", ["arm64"]),
        ("macos/libmacos1013-x86_64.dylib", ["x86_64"]),
        ("macos/core.abi3.so", ["arm64"]),
        (DSYM, ["arm64"]),
    ],
)
def test_architecture_of_each_slice(
    native_fixtures: NativeFixtures, name: FixtureName, arches: list[str]
) -> None:
    assert [b.header.cpu_type for b in slices(native_fixtures, name)] == [CPU[a] for a in arches]


@pytest.mark.parametrize(
    ("name", "fat"),
    [
        ("macos/libfoo-universal2.dylib", True),
        ("macos/libfoo-fat-arm64-only.dylib", True),
        ("macos/libfoo-arm64.dylib", False),
        ("macos/libfoo-x86_64.dylib", False),
    ],
)
def test_fat_header_only_where_promised(
    native_fixtures: NativeFixtures, name: FixtureName, fat: bool
) -> None:
    magic = native_fixtures.read(name)[:4]
    assert (magic == b"\xca\xfe\xba\xbe") is fat
    if not fat:
        assert magic == b"\xcf\xfa\xed\xfe"  # MH_MAGIC_64, little-endian


def test_universal2_slices_are_the_thin_files_lipo_aligned(
    native_fixtures: NativeFixtures,
) -> None:
    data = native_fixtures.read("macos/libfoo-universal2.dylib")
    magic, count = struct.unpack_from(">II", data)
    assert (magic, count) == (0xCAFEBABE, 2)
    expected = [
        native_fixtures.read("macos/libfoo-x86_64.dylib"),
        native_fixtures.read("macos/libfoo-arm64.dylib"),
    ]
    for i, thin_bytes in enumerate(expected):
        _cpu, _sub, offset, size, align = struct.unpack_from(">IIIII", data, 8 + 20 * i)
        assert offset % (1 << align) == 0
        assert data[offset : offset + size] == thin_bytes
    assert fat_binary(expected) == data


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_consumer_dylib_load_commands(native_fixtures: NativeFixtures, arch: str) -> None:
    binary = thin(native_fixtures, f"macos/libfoo-{arch}.dylib")  # type: ignore[arg-type]
    assert binary.header.file_type == lief.MachO.Header.FILE_TYPE.DYLIB
    assert dylibs(binary) == FOO_DYLIBS
    assert rpaths(binary) == FOO_RPATHS
    assert need(binary.build_version).minos == [11, 0, 0]
    assert not binary.has_version_min
    # The re-export is declared: ld64 sets "no re-exported dylibs" only when there are none.
    assert lief.MachO.Header.FLAGS.NO_REEXPORTED_DYLIBS not in binary.header.flags_list


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_consumer_symbols_bind_to_their_dylibs(native_fixtures: NativeFixtures, arch: str) -> None:
    """Retyping LC_LOAD_DYLIB in place kept each binding's dylib ordinal pointing right."""
    binary = thin(native_fixtures, f"macos/libfoo-{arch}.dylib")  # type: ignore[arg-type]
    exported = {text(s.name) for s in binary.exported_symbols}
    assert {"_foo_call", "_foo_version"} <= exported
    assert not any(name.startswith("_TVMFFI") for name in exported)
    bound = {}
    for symbol in binary.imported_symbols:
        binding = symbol.binding_info
        if binding is not None and binding.has_library:
            bound[text(symbol.name)] = (need(binding.library).name, binding.weak_import)
    assert bound["_TVMFFIFunctionCall"] == ("@rpath/libtvm_ffi.dylib", False)
    assert bound["_upward_value"] == ("@rpath/libupward.dylib", False)
    assert bound["_weakdep_value"] == ("@rpath/libweakdep.dylib", True)
    assert bound["_getpid"] == ("/usr/lib/libSystem.B.dylib", False)


@pytest.mark.parametrize("arch", ["arm64", "x86_64"])
def test_tvm_ffi_dylib_exports_the_c_abi(native_fixtures: NativeFixtures, arch: str) -> None:
    binary = thin(native_fixtures, f"macos/libtvm_ffi-{arch}.dylib")  # type: ignore[arg-type]
    assert dylibs(binary) == [
        ("id", "@rpath/libtvm_ffi.dylib"),
        ("load", "/usr/lib/libSystem.B.dylib"),
    ]
    exported = {text(s.name) for s in binary.exported_symbols}
    assert {"_TVMFFIFunctionCall", "_TVMFFIObjectDecRef", "_TVMFFIObjectIncRef"} <= exported


def test_minos_14_in_build_version(native_fixtures: NativeFixtures) -> None:
    binary = thin(native_fixtures, "macos/libmacos14-arm64.dylib")
    version = need(binary.build_version)
    assert version.platform == lief.MachO.BuildVersion.PLATFORMS.MACOS
    assert version.minos == [14, 0, 0]
    assert not binary.has_version_min


def test_old_style_version_min_macosx(native_fixtures: NativeFixtures) -> None:
    binary = thin(native_fixtures, "macos/libmacos1013-x86_64.dylib")
    assert not binary.has_build_version
    version = need(binary.version_min)
    assert version.command == LC.VERSION_MIN_MACOSX
    assert version.version == [10, 13, 0]


@pytest.mark.parametrize(
    ("name", "signed"),
    [
        ("macos/libfoo-arm64.dylib", True),
        ("macos/libtvm_ffi-arm64.dylib", True),
        ("macos/libmacos14-arm64.dylib", True),
        ("macos/core.abi3.so", True),
        ("macos/libfoo-unsigned-arm64.dylib", False),
        ("macos/libfoo-x86_64.dylib", False),
        ("macos/libtvm_ffi-x86_64.dylib", False),
    ],
)
def test_signature_presence_and_validity(
    native_fixtures: NativeFixtures, name: FixtureName, signed: bool
) -> None:
    binary = thin(native_fixtures, name)
    assert binary.has_code_signature is signed
    if signed:
        assert adhoc_page_hashes_valid(native_fixtures.read(name), binary)


def test_universal2_signs_only_the_arm64_slice(native_fixtures: NativeFixtures) -> None:
    fat = slices(native_fixtures, "macos/libfoo-universal2.dylib")
    by_cpu = {b.header.cpu_type: b for b in fat}
    assert by_cpu[CPU["arm64"]].has_code_signature
    assert not by_cpu[CPU["x86_64"]].has_code_signature


def test_reseal_reproduces_the_linker_signature(native_fixtures: NativeFixtures) -> None:
    """On bytes zig signed and nobody edited, resealing changes nothing: our page hashing is
    the linker's, so the resealed fixtures carry what the linker would have written."""
    data = native_fixtures.read("macos/libtvm_ffi-arm64.dylib")
    assert reseal_adhoc(data) == data
    broken = bytearray(data)
    broken[0x1000] ^= 0xFF  # inside the first signed page
    binary = thin(native_fixtures, "macos/libtvm_ffi-arm64.dylib")
    assert not adhoc_page_hashes_valid(bytes(broken), binary)
    assert adhoc_page_hashes_valid(reseal_adhoc(bytes(broken)), binary)


def test_unsigned_variant_differs_only_by_the_signature(native_fixtures: NativeFixtures) -> None:
    signed = thin(native_fixtures, "macos/libfoo-arm64.dylib")
    unsigned = thin(native_fixtures, "macos/libfoo-unsigned-arm64.dylib")
    assert dylibs(unsigned) == dylibs(signed)
    assert rpaths(unsigned) == rpaths(signed)
    assert not any(c.command == LC.CODE_SIGNATURE for c in unsigned.commands)


def test_dsym_companion(native_fixtures: NativeFixtures) -> None:
    lib = thin(native_fixtures, "macos/libfoo-arm64.dylib")
    dsym = thin(native_fixtures, DSYM)
    assert dsym.header.file_type == lief.MachO.Header.FILE_TYPE.DSYM
    assert need(dsym.uuid).uuid == need(lib.uuid).uuid
    other = thin(native_fixtures, "macos/libfoo-x86_64.dylib")
    assert need(other.uuid).uuid != need(lib.uuid).uuid
    assert need(dsym.build_version).minos == [11, 0, 0]
    assert dylibs(dsym) == []  # dyld never loads it: no install name, no dependencies
    dwarf = dsym.get_segment("__DWARF")
    assert dwarf is not None
    info = {s.name: s for s in dwarf.sections}
    assert {"__debug_info", "__debug_abbrev", "__debug_str", "__debug_line"} <= set(info)
    assert b"foo_call" in bytes(info["__debug_str"].content)
    # The library's segments are present without contents, as dsymutil leaves them.
    text = dsym.get_segment("__TEXT")
    assert text is not None
    assert text.file_size == 0
    info_plist = native_fixtures.read("macos/libfoo-arm64.dylib.dSYM/Contents/Info.plist")
    plist = plistlib.loads(info_plist)
    assert plist["CFBundlePackageType"] == "dSYM"


def test_python_extension_is_a_bundle_linking_tvm_ffi(native_fixtures: NativeFixtures) -> None:
    binary = thin(native_fixtures, "macos/core.abi3.so")
    assert binary.header.file_type == lief.MachO.Header.FILE_TYPE.BUNDLE
    assert dylibs(binary) == [
        ("load", "/usr/lib/libSystem.B.dylib"),
        ("load", "@rpath/libtvm_ffi.dylib"),
    ]
    assert rpaths(binary) == ["@loader_path/lib"]
    assert "_PyInit_core" in {text(s.name) for s in binary.exported_symbols}
    py = need(need(binary.get_symbol("_PyModule_Create2")).binding_info)
    assert py.library_ordinal == -2  # BIND_SPECIAL_DYLIB_FLAT_LOOKUP
    ffi = need(need(binary.get_symbol("_TVMFFIFunctionCall")).binding_info)
    assert need(ffi.library).name == "@rpath/libtvm_ffi.dylib"


# ---------------------------------------------------------------------------------------------
# PE


@pytest.mark.parametrize(
    ("name", "machine"),
    [
        ("windows/tvm_ffi.dll", "AMD64"),
        ("windows/consumer.dll", "AMD64"),
        ("windows/delayed.dll", "AMD64"),
        ("windows/core.cp312-win_amd64.pyd", "AMD64"),
        ("windows/tvm_ffi-1a2b3c4d.dll", "AMD64"),
        ("windows/consumer-i686.dll", "I386"),
        ("windows/consumer-arm64.dll", "ARM64"),
    ],
)
def test_pe_machine_and_dll_flag(
    native_fixtures: NativeFixtures, name: FixtureName, machine: str
) -> None:
    binary = pe(native_fixtures, name)
    assert binary.header.machine == getattr(lief.PE.Header.MACHINE_TYPES, machine)
    assert binary.header.has_characteristic(lief.PE.Header.CHARACTERISTICS.DLL)


@pytest.mark.parametrize(
    ("name", "imported", "delayed", "exported"),
    [
        (
            "windows/tvm_ffi.dll",
            {"KERNEL32.dll": ["GetProcessHeap"]},
            {},
            ["TVMFFIFunctionCall", "TVMFFIObjectDecRef", "TVMFFIObjectIncRef"],
        ),
        (
            "windows/consumer.dll",
            {"KERNEL32.dll": ["GetCurrentProcessId"], "tvm_ffi.dll": ["TVMFFIFunctionCall"]},
            {},
            ["consumer_call"],
        ),
        (
            "windows/delayed.dll",
            {"KERNEL32.dll": ["GetCurrentProcessId"]},
            {"tvm_ffi.dll": ["TVMFFIFunctionCall"]},
            ["consumer_call"],
        ),
        (
            "windows/core.cp312-win_amd64.pyd",
            {"python312.dll": ["PyModule_Create2"], "tvm_ffi.dll": ["TVMFFIFunctionCall"]},
            {},
            ["PyInit_core"],
        ),
        (
            "windows/consumer-i686.dll",
            {"KERNEL32.dll": ["GetCurrentProcessId"], "tvm_ffi.dll": ["TVMFFIFunctionCall"]},
            {},
            ["consumer_call"],
        ),
        (
            "windows/consumer-arm64.dll",
            {"KERNEL32.dll": ["GetCurrentProcessId"], "tvm_ffi.dll": ["TVMFFIFunctionCall"]},
            {},
            ["consumer_call"],
        ),
    ],
)
def test_pe_imports_delay_imports_exports(
    native_fixtures: NativeFixtures,
    name: FixtureName,
    imported: dict[str, list[str]],
    delayed: dict[str, list[str]],
    exported: list[str],
) -> None:
    binary = pe(native_fixtures, name)
    assert imports(binary) == imported
    assert delay_imports(binary) == delayed
    assert exports(binary) == exported


def test_grafted_name_is_a_renamed_copy(native_fixtures: NativeFixtures) -> None:
    grafted = native_fixtures.read("windows/tvm_ffi-1a2b3c4d.dll")
    assert grafted == native_fixtures.read("windows/tvm_ffi.dll")
    # The export directory keeps the name it was linked under, as after delvewheel.
    export = need(pe(native_fixtures, "windows/tvm_ffi-1a2b3c4d.dll").get_export())
    assert export.name == "tvm_ffi.dll"

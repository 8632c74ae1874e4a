"""The ELF adapter against libraries gcc and ld really wrote; readelf is the referee."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.clibs import EM_386, EM_AARCH64, Compiler, minimal_elf, retarget, truncated

from wheelguard.formats.elf import ElfParseError, PartialElf, is_elf, parse_elf
from wheelguard.model import ArchivePath, Binary, VersionNeed


def _parse(libs: Mapping[str, bytes], name: str) -> Binary:
    return parse_elf(ArchivePath(f"pkg/lib/{name}"), libs[name])


def _readelf(compiler: Compiler, name: str, flag: str) -> str:
    return subprocess.run(["readelf", flag, "-W", str(compiler.workdir / name)],
                          capture_output=True, text=True, check=True).stdout


def test_soname_needed_machine(compiler: Compiler, libs: Mapping[str, bytes]) -> None:
    b = _parse(libs, "libneeds_foo.so")
    assert b.format == "elf"
    assert b.machine == "x86_64"
    assert b.bits == 64
    assert b.soname == "libneeds_foo.so"
    assert b.needed[0] == "libfoo.so"
    dynamic = _readelf(compiler, "libneeds_foo.so", "-d")
    listed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", dynamic)
    assert list(b.needed) == listed
    assert b.is_shared_object


def test_no_soname_means_file_name(libs: Mapping[str, bytes]) -> None:
    b = _parse(libs, "libnosoname.so")
    assert b.soname is None
    assert b.name == "libnosoname.so"


@pytest.mark.parametrize(
    ("name", "rpath", "runpath"),
    [
        ("librpath_abs.so", (), ("/home/runner/work/demo/build/lib", "/usr/local/lib")),
        ("librpath_abs_old.so", ("/usr/local/lib",), ()),
        ("librpath_cwd.so", (), ("", "$ORIGIN", "lib")),
        ("librpath_other.so", (), ("$ORIGIN", "$ORIGIN/../../tvm_ffi/lib")),
        ("libdemo.so", (), ()),
    ],
)
def test_rpath_and_runpath_stay_distinct(
    libs: Mapping[str, bytes], name: str, rpath: tuple[str, ...], runpath: tuple[str, ...]
) -> None:
    b = _parse(libs, name)
    assert b.rpath == rpath
    assert b.runpath == runpath
    assert b.search_path == (runpath or rpath)
    assert b.search_path_tag == ("RUNPATH" if runpath else "RPATH")


def test_readelf_agrees_on_dynamic_tags(compiler: Compiler, libs: Mapping[str, bytes]) -> None:
    text = _readelf(compiler, "librpath_abs_old.so", "-d")
    assert "(RPATH)" in text
    assert "(RUNPATH)" not in text
    text = _readelf(compiler, "librpath_cwd.so", "-d")
    assert "Library runpath: [:$ORIGIN:lib]" in text


def test_build_id(compiler: Compiler, libs: Mapping[str, bytes]) -> None:
    assert _parse(libs, "libbid_a.so").build_id == "5eed" + "0" * 35 + "1"
    auto = _parse(libs, "libdemo.so").build_id
    notes = _readelf(compiler, "libdemo.so", "-n")
    assert auto is not None
    assert f"Build ID: {auto}" in notes


def test_version_needs(compiler: Compiler, libs: Mapping[str, bytes]) -> None:
    b = _parse(libs, "libnew_glibc.so")
    versions = _readelf(compiler, "libnew_glibc.so", "-V")
    for need in b.version_needs:
        assert f"Name: {need.version}" in versions
        assert need.library == "libc.so.6"
    if "GLIBC_2.34" not in versions:
        pytest.skip("the host glibc predates 2.34 (dlopen moved into libc there)")
    assert VersionNeed("libc.so.6", "GLIBC_2.34") in b.version_needs
    assert ("dlopen", "GLIBC_2.34") in b.undefined_versioned


def test_exported_and_undefined_symbols(libs: Mapping[str, bytes]) -> None:
    embed = _parse(libs, "libembed.so")
    assert embed.exports_prefix("TVMFFI") == (
        "TVMFFIFunctionCall", "TVMFFIObjectDecRef", "TVMFFIObjectIncRef",
    )
    assert "embed_kernel" in embed.exported
    user = _parse(libs, "libneeds_tvmffi.so")
    assert "TVMFFIObjectIncRef" in user.undefined
    assert "TVMFFIObjectIncRef" not in user.exported
    assert user.exports_prefix("TVMFFI") == ()
    assert "use_ffi" in user.exported


def test_static_functions_are_not_exported(libs: Mapping[str, bytes]) -> None:
    b = _parse(libs, "libsymtab.so")
    assert "sym" in b.exported
    assert "helper" not in b.exported


@pytest.mark.parametrize(
    ("name", "debug", "symtab"),
    [
        ("libdebug.so", True, True),  # -g
        ("libsymtab.so", False, True),  # -g, then strip --strip-debug: symtab stays
        ("libdemo.so", False, True),  # plain gcc keeps .symtab
        ("libstripped.so", False, False),  # strip --strip-all
    ],
)
def test_debug_info_is_not_symtab(
    compiler: Compiler, libs: Mapping[str, bytes], name: str, debug: bool, symtab: bool
) -> None:
    b = _parse(libs, name)
    assert b.has_debug_info is debug
    assert b.has_symtab is symtab
    sections = _readelf(compiler, name, "-S")
    assert (".debug_info" in sections) is debug
    assert (".symtab" in sections) is symtab


def test_foreign_machines(libs: Mapping[str, bytes]) -> None:
    arm = parse_elf(ArchivePath("a.so"), retarget(libs["libdemo.so"], EM_AARCH64))
    assert arm.machine == "aarch64"
    assert arm.soname == "libdemo.so"
    i686 = parse_elf(ArchivePath("b.so"), minimal_elf(EM_386))
    assert (i686.machine, i686.bits, i686.needed, i686.soname) == ("i686", 32, (), None)


@pytest.mark.parametrize("keep", [4, 16, 64, 200, 1000])
def test_truncated_elf_raises_parse_error(libs: Mapping[str, bytes], keep: int) -> None:
    data = libs["libdemo.so"]
    cut = truncated(data, keep)
    assert is_elf(cut)
    with pytest.raises(ElfParseError, match="unreadable ELF"):
        parse_elf(ArchivePath("pkg/libdemo.so"), cut)


def test_lost_section_headers_leave_the_loader_view(libs: Mapping[str, bytes]) -> None:
    """Cut off at the end, a library loses its section header table, which the loader never
    reads: the member is unreadable (a broken file fails the gate) and its loader facts are
    still there for the search-path and dependency checks."""
    data = libs["libdemo.so"]
    whole = parse_elf(ArchivePath("pkg/libdemo.so"), data)
    with pytest.raises(PartialElf, match="unreadable ELF sections") as raised:
        parse_elf(ArchivePath("pkg/libdemo.so"), truncated(data, len(data) - 100))
    cut = raised.value.binary
    assert (cut.soname, cut.needed, cut.runpath) == (whole.soname, whole.needed, whole.runpath)
    assert whole.soname is not None
    assert whole.exported
    assert cut.exported == frozenset()


def test_is_elf() -> None:
    assert is_elf(b"\x7fELF\x02\x01")
    assert not is_elf(b"PK\x03\x04")
    assert not is_elf(b"")


def test_compiler_is_idempotent(compiler: Compiler, libs: Mapping[str, bytes]) -> None:
    from helpers.fixtures import LIBS

    spec = dict(LIBS)["libdemo.so"]
    path: Path = compiler.build("libdemo.so", spec)
    assert path.read_bytes() == libs["libdemo.so"]


def _as_device_code(data: bytes) -> bytes:
    """The same object with e_machine set to EM_CUDA (190), as a .cubin carries it."""
    out = bytearray(data)
    out[18:20] = (190).to_bytes(2, "little")
    return bytes(out)


def test_device_code_is_read_from_its_section_table(libs: Mapping[str, bytes]) -> None:
    """A cubin's facts come from a struct walk of its section table, not pyelftools (1.2 ms a
    cubin): the debug and symbol-table facts must be the ones pyelftools reads."""
    for name in ("libdemo.so", "libdebug.so"):
        host = parse_elf(ArchivePath(f"pkg/{name}"), libs[name])
        device = parse_elf(ArchivePath(f"pkg/{name}"), _as_device_code(libs[name]))
        assert device.machine == "EM_CUDA"
        assert (device.debug_bytes, device.has_debug_info, device.has_symtab) == (
            host.debug_bytes, host.has_debug_info, host.has_symtab)
        assert device.exported == frozenset()
    assert parse_elf(ArchivePath("pkg/x"), _as_device_code(libs["libdebug.so"])).debug_bytes > 0


def test_device_code_with_a_broken_section_table_is_unreadable(
    libs: Mapping[str, bytes],
) -> None:
    data = bytearray(_as_device_code(libs["libdemo.so"]))
    data[0x3E:0x40] = (0xFFFF).to_bytes(2, "little")  # e_shstrndx past the table
    with pytest.raises(PartialElf, match="unreadable ELF sections"):
        parse_elf(ArchivePath("pkg/x.cubin"), bytes(data))

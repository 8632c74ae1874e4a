"""Mach-O repair on a Linux host: lief edits, ad-hoc re-sealing, the plan's Mach-O edits and
what it refuses. Every output is read back with the audit's own reader (and its signature
checked page by page)."""

from __future__ import annotations

import datetime as dt
import json
import struct
import textwrap
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.fixtures import FFI_REQ, INIT, native_files
from helpers.native_fixtures import load_commands, reseal_adhoc
from helpers.native_variants import LC_CODE_SIGNATURE, broken_signature
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel
from wheelguard.errors import RepairError
from wheelguard.formats.macho import parse_macho
from wheelguard.model import ArchivePath, Binary
from wheelguard.policy.load import load_policy, parse_policy
from wheelguard.policy.schema import Policy, PolicySet
from wheelguard.repair.codesign import ResealError, reseal
from wheelguard.repair.edits import MachOEdit
from wheelguard.repair.macho import apply_macho_edit
from wheelguard.repair.write import plan_wheel, repair_wheel

MAC = "cp312-abi3-macosx_11_0_arm64"
TODAY = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def L() -> Mapping[str, bytes]:
    files = native_files()
    if files is None:
        pytest.skip("zig is not installed: no Mach-O fixtures")
    return files


def read(data: bytes) -> Binary:
    return parse_macho(ArchivePath("x"), data)


def valid(b: Binary) -> list[tuple[str, bool | None]]:
    assert b.macho is not None
    return [(s.arch, s.signature_valid) for s in b.macho.slices]


def policies(*items: str | Policy) -> PolicySet:
    return PolicySet(tuple(load_policy(p) if isinstance(p, str) else p for p in items),
                     today=TODAY)


def custom(text: str) -> Policy:
    return parse_policy(textwrap.dedent(text), source="mine.toml", name="mine")


# ---- re-sealing ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["macos/libtvm_ffi-arm64.dylib", "macos/libfoo-universal2.dylib",
                                  "macos/core.abi3.so", "macos/libfoo-x86_64.dylib"])
def test_reseal_of_untouched_bytes_changes_nothing(L: Mapping[str, bytes], name: str) -> None:
    assert reseal(L[name]) == L[name]


def test_reseal_repairs_an_edit_like_the_reference(L: Mapping[str, bytes]) -> None:
    broken = broken_signature(L["macos/libmacos14-arm64.dylib"])
    assert valid(read(broken)) == [("arm64", False)]
    fixed = reseal(broken)
    assert valid(read(fixed)) == [("arm64", True)]
    assert fixed == reseal_adhoc(broken)


def test_reseal_refuses_a_signature_it_cannot_redo(L: Mapping[str, bytes]) -> None:
    data = bytearray(L["macos/libmacos14-arm64.dylib"])
    (offset,) = [o for o, cmd, _s in load_commands(bytes(data)) if cmd == LC_CODE_SIGNATURE]
    dataoff = struct.unpack_from("<I", data, offset + 8)[0]
    _magic, _length, count = struct.unpack_from(">III", data, dataoff)
    for i in range(count):
        _slot, blob = struct.unpack_from(">II", data, dataoff + 12 + 8 * i)
        if struct.unpack_from(">I", data, dataoff + blob)[0] == 0xFADE0C02:
            flags = struct.unpack_from(">I", data, dataoff + blob + 12)[0]
            struct.pack_into(">I", data, dataoff + blob + 12, flags & ~0x2 & ~0x20000)
    with pytest.raises(ResealError, match="not an ad-hoc signature"):
        reseal(bytes(data))
    result = apply_macho_edit("x", bytes(data), MachOEdit(path=ArchivePath("x"),
                                                          rpaths=("@loader_path",)))
    assert result.signature is not None
    assert "must be re-signed on macOS" in result.signature


# ---- lief edits ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["macos/libfoo-arm64.dylib", "macos/libfoo-universal2.dylib"])
def test_rename_install_name_and_rewrite_rpaths(L: Mapping[str, bytes], name: str) -> None:
    before = read(L[name])
    edit = MachOEdit(
        path=ArchivePath(name), install_name="@rpath/libfoo_renamed.dylib",
        replace_dylibs=(("@rpath/libtvm_ffi.dylib",
                         "@loader_path/../../tvm_ffi/lib/libtvm_ffi.dylib"),),
        rpaths=("@loader_path/../../tvm_ffi/lib", "@loader_path"),
    )
    result = apply_macho_edit(name, L[name], edit)
    after = read(result.data)
    assert after.soname == "@rpath/libfoo_renamed.dylib"
    assert after.needed == tuple(
        "@loader_path/../../tvm_ffi/lib/libtvm_ffi.dylib" if n == "@rpath/libtvm_ffi.dylib" else n
        for n in before.needed)
    assert after.rpath == ("@loader_path/../../tvm_ffi/lib", "@loader_path")
    # Kinds and positions of the load commands are kept: the bind ordinals stay right.
    assert after.macho is not None
    assert before.macho is not None
    assert [d.kind for d in after.macho.slices[0].dylibs] == [
        d.kind for d in before.macho.slices[0].dylibs]
    assert (after.exported, after.undefined) == (before.exported, before.undefined)
    assert result.signature == "re-sealed"
    assert all(ok in (True, None) for _arch, ok in valid(after))
    assert any(ok for _arch, ok in valid(after))


def test_unsigned_file_needs_no_signature(L: Mapping[str, bytes]) -> None:
    result = apply_macho_edit("x", L["macos/libfoo-x86_64.dylib"],
                              MachOEdit(path=ArchivePath("x"), rpaths=()))
    assert result.signature is None
    assert read(result.data).rpath == ()


def test_an_edit_that_would_move_segments_is_refused(L: Mapping[str, bytes]) -> None:
    many = tuple(f"@loader_path/{'x' * 200}/{i}" for i in range(200))
    with pytest.raises(RepairError, match="do not fit the padding"):
        apply_macho_edit("x", L["macos/libtvm_ffi-arm64.dylib"],
                         MachOEdit(path=ArchivePath("x"), rpaths=many))


# ---- the plan and the written wheel --------------------------------------------------------


def test_default_policy_drops_build_machine_rpaths(L: Mapping[str, bytes], tmp_path: Path) -> None:
    files = {**INIT, "demo/lib/libfoo.dylib": L["macos/libfoo-universal2.dylib"]}
    wheel = build_wheel(tmp_path / "in", files, tag=MAC)
    result = repair_wheel(wheel, tmp_path / "out", policies("default"), env={})
    assert result.output is not None
    with zipfile.ZipFile(result.output) as z:
        out = read(z.read("demo/lib/libfoo.dylib"))
        log = json.loads(z.read("demo-1.0.dist-info/wheelguard.json"))
    assert out.rpath == ("@loader_path/../lib",)
    assert valid(out) == [("x86_64", None), ("arm64", True)]
    details = [s["detail"] for s in log["repairs"][0]["steps"]]
    assert "code signature re-sealed" in details
    assert not {f.check for f in audit_wheel(result.output).findings} & {"WG201", "WG326"}
    again = repair_wheel(result.output, tmp_path / "again", policies("default"), env={})
    assert not again.changed


def test_dropping_a_bundled_dylib_relinks_its_users(L: Mapping[str, bytes], tmp_path: Path) -> None:
    """The extension loads the bundled copy by path; once the copy is dropped in favour of
    apache-tvm-ffi it must load @rpath/libtvm_ffi.dylib, which dyld matches against the
    provider's image already loaded by `import tvm_ffi`."""
    by_path = apply_macho_edit("core", L["macos/core.abi3.so"], MachOEdit(
        path=ArchivePath("core"),
        replace_dylibs=(("@rpath/libtvm_ffi.dylib", "@loader_path/lib/libtvm_ffi.dylib"),))).data
    files = {**INIT, "demo/core.abi3.so": by_path,
             "demo/lib/libtvm_ffi.dylib": L["macos/libtvm_ffi-arm64.dylib"]}
    wheel = build_wheel(tmp_path / "in", files, tag=MAC, requires_dist=[FFI_REQ])
    _w, _ctx, _findings, plan = plan_wheel(wheel, policies("tvm-ffi"))
    assert plan.drops == ("demo/lib/libtvm_ffi.dylib",)
    (edit,) = plan.macho
    assert edit.replace_dylibs == (("@loader_path/lib/libtvm_ffi.dylib",
                                    "@rpath/libtvm_ffi.dylib"),)
    result = repair_wheel(wheel, tmp_path / "out", policies("tvm-ffi"), env={})
    assert result.output is not None
    with zipfile.ZipFile(result.output) as z:
        core = read(z.read("demo/core.abi3.so"))
        init = z.read("demo/__init__.py").decode()
    assert "@rpath/libtvm_ffi.dylib" in core.needed
    assert valid(core) == [("arm64", True)]
    assert "import tvm_ffi" in init
    assert {f.check for f in audit_wheel(result.output).findings} <= {"WG205"}


def test_removing_a_load_command_is_refused(L: Mapping[str, bytes], tmp_path: Path) -> None:
    files = {**INIT, "demo/lib/libfoo.dylib": L["macos/libfoo-arm64.dylib"]}
    wheel = build_wheel(tmp_path, files, tag=MAC)
    mine = custom("""
        [[rule]]
        action = "relink"
        path = "demo/lib/libfoo.dylib"
        remove_needed = ["@rpath/libweakdep.dylib"]
        reason = "unused"
    """)
    _w, _ctx, _findings, plan = plan_wheel(wheel, policies(mine))
    assert any("renumber the library ordinals" in f for f in plan.failures)


def test_pe_edits_are_refused(L: Mapping[str, bytes], tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, {**INIT, "demo/c.dll": L["windows/consumer.dll"]},
                        tag="cp312-abi3-win_amd64")
    mine = custom("""
        [[rule]]
        action = "relink"
        path = "demo/c.dll"
        replace_needed = {"tvm_ffi.dll" = "other.dll"}
        reason = "test"
    """)
    _w, _ctx, _findings, plan = plan_wheel(wheel, policies(mine))
    assert any("PE binaries are not edited" in f for f in plan.failures)


def test_default_policy_drops_dsym_bundles(L: Mapping[str, bytes], tmp_path: Path) -> None:
    dwarf = "macos/libfoo-arm64.dylib.dSYM/Contents/Resources/DWARF/libfoo-arm64.dylib"
    files = {**INIT, "demo/lib/libtvm_ffi.dylib": L["macos/libtvm_ffi-arm64.dylib"],
             "demo/lib/libtvm_ffi.dylib.dSYM/Contents/Info.plist":
                 L["macos/libfoo-arm64.dylib.dSYM/Contents/Info.plist"],
             "demo/lib/libtvm_ffi.dylib.dSYM/Contents/Resources/DWARF/libtvm_ffi.dylib": L[dwarf]}
    wheel = build_wheel(tmp_path / "in", files, tag=MAC)
    result = repair_wheel(wheel, tmp_path / "out", policies("default"), env={})
    assert result.output is not None
    with zipfile.ZipFile(result.output) as z:
        names = z.namelist()
    assert not [n for n in names if ".dSYM/" in n]
    assert "demo/lib/libtvm_ffi.dylib" in names
    assert not [f for f in audit_wheel(result.output).findings if f.check == "WG420"]


def test_relink_targets_are_written_in_mach_o_spelling(L: Mapping[str, bytes],
                                                       tmp_path: Path) -> None:
    """A policy says $ORIGIN (or an install-root directory) for every platform; dyld knows only
    @loader_path, so that is what a Mach-O file gets."""
    files = {**INIT, "demo/lib/libfoo.dylib": L["macos/libfoo-arm64.dylib"],
             "demo/vendor/__init__.py": b""}
    wheel = build_wheel(tmp_path / "in", files, tag=MAC)
    mine = custom("""
        [[rule]]
        action = "relink"
        check = "rpath-absolute"
        replace = [{from = "/Users/**", to = "$ORIGIN/../vendor"},
                   {from = "/opt/homebrew/**", to = "demo"}]
        reason = "vendored copies"
    """)
    _w, _ctx, _findings, plan = plan_wheel(wheel, policies(mine))
    (edit,) = plan.macho
    assert edit.rpaths == ("@loader_path/../lib", "@loader_path/../vendor", "@loader_path/..")

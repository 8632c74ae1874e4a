"""The macOS and Windows checks on the cases their one-fixture wheels do not cover: where the
rule's edge is (universal2 floors, delocate's placeholder names, dSYM companions, extra
slices), and the format-neutral runtime checks on Mach-O and PE copies."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.fixtures import FFI_REQ, INIT, native_files
from helpers.native_variants import replaced, with_uuid
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel
from wheelguard.model import Finding

MAC = "cp312-abi3-macosx_11_0_arm64"
DSYM = "macos/libfoo-arm64.dylib.dSYM/Contents/Resources/DWARF/libfoo-arm64.dylib"


@pytest.fixture(scope="module")
def L() -> Mapping[str, bytes]:
    files = native_files()
    if files is None:
        pytest.skip("zig is not installed: no Mach-O/PE fixtures")
    return files


def audit(tmp_path: Path, files: Mapping[str, bytes], tag: str,
          requires: tuple[str, ...] = ()) -> list[Finding]:
    return list(audit_wheel(build_wheel(tmp_path, {**INIT, **files}, tag=tag,
                                        requires_dist=requires)).findings)


def codes(findings: list[Finding]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in findings:
        out.setdefault(f.check, []).append(f.message)
    return out


def test_universal2_floors_are_per_architecture(L: Mapping[str, bytes], tmp_path: Path) -> None:
    """x86_64 is held to the tag's 10.9, arm64 to 11.0 at least (delocate's rule)."""
    found = codes(audit(tmp_path, {"demo/lib/libtvm_ffi.dylib":
                                   L["macos/libfoo-universal2.dylib"]},
                        "cp312-abi3-macosx_10_9_universal2"))
    assert found["WG321"] == ["the x86_64 slice needs macOS 11.0 (LC_BUILD_VERSION), but the "
                              "tag promises 10.9"]
    assert "WG322" not in found


def test_extra_slice_is_not_foreign_but_a_wrong_one_is(L: Mapping[str, bytes],
                                                       tmp_path: Path) -> None:
    fat = codes(audit(tmp_path / "a", {"demo/lib/libfoo.dylib": L["macos/libfoo-universal2.dylib"]},
                      MAC))
    assert "WG403" not in fat
    thin = codes(audit(tmp_path / "b", {"demo/lib/libt.dylib": L["macos/libtvm_ffi-x86_64.dylib"]},
                       MAC))
    assert thin["WG403"] == ["Mach-O binary for x86_64, but the wheel is tagged for arm64"]


def test_dsym_companion_is_debug_data_not_a_copy(L: Mapping[str, bytes], tmp_path: Path) -> None:
    """The DWARF file shares its library's UUID and symbols: no duplicate, no second runtime,
    no debug-info strip; one WG420 that says the UUID matches."""
    plist = L["macos/libfoo-arm64.dylib.dSYM/Contents/Info.plist"]
    files = {"demo/lib/libfoo.dylib": L["macos/libfoo-arm64.dylib"],
             "demo/lib/libfoo.dylib.dSYM/Contents/Info.plist": plist,
             "demo/lib/libfoo.dylib.dSYM/Contents/Resources/DWARF/libfoo.dylib": L[DSYM]}
    found = codes(audit(tmp_path / "a", files, MAC))
    assert not {"WG103", "WG104", "WG121", "WG404", "WG102"} & set(found)
    (message,) = found["WG420"]
    assert "of demo/lib/libfoo.dylib" in message
    assert "its UUID matches" in message
    stale = {**files, "demo/lib/libfoo.dylib": with_uuid(L["macos/libfoo-arm64.dylib"],
                                                         bytes(16))}
    (message,) = codes(audit(tmp_path / "b", stale, MAC))["WG420"]
    assert "a stale companion" in message
    wheel_json = audit_wheel(build_wheel(tmp_path / "c", {**INIT, **files}, tag=MAC))
    assert len(wheel_json.wheel.binaries) == 1
    assert len(wheel_json.wheel.debug_companions) == 1


def test_delocate_placeholder_install_name_is_not_reported(L: Mapping[str, bytes],
                                                           tmp_path: Path) -> None:
    lib = L["macos/libmacos14-arm64.dylib"]
    dlc = replaced(lib, "@rpath/libmacos14.dylib", "/DLC/demo/.dylibs/m.dyl")
    users = replaced(lib, "@rpath/libmacos14.dylib", "/Users/runner/x/m.dylib")
    tag = "cp312-abi3-macosx_14_0_arm64"
    assert "WG207" not in codes(audit(tmp_path / "a", {"demo/.dylibs/m.dylib": dlc}, tag))
    assert "WG207" in codes(audit(tmp_path / "b", {"demo/.dylibs/m.dylib": users}, tag))


def test_bundled_provider_copies_in_every_format(L: Mapping[str, bytes], tmp_path: Path) -> None:
    """WG105 and WG104 read libraries by what they stand for: an install name's file name,
    a delvewheel-style grafted DLL name."""
    mac = codes(audit(tmp_path / "a", {"demo/lib/libtvm_ffi.dylib":
                                       L["macos/libtvm_ffi-arm64.dylib"]}, MAC, (FFI_REQ,)))
    assert list(mac) == ["WG105"]
    win = codes(audit(tmp_path / "b", {"demo.libs/tvm_ffi-1a2b3c4d.dll":
                                       L["windows/tvm_ffi-1a2b3c4d.dll"]},
                      "cp312-abi3-win_amd64", (FFI_REQ,)))
    assert list(win) == ["WG105"]
    embedded = codes(audit(tmp_path / "c", {"demo/other.dll": L["windows/tvm_ffi.dll"]},
                           "cp312-abi3-win_amd64", (FFI_REQ,)))
    assert list(embedded) == ["WG104"]


def test_windows_binaries_are_checked_for_architecture(L: Mapping[str, bytes],
                                                       tmp_path: Path) -> None:
    found = codes(audit(tmp_path, {"demo/c.dll": L["windows/consumer-arm64.dll"]},
                        "cp312-abi3-win_amd64", (FFI_REQ,)))
    assert found == {"WG403": ["PE binary for arm64, but the wheel is tagged for x86_64"]}


def test_foreign_platform_names_the_os(L: Mapping[str, bytes], tmp_path: Path) -> None:
    found = codes(audit(tmp_path, {"demo/libfoo.dylib": L["macos/libtvm_ffi-x86_64.dylib"]},
                        "cp312-abi3-win_amd64"))
    assert found == {"WG421": ["a Mach-O (macOS) binary for x86_64 in a wheel tagged for "
                               "Windows"]}

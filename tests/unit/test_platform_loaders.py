"""dyld and the Windows loader emulated over a wheel: each way a load is (not) satisfied, on
real Mach-O and PE files, and the audit and ``show`` telling the same story."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import run_inprocess
from helpers.fixtures import FFI_REQ, INIT, native_files
from helpers.native_variants import replaced
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel
from wheelguard.checks.context import make_context
from wheelguard.loader.resolve import resolve_binary
from wheelguard.reading.scan import scan_wheel

MAC = "cp312-abi3-macosx_11_0_arm64"
WIN = "cp312-abi3-win_amd64"


@pytest.fixture(scope="module")
def L() -> Mapping[str, bytes]:
    files = native_files()
    if files is None:
        pytest.skip("zig is not installed: no Mach-O/PE fixtures")
    return files


def resolutions(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    wheel = scan_wheel(path)
    ctx = make_context(wheel)
    return {b.path: {r.needed: r.to_json() for r in resolve_binary(
        ctx.layout, b, ctx.platform, ctx.providers, ctx.requirements)} for b in wheel.binaries}


# ---- dyld ----------------------------------------------------------------------------------


def test_rpath_of_the_loader_serves_its_dependencies(L: Mapping[str, bytes],
                                                     tmp_path: Path) -> None:
    """core.abi3.so (LC_RPATH @loader_path/lib) loads @rpath/libfoo.dylib, which loads
    @rpath/libtvm_ffi.dylib without an LC_RPATH that finds it: dyld then tries the loader's
    entries, @loader_path expanded against the loader."""
    core = replaced(L["macos/core.abi3.so"], "@rpath/libtvm_ffi.dylib",
                    "@rpath/libfoo.dylib\0\0\0\0")
    files = {**INIT, "demo/core.abi3.so": core,
             "demo/lib/libfoo.dylib": L["macos/libfoo-arm64.dylib"],
             "demo/lib/libtvm_ffi.dylib": L["macos/libtvm_ffi-arm64.dylib"]}
    res = resolutions(build_wheel(tmp_path, files, tag=MAC))
    assert res["demo/core.abi3.so"]["@rpath/libfoo.dylib"]["path"] == "demo/lib/libfoo.dylib"
    foo = res["demo/lib/libfoo.dylib"]
    # libfoo's own @loader_path/../lib is demo/lib as well; both find it.
    assert foo["@rpath/libtvm_ffi.dylib"]["kind"] == "wheel"
    assert foo["/usr/lib/libSystem.B.dylib"]["kind"] == "platform"
    missing = foo["@rpath/libweakdep.dylib"]
    assert missing["kind"] == "unresolved"
    assert "@loader_path/lib" in missing["reason"]  # inherited from core.abi3.so
    assert "/opt/homebrew/lib" in missing["reason"]


def test_provider_by_install_name_and_undeclared(L: Mapping[str, bytes], tmp_path: Path) -> None:
    files = {**INIT, "demo/lib/__init__.py": b"", "demo/core.abi3.so": L["macos/core.abi3.so"]}
    declared = resolutions(build_wheel(tmp_path / "a", files, tag=MAC, requires_dist=[FFI_REQ]))
    r = declared["demo/core.abi3.so"]["@rpath/libtvm_ffi.dylib"]
    assert (r["kind"], r["provider"], r["path"]) == ("dependency", "apache-tvm-ffi", None)
    assert "install name" in r["reason"]
    undeclared = resolutions(build_wheel(tmp_path / "b", files, tag=MAC))
    assert undeclared["demo/core.abi3.so"]["@rpath/libtvm_ffi.dylib"]["kind"] == "undeclared"


def test_absolute_and_executable_relative_loads(L: Mapping[str, bytes], tmp_path: Path) -> None:
    core = replaced(L["macos/core.abi3.so"], "@rpath/libtvm_ffi.dylib", "/opt/homebrew/lib/z.dyl")
    res = resolutions(build_wheel(tmp_path / "a", {**INIT, "demo/core.abi3.so": core}, tag=MAC))
    r = res["demo/core.abi3.so"]["/opt/homebrew/lib/z.dyl"]
    assert r["kind"] == "unresolved"
    assert "Homebrew" in r["reason"]
    core = replaced(L["macos/core.abi3.so"], "@rpath/libtvm_ffi.dylib", "@executable_path/xyz.dy")
    res = resolutions(build_wheel(tmp_path / "b", {**INIT, "demo/core.abi3.so": core}, tag=MAC))
    assert "interpreter" in res["demo/core.abi3.so"]["@executable_path/xyz.dy"]["reason"]


def test_weak_load_is_a_warning_and_show_agrees(L: Mapping[str, bytes], tmp_path: Path) -> None:
    files = {**INIT, "demo/lib/libfoo.dylib": L["macos/libfoo-arm64.dylib"],
             "demo/lib/libtvm_ffi.dylib": L["macos/libtvm_ffi-arm64.dylib"]}
    path = build_wheel(tmp_path, files, tag=MAC)
    found = {(f.check, f.subject.libraries[0]): f for f in audit_wheel(path).findings
             if f.check == "WG320"}
    assert found[("WG320", "@rpath/libweakdep.dylib")].severity.label == "warning"
    assert found[("WG320", "@rpath/libupward.dylib")].severity.label == "error"
    assert "LC_LOAD_UPWARD_DYLIB" in found[("WG320", "@rpath/libupward.dylib")].message
    rc, out, _err = run_inprocess(["show", path])
    assert rc == 0
    assert "LC_LOAD_WEAK_DYLIB" in out
    assert "@rpath/libweakdep.dylib -> not found" in out
    unresolved_in_show = {line.split()[1] for line in out.splitlines() if "not found" in line}
    assert unresolved_in_show == {n for _c, n in found}


# ---- Windows -------------------------------------------------------------------------------


def test_windows_search(L: Mapping[str, bytes], tmp_path: Path) -> None:
    consumer = replaced(L["windows/consumer.dll"], "KERNEL32.dll", "python3.dll\0")
    files = {**INIT, "demo/consumer.dll": consumer,
             "demo/core.cp312-win_amd64.pyd": L["windows/core.cp312-win_amd64.pyd"],
             "demo.libs/TVM_FFI.DLL": L["windows/tvm_ffi.dll"],
             "demo/delayed.dll": L["windows/delayed.dll"]}
    res = resolutions(build_wheel(tmp_path, files, tag=WIN))
    # <dist>.libs is searched (delvewheel's os.add_dll_directory), case-insensitively.
    via_libs = res["demo/core.cp312-win_amd64.pyd"]["tvm_ffi.dll"]
    assert (via_libs["kind"], via_libs["path"]) == ("wheel", "demo.libs/TVM_FFI.DLL")
    assert res["demo/core.cp312-win_amd64.pyd"]["python312.dll"]["kind"] == "platform"
    assert res["demo/consumer.dll"]["python3.dll"]["reason"] == "shipped with CPython"
    assert res["demo/delayed.dll"]["KERNEL32.dll"]["kind"] == "platform"


def test_windows_beside_preload_provider_and_delay(L: Mapping[str, bytes],
                                                   tmp_path: Path) -> None:
    files = {**INIT, "demo/consumer.dll": L["windows/consumer.dll"],
             "demo/lib/tvm_ffi.dll": L["windows/tvm_ffi.dll"],
             "demo/lib/delayed.dll": L["windows/delayed.dll"]}
    res = resolutions(build_wheel(tmp_path / "a", files, tag=WIN))
    assert res["demo/lib/delayed.dll"]["tvm_ffi.dll"]["kind"] == "wheel"  # beside it
    elsewhere = res["demo/consumer.dll"]["tvm_ffi.dll"]
    assert (elsewhere["kind"], elsewhere["path"]) == ("preload", "demo/lib/tvm_ffi.dll")
    alone = {**INIT, "demo/delayed.dll": L["windows/delayed.dll"]}
    res = resolutions(build_wheel(tmp_path / "b", alone, tag=WIN, requires_dist=[FFI_REQ]))
    r = res["demo/delayed.dll"]["tvm_ffi.dll"]
    assert (r["kind"], r["provider"]) == ("dependency", "apache-tvm-ffi")
    res = resolutions(build_wheel(tmp_path / "c", alone, tag=WIN))
    r = res["demo/delayed.dll"]["tvm_ffi.dll"]
    assert r["kind"] == "undeclared"
    findings = [f for f in audit_wheel(build_wheel(tmp_path / "d", {**INIT, "demo/delayed.dll":
        replaced(L["windows/delayed.dll"], "tvm_ffi.dll", "missing.dll")}, tag=WIN)).findings
        if f.check == "WG323"]
    assert [(f.severity.label, "delay-loaded" in f.message) for f in findings] == [
        ("warning", True)]


def test_show_in_pe_words(L: Mapping[str, bytes], tmp_path: Path) -> None:
    path = build_wheel(tmp_path, {**INIT, "demo/delayed.dll": L["windows/delayed.dll"]},
                       tag=WIN, requires_dist=[FFI_REQ])
    rc, out, _err = run_inprocess(["show", path])
    assert rc == 0
    assert "x86_64 PE DLL, exports as delayed.dll" in out
    assert "delay import  tvm_ffi.dll -> apache-tvm-ffi" in out
    rc, out, _err = run_inprocess(["show", "--format", "json", path])
    import json

    (lib,) = json.loads(out)["libraries"]
    assert (lib["imports"], lib["delay_imports"]) == (["KERNEL32.dll"], ["tvm_ffi.dll"])
    assert "soname" not in lib
    assert "runpath" not in lib


def test_show_in_mach_o_words(L: Mapping[str, bytes], tmp_path: Path) -> None:
    files = {**INIT, "demo/lib/__init__.py": b"", "demo/core.abi3.so": L["macos/core.abi3.so"],
             "demo/lib/libfoo.dylib.dSYM/Contents/Resources/DWARF/libfoo.dylib":
             L["macos/libfoo-arm64.dylib.dSYM/Contents/Resources/DWARF/libfoo-arm64.dylib"]}
    path = build_wheel(tmp_path, files, tag=MAC, requires_dist=[FFI_REQ])
    _rc, out, _err = run_inprocess(["show", "--format", "json", path])
    import json

    doc = json.loads(out)
    (lib,) = doc["libraries"]
    assert lib["lc_rpath"] == ["@loader_path/lib"]
    assert lib["install_name"] is None
    (s,) = lib["slices"]
    assert s["load_commands"][1] == {"command": "LC_LOAD_DYLIB",
                                     "name": "@rpath/libtvm_ffi.dylib",
                                     "current_version": "1.0.0",
                                     "compatibility_version": "1.0.0"}
    assert (s["min_os"], s["signature"], s["signature_valid"]) == ("11.0", "linker-signed", True)
    assert [d["path"] for d in doc["debug_companions"]] == [
        "demo/lib/libfoo.dylib.dSYM/Contents/Resources/DWARF/libfoo.dylib"]
    _rc, out, _err = run_inprocess(["show", path])
    assert "RUNPATH" not in out
    assert "SONAME" not in out
    assert "$ORIGIN" not in out
    assert "LC_RPATH             @loader_path/lib" in out
    assert "(debug data, never loaded" in out

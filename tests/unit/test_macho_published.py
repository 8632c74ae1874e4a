"""A published macOS wheel through the Mach-O adapter: install names resolve the way dyld
resolves them, and the audit judges the same defects it judges on Linux."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.cli import run_wheelguard

from wheelguard.cli.show import show_data
from wheelguard.reading.scan import scan_wheel

pytestmark = pytest.mark.network


def test_binaries_are_read_as_arm64_macho(published_wheel: Callable[[str], Path]) -> None:
    wheel = scan_wheel(published_wheel("apache-tvm-ffi-macos"))
    by_path = {b.path: b for b in wheel.binaries}
    lib = by_path["tvm_ffi/lib/libtvm_ffi.dylib"]
    assert (lib.format, lib.machine, lib.soname) == ("macho", "arm64", "@rpath/libtvm_ffi.dylib")
    assert any(s.startswith("TVMFFI") for s in lib.exported)
    assert all(b.machine == "arm64" for b in wheel.binaries)


def test_install_names_resolve_like_dyld(published_wheel: Callable[[str], Path]) -> None:
    data = show_data(str(published_wheel("apache-tvm-ffi-macos")))
    core = next(lib for lib in data["libraries"] if lib["path"] == "tvm_ffi/core.abi3.so")
    kinds = {r["needed"]: (r["kind"], r["path"]) for r in core["resolution"]}
    assert kinds["@loader_path/lib/libtvm_ffi.dylib"] == ("wheel", "tvm_ffi/lib/libtvm_ffi.dylib")
    assert kinds["/usr/lib/libSystem.B.dylib"] == ("platform", None)
    assert all(kind != "unresolved" for kind, _ in kinds.values())


def test_audit_reports_no_foreign_arch(published_wheel: Callable[[str], Path]) -> None:
    proc = run_wheelguard("audit", "--format", "json", published_wheel("apache-tvm-ffi-macos"))
    assert proc.returncode in (0, 1), proc.stderr
    # The codes of findings: the document also lists every check that ran.
    codes = {f["check"] for w in json.loads(proc.stdout)["wheels"] for f in w["findings"]}
    assert "WG403" not in codes
    assert "WG405" not in codes

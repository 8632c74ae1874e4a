"""``wheelguard show``: per library SONAME, RPATH/RUNPATH, NEEDED and how each one resolves."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers.cli import run_inprocess, run_wheelguard
from helpers.fixtures import FFI_REQ, INIT, BuiltFixture
from helpers.wheels import build_wheel

Wheels = Mapping[str, BuiltFixture]


def _show_json(path: Path) -> dict[str, Any]:
    rc, out, err = run_inprocess(["show", "--format", "json", path])
    assert rc == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_show_json_clean(fixture_wheels: Wheels) -> None:
    doc = _show_json(fixture_wheels["clean"].path)
    assert doc["wheel"] == "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl"
    assert doc["platform_policy"] == "manylinux_2_17_x86_64"
    assert doc["requires_dist"] == ["numpy>=1.24"]
    ext, lib = doc["libraries"]
    assert ext["path"] == "demo/_ext.abi3.so"
    assert ext["soname"] is None
    assert ext["runpath"] == ["$ORIGIN/lib"]
    assert ext["rpath"] == []
    assert ext["resolution"] == [{
        "needed": "libdemo.so", "kind": "wheel", "path": "demo/lib/libdemo.so",
        "entry": "$ORIGIN/lib", "provider": None, "version": None,
        "requirement": None, "reason": None,
    }]
    assert lib["soname"] == "libdemo.so"
    assert lib["machine"] == "x86_64"
    assert lib["debug_info"] is False
    assert isinstance(lib["build_id"], str)


def test_show_resolution_kinds(libs: Mapping[str, bytes], tmp_path: Path) -> None:
    path = build_wheel(tmp_path, {
        **INIT,
        "demo/lib/libneeds_tvmffi.so": libs["libneeds_tvmffi.so"],
        "demo/lib/libneeds_foo.so": libs["libneeds_foo.so"],
        "demo/lib/libnew_glibc.so": libs["libnew_glibc.so"],
    }, requires_dist=[FFI_REQ])
    doc = _show_json(path)
    kinds = {(lib["path"], r["needed"]): r
             for lib in doc["libraries"] for r in lib["resolution"]}
    ffi = kinds[("demo/lib/libneeds_tvmffi.so", "libtvm_ffi.so")]
    assert ffi["kind"] == "dependency"
    assert ffi["provider"] == "apache-tvm-ffi"
    assert ffi["requirement"] == "apache-tvm-ffi<0.2,>=0.1.12"
    assert ffi["path"] == "tvm_ffi/lib"
    assert ffi["entry"] == "$ORIGIN/../../tvm_ffi/lib"
    assert kinds[("demo/lib/libneeds_foo.so", "libfoo.so")]["kind"] == "unresolved"
    assert kinds[("demo/lib/libnew_glibc.so", "libc.so.6")]["kind"] == "platform"


def test_show_text(fixture_wheels: Wheels) -> None:
    proc = run_wheelguard("show", fixture_wheels["clean"].path)
    assert proc.returncode == 0, proc.stderr
    lines = [line.rstrip() for line in proc.stdout.splitlines()]
    assert lines[0] == ("demo-1.0-cp312-abi3-manylinux_2_17_x86_64.whl "
                        "(manylinux_2_17_x86_64)")
    assert "demo/_ext.abi3.so x86_64" in lines
    assert "  RUNPATH  $ORIGIN/lib" in lines
    assert "  NEEDED   libdemo.so -> demo/lib/libdemo.so (via $ORIGIN/lib)" in lines
    assert "  SONAME   libdemo.so" in lines


def test_show_text_undeclared_and_rpath(fixture_wheels: Wheels) -> None:
    proc = run_wheelguard("show", fixture_wheels["wg301_needed_undeclared_provider"].path)
    assert ("  NEEDED   libtvm_ffi.so -> apache-tvm-ffi (not declared) tvm_ffi/lib "
            "(via $ORIGIN/../../tvm_ffi/lib)") in proc.stdout
    proc = run_wheelguard("show", fixture_wheels["wg201_rpath_absolute"].path)
    assert "  RPATH    /usr/local/lib" in proc.stdout
    assert "  RUNPATH  /home/runner/work/demo/build/lib:/usr/local/lib" in proc.stdout


def test_show_unreadable_wheel(tmp_path: Path) -> None:
    bad = tmp_path / "demo-1.0-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    proc = run_wheelguard("show", bad)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith(f"wheelguard: error: {bad}: not a zip archive")
    assert "Traceback" not in proc.stderr

"""The published tilelang 0.1.15 wheel: what wheelguard must say about a real compiler wheel.

Downloaded by pinned version and sha256 (helpers.published); audited in-process with every way
of writing a member to disk booby-trapped, so the audit provably reads from the zip alone.
"""

from __future__ import annotations

import posixpath
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from wheelguard.audit import audit_wheel

pytestmark = pytest.mark.network

# C, C++, CUDA, Objective-C++ and assembly sources: what docs/checks.md calls "source".
_SOURCES = (".c", ".cc", ".cpp", ".cxx", ".cu", ".mm", ".s")
_LIBS = ("libtilelang.so", "libtvm_compiler.so", "libtvm_runtime.so")


def _sources_by_tree(path: Path) -> dict[str, tuple[int, int]]:
    """(files, bytes) of source members per 3rdparty tree, from the central directory alone."""
    out: dict[str, tuple[int, int]] = {}
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            parts = info.filename.split("/")
            if info.is_dir() or parts[1:2] != ["3rdparty"] or len(parts) < 4:
                continue
            if posixpath.splitext(info.filename)[1].lower() in _SOURCES:
                tree = "/".join(parts[:3])
                files, size = out.get(tree, (0, 0))
                out[tree] = (files + 1, size + info.file_size)
    return out


def _no_extraction(*_args: object, **_kwargs: object) -> None:
    msg = "the audit must not extract members"
    raise AssertionError(msg)


def test_tilelang_0_1_15(
    published_wheel: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = published_wheel("tilelang")
    watched = tmp_path / "watched"
    watched.mkdir()
    monkeypatch.setattr(zipfile.ZipFile, "extract", _no_extraction)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", _no_extraction)
    monkeypatch.setattr(tempfile, "tempdir", str(watched))
    monkeypatch.setenv("TMPDIR", str(watched))
    monkeypatch.chdir(watched)

    result = audit_wheel(wheel)

    assert list(watched.iterdir()) == [], "the audit wrote files"
    expected = _sources_by_tree(wheel)
    assert set(expected) == {"tilelang/3rdparty/tvm", "tilelang/3rdparty/cutlass"}
    vendored = {f.data["tree"]: f for f in result.findings if f.check == "WG401"}
    # Sources the package's Python code builds a path to (TVM's minrpc, compiled for RPC
    # servers) are named as shipped on purpose (WG408); together the two count every source.
    deliberate = {f.data["tree"]: f.data["categories"] for f in result.findings
                  if f.check == "WG408"}
    for tree, (files, size) in expected.items():
        data = vendored[tree].data
        assert data["vendored"] is True
        jit = deliberate.get(tree, {}).get("jit-sources", {"files": 0, "bytes": 0})
        assert (data["categories"]["source"]["files"] + jit["files"],
                data["categories"]["source"]["bytes"] + jit["bytes"]) == (files, size), tree
        assert data["bytes"] + jit["bytes"] >= size
    assert expected["tilelang/3rdparty/tvm"][0] > 600  # the whole TVM source tree ships

    runpaths: dict[str, dict[str, object]] = {}
    for f in result.findings:
        if f.check == "WG204" and f.path == "tilelang/lib/libtilelang.so":
            runpaths[f.data["directory"]] = dict(f.data)
    assert set(runpaths) == {"tvm_ffi/lib", "z3/lib", "nvidia/cu13/lib"}
    assert {d["tag"] for d in runpaths.values()} == {"RUNPATH"}
    assert runpaths["tvm_ffi/lib"]["provider"] == "apache-tvm-ffi"
    assert str(runpaths["tvm_ffi/lib"]["declared"]).startswith("apache-tvm-ffi")
    assert str(runpaths["z3/lib"]["declared"]).startswith("z3-solver")
    assert runpaths["nvidia/cu13/lib"]["declared"] is None

    libs = {b.path.rsplit("/", 1)[-1]: b for b in result.wheel.binaries}
    for name in _LIBS:
        assert "$ORIGIN/../../tvm_ffi/lib" in libs[name].runpath
        assert libs[name].rpath == ()
    assert "libtvm_ffi.so" in libs["libtilelang.so"].needed
    # libtvm_ffi.so is not bundled: the duplicate-runtime checks stay quiet on this release.
    assert not [f for f in result.findings if f.check in {"WG101", "WG104", "WG105"}]

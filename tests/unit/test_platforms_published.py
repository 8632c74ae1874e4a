"""Published macOS and Windows wheels of the pinned corpus, audited in their own terms: what
docs/platforms.md reports, on the wheels small enough to audit in a unit run. Skipped when the
corpus is not in the wheel cache (``python tests/corpus/fetch.py --only KEY``); the whole
table is ``python tests/corpus/audit_platforms.py``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from corpus.fetch import path_of

from wheelguard.audit import AuditResult, audit_wheel
from wheelguard.cli.show import show_data

DOC = Path(__file__).resolve().parents[2] / "docs" / "platforms.md"


def audited(key: str) -> AuditResult:
    try:
        return audit_wheel(path_of(key))
    except FileNotFoundError as e:
        pytest.skip(str(e))


def errors(result: AuditResult) -> Counter[str]:
    return Counter(f.check for f in result.findings if f.severity.label == "error")


def test_tvm_ffi_macos_dsym_companions_are_debug_data() -> None:
    """The .dSYM DWARF files share their libraries' UUIDs and symbols: once WG103 and WG104
    errors, now two WG420 warnings that say the UUIDs match."""
    result = audited("tvm-ffi-macos-arm64")
    # The libbacktrace sources are a warning by their size (a policy matter, docs/accuracy.md).
    assert errors(result) == Counter()
    dsyms = [f for f in result.findings if f.check == "WG420"]
    assert len(dsyms) == 2
    assert all("its UUID matches" in f.message for f in dsyms)
    assert len(result.wheel.binaries) == 3
    assert len(result.wheel.debug_companions) == 2


def test_z3_macos_ships_windows_dlls() -> None:
    result = audited("z3-macos-x86_64")
    assert errors(result) == Counter({"WG421": 10})
    foreign = sorted(f.path or "" for f in result.findings if f.check == "WG421")
    assert "z3/lib/libz3.dll" in foreign
    assert "z3/lib/vcruntime140.dll" in foreign
    # x86_64 dylibs in an x86_64 wheel: no architecture finding (the tag parser bug is gone).
    assert not [f for f in result.findings if f.check == "WG403"]


def test_tilelang_windows_dlls_resolve_through_their_providers() -> None:
    result = audited("tilelang-win")
    assert len(result.wheel.binaries) == 8
    assert errors(result) == Counter()  # 3rdparty sources: warnings by their size
    data = show_data(str(result.wheel.path))
    runtime = next(lib for lib in data["libraries"]
                   if lib["path"] == "tilelang/lib/tvm_compiler.dll")
    kinds = {r["needed"]: (r["kind"], r["provider"]) for r in runtime["resolution"]}
    assert kinds["tvm_ffi.dll"] == ("dependency", "apache-tvm-ffi")
    assert kinds["libz3.dll"] == ("dependency", "z3-solver")
    assert kinds["KERNEL32.dll"] == ("platform", None)
    assert kinds["MSVCP140.dll"] == ("redistributable", None)


def test_windows_arm64_is_read_as_arm64() -> None:
    result = audited("tvm-ffi-win-arm64")
    assert {b.machine for b in result.wheel.binaries} == {"arm64"}
    assert errors(result) == Counter()  # libbacktrace sources: a warning by their size


def test_xgrammar_macos_loads_tvm_ffi_by_install_name() -> None:
    result = audited("xgrammar-macos-arm64")
    assert not errors(result)
    data = show_data(str(result.wheel.path))
    (lib,) = data["libraries"]
    ffi = next(r for r in lib["resolution"] if r["needed"] == "@rpath/libtvm_ffi.dylib")
    assert (ffi["kind"], ffi["provider"]) == ("dependency", "apache-tvm-ffi")


def test_the_platforms_page_covers_every_macos_and_windows_corpus_wheel() -> None:
    from corpus.fetch import load_corpus

    text = DOC.read_text(encoding="utf-8")
    keys = [k for k, e in load_corpus().items() if e.os in ("macos", "windows")]
    missing = [k for k in keys if f"| {k} |" not in text]
    assert not missing, f"docs/platforms.md has no row for {missing}"

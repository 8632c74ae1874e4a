"""The published tilelang 0.1.15 wheel against its real providers, downloaded by pip.

Only the distributions that ship a library tilelang needs are fetched (apache-tvm-ffi and
z3-solver, each at the lowest and highest version its range admits and at the newest); torch,
numpy and the nvidia wheels are declared too but provide nothing tilelang's libraries need,
so they are never downloaded. Assertions avoid the newest releases, which move.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from wheelguard.linkage.emulate import Linkage, analyse_linkage
from wheelguard.linkage.facts import soname_gaps, symbol_gaps, verdict
from wheelguard.linkage.fetch import ProviderLookup
from wheelguard.reading.scan import scan_wheel

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def tilelang(published_wheel: Callable[[str], Path]) -> Linkage:
    wheel = scan_wheel(published_wheel("tilelang"))
    lookup = ProviderLookup(download=True, skip=("torch", "nvidia-*"))
    return analyse_linkage(wheel, lookup, python="3.12")


def test_only_library_providers_are_read(tilelang: Linkage) -> None:
    deps = {str(d.name): d for d in tilelang.dependencies}
    assert set(deps) == {"apache-tvm-ffi", "z3-solver"}
    ffi, z3 = deps["apache-tvm-ffi"], deps["z3-solver"]
    assert ffi.problem is None
    assert z3.problem is None
    assert [str(s.version) for s in ffi.checked] == ["0.1.11", "0.1.12"]
    assert [str(s.version) for s in z3.checked] == ["4.13.0.0", "4.15.4.0"]
    assert "provides libz3.so.4.15" in z3.reasons


def test_every_external_library_resolves_through_its_entry(tilelang: Linkage) -> None:
    site = {(str(lk.binary), str(lk.resolution.needed)): lk.resolution
            for lk in tilelang.links
            if lk.layout == "site-packages" and lk.scenario == "highest"}
    ffi = site[("tilelang/lib/libtvm_compiler.so", "libtvm_ffi.so")]
    assert (ffi.kind, ffi.path, ffi.entry, ffi.provider, ffi.version) == (
        "dependency", "tvm_ffi/lib/libtvm_ffi.so", "$ORIGIN/../../tvm_ffi/lib",
        "apache-tvm-ffi", "0.1.12")
    z3 = site[("tilelang/lib/libtvm_compiler.so", "libz3.so.4.15")]
    assert (z3.kind, z3.path, z3.entry, z3.provider) == (
        "dependency", "z3/lib/libz3.so.4.15", "$ORIGIN/../../z3/lib", "z3-solver")
    apart = {lk.resolution.kind for lk in tilelang.links
             if lk.layout == "system-site-packages" and lk.scenario == "highest"
             and lk.resolution.needed in ("libtvm_ffi.so", "libz3.so.4.15")}
    assert apart == {"preload"}


def test_findings(tilelang: Linkage) -> None:
    # z3-solver 4.13.0 ships libz3.so.4.13 with SONAME libz3.so: the range's lowest end
    # cannot satisfy libtvm_compiler.so's NEEDED libz3.so.4.15.
    gaps = [(g.dependency.name, str(g.sample.version), g.needed) for g in soname_gaps(tilelang)]
    assert gaps == [("z3-solver", "4.13.0.0", "libz3.so.4.15")]
    assert not symbol_gaps(tilelang)
    v = verdict(tilelang)
    assert v is not None
    assert v.holds
    assert v.claimed == "manylinux_2_27_x86_64"
    assert dict(v.provided) == {"libtvm_ffi.so": "apache-tvm-ffi", "libz3.so.4.15": "z3-solver"}

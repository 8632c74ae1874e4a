"""The published tilelang 0.1.15 wheel advised against real release series of its providers.

Provider wheels are pinned by version and sha256 (taken from the registry's JSON API) and laid
into a wheelhouse, so the versions judged are exactly these and no index is asked: z3-solver
4.14.1.0 / 4.15.0.0 / 4.15.4.0 / 4.16.0.0 (about 120 MB, downloaded once into the shared
wheel cache) and apache-tvm-ffi 0.1.9 / 0.1.11 / 0.1.12 / 0.1.15.post2. tilelang declares
``z3-solver>=4.13.0,<4.15.5`` but needs ``libz3.so.4.15``, and imports a tvm::ffi C++ symbol
that apache-tvm-ffi 0.1.15 no longer exports.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.published import Pin, Unavailable
from helpers.wheelcache import Artifact, cache_dir, download
from packaging.version import Version

from wheelguard.linkage.advise import Advice, advise
from wheelguard.linkage.fetch import ProviderLookup
from wheelguard.linkage.matrix import ProviderAdvice
from wheelguard.reading.scan import scan_wheel
from wheelguard.util.demangle import Demangler

pytestmark = pytest.mark.network

_FILES = "https://files.pythonhosted.org/packages/"
PROVIDERS = (
    Pin("z3-solver", "4.14.1.0",
        "z3_solver-4.14.1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "dc8e48fa2855f6f7fa5fda450a5f7f042651f447835e5a2db531960658eb012d",
        "manylinux_2_17_x86_64", "3.12", 29495631,
        _FILES + "1a/36/39a210eac61a8d0c5c7a3d88ac2bec5c51b5aa4e3b9c8a52bc5a1fbf43a2/"
                 "z3_solver-4.14.1.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    Pin("z3-solver", "4.15.0.0",
        "z3_solver-4.15.0.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "214d833c2c0959aed3387e35ca36a1bfdfc443f11403d6aaf61ba346b5e21ed3",
        "manylinux_2_17_x86_64", "3.12", 29491842,
        _FILES + "9a/d3/bd7828479c0592280290a24b350a23abb460115824874adc3f902748b3dd/"
                 "z3_solver-4.15.0.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    Pin("z3-solver", "4.15.4.0",
        "z3_solver-4.15.4.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "7e103a6f203f505b8b8b8e5c931cc407c95b61556512d4921c1ddc0b3f41b08e",
        "manylinux_2_17_x86_64", "3.12", 29268352,
        _FILES + "21/c9/bb51a96af0091324c81b803f16c49f719f9f6ea0b0bb52200f5c97ec4892/"
                 "z3_solver-4.15.4.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"),
    Pin("z3-solver", "4.16.0.0", "z3_solver-4.16.0.0-py3-none-manylinux_2_27_x86_64.whl",
        "afae2551f795670f0522cfce82132d129c408a2694adff71eb01ba0f2ece44f9",
        "manylinux_2_27_x86_64", "3.12", 31741807,
        _FILES + "f6/e6/98741b086b6e01630a55db1fbda596949f738204aac14ef35e64a9526ccb/"
                 "z3_solver-4.16.0.0-py3-none-manylinux_2_27_x86_64.whl"),
    Pin("apache-tvm-ffi", "0.1.9",
        "apache_tvm_ffi-0.1.9-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "f45eb43499acac45ff6c93564f0ff2d3ca27b69656d540fd56ce59d51c0b4c65",
        "manylinux_2_28_x86_64", "3.12", 2278991,
        _FILES + "70/ef/5402da5d37f5270fd88ea0348acca78dba9be8bdbf6c2bcae0935eb03ef1/"
                 "apache_tvm_ffi-0.1.9-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"),
    Pin("apache-tvm-ffi", "0.1.11",
        "apache_tvm_ffi-0.1.11-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "2843f084cdc94dedacd8b257a395a2b71b8a3dc7fc99711b148bf1d161983128",
        "manylinux_2_28_x86_64", "3.12", 2697683,
        _FILES + "4d/18/95569107ee83619d61a3bb0d28743a0599f85c5161981e3e098c82c2b185/"
                 "apache_tvm_ffi-0.1.11-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64"
                 ".whl"),
    Pin("apache-tvm-ffi", "0.1.12",
        "apache_tvm_ffi-0.1.12-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "dc0acd7eeb0e451d5e3f686af3ba0b495fdbf97b5b54cf9a0f770cdafe0e691a",
        "manylinux_2_28_x86_64", "3.12", 2719638,
        _FILES + "52/f3/fba607d803cb081be2d66ea51865492b42872898bd271d9bcc3e1ced4ef3/"
                 "apache_tvm_ffi-0.1.12-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64"
                 ".whl"),
    Pin("apache-tvm-ffi", "0.1.15.post2",
        "apache_tvm_ffi-0.1.15.post2-cp312-cp312-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "059eed9bfc94bcd41650fb8eefde74040a1bc7e7b1a6f0a8ff897b02b118875b",
        "manylinux_2_28_x86_64", "3.12", 3312304,
        _FILES + "1c/26/5f33831621f3bb493556ad508ee419ba26e134356ecfdb2ca5415f9bbe5c/"
                 "apache_tvm_ffi-0.1.15.post2-cp312-cp312-manylinux_2_24_x86_64"
                 ".manylinux_2_28_x86_64.whl"),
)


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pinned provider wheels, linked into one directory (the cache holds many more)."""
    house = tmp_path_factory.mktemp("providers")
    for pin in PROVIDERS:
        assert pin.url is not None
        try:
            path = download(Artifact(pin.filename, pin.sha256, pin.url, pin.size), cache_dir(),
                            verify_cached=False)
        except Unavailable as e:
            pytest.skip(str(e))
        (house / pin.filename).symlink_to(path)
    return house


@pytest.fixture(scope="module")
def advice(published_wheel: Callable[[str], Path], wheelhouse: Path) -> Advice:
    tilelang = scan_wheel(published_wheel("tilelang"))
    return advise(tilelang, ProviderLookup(wheelhouses=(wheelhouse,)), python="3.12",
                  all_versions=True, jobs=2)


def _provider(advice: Advice, name: str) -> ProviderAdvice:
    return next(p for p in advice.providers if p.name == name)


def test_only_the_library_providers_are_advised(advice: Advice) -> None:
    assert [p.name for p in advice.providers] == ["apache-tvm-ffi", "z3-solver"]
    assert advice.unprovided == ()
    assert not advice.ok


def test_z3_solver_works_only_in_the_4_15_series(advice: Advice) -> None:
    z3 = _provider(advice, "z3-solver")
    assert {str(c.version): c.status for c in z3.cells} == {
        "4.14.1.0": "fails", "4.15.0.0": "works", "4.15.4.0": "works", "4.16.0.0": "fails"}
    assert z3.admitted_failing == (Version("4.14.1.0"),)
    assert z3.proposed_requirement == "z3-solver>=4.15,<4.16"
    (e,) = z3.cells[0].evidence
    assert (e.kind, e.needed, e.binaries) == ("soname", "libz3.so.4.15",
                                              ("tilelang/lib/libtvm_compiler.so",))
    assert "z3/lib/libz3.so.4.14 (SONAME libz3.so.4.14)" in e.detail


def test_apache_tvm_ffi_0_1_15_drops_a_symbol_tilelang_imports(advice: Advice) -> None:
    ffi = _provider(advice, "apache-tvm-ffi")
    assert {str(c.version): c.status for c in ffi.cells} == {
        "0.1.9": "fails", "0.1.11": "works", "0.1.12": "works", "0.1.15.post2": "fails"}
    assert ffi.cxx
    assert ffi.proposed_requirement == "apache-tvm-ffi>=0.1.11,<0.1.15"
    assert not ffi.admitted_failing  # the declared <0.1.13 already keeps 0.1.15 out
    (e,) = ffi.cells[-1].evidence
    assert e.kind == "symbols"
    assert e.binaries == ("tilelang/lib/libtvm_compiler.so", "tilelang/lib/libtvm_runtime.so")
    stringify = "_ZN3tvm3ffi4json9StringifyERKNS0_3AnyENS0_8OptionalIivEE"
    assert [s.name for s in e.symbols] == [stringify]
    if Demangler().source != "none":
        assert e.symbols[0].demangled == \
            "tvm::ffi::json::Stringify(tvm::ffi::Any const&, tvm::ffi::Optional<int, void>)"
    (old,) = ffi.cells[0].evidence
    assert [s.name for s in old.symbols] == ["_ZN3tvm3ffi9ReprPrintERKNS0_3AnyE"]

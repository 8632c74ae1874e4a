r"""One implementation per fact (issue #10): grafted names, platform tags, \$ORIGIN spellings.

Each used to exist two or three times and the copies disagreed; these tables pin the one
that is left, including the cases the copies got wrong.
"""

from __future__ import annotations

import pytest

from wheelguard.knowledge.names import loader_name, ungrafted
from wheelguard.knowledge.tags import machines, parse_platform
from wheelguard.loader.origin import expand_origin, is_origin_relative, origin_entry


@pytest.mark.parametrize(
    ("name", "original"),
    [
        ("libtvm_ffi-1a2b3c4d.so", "libtvm_ffi.so"),  # auditwheel
        ("libgfortran-040039e1.so.5.0.0", "libgfortran.so.5.0.0"),
        ("libnvToolsExt-847d78f2.so.1", "libnvToolsExt.so.1"),
        # delocate-style hashed copy: policy un-hashed it, providers and smoke did not
        ("libtvm_ffi-1a2b3c4d.dylib", "libtvm_ffi.dylib"),
        ("libscipy_openblas64_-c16e4918366c6bc1f1cd71e28ca36fc0.dll",
         "libscipy_openblas64_.dll"),  # delvewheel
        ("TVM_FFI-C16E4918366C6BC1F1CD71E28CA36FC0.DLL", "TVM_FFI.DLL"),
        ("libfoo.so", None),
        ("libfoo-1.2.so", None),
        ("libz3.so.4.15", None),
        ("msvcp140.dll", None),  # delvewheel does not mangle the MSVC runtime
        ("libfoo-deadbeef.so.x", None),
    ],
)
def test_ungrafted(name: str, original: str | None) -> None:
    assert ungrafted(name) == original
    assert loader_name(name) == (original or name)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("manylinux2014_x86_64", ("manylinux", "x86_64", (2, 17), "manylinux_2_17_x86_64",
         {"x86_64"})),
        ("manylinux1_i686", ("manylinux", "i686", (2, 5), "manylinux_2_5_i686", {"i686"})),
        ("manylinux_2_28_aarch64", ("manylinux", "aarch64", (2, 28), "manylinux_2_28_aarch64",
         {"aarch64"})),
        ("musllinux_1_2_x86_64", ("musllinux", "x86_64", (1, 2), "musllinux_1_2_x86_64",
         {"x86_64"})),
        ("linux_i386", ("linux", "i386", None, "linux_i386", {"i686"})),
        # the old parser split on the last '_' and saw "64" here
        ("macosx_10_13_x86_64", ("macosx", "x86_64", (10, 13), "macosx_10_13_x86_64",
         {"x86_64"})),
        ("macosx_10_9_universal2", ("macosx", "universal2", (10, 9), "macosx_10_9_universal2",
         {"x86_64", "arm64"})),
        ("macosx_11_0_arm64", ("macosx", "arm64", (11, 0), "macosx_11_0_arm64", {"arm64"})),
        ("win_amd64", ("win", "x86_64", None, "win_amd64", {"x86_64"})),
        ("win32", ("win", "i686", None, "win32", {"i686"})),
        ("win_arm64", ("win", "arm64", None, "win_arm64", {"arm64"})),
        ("any", ("any", None, None, "any", set())),
        ("emscripten_3_1_58_wasm32", ("other", None, None, "emscripten_3_1_58_wasm32", set())),
    ],
)
def test_platform_tags(tag: str, expected: tuple[object, ...]) -> None:
    t = parse_platform(tag)
    assert (t.family, t.arch, t.level, t.name, set(t.machines)) == expected


def test_machines_of_a_wheel() -> None:
    assert machines(["manylinux_2_17_x86_64", "manylinux2014_x86_64"]) == {"x86_64"}
    assert machines(["any"]) is None


@pytest.mark.parametrize(
    ("entry", "relative", "expanded"),
    [
        ("$ORIGIN", True, "pkg/lib"),
        ("$ORIGIN/../../tvm_ffi/lib", True, "pkg/lib/../../tvm_ffi/lib"),
        ("${ORIGIN}/../lib", True, "pkg/lib/../lib"),
        ("@loader_path/../lib", True, "pkg/lib/../lib"),
        ("$ORIGINAL/lib", False, None),
        ("/usr/lib", False, None),
        ("lib", False, None),
        ("", False, None),
    ],
)
def test_origin_spellings(entry: str, relative: bool, expanded: str | None) -> None:
    assert is_origin_relative(entry) is relative
    assert expand_origin(entry, "pkg/lib/libx.so") == expanded


def test_origin_entry_from_top_level_and_data_dirs() -> None:
    assert origin_entry("pkg/lib/libx.so", "pkg/lib") == "$ORIGIN"
    assert origin_entry("pkg/lib/libx.so", "tvm_ffi/lib") == "$ORIGIN/../../tvm_ffi/lib"
    assert origin_entry("_ext.so", "pkg/lib") == "$ORIGIN/pkg/lib"
    assert origin_entry("demo-1.0.data/platlib/pkg/x.so", "pkg") == "$ORIGIN"

"""The catalogue of fixture wheels: one (at least) per check that triggers it, and one clean.

Each :class:`WheelFixture` names the checks it must trigger, exactly; the golden snapshots
(``tests/golden/<name>.json``) and the per-check tests both read this one table, so a fixture
cannot drift between them. Libraries come from :data:`LIBS`, compiled once per session.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .clibs import EM_AARCH64, TVMFFI_SOURCE, Compiler, LibSpec, retarget, truncated
from .native_fixtures import FIXTURES as NATIVE_FILES
from .native_fixtures import ToolchainUnavailable
from .native_fixtures import build as build_native
from .native_variants import (
    broken_signature,
    replaced,
    with_minos,
    with_uuid,
    without_signature,
)
from .wheels import DEFAULT_TAG, RecordTweaks, build_wheel

__all__ = [
    "BY_NAME",
    "FFI_REQ",
    "FIXTURES",
    "INIT",
    "LIBS",
    "BuiltFixture",
    "WheelFixture",
    "build_fixtures",
]

FFI_REQ = "apache-tvm-ffi>=0.1.12,<0.2"

LIBS: tuple[tuple[str, LibSpec], ...] = (
    ("libdemo.so", LibSpec(source="int demo_add(int a, int b) { return a + b; }\n",
                           soname="libdemo.so")),
    ("_ext.abi3.so", LibSpec(
        source="int demo_add(int, int);\nint ext_call(int x) { return demo_add(x, 1); }\n",
        rpath=("$ORIGIN/lib",), link=("libdemo.so",))),
    ("libfoo_a.so", LibSpec(source="int foo(void) { return 1; }\n", soname="libfoo.so")),
    ("libfoo_b.so", LibSpec(source="int foo(void) { return 2; }\nint foo2(void) { return 3; }\n",
                            soname="libfoo.so")),
    ("libnosoname.so", LibSpec(source="int nosoname(void) { return 7; }\n")),
    ("libbid_a.so", LibSpec(source="int bid_a(void) { return 1; }\n", soname="libbid_a.so",
                            build_id="5eed" + "0" * 35 + "1")),
    ("libbid_b.so", LibSpec(source="long bid_b(long x) { return x * 3; }\n",
                            soname="libbid_b.so", build_id="5eed" + "0" * 35 + "1")),
    ("libtvm_ffi.so", LibSpec(source=TVMFFI_SOURCE, soname="libtvm_ffi.so")),
    # What `auditwheel repair` makes of libtvm_ffi.so when it is not excluded: a copy in
    # <pkg>.libs/ renamed with a hash, and DT_RPATH on its users pointing there.
    ("libtvm_ffi-1a2b3c4d.so", LibSpec(source=TVMFFI_SOURCE, soname="libtvm_ffi-1a2b3c4d.so")),
    ("_graft_user.abi3.so", LibSpec(
        source="int TVMFFIObjectIncRef(void *);\n"
               "int use_ffi(void *p) { return TVMFFIObjectIncRef(p); }\n",
        rpath=("$ORIGIN/../demo.libs",), new_dtags=False, link=("libtvm_ffi-1a2b3c4d.so",))),
    ("libembed.so", LibSpec(source=TVMFFI_SOURCE + "int embed_kernel(void) { return 0; }\n",
                            soname="libembed.so")),
    ("librpath_abs.so", LibSpec(source="int abs_fn(void) { return 0; }\n",
                                soname="librpath_abs.so",
                                rpath=("/home/runner/work/demo/build/lib", "/usr/local/lib"))),
    ("librpath_abs_old.so", LibSpec(source="int abs_old(void) { return 0; }\n",
                                    soname="librpath_abs_old.so", rpath=("/usr/local/lib",),
                                    new_dtags=False)),
    ("librpath_cwd.so", LibSpec(source="int cwd_fn(void) { return 0; }\n",
                                soname="librpath_cwd.so", rpath=("", "$ORIGIN", "lib"))),
    ("librpath_escape.so", LibSpec(source="int esc(void) { return 0; }\n",
                                   soname="librpath_escape.so",
                                   rpath=("$ORIGIN", "$ORIGIN/../../../.."))),
    ("librpath_other.so", LibSpec(source="int other(void) { return 0; }\n",
                                  soname="librpath_other.so",
                                  rpath=("$ORIGIN", "$ORIGIN/../../tvm_ffi/lib"))),
    ("librpath_missing.so", LibSpec(source="int miss(void) { return 0; }\n",
                                    soname="librpath_missing.so", rpath=("$ORIGIN/missing",))),
    ("libneeds_foo.so", LibSpec(source="int foo(void);\nint needs_foo(void) { return foo(); }\n",
                                soname="libneeds_foo.so", rpath=("$ORIGIN",),
                                link=("libfoo_a.so",))),
    ("libneeds_tvmffi.so", LibSpec(
        source="int TVMFFIObjectIncRef(void *);\n"
               "int use_ffi(void *p) { return TVMFFIObjectIncRef(p); }\n",
        soname="libneeds_tvmffi.so", rpath=("$ORIGIN/../../tvm_ffi/lib",),
        link=("libtvm_ffi.so",))),
    ("libnew_glibc.so", LibSpec(
        source="#include <dlfcn.h>\n"
               "void *open_plugin(const char *p) { return dlopen(p, RTLD_NOW); }\n",
        soname="libnew_glibc.so")),
    # Enough functions for more DWARF than a note's worth (16 KiB): a debug build of a real
    # library, not one line.
    ("libdebug.so", LibSpec(source="int dbg(int x) { int y = x * 2; return y + 1; }\n" + "".join(
        f"struct s{i} {{ int a{i}; long b{i}; double c{i}; }};\n"
        f"long dbg{i}(struct s{i} *p, int x) {{ int y = x * {i}; return p->b{i} + y; }}\n"
        for i in range(120)), soname="libdebug.so", debug=True)),
    ("libsymtab.so", LibSpec(source="static int helper(int x) { return x; }\n"
                                    "int sym(int x) { return helper(x) + 1; }\n",
                             soname="libsymtab.so", debug=True, strip="--strip-debug")),
    ("libstripped.so", LibSpec(source="int bare(void) { return 0; }\n", soname="libstripped.so",
                               strip="--strip-all")),
    # Extension modules: Python finds them by their PyInit_<name> export.
    ("_a.abi3.so", LibSpec(source="int foo(void);\nvoid *PyInit__a(void) { return (void *)0; }\n"
                                  "int a_calls(void) { return foo(); }\n",
                           rpath=("$ORIGIN/lib",), link=("libfoo_a.so",))),
    ("_b.abi3.so", LibSpec(source="int foo(void);\nvoid *PyInit__b(void) { return (void *)0; }\n"
                                  "int b_calls(void) { return foo(); }\n",
                           rpath=("$ORIGIN/lib64",), link=("libfoo_b.so",))),
    ("_plain.abi3.so", LibSpec(source="void *PyInit__plain(void) { return (void *)0; }\n")),
    ("_opt.abi3.so", LibSpec(source="int foo(void);\nvoid *PyInit__opt(void) { return (void *)0; }"
                                    "\nint opt_calls(void) { return foo(); }\n",
                             link=("libfoo_a.so",))),
    # Two extension modules each with tvm-ffi's C ABI compiled in, one loaded by each.
    ("_ffi_a.abi3.so", LibSpec(source=TVMFFI_SOURCE + "void *PyInit__ffi_a(void) { return 0; }\n",
                               soname="libffi_a.so")),
    ("_ffi_b.abi3.so", LibSpec(source=TVMFFI_SOURCE + "void *PyInit__ffi_b(void) { return 0; }\n",
                               soname="libffi_b.so")),
    # GPU driver and CUDA runtime stand-ins, linked against as the real ones are.
    ("libcuda.so.1", LibSpec(source="int cuInit(unsigned flags) { return (int)flags; }\n",
                             soname="libcuda.so.1")),
    ("libuses_cuda.so", LibSpec(source="int cuInit(unsigned);\n"
                                       "int start(void) { return cuInit(0); }\n",
                                soname="libuses_cuda.so", link=("libcuda.so.1",))),
    ("libcudart.so.12", LibSpec(source="int cudaGetDeviceCount(int *n) { *n = 0; return 0; }\n",
                                soname="libcudart.so.12")),
    ("libuses_cudart.so", LibSpec(source="int cudaGetDeviceCount(int *);\n"
                                         "int count(void) { int n;"
                                         " return cudaGetDeviceCount(&n); }\n",
                                  soname="libuses_cudart.so", link=("libcudart.so.12",))),
    # triton's shape: an extension module with a SONAME, and a plugin that needs it by SONAME
    # without a search path that reaches it.
    ("libdemocore.so", LibSpec(source="void *PyInit_libdemocore(void) { return (void *)0; }\n"
                                      "int core_version(void) { return 3; }\n",
                               soname="libdemocore.so")),
    ("libplugin.so", LibSpec(source="int core_version(void);\n"
                                    "int plugin_init(void) { return core_version(); }\n",
                             soname="libplugin.so", link=("libdemocore.so",))),
)

Files = Callable[[Mapping[str, bytes]], dict[str, bytes]]


def _pseudo_random(n: int) -> bytes:
    """Incompressible but reproducible bytes (a size budget must see them at full size)."""
    out = bytearray()
    block = b"wheelguard"
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


INIT = {"demo/__init__.py": b'"""demo package."""\n'}
DIST = "demo-1.0.dist-info"


def damaged_sections(data: bytes) -> bytes:
    """The library with ``e_shoff`` pointing past its end: section headers gone, as a broken
    post-processing tool leaves them, while the program headers the loader reads are intact."""
    import struct

    out = bytearray(data)
    struct.pack_into("<Q", out, 0x28, len(data) + 4096)
    return bytes(out)


_FILLER = b"// generated kernel instantiations\nint k(int x) { return x; }\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelFixture:
    name: str
    """Also the golden file's stem."""
    files: Files
    expect: frozenset[str]
    """Exactly the check codes an audit with ``args`` reports."""
    requires_dist: tuple[str, ...] = ()
    tag: str = DEFAULT_TAG
    record: RecordTweaks | None = None
    args: tuple[str, ...] = ()
    """Extra ``wheelguard audit`` options the snapshot is taken with."""
    version: str = "1.0"
    """The version METADATA and the .dist-info directory carry."""
    filename: str | None = None
    """The wheel's file name, when it is not ``demo-<version>-<tag>.whl``."""
    needs_glibc: tuple[int, int] | None = None
    """The host glibc the fixture's libraries must be linked against to show the defect."""
    native: bool = False
    """Built from the zig-made Mach-O/PE files (``L["macos/..."]``, ``L["windows/..."]``)."""
    dist_name: str | None = None
    """The name in the .dist-info directory and METADATA, when it differs from the file's."""
    dist_version: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class BuiltFixture:
    spec: WheelFixture
    path: Path
    libs: Mapping[str, bytes] = field(repr=False)


FIXTURES: tuple[WheelFixture, ...] = (
    WheelFixture(
        name="clean",
        description="extension + bundled library found through $ORIGIN RUNPATH, headers",
        files=lambda L: {**INIT, "demo/_ext.abi3.so": L["_ext.abi3.so"],
                         "demo/lib/libdemo.so": L["libdemo.so"],
                         "demo/include/demo.h": b"int demo_add(int, int);\n"},
        requires_dist=("numpy>=1.24",),
        expect=frozenset(),
    ),
    WheelFixture(
        name="wg101_duplicate_soname",
        description="two builds of SONAME libfoo.so, each needed by an extension module",
        files=lambda L: {**INIT, "demo/lib/libfoo.so": L["libfoo_a.so"],
                         "demo/lib64/libfoo.so": L["libfoo_b.so"],
                         "demo/_a.abi3.so": L["_a.abi3.so"], "demo/_b.abi3.so": L["_b.abi3.so"]},
        expect=frozenset({"WG101"}),
    ),
    WheelFixture(
        name="wg102_duplicate_content",
        description="one library without SONAME shipped twice (a symlink turned into a copy)",
        files=lambda L: {**INIT, "demo/lib/libnosoname.so": L["libnosoname.so"],
                         "demo/lib/libnosoname.so.1": L["libnosoname.so"]},
        expect=frozenset({"WG102"}),
    ),
    WheelFixture(
        name="wg103_duplicate_build_id",
        description="two different libraries linked with the same --build-id",
        files=lambda L: {**INIT, "demo/lib/libbid_a.so": L["libbid_a.so"],
                         "demo/lib/libbid_b.so": L["libbid_b.so"]},
        expect=frozenset({"WG103"}),
    ),
    WheelFixture(
        name="wg104_embedded_runtime_abi",
        description="a library exporting TVMFFI* while requiring apache-tvm-ffi",
        files=lambda L: {**INIT, "demo/lib/libembed.so": L["libembed.so"]},
        requires_dist=(FFI_REQ,),
        expect=frozenset({"WG104"}),
    ),
    WheelFixture(
        name="wg104_embedded_runtime_abi_bundled",
        description="a library exporting TVMFFI* next to a bundled libtvm_ffi.so",
        files=lambda L: {**INIT, "demo/lib/libembed.so": L["libembed.so"],
                         "demo/lib/libtvm_ffi.so": L["libtvm_ffi.so"]},
        expect=frozenset({"WG104"}),
    ),
    WheelFixture(
        name="wg106_duplicate_apart",
        description="two builds of SONAME libfoo.so in alternative directories nothing loads",
        files=lambda L: {**INIT, "demo/_plain.abi3.so": L["_plain.abi3.so"],
                         "demo/lib/sm80/libfoo.so": L["libfoo_a.so"],
                         "demo/lib/sm90/libfoo.so": L["libfoo_b.so"]},
        expect=frozenset({"WG106"}),
    ),
    WheelFixture(
        name="wg105_bundled_provided_library",
        description="libtvm_ffi.so bundled while METADATA requires apache-tvm-ffi",
        files=lambda L: {**INIT, "demo/lib/libtvm_ffi.so": L["libtvm_ffi.so"]},
        requires_dist=(FFI_REQ,),
        expect=frozenset({"WG105"}),
    ),
    WheelFixture(
        name="wg105_grafted_provided_library",
        description="auditwheel's hashed graft of libtvm_ffi.so while requiring apache-tvm-ffi",
        files=lambda L: {**INIT, "demo/_ext.abi3.so": L["_graft_user.abi3.so"],
                         "demo.libs/libtvm_ffi-1a2b3c4d.so": L["libtvm_ffi-1a2b3c4d.so"]},
        requires_dist=(FFI_REQ,),
        expect=frozenset({"WG105"}),
    ),
    WheelFixture(
        name="wg201_rpath_absolute",
        description="RUNPATH into a build tree and /usr/local/lib; DT_RPATH /usr/local/lib",
        files=lambda L: {**INIT, "demo/lib/librpath_abs.so": L["librpath_abs.so"],
                         "demo/lib/librpath_abs_old.so": L["librpath_abs_old.so"]},
        expect=frozenset({"WG201"}),
    ),
    WheelFixture(
        name="wg202_rpath_cwd_relative",
        description="RUNPATH ':$ORIGIN:lib': an empty and a relative entry",
        files=lambda L: {**INIT, "demo/lib/librpath_cwd.so": L["librpath_cwd.so"]},
        expect=frozenset({"WG202"}),
    ),
    WheelFixture(
        name="wg203_rpath_escapes_root",
        description="RUNPATH $ORIGIN/../../../.. from demo/lib",
        files=lambda L: {**INIT, "demo/lib/librpath_escape.so": L["librpath_escape.so"]},
        expect=frozenset({"WG203"}),
    ),
    WheelFixture(
        name="wg204_rpath_other_distribution_declared",
        description="RUNPATH $ORIGIN/../../tvm_ffi/lib with apache-tvm-ffi declared",
        files=lambda L: {**INIT, "demo/lib/librpath_other.so": L["librpath_other.so"]},
        requires_dist=(FFI_REQ,),
        expect=frozenset({"WG204"}),
    ),
    WheelFixture(
        name="wg204_rpath_other_distribution_undeclared",
        description="RUNPATH $ORIGIN/../../tvm_ffi/lib without the dependency",
        files=lambda L: {**INIT, "demo/lib/librpath_other.so": L["librpath_other.so"]},
        expect=frozenset({"WG204"}),
    ),
    WheelFixture(
        name="wg205_rpath_missing_dir",
        description="RUNPATH $ORIGIN/missing",
        files=lambda L: {**INIT, "demo/lib/librpath_missing.so": L["librpath_missing.so"]},
        expect=frozenset({"WG205"}),
    ),
    WheelFixture(
        name="wg301_needed_unresolved",
        description="NEEDED libfoo.so, not shipped and provided by nobody",
        files=lambda L: {**INIT, "demo/lib/libneeds_foo.so": L["libneeds_foo.so"]},
        expect=frozenset({"WG301"}),
    ),
    WheelFixture(
        name="wg301_needed_undeclared_provider",
        description="NEEDED libtvm_ffi.so through $ORIGIN/../../tvm_ffi/lib, no Requires-Dist",
        files=lambda L: {**INIT, "demo/lib/libneeds_tvmffi.so": L["libneeds_tvmffi.so"]},
        expect=frozenset({"WG204", "WG301"}),
    ),
    WheelFixture(
        name="wg302_symbol_version_too_new",
        description="dlopen@GLIBC_2.34 in a wheel tagged manylinux_2_17",
        files=lambda L: {**INIT, "demo/lib/libnew_glibc.so": L["libnew_glibc.so"]},
        expect=frozenset({"WG302"}),
        needs_glibc=(2, 34),
    ),
    WheelFixture(
        name="wg306_needs_gpu_driver",
        description="a library linked against libcuda.so.1 (the driver), not shipping it",
        files=lambda L: {**INIT, "demo/lib/libuses_cuda.so": L["libuses_cuda.so"]},
        expect=frozenset({"WG306"}),
    ),
    WheelFixture(
        name="wg307_needed_unresolved_optional",
        description="an extension module imported only in try/except needs libfoo.so",
        files=lambda L: {
            "demo/__init__.py": b"try:\n    from . import _opt\nexcept ImportError:\n"
                                b"    _opt = None\n",
            "demo/_opt.abi3.so": L["_opt.abi3.so"],
        },
        expect=frozenset({"WG307"}),
    ),
    WheelFixture(
        name="wg308_needed_preloaded",
        description="a plugin needing libdemocore.so, an extension module the package imports",
        files=lambda L: {
            "demo/__init__.py": b"from demo._C import libdemocore\n",
            "demo/_C/libdemocore.so": L["libdemocore.so"],
            "demo/plugins/libplugin.so": L["libplugin.so"],
        },
        expect=frozenset({"WG308"}),
    ),
    WheelFixture(
        name="wg309_needed_extra_only",
        description="needs libcudart.so.12; nvidia-cuda-runtime-cu12 declared under [cuda]",
        files=lambda L: {**INIT, "demo/lib/libuses_cudart.so": L["libuses_cudart.so"]},
        requires_dist=('nvidia-cuda-runtime-cu12>=12.1; extra == "cuda"',),
        expect=frozenset({"WG309"}),
    ),
    WheelFixture(
        name="wg401_vendored_artifacts",
        description="3rdparty trees shipping sources, CMake, objects, tests and docs",
        files=lambda _L: {
            **INIT,
            "demo/3rdparty/tvm/CMakeLists.txt": b"project(tvm)\n",
            "demo/3rdparty/tvm/src/runtime/module.cc": b"// runtime module\nint m;\n",
            "demo/3rdparty/tvm/build/CMakeFiles/module.cc.o": b"\x00" * 64,
            "demo/3rdparty/tvm/tests/python/test_basic.py": b"def test(): pass\n",
            "demo/3rdparty/tvm/docs/index.rst": b"TVM\n===\n",
            "demo/3rdparty/tvm/include/tvm/runtime/module.h": b"#pragma once\n",
            "demo/3rdparty/tvm/python/tvm/__init__.py": b"",
            "demo/3rdparty/cutlass/include/cute/tensor.hpp": b"#pragma once\n",
            "demo/3rdparty/cutlass/tools/util/reference.cu": b"__global__ void k() {}\n",
        },
        expect=frozenset({"WG401"}),
    ),
    WheelFixture(
        name="wg402_build_artifacts",
        description="sources, CMake files and a build directory outside vendored trees",
        files=lambda _L: {
            **INIT,
            "demo/CMakeLists.txt": b"project(demo)\n",
            "demo/src/kernel.cu": b"__global__ void k() {}\n" + _FILLER * 400,
            "demo/build/CMakeCache.txt": b"CMAKE_BUILD_TYPE:STRING=Release\n",
            "demo/tests/test_demo.py": b"def test(): pass\n",
        },
        expect=frozenset({"WG402"}),
    ),
    WheelFixture(
        name="wg403_foreign_arch",
        description="an aarch64 ELF (e_machine EM_AARCH64) in an x86_64 wheel",
        files=lambda L: {**INIT, "demo/lib/libdemo_arm64.so": retarget(L["libdemo.so"],
                                                                       EM_AARCH64)},
        expect=frozenset({"WG403"}),
    ),
    WheelFixture(
        name="wg404_debug_info",
        description="a library compiled with -g",
        files=lambda L: {**INIT, "demo/lib/libdebug.so": L["libdebug.so"]},
        expect=frozenset({"WG404"}),
    ),
    WheelFixture(
        name="wg405_unreadable_binary",
        # Cut right after the ELF header: the error is the same whatever gcc laid out next.
        description="an ELF library cut after its 64-byte header",
        files=lambda L: {**INIT, "demo/lib/libdemo.so": truncated(L["libdemo.so"], 64)},
        expect=frozenset({"WG405"}),
    ),
    WheelFixture(
        name="wg406_tag_not_uploadable",
        description="a wheel tagged linux_x86_64, as a plain `pip wheel` build leaves it",
        files=lambda _L: dict(INIT),
        tag="cp312-abi3-linux_x86_64",
        expect=frozenset({"WG406"}),
    ),
    WheelFixture(
        name="wg507_other_project",
        description="demo-1.0-*.whl holding other-2.0.dist-info (a wheel renamed by hand)",
        files=lambda _L: {"other/__init__.py": b""},
        dist_name="other",
        dist_version="2.0",
        expect=frozenset({"WG504", "WG507"}),
    ),
    WheelFixture(
        name="wg408_deliberate_tree",
        description="kernel sources the package compiles at run time, and a CMake package",
        files=lambda _L: {
            "demo/__init__.py": b"from pathlib import Path\n"
                                b"KERNELS = Path(__file__).parent / 'jit' / 'kernels'\n",
            "demo/jit/kernels/gemm.cu": b"__global__ void gemm() {}\n",
            "demo/share/cmake/demo/demo-config.cmake": b"add_library(demo::demo SHARED)\n",
        },
        expect=frozenset({"WG408"}),
    ),
    WheelFixture(
        name="wg405_damaged_sections",
        description="a library whose section-header offset points past its end",
        files=lambda L: {**INIT, "demo/lib/libdemo.so": damaged_sections(L["libdemo.so"])},
        expect=frozenset({"WG405"}),
    ),
    WheelFixture(
        name="wg501_record_mismatch",
        description="wrong hash, wrong size, unlisted member, absent entry, RECORD hashing itself",
        files=lambda _L: {**INIT, "demo/a.py": b"A = 1\n", "demo/b.py": b"B = 2\n",
                          "demo/c.py": b"C = 3\n"},
        record=RecordTweaks(wrong_hash=frozenset({"demo/a.py"}), omit=frozenset({"demo/b.py"}),
                            wrong_size=frozenset({"demo/c.py"}), extra=("demo/gone.py",),
                            self_hash=True),
        expect=frozenset({"WG501"}),
    ),
    WheelFixture(
        name="wg502_metadata_invalid",
        description="METADATA without a Version field",
        files=lambda _L: {**INIT, f"{DIST}/METADATA": b"Metadata-Version: 2.1\nName: demo\n"},
        expect=frozenset({"WG502"}),
    ),
    WheelFixture(
        name="wg503_metadata_field_invalid",
        description="License-File (a Metadata-Version 2.4 field) under Metadata-Version 2.1",
        files=lambda _L: {**INIT, "demo/LICENSE": b"MIT\n", f"{DIST}/METADATA": (
            b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nLicense-File: LICENSE\n")},
        expect=frozenset({"WG503"}),
    ),
    WheelFixture(
        name="wg507_dist_info_mismatch",
        description="a 2.0 build renamed to demo-1.0-...whl: METADATA and .dist-info say 2.0",
        files=lambda _L: dict(INIT),
        version="2.0",
        filename=f"demo-1.0-{DEFAULT_TAG}.whl",
        expect=frozenset({"WG504", "WG507"}),
    ),
    WheelFixture(
        name="wg505_wheel_file_invalid",
        description="WHEEL of Wheel-Version 2.0 without Root-Is-Purelib",
        files=lambda _L: {**INIT, f"{DIST}/WHEEL": (
            f"Wheel-Version: 2.0\nGenerator: hand\nTag: {DEFAULT_TAG}\n".encode())},
        expect=frozenset({"WG505"}),
    ),
    WheelFixture(
        name="wg506_wheel_tags_mismatch",
        description="WHEEL says linux_x86_64, the file name manylinux_2_17_x86_64",
        files=lambda _L: {**INIT, f"{DIST}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: false\n"
            b"Tag: cp312-abi3-linux_x86_64\n")},
        expect=frozenset({"WG506"}),
    ),
    WheelFixture(
        name="wg508_data_scheme_unknown",
        description="a file under demo-1.0.data/etc/ (no such install scheme)",
        files=lambda _L: {**INIT, "demo-1.0.data/etc/demo.conf": b"x = 1\n"},
        expect=frozenset({"WG508"}),
    ),
    WheelFixture(
        name="wg509_entry_points_invalid",
        description="a console script 'demo = demo:' (no function)",
        files=lambda _L: {**INIT, f"{DIST}/entry_points.txt":
                          b"[console_scripts]\ndemo = demo:\n"},
        expect=frozenset({"WG509"}),
    ),
    WheelFixture(
        name="wg510_path_conflict",
        description="a file demo/data and a file demo/data/x.txt",
        files=lambda _L: {**INIT, "demo/data": b"1\n", "demo/data/x.txt": b"2\n"},
        expect=frozenset({"WG510"}),
    ),
    WheelFixture(
        name="wg511_path_case_collision",
        description="demo/Util.py and demo/util.py in a wheel that installs on macOS",
        files=lambda _L: {**INIT, "demo/Util.py": b"A = 1\n", "demo/util.py": b"a = 1\n"},
        tag="py3-none-any",
        expect=frozenset({"WG511"}),
    ),
    WheelFixture(
        name="wg512_record_unreadable",
        description="RECORD in Latin-1: a row for demo/café.py (which the archive lacks)",
        files=lambda _L: dict(INIT),
        record=RecordTweaks(extra_raw=b"demo/caf\xe9.py,sha256=AAAA,1\n"),
        expect=frozenset({"WG501", "WG512"}),
    ),
    WheelFixture(
        name="wg601_size_budget",
        description="16 KiB of incompressible data against 4 KiB budgets",
        files=lambda _L: {**INIT, "demo/data/blob.bin": _pseudo_random(16 << 10)},
        args=("--size-budget", "4KiB", "--installed-size-budget", "4KiB"),
        expect=frozenset({"WG601"}),
    ),
)

# ---- macOS and Windows: the zig-built files of helpers.native_fixtures, or variants of them.

MAC11 = "cp312-abi3-macosx_11_0_arm64"
MAC14 = "cp312-abi3-macosx_14_0_arm64"
WIN = "cp312-abi3-win_amd64"
_UUID = bytes.fromhex("5eed0000000000000000000000000001")
LIBDIR = {"demo/lib/__init__.py": b""}
"""Makes ``demo/lib`` a directory of the wheel: the extension's LC_RPATH @loader_path/lib."""


NATIVE_FIXTURES: tuple[WheelFixture, ...] = (
    WheelFixture(
        name="macho_clean",
        description="an arm64 extension loading @rpath/libtvm_ffi.dylib from apache-tvm-ffi",
        files=lambda L: {**INIT, **LIBDIR, "demo/core.abi3.so": L["macos/core.abi3.so"]},
        requires_dist=(FFI_REQ,), tag=MAC11, native=True, expect=frozenset(),
    ),
    WheelFixture(
        name="wg120_duplicate_install_name",
        description="two different dylibs with the install name @rpath/libtvm_ffi.dylib",
        files=lambda L: {**INIT, "demo/lib/libtvm_ffi.dylib": L["macos/libtvm_ffi-arm64.dylib"],
                         "demo/lib/old/libtvm_ffi.dylib": with_uuid(
                             L["macos/libtvm_ffi-arm64.dylib"], bytes(range(16)))},
        tag=MAC11, native=True, expect=frozenset({"WG120"}),
    ),
    WheelFixture(
        name="wg121_duplicate_uuid",
        description="a dylib and a copy renamed in its install name: two files, one LC_UUID",
        files=lambda L: {
            "demo/lib/libmacos14.dylib": with_uuid(L["macos/libmacos14-arm64.dylib"], _UUID),
            "demo/lib/libmacos15.dylib": with_uuid(replaced(
                L["macos/libmacos14-arm64.dylib"], "@rpath/libmacos14.dylib",
                "@rpath/libmacos15.dylib"), _UUID),
            **INIT},
        tag=MAC14, native=True, expect=frozenset({"WG121"}),
    ),
    WheelFixture(
        name="wg122_duplicate_dll_name",
        description="two different DLLs both named helper.dll",
        files=lambda L: {**INIT, "demo/a/helper.dll": L["windows/consumer.dll"],
                         "demo/b/helper.dll": L["windows/delayed.dll"]},
        requires_dist=(FFI_REQ,), tag=WIN, native=True, expect=frozenset({"WG122"}),
    ),
    WheelFixture(
        name="wg206_rpath_executable_relative",
        description="the extension's LC_RPATH rewritten to @executable_path",
        files=lambda L: {**INIT, "demo/core.abi3.so": replaced(
            L["macos/core.abi3.so"], "@loader_path/lib", "@executable_path")},
        requires_dist=(FFI_REQ,), tag=MAC11, native=True, expect=frozenset({"WG206"}),
    ),
    WheelFixture(
        name="wg207_install_name_absolute",
        description="a dylib whose install name is a path on the build machine",
        files=lambda L: {**INIT, "demo/lib/libmacos14.dylib": replaced(
            L["macos/libmacos14-arm64.dylib"], "@rpath/libmacos14.dylib",
            "/Users/ci/lib/m14.dylib")},
        tag=MAC14, native=True, expect=frozenset({"WG207"}),
    ),
    WheelFixture(
        name="wg320_dylib_unresolved",
        description="the extension loads @rpath/libmissing.dylib, which nothing provides",
        files=lambda L: {**INIT, **LIBDIR, "demo/core.abi3.so": replaced(
            L["macos/core.abi3.so"], "@rpath/libtvm_ffi.dylib", "@rpath/libmissing.dylib")},
        tag=MAC11, native=True, expect=frozenset({"WG320"}),
    ),
    WheelFixture(
        name="wg321_macos_version_above_tag",
        description="a dylib built for macOS 14.0 in a macosx_11_0 wheel",
        files=lambda L: {**INIT, "demo/lib/libmacos14.dylib": L["macos/libmacos14-arm64.dylib"]},
        tag=MAC11, native=True, expect=frozenset({"WG321"}),
    ),
    WheelFixture(
        name="wg322_macho_arch_missing",
        description="a thin arm64 dylib in a universal2 wheel",
        files=lambda L: {**INIT, "demo/lib/libtvm_ffi.dylib": L["macos/libtvm_ffi-arm64.dylib"]},
        tag="cp312-abi3-macosx_10_9_universal2", native=True, expect=frozenset({"WG322"}),
    ),
    WheelFixture(
        name="wg323_dll_unresolved",
        description="a DLL importing missing.dll, which nothing provides",
        files=lambda L: {**INIT, "demo/consumer.dll": replaced(
            L["windows/consumer.dll"], "tvm_ffi.dll", "missing.dll")},
        tag=WIN, native=True, expect=frozenset({"WG323"}),
    ),
    WheelFixture(
        name="wg324_dll_redistributable",
        description="a DLL importing MSVCP140.dll without shipping it",
        files=lambda L: {**INIT, "demo/consumer.dll": replaced(
            L["windows/consumer.dll"], "KERNEL32.dll", "MSVCP140.dll")},
        requires_dist=(FFI_REQ,), tag=WIN, native=True, expect=frozenset({"WG324"}),
    ),
    WheelFixture(
        name="wg325_macho_unsigned_arm64",
        description="an arm64 dylib whose LC_CODE_SIGNATURE lief removed",
        files=lambda L: {**INIT, "demo/lib/libmacos14.dylib": without_signature(
            L["macos/libmacos14-arm64.dylib"])},
        tag=MAC14, native=True, expect=frozenset({"WG325"}),
    ),
    WheelFixture(
        name="wg326_macho_signature_invalid",
        description="an arm64 dylib edited after it was signed",
        files=lambda L: {**INIT, "demo/lib/libmacos14.dylib": broken_signature(
            L["macos/libmacos14-arm64.dylib"])},
        tag=MAC14, native=True, expect=frozenset({"WG326"}),
    ),
    WheelFixture(
        name="wg327_macos_version_minor",
        description="a dylib built for macOS 14.2 in a macosx_14_0 wheel",
        files=lambda L: {**INIT, "demo/lib/libmacos14.dylib": with_minos(
            L["macos/libmacos14-arm64.dylib"], 14, 2)},
        tag=MAC14, native=True, expect=frozenset({"WG327"}),
    ),
    WheelFixture(
        name="wg420_dsym_bundle",
        description="a .dSYM debug bundle shipped next to its library",
        files=lambda L: {**INIT, **{
            f"demo/lib/libfoo.dylib.dSYM/{p.split('.dSYM/', 1)[1]}": L[p]
            for p in L if p.startswith("macos/libfoo-arm64.dylib.dSYM/")}},
        tag=MAC11, native=True, expect=frozenset({"WG420"}),
    ),
    WheelFixture(
        name="wg421_foreign_platform",
        description="a Windows DLL in a macOS wheel",
        files=lambda L: {**INIT, "demo/lib/tvm_ffi.dll": L["windows/tvm_ffi.dll"]},
        tag=MAC11, native=True, expect=frozenset({"WG421"}),
    ),
)

FIXTURES = FIXTURES + NATIVE_FIXTURES

BY_NAME: Mapping[str, WheelFixture] = {f.name: f for f in FIXTURES}


@functools.lru_cache(maxsize=1)
def native_files() -> Mapping[str, bytes] | None:
    """The zig-built Mach-O and PE files by catalogue name; None when zig is not installed."""
    try:
        built = build_native()
    except ToolchainUnavailable:
        return None
    return {name: built.read(name) for name in NATIVE_FILES}


def build_fixtures(compiler: Compiler, dest: Path) -> dict[str, BuiltFixture]:
    """Compile every library once and pack every fixture wheel (each in its own directory, so
    two fixtures may share a wheel file name). The Mach-O and PE fixtures are left out when
    zig is not installed (:func:`host_lacks` says so)."""
    libs = compiler.build_all(LIBS)
    native = native_files()
    if native is not None:
        libs = {**libs, **native}
    out: dict[str, BuiltFixture] = {}
    for fx in FIXTURES:
        if fx.native and native is None:
            continue
        filename = fx.filename
        if filename is None and (fx.dist_name is not None or fx.dist_version is not None):
            filename = f"demo-1.0-{fx.tag}.whl"
        path = build_wheel(dest / fx.name, fx.files(libs), tag=fx.tag,
                           requires_dist=fx.requires_dist, record=fx.record,
                           name=fx.dist_name or "demo", version=fx.dist_version or fx.version,
                           filename=filename)
        out[fx.name] = BuiltFixture(fx, path, libs)
    return out


def host_glibc() -> tuple[int, int] | None:
    """The glibc the fixtures are compiled and linked against (this host's), or None on a
    host without glibc: what decides whether a fixture needing new symbols can be built."""
    import os

    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    name, _, version = text.partition(" ")
    parts = version.split(".")
    if name != "glibc" or len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        return None
    return int(parts[0]), int(parts[1])


def host_lacks(fx: WheelFixture) -> str | None:
    """Why this host cannot produce ``fx``'s case (a skip reason), or None when it can."""
    if fx.native and native_files() is None:
        return "zig is not installed: the Mach-O and PE fixtures cannot be built here"
    if fx.needs_glibc is None:
        return None
    have = host_glibc()
    if have is None or have < fx.needs_glibc:
        need = ".".join(map(str, fx.needs_glibc))
        return f"host glibc {have} is older than {need}: the library needs no new symbol"
    return None

"""Provider and consumer wheels for the cross-wheel linkage checks (WG7xx), built with gcc.

The world is small on purpose and every part of it exists to make one check fire:

* ``provkit`` 1.0, 1.1 and 2.0: ``libprov.so.1`` with symbol versions (``PROV_1``), then the
  same SONAME with a smaller symbol set under ``PROV_1.1``, then a new SONAME
  ``libprov.so.2``; 1.0 and 1.1 also ship ``libprovx.so`` without a SONAME.
* ``helperkit`` 1.0: ``libhelper.so``, which no consumer declares (or only under an extra).
* ``apache-tvm-ffi`` 0.1.12 and 0.1.13: a stand-in ``libtvm_ffi.so`` exporting the TVMFFI*
  C ABI without symbol versions; 0.1.13 drops ``TVMFFIFunctionCall``.

Consumers are built against the oldest provider, as a real build against a pinned
dependency would be, and :data:`CONSUMERS` says exactly which WG7xx codes each must raise
when audited against the wheelhouse (Python 3.12).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .clibs import TVMFFI_SOURCE, Compiler
from .wheels import DEFAULT_TAG, build_wheel

__all__ = ["CONSUMERS", "PROVIDER_TAG", "PYTHON", "Consumer", "LinkageWorld", "build_world"]

PYTHON = "3.12"
PROVIDER_TAG = "py3-none-manylinux_2_17_x86_64"

_PROV_SOURCE = """
int prov_init(void) { return 1; }
int prov_run(int x) { return x + 1; }
int _ZN7provkit3runEv(void) { return 2; }  /* provkit::run(): a C++ symbol, mangled */
"""
_PROV_MAP_1 = "PROV_1 { global: prov_init; prov_run; _ZN7provkit3runEv; local: *; };\n"
_PROV_SOURCE_11 = "int prov_init(void) { return 11; }\n"
_PROV_MAP_11 = "PROV_1.1 { global: prov_init; local: *; };\n"
_PROV_MAP_2 = "PROV_2 { global: prov_init; prov_run; _ZN7provkit3runEv; local: *; };\n"
_FFI_SOURCE_13 = "\n".join(
    line for line in TVMFFI_SOURCE.splitlines() if "TVMFFIFunctionCall" not in line
) + "\n"

_USER_SOURCE = """
int prov_init(void); int prov_run(int); int _ZN7provkit3runEv(void);
int user_go(void) { return prov_init() + prov_run(1) + _ZN7provkit3runEv(); }
"""
_FFI_USER_SOURCE = """
int TVMFFIObjectIncRef(void *); int TVMFFIFunctionCall(void *, void *, int, void *);
int ffi_go(void *p) { return TVMFFIObjectIncRef(p) + TVMFFIFunctionCall(p, p, 1, p); }
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Consumer:
    name: str
    expect: frozenset[str]
    """Exactly the WG7xx codes an audit against the wheelhouse reports."""
    requires_dist: tuple[str, ...] = ()
    extras: tuple[str, ...] = ()
    """``--extra`` values the audit runs with."""
    provides_extra: tuple[str, ...] = ()
    description: str = ""


CONSUMERS: tuple[Consumer, ...] = (
    Consumer(name="clean", requires_dist=("provkit>=1.0,<1.1",),
             expect=frozenset({"WG706", "WG708"}),
             description="libprov.so.1 through a sibling RUNPATH, range admits 1.0 only"),
    Consumer(name="spans", requires_dist=("provkit>=1.0",),
             expect=frozenset({"WG702", "WG705", "WG706", "WG708"}),
             description="range spans the SONAME change to libprov.so.2, no upper bound, "
                         "imports provkit::run()"),
    Consumer(name="narrow", requires_dist=("provkit>=1.0,<2",),
             expect=frozenset({"WG703", "WG706", "WG708"}),
             description="range admits 1.1, which dropped prov_run and PROV_1"),
    Consumer(name="breaks", requires_dist=("provkit>=1.0,<1.1",),
             expect=frozenset({"WG707", "WG708"}),
             description="needs libprovx.so, which has no SONAME: no preload can match it"),
    Consumer(name="undeclared", expect=frozenset({"WG701", "WG708"}),
             description="RUNPATH into helperkit, which it does not declare"),
    Consumer(name="extra_only", requires_dist=('helperkit>=1.0; extra == "gpu"',),
             provides_extra=("gpu",), expect=frozenset({"WG701", "WG708"}),
             description="helperkit declared only under the gpu extra"),
    Consumer(name="extra_asked", requires_dist=('helperkit>=1.0; extra == "gpu"',),
             provides_extra=("gpu",), extras=("gpu",), expect=frozenset({"WG706", "WG708"}),
             description="the same wheel, audited with --extra gpu"),
    Consumer(name="ffi_user", requires_dist=("apache-tvm-ffi>=0.1.12,<0.2",),
             expect=frozenset({"WG703", "WG706", "WG708"}),
             description="libtvm_ffi.so without any RUNPATH (the import-first pattern); "
                         "0.1.13 lacks TVMFFIFunctionCall"),
    Consumer(name="dup_abi", requires_dist=("apache-tvm-ffi>=0.1.12,<0.2",),
             expect=frozenset({"WG704", "WG708"}),
             description="a bundled library exporting the TVMFFI* C ABI"),
    Consumer(name="dup_soname", requires_dist=("provkit>=1.0,<1.1",),
             expect=frozenset({"WG704", "WG708"}),
             description="bundles its own libprov.so.1 while requiring provkit"),
    Consumer(name="unchecked", requires_dist=("provkit>=5",),
             expect=frozenset({"WG708", "WG709"}),
             description="no provkit version satisfies the range"),
)


@dataclass(frozen=True, slots=True)
class LinkageWorld:
    wheelhouse: Path
    """Provider wheels only: what ``--wheelhouse`` points at."""
    consumers: Mapping[str, Path]
    libs: Mapping[str, Path] = field(repr=False)


class _Builder:
    """gcc with the two things the shared :class:`Compiler` has no flags for: a version
    script and linking by ``-L``/``-l`` (how a NEEDED without a SONAME comes about)."""

    def __init__(self, compiler: Compiler) -> None:
        self.gcc = compiler.gcc
        self.root = compiler.workdir / "linkage"
        self.built: dict[str, Path] = {}

    def build(
        self,
        rel: str,
        source: str,
        *,
        soname: str | None = None,
        runpath: tuple[str, ...] = (),
        link: tuple[str, ...] = (),
        link_dir: tuple[str, str] | None = None,
        version_script: str | None = None,
    ) -> Path:
        if rel in self.built:
            return self.built[rel]
        out = self.root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        src = out.with_name(out.name + ".c")
        src.write_text(source, encoding="utf-8")
        cmd = [self.gcc, "-shared", "-fPIC", "-g0", "-o", str(out), str(src)]
        if soname:
            cmd.append(f"-Wl,-soname,{soname}")
        if runpath:
            cmd += ["-Wl,--enable-new-dtags", "-Wl,-rpath," + ":".join(runpath)]
        if version_script:
            script = out.with_name(out.name + ".map")
            script.write_text(version_script, encoding="utf-8")
            cmd.append(f"-Wl,--version-script={script}")
        cmd += [str(self.built[r]) for r in link]
        if link_dir is not None:
            cmd += [f"-L{self.built[link_dir[0]].parent}", f"-l{link_dir[1]}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            msg = f"{' '.join(cmd)} failed:\n{proc.stderr}"
            raise RuntimeError(msg)
        self.built[rel] = out
        return out


def _libs(b: _Builder) -> None:
    b.build("provkit-1.0/libprov.so.1", _PROV_SOURCE, soname="libprov.so.1",
            version_script=_PROV_MAP_1)
    b.build("provkit-1.0/libprovx.so", "int provx(void) { return 5; }\n")
    b.build("provkit-1.1/libprov.so.1", _PROV_SOURCE_11, soname="libprov.so.1",
            version_script=_PROV_MAP_11)
    b.build("provkit-2.0/libprov.so.2", _PROV_SOURCE, soname="libprov.so.2",
            version_script=_PROV_MAP_2)
    b.build("helperkit-1.0/libhelper.so", "int helper(void) { return 3; }\n",
            soname="libhelper.so")
    b.build("ffi-0.1.12/libtvm_ffi.so", TVMFFI_SOURCE, soname="libtvm_ffi.so")
    b.build("ffi-0.1.13/libtvm_ffi.so", _FFI_SOURCE_13, soname="libtvm_ffi.so")
    # Consumers, linked against the oldest provider.
    b.build("user/libuser.so", _USER_SOURCE, soname="libuser.so",
            runpath=("$ORIGIN/../../provkit/lib",), link=("provkit-1.0/libprov.so.1",))
    b.build("user/libbreaks.so", "int provx(void);\nint go(void) { return provx(); }\n",
            soname="libbreaks.so", runpath=("$ORIGIN/../../provkit/lib",),
            link_dir=("provkit-1.0/libprovx.so", "provx"))
    b.build("user/libneeds_helper.so", "int helper(void);\nint go(void) { return helper(); }\n",
            soname="libneeds_helper.so", runpath=("$ORIGIN/../../helperkit/lib",),
            link=("helperkit-1.0/libhelper.so",))
    b.build("user/libffi_user.so", _FFI_USER_SOURCE, soname="libffi_user.so",
            link=("ffi-0.1.12/libtvm_ffi.so",))
    b.build("user/libembed.so", TVMFFI_SOURCE + "int embed_kernel(void) { return 0; }\n",
            soname="libembed.so")
    b.build("user/libuse_own.so", "int prov_init(void);\nint go(void) { return prov_init(); }\n",
            soname="libuse_own.so", runpath=("$ORIGIN",), link=("provkit-1.0/libprov.so.1",))


def _init(top: str) -> dict[str, bytes]:
    return {f"{top}/__init__.py": f'"""{top}."""\n'.encode()}


def _providers(b: _Builder, wheelhouse: Path) -> None:
    def lib(rel: str) -> bytes:
        return b.built[rel].read_bytes()

    provkit = {
        "1.0": {"provkit/lib/libprov.so.1": lib("provkit-1.0/libprov.so.1"),
                "provkit/lib/libprovx.so": lib("provkit-1.0/libprovx.so")},
        "1.1": {"provkit/lib/libprov.so.1": lib("provkit-1.1/libprov.so.1"),
                "provkit/lib/libprovx.so": lib("provkit-1.0/libprovx.so")},
        "2.0": {"provkit/lib/libprov.so.2": lib("provkit-2.0/libprov.so.2")},
    }
    for version, files in provkit.items():
        build_wheel(wheelhouse, {**_init("provkit"), **files}, name="provkit", version=version,
                    tag=PROVIDER_TAG)
    build_wheel(wheelhouse, {**_init("helperkit"),
                             "helperkit/lib/libhelper.so": lib("helperkit-1.0/libhelper.so")},
                name="helperkit", version="1.0", tag=PROVIDER_TAG)
    for version in ("0.1.12", "0.1.13"):
        build_wheel(wheelhouse, {**_init("tvm_ffi"),
                                 "tvm_ffi/lib/libtvm_ffi.so": lib(f"ffi-{version}/libtvm_ffi.so")},
                    name="apache-tvm-ffi", version=version, tag=PROVIDER_TAG)


def _consumer_files(b: _Builder, name: str) -> dict[str, bytes]:
    def lib(rel: str) -> bytes:
        return b.built[rel].read_bytes()

    files = _init(name)
    match name:
        case "clean" | "spans" | "narrow" | "unchecked":
            files[f"{name}/lib/libuser.so"] = lib("user/libuser.so")
        case "breaks":
            files[f"{name}/lib/libbreaks.so"] = lib("user/libbreaks.so")
        case "undeclared" | "extra_only" | "extra_asked":
            files[f"{name}/lib/libneeds_helper.so"] = lib("user/libneeds_helper.so")
        case "ffi_user":
            files[f"{name}/lib/libffi_user.so"] = lib("user/libffi_user.so")
        case "dup_abi":
            files[f"{name}/lib/libembed.so"] = lib("user/libembed.so")
        case "dup_soname":
            files[f"{name}/lib/libprov.so.1"] = lib("provkit-1.0/libprov.so.1")
            files[f"{name}/lib/libuse_own.so"] = lib("user/libuse_own.so")
        case _:
            msg = f"no files for consumer {name!r}"
            raise KeyError(msg)
    return files


def _metadata(c: Consumer) -> bytes:
    lines = ["Metadata-Version: 2.1", f"Name: {c.name}", "Version: 1.0"]
    lines += [f"Provides-Extra: {e}" for e in c.provides_extra]
    lines += [f"Requires-Dist: {r}" for r in c.requires_dist]
    return ("\n".join(lines) + "\n").encode()


def build_world(compiler: Compiler, dest: Path) -> LinkageWorld:
    """Compile every library, write the provider wheelhouse and one wheel per consumer."""
    b = _Builder(compiler)
    _libs(b)
    wheelhouse = dest / "wheelhouse"
    _providers(b, wheelhouse)
    consumers: dict[str, Path] = {}
    for c in CONSUMERS:
        files = _consumer_files(b, c.name)
        files[f"{c.name}-1.0.dist-info/METADATA"] = _metadata(c)
        consumers[c.name] = build_wheel(dest / "consumers", files, name=c.name,
                                        version="1.0", tag=DEFAULT_TAG)
    return LinkageWorld(wheelhouse=wheelhouse, consumers=consumers, libs=dict(b.built))

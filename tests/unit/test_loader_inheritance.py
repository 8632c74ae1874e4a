"""The loader rules auditwheel-repaired wheels depend on: a grafted library without RPATH
finds its siblings through the DT_RPATH of the extension that loads it (inherited), or
because its loader already mapped them (breadth-first loading, SONAME match). Judging each
library only by its own search path reports these wheels as broken when they are not."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.clibs import Compiler, LibSpec
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel
from wheelguard.loader.layout import Layout
from wheelguard.loader.resolve import resolve_binary
from wheelguard.reading.scan import scan_wheel

TAG = "cp312-cp312-manylinux_2_17_x86_64"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    c = Compiler(tmp_path_factory.mktemp("inherit"))
    c.build("libgccx.so", LibSpec(source="int g(void){return 1;}", soname="libgccx.so"))
    c.build("libstdx.so", LibSpec(source="int g(void); int s(void){return g();}",
                                  soname="libstdx.so", link=("libgccx.so",)))
    src = "int s(void); int e(void){return s();}"
    origin = ("$ORIGIN/../demo.libs",)
    # The extension needs only libstdx: libgccx is reachable only by inheritance.
    c.build("ext_rpath.so", LibSpec(source=src, rpath=origin, new_dtags=False,
                                    link=("libstdx.so",)))
    c.build("ext_runpath.so", LibSpec(source=src, rpath=origin, new_dtags=True,
                                      link=("libstdx.so",)))
    # Needs both directly (auditwheel's usual output): libgccx is mapped before libstdx's
    # dependencies are looked up, whatever the tag.
    c.build("ext_both.so", LibSpec(source=src + " int g(void); int f(void){return g();}",
                                   rpath=origin, new_dtags=True,
                                   link=("libstdx.so", "libgccx.so")))
    return {n: c.read(n) for n in ("libgccx.so", "libstdx.so", "ext_rpath.so",
                                   "ext_runpath.so", "ext_both.so")}


def _wheel(tmp_path: Path, built: dict[str, bytes], ext: str) -> Path:
    return build_wheel(tmp_path, {
        "demo/__init__.py": b"",
        "demo/_ext.so": built[ext],
        "demo.libs/libstdx.so": built["libstdx.so"],
        "demo.libs/libgccx.so": built["libgccx.so"],
    }, name="demo", tag=TAG)


def _unresolved(path: Path) -> list[tuple[str, str]]:
    return [(f.path or "", f.data["needed"]) for f in audit_wheel(path).findings
            if f.check == "WG301"]


def test_rpath_is_inherited_by_the_grafted_library(tmp_path: Path, built: dict[str, bytes]) -> None:
    wheel = _wheel(tmp_path, built, "ext_rpath.so")
    assert _unresolved(wheel) == []
    w = scan_wheel(wheel)
    stdx = next(b for b in w.binaries if b.path == "demo.libs/libstdx.so")
    (res,) = resolve_binary(Layout.of(w), stdx, None, (), {})
    assert (res.kind, res.path, res.entry) == ("wheel", "demo.libs/libgccx.so",
                                               "$ORIGIN/../demo.libs")


def test_runpath_is_not_inherited(tmp_path: Path, built: dict[str, bytes]) -> None:
    wheel = _wheel(tmp_path, built, "ext_runpath.so")
    assert _unresolved(wheel) == [("demo.libs/libstdx.so", "libgccx.so")]


def test_what_the_loader_already_mapped_satisfies_later_needs(
    tmp_path: Path, built: dict[str, bytes]
) -> None:
    wheel = _wheel(tmp_path, built, "ext_both.so")
    assert _unresolved(wheel) == []
    w = scan_wheel(wheel)
    stdx = next(b for b in w.binaries if b.path == "demo.libs/libstdx.so")
    (res,) = resolve_binary(Layout.of(w), stdx, None, (), {})
    assert (res.kind, res.path, res.entry) == ("wheel", "demo.libs/libgccx.so", None)

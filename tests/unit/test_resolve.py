"""The hermetic loader emulation: RPATH/RUNPATH entries classified against the install layout."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.fixtures import INIT
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel
from wheelguard.loader.layout import Layout, classify_entry
from wheelguard.loader.paths import install_path
from wheelguard.model import ArchivePath
from wheelguard.reading.scan import scan_wheel


@pytest.fixture(scope="module")
def layout_wheel(libs: Mapping[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("layout"), {
        **INIT,
        "demo/lib/libdemo.so": libs["libdemo.so"],
        "demo/sub/x.py": b"",
        "demo-1.0.data/platlib/demo_plat/libplat.so": libs["libfoo_a.so"],
        "toplevel.abi3.so": libs["libdemo.so"],
    })


@pytest.mark.parametrize(
    ("binary", "raw", "kind", "directory"),
    [
        ("demo/lib/libdemo.so", "$ORIGIN", "in-wheel", "demo/lib"),
        ("demo/lib/libdemo.so", "${ORIGIN}/../sub", "in-wheel", "demo/sub"),
        ("demo/lib/libdemo.so", "$ORIGIN/..", "in-wheel", "demo"),
        ("demo/lib/libdemo.so", "$ORIGIN/../..", "in-wheel", "."),
        ("demo/lib/libdemo.so", "$ORIGIN/../../..", "escapes-root", ".."),
        ("demo/lib/libdemo.so", "$ORIGIN/../../tvm_ffi/lib", "other-distribution", "tvm_ffi/lib"),
        ("demo/lib/libdemo.so", "$ORIGIN/../gone", "missing-dir", "demo/gone"),
        ("demo/lib/libdemo.so", "/opt/x", "absolute", None),
        ("demo/lib/libdemo.so", "", "cwd-relative", None),
        ("demo/lib/libdemo.so", "lib", "cwd-relative", None),
        ("demo/lib/libdemo.so", "$ORIGINAL/x", "cwd-relative", None),
        # A top-level binary's $ORIGIN is the install root itself.
        ("toplevel.abi3.so", "$ORIGIN", "in-wheel", "."),
        ("toplevel.abi3.so", "$ORIGIN/demo/lib", "in-wheel", "demo/lib"),
        ("toplevel.abi3.so", "$ORIGIN/..", "escapes-root", ".."),
        ("toplevel.abi3.so", "$ORIGIN/tvm_ffi/lib", "other-distribution", "tvm_ffi/lib"),
        # .data/platlib folds into site-packages.
        ("demo-1.0.data/platlib/demo_plat/libplat.so", "$ORIGIN/../demo/lib", "in-wheel",
         "demo/lib"),
    ],
)
def test_classify_entry(
    layout_wheel: Path, binary: str, raw: str, kind: str, directory: str | None
) -> None:
    wheel = scan_wheel(layout_wheel)
    base = next(b for b in wheel.binaries if b.path == binary)
    entry = classify_entry(dataclasses.replace(base, runpath=(raw,)), raw, "RUNPATH",
                           Layout.of(wheel))
    assert (entry.kind, entry.directory) == (kind, directory)


def test_install_path() -> None:
    assert install_path("demo-1.0.data/platlib/a/b.so") == "a/b.so"
    assert install_path("demo-1.0.data/purelib/a.py") == "a.py"
    assert install_path("demo-1.0.data/scripts/tool") == "demo-1.0.data/scripts/tool"
    assert install_path("a/b.so") == "a/b.so"


def test_top_level_extension_resolves_its_library(
    libs: Mapping[str, bytes], tmp_path: Path
) -> None:
    """``_ext.so`` at the root with RUNPATH ``$ORIGIN/lib`` finds ``lib/libdemo.so``."""
    path = build_wheel(tmp_path, {"_ext.abi3.so": libs["_ext.abi3.so"],
                                  "lib/libdemo.so": libs["libdemo.so"]})
    assert audit_wheel(path).findings == ()


def test_member_lookup(layout_wheel: Path) -> None:
    wheel = scan_wheel(layout_wheel)
    assert wheel.member(ArchivePath("demo/sub/x.py")) is not None
    assert wheel.has_dir("demo/lib")
    assert "demo" in wheel.top_levels

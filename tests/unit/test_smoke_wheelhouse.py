"""What the wheelhouses lack, found in one pass over real wheels before anything is installed:
every missing dependency at once (pip would stop at the first), transitive ones included, with
markers, version specifiers, platform tags and the host's packages taken into account."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.wheels import build_wheel
from packaging.markers import default_environment
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

from wheelguard.errors import UsageError
from wheelguard.smoke.wheelhouse import missing_dependencies, pick_baseline

TAGS = frozenset(str(t) for t in sys_tags())
MARKERS: dict[str, str] = {str(k): str(v) for k, v in default_environment().items()}
PURE = "py3-none-any"


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    wh = tmp_path / "wheelhouse"
    build_wheel(wh, {"wgdep/__init__.py": b""}, name="wgdep", tag=PURE,
                requires_dist=["wgtransitive", "wgabsent"])
    build_wheel(wh, {"wgold/__init__.py": b""}, name="wgold", version="1.0", tag=PURE)
    build_wheel(wh, {"wgplat/__init__.py": b""}, name="wgplat", tag="py3-none-win_amd64")
    return wh


@pytest.fixture
def top(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "dist", {"wgtop/__init__.py": b""}, name="wgtop", tag=PURE,
                       requires_dist=["wgdep", "wgabsent", "wgold>=2", "wgplat",
                                      "wgnever; python_version < '3'", "wgextra; extra == 'x'",
                                      "wghost>=1"])


def test_every_missing_dependency_is_listed_at_once(wheelhouse: Path, top: Path) -> None:
    missing = missing_dependencies([(top, "wgtop 1.0")], [wheelhouse],
                                   markers=MARKERS, tags=TAGS,
                                   installed={"WGHost": "1.5"})
    assert [m.describe() for m in missing] == [
        "wgabsent (required by wgtop 1.0)",
        "wgold>=2 (required by wgtop 1.0; the wheelhouse has 1.0)",
        "wgplat (required by wgtop 1.0; the wheelhouse has 1.0 (other tags))",
        "wgtransitive (required by wgdep 1.0)",
    ]


def test_a_host_version_that_does_not_fit_is_named(wheelhouse: Path, top: Path) -> None:
    missing = missing_dependencies([(top, "wgtop 1.0")], [wheelhouse],
                                   markers=MARKERS, tags=TAGS,
                                   installed={"wghost": "0.5"})
    assert "wghost>=1 (required by wgtop 1.0; the host has 0.5)" in [
        m.describe() for m in missing]
    assert missing[-1].to_json() == {"requirement": "wgtransitive", "required_by": "wgdep 1.0",
                                     "available": [], "installed": None}


def test_unknown_tags_match_on_name_and_version_only(wheelhouse: Path, top: Path) -> None:
    missing = missing_dependencies([(top, "wgtop 1.0")], [wheelhouse],
                                   markers=MARKERS, tags=None,
                                   installed={"wghost": "1.0"})
    assert "wgplat" not in {m.requirement for m in missing}


def test_nothing_missing(tmp_path: Path) -> None:
    wh = tmp_path / "wh"
    build_wheel(wh, {"a/__init__.py": b""}, name="wga", tag=PURE)
    top = build_wheel(tmp_path, {"t/__init__.py": b""}, name="wgt", tag=PURE,
                      requires_dist=["wga>=1.0"])
    assert missing_dependencies([(top, "wgt 1.0")], [wh], markers=MARKERS,
                                tags=TAGS) == ()


def test_baseline_wheelhouse_gives_its_newest_wheel_of_the_name(tmp_path: Path) -> None:
    for version in ("1.0", "1.1"):
        build_wheel(tmp_path, {"wgtop/__init__.py": b""}, name="wgtop", version=version, tag=PURE)
    build_wheel(tmp_path, {"x/__init__.py": b""}, name="wgother", version="9.0", tag=PURE)
    assert pick_baseline(tmp_path, canonicalize_name("wgtop")).name == "wgtop-1.1-py3-none-any.whl"
    build_wheel(tmp_path, {"wgtop/__init__.py": b""}, name="wgtop", version="1.1",
                tag="py3-none-win_amd64")
    with pytest.raises(UsageError, match=r"several wgtop 1\.1 wheels"):
        pick_baseline(tmp_path, canonicalize_name("wgtop"))
    with pytest.raises(UsageError, match="no wheel of wgnone"):
        pick_baseline(tmp_path, canonicalize_name("wgnone"))

"""Provider lookup: which dependency wheels fit the target, which file a version resolves to,
and pip as the one download client (run here against a local find-links directory with every
index switched off, so no network is touched)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers.wheels import build_wheel
from packaging.tags import Tag
from packaging.version import Version

from wheelguard.errors import UsageError
from wheelguard.knowledge.manylinux import linux_platforms
from wheelguard.linkage.fetch import ProviderLookup, ProviderUnavailable, Target, target_for
from wheelguard.reading.scan import scan_wheel

PY = "3.12"
FILES = {"pkg/__init__.py": b""}


@pytest.fixture
def target(tmp_path: Path) -> Target:
    """What a cp312-abi3 manylinux_2_27 consumer's dependencies must fit, on Python 3.12."""
    app = build_wheel(tmp_path / "app", {"app/__init__.py": b""}, name="app",
                      tag="cp312-abi3-manylinux_2_27_x86_64")
    return target_for(scan_wheel(app), PY)


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    house = tmp_path / "house"
    build_wheel(house, FILES, name="pkg", version="1.0", tag="py3-none-any")
    build_wheel(house, FILES, name="pkg", version="2.0", tag="cp312-abi3-manylinux_2_17_x86_64")
    build_wheel(house, FILES, name="pkg", version="2.0", tag="cp312-abi3-manylinux_2_28_x86_64")
    build_wheel(house, FILES, name="pkg", version="3.0", tag="cp313-abi3-manylinux_2_17_x86_64")
    build_wheel(house, FILES, name="pkg", version="4.0", tag="py3-none-macosx_11_0_arm64")
    build_wheel(house, {"other/__init__.py": b""}, name="other", version="0.1", tag="py3-none-any")
    (house / "not-a-wheel.whl").write_bytes(b"")
    return house


def test_linux_platforms_cover_every_glibc_level_newest_first() -> None:
    tags = linux_platforms("x86_64")
    assert tags[-1] == "linux_x86_64"
    assert tags.index("manylinux_2_28_x86_64") < tags.index("manylinux_2_17_x86_64")
    # Legacy aliases sit beside their PEP 600 names; levels without a policy are there too.
    assert tags[tags.index("manylinux_2_17_x86_64") + 1] == "manylinux2014_x86_64"
    assert "manylinux_2_29_x86_64" in tags
    assert linux_platforms("x86_64", musl=True)[:2] == ("musllinux_1_2_x86_64",
                                                        "musllinux_1_1_x86_64")
    assert linux_platforms("no-such-arch") == ("linux_no-such-arch",)


def test_target_for_a_manylinux_wheel(target: Target) -> None:
    assert target.python == PY
    assert target.platforms == linux_platforms("x86_64")
    assert target.rank([Tag("cp312", "abi3", "manylinux_2_34_x86_64")]) is not None
    assert target.rank([Tag("cp313", "abi3", "manylinux_2_17_x86_64")]) is None
    assert target.rank([Tag("py3", "none", "macosx_11_0_arm64")]) is None
    best = target.rank([Tag("cp312", "cp312", "manylinux_2_28_x86_64")])
    worse = target.rank([Tag("py3", "none", "any")])
    assert best is not None
    assert worse is not None
    assert best < worse


def test_target_rejects_a_bad_python() -> None:
    with pytest.raises(UsageError, match=r"X\.Y"):
        Target.of(["linux_x86_64"], "3")


def test_local_versions_and_best_file(wheelhouse: Path, target: Target) -> None:
    lookup = ProviderLookup(wheelhouses=(wheelhouse,), pip=("/nonexistent/pip",))
    assert lookup.versions("PKG", target) == (Version("1.0"), Version("2.0"))
    assert lookup.obtain("pkg", Version("2.0"), target).name == (
        "pkg-2.0-cp312-abi3-manylinux_2_28_x86_64.whl")
    assert lookup.distributions(target) == {"pkg", "other"}
    assert lookup.member_names("other", target) >= {"other/__init__.py"}
    with pytest.raises(ProviderUnavailable, match=r"no compatible wheel of pkg==3\.0"):
        lookup.obtain("pkg", Version("3.0"), target)


def test_size_limit_and_skip(wheelhouse: Path, target: Target) -> None:
    small = ProviderLookup(wheelhouses=(wheelhouse,), max_wheel_size=10)
    with pytest.raises(ProviderUnavailable, match="over the 10 B limit"):
        small.obtain("pkg", Version("1.0"), target)
    skipping = ProviderLookup(skip=("nvidia-*", "Torch"))
    assert skipping.skipped("nvidia_cublas_cu12")
    assert skipping.skipped("torch")
    assert not skipping.skipped("torchvision")


def test_pip_index_and_download_against_local_links(
    wheelhouse: Path, target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every index off, no config file: pip sees only the find-links directory.
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheelhouse))
    cache = tmp_path / "cache"
    lookup = ProviderLookup(download=True, cache=cache, pip=(sys.executable, "-m", "pip"))
    assert lookup.versions("pkg", target) == (Version("1.0"), Version("2.0"))
    got = lookup.obtain("pkg", Version("2.0"), target)
    assert got.parent == cache
    assert got.name == "pkg-2.0-cp312-abi3-manylinux_2_28_x86_64.whl"
    assert not [p for p in cache.iterdir() if p.name.startswith(".download-")]
    # The cache now answers without pip.
    offline = ProviderLookup(download=True, cache=cache, pip=("/nonexistent/pip",))
    assert offline.obtain("pkg", Version("2.0"), target) == got
    assert lookup.versions("no-such-dist", target) == ()
    with pytest.raises(ProviderUnavailable, match=r"pip download pkg==3\.0 failed"):
        lookup.obtain("pkg", Version("3.0"), target)
    broken = ProviderLookup(download=True, cache=cache, pip=("/nonexistent/pip",))
    with pytest.raises(ProviderUnavailable, match="nonexistent"):
        broken.versions("pkg", target)

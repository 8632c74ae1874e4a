"""Platform tags as the platforms judge them: family, architecture, libc or macOS level.

One parser for every place that needs to know what a wheel's tag promises (the manylinux
policy, the architecture check, the marker environment, which provider wheels fit), so that
``manylinux2014_x86_64``, ``macosx_10_9_universal2`` and ``win_amd64`` mean the same thing
everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Family", "PlatformTag", "machines", "native_formats", "parse_platform"]

Family = Literal["manylinux", "musllinux", "linux", "macosx", "win", "any", "other"]

_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_PEP600 = re.compile(r"^(?P<family>manylinux|musllinux)_(?P<maj>\d+)_(?P<min>\d+)_(?P<arch>.+)$")
_LEGACY_TAG = re.compile(r"^(?P<family>manylinux1|manylinux2010|manylinux2014)_(?P<arch>.+)$")
_MACOS = re.compile(r"^macosx_(?P<maj>\d+)_(?P<min>\d+)_(?P<arch>.+)$")
_WINDOWS = {"win32": "i686", "win_amd64": "x86_64", "win_arm64": "arm64", "win_ia64": "ia64"}
# macOS multi-architecture tags and the slices each promises.
_MACOS_MULTI = {
    "universal2": ("arm64", "x86_64"),
    "intel": ("i386", "x86_64"),
    "fat": ("i386", "ppc"),
    "fat3": ("i386", "ppc", "x86_64"),
    "fat64": ("ppc64", "x86_64"),
    "universal": ("i386", "ppc", "ppc64", "x86_64"),
}


@dataclass(frozen=True, slots=True)
class PlatformTag:
    """One platform tag, parsed."""

    raw: str
    family: Family
    arch: str | None
    """As the tag spells it (``x86_64``, ``aarch64``, ``universal2``); None for ``any``."""
    level: tuple[int, int] | None = None
    """glibc or musl version for (many|musl)linux, the minimum macOS for macosx."""

    @property
    def name(self) -> str:
        """The modern spelling: ``manylinux_2_17_x86_64`` for ``manylinux2014_x86_64``."""
        if self.family in ("manylinux", "musllinux") and self.level is not None:
            return f"{self.family}_{self.level[0]}_{self.level[1]}_{self.arch}"
        return self.raw

    @property
    def binary_format(self) -> str | None:
        """The format of the native binaries the tag's OS loads (``elf``, ``macho``, ``pe``);
        None for ``any`` and tags wheelguard does not know."""
        if self.is_linux:
            return "elf"
        return {"macosx": "macho", "win": "pe"}.get(self.family)

    @property
    def is_linux(self) -> bool:
        return self.family in ("manylinux", "musllinux", "linux")

    @property
    def machines(self) -> frozenset[str]:
        """Architectures of the binaries the tag allows, in the adapters' names (ELF
        ``x86_64``/``i686``/``aarch64``, Mach-O ``x86_64``/``arm64``, PE ``x86_64``/``arm64``)."""
        if self.arch is None:
            return frozenset()
        if self.family == "macosx":
            return frozenset(_MACOS_MULTI.get(self.arch, (self.arch,)))
        if self.family == "win":
            return frozenset({self.arch})
        return frozenset({"i686" if self.arch == "i386" else self.arch})


def parse_platform(tag: str) -> PlatformTag:
    """Parse one platform tag; anything unrecognised is family ``other`` (never an error:
    new platforms appear, and a tag wheelguard does not know promises nothing it can check)."""
    if tag == "any":
        return PlatformTag(tag, "any", None)
    if m := _PEP600.match(tag):
        family: Family = "manylinux" if m["family"] == "manylinux" else "musllinux"
        return PlatformTag(tag, family, m["arch"], (int(m["maj"]), int(m["min"])))
    if m := _LEGACY_TAG.match(tag):
        return PlatformTag(tag, "manylinux", m["arch"], _LEGACY[m["family"]])
    if tag.startswith("linux_"):
        return PlatformTag(tag, "linux", tag.removeprefix("linux_"))
    if m := _MACOS.match(tag):
        return PlatformTag(tag, "macosx", m["arch"], (int(m["maj"]), int(m["min"])))
    if tag in _WINDOWS:
        return PlatformTag(tag, "win", _WINDOWS[tag])
    return PlatformTag(tag, "other", None)


def machines(platforms: Iterable[str]) -> frozenset[str] | None:
    """Every architecture the tags allow; None when no tag names one (``any``, or tags
    wheelguard does not know: nothing to compare binaries with)."""
    found = frozenset(m for p in platforms for m in parse_platform(p).machines)
    return found or None


def native_formats(platforms: Iterable[str]) -> frozenset[str] | None:
    """The binary formats the tags' operating systems load; None when no tag names an OS
    (``any``, unknown tags: a binary of any format may be a data file there, e.g. a cubin)."""
    found = frozenset(f for p in platforms if (f := parse_platform(p).binary_format))
    return found or None

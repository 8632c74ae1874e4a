"""The value every loader emulation returns: how one needed library is satisfied.

Kept apart from the emulations themselves (glibc in :mod:`wheelguard.loader.resolve`, dyld in
:mod:`wheelguard.loader.dyld`, the Windows loader in :mod:`wheelguard.loader.windows`) so that
each can build it without importing the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wheelguard.model import SoName

__all__ = ["Resolution", "ResolutionKind"]

ResolutionKind = Literal["wheel", "platform", "driver", "dependency", "extra", "undeclared",
                         "unresolved", "preload", "redistributable"]
"""``preload``: no search-path entry finds it; an already loaded object with that SONAME
satisfies it (loaded by importing its provider first, or by the package itself before the
library that needs it). ``driver``: it comes with a GPU driver. ``extra``: a distribution the
wheel declares only under an extra provides it.
``redistributable``: a Windows DLL that neither Windows nor CPython ships but that many machines
have (the Visual C++ runtime beyond ``vcruntime140``): found where the redistributable is
installed or another package loaded its copy first."""


@dataclass(frozen=True, slots=True)
class Resolution:
    """How one needed library (DT_NEEDED, dylib load command, imported DLL) is satisfied."""

    needed: SoName
    kind: ResolutionKind
    path: str | None = None
    """Install-root-relative file for ``wheel``; for dependencies the directory reached."""
    entry: str | None = None
    """The RPATH/RUNPATH/LC_RPATH entry (or ``@loader_path``, or the directory the Windows
    loader searched) that found it; None when found by name among loaded objects or by policy."""
    provider: str | None = None
    """Distribution that provides it (``dependency``/``extra``/``undeclared``), the driver
    (``driver``), or the wheel itself (``preload`` of one of its own files)."""
    requirement: str | None = None
    """The Requires-Dist that brings the provider (for ``extra``: under that extra)."""
    version: str | None = None
    """The provider's version, where a real wheel of it was read (linkage analysis)."""
    reason: str | None = None
    """Why it is not found, or what makes it found, where the kind alone does not say
    (``absolute path of the build machine``, ``delay-loaded``)."""

    def to_json(self) -> dict[str, str | None]:
        """The one JSON shape of a resolution (``show``, ``show --deps``, reports)."""
        return {"needed": self.needed, "kind": self.kind, "path": self.path,
                "entry": self.entry, "provider": self.provider, "version": self.version,
                "requirement": self.requirement, "reason": self.reason}

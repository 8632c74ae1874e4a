"""C++ names for people: evidence reads ``tvm::ffi::json::Stringify(...)``, not ``_ZN3tvm...``.

Three ways, best first. **pydemumble** (a dependency: LLVM's Itanium demangler behind a small
binding, wheels for Linux, macOS and Windows, maintained by the angr project) answers in
process. Where it cannot be imported (a platform without a wheel), **c++filt** from binutils
runs through :func:`wheelguard.util.proc.run_tool`, many names per call. Where neither is
there, names stay **mangled**. :attr:`Demangler.source` says which one answered, so a report
can say it too. Names that are not mangled (C functions) come back unchanged.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from typing import Literal

from wheelguard.util.proc import run_tool

__all__ = ["Demangler", "DemanglerSource"]

DemanglerSource = Literal["pydemumble", "c++filt", "none"]

_BATCH = 200
"""Names per c++filt call: well under any argument-length limit."""


def _pydemumble() -> Callable[[str], str] | None:
    try:
        import pydemumble
    except ImportError:
        return None
    fn: Callable[[str], str] = pydemumble.demangle
    return fn


class Demangler:
    """Demangles with the best tool present and remembers its answers; one per report (no
    module-level cache: its lifetime is the caller's)."""

    def __init__(self, prefer: DemanglerSource | None = None) -> None:
        self._fn: Callable[[str], str] | None = None
        self._cxxfilt: str | None = None
        self._known: dict[str, str] = {}
        if prefer in (None, "pydemumble"):
            self._fn = _pydemumble()
        if self._fn is None and prefer in (None, "c++filt"):
            self._cxxfilt = shutil.which("c++filt")
        self.source: DemanglerSource = (
            "pydemumble" if self._fn is not None else "c++filt" if self._cxxfilt else "none")

    def __call__(self, name: str) -> str:
        return self.many([name])[name]

    def many(self, names: Iterable[str]) -> dict[str, str]:
        """Each name's demangled form (the name itself when it is not mangled or no tool can
        read it)."""
        wanted = list(dict.fromkeys(names))
        todo = [n for n in wanted if n not in self._known and n.startswith("_Z")]
        if self._fn is not None:
            for n in todo:
                self._known[n] = self._fn(n) or n
        elif self._cxxfilt is not None:
            for i in range(0, len(todo), _BATCH):
                self._filt(todo[i:i + _BATCH])
        return {n: self._known.get(n, n) for n in wanted}

    def _filt(self, names: list[str]) -> None:
        assert self._cxxfilt is not None
        done = run_tool([self._cxxfilt, *names], timeout=60)
        lines = done.stdout.splitlines()
        if not done.ok or len(lines) != len(names):
            return  # leave them mangled: a report is still right, only harder to read
        self._known.update((n, line.strip() or n) for n, line in zip(names, lines, strict=True))

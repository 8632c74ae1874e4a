"""Published wheels for tests, by pinned version, size and sha256, from the shared wheel cache.

Downloads go through :mod:`helpers.wheelcache`, the same code that fetches the corpus
(``tests/corpus/fetch.py``), so a wheel is verified the same way whichever path brought it.
A wheel whose digest differs from the pin is an error, never a skip: a registry serving other
bytes under a pinned name is a finding. Only "the registry cannot be reached" turns into
:class:`Unavailable`, which tests report as skip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from helpers.wheelcache import (
    Artifact,
    DigestMismatch,
    Unavailable,
    cache_dir,
    cached,
    download,
    lookup_pypi,
)

__all__ = ["PINS", "Pin", "Unavailable", "cache_dir", "fetch"]


@dataclass(frozen=True, slots=True)
class Pin:
    """One published wheel. ``platform`` and ``python_version`` record the interpreter the pin
    was chosen for. ``url`` and ``size`` come from the registry's JSON API; a pin without them
    is looked up there (by project, version and file name) on its first download."""

    project: str
    version: str
    filename: str
    sha256: str
    platform: str
    python_version: str
    size: int | None = None
    url: str | None = None


PINS: dict[str, Pin] = {
    "tilelang": Pin(
        "tilelang", "0.1.15",
        "tilelang-0.1.15-cp39-abi3-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "ca021a3450ad84b8fe7deb1b659c8d3d2e4b0855fdb59e2992a5349acf019881",
        "manylinux_2_28_x86_64", "3.12", 49554040,
        "https://files.pythonhosted.org/packages/87/7c/eeda90666b629bc92e8a775ea219f91b8696d8592d7a5c7dff7067dd2642/tilelang-0.1.15-cp39-abi3-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
    ),
    "apache-tvm-ffi": Pin(
        "apache-tvm-ffi", "0.1.12",
        "apache_tvm_ffi-0.1.12-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "dc0acd7eeb0e451d5e3f686af3ba0b495fdbf97b5b54cf9a0f770cdafe0e691a",
        "manylinux_2_28_x86_64", "3.12", 2719638,
        "https://files.pythonhosted.org/packages/52/f3/fba607d803cb081be2d66ea51865492b42872898bd271d9bcc3e1ced4ef3/apache_tvm_ffi-0.1.12-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    ),
    "z3-solver": Pin(
        "z3-solver", "4.15.4.0",
        "z3_solver-4.15.4.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "7e103a6f203f505b8b8b8e5c931cc407c95b61556512d4921c1ddc0b3f41b08e",
        "manylinux_2_17_x86_64", "3.12", 29268352,
        "https://files.pythonhosted.org/packages/21/c9/bb51a96af0091324c81b803f16c49f719f9f6ea0b0bb52200f5c97ec4892/z3_solver-4.15.4.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    ),
    # macOS: Mach-O install names (@loader_path, @rpath, /usr/lib) through the lief adapter.
    "apache-tvm-ffi-macos": Pin(
        "apache-tvm-ffi", "0.1.12",
        "apache_tvm_ffi-0.1.12-cp312-abi3-macosx_11_0_arm64.whl",
        "218e55c807d49182710ef2ab0336313ba6becccb7e565f4941d23bded09646d4",
        "macosx_11_0_arm64", "3.12", 2463724,
        "https://files.pythonhosted.org/packages/7d/ef/8f2ea57791e8df55c5a52e20d415c01032ef5fa3761574268201b7cc2c79/apache_tvm_ffi-0.1.12-cp312-abi3-macosx_11_0_arm64.whl",
    ),
}


def fetch(name: str, cache: Path | None = None) -> Path:
    """The pinned wheel of project ``name``, from the cache or downloaded into it.

    Raises :class:`Unavailable` when the registry cannot be reached, :class:`RuntimeError` when
    it answered but the download failed, and :class:`ValueError` on a size or digest mismatch.
    """
    pin = PINS[name]
    cache = cache or cache_dir()
    hit = cached(Artifact(pin.filename, pin.sha256, pin.url or "", pin.size), cache)
    if hit is not None:
        return hit
    if pin.url is not None:
        artifact = Artifact(pin.filename, pin.sha256, pin.url, pin.size)
    else:
        listed = lookup_pypi(pin.project, pin.version, pin.filename)
        if listed.sha256 != pin.sha256:
            msg = f"{pin.filename}: the registry lists sha256 {listed.sha256}, pinned {pin.sha256}"
            raise DigestMismatch(msg)
        artifact = listed
    return download(artifact, cache, verify_cached=False)

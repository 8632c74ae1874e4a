"""Published wheels, downloaded once by pinned version and sha256 into a cache shared by runs.

``pip download`` is the one client used, so whatever index configuration the machine has
(a mirror, ``PIP_INDEX_URL``, ``find-links``) applies. A wheel whose digest differs from the pin
is an error, never a skip: a registry serving other bytes under a pinned name is a finding.
Only "no registry can be reached" turns into :class:`Unavailable`, which tests report as skip.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from wheelguard.util.fs import file_sha256

__all__ = ["PINS", "Pin", "Unavailable", "cache_dir", "fetch"]


@dataclass(frozen=True, slots=True)
class Pin:
    project: str
    version: str
    filename: str
    sha256: str
    platform: str
    python_version: str


PINS: dict[str, Pin] = {
    "tilelang": Pin(
        "tilelang", "0.1.15",
        "tilelang-0.1.15-cp39-abi3-manylinux_2_27_x86_64.manylinux_2_28_x86_64.whl",
        "ca021a3450ad84b8fe7deb1b659c8d3d2e4b0855fdb59e2992a5349acf019881",
        "manylinux_2_28_x86_64", "3.12",
    ),
    "apache-tvm-ffi": Pin(
        "apache-tvm-ffi", "0.1.12",
        "apache_tvm_ffi-0.1.12-cp312-abi3-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
        "dc0acd7eeb0e451d5e3f686af3ba0b495fdbf97b5b54cf9a0f770cdafe0e691a",
        "manylinux_2_28_x86_64", "3.12",
    ),
    "z3-solver": Pin(
        "z3-solver", "4.15.4.0",
        "z3_solver-4.15.4.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "7e103a6f203f505b8b8b8e5c931cc407c95b61556512d4921c1ddc0b3f41b08e",
        "manylinux_2_17_x86_64", "3.12",
    ),
    # macOS: Mach-O install names (@loader_path, @rpath, /usr/lib) through the lief adapter.
    "apache-tvm-ffi-macos": Pin(
        "apache-tvm-ffi", "0.1.12",
        "apache_tvm_ffi-0.1.12-cp312-abi3-macosx_11_0_arm64.whl",
        "218e55c807d49182710ef2ab0336313ba6becccb7e565f4941d23bded09646d4",
        "macosx_11_0_arm64", "3.12",
    ),
}


class Unavailable(Exception):
    """No package registry answered; the reason says which one was tried and how it failed."""


def cache_dir() -> Path:
    env = os.environ.get("WHEELGUARD_WHEEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "wheelguard" / "wheels"




def fetch(name: str, cache: Path | None = None) -> Path:
    """The pinned wheel of project ``name``, from the cache or downloaded into it.

    Raises :class:`Unavailable` when no registry can be reached, :class:`RuntimeError` when
    one answered but the download failed, and :class:`ValueError` on a digest mismatch.
    """
    pin = PINS[name]
    cache = cache or cache_dir()
    target = cache / pin.filename
    if target.is_file() and file_sha256(target) == pin.sha256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", f"{pin.project}=={pin.version}",
            "--no-deps", "--only-binary=:all:", "--platform", pin.platform,
            "--python-version", pin.python_version, "--disable-pip-version-check",
            "-q", "-d", tmp,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
        got = Path(tmp) / pin.filename
        if proc.returncode != 0 or not got.is_file():
            reason = _unreachable(pin.project)
            if reason is not None:
                raise Unavailable(f"{pin.project}=={pin.version}: {reason}")
            listing = ", ".join(p.name for p in Path(tmp).iterdir()) or "nothing"
            msg = (f"pip download {pin.project}=={pin.version} failed (rc {proc.returncode}, "
                   f"got {listing}):\n{proc.stderr[-2000:]}")
            raise RuntimeError(msg)
        digest = file_sha256(got)
        if digest != pin.sha256:
            msg = f"{pin.filename}: sha256 {digest}, pinned {pin.sha256}"
            raise ValueError(msg)
        got.replace(target)
    return target


def _index_urls() -> list[str]:
    """The indexes pip would ask, as its own configuration names them."""
    urls: list[str] = []
    for key in ("global.index-url", "global.extra-index-url"):
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", key],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode == 0:
            urls.extend(proc.stdout.split())
    for env in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        urls.extend(os.environ.get(env, "").split())
    if not any(u.startswith("http") for u in urls):
        urls.append("https://pypi.org/simple/")
    return [u for u in urls if u.startswith("http")]


def _unreachable(project: str) -> str | None:
    """None if some HTTP index answers for ``project``; else why none did (the skip reason).

    One HEAD request for the project's own page per index: never the index's list of names.
    """
    failures: list[str] = []
    for base in _index_urls():
        url = base.rstrip("/") + f"/{project}/"
        request = urllib.request.Request(url, method="HEAD")
        try:
            with contextlib.closing(urllib.request.urlopen(request, timeout=10)):
                return None
        except urllib.error.HTTPError:
            return None  # it answered, even if with an error status
        except (urllib.error.URLError, OSError) as e:
            failures.append(f"{url}: {getattr(e, 'reason', e)}")
    return "no package registry reachable (" + "; ".join(failures) + ")"

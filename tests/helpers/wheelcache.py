"""Published files downloaded once, by URL, size and sha256, into a cache shared by every run.

The one download-and-verify path behind both ``helpers.published`` (single pinned wheels for
tests) and ``tests/corpus/fetch.py`` (the corpus). Bytes are hashed while they are written to a
temporary file beside the target, and only a file whose size and digest match its pin is
renamed into place: a file under its final name in the cache was verified when it got there.
A registry serving other bytes under a pinned name is a finding, so a mismatch is an error and
is never retried or skipped. Only "the host could not be reached" becomes :class:`Unavailable`,
which tests turn into a skip.

Deliberately free of ``wheelguard`` imports: the code under test must not decide whether its
own test inputs are intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Artifact",
    "DigestMismatch",
    "DownloadFailed",
    "Unavailable",
    "cache_dir",
    "cached",
    "download",
    "download_all",
    "file_sha256",
    "lookup_pypi",
]

#: Progress callback: (artifact, bytes received so far). Called from worker threads.
Progress = Callable[["Artifact", int], None]

_CHUNK = 1 << 20
_TIMEOUT_S = 60  # per socket operation, not per file: a 1 GB wheel may take minutes
_PYPI_JSON = "https://pypi.org/pypi/{project}/json"
_FILES_HOST = "https://files.pythonhosted.org/"


@dataclass(frozen=True, slots=True)
class Artifact:
    """One published file as its registry describes it. ``size`` is None only for pins that
    predate recording it; the digest alone then decides."""

    filename: str
    sha256: str
    url: str
    size: int | None = None


class Unavailable(Exception):
    """The host could not be reached at all; the message says which one and why."""


class DownloadFailed(RuntimeError):
    """The host answered but the file did not arrive whole (HTTP error, connection cut)."""


class DigestMismatch(ValueError):
    """Bytes arrived whose size or sha256 differ from the pin: never accepted."""


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$WHEELGUARD_WHEEL_CACHE``, else ``~/.cache/wheelguard/wheels``."""
    value = (os.environ if env is None else env).get("WHEELGUARD_WHEEL_CACHE")
    return Path(value) if value else Path.home() / ".cache" / "wheelguard" / "wheels"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def cached(artifact: Artifact, cache: Path, *, verify: bool = True) -> Path | None:
    """The cached file if it is there and intact, else None.

    With ``verify=False`` only the size is compared: enough for a file this module wrote (it
    was hashed on the way in), and instant for the 500 MB wheels benchmarks reopen often.
    """
    target = cache / artifact.filename
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        return None
    if artifact.size is not None and size != artifact.size:
        return None
    if verify and file_sha256(target) != artifact.sha256:
        return None
    return target


def download(
    artifact: Artifact, cache: Path, *, progress: Progress | None = None, verify_cached: bool = True
) -> Path:
    """The verified file in ``cache``, downloaded first unless an intact copy is there.

    A cached copy that fails verification is downloaded again (a cut or tampered cache file is
    not the registry's fault); a download that fails verification raises
    :class:`DigestMismatch` and leaves nothing behind.
    """
    hit = cached(artifact, cache, verify=verify_cached)
    if hit is not None:
        return hit
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / artifact.filename
    fd, tmp_name = tempfile.mkstemp(prefix=f".{artifact.filename}.", suffix=".part", dir=cache)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            size, digest = _stream(artifact, out, progress)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o644)  # mkstemp's 0600 would hide the cache from others
        if artifact.size is not None and size != artifact.size:
            msg = f"{artifact.filename}: got {size} bytes, pinned {artifact.size} ({artifact.url})"
            raise DigestMismatch(msg)
        if digest != artifact.sha256:
            msg = f"{artifact.filename}: sha256 {digest}, pinned {artifact.sha256} ({artifact.url})"
            raise DigestMismatch(msg)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _stream(artifact: Artifact, out: Any, progress: Progress | None) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    request = urllib.request.Request(artifact.url, headers={"User-Agent": "wheelguard-tests"})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as e:
        msg = f"{artifact.filename}: HTTP {e.code} {e.reason} from {artifact.url}"
        raise DownloadFailed(msg) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        msg = f"{artifact.filename}: cannot reach {artifact.url}: {reason}"
        raise Unavailable(msg) from None
    with contextlib.closing(response):
        try:
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
                if progress is not None:
                    progress(artifact, size)
        except (OSError, http.client.HTTPException) as e:
            msg = f"{artifact.filename}: connection lost after {size} bytes: {e}"
            raise DownloadFailed(msg) from None
    return size, digest.hexdigest()


def download_all(
    artifacts: Iterable[Artifact],
    cache: Path,
    *,
    jobs: int = 4,
    progress: Progress | None = None,
    on_done: Callable[[Artifact, Path | BaseException], None] | None = None,
) -> dict[Artifact, Path | Exception]:
    """Each artifact's cached path, or the exception that stopped it; never raises for one.

    A few downloads at a time: one connection rarely fills the link, many only contend.
    Two artifacts with one file name are fetched once.
    """
    unique = list(dict.fromkeys(artifacts))
    results: dict[Artifact, Path | Exception] = {}
    lock = threading.Lock()

    def one(artifact: Artifact) -> None:
        outcome: Path | Exception
        try:
            outcome = download(artifact, cache, progress=progress)
        except Exception as e:  # reported per artifact; the caller decides what fails
            outcome = e
        with lock:
            results[artifact] = outcome
        if on_done is not None:
            on_done(artifact, outcome)

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="wheel-fetch") as pool:
        for future in [pool.submit(one, a) for a in unique]:
            future.result()
    return {a: results[a] for a in unique}


def lookup_pypi(project: str, version: str, filename: str) -> Artifact:
    """The registry's own facts (URL, size, sha256) for one file of a release.

    Asks the project's JSON document (``/pypi/NAME/json``): one request for one project named
    by the caller, never the index's list of names. The URL is rebuilt on the public file host
    from the registry's blake2b digest, which is how that host lays files out.
    """
    url = _PYPI_JSON.format(project=project)
    try:
        with contextlib.closing(urllib.request.urlopen(url, timeout=_TIMEOUT_S)) as response:
            document = json.load(response)
    except urllib.error.HTTPError as e:
        msg = f"{url}: HTTP {e.code} {e.reason}"
        raise DownloadFailed(msg) from None
    except (urllib.error.URLError, OSError) as e:
        msg = f"cannot reach {url}: {getattr(e, 'reason', e)}"
        raise Unavailable(msg) from None
    for item in document.get("releases", {}).get(version, []):
        if item["filename"] == filename:
            blake = item["digests"]["blake2b_256"]
            return Artifact(
                filename=filename,
                sha256=item["digests"]["sha256"],
                url=f"{_FILES_HOST}packages/{blake[:2]}/{blake[2:4]}/{blake[4:]}/{filename}",
                size=int(item["size"]),
            )
    msg = f"{project}=={version} has no file {filename} on the registry"
    raise DownloadFailed(msg)

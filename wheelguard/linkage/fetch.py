"""Where dependency wheels come from: a local wheelhouse, or ``pip download`` into a cache.

The linkage analysis (:mod:`wheelguard.linkage.emulate`) reads real wheels of the distributions a
wheel depends on. They come from directories of wheels (``--wheelhouse DIR``: no network at
all) or from pip (``--download``). Only pip talks to an index, so whatever the machine
configures for pip (a mirror, ``find-links``, certificates) applies; nothing here speaks HTTP.
Which versions exist is pip's answer to ``pip index versions`` for the target's platform tags
and Python; a downloaded wheel lands in the shared wheel cache (``WHEELGUARD_WHEEL_CACHE``,
else ``~/.cache/wheelguard/wheels``), which later runs read before asking pip again.

"Compatible" means installable on *some* system of the family the consumer wheel targets: a
``manylinux_2_27`` consumer may meet a dependency wheel tagged ``manylinux_2_34`` on a newer
machine, so every glibc level counts, preferred newest first (the wheel pip picks there).
"""

from __future__ import annotations

import fnmatch
import os
import re
import sys
import tempfile
import types
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from wheelguard.errors import InvalidWheel, UsageError, WheelguardError
from wheelguard.knowledge.manylinux import linux_platforms
from wheelguard.knowledge.tags import parse_platform
from wheelguard.linkage import DEFAULT_MAX_WHEEL_SIZE
from wheelguard.model import Wheel
from wheelguard.reading.archive import WheelArchive
from wheelguard.reading.scan import MemberFilter, scan_wheel
from wheelguard.util.proc import Completed, run_tool
from wheelguard.util.units import format_bytes

__all__ = [
    "LocalWheel",
    "ProviderLookup",
    "ProviderTooLarge",
    "ProviderUnavailable",
    "Target",
    "cache_dir",
    "target_for",
]

_PYTHON = re.compile(r"^(?P<major>\d)\.(?P<minor>\d{1,2})$")
_AVAILABLE = re.compile(r"^Available versions:\s*(?P<versions>.*)$", re.MULTILINE)
_NO_MATCH = ("No matching distribution found", "Could not find a version")
_ANNOUNCED = re.compile(
    r"^\s*(?:Downloading|Using cached) (?P<file>\S+\.whl) "
    r"\((?P<size>\d+(?:\.\d+)?) (?P<unit>bytes|kB|MB|GB)\)"
)
"""pip's announcement of a wheel before it fetches the bytes, with the size the index lists
(decimal units, rounded to one decimal place)."""
_UNITS = {"bytes": 1, "kB": 1000, "MB": 1000**2, "GB": 1000**3}



class ProviderUnavailable(WheelguardError, RuntimeError):
    """A dependency wheel could not be listed or obtained; the analysis records the reason
    and goes on without it (a finding says the provider was not checked)."""


class ProviderTooLarge(ProviderUnavailable):
    """The wheel is over the size limit for provider wheels (``--max-provider-size``); the
    other releases of that distribution are most likely as large."""


def cache_dir() -> Path:
    """The wheel cache shared with the published-wheel test fixture."""
    env = os.environ.get("WHEELGUARD_WHEEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "wheelguard" / "wheels"


@dataclass(frozen=True, slots=True)
class Target:
    """The interpreter and platform family dependency wheels must install on."""

    python: str
    """``X.Y``: markers are evaluated and wheels matched for this Python."""
    platforms: tuple[str, ...]
    """Platform tags, most preferred first (pip's ``--platform`` list, in order)."""
    tags: tuple[Tag, ...]
    _rank: Mapping[Tag, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        rank: dict[Tag, int] = {}
        for i, tag in enumerate(self.tags):
            rank.setdefault(tag, i)
        object.__setattr__(self, "_rank", types.MappingProxyType(rank))

    @classmethod
    def of(cls, platforms: Iterable[str], python: str) -> Target:
        m = _PYTHON.match(python)
        if m is None:
            raise UsageError(f"--python wants X.Y (e.g. 3.12), not {python!r}")
        version = (int(m["major"]), int(m["minor"]))
        plats = tuple(platforms)
        tags = (
            *cpython_tags(version, platforms=plats),
            *compatible_tags(version, interpreter=f"cp{version[0]}{version[1]}", platforms=plats),
        )
        return cls(python=python, platforms=plats, tags=tags)

    def rank(self, tags: Iterable[Tag]) -> int | None:
        """Preference of a wheel with these tags (lower is better); None: not installable."""
        ranks = [self._rank[t] for t in tags if t in self._rank]
        return min(ranks) if ranks else None


def target_for(wheel: Wheel, python: str | None = None) -> Target:
    """Dependencies of ``wheel`` must fit its platform family, on any system of that family."""
    py = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    linux = [t for t in map(parse_platform, sorted(wheel.platforms))
             if t.is_linux and t.arch is not None]
    if not linux or linux[0].arch is None:
        return Target.of(sorted(wheel.platforms), py)
    musl = any(t.family == "musllinux" for t in linux)
    return Target.of(linux_platforms(linux[0].arch, musl=musl), py)


@dataclass(frozen=True, slots=True)
class LocalWheel:
    """A wheel file on disk, known by its file name only (nothing read yet)."""

    path: Path
    name: NormalizedName
    version: Version
    tags: frozenset[Tag]
    size: int


def _file_key(path: Path) -> tuple[str, int, int]:
    """A file as a cache knows it: a new file at the same path is another key."""
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def _local_wheels(directory: Path) -> tuple[LocalWheel, ...]:
    found: list[LocalWheel] = []
    for path in sorted(directory.glob("*.whl")):
        try:
            name, version, _build, tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        found.append(LocalWheel(path, name, version, tags, path.stat().st_size))
    return tuple(found)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderLookup:
    """Where to look for dependency wheels, and what not to fetch.

    Directories are listed when asked, so a wheel pip adds to the cache is seen by the next
    question. The one thing the lookup keeps is the wheels it has read (:meth:`scan`), by
    file, size and modification time: the wheels of one release need the same providers, and
    each is read once per run instead of once per wheel.
    """

    wheelhouses: tuple[Path, ...] = ()
    download: bool = False
    cache: Path | None = None
    """Download cache; default :func:`cache_dir`. Read as a wheelhouse when downloading."""
    skip: tuple[str, ...] = ()
    """Distribution names or globs (``torch``, ``nvidia-*``) never fetched or read."""
    max_wheel_size: int = DEFAULT_MAX_WHEEL_SIZE
    pip: tuple[str, ...] = (sys.executable, "-m", "pip")
    timeout: float = 900.0
    _scans: dict[tuple[str, int, int, MemberFilter | None], Wheel] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    _names: dict[tuple[str, int, int], frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def scan(self, path: Path, *, only: MemberFilter | None = None) -> Wheel:
        """:func:`~wheelguard.reading.scan.scan_wheel` of a provider wheel, read once per
        lookup (per command run) however many audited wheels need it."""
        key = (*_file_key(path), only)
        wheel = self._scans.get(key)
        if wheel is None:
            wheel = self._scans[key] = scan_wheel(path, only=only)
        return wheel

    def _member_names(self, path: Path) -> frozenset[str]:
        key = _file_key(path)
        names = self._names.get(key)
        if names is None:
            with WheelArchive(path) as archive:
                names = self._names[key] = frozenset(archive.names())
        return names

    @property
    def cache_path(self) -> Path:
        return self.cache or cache_dir()

    @property
    def where(self) -> str:
        """Where provider wheels were looked for, as a message says it (a lookup given no
        --wheelhouse and no --download looked nowhere, and must not say "the wheelhouse")."""
        places = [f"--wheelhouse {d}" for d in self.wheelhouses]
        if self.download:
            places.append("the wheel cache or the index")
        if not places:
            return "no --wheelhouse or --download given"
        return "in " + " or ".join(places)

    def skipped(self, name: str) -> bool:
        canonical = canonicalize_name(name)
        return any(fnmatch.fnmatchcase(canonical, canonicalize_name(p)) for p in self.skip)

    def _dirs(self) -> tuple[Path, ...]:
        dirs = list(self.wheelhouses)
        if self.download:
            dirs.append(self.cache_path)
        return tuple(d for d in dirs if d.is_dir())

    def local(self, name: str, target: Target) -> tuple[LocalWheel, ...]:
        """Compatible local wheels of ``name``, best tag first within each version."""
        canonical = canonicalize_name(name)
        found = [w for d in self._dirs() for w in _local_wheels(d)
                 if w.name == canonical and target.rank(w.tags) is not None]
        return tuple(sorted(found, key=lambda w: (w.version, target.rank(w.tags) or 0)))

    def distributions(self, target: Target) -> frozenset[NormalizedName]:
        """Every distribution with a compatible wheel in a local directory."""
        return frozenset(w.name for d in self._dirs() for w in _local_wheels(d)
                         if target.rank(w.tags) is not None)

    def member_names(self, name: str, target: Target) -> frozenset[str]:
        """Member paths of the local wheels of ``name``, from their central directories only;
        how the analysis tells, without reading a byte of payload, whether a wheel in a
        wheelhouse ships a library some binary needs. Cheap at any size, so the size limit
        does not apply: a provider too large to read is still named as unchecked."""
        names: set[str] = set()
        for w in self.local(name, target):
            try:
                names.update(self._member_names(w.path))
            except InvalidWheel:
                continue
        return frozenset(names)

    def versions(self, name: str, target: Target) -> tuple[Version, ...]:
        """Versions with a compatible wheel, ascending: the local ones, plus pip's list when
        downloading. Raises :class:`ProviderUnavailable` when pip cannot answer."""
        found = {w.version for w in self.local(name, target)}
        if self.download:
            found.update(self._index_versions(name, target))
        return tuple(sorted(found))

    def obtain(self, name: str, version: Version, target: Target) -> Path:
        """The best compatible wheel of ``name==version``: local if present, else downloaded
        into the cache. Raises :class:`ProviderUnavailable` with the reason."""
        local = [w for w in self.local(name, target) if w.version == version]
        if not local and self.download:
            self._download(name, version, target)
            local = [w for w in self.local(name, target) if w.version == version]
        if not local:
            raise ProviderUnavailable(f"no compatible wheel of {name}=={version}: {self.where}")
        best = min(local, key=lambda w: target.rank(w.tags) or 0)
        if best.size > self.max_wheel_size:
            raise ProviderTooLarge(
                f"{best.path.name} is {format_bytes(best.size)}, over the "
                f"{format_bytes(self.max_wheel_size)} limit for provider wheels"
            )
        return best.path

    def obtain_many(
        self,
        name: str,
        versions: Iterable[Version],
        target: Target,
        *,
        jobs: int = 4,
        on_done: Callable[[Version, Path | ProviderUnavailable], None] | None = None,
    ) -> dict[Version, Path | ProviderUnavailable]:
        """:meth:`obtain` for several versions, a few pip processes at a time (one download
        rarely fills the link; many only contend). Never raises for one version: its entry is
        the :class:`ProviderUnavailable` that stopped it. Once one version is over the size
        limit, those not started yet are not fetched: a distribution's releases are alike in
        size, and the limit exists to keep such downloads out."""
        wanted = sorted(set(versions))
        results: dict[Version, Path | ProviderUnavailable] = {}
        too_large: list[ProviderTooLarge] = []

        def one(version: Version) -> None:
            outcome: Path | ProviderUnavailable
            if too_large:
                outcome = ProviderTooLarge(f"not fetched: {too_large[0]}")
            else:
                try:
                    outcome = self.obtain(name, version, target)
                except ProviderTooLarge as e:
                    too_large.append(e)
                    outcome = e
                except ProviderUnavailable as e:
                    outcome = e
            results[version] = outcome
            if on_done is not None:
                on_done(version, outcome)

        with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="wheelguard-fetch") as pool:
            for future in [pool.submit(one, v) for v in wanted]:
                future.result()
        return {v: results[v] for v in wanted}

    def _scan_or_error(self, path: Path, only: MemberFilter | None) -> Wheel | InvalidWheel:
        try:
            return self.scan(path, only=only)
        except InvalidWheel as e:
            return e

    def read_many(
        self,
        name: str,
        versions: Iterable[Version],
        target: Target,
        *,
        only: MemberFilter | None = None,
        jobs: int = 4,
        on_done: Callable[[Version, Wheel | WheelguardError], None] | None = None,
    ) -> dict[Version, Wheel | WheelguardError]:
        """Obtain and scan several versions (``only``: just those members), each scanned as
        soon as it is there, so that downloads and parses overlap. A version's entry is its
        :class:`Wheel`, or the :class:`ProviderUnavailable` or
        :class:`~wheelguard.errors.InvalidWheel` that stopped it."""
        results: dict[Version, Wheel | WheelguardError] = {}

        def done(version: Version, outcome: Path | ProviderUnavailable) -> None:
            result: Wheel | WheelguardError = outcome if isinstance(
                outcome, ProviderUnavailable) else self._scan_or_error(outcome, only)
            results[version] = result
            if on_done is not None:
                on_done(version, result)

        self.obtain_many(name, versions, target, jobs=jobs, on_done=done)
        return {v: results[v] for v in sorted(results)}

    def _pip(self, args: list[str], watch: Callable[[str], str | None] | None = None
             ) -> Completed:
        cmd = [*self.pip, *args, "--disable-pip-version-check"]
        done = run_tool(cmd, timeout=self.timeout, watch=watch)
        if done.stopped is not None:  # the only watch is the size limit's
            raise ProviderTooLarge(done.stopped)
        if done.returncode is None:
            raise ProviderUnavailable(f"{' '.join(cmd[:4])}: {done.why()}")
        return done

    def _size_watch(self, line: str) -> str | None:
        """Stop pip when it announces a wheel over the size limit, before the bytes come.
        The announced size is rounded; the file's real size is checked again once saved."""
        m = _ANNOUNCED.match(line)
        if m is None:
            return None
        unit = _UNITS[m["unit"]]
        announced = float(m["size"]) * unit
        if announced - unit // 10 > self.max_wheel_size:
            return (f"{m['file']} is {m['size']} {m['unit']}, over the "
                    f"{format_bytes(self.max_wheel_size)} limit for provider wheels")
        return None

    def _target_args(self, target: Target) -> list[str]:
        args = ["--only-binary=:all:", "--python-version", target.python]
        for platform in target.platforms:
            args += ["--platform", platform]
        return args

    def _index_versions(self, name: str, target: Target) -> tuple[Version, ...]:
        proc = self._pip(["index", "versions", name, *self._target_args(target)])
        if proc.returncode != 0:
            if any(s in proc.stderr for s in _NO_MATCH):
                return ()
            raise ProviderUnavailable(f"pip index versions {name} failed: {proc.why()}")
        m = _AVAILABLE.search(proc.stdout)
        if m is None:
            return ()
        return tuple(Version(v.strip()) for v in m["versions"].split(",") if v.strip())

    def _download(self, name: str, version: Version, target: Target) -> None:
        cache = self.cache_path
        cache.mkdir(parents=True, exist_ok=True)
        # A temporary directory beside the cache: a failed or interrupted download never
        # leaves a partial wheel where the next run would read it.
        with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
            proc = self._pip(["download", f"{name}=={version}", "--no-deps", "--progress-bar",
                              "off", "-d", tmp, *self._target_args(target)],
                             watch=self._size_watch)
            got = sorted(Path(tmp).glob("*.whl"))
            if proc.returncode != 0 or not got:
                raise ProviderUnavailable(f"pip download {name}=={version} failed: {proc.why()}")
            for path in got:
                path.replace(cache / path.name)

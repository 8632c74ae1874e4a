"""What a wheel's platform tag promises, from auditwheel's policy data.

auditwheel ships the manylinux and musllinux policies (library whitelist and symbol-version
ceilings per tag) as JSON; it is the field's shared source of truth, so wheelguard reads it
through auditwheel instead of keeping a second copy. Only the data is used: auditwheel's own
analysis consults the host's libraries, which a hermetic audit must not. What auditwheel answers
is also kept as a snapshot (``data/platform-policies.json``, :mod:`~wheelguard.knowledge.snapshot`)
used while auditwheel's policy files and code are the ones it was taken from: importing
``auditwheel.policy`` and building its objects cost every audit about 40 ms.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from packaging.version import InvalidVersion, Version

from wheelguard.knowledge.snapshot import load_snapshot, source_bytes
from wheelguard.knowledge.tags import PlatformTag, parse_platform
from wheelguard.model import freeze_mapping

__all__ = ["AUDITWHEEL_SOURCES", "PlatformPolicy", "linux_platforms", "platform_policy",
           "snapshot_data", "split_symbol_version"]

SNAPSHOT = "platform-policies.json"
AUDITWHEEL_SOURCES = ("policy/manylinux-policy.json", "policy/musllinux-policy.json",
                      "policy/__init__.py", "architecture.py", "libc.py")
"""auditwheel's files the snapshot was taken from: the policy data and the code that reads it."""

_INTERPRETER = re.compile(
    r"^(ld-linux[-\w.]*\.so\.\d|ld64\.so\.\d|ld-musl-[\w]+\.so\.1|ld\.so\.1)$"
)


@dataclass(frozen=True, slots=True)
class PlatformPolicy:
    """The promise of the most restrictive platform tag of a wheel."""

    name: str
    """The tag the promise comes from, e.g. manylinux_2_27_x86_64; ``linux_x86_64`` for none."""
    arch: str | None
    whitelist: frozenset[str]
    symbol_versions: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: freeze_mapping({}))
    """Allowed versions per prefix (GLIBC, GLIBCXX, CXXABI, GCC ...); empty means no ceiling."""

    def allows_library(self, soname: str) -> bool:
        # The program interpreter is part of libc on every Linux platform; auditwheel's
        # lists leave it out because its lddtree skips the interpreter, not because it's banned.
        return soname in self.whitelist or bool(_INTERPRETER.match(soname))

    def too_new(self, version: str) -> tuple[str, str] | None:
        """For a required version such as GLIBC_2.34, the ceiling it breaks, else None."""
        prefix, ver = split_symbol_version(version)
        allowed = self.symbol_versions.get(prefix)
        if allowed is None or ver in allowed:
            return None
        return prefix, _highest(allowed)


def split_symbol_version(version: str) -> tuple[str, str]:
    prefix, _, ver = version.partition("_")
    return prefix, ver


def _highest(versions: Iterable[str]) -> str:
    def key(v: str) -> tuple[int, Version | str]:
        try:
            return (1, Version(v))
        except InvalidVersion:
            return (0, v)

    return max(versions, key=key)


def platform_policy(platforms: Iterable[str]) -> PlatformPolicy | None:
    """The strictest manylinux/musllinux promise among ``platforms``.

    ``linux_<arch>`` (a wheel not yet repaired) promises nothing, so it gets the broadest
    whitelist and no symbol ceilings; non-Linux platforms get ``None``.
    """
    best: tuple[tuple[int, int], PlatformPolicy] | None = None
    fallback: PlatformPolicy | None = None
    for raw in platforms:
        tag = parse_platform(raw)
        if tag.family == "linux" and tag.arch is not None:
            fallback = fallback or _broadest(tag.arch)
            continue
        if tag.family not in ("manylinux", "musllinux") or tag.level is None \
                or tag.arch is None:
            continue
        candidate = _tag_policy(tag)
        if candidate is not None and (best is None or tag.level < best[0]):
            best = (tag.level, candidate)
    if best is not None:
        return best[1]
    return fallback


def _tag_policy(tag: PlatformTag) -> PlatformPolicy | None:
    snap = _snapshot()
    if snap is not None and tag.arch is not None:
        found = snap["policies"].get(tag.name)
        return None if found is None else _from_json(tag.name, tag.arch, found)
    return _live_policy(tag)


def _live_policy(tag: PlatformTag) -> PlatformPolicy | None:
    """auditwheel's policy for one manylinux/musllinux tag, None if it has none."""
    from auditwheel.architecture import Architecture
    from auditwheel.libc import Libc
    from auditwheel.policy import WheelPolicies

    assert tag.arch is not None
    assert tag.level is not None
    arch, platform = tag.arch, tag.name
    try:
        architecture = Architecture(arch)
    except ValueError:
        return None
    libc = Libc.MUSL if tag.family == "musllinux" else Libc.GLIBC
    musl = f"musllinux_{tag.level[0]}_{tag.level[1]}" if libc is Libc.MUSL else None
    try:
        policies = WheelPolicies(libc=libc, arch=architecture, musl_policy=musl)
        pol = policies.get_policy_by_name(platform)
    except (AssertionError, LookupError, ValueError):  # auditwheel asserts on unknown musl
        return None
    if pol is None:
        return None
    return PlatformPolicy(
        name=platform,
        arch=arch,
        whitelist=frozenset(pol.whitelist),
        symbol_versions=freeze_mapping(
            {k: frozenset(v) for k, v in pol.symbol_versions.items()}),
    )


def _broadest(arch: str) -> PlatformPolicy | None:
    snap = _snapshot()
    if snap is not None and arch in snap["broadest"]:
        return PlatformPolicy(name=f"linux_{arch}", arch=arch,
                              whitelist=frozenset(snap["broadest"][arch]))
    return _live_broadest(arch)


def _live_broadest(arch: str) -> PlatformPolicy:
    from auditwheel.architecture import Architecture
    from auditwheel.libc import Libc
    from auditwheel.policy import WheelPolicies

    try:
        policies = WheelPolicies(libc=Libc.GLIBC, arch=Architecture(arch))
    except ValueError:
        return PlatformPolicy(name=f"linux_{arch}", arch=arch, whitelist=frozenset())
    newest = list(policies)[1]  # sorted by priority: [linux, newest glibc (broadest), ...]
    return PlatformPolicy(name=f"linux_{arch}", arch=arch, whitelist=frozenset(newest.whitelist))


def linux_platforms(arch: str, *, musl: bool = False) -> tuple[str, ...]:
    """Every platform tag auditwheel knows for ``arch`` and the libc, newest first, each followed
    by its legacy aliases, and ``linux_<arch>`` last.

    pip's ``--platform`` takes tags literally (``manylinux_2_28`` does not imply
    ``manylinux_2_17``), so asking which dependency wheels fit some system of a family means
    naming every tag of it; the linkage analysis does, in this order of preference.
    """
    snap = _snapshot()
    key = f"{arch}|{'musl' if musl else 'glibc'}"
    if snap is not None and key in snap["platforms"]:
        return tuple(snap["platforms"][key])
    return _live_platforms(arch, musl=musl)


def _live_platforms(arch: str, *, musl: bool) -> tuple[str, ...]:
    from auditwheel.architecture import Architecture
    from auditwheel.libc import Libc
    from auditwheel.policy import WheelPolicies

    try:
        architecture = Architecture(arch)
    except ValueError:
        return (f"linux_{arch}",)
    names: list[str] = []
    if musl:
        # auditwheel filters musl policies to one version, so ask for each in turn.
        for minor in range(9, -1, -1):
            try:
                pol = WheelPolicies(
                    libc=Libc.MUSL, arch=architecture, musl_policy=f"musllinux_1_{minor}"
                ).get_policy_by_name(f"musllinux_1_{minor}_{arch}")
            except (AssertionError, LookupError, ValueError):
                continue
            if pol is not None:
                names.append(pol.name)
    else:
        # PEP 600 tags exist for every glibc minor, not only those auditwheel has a policy for.
        aliases: dict[int, tuple[str, ...]] = {}
        for pol in WheelPolicies(libc=Libc.GLIBC, arch=architecture):
            tag = parse_platform(pol.name)
            if tag.family == "manylinux" and tag.level is not None:
                aliases[tag.level[1]] = tuple(pol.aliases)
        for minor in range(max(aliases, default=4), 4, -1):
            names.extend((f"manylinux_2_{minor}_{arch}", *aliases.get(minor, ())))
    return (*names, f"linux_{arch}")


# --- the snapshot ---------------------------------------------------------------------------

_LOADED: list[dict[str, Any] | None] = []
"""The snapshot, read once per process (it is constant data of the installed packages)."""


def _snapshot() -> dict[str, Any] | None:
    if not _LOADED:
        sources = source_bytes("auditwheel", *AUDITWHEEL_SOURCES)
        snap = load_snapshot(SNAPSHOT, sources) if sources is not None else None
        _LOADED.append(snap if snap is not None and {"policies", "broadest", "platforms"}
                       <= set(snap) else None)
    return _LOADED[0]


def _from_json(name: str, arch: str, raw: dict[str, Any]) -> PlatformPolicy:
    return PlatformPolicy(
        name=name, arch=arch, whitelist=frozenset(raw["whitelist"]),
        symbol_versions=freeze_mapping(
            {k: frozenset(v) for k, v in raw["symbol_versions"].items()}))


def snapshot_data() -> dict[str, Any]:
    """What auditwheel answers now, for every tag, architecture and libc it knows: the
    snapshot's content (ci/gen_snapshots.py writes it, a test compares it)."""
    from auditwheel.architecture import Architecture
    from auditwheel.libc import Libc
    from auditwheel.policy import WheelPolicies

    policies: dict[str, Any] = {}
    broadest: dict[str, list[str]] = {}
    platforms: dict[str, list[str]] = {}
    for architecture in Architecture:
        arch = architecture.value
        names = {n for p in WheelPolicies(libc=Libc.GLIBC, arch=architecture)
                 for n in (p.name, *p.aliases)}
        names |= {f"musllinux_1_{minor}_{arch}" for minor in range(10)}
        names |= {f"manylinux_2_{minor}_{arch}" for minor in range(5, 50)}
        for name in sorted(names):
            tag = parse_platform(name)
            if tag.family not in ("manylinux", "musllinux") or tag.level is None \
                    or tag.arch is None:
                continue
            pol = _live_policy(tag)
            if pol is not None:
                policies[name] = {"whitelist": sorted(pol.whitelist), "symbol_versions": {
                    k: sorted(v) for k, v in sorted(pol.symbol_versions.items())}}
        # What auditwheel cannot answer is left out: asked live, it fails as it always did.
        with contextlib.suppress(AssertionError, IndexError, LookupError, ValueError):
            broadest[arch] = sorted(_live_broadest(arch).whitelist)
        for musl in (False, True):
            with contextlib.suppress(AssertionError, IndexError, LookupError, ValueError):
                platforms[f"{arch}|{'musl' if musl else 'glibc'}"] = list(
                    _live_platforms(arch, musl=musl))
    return {"policies": policies, "broadest": broadest, "platforms": platforms}

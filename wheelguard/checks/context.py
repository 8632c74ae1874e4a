"""What a check may read: the scanned wheel and what it is judged against.

Kept apart from the registry so that reading a context (the policy, the plan, the reports)
never imports the checks themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from packaging.requirements import Requirement

from wheelguard.knowledge.manylinux import PlatformPolicy, platform_policy
from wheelguard.knowledge.providers import (
    KnownProvider,
    declared,
    known_providers,
    under_extras,
)
from wheelguard.loader.layout import Layout
from wheelguard.loader.reach import Reach, compute_reach
from wheelguard.loader.resolve import Resolution, resolve_binary, with_preloads
from wheelguard.model import ArchivePath, Finding, Wheel, freeze_mapping

if TYPE_CHECKING:
    from wheelguard.linkage.emulate import Linkage

__all__ = ["AuditContext", "Check", "make_context"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditContext:
    """Everything a check may read: the scanned wheel and what it is judged against."""

    wheel: Wheel
    layout: Layout
    platform: PlatformPolicy | None
    providers: tuple[KnownProvider, ...]
    requirements: Mapping[str, Requirement]
    """Requires-Dist in force on the target platform, by canonical name (extras off)."""
    all_requirements: Mapping[str, Requirement] = field(
        default_factory=lambda: freeze_mapping({}))
    """Every Requires-Dist, extras included, by canonical name."""
    size_budget: int | None = None
    """Most bytes the wheel file may take (compressed)."""
    installed_budget: int | None = None
    """Most bytes the installed members may take."""
    linkage: Linkage | None = None
    """Dependency wheels read and the loader emulated (``--wheelhouse``/``--download``); None
    keeps the audit hermetic and the WG7xx checks silent."""
    extras: Mapping[str, tuple[str, Requirement]] = field(
        default_factory=lambda: freeze_mapping({}))
    """Requires-Dist in force only with an extra, by canonical name: (extra, requirement)."""
    resolutions: Mapping[ArchivePath, tuple[Resolution, ...]] = field(
        default_factory=lambda: freeze_mapping({}))
    """How each NEEDED of each binary resolves, once (preloads by the wheel's own loaded
    libraries included)."""
    reach: Reach | None = None
    """Which binaries a process maps, and through which chain; None only for contexts built
    by hand."""


class Check(Protocol):
    def __call__(self, ctx: AuditContext) -> Iterable[Finding]: ...


def make_context(
    wheel: Wheel,
    *,
    size_budget: int | None = None,
    installed_budget: int | None = None,
    providers: tuple[KnownProvider, ...] | None = None,
    python: str | None = None,
) -> AuditContext:
    from packaging.utils import canonicalize_name

    layout = Layout.of(wheel)
    platform = platform_policy(wheel.platforms)
    known = known_providers() if providers is None else providers
    requirements = declared(wheel, python=python)
    extras = under_extras(wheel, python=python)
    resolved = {
        b.path: resolve_binary(layout, b, platform, known, requirements, own=str(wheel.name),
                               extras=extras)
        for b in wheel.binaries
    }
    reach = compute_reach(wheel, resolved, layout.files)
    loaded = reach.loaded_sonames(wheel.binaries)
    resolved = {p: with_preloads(r, loaded, str(wheel.name)) for p, r in resolved.items()}
    return AuditContext(
        wheel=wheel,
        layout=layout,
        platform=platform,
        providers=known,
        requirements=freeze_mapping(requirements),
        all_requirements=freeze_mapping(
            {canonicalize_name(r.name): r for r in wheel.requires_dist}),
        size_budget=size_budget,
        installed_budget=installed_budget,
        extras=freeze_mapping(extras),
        resolutions=freeze_mapping(resolved),
        reach=reach,
    )

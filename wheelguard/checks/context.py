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
from wheelguard.knowledge.providers import KnownProvider, declared, known_providers
from wheelguard.loader.layout import Layout
from wheelguard.model import Finding, Wheel, freeze_mapping

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

    return AuditContext(
        wheel=wheel,
        layout=Layout.of(wheel),
        platform=platform_policy(wheel.platforms),
        providers=known_providers() if providers is None else providers,
        requirements=freeze_mapping(declared(wheel, python=python)),
        all_requirements=freeze_mapping(
            {canonicalize_name(r.name): r for r in wheel.requires_dist}),
        size_budget=size_budget,
        installed_budget=installed_budget,
    )

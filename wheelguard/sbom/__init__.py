"""Bills of materials: what a wheel ships and where each native part comes from.

:func:`build_inventories` audits the wheels (with the linkage analysis when provider wheels
are given) and reads their vendored trees' version markers; :mod:`.cyclonedx` and
:mod:`.spdx` render the result with the formats' maintained libraries.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from wheelguard.sbom.inventory import WheelInventory, inventory, tree_versions
from wheelguard.sbom.summary import summarize_sbom

if TYPE_CHECKING:
    from wheelguard.linkage.fetch import ProviderLookup

__all__ = ["SbomFormat", "build_inventories", "render", "summarize_sbom"]

SbomFormat = Literal["cyclonedx", "spdx"]


def build_inventories(wheels: Sequence[str | Path], *, python: str | None = None,
                      providers: ProviderLookup | None = None) -> list[WheelInventory]:
    from wheelguard.audit import AuditOptions, audit_wheel
    from wheelguard.util.fs import file_sha256

    out = []
    for path in wheels:
        result = audit_wheel(path, AuditOptions(python=python, providers=providers))
        out.append(inventory(result, wheel_sha256=file_sha256(path),
                             versions=tree_versions(str(path), result.wheel)))
    return out


def render(inventories: Sequence[WheelInventory], fmt: SbomFormat) -> str:
    if fmt == "cyclonedx":
        from wheelguard.sbom.cyclonedx import render_cyclonedx

        return render_cyclonedx(inventories)
    from wheelguard.sbom.spdx import render_spdx

    return render_spdx(inventories)

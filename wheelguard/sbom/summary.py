"""One line about an SBOM file, for the release checklist that links it.

The report is given the path of a document ``wheelguard sbom`` wrote (CycloneDX or SPDX JSON)
and says what it covers without recomputing anything: how many native libraries by origin,
how many vendored trees and providers.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from wheelguard.errors import UsageError

__all__ = ["summarize_sbom"]

_ORIGINS = ("built", "vendored", "grafted", "provided")


def summarize_sbom(path: str | Path) -> str:
    try:
        doc: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not a readable SBOM ({e})") from None
    if doc.get("bomFormat") == "CycloneDX":
        origins: Counter[str] = Counter()
        trees = providers = 0
        for c in doc.get("components", []):
            props = {p["name"]: p["value"] for p in c.get("properties", [])}
            if c.get("description") == "vendored source tree":
                trees += 1
            elif props.get("wheelguard:path") and props.get("wheelguard:format"):
                origins[props.get("wheelguard:origin", "built")] += 1
            elif str(c.get("bom-ref", "")).startswith("pypi:"):
                providers += 1
        kind = f"CycloneDX {doc.get('specVersion', '?')}"
    elif str(doc.get("spdxVersion", "")).startswith("SPDX-"):
        origins = Counter()
        trees = providers = 0
        for p in doc.get("packages", []):
            info = str(p.get("sourceInfo", ""))
            if p.get("primaryPackagePurpose") == "SOURCE":
                trees += 1
            elif info.startswith("declared dependency"):
                providers += 1
            elif "packageFileName" in p and not p["packageFileName"].endswith(".whl") \
                    and not info.startswith("in the wheel of"):
                origins[_spdx_origin(info)] += 1
        kind = str(doc["spdxVersion"])
    else:
        raise UsageError(f"{path}: neither a CycloneDX nor an SPDX JSON document")
    libs = sum(origins.values())
    split = ", ".join(f"{origins[o]} {o}" for o in _ORIGINS if origins[o])
    return (f"{kind}: {libs} native libraries" + (f" ({split})" if split else "")
            + f", {trees} vendored trees, {providers} providers")


def _spdx_origin(info: str) -> str:
    if info.startswith("grafted"):
        return "grafted"
    if info.startswith("a copy"):
        return "provided"
    if info.startswith("built from the vendored"):
        return "vendored"
    return "built"

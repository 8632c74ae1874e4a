"""Which checks did not run and why, worded once for every output.

"No findings" from a check that never ran is the most dangerous line a report can print, so
every format states what was not checked, from :attr:`AuditResult.checked` and what the rules
table says each rule needs.
"""

from __future__ import annotations

from collections.abc import Iterable

from wheelguard.rules import RULES, Needs

__all__ = ["WHY_NOT", "code_list", "not_checked"]

WHY_NOT: dict[Needs | None, str] = {
    "linkage": "no dependency wheels (give --wheelhouse, --download or a saved audit JSON)",
    "size-budget": "no size budget (give --size-budget or [tool.wheelguard] size-budget)",
    "policy": "no policy (give --policy or [tool.wheelguard] policies)",
    None: "deselected (--select, --ignore or [tool.wheelguard] select/ignore)",
}
"""Why a rule did not run, by what it needs (None: it needs nothing, so it was deselected)."""


def not_checked(checked: Iterable[str], given: Iterable[Needs]
                ) -> dict[Needs | None, tuple[str, ...]]:
    """The rules outside ``checked``, grouped by why (keys of :data:`WHY_NOT`), in order."""
    ran, have = frozenset(checked), frozenset(given)
    out: dict[Needs | None, list[str]] = {}
    for code in sorted(RULES):
        if code not in ran:
            needs = RULES[code].needs
            # A rule that was given what it needs and still did not run was deselected.
            out.setdefault(None if needs in have else needs, []).append(code)
    return {k: tuple(v) for k, v in out.items()}


def code_list(codes: Iterable[str]) -> str:
    """``WG701-WG709, WG801``: consecutive codes as ranges, for one-line output."""
    nums = sorted(int(c[2:]) for c in codes)
    parts: list[str] = []
    start = prev = None
    for n in [*nums, None]:
        if start is not None and prev is not None and (n is None or n != prev + 1):
            parts.append(f"WG{start}" if start == prev else f"WG{start}-WG{prev}")
            start = None
        if n is not None:
            if start is None:
                start = n
            prev = n
    return ", ".join(parts)

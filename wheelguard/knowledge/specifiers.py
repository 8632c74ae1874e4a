"""Version ranges as people write them in ``Requires-Dist``: bounds, caps, tightening.

packaging answers "is this version in the set"; the repair and the linkage analysis need the
range's shape too (does it have an upper bound, what does it add to another range). One
module, so that "bounded" means the same thing to the plan that tightens a requirement and to
the check that asks a C++ consumer for a cap.
"""

from __future__ import annotations

from packaging.specifiers import Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = ["Bound", "bounds", "has_upper_bound", "tighten"]

Bound = tuple[Version, bool]
"""(version, inclusive)"""


def bounds(spec: SpecifierSet) -> tuple[Bound | None, Bound | None]:
    """The tightest lower and upper bound a specifier set states (``!=`` and ``===`` aside)."""
    lower: Bound | None = None
    upper: Bound | None = None

    def lo(b: Bound) -> None:
        nonlocal lower
        if lower is None or b[0] > lower[0] or (b[0] == lower[0] and not b[1]):
            lower = b

    def hi(b: Bound) -> None:
        nonlocal upper
        if upper is None or b[0] < upper[0] or (b[0] == upper[0] and not b[1]):
            upper = b

    for s in spec:
        op, text = s.operator, s.version
        try:
            if text.endswith(".*"):
                base = Version(text[:-2])
                if op == "==":
                    parts = list(base.release)
                    lo((base, True))
                    hi((Version(".".join(map(str, [*parts[:-1], parts[-1] + 1]))), False))
                continue
            v = Version(text)
        except InvalidVersion:
            continue
        if op == ">=":
            lo((v, True))
        elif op == ">":
            lo((v, False))
        elif op == "<=":
            hi((v, True))
        elif op == "<":
            hi((v, False))
        elif op == "==":
            lo((v, True))
            hi((v, True))
        elif op == "~=":
            parts = list(v.release)
            lo((v, True))
            if len(parts) >= 2:
                hi((Version(".".join(map(str, [*parts[:-2], parts[-2] + 1]))), False))
    return lower, upper


def has_upper_bound(spec: SpecifierSet) -> bool:
    return bounds(spec)[1] is not None or any(s.operator == "===" for s in spec)


def _implied(existing: SpecifierSet, s: Specifier) -> bool:
    if str(s) in {str(x) for x in existing}:
        return True
    lower, upper = bounds(existing)
    try:
        v = Version(s.version)
    except InvalidVersion:
        return False
    match s.operator:
        case ">=":
            return lower is not None and lower[0] >= v
        case ">":
            return lower is not None and (lower[0] > v or (lower[0] == v and not lower[1]))
        case "<=":
            return upper is not None and upper[0] <= v
        case "<":
            return upper is not None and (upper[0] < v or (upper[0] == v and not upper[1]))
    return False


def tighten(existing: SpecifierSet, wanted: SpecifierSet) -> SpecifierSet:
    """``existing`` plus each specifier of ``wanted`` it does not already imply.

    A fixpoint: tightening the result by the same ``wanted`` returns it unchanged. ValueError
    when no version can satisfy both.
    """
    added = [s for s in wanted if not _implied(existing, s)]
    result = SpecifierSet(",".join([*(str(s) for s in existing), *(str(s) for s in added)]))
    lower, upper = bounds(result)
    if lower is not None and upper is not None and (
        lower[0] > upper[0] or (lower[0] == upper[0] and not (lower[1] and upper[1]))
    ):
        msg = f"{existing or '(any)'} and {wanted} leave no version"
        raise ValueError(msg)
    return result

"""Version ranges as people write them in ``Requires-Dist``: bounds, caps, tightening, and
the range to propose from a verdict per version.

packaging answers "is this version in the set"; the repair and the linkage analysis need the
range's shape too (does it have an upper bound, what does it add to another range), and
``wheelguard advise`` needs the inverse question: given which versions work, which range
admits exactly the working ones, written the way a person writes it (``>=4.15,<4.16``, not a
list of exclusions). One module, so that "bounded" means the same thing to the plan that
tightens a requirement, to the check that asks a C++ consumer for a cap and to the advice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.version import InvalidVersion, Version

__all__ = [
    "Bound",
    "RangeProposal",
    "bounds",
    "has_upper_bound",
    "next_series",
    "propose_range",
    "simplest_between",
    "tighten",
]

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


# ---- proposing a range from verdicts ------------------------------------------------------


def simplest_between(after: Version, upto: Version) -> Version:
    """The shortest version ``p`` with ``after < p <= upto``, the way a person writes a bound:
    between 4.14.1.0 and 4.15.0.0 that is ``4.15``; between 0.1.12 and 0.1.13.post2 it is
    ``0.1.13``. Falls back to ``upto`` itself when no release prefix fits."""
    epoch = f"{upto.epoch}!" if upto.epoch else ""
    for k in range(1, len(upto.release) + 1):
        candidate = Version(epoch + ".".join(str(x) for x in upto.release[:k]))
        if after < candidate <= upto:
            return candidate
    return upto


def next_series(version: Version) -> Version:
    """The first version of the next patch series: 0.1.15.post2 -> 0.1.16, 4.15.4.0 ->
    4.15.5 (the cap tilelang writes for z3-solver)."""
    release = [*version.release, 0, 0][:3]
    release[-1] += 1
    epoch = f"{version.epoch}!" if version.epoch else ""
    return Version(epoch + ".".join(str(x) for x in release))


@dataclass(frozen=True, slots=True, kw_only=True)
class RangeProposal:
    """The range to declare, and why it has the shape it has."""

    specifier: str
    """Lower bound first, as a person writes it (``>=4.15,<4.16``); empty: any version."""
    contiguous: bool
    """No failing version lies between two working ones (unread versions aside)."""
    runs: tuple[tuple[Version, Version], ...]
    """Maximal runs of working versions (an unread or failing version ends a run)."""
    chosen: tuple[Version, Version]
    """The run the specifier admits."""
    kept: tuple[str, ...] = ()
    """Declared bounds kept because they lie beyond every version there is to judge."""
    capped: bool = False
    """An upper bound was added after the newest version (the caller asked for a cap)."""
    alternative: str | None = None
    """For a working set that is not contiguous: a range with ``!=`` exclusions that admits
    every working version (not proposed: the safe contiguous part is)."""


def _runs(versions: Sequence[Version], working: Collection[Version]
          ) -> list[tuple[Version, Version]]:
    runs: list[tuple[Version, Version]] = []
    start: Version | None = None
    prev: Version | None = None
    for v in versions:
        if v in working:
            start = v if start is None else start
            prev = v
        elif start is not None and prev is not None:
            runs.append((start, prev))
            start = None
    if start is not None and prev is not None:
        runs.append((start, prev))
    return runs


def _spelled(op: str, version: Version) -> str:
    return f"{op}{version}"


def _declared_bound(declared: SpecifierSet | None, upper: bool) -> str | None:
    if declared is None:
        return None
    bound = bounds(declared)[1 if upper else 0]
    if bound is None:
        return None
    version, inclusive = bound
    op = ("<=" if inclusive else "<") if upper else (">=" if inclusive else ">")
    return _spelled(op, version)


def propose_range(
    versions: Iterable[Version],
    working: Collection[Version],
    *,
    judged: Collection[Version] | None = None,
    declared: SpecifierSet | None = None,
    cap: bool = False,
) -> RangeProposal | None:
    """The widest contiguous range that admits working versions and no other version.

    ``versions`` are every version there is (judged or not); ``judged`` those with a verdict
    (default: all), ``working`` those that work. A version without a verdict is never
    admitted. When the working versions form several runs, the run with the most versions
    the declared range admits is chosen (then the longest, then the newest). Below the oldest
    and above the newest version there is nothing to judge: a declared bound there is kept,
    and ``cap`` adds ``<`` the next patch series above the newest (for a consumer of an
    unstable C++ ABI). None when no version works.
    """
    universe = sorted(set(versions))
    work = set(working) & set(universe)
    verdicts = set(universe if judged is None else judged) | work
    safe = _runs(universe, work)
    if not safe:
        return None
    evidence = _runs([v for v in universe if v in verdicts], work)

    def score(run: tuple[Version, Version]) -> tuple[int, int, Version]:
        members = [v for v in universe if run[0] <= v <= run[1]]
        admitted = sum(1 for v in members if declared is None or declared.contains(v, True))
        return admitted, len(members), run[1]

    lo, hi = max(safe, key=score)
    lower, low_kept = _lower(universe, lo, declared)
    upper, high_kept, capped = _upper(universe, hi, declared, cap)
    parts = [b for b in (lower, upper) if b is not None]
    kept = tuple(b for b, k in ((lower, low_kept), (upper, high_kept)) if b is not None and k)
    text = ",".join(parts)
    if not _admits_exactly(text, universe, [v for v in universe if lo <= v <= hi]):
        text = f">={lo},<={hi}"  # an odd version scheme: spell the run out
    alternative = None
    if len(evidence) > 1:
        first, last = evidence[0][0], evidence[-1][1]
        gaps = [v for v in universe if first < v < last and v not in work]
        if len(gaps) <= _MAX_EXCLUSIONS:
            ends = (_lower(universe, first, declared)[0], _upper(universe, last, declared, cap)[0])
            candidate = ",".join([*(b for b in ends[:1] if b), *(f"!={v}" for v in gaps),
                                  *(b for b in ends[1:] if b)])
            if _admits_exactly(candidate, universe,
                               [v for v in universe if first <= v <= last and v in work]):
                alternative = candidate
    return RangeProposal(
        specifier=text, contiguous=len(evidence) <= 1, runs=tuple(safe), chosen=(lo, hi),
        kept=kept, capped=capped, alternative=alternative,
    )


_MAX_EXCLUSIONS = 6
"""More ``!=`` than this is no longer a range a person would maintain."""


def _lower(universe: Sequence[Version], lo: Version, declared: SpecifierSet | None
           ) -> tuple[str | None, bool]:
    """The lower bound for a run starting at ``lo``: just above the version before it, else
    (nothing older to judge) the declared one if it admits ``lo``. (bound, kept)."""
    i = universe.index(lo)
    if i > 0:
        return _spelled(">=", simplest_between(universe[i - 1], lo)), False
    low = _declared_bound(declared, upper=False)
    if low is not None and SpecifierSet(low).contains(lo, True):
        return low, True
    return None, False


def _upper(universe: Sequence[Version], hi: Version, declared: SpecifierSet | None, cap: bool
           ) -> tuple[str | None, bool, bool]:
    """The upper bound for a run ending at ``hi``: up to the version after it, else (nothing
    newer to judge) the declared one if it admits ``hi``, else the cap if asked for.
    (bound, kept, capped)."""
    j = universe.index(hi)
    if j + 1 < len(universe):
        return _spelled("<", simplest_between(hi, universe[j + 1])), False, False
    high = _declared_bound(declared, upper=True)
    if high is not None and SpecifierSet(high).contains(hi, True):
        return high, True, False
    if cap:
        return _spelled("<", next_series(hi)), False, True
    return None, False, False


def _admits_exactly(text: str, universe: Sequence[Version], wanted: Sequence[Version]) -> bool:
    try:
        spec = SpecifierSet(text)
    except InvalidSpecifier:
        return False
    return {v for v in universe if spec.contains(v, True)} == set(wanted)

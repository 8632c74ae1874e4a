"""Cross-wheel linkage findings (WG7xx), from the facts :mod:`wheelguard.linkage.emulate` gathered.

These run only when the audit was given dependency wheels (``--wheelhouse``/``--download``);
without them ``ctx.linkage`` is None and the audit stays hermetic. Each function below reads
one kind of fact and words it; the analysis itself lives in :mod:`wheelguard.linkage.emulate`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from wheelguard.checks.context import AuditContext
from wheelguard.loader.resolve import driver_of
from wheelguard.model import (
    Finding,
    NeededSubject,
    ProviderSubject,
    Severity,
    WheelSubject,
)
from wheelguard.rules import RULES

if TYPE_CHECKING:
    # The analysis (and the provider fetching it imports) is loaded only by an audit that was
    # given dependency wheels: a hermetic audit does not pay for importing it.
    from wheelguard.linkage.emulate import Dependency, Linkage

__all__ = ["run"]

_EXAMPLES = 5


def run(ctx: AuditContext) -> Iterator[Finding]:
    linkage = ctx.linkage
    if linkage is None:
        return
    yield from _undeclared(linkage)
    yield from _soname_gaps(linkage)
    yield from _symbol_gaps(linkage)
    yield from _duplicates(linkage)
    yield from _unbounded(linkage)
    yield from _preloads(linkage)
    yield from _layout_breaks(linkage)
    yield from _verdict(linkage)
    yield from _unchecked(linkage)


def _undeclared(linkage: Linkage) -> Iterator[Finding]:
    seen: set[tuple[str, str]] = set()
    for lk in linkage.links:
        r = lk.resolution
        if (lk.layout not in linkage.shared_layouts or r.provider is None
                or (lk.binary, r.needed) in seen):
            continue
        dep = linkage.dependency(r.provider)
        if dep is None or dep.status == "declared":
            continue
        if r.kind not in ("dependency", "undeclared", "preload"):
            continue
        seen.add((lk.binary, r.needed))
        how = f"through {r.entry}" if r.entry else "only once it is loaded"
        if dep.status == "extra":
            what = f"declares {dep.name} only under the extra(s) {', '.join(dep.extras)}"
            hint = (f"Declare {dep.requirement.name if dep.requirement else dep.name} without "
                    "the extra marker, or load the library only when the extra is installed.")
        else:
            what = f"does not declare {dep.name}"
            hint = f"Add a Requires-Dist on {dep.name} with a version range."
        yield RULES["WG701"].finding(
            NeededSubject(binaries=(lk.binary,), needed=r.needed, provider=str(dep.name)),
            f"needs {r.needed}, found {how} in {dep.name} {r.version} ({r.path}); the wheel "
            f"{what}, so a plain install does not bring it",
            data={"needed": r.needed, "distribution": str(dep.name), "status": dep.status,
                  "extras": list(dep.extras), "entry": r.entry, "path": r.path,
                  "version": r.version},
            hint=hint,
        )


def _soname_gaps(linkage: Linkage) -> Iterator[Finding]:
    from wheelguard.linkage import facts

    for gap in facts.soname_gaps(linkage):
        dep, sample = gap.dependency, gap.sample
        ships = f"; it ships {', '.join(gap.ships)}" if gap.ships else ""
        yield RULES["WG702"].finding(
            NeededSubject(binaries=tuple(gap.binaries), needed=gap.needed,
                          provider=str(dep.name)),
            f"needs {gap.needed}, but {dep.name} {sample.label}, admitted by {dep.spec}, "
            f"does not ship it{ships}",
            data={"needed": gap.needed, "distribution": str(dep.name),
                  "version": str(sample.version), "roles": sorted(sample.roles),
                  "range": dep.spec, "binaries": list(gap.binaries), "ships": list(gap.ships)},
        )


def _symbol_gaps(linkage: Linkage) -> Iterator[Finding]:
    from wheelguard.linkage import facts

    for gap in facts.symbol_gaps(linkage):
        dep, sample = gap.dependency, gap.sample
        shown = ", ".join(gap.missing[:_EXAMPLES])
        more = f" and {len(gap.missing) - _EXAMPLES} more" if len(gap.missing) > _EXAMPLES else ""
        yield RULES["WG703"].finding(
            NeededSubject(binaries=(gap.binary,), needed=gap.needed, provider=str(dep.name)),
            f"imports {gap.imported} symbol(s) from {gap.needed}; {gap.library} of {dep.name} "
            f"{sample.label}, admitted by {dep.spec}, lacks {len(gap.missing)}: {shown}{more}",
            data={"needed": gap.needed, "distribution": str(dep.name),
                  "version": str(sample.version), "roles": sorted(sample.roles),
                  "range": dep.spec, "library": gap.library, "imported": gap.imported,
                  "missing": list(gap.missing)},
        )


def _duplicates(linkage: Linkage) -> Iterator[Finding]:
    from wheelguard.linkage import facts

    for dup in facts.duplicates(linkage):
        who = "; ".join(f"{d} {', '.join(v)}: {', '.join(p)}" for d, v, p in dup.owners)
        what = f"SONAME {dup.key}" if dup.kind == "soname" else f"the {dup.key}* C ABI"
        others = [d for d, _v, _p in dup.owners if d != str(linkage.wheel.name)]
        yield RULES["WG704"].finding(
            ProviderSubject(distribution=others[0] if others else dup.owners[0][0],
                            binaries=tuple(dup.wheel_paths),
                            library=dup.key if dup.kind == "soname" else None),
            f"{what} is provided by {len(dup.owners)} distributions of the install: {who}",
            data={"kind": dup.kind, "key": dup.key,
                  "owners": [{"distribution": d, "versions": list(v), "paths": list(p)}
                             for d, v, p in dup.owners]},
        )


def _unbounded(linkage: Linkage) -> Iterator[Finding]:
    from wheelguard.linkage import facts

    for imp in facts.unbounded_cxx(linkage):
        dep = imp.dependency
        yield RULES["WG705"].finding(
            ProviderSubject(distribution=str(dep.name), binaries=tuple(imp.binaries)),
            f"imports {len(imp.symbols)} mangled C++ symbol(s) from {dep.name} (e.g. "
            f"{', '.join(imp.symbols[:3])}) while declaring {dep.requirement} without an "
            "upper bound",
            data={"distribution": str(dep.name), "requirement": str(dep.requirement),
                  "binaries": list(imp.binaries), "count": len(imp.symbols),
                  "examples": list(imp.symbols[:_EXAMPLES])},
        )


def _preloads(linkage: Linkage) -> Iterator[Finding]:
    from wheelguard.linkage import facts

    apart = [lay.name for lay in linkage.layouts if not lay.shared]
    for pre in facts.preloads(linkage):
        top = pre.library.split("/", 1)[0]
        everywhere = pre.entry is None
        where = ("no RPATH/RUNPATH entry reaches it in any layout" if everywhere else
                 f"its entry {pre.entry} reaches it only in a shared site-packages; in the "
                 f"{', '.join(pre.layouts)} layout(s) no entry does")
        yield RULES["WG706"].finding(
            NeededSubject(binaries=(pre.binary,), needed=pre.needed, provider=pre.provider),
            f"needs {pre.needed}: {where}; it is found only when {pre.provider}'s "
            f"{pre.library} is already loaded (import {top} before loading this library)",
            data={"needed": pre.needed, "provider": pre.provider, "library": pre.library,
                  "import": top, "layouts": list(pre.layouts), "entry": pre.entry,
                  "every_layout": everywhere or set(pre.layouts) >= set(apart)},
        )


def _layout_breaks(linkage: Linkage) -> Iterator[Finding]:
    from wheelguard.linkage import facts

    for binary, needed, provider, layouts in facts.layout_breaks(linkage):
        yield RULES["WG707"].finding(
            NeededSubject(binaries=(binary,), needed=needed, provider=provider),
            f"needs {needed}, found in {provider} only while both share one site-packages; in "
            f"the {', '.join(layouts)} layout(s) neither an entry nor a loaded SONAME "
            "provides it",
            data={"needed": needed, "provider": provider, "layouts": list(layouts)},
        )


def _verdict(linkage: Linkage) -> Iterator[Finding]:
    from wheelguard.linkage import facts

    v = facts.verdict(linkage)
    if v is None:
        return
    counted = (", ".join(f"{n} from {d}" for n, d in v.provided)
               or "no declared provider supplies a needed library")
    oldest = v.oldest or f"none (linux_{linkage.platform.arch if linkage.platform else ''} only)"
    data = {"claimed": v.claimed, "holds": v.holds, "oldest": v.oldest,
            "provided": [{"library": n, "distribution": d} for n, d in v.provided],
            "outside": list(v.outside), "too_new": list(v.too_new)}
    if v.holds:
        yield RULES["WG708"].finding(
            WheelSubject(),
            f"{v.claimed} holds with the declared providers counted as present ({counted}); "
            f"oldest tag the wheel qualifies for: {oldest}",
            data=data, hint="",
        )
        return
    # Driver libraries are never whitelisted and never bundled (WG306), and a library whose
    # declared provider could not be read (WG709) was not judged: neither fails the verdict.
    unread = {n for d in linkage.dependencies
              if d.status == "declared" and (d.problem is not None or not d.checked)
              for n in _named(d)}
    blocking = [n for n in v.outside if driver_of(n) is None and n not in unread]
    if not blocking and not v.too_new:
        skipped = [n for n in v.outside if n in unread]
        drivers = [n for n in v.outside if driver_of(n) is not None]
        parts = ([f"{', '.join(skipped)} from declared providers that could not be checked "
                  "(WG709)"] if skipped else [])
        parts += [f"{', '.join(drivers)} from the GPU driver"] if drivers else []
        yield RULES["WG708"].finding(
            WheelSubject(),
            f"{v.claimed} holds for everything that could be checked ({counted}); not "
            f"judged: {'; '.join(parts)}",
            data={**data, "unchecked": skipped, "drivers": drivers}, hint="",
        )
        return
    why = []
    if blocking:
        why.append(f"needs {', '.join(blocking)}, outside its whitelist")
    if v.too_new:
        why.append(f"requires {', '.join(v.too_new)}, above its ceiling")
    yield RULES["WG708"].finding(
        WheelSubject(),
        f"{v.claimed} does not hold even with the declared providers counted as present "
        f"({counted}): {'; '.join(why)}; oldest tag the wheel qualifies for: {oldest}",
        data=data, severity=Severity.ERROR,
    )


def _named(dep: Dependency) -> set[str]:
    """The libraries a dependency was expected to provide."""
    names = set(dep.known.sonames) if dep.known is not None else set()
    names.update(r.removeprefix("provides ") for r in dep.reasons if r.startswith("provides "))
    return names


def _unchecked(linkage: Linkage) -> Iterator[Finding]:
    for dep in linkage.dependencies:
        if dep.problem is None and dep.checked:
            continue
        reason = dep.problem or "no admitted version could be read"
        yield RULES["WG709"].finding(
            ProviderSubject(distribution=str(dep.name)),
            f"{dep.name} ({dep.spec}; {', '.join(dep.reasons)}) was not checked: {reason}",
            data={"distribution": str(dep.name), "status": dep.status, "range": dep.spec,
                  "reasons": list(dep.reasons), "problem": reason},
        )

"""One runtime, loaded once: copies of a library inside a wheel and against its dependencies.

One principle for every kind of copy (one SONAME, one content, one build-id, or two libraries
each carrying a runtime's C ABI): it is an error when the copies can be mapped into one
process, shown with the chain that loads each, and a warning for wasted space when they
cannot meet. Whether they meet is the loader's rule (FIELD.md), applied to the requests
:mod:`wheelguard.loader.reach` finds from every extension module, executable and library the
package opens itself: a NEEDED is satisfied by an already loaded object whose SONAME (or
requested name) it matches, so byte-identical copies under one SONAME collapse into one,
while a file opened by path is compared by file and loads a second time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.names import loader_name
from wheelguard.knowledge.providers import KnownProvider, find_requirement, providers_for_soname
from wheelguard.loader.reach import Reach
from wheelguard.model import ArchivePath, Binary, CopiesSubject, Finding, MemberSubject, Severity
from wheelguard.rules import RULES

__all__ = ["run"]


@dataclass(frozen=True, slots=True)
class _Request:
    """One way a file gets mapped: opened by path (``name`` None) or as a NEEDED name."""

    target: ArchivePath
    name: str | None
    source: ArchivePath | None


def run(ctx: AuditContext) -> Iterator[Finding]:
    binaries = list(ctx.wheel.iter_binaries())
    if ctx.reach is None:
        return
    requests = _requests(ctx.reach, binaries)
    reported: set[frozenset[str]] = set()
    sha = {m.path: m.sha256 for m in ctx.wheel.members}
    # SONAME and build-id are ELF notions; Mach-O install names and UUIDs, and DLL names, are
    # judged with their own loader's rules in checks/macos.py and checks/windows.py.
    groupings: tuple[tuple[str, Callable[[Binary], Hashable | None]], ...] = (
        ("soname", lambda b: b.soname if b.format == "elf" else None),
        ("content", lambda b: sha[b.path]),
        ("build-id", lambda b: b.build_id if b.format == "elf" else None),
    )
    for kind, key_of in groupings:
        for key, group in _groups(binaries, key_of):
            paths = frozenset(b.path for b in group)
            if any(paths <= seen for seen in reported):
                continue
            reported.add(paths)
            yield _copies(ctx, kind=kind, key=str(key), group=group, requests=requests, sha=sha)
    yield from _provider_duplicates(ctx, binaries, requests, sha)


def _groups(
    binaries: list[Binary], key_of: Callable[[Binary], Hashable | None]
) -> Iterator[tuple[Hashable, list[Binary]]]:
    groups: dict[Hashable, list[Binary]] = defaultdict(list)
    for b in binaries:
        key = key_of(b)
        if key is not None:
            groups[key].append(b)
    for key, group in sorted(groups.items(), key=lambda kv: str(kv[0])):
        if len(group) > 1:
            yield key, group


def _requests(reach: Reach, binaries: list[Binary]) -> dict[ArchivePath, list[_Request]]:
    """Every way the wheel's files get mapped into a Python process: opened by path
    (files the package opens by name), as an import (extension modules), or by a NEEDED name
    (in the wheel, or, for a library wheel, by its consumers under the library's SONAME)."""
    sonames = {b.path: b.soname for b in binaries}
    exports = {b.path: b.exported for b in binaries}
    out: dict[ArchivePath, list[_Request]] = defaultdict(list)
    for root in reach.roots.values():
        if root.kind == "executable" or reach.of(root.path) == "unloaded":
            continue
        if root.kind == "extension":
            # Python imports one module per name: two copies of one extension module (same
            # PyInit_ name) are one import, whichever is found first on sys.path.
            init = next((x for x in sorted(exports[root.path]) if "PyInit_" in x), None)
            out[root.path].append(_Request(root.path, f"module:{init}", None))
        elif root.by_path:
            out[root.path].append(_Request(root.path, None, None))
        elif root.kind == "library-wheel" and sonames[root.path]:
            # Its consumers link against it under its SONAME (without one, under whichever
            # file name their build saw: nothing to say they use two).
            out[root.path].append(_Request(root.path, sonames[root.path], None))
    for edge in reach.edges:
        out[edge.target].append(_Request(edge.target, edge.needed, edge.source))
    return out


def _meeting(
    group: Sequence[Binary], requests: dict[ArchivePath, list[_Request]], reach: Reach
) -> tuple[str, Binary, Binary] | None:
    """How two files of ``group`` meet in one process: ``"both"`` (both mapped) or
    ``"substituted"`` (a request for one is served by the other, already loaded). Files that
    only alternative roots reach (one conditional picks which) never meet."""
    by_path = {b.path: b for b in group}
    found: tuple[str, Binary, Binary] | None = None
    for first in group:
        for r1 in requests.get(first.path, ()):
            for second in group:
                if second.path == first.path or not reach.together(first.path, second.path):
                    continue
                for r2 in requests.get(second.path, ()):
                    absorbed = r2.name is not None and (
                        r2.name == first.soname or (r1.name is not None and r2.name == r1.name))
                    if not absorbed:
                        return "both", by_path[first.path], by_path[second.path]
                    found = found or ("substituted", first, second)
    return found


def _copies(
    ctx: AuditContext,
    *,
    kind: str,
    key: str,
    group: list[Binary],
    requests: dict[ArchivePath, list[_Request]],
    sha: dict[ArchivePath, str],
) -> Finding:
    assert ctx.reach is not None
    paths = sorted(b.path for b in group)
    identical = len({sha[p] for p in paths}) == 1
    label = {"soname": f"SONAME {key}", "content": "identical content",
             "build-id": f"build-id {key}"}[kind]
    names = [n for b in group for n in (b.name, b.path.rsplit("/", 1)[-1])]
    if kind == "soname":
        names.insert(0, key)
    subject = CopiesSubject(members=tuple(paths), names=tuple(dict.fromkeys(names)))
    data: dict[str, object] = {"paths": paths, "key": key, "identical": identical,
                               "loaded": {p: ctx.reach.describe(p) for p in paths}}
    meet = _meeting(group, requests, ctx.reach)
    if meet is not None and not (identical and meet[0] == "substituted"):
        how, one, two = meet
        data["meets"] = how
        if how == "both":
            what = "both can be mapped into one process"
        else:
            what = ("the loader maps only the first one loaded, which then serves the users of "
                    "the other build too")
        code = "WG101" if kind == "soname" else "WG103"
        return RULES[code].finding(
            subject,
            f"{label} at {len(paths)} paths: {', '.join(paths)}; {what}: {one.path} is loaded "
            f"{ctx.reach.describe(one.path)}; {two.path} {ctx.reach.describe(two.path)}",
            data=data,
        )
    if identical:
        why = ("the loader maps only one of them (one SONAME)" if kind == "soname" or
               (len({b.soname for b in group}) == 1 and group[0].soname)
               else "nothing loads more than one of them")
        return RULES["WG102"].finding(
            subject,
            f"identical content at {len(paths)} paths: {', '.join(paths)}; {why}: wasted space",
            data=data,
        )
    loaded = [p for p in paths if ctx.reach.of(p) != "unloaded"]
    why = (f"only {loaded[0]} is loaded by anything in the wheel" if len(loaded) == 1
           else "nothing in the wheel loads them" if not loaded
           else "the loader never maps two of them into one process")
    return RULES["WG106"].finding(
        subject,
        f"{label} at {len(paths)} paths: {', '.join(paths)}, different builds; {why} "
        "(alternatives opened one at a time, or unused)",
        data=data,
    )


def _provider_duplicates(
    ctx: AuditContext,
    binaries: list[Binary],
    requests: dict[ArchivePath, list[_Request]],
    sha: dict[ArchivePath, str],
) -> Iterator[Finding]:
    """Libraries a required distribution provides, bundled or re-implemented in the wheel."""
    assert ctx.reach is not None
    own = canonicalize_name(str(ctx.wheel.name))
    others = tuple(p for p in ctx.providers if p.distribution != own)
    for b in binaries:
        base = b.path.rsplit("/", 1)[-1]
        names = list(dict.fromkeys(n for n in (b.soname, base) if n))
        yield from _bundled(ctx, b, names, others)
    for p in ctx.providers:
        if p.abi_prefixes:  # one pass per runtime: abi_exports does not depend on the prefix
            yield from _embedded_abi(ctx, binaries=binaries, provider=p, own=own,
                                     requests=requests, sha=sha)


def _bundled(
    ctx: AuditContext, b: Binary, names: list[str], others: tuple[KnownProvider, ...]
) -> Iterator[Finding]:
    assert ctx.reach is not None
    state = ctx.reach.of(b.path)
    for name in names:
        exact = [p for p in providers_for_soname(name, others)
                 if find_requirement(ctx.all_requirements, p) is not None]
        original = loader_name(name)
        grafted = [] if original == name else [
            p for p in providers_for_soname(original, others)
            if find_requirement(ctx.all_requirements, p) is not None]
        if not exact and not grafted:
            continue
        provider = (exact or grafted)[0]
        req = find_requirement(ctx.all_requirements, provider)
        assert req is not None
        data = {"library": b.name, "provider": provider.distribution, "requirement": str(req),
                "loaded": ctx.reach.describe(b.path)}
        subject = MemberSubject(path=b.path, library=b.name,
                                provider=canonicalize_name(req.name))
        if exact:
            severity = Severity.ERROR if state != "unloaded" else Severity.WARNING
            yield RULES["WG105"].finding(
                subject,
                f"bundles {name} while METADATA requires {req}, whose "
                f"{provider.distribution} {provider.version or ''} ships it under that name: "
                "whichever copy is loaded first serves both the wheel and the dependency "
                f"({b.path} is loaded {ctx.reach.describe(b.path)})",
                data=data, severity=severity,
            )
        elif provider.abi_prefixes and state != "unloaded":
            yield RULES["WG105"].finding(
                subject,
                f"bundles {name}, a renamed copy of {original}, while METADATA requires {req}, "
                f"which ships that runtime: two copies of it in one process ({b.path} is "
                f"loaded {ctx.reach.describe(b.path)})",
                data=data,
            )
        else:
            yield RULES["WG105"].finding(
                subject,
                f"bundles {name}, a private copy of {original}, which the required {req} "
                "ships too: wasted space (the renamed copies do not clash)",
                data=data, severity=Severity.WARNING,
            )
        return


def _embedded_abi(
    ctx: AuditContext,
    *,
    binaries: list[Binary],
    provider: KnownProvider,
    own: str,
    requests: dict[ArchivePath, list[_Request]],
    sha: dict[ArchivePath, str],
) -> Iterator[Finding]:
    """Libraries each carrying the runtime's C ABI: two runtimes when two of them, or one and
    the required distribution's, are in one process. The runtime's own library (or a renamed
    copy of it, WG105's business) is a carrier the others are compared with."""
    assert ctx.reach is not None
    prefix = provider.abi_prefixes[0]
    carriers = [b for b in binaries if provider.abi_exports(b)]
    runtime = {b.path for b in carriers if provider.provides(loader_name(b.name))}
    req = None if own == provider.distribution else find_requirement(ctx.all_requirements,
                                                                      provider)
    apart: list[Binary] = []
    for b in carriers:
        if b.path in runtime:
            continue
        symbols = provider.abi_exports(b)
        others = [o for o in carriers if o.path != b.path and sha[o.path] != sha[b.path]]
        met = next((o for o in others if _meeting([b, o], requests, ctx.reach) is not None),
                   None)
        state = ctx.reach.of(b.path)
        if met is not None:
            where = f"{met.path} in this wheel (loaded {ctx.reach.describe(met.path)})"
            severity = Severity.ERROR
        elif req is not None:
            where = f"the required distribution {req}"
            severity = Severity.ERROR if state != "unloaded" else Severity.WARNING
        else:
            apart.append(b)
            continue
        yield RULES["WG104"].finding(
            MemberSubject(path=b.path, library=b.name, provider=provider.distribution),
            f"exports {len(symbols)} {prefix}* symbols (e.g. {symbols[0]}) while {where} "
            f"provides that runtime; {b.path} is loaded {ctx.reach.describe(b.path)}",
            data={"prefix": prefix, "count": len(symbols), "examples": list(symbols[:5]),
                  "provider": provider.distribution, "loaded": ctx.reach.describe(b.path)},
            severity=severity,
        )
    if apart and len(carriers) > 1:
        paths = sorted({*(b.path for b in apart), *runtime})
        yield RULES["WG106"].finding(
            CopiesSubject(members=tuple(paths), names=(f"{prefix}*",)),
            f"the {prefix}* runtime is carried by {len(paths)} libraries: {', '.join(paths)}; "
            "the loader never maps two of them into one process (alternatives, or unused)",
            data={"paths": paths, "prefix": prefix,
                  "loaded": {p: ctx.reach.describe(p) for p in paths}},
        )

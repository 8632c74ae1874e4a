"""One runtime, loaded once: duplicate libraries inside a wheel and against its dependencies."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator

from packaging.utils import canonicalize_name

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.names import loader_name
from wheelguard.knowledge.providers import (
    KnownProvider,
    find_requirement,
    provider_for_soname,
)
from wheelguard.model import Binary, CopiesSubject, Finding, MemberSubject
from wheelguard.rules import RULES

__all__ = ["run"]


def run(ctx: AuditContext) -> Iterator[Finding]:
    binaries = list(ctx.wheel.iter_binaries())
    reported: set[frozenset[str]] = set()
    sha = {m.path: m.sha256 for m in ctx.wheel.members}
    # SONAME and build-id are ELF notions; Mach-O install names and UUIDs, and DLL names, are
    # judged with their own loader's rules in checks/macos.py and checks/windows.py.
    groupings: tuple[tuple[str, Callable[[Binary], Hashable | None], str], ...] = (
        ("WG101", lambda b: b.soname if b.format == "elf" else None, "SONAME {key}"),
        ("WG102", lambda b: sha[b.path], "identical content"),
        ("WG103", lambda b: b.build_id if b.format == "elf" else None, "build-id {key}"),
    )
    for code, key_of, label in groupings:
        for key, group in _groups(binaries, key_of):
            paths = frozenset(b.path for b in group)
            if any(paths <= seen for seen in reported):
                continue
            reported.add(paths)
            names = [n for b in group for n in (b.name, b.path.rsplit("/", 1)[-1])]
            if code == "WG101":
                names.insert(0, str(key))
            yield RULES[code].finding(
                CopiesSubject(members=tuple(sorted(paths)), names=tuple(dict.fromkeys(names))),
                f"{label.format(key=key)} at {len(paths)} paths: {', '.join(sorted(paths))}",
                data={"paths": sorted(paths), "key": str(key)},
            )
    yield from _provider_duplicates(ctx, binaries)


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


def _provider_duplicates(ctx: AuditContext, binaries: list[Binary]) -> Iterator[Finding]:
    """Libraries a required distribution provides, bundled or re-implemented in the wheel."""
    bundled: dict[str, list[Binary]] = defaultdict(list)
    for b in binaries:
        # A grafted copy (auditwheel's libtvm_ffi-1a2b3c4d.so) is the usual duplicate.
        provider = provider_for_soname(loader_name(b.name), ctx.providers)
        if provider is None:
            continue
        bundled[provider.distribution].append(b)
        req = find_requirement(ctx.all_requirements, provider)
        if req is not None:
            yield RULES["WG105"].finding(
                MemberSubject(path=b.path, library=b.name,
                              provider=canonicalize_name(req.name)),
                f"bundles {b.name} while METADATA requires {req}, which provides it: "
                "two copies can be mapped into one process",
                data={"library": b.name, "provider": str(req.name), "requirement": str(req)},
            )
    for p in ctx.providers:
        if p.abi_prefixes:  # one pass per runtime: abi_exports does not depend on the prefix
            yield from _embedded_abi(ctx, binaries, p, p.abi_prefixes[0],
                                     bundled.get(p.distribution, []))


def _embedded_abi(
    ctx: AuditContext,
    binaries: list[Binary],
    provider: KnownProvider,
    prefix: str,
    real: list[Binary],
) -> Iterator[Finding]:
    req = find_requirement(ctx.all_requirements, provider)
    for b in binaries:
        if provider.provides(loader_name(b.name)):
            continue
        symbols = provider.abi_exports(b)
        if not symbols:
            continue
        if real:
            where = f"{real[0].path} in this wheel"
        elif req is not None:
            where = f"the required distribution {req}"
        else:
            continue
        yield RULES["WG104"].finding(
            MemberSubject(path=b.path, library=b.name, provider=provider.distribution),
            f"exports {len(symbols)} {prefix}* symbols (e.g. {symbols[0]}) while "
            f"{where} provides that runtime",
            data={"prefix": prefix, "count": len(symbols), "examples": list(symbols[:5]),
                  "provider": provider.distribution},
        )

"""Will the loader find every DT_NEEDED, and do the symbol versions fit the platform tag."""

from __future__ import annotations

from collections.abc import Iterator

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.manylinux import PlatformPolicy
from wheelguard.loader.resolve import resolve_binary
from wheelguard.model import Binary, Finding, MemberSubject, NeededSubject
from wheelguard.rules import RULES

__all__ = ["run"]


def run(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.platform is None:
        return  # macOS/Windows: no whitelist to judge against (delocate/delvewheel's domain)
    for binary in ctx.wheel.iter_binaries("elf"):
        for res in resolve_binary(
            ctx.layout, binary, ctx.platform, ctx.providers, ctx.requirements
        ):
            if res.kind == "unresolved":
                yield RULES["WG301"].finding(
                    NeededSubject(binaries=(binary.path,), needed=res.needed),
                    f"needs {res.needed}: not in the wheel through "
                    f"{binary.search_path_tag} "
                    f"{list(binary.search_path)}, not allowed by {ctx.platform.name}, and no "
                    "declared dependency provides it",
                    data={"needed": res.needed, "search_path": list(binary.search_path),
                          "platform": ctx.platform.name},
                )
            elif res.kind == "undeclared":
                yield RULES["WG301"].finding(
                    NeededSubject(binaries=(binary.path,), needed=res.needed,
                                  provider=res.provider),
                    f"needs {res.needed}, which {res.provider} provides, but the wheel does not "
                    "declare that dependency",
                    data={"needed": res.needed, "provider": res.provider,
                          "platform": ctx.platform.name},
                    hint=f"Add a Requires-Dist on {res.provider} (with a version range).",
                )
        yield from _symbol_versions(ctx.platform, binary)


def _symbol_versions(platform: PlatformPolicy, binary: Binary) -> Iterator[Finding]:
    """One finding per version prefix, naming the highest version required above the ceiling."""
    worst: dict[str, tuple[str, str]] = {}
    for need in binary.version_needs:
        broken = platform.too_new(need.version)
        if broken is None:
            continue
        prefix, ceiling = broken
        if prefix not in worst or _key(need.version) > _key(worst[prefix][0]):
            worst[prefix] = (need.version, ceiling)
    for prefix, (version, ceiling) in sorted(worst.items()):
        yield RULES["WG302"].finding(
            MemberSubject(path=binary.path, library=binary.name),
            f"requires {version}, above the {prefix} ceiling {ceiling} of {platform.name}",
            data={"version": version, "ceiling": f"{prefix}_{ceiling}",
                  "platform": platform.name},
        )


def _key(version: str) -> tuple[int, ...]:
    tail = version.partition("_")[2]
    return tuple(int(p) if p.isdigit() else -1 for p in tail.split("."))

"""Will the loader find every DT_NEEDED, and do the symbol versions fit the platform tag.

How much a library the loader will not find hurts depends on what loads the binary that
needs it (:mod:`wheelguard.loader.reach`): in a module the package imports, ``import`` fails
(WG301, error); in a module imported only under ``try/except`` or a plugin nothing in the
wheel loads, one optional feature fails (WG307, warning). What comes with the GPU driver is
reported as a run-time requirement (WG306), never as something to bundle; what the package's
own libraries satisfy once loaded is noted with the chain (WG308); what a distribution
declared only under an extra provides is a warning (WG309).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.manylinux import PlatformPolicy
from wheelguard.loader.reach import Reach
from wheelguard.loader.resolve import Resolution
from wheelguard.model import ArchivePath, Binary, Finding, MemberSubject, NeededSubject
from wheelguard.rules import RULES

__all__ = ["run"]


def run(ctx: AuditContext) -> Iterator[Finding]:
    if ctx.platform is None or ctx.reach is None:
        return  # macOS/Windows: no whitelist to judge against (delocate/delvewheel's domain)
    drivers: dict[tuple[str, str], list[ArchivePath]] = defaultdict(list)
    for binary in ctx.wheel.iter_binaries("elf"):
        for res in ctx.resolutions.get(binary.path, ()):
            if res.kind == "driver":
                drivers[(res.needed, res.provider or "GPU")].append(binary.path)
            else:
                yield from _judge(ctx.platform, ctx.reach, binary, res)
        yield from _symbol_versions(ctx.platform, binary)
    for (needed, driver), paths in sorted(drivers.items()):
        shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        yield RULES["WG306"].finding(
            NeededSubject(binaries=tuple(paths), needed=needed),
            f"{shown} need{'s' if len(paths) == 1 else ''} {needed}, which the {driver} "
            "driver installs: a machine without the driver cannot load "
            f"{'it' if len(paths) == 1 else 'them'}",
            data={"needed": needed, "driver": driver, "binaries": paths},
        )


def _judge(
    platform: PlatformPolicy, reach: Reach, binary: Binary, res: Resolution
) -> Iterator[Finding]:
    state = reach.of(binary.path)
    how = reach.describe(binary.path)
    data: dict[str, object] = {"needed": res.needed, "platform": platform.name,
                               "loaded": state, "how": how}
    subject = NeededSubject(binaries=(binary.path,), needed=res.needed, provider=res.provider)
    match res.kind:
        case "unresolved" | "undeclared":
            if res.kind == "unresolved":
                what = (f"needs {res.needed}: not in the wheel through {binary.search_path_tag} "
                        f"{list(binary.search_path)}, not allowed by {platform.name}, and no "
                        "declared dependency provides it")
                hint = None
                data["search_path"] = list(binary.search_path)
            else:
                what = (f"needs {res.needed}, which {res.provider} provides, but the wheel does "
                        "not declare that dependency")
                hint = f"Add a Requires-Dist on {res.provider} (with a version range)."
                data["provider"] = res.provider
            if state == "import":
                yield RULES["WG301"].finding(subject, f"{what}; it is loaded {how}",
                                             data=data, hint=hint)
            else:
                yield RULES["WG307"].finding(
                    subject, f"{what}; only an optional feature fails: it is loaded {how}",
                    data=data, hint=hint)
        case "extra":
            data["provider"] = res.provider
            data["requirement"] = res.requirement
            yield RULES["WG309"].finding(
                subject,
                f"needs {res.needed}, which {res.provider} provides, declared only as "
                f"{res.requirement}: without that extra the library must come from the system",
                data=data,
            )
        case "preload":
            data["path"] = res.path
            yield RULES["WG308"].finding(
                subject,
                f"needs {res.needed}, found only because {res.path} of this wheel, which has "
                "that SONAME, is loaded first (its search path does not reach it); "
                f"{binary.path} is loaded {how}",
                data=data,
            )
        case _:
            return


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

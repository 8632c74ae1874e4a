"""Which manylinux tag a ``linux_*`` wheel earns, and the file name and WHEEL tags that say so.

A wheel built on a Linux machine is tagged ``linux_<arch>``, which the package index refuses:
the tag promises nothing about the system libraries it needs. auditwheel retags such a wheel to
the oldest manylinux policy its binaries satisfy; ``wheelguard repair`` does the same under a
``retag`` rule, judged hermetically from auditwheel's policy data: every library the loader
would take from the system must be on that tag's whitelist, and every symbol version a binary
requires must be within that tag's ceiling. Libraries found in the wheel, provided by a
declared dependency or by the GPU driver do not count against a tag.

Pure: it reads the audit context and returns values; :mod:`wheelguard.repair.write` renames
the output and rewrites WHEEL's ``Tag`` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.manylinux import linux_platforms, platform_policy
from wheelguard.knowledge.tags import parse_platform
from wheelguard.loader.resolve import resolve_binary

__all__ = ["TagEdit", "qualify", "retag_filename", "retag_wheel_file"]


@dataclass(frozen=True, slots=True)
class TagEdit:
    """``linux_*`` platform tags replaced by a manylinux tag (and its legacy aliases)."""

    old: tuple[str, ...]
    new: tuple[str, ...]
    filename: str
    """The output wheel's file name with the new platform tags."""


def qualify(ctx: AuditContext) -> tuple[tuple[str, ...] | None, str]:
    """The oldest manylinux tag (with its aliases) the wheel's ELF binaries satisfy, and why
    (or why none does)."""
    linux = sorted({t.arch for t in map(parse_platform, ctx.wheel.platforms)
                    if t.family == "linux" and t.arch is not None})
    if len(linux) != 1:
        return None, "the wheel has no single linux_<arch> tag"
    arch = linux[0]
    system: set[str] = set()
    for b in ctx.wheel.iter_binaries("elf"):
        resolutions = ctx.resolutions.get(b.path) or resolve_binary(
            ctx.layout, b, ctx.platform, ctx.providers, ctx.requirements)
        for r in resolutions:
            if r.kind == "unresolved":
                return None, f"{b.path} needs {r.needed}, which nothing provides"
            if r.kind == "platform":
                system.add(r.needed)
    needs = [v for b in ctx.wheel.iter_binaries("elf") for v in b.version_needs]
    names = linux_platforms(arch)
    for name in reversed(names):  # oldest first
        if not name.startswith("manylinux_"):
            continue
        policy = platform_policy([name])
        if policy is None or policy.name != name:
            continue
        if all(policy.allows_library(n) for n in system) and all(
                policy.too_new(v.version) is None for v in needs):
            aliases: list[str] = []
            for alias in names[names.index(name) + 1:]:  # each tag is followed by its aliases
                if alias.startswith(("manylinux_", "linux_")):
                    break
                aliases.append(alias)
            return (name, *aliases), f"its binaries satisfy {name}"
    outside = sorted(n for n in system
                     if (p := platform_policy([names[0]])) is None or not p.allows_library(n))
    why = f"needs {', '.join(outside)}" if outside else "requires symbol versions above every"
    return None, f"no manylinux tag fits: it {why} manylinux policy allows"


def retag_filename(filename: str, old: tuple[str, ...], new: tuple[str, ...]) -> str:
    """``filename`` with the platform part's ``old`` tags replaced by ``new``."""
    stem = filename.removesuffix(".whl")
    head, platforms = stem.rsplit("-", 1)
    kept = [p for p in platforms.split(".") if p not in old]
    return f"{head}-{'.'.join(dict.fromkeys([*new, *kept]))}.whl"


_TAG_LINE = re.compile(r"^Tag:\s*(?P<tag>\S+)\s*$")


def retag_wheel_file(text: str, old: tuple[str, ...], new: tuple[str, ...]) -> str:
    """WHEEL with each ``Tag:`` line of an ``old`` platform replaced by one per ``new`` one;
    every other line (and the line endings) as they were."""
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        m = _TAG_LINE.match(line.rstrip("\r\n"))
        if m is None:
            out.append(line)
            continue
        python, abi, platform = m["tag"].rsplit("-", 2)
        if platform not in old:
            out.append(line)
            continue
        ending = line[len(line.rstrip("\r\n")):] or "\n"
        for tag in new:
            new_line = f"Tag: {python}-{abi}-{tag}{ending}"
            if new_line not in out:
                out.append(new_line)
    return "".join(out)

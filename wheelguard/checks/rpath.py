"""RPATH/RUNPATH hygiene, judged entry by entry.

Each entry falls in exactly one class (see :func:`wheelguard.loader.resolve.classify_entry`), so one
bad entry yields one finding, named for what is wrong with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.providers import find_requirement, provider_for_directory
from wheelguard.loader.layout import Entry, entries
from wheelguard.model import Binary, Finding, SearchPathSubject
from wheelguard.rules import RULES

__all__ = ["run"]


def run(ctx: AuditContext) -> Iterator[Finding]:
    for binary in ctx.wheel.iter_binaries():
        for entry in entries(binary, ctx.layout):
            finding = _judge(ctx, binary, entry)
            if finding is not None:
                yield finding


def _judge(ctx: AuditContext, binary: Binary, entry: Entry) -> Finding | None:
    data: dict[str, object] = {"entry": entry.raw, "tag": entry.tag, "directory": entry.directory}
    shown = repr(entry.raw)
    subject = SearchPathSubject(binary=binary.path, library=binary.name, tag=entry.tag,
                                entry=entry.raw, entry_kind=entry.kind,
                                directory=entry.directory)
    origin = "@loader_path" if entry.tag == "LC_RPATH" else "$ORIGIN"
    match entry.kind:
        case "absolute":
            data["build_tree"] = entry.looks_like_build_tree
            data["homebrew"] = entry.looks_like_homebrew
            where = (" (a Homebrew prefix of the build machine)" if entry.looks_like_homebrew
                     else " (looks like a build tree)" if entry.looks_like_build_tree else "")
            return RULES["WG201"].finding(
                subject, f"{entry.tag} entry {shown} is an absolute path{where}", data=data
            )
        case "cwd-relative":
            what = "empty" if entry.raw == "" else f"relative without {origin}"
            return RULES["WG202"].finding(
                subject,
                f"{entry.tag} entry {shown} is {what}: the loader resolves it against the "
                "current directory",
                data=data,
            )
        case "escapes-root":
            return RULES["WG203"].finding(
                subject, f"{entry.tag} entry {shown} resolves to {entry.directory!r}, outside the "
                "install root, where no installer puts anything", data=data,
            )
        case "other-distribution":
            assert entry.directory is not None
            top = entry.directory.split("/", 1)[0]
            provider = provider_for_directory(entry.directory, ctx.providers, ctx.requirements)
            req = find_requirement(ctx.requirements, provider) if provider else None
            data["top_level"] = top
            data["provider"] = provider.distribution if provider else None
            data["declared"] = str(req) if req else None
            if req is not None:
                owner = f"owned by the declared dependency {req}"
            elif provider is not None:
                owner = f"owned by {provider.distribution}, which this wheel does not declare"
            else:
                owner = "which no declared dependency is known to own"
            owned = replace(subject, owner=provider.distribution if provider else None,
                            declared=req is not None)
            return RULES["WG204"].finding(
                owned,
                f"{entry.tag} entry {shown} reaches {entry.directory}/ of another distribution, "
                f"{owner}; it breaks when the two are installed in different directories",
                data=data,
            )
        case "missing-dir":
            return RULES["WG205"].finding(
                subject, f"{entry.tag} entry {shown} names {entry.directory}/, which this wheel "
                "does not have", data=data,
            )
        case "executable-relative":
            return RULES["WG206"].finding(
                subject, f"{entry.tag} entry {shown} is relative to the main executable: for a "
                "wheel that is the Python interpreter's directory, which the wheel does not "
                "control", data=data,
            )
        case "in-wheel":
            return None

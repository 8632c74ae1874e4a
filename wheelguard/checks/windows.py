"""Windows wheels judged by the Windows loader's rules, in PE words.

- one runtime: two different DLLs with one file name (WG122); a bundled copy of a DLL a
  required distribution ships is WG105, as for every format (checks/duplicates.py);
- loader: imported DLLs the loader will not find (WG323) and Visual C++ runtime DLLs the wheel
  relies on without shipping them (WG324), from the same resolutions ``show`` prints.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterator

from wheelguard.checks.context import AuditContext
from wheelguard.loader.windows import resolve_dlls
from wheelguard.model import Binary, CopiesSubject, Finding, NeededSubject, Severity
from wheelguard.rules import RULES

__all__ = ["run"]


def run(ctx: AuditContext) -> Iterator[Finding]:
    pes = [b for b in ctx.wheel.iter_binaries("pe") if b.pe is not None]
    if not pes:
        return
    yield from _same_names(ctx, pes)
    yield from _imports(ctx, pes)


def _same_names(ctx: AuditContext, pes: list[Binary]) -> Iterator[Finding]:
    """DLLs (not extension modules: Python loads those by path) sharing a file name."""
    sha = {m.path: m.sha256 for m in ctx.wheel.members}
    groups: dict[str, list[Binary]] = defaultdict(list)
    for b in pes:
        name = posixpath.basename(b.path).lower()
        if name.endswith(".dll"):
            groups[name].append(b)
    for name, group in sorted(groups.items()):
        paths = sorted(b.path for b in group)
        if len(paths) < 2 or len({sha[p] for p in paths}) < 2:
            continue
        yield RULES["WG122"].finding(
            CopiesSubject(members=tuple(paths), names=(name,)),
            f"{name} at {len(paths)} paths with different contents: {', '.join(paths)}; the "
            "first one loaded serves every later import of that name",
            data={"name": name, "paths": paths},
        )


def _imports(ctx: AuditContext, pes: list[Binary]) -> Iterator[Finding]:
    for b in pes:
        assert b.pe is not None
        delayed = {n.lower() for n in b.pe.delay_imports}
        for r in resolve_dlls(ctx.layout, b, ctx.providers, ctx.requirements):
            how = "delay-imports" if r.needed.lower() in delayed else "imports"
            data = {"needed": r.needed, "delay_loaded": how == "delay-imports",
                    "reason": r.reason, "provider": r.provider}
            if r.kind == "redistributable":
                shipped = (f"ships only at {r.path}, outside this binary's search path"
                           if r.path else "does not ship")
                yield RULES["WG324"].finding(
                    NeededSubject(binaries=(b.path,), needed=r.needed),
                    f"{how} {r.needed}, part of the Visual C++ runtime, which the wheel "
                    f"{shipped}: it loads only where the redistributable is installed or "
                    "another package has loaded its copy", data={**data, "copy": r.path})
            elif r.kind == "undeclared":
                yield RULES["WG323"].finding(
                    NeededSubject(binaries=(b.path,), needed=r.needed, provider=r.provider),
                    f"{how} {r.needed}: {r.provider} ships it, but the wheel does not declare "
                    "that dependency", data=data,
                    hint=f"Add a Requires-Dist on {r.provider} (with a version range).")
            elif r.kind == "unresolved":
                delay = how == "delay-imports"
                yield RULES["WG323"].finding(
                    NeededSubject(binaries=(b.path,), needed=r.needed),
                    f"{how} {r.needed}, which is not found: not in the wheel, not a Windows "
                    "or CPython DLL, and no declared dependency is known to ship it"
                    + ("; delay-loaded, so the first call into it fails" if delay else ""),
                    data=data, severity=Severity.WARNING if delay else None)

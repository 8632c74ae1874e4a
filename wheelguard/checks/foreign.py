"""Binaries of another operating system than the wheel's tag (WG421): a Windows DLL in a macOS
wheel is never loaded there; it is dead weight, or the sign of a build tree packaged for the
wrong platform. Within the right format, the architecture is WG403's (checks/artifacts.py)."""

from __future__ import annotations

from collections.abc import Iterator

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.tags import native_formats
from wheelguard.model import Finding, MemberSubject
from wheelguard.rules import RULES

__all__ = ["run"]

_WORDS = {"elf": "an ELF (Linux) binary", "macho": "a Mach-O (macOS) binary",
          "pe": "a PE (Windows) binary"}
_OS = {"elf": "Linux", "macho": "macOS", "pe": "Windows"}


def run(ctx: AuditContext) -> Iterator[Finding]:
    expected = native_formats(ctx.wheel.platforms)
    if expected is None:
        return
    where = " and ".join(sorted(_OS[f] for f in expected))
    for b in ctx.wheel.iter_binaries():
        if b.format in expected:
            continue
        yield RULES["WG421"].finding(
            MemberSubject(path=b.path, library=b.name),
            f"{_WORDS[b.format]} for {b.machine} in a wheel tagged for {where}",
            data={"format": b.format, "machine": b.machine, "wheel_os": sorted(expected)},
        )

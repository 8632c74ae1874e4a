"""RECORD integrity: the archive and its manifest must agree both ways, byte for byte.

pip does not verify RECORD; stricter installers (pypa's ``installer``) refuse the wheel, so a
mismatch is a release blocker even when ``pip install`` works.
"""

from __future__ import annotations

from collections.abc import Iterator

from wheelguard.checks.context import AuditContext
from wheelguard.model import ArchivePath, Finding, MemberSubject
from wheelguard.rules import RULES

__all__ = ["run"]

_LIMIT = 20  # per wheel; the rest are counted in the last finding


def run(ctx: AuditContext) -> Iterator[Finding]:
    wheel = ctx.wheel
    record_path = f"{wheel.dist_info}/RECORD"
    signatures = {f"{wheel.dist_info}/RECORD.jws", f"{wheel.dist_info}/RECORD.p7s"}
    problems: list[tuple[str, str, dict[str, object]]] = []
    listed: dict[str, int] = {}
    for entry in wheel.record:
        listed[entry.path] = listed.get(entry.path, 0) + 1
    for path, count in sorted(listed.items()):
        if count > 1:
            problems.append((path, f"listed {count} times in RECORD", {"problem": "duplicate"}))
    for entry in wheel.record:
        member = wheel.member(entry.path)
        if entry.path == record_path:
            if entry.hash or entry.size is not None:
                problems.append((entry.path, "RECORD lists a hash or size for itself",
                                 {"problem": "self-hash"}))
            continue
        if member is None:
            problems.append((entry.path, "listed in RECORD but absent from the archive",
                             {"problem": "absent"}))
            continue
        if entry.path in signatures:
            continue
        if entry.hash is None:
            problems.append((entry.path, "RECORD gives no hash", {"problem": "no-hash"}))
            continue
        algo, _, digest = entry.hash.partition("=")
        if algo != "sha256":
            problems.append((entry.path, f"RECORD uses {algo!r}; wheels require sha256 or "
                             "stronger", {"problem": "weak-hash", "algorithm": algo}))
        elif digest != member.sha256:
            problems.append((entry.path, "hash in RECORD does not match the member",
                             {"problem": "hash", "record": digest, "actual": member.sha256}))
        if entry.size is not None and entry.size != member.size:
            problems.append((entry.path, f"size in RECORD is {entry.size}, member has "
                             f"{member.size}", {"problem": "size"}))
    for member in wheel.members:
        if member.path not in listed and member.path not in signatures:
            problems.append((member.path, "in the archive but not listed in RECORD",
                             {"problem": "unlisted"}))
    for path, message, data in problems[:_LIMIT]:
        yield RULES["WG501"].finding(MemberSubject(path=ArchivePath(path)), message, data=data)
    if len(problems) > _LIMIT:
        yield RULES["WG501"].finding(
            MemberSubject(path=ArchivePath(record_path)),
            f"{len(problems) - _LIMIT} more RECORD problems not shown",
            data={"problem": "more", "count": len(problems) - _LIMIT},
        )

"""RECORD and names, as installers check them: the archive and its manifest must agree both
ways, byte for byte, and the ``.dist-info`` directory must be the one the file name promises.

pip does not verify RECORD; stricter installers (pypa's ``installer``) refuse the wheel, so a
mismatch is a release blocker even when ``pip install`` works. RECORD may hash with any
algorithm at least as strong as sha256 (the wheel spec forbids md5 and sha1; ``installer``
refuses names hashlib does not know); each such digest is checked in its own algorithm.
Signature files (``RECORD.jws``, ``RECORD.p7s``) must not be listed in RECORD.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from wheelguard.checks.context import AuditContext
from wheelguard.model import ArchivePath, Finding, MemberSubject, Wheel
from wheelguard.rules import RULES

__all__ = ["run"]

_LIMIT = 20  # per wheel; the rest are counted in the last finding
_WEAK = frozenset({"md5", "sha1", "sha224"})
"""Named by hashlib, but weaker than sha256: the wheel spec forbids them in RECORD."""


def run(ctx: AuditContext) -> Iterator[Finding]:
    yield from _record(ctx.wheel)


def _record(wheel: Wheel) -> Iterator[Finding]:
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
            problems.append((entry.path, "a signature file is listed in RECORD (installers "
                             "refuse it: it signs RECORD itself)", {"problem": "signature"}))
            continue
        if entry.hash is None:
            problems.append((entry.path, "RECORD gives no hash", {"problem": "no-hash"}))
            continue
        algo, _, digest = entry.hash.partition("=")
        if algo in _WEAK:
            problems.append((entry.path, f"RECORD uses {algo!r}; the wheel spec requires "
                             "sha256 or stronger", {"problem": "weak-hash", "algorithm": algo}))
        elif algo not in hashlib.algorithms_guaranteed:
            problems.append((entry.path, f"RECORD names the hash algorithm {algo!r}, which "
                             "installers do not know", {"problem": "unknown-hash",
                                                        "algorithm": algo}))
        else:
            actual = (member.sha256 if algo == "sha256"
                      else wheel.record_digests.get(entry.path, "").partition("=")[2])
            if digest != actual:
                problems.append((entry.path, f"{algo} hash in RECORD does not match the member",
                                 {"problem": "hash", "algorithm": algo, "record": digest,
                                  "actual": actual}))
        if entry.size is None:
            problems.append((entry.path, "RECORD gives no size", {"problem": "no-size"}))
        elif entry.size != member.size:
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

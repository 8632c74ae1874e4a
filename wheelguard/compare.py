"""What changed between two builds of a wheel, or two release directories (``wheelguard diff``).

Release engineers ask "what is different from last release?" before "is it clean?": a new
library, a NEEDED that appeared, an RPATH entry that changed, a dependency range that moved,
a tree that doubled. Everything here is a function of two scanned :class:`Wheel` values and
returns plain data (the JSON output, which the text and Markdown renderers only format).

Directories are paired wheel by wheel: the same distribution and tags first (a version bump
keeps the tags), then the same distribution, interpreter, ABI and architecture (a platform tag
raised from manylinux_2_17 to _2_28 is still the same slot), then the only wheel of that
distribution left on each side. Whatever stays unpaired is a wheel added or removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from wheelguard.knowledge.tags import parse_platform
from wheelguard.model import Wheel

__all__ = ["compare_wheels", "pair_wheels", "wheel_files"]


def wheel_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix == ".whl" and p.is_file())


def _slot(name: str) -> tuple[str, str, str, str]:
    from packaging.utils import parse_wheel_filename

    dist, _version, _build, tags = parse_wheel_filename(name)
    interpreters = ".".join(sorted({t.interpreter for t in tags}))
    abis = ".".join(sorted({t.abi for t in tags}))
    parsed = [parse_platform(t.platform) for t in tags]
    arches = ".".join(sorted({f"{p.family}-{p.arch}" for p in parsed}))
    return str(dist), interpreters, abis, arches


def pair_wheels(old: Sequence[Path], new: Sequence[Path]
                ) -> tuple[list[tuple[Path, Path]], list[Path], list[Path]]:
    """(pairs, removed, added) between two release directories' wheels."""
    from packaging.utils import parse_wheel_filename

    def exact(p: Path) -> tuple[str, str]:
        dist, _v, _b, tags = parse_wheel_filename(p.name)
        return str(dist), ".".join(sorted(str(t) for t in tags))

    left, right = list(old), list(new)
    pairs: list[tuple[Path, Path]] = []
    for key in (exact, lambda p: _slot(p.name), lambda p: (_slot(p.name)[0],)):
        for a in list(left):
            matches = [b for b in right if key(b) == key(a)]
            same_side = [x for x in left if key(x) == key(a)]
            if len(matches) == 1 and len(same_side) == 1:
                pairs.append((a, matches[0]))
                left.remove(a)
                right.remove(matches[0])
    return sorted(pairs), left, right


def _delta(old: int, new: int) -> dict[str, Any]:
    pct = round(100.0 * (new - old) / old, 1) if old else None
    return {"old": old, "new": new, "delta": new - old, "percent": pct}


def _set_change(old: Iterable[str], new: Iterable[str]) -> dict[str, list[str]]:
    a, b = set(old), set(new)
    return {"added": sorted(b - a), "removed": sorted(a - b)}


def _requirements(w: Wheel) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in w.requires_dist:
        key = canonicalize_name(r.name) + (f"[{','.join(sorted(r.extras))}]" if r.extras else "")
        marker = f"; {r.marker}" if r.marker else ""
        out[f"{key}{marker}"] = str(r.specifier) or "any version"
    return out


def compare_wheels(old: Wheel, new: Wheel) -> dict[str, Any]:
    """Every difference that matters for shipping, as JSON-ready data."""
    old_members = {m.path: m for m in old.members}
    new_members = {m.path: m for m in new.members}
    added = sorted(set(new_members) - set(old_members))
    removed = sorted(set(old_members) - set(new_members))
    common = sorted(set(old_members) & set(new_members))
    grown = [{"path": p, **_delta(old_members[p].size, new_members[p].size)} for p in common
             if new_members[p].size > old_members[p].size]
    shrunk = [{"path": p, **_delta(old_members[p].size, new_members[p].size)} for p in common
              if new_members[p].size < old_members[p].size]
    changed = sum(old_members[p].sha256 != new_members[p].sha256 for p in common)
    grown.sort(key=lambda d: -d["delta"])
    shrunk.sort(key=lambda d: d["delta"])

    old_bins = {b.path: b for b in old.binaries}
    new_bins = {b.path: b for b in new.binaries}
    binaries = []
    for path in sorted(set(old_bins) & set(new_bins)):
        a, b = old_bins[path], new_bins[path]
        entry: dict[str, Any] = {"path": path}
        needed = _set_change(a.needed, b.needed)
        if needed["added"] or needed["removed"]:
            entry["needed"] = needed
        for tag in ("rpath", "runpath"):
            before, after = getattr(a, tag), getattr(b, tag)
            if before != after:
                entry[tag] = {"old": list(before), "new": list(after)}
        if a.soname != b.soname:
            entry["soname"] = {"old": a.soname, "new": b.soname}
        if len(entry) > 1:
            binaries.append(entry)

    req_old, req_new = _requirements(old), _requirements(new)
    requires = {
        "added": [f"{k} {req_new[k]}" for k in sorted(set(req_new) - set(req_old))],
        "removed": [f"{k} {req_old[k]}" for k in sorted(set(req_old) - set(req_new))],
        "changed": [{"name": k, "old": req_old[k], "new": req_new[k]}
                    for k in sorted(set(req_old) & set(req_new)) if req_old[k] != req_new[k]],
    }
    return {
        "old": {"path": old.path, "filename": old.filename, "version": str(old.version)},
        "new": {"path": new.path, "filename": new.filename, "version": str(new.version)},
        "version": {"old": str(old.version), "new": str(new.version)},
        "tags": _set_change((str(t) for t in old.tags), (str(t) for t in new.tags)),
        "size": {"file": _delta(old.file_size, new.file_size),
                 "installed": _delta(old.total_size, new.total_size),
                 "files": _delta(len(old.members), len(new.members))},
        "files": {"added": [{"path": p, "size": new_members[p].size} for p in added],
                  "removed": [{"path": p, "size": old_members[p].size} for p in removed],
                  "grown": grown, "shrunk": shrunk, "changed": changed},
        "libraries": _set_change(old_bins, new_bins),
        "binaries": binaries,
        "requires_dist": requires,
    }

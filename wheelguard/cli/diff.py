"""``wheelguard diff OLD NEW``: what changed between two builds, or two release directories.

OLD and NEW are wheels, or directories of wheels (a release each), paired by distribution and
tags. Exit 0 when both sides were read (a difference is not a failure: the release engineer
judges it), 2 for unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from wheelguard.cli.common import add_output_options

__all__ = ["configure_parser", "diff_release", "execute"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diff",
        help="what changed between two wheels or two release directories",
        description="Compare OLD and NEW (wheels, or directories of wheels paired by "
        "distribution and tags): files added, removed and grown; libraries; NEEDED, "
        "RPATH/RUNPATH, Requires-Dist and tag changes; sizes. Exit 0 when both were read, 2 "
        "for unreadable input.",
    )
    p.add_argument("old", metavar="OLD", help="the earlier wheel or release directory")
    p.add_argument("new", metavar="NEW", help="the later wheel or release directory")
    add_output_options(p, ("text", "json"))
    p.add_argument("--max-files", type=int, default=25, metavar="N",
                   help="text: list at most N files added, removed and grown each, largest "
                        "first (0: all; default 25); JSON always lists all")
    p.set_defaults(func=execute)


def diff_release(old: Path, new: Path) -> dict[str, Any]:
    """The diff document of two wheels or two directories (also what ``report --baseline``
    embeds per wheel)."""
    from wheelguard.compare import compare_wheels, pair_wheels, wheel_files
    from wheelguard.errors import UsageError
    from wheelguard.reading.scan import scan_wheel

    for side, path in (("OLD", old), ("NEW", new)):
        if not path.exists():
            raise UsageError(f"{side} {path}: no such file or directory")
    if old.is_dir() != new.is_dir():
        raise UsageError("OLD and NEW must both be wheels or both be directories")
    if not old.is_dir():
        return {"schema_version": 1, "pairs": [compare_wheels(scan_wheel(old), scan_wheel(new))],
                "added": [], "removed": []}
    pairs, removed, added = pair_wheels(wheel_files(old), wheel_files(new))
    if not pairs and not removed and not added:
        raise UsageError(f"no wheels in {old} or {new}")
    return {
        "schema_version": 1,
        "pairs": [compare_wheels(scan_wheel(a), scan_wheel(b)) for a, b in pairs],
        "removed": [p.name for p in removed],
        "added": [p.name for p in added],
    }


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.report.diff import diff_text_lines

    del parser
    doc = diff_release(Path(args.old), Path(args.new))
    if args.format == "json":
        text = json.dumps(doc, indent=2) + "\n"
    else:
        lines = []
        for pair in doc["pairs"]:
            lines += diff_text_lines(pair, max_files=args.max_files or None)
        lines += [f"wheel removed: {name}" for name in doc["removed"]]
        lines += [f"wheel added: {name}" for name in doc["added"]]
        lines.append(f"{len(doc['pairs'])} wheel(s) compared, {len(doc['added'])} added, "
                     f"{len(doc['removed'])} removed")
        text = "\n".join(lines) + "\n"
    if args.output:
        from wheelguard.util.fs import atomic_write_text

        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0

"""``wheelguard advise WHEEL``: the provider version matrix and the range to declare.

For a release engineer's question: which versions of each distribution this wheel's
libraries link against actually work with it, and what should ``Requires-Dist`` say? Exit 0
when every declared range admits only versions that work, 1 when one admits a failing
version (or a needed provider is not declared), 2 for usage errors and unreadable wheels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelguard.cli.common import add_output_options, add_provider_options, add_python_version

if TYPE_CHECKING:
    from packaging.version import Version

__all__ = ["configure_parser", "execute"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "advise",
        help="which versions of each provider work with the wheel, and the Requires-Dist "
             "range to declare",
        description="Read every release of each distribution the wheel's libraries need (in "
        "and around the declared range, or all with --all-versions), judge each, and propose "
        "the widest contiguous range of working versions. Exit 0 when every declared range "
        "admits only working versions, 1 when one does not, 2 for usage errors.",
    )
    p.add_argument("wheel", metavar="WHEEL")
    add_output_options(p, ("text", "json", "markdown"))
    add_python_version(p)
    p.add_argument("--provider", action="append", default=[], metavar="NAME",
                   help="advise on this distribution only (repeatable); read it even when "
                        "nothing in the wheel points at it (e.g. nvidia-cuda-runtime-cu12)")
    p.add_argument("--all-versions", action="store_true",
                   help="read every release, not just those in and around the declared range")
    p.add_argument("--jobs", type=int, default=4, metavar="N",
                   help="provider wheels fetched and read at once (default 4)")
    add_provider_options(p, "Where provider wheels come from (one of --wheelhouse and "
                            "--download is required) and which are left out.")
    p.set_defaults(func=execute)


class _Progress:
    """One line per batch on stderr; a live count where stderr is a terminal."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.total = 0
        self.done = 0

    def reading(self, provider: str, versions: int) -> None:
        self.total += versions
        print(f"wheelguard advise: {provider}: reading {versions} version"
              f"{'s' if versions != 1 else ''}", file=sys.stderr, flush=True)

    def read(self, provider: str, version: Version, problem: str | None) -> None:
        self.done += 1
        if problem is not None and not problem.startswith("not fetched:"):
            print(f"wheelguard advise: {provider} {version}: not read: {problem}",
                  file=sys.stderr, flush=True)
        elif self.tty:
            print(f"\r  {self.done}/{self.total} read ({provider} {version})\x1b[K", end="",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and self.done:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.cli.common import provider_lookup
    from wheelguard.errors import UsageError
    from wheelguard.linkage.advise import advise
    from wheelguard.reading.scan import scan_wheel
    from wheelguard.report.advise import (
        advice_to_json,
        render_advice_markdown,
        render_advice_text,
    )

    del parser
    if args.jobs < 1:
        raise UsageError("--jobs wants a positive number")
    lookup = provider_lookup(args)
    if lookup is None:
        raise UsageError("advise reads provider wheels: give --wheelhouse DIR or --download")
    wheel = scan_wheel(args.wheel)
    progress = _Progress()
    try:
        advice = advise(wheel, lookup, python=args.python_version, extras=tuple(args.extra),
                        only=tuple(args.provider), all_versions=args.all_versions,
                        jobs=args.jobs, progress=progress)
    finally:
        progress.close()
    doc = advice_to_json(advice)
    if args.format == "json":
        import json

        text = json.dumps(doc, indent=2) + "\n"
    elif args.format == "markdown":
        text = render_advice_markdown(doc)
    else:
        text = render_advice_text(doc)
    if args.output:
        from wheelguard.util.fs import atomic_write_text

        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0 if advice.ok else 1

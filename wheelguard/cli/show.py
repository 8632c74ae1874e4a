"""``wheelguard show WHEEL``: what each native library needs and where the loader finds it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wheelguard.cli.common import add_provider_options, add_python_version

__all__ = ["configure_parser", "deps_data", "execute", "show_data"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "show",
        help="per native library: SONAME, NEEDED, RPATH/RUNPATH and how each NEEDED resolves",
    )
    p.add_argument("wheel", metavar="WHEEL")
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_python_version(p)
    p.add_argument("--deps", action="store_true",
                   help="per NEEDED: the entry that resolves it and the providing distribution "
                        "and version, per install layout (reads dependency wheels: see "
                        "--wheelhouse/--download)")
    p.add_argument("--layout", action="append", default=[], metavar="NAME",
                   choices=("site-packages", "system-site-packages", "target"),
                   help="with --deps: only these layouts (repeatable; default all)")
    add_provider_options(p)
    p.set_defaults(func=execute)


def show_data(path: str, python: str | None = None) -> dict[str, Any]:
    """The facts ``show`` prints, as plain data (also its JSON output)."""
    from wheelguard.checks.context import make_context
    from wheelguard.loader.resolve import resolve_binary
    from wheelguard.reading.scan import scan_wheel

    wheel = scan_wheel(path)
    ctx = make_context(wheel, python=python)
    libs = []
    for b in wheel.iter_binaries():
        resolutions = resolve_binary(ctx.layout, b, ctx.platform, ctx.providers, ctx.requirements)
        libs.append({
            "path": b.path,
            "format": b.format,
            "machine": b.machine,
            "soname": b.soname,
            "needed": list(b.needed),
            "rpath": list(b.rpath),
            "runpath": list(b.runpath),
            "build_id": b.build_id,
            "debug_info": b.has_debug_info,
            "resolution": [r.to_json() for r in resolutions],
        })
    return {
        "wheel": wheel.filename,
        "platform_policy": ctx.platform.name if ctx.platform else None,
        "requires_dist": [str(r) for r in wheel.requires_dist],
        "libraries": libs,
    }


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rich.console import Console

    from wheelguard.report.show import deps_lines, show_lines

    if args.deps:
        data = deps_data(args)
        if args.format == "json":
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            console = Console(highlight=False, emoji=False)
            for line in deps_lines(data):
                console.print(line, highlight=False, overflow="fold")
        return 0
    data = show_data(args.wheel, args.python_version)
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    console = Console(highlight=False, emoji=False)
    for line in show_lines(data):
        console.print(line, highlight=False, overflow="fold")
    return 0


def deps_data(args: argparse.Namespace) -> dict[str, Any]:
    """``show --deps`` as plain data: :func:`wheelguard.linkage.emulate.describe` of the analysis,
    restricted to the layouts asked for."""
    from wheelguard.cli.common import provider_lookup
    from wheelguard.linkage.emulate import analyse_linkage
    from wheelguard.linkage.facts import describe
    from wheelguard.linkage.fetch import ProviderLookup
    from wheelguard.reading.scan import scan_wheel

    lookup = provider_lookup(args) or ProviderLookup()
    linkage = analyse_linkage(scan_wheel(args.wheel), lookup, python=args.python_version,
                              extras=tuple(args.extra))
    data = describe(linkage)
    if args.layout:
        data["layouts"] = [lay for lay in data["layouts"] if lay["name"] in args.layout]
        for lib in data["libraries"]:
            for need in lib["needed"]:
                need["layouts"] = {k: v for k, v in need["layouts"].items() if k in args.layout}
    return data



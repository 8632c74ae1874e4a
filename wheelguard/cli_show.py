"""``wheelguard show WHEEL``: what each native library needs and where the loader finds it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["configure_parser", "execute", "show_data"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "show",
        help="per native library: SONAME, NEEDED, RPATH/RUNPATH and how each NEEDED resolves",
    )
    p.add_argument("wheel", metavar="WHEEL")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--python", metavar="X.Y", help="Python version for Requires-Dist markers")
    p.set_defaults(func=execute)


def show_data(path: str, python: str | None = None) -> dict[str, Any]:
    """The facts ``show`` prints, as plain data (also its JSON output)."""
    from .checks import make_context
    from .resolve import resolve_binary
    from .scan import scan_wheel

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
            "resolution": [
                {"needed": r.needed, "kind": r.kind, "path": r.path, "entry": r.entry,
                 "provider": r.provider, "requirement": r.requirement}
                for r in resolutions
            ],
        })
    return {
        "wheel": wheel.filename,
        "platform_policy": ctx.platform.name if ctx.platform else None,
        "requires_dist": [str(r) for r in wheel.requires_dist],
        "libraries": libs,
    }


def _describe(r: dict[str, Any]) -> str:
    match r["kind"]:
        case "wheel":
            return f"[green]{r['path']}[/] [dim](via {r['entry']})[/]"
        case "platform":
            return "[dim]platform (manylinux whitelist)[/]"
        case "dependency":
            via = f"via {r['entry']}" if r["entry"] else "by SONAME once the provider is imported"
            return f"[cyan]{r['requirement']}[/] [dim]({via})[/]"
        case "undeclared":
            return f"[yellow]{r['provider']} (not declared)[/]"
        case _:
            return "[bold red]unresolved[/]"


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rich.console import Console
    from rich.markup import escape

    data = show_data(args.wheel, args.python)
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return 0
    console = Console()
    console.print(
        f"[bold]{escape(data['wheel'])}[/] "
        f"[dim]({data['platform_policy'] or 'no platform policy'})[/]",
        highlight=False,
    )
    for lib in data["libraries"]:
        console.print(f"\n[bold]{escape(lib['path'])}[/] [dim]{lib['machine']}[/]", highlight=False)
        console.print(f"  SONAME   {lib['soname'] or '-'}", highlight=False)
        for tag in ("rpath", "runpath"):
            if lib[tag]:
                console.print(f"  {tag.upper():8} {escape(':'.join(lib[tag]))}", highlight=False)
        for r in lib["resolution"]:
            console.print(f"  NEEDED   {escape(r['needed'])} -> {_describe(r)}", highlight=False)
    return 0

"""``wheelguard show WHEEL``: what each native library needs and where the loader finds it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["configure_parser", "deps_data", "execute", "show_data"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "show",
        help="per native library: SONAME, NEEDED, RPATH/RUNPATH and how each NEEDED resolves",
    )
    p.add_argument("wheel", metavar="WHEEL")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--python", metavar="X.Y", help="Python version for Requires-Dist markers")
    p.add_argument("--deps", action="store_true",
                   help="per NEEDED: the entry that resolves it and the providing distribution "
                        "and version, per install layout (reads dependency wheels: see "
                        "--wheelhouse/--download)")
    p.add_argument("--layout", action="append", default=[], metavar="NAME",
                   choices=("site-packages", "system-site-packages", "target"),
                   help="with --deps: only these layouts (repeatable; default all)")
    from wheelguard.cli.common import add_provider_options

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
            how = f"via {r['entry']}" if r["entry"] else "already loaded by a loader in the wheel"
            return f"[green]{r['path']}[/] [dim]({how})[/]"
        case "platform":
            return "[dim]platform library[/]"
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

    if args.deps:
        data = deps_data(args)
        if args.format == "json":
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
        else:
            console = Console(highlight=False)
            for line in _deps_lines(data):
                console.print(line, highlight=False, overflow="fold")
        return 0
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


def deps_data(args: argparse.Namespace) -> dict[str, Any]:
    """``show --deps`` as plain data: :func:`wheelguard.linkage.emulate.describe` of the analysis,
    restricted to the layouts asked for."""
    from wheelguard.cli.common import provider_lookup
    from wheelguard.linkage.emulate import analyse_linkage, describe
    from wheelguard.linkage.fetch import ProviderLookup
    from wheelguard.reading.scan import scan_wheel

    lookup = provider_lookup(args) or ProviderLookup()
    linkage = analyse_linkage(scan_wheel(args.wheel), lookup, python=args.python,
                              extras=tuple(args.extra))
    data = describe(linkage)
    if args.layout:
        data["layouts"] = [lay for lay in data["layouts"] if lay["name"] in args.layout]
        for lib in data["libraries"]:
            for need in lib["needed"]:
                need["layouts"] = {k: v for k, v in need["layouts"].items() if k in args.layout}
    return data


_SCENARIOS = ("lowest", "highest", "newest")


def _where(r: dict[str, Any]) -> str:
    """One resolution, without the version: what the loader finds and how."""
    from rich.markup import escape

    match r["kind"]:
        case "wheel":
            return f"[green]{escape(r['path'])}[/] via {escape(r['entry'] or '?')} (this wheel)"
        case "dependency" | "undeclared":
            style = "cyan" if r["kind"] == "dependency" else "yellow"
            note = "" if r["kind"] == "dependency" else " [yellow](not declared)[/]"
            return f"[{style}]{escape(r['path'])}[/] via {escape(r['entry'] or '?')}{note}"
        case "preload":
            top = (r["path"] or "").split("/", 1)[0]
            return (f"[magenta]preload[/] of {escape(r['path'] or '?')} "
                    f"[dim](only if `import {top}` ran first)[/]")
        case "platform":
            return "[dim]platform (manylinux whitelist)[/]"
        case _:
            return "[bold red]not found[/]"


def _layout_line(per_scenario: dict[str, dict[str, Any]]) -> str:
    """The version scenarios of one layout, grouped where they resolve alike:
    ``where: dist 1.0 (lowest); dist 2.0 (highest, newest)``."""
    groups: dict[str, dict[str, list[str]]] = {}
    for scenario in _SCENARIOS:
        r = per_scenario.get(scenario)
        if r is None:
            continue
        foreign = r["kind"] not in ("wheel", "platform")
        who = f"{r['distribution']} {r['version']}" if foreign and r["distribution"] else ""
        who = who or r.get("expected_from") or ""
        groups.setdefault(_where(r), {}).setdefault(who, []).append(scenario)
    parts = []
    for where, versions in groups.items():
        shown = [f"{who} ({', '.join(roles)})" if who else f"({', '.join(roles)})"
                 for who, roles in versions.items()]
        if len(groups) == 1 and list(versions) == [""]:
            parts.append(where)
        else:
            parts.append(f"{where}: {'; '.join(shown)}")
    return " | ".join(parts)


def _deps_lines(data: dict[str, Any]) -> list[str]:
    from rich.markup import escape

    lines = [f"[bold]{escape(data['wheel'])}[/] [dim](Python {data['python']}; "
             f"{data['platform_policy'] or 'no platform policy'})[/]", "", "[bold]layouts[/]"]
    lines += [f"  {lay['name']:22} {escape(lay['description'])}" for lay in data["layouts"]]
    lines += ["", "[bold]providers read[/]"]
    if not data["dependencies"]:
        lines.append("  none: no library outside the wheel needs one")
    for d in data["dependencies"]:
        samples = ", ".join(
            f"{s['version']} ({', '.join(s['roles'])}{'' if s['in_range'] else ', outside'})"
            + (f" [red]unread: {escape(s['problem'])}[/]" if s["problem"] else "")
            for s in d["samples"]
        )
        status = {"declared": "", "extra": " [yellow]extra only[/]",
                  "undeclared": " [yellow]not declared[/]"}[d["status"]]
        lines.append(f"  [cyan]{escape(d['name'])}[/] {escape(d['requirement'] or '')}{status}"
                     f" [dim]({escape(', '.join(d['reasons']))})[/]")
        lines.append(f"      read: {samples or '-'}")
        for smp in d["samples"]:
            if smp["lacks"]:
                where = "" if smp["in_range"] else " (outside the range: not a finding)"
                lines.append(f"      [red]{smp['version']} lacks[/]{where}: "
                             f"{escape(', '.join(smp['lacks']))}")
        if d["problem"]:
            lines.append(f"      [red]{escape(d['problem'])}[/]")
    for lib in data["libraries"]:
        search = ":".join(lib["runpath"] or lib["rpath"])
        tag = "RUNPATH" if lib["runpath"] else "RPATH"
        lines += ["", f"[bold]{escape(lib['path'])}[/] [dim](SONAME {lib['soname'] or '-'}"
                      + (f"; {tag} {escape(search)}" if search else "") + ")[/]"]
        platform: list[str] = []
        for need in lib["needed"]:
            per_layout = need["layouts"]
            kinds = {r["kind"] for sc in per_layout.values() for r in sc.values()}
            if kinds == {"platform"}:
                platform.append(need["needed"])
                continue
            rendered = {name: _layout_line(sc) for name, sc in per_layout.items()}
            if len(set(rendered.values())) == 1:
                which = "every layout" if len(rendered) > 1 else next(iter(rendered))
                lines.append(f"  {escape(need['needed'])}: {next(iter(rendered.values()))} "
                             f"[dim]({which})[/]")
                continue
            lines.append(f"  {escape(need['needed'])}")
            for name, text in rendered.items():
                lines.append(f"    {name:22} {text}")
        if platform:
            lines.append(f"  [dim]platform: {escape(', '.join(platform))}[/]")
    v = data["verdict"]
    if v is not None:
        provided = ", ".join(f"{p['library']} from {p['distribution']}" for p in v["provided"])
        state = "[green]holds[/]" if v["holds"] else "[bold red]does not hold[/]"
        lines += ["", f"[bold]verdict[/] {v['claimed']} {state} with the declared providers "
                      f"counted as present ({provided or 'none needed'}); oldest qualifying "
                      f"tag: {v['oldest'] or 'none'}"]
        if v["outside"]:
            lines.append(f"  outside the whitelist: {', '.join(v['outside'])}")
        if v["too_new"]:
            lines.append(f"  above the symbol-version ceiling: {', '.join(v['too_new'])}")
    return lines

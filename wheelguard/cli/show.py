"""``wheelguard show WHEEL...``: what each native library needs and where the loader finds it.

Several wheels print one after another (JSON: an array of the one-wheel objects); lines are
never wrapped, so a long RUNPATH stays greppable in a log.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from wheelguard.cli.common import add_provider_options, add_python_version

if TYPE_CHECKING:
    from wheelguard.model import Binary

__all__ = ["binary_facts", "configure_parser", "deps_data", "execute", "show_data"]

_LOAD_COMMANDS = {"load": "LC_LOAD_DYLIB", "weak": "LC_LOAD_WEAK_DYLIB",
                  "reexport": "LC_REEXPORT_DYLIB", "upward": "LC_LOAD_UPWARD_DYLIB",
                  "lazy": "LC_LAZY_LOAD_DYLIB"}


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "show",
        help="per native library: what it loads, its search path and how each load resolves "
             "(ELF SONAME/NEEDED/RUNPATH, Mach-O install names/LC_RPATH, PE imports)",
    )
    p.add_argument("wheels", nargs="+", metavar="WHEEL", help="wheel files (globs expanded)")
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
    from wheelguard.reading.scan import scan_wheel

    wheel = scan_wheel(path)
    ctx = make_context(wheel, python=python)
    libs = []
    for b in wheel.iter_binaries():
        resolutions = ctx.resolutions.get(b.path, ())
        libs.append({**binary_facts(b), "resolution": [r.to_json() for r in resolutions]})
    return {
        "wheel": wheel.filename,
        "platform_policy": ctx.platform.name if ctx.platform else None,
        "tags": sorted(wheel.platforms),
        "requires_dist": [str(r) for r in wheel.requires_dist],
        "libraries": libs,
        "debug_companions": [binary_facts(b) for b in wheel.debug_companions],
    }


def binary_facts(b: Binary) -> dict[str, Any]:
    """One binary in its own format's words: ELF SONAME/NEEDED/RPATH/RUNPATH/build-id; Mach-O
    install name, load commands by kind, LC_RPATH verbatim and each slice; PE imports, delay
    imports and export name. ``needed`` (what it loads, in order) is common to all three."""
    out: dict[str, Any] = {"path": b.path, "format": b.format, "machine": b.machine,
                           "needed": list(b.needed), "debug_info": b.has_debug_info}
    if b.macho is not None:
        out["file_type"] = b.macho.file_type
        out["install_name"] = b.soname
        out["lc_rpath"] = list(b.rpath)
        out["slices"] = [{
            "arch": s.arch,
            "file_type": s.file_type,
            "install_name": s.install_name,
            "load_commands": [{"command": _LOAD_COMMANDS[d.kind], "name": d.name,
                               "current_version": d.current_version,
                               "compatibility_version": d.compatibility_version}
                              for d in s.dylibs],
            "lc_rpath": list(s.rpaths),
            "uuid": s.uuid,
            "platform": s.platform,
            "min_os": s.min_os_text,
            "min_os_command": s.min_os_command,
            "sdk": ".".join(map(str, s.sdk)) if s.sdk else None,
            "signature": s.signature,
            "signature_valid": s.signature_valid,
        } for s in b.macho.slices]
    elif b.pe is not None:
        out["kind"] = b.pe.kind
        out["imports"] = list(b.pe.imports)
        out["delay_imports"] = list(b.pe.delay_imports)
        out["export_name"] = b.pe.export_name
        out["subsystem"] = b.pe.subsystem
        out["authenticode"] = b.pe.signed
    else:
        out.update({"soname": b.soname, "rpath": list(b.rpath), "runpath": list(b.runpath),
                    "build_id": b.build_id})
    return out


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from rich.console import Console

    from wheelguard.cli.common import check_inputs, expand_wheels
    from wheelguard.report.show import deps_lines, show_lines

    del parser
    wheels = check_inputs(expand_wheels(args.wheels))
    docs = [deps_data(args, w) if args.deps else show_data(w, args.python_version)
            for w in wheels]
    if args.format == "json":
        sys.stdout.write(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n")
        return 0
    console = Console(highlight=False, soft_wrap=True, emoji=False)
    for i, data in enumerate(docs):
        if i:
            console.print()
        for line in deps_lines(data) if args.deps else show_lines(data):
            console.print(line, highlight=False, soft_wrap=True)
    return 0


def deps_data(args: argparse.Namespace, wheel: str) -> dict[str, Any]:
    """``show --deps`` as plain data: :func:`wheelguard.linkage.emulate.describe` of the analysis,
    restricted to the layouts asked for."""
    from wheelguard.cli.common import provider_lookup
    from wheelguard.linkage.emulate import analyse_linkage
    from wheelguard.linkage.facts import describe
    from wheelguard.linkage.fetch import ProviderLookup
    from wheelguard.reading.scan import scan_wheel

    lookup = provider_lookup(args) or ProviderLookup()
    linkage = analyse_linkage(scan_wheel(wheel), lookup, python=args.python_version,
                              extras=tuple(args.extra))
    data = describe(linkage)
    if args.layout:
        data["layouts"] = [lay for lay in data["layouts"] if lay["name"] in args.layout]
        for lib in data["libraries"]:
            for need in lib["needed"]:
                need["layouts"] = {k: v for k, v in need["layouts"].items() if k in args.layout}
    return data



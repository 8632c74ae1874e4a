"""``wheelguard sbom WHEEL... --format cyclonedx|spdx``: what the wheels ship, as an SBOM.

One document for all the wheels given: the wheel, each native library (SONAME, SHA-256,
architecture, origin: built, vendored tree, grafted from the system with its original name,
a copy of a declared distribution's library with the admitted range), the vendored source
trees (with the version a marker file tells), the declared providers, and the loader's
dependency edges (to the providers' own files with --wheelhouse/--download). Exit 0, or 2 for
unreadable wheels.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from wheelguard.cli.common import (
    add_output_options,
    add_provider_options,
    add_python_version,
    add_wheels_argument,
)

__all__ = ["configure_parser", "execute"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "sbom",
        help="write a CycloneDX or SPDX bill of materials: native libraries, their origin, "
             "vendored trees, providers",
        description="A software bill of materials for the wheels: every native library with its "
        "hashes, architecture and origin, the vendored source trees, the declared providers and "
        "the dependency edges the loader follows.",
    )
    add_wheels_argument(p)
    add_output_options(p, ("cyclonedx", "spdx"))
    add_python_version(p)
    add_provider_options(p)
    p.set_defaults(func=execute)


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.cli.common import expand_wheels, provider_lookup
    from wheelguard.errors import UsageError
    from wheelguard.sbom import build_inventories, render
    from wheelguard.util.fs import atomic_write_text

    del parser
    library = {"cyclonedx": "cyclonedx", "spdx": "spdx_tools"}[args.format]
    if importlib.util.find_spec(library) is None:
        raise UsageError(f"wheelguard sbom --format {args.format} needs the 'sbom' extra: "
                         "pip install 'wheelguard[sbom]'")
    inventories = build_inventories(expand_wheels(args.wheels), python=args.python_version,
                                    providers=provider_lookup(args))
    text = render(inventories, args.format)
    if args.output:
        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0

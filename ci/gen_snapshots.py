#!/usr/bin/env python3
"""Write the JSON snapshots of tables every audit reads (wheelguard/knowledge/snapshot.py).

``wheelguard/data/providers.json`` is ``providers.toml`` parsed; ``platform-policies.json`` is
what the installed auditwheel answers for every platform tag, architecture and libc. Each
records the digest of the bytes it was made from and is used only while they are unchanged, so
a stale snapshot costs speed, never correctness. Run after ``ci/gen_providers.py`` and after
upgrading auditwheel; ``--check`` says whether they are current (tests/unit/test_snapshots.py
does the same).

Usage: python ci/gen_snapshots.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "wheelguard" / "data"
sys.path.insert(0, str(ROOT))

from wheelguard._compat import tomllib  # noqa: E402
from wheelguard.knowledge.manylinux import (  # noqa: E402
    AUDITWHEEL_SOURCES,
    SNAPSHOT,
    snapshot_data,
)
from wheelguard.knowledge.providers import PROVIDERS_SNAPSHOT  # noqa: E402
from wheelguard.knowledge.snapshot import digest, source_bytes  # noqa: E402


def snapshots() -> dict[str, dict[str, Any]]:
    """Every snapshot's file name and content, as its sources give it now."""
    toml = (DATA / "providers.toml").read_bytes()
    auditwheel = source_bytes("auditwheel", *AUDITWHEEL_SOURCES)
    if auditwheel is None:
        msg = "auditwheel is not installed"
        raise SystemExit(msg)
    return {
        PROVIDERS_SNAPSHOT: {"sources": digest([toml]),
                             "data": tomllib.loads(toml.decode("utf-8"))},
        SNAPSHOT: {"sources": digest(auditwheel), "data": snapshot_data()},
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for name, document in snapshots().items():
        path = DATA / name
        text = render(document)
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
            continue
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)} ({len(text) // 1024} KiB)")
    if stale:
        print("stale:", ", ".join(stale), "(run python ci/gen_snapshots.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Audit the macOS and Windows wheels of the pinned corpus: the facts behind docs/platforms.md.

    python tests/corpus/audit_platforms.py            # Markdown on stdout
    python tests/corpus/audit_platforms.py --json DIR # also each wheel's audit JSON in DIR

Each wheel is audited by ``wheelguard audit --format json`` in its own process, one after the
other, with its wall time and peak resident memory (``wait4``), so the numbers are what a CI
gate would see. Wheels missing from the cache are listed, not fetched
(``python tests/corpus/fetch.py --only KEY``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus.fetch import load_corpus, path_of


def audit(path: Path) -> tuple[dict[str, Any], float, int]:
    """The audit document, wall seconds and peak RSS (KiB) of one ``wheelguard audit``."""
    import tempfile

    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wheelguard", "audit", "--format", "json", str(path)],
            stdout=out, stderr=err,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{path}: wheelguard exited {proc.returncode}: "
                             f"{err.read().decode()}")
        return json.loads(out.read()), elapsed, usage.ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="DIR", type=Path)
    args = parser.parse_args()
    rows = []
    details = []
    for key, entry in load_corpus().items():
        if entry.os not in ("macos", "windows"):
            continue
        try:
            path = path_of(key)
        except FileNotFoundError as e:
            print(f"<!-- {e} -->")
            continue
        doc, seconds, peak_kib = audit(path)
        if args.json is not None:
            args.json.mkdir(parents=True, exist_ok=True)
            (args.json / f"{key}.json").write_text(json.dumps(doc, indent=1))
        (wheel,) = doc["wheels"]
        counts = Counter((f["severity"], f["check"]) for f in wheel["findings"])
        by = {s: ", ".join(f"{c} x{n}" for (sev, c), n in sorted(counts.items()) if sev == s)
              for s in ("error", "warning", "info")}
        rows.append(f"| {key} | {entry.filename.rsplit('-', 1)[1].removesuffix('.whl')} | "
                    f"{wheel['summary']['binaries']} | {by['error'] or '-'} | "
                    f"{by['warning'] or '-'} | {by['info'] or '-'} | {seconds:.1f} | "
                    f"{peak_kib // 1024} |")
        for f in wheel["findings"]:
            if f["severity"] == "error":
                details.append(f"- {key}: `{f['check']}` `{f['path']}`: {f['message']}")
    print("| key | platform tag | binaries | errors | warnings | info | s | peak MiB |")
    print("|---|---|---:|---|---|---|---:|---:|")
    print("\n".join(rows))
    print("\nError-level findings:\n")
    print("\n".join(details))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The accuracy study: audit the corpus as a user would and hold every error to its verdict.

For each corpus wheel, ``expected/<key>.toml`` records what the default ``wheelguard audit``
reports at error level (check and path, the message as recorded) and the study's verdict on
each: ``true`` (a defect the project can fix, with the evidence), ``false`` (a false alarm:
the number of these must be zero), or ``platform`` (a Mach-O/PE finding of the platform work
in progress, issue 13). docs/accuracy.md shows the table these files make.

Command line::

    python tests/corpus/accuracy.py                 # audit every cached corpus wheel, compare
    python tests/corpus/accuracy.py --only KEY ...  # some wheels
    python tests/corpus/accuracy.py --update        # record what the audit says now (verdicts of
                                                    # findings that stay are kept; new ones are
                                                    # "unclassified" until someone reads them)
    python tests/corpus/accuracy.py --table         # rewrite the table in docs/accuracy.md

The suite (tests/unit/test_corpus_accuracy.py) runs :data:`SUITE`, a fast subset covering
every class of finding, whenever those wheels are in the cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpus.fetch import load_corpus, path_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = ["EXPECTED", "SUITE", "Expected", "Observed", "audit", "compare", "load_expected"]

EXPECTED = Path(__file__).with_name("expected")
DOC = Path(__file__).resolve().parents[2] / "docs" / "accuracy.md"
VERDICTS = ("true", "false", "platform", "unclassified")

SUITE: tuple[str, ...] = (
    # A few seconds in all on a quiet machine: each class of finding the study judged, true
    # and formerly false, on the smallest wheel that shows it.
    "tilelang-linux",          # vendored TVM sources by share: a warning, not an error
    "tilelang-0.1.6-linux",    # true errors of every loader kind; runtimes that never meet
    "tvm-ffi-linux",           # the runtime's own wheel: clean by default
    "tvm-linux",               # optional CUDA plugin opened in try/except; driver library
    "z3-linux",                # symlink expanded into a copy under one SONAME
    "nvrtc-cu12-linux",        # true: an empty RUNPATH entry
    "cudart-cu13-linux",       # a library wheel's static archives: shipped on purpose
    "onnxruntime-gpu-linux",   # execution providers: plugins and extras
    "numba-linux",             # threading layers imported in try/except
    "scipy-linux",             # grafted libgfortran no required distribution ships
    "pyarrow-linux",           # one 837-byte CMakeLists.txt; expanded symlinks
    "opencv-headless-linux",   # grafted OpenBLAS next to numpy
    "xgrammar-linux",
    "markupsafe-linux",
)


@dataclass(frozen=True, slots=True)
class Expected:
    key: str
    exit: int
    errors: tuple[dict[str, str], ...]
    """Each: check, path, verdict, evidence, message."""

    def keys(self) -> list[tuple[str, str]]:
        return sorted((e["check"], e["path"]) for e in self.errors)


@dataclass(frozen=True, slots=True)
class Observed:
    key: str
    exit: int
    errors: tuple[tuple[str, str, str], ...]
    """(check, path, message) of each error-level finding."""
    seconds: float

    def keys(self) -> list[tuple[str, str]]:
        return sorted((c, p) for c, p, _m in self.errors)


def load_expected(key: str) -> Expected:
    path = EXPECTED / f"{key}.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    errors = tuple(data.get("error", []))
    bad = [e for e in errors if e.get("verdict") not in VERDICTS]
    if bad:
        msg = f"{path}: verdict must be one of {VERDICTS}: {bad}"
        raise ValueError(msg)
    return Expected(key=key, exit=int(data["exit"]), errors=errors)


def audit(key: str) -> Observed:
    """The default audit of one cached corpus wheel, as ``wheelguard audit`` runs it."""
    from wheelguard.audit import audit_wheel
    from wheelguard.model import Severity

    start = time.perf_counter()
    result = audit_wheel(path_of(key))
    errors = tuple(sorted((f.check, f.path or "", f.message) for f in result.findings
                          if f.severity >= Severity.ERROR and f.waived is None))
    return Observed(key=key, exit=1 if errors else 0, errors=errors,
                    seconds=time.perf_counter() - start)


def compare(expected: Expected, observed: Observed) -> list[str]:
    """What differs, in lines a reader can act on; empty when the audit says what was
    recorded."""
    problems = []
    if expected.exit != observed.exit:
        problems.append(f"{observed.key}: exit {observed.exit}, recorded {expected.exit}")
    want, got = expected.keys(), observed.keys()
    for check, path in sorted(set(got) - set(want)):
        problems.append(f"{observed.key}: new error {check} {path}")
    for check, path in sorted(set(want) - set(got)):
        problems.append(f"{observed.key}: error gone {check} {path}")
    if not problems and want != got:
        problems.append(f"{observed.key}: error counts differ: {got} vs {want}")
    return problems


# ---- writing --------------------------------------------------------------------------------


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def update(observed: Observed) -> Path:
    """Record ``observed``, keeping the verdict and evidence of findings that stay."""
    path = EXPECTED / f"{observed.key}.toml"
    old: dict[tuple[str, str], list[dict[str, str]]] = {}
    if path.is_file():
        for e in load_expected(observed.key).errors:
            old.setdefault((e["check"], e["path"]), []).append(e)
    lines = [
        "# What the default `wheelguard audit` reports at error level on this corpus wheel, and",
        "# the accuracy study's verdict on each (docs/accuracy.md). `python",
        "# tests/corpus/accuracy.py --update` records the findings again and keeps the verdicts",
        "# of those that stay.",
        f"key = {_q(observed.key)}",
        f"exit = {observed.exit}",
    ]
    for check, where, message in observed.errors:
        kept = old.get((check, where), [])
        previous = kept.pop(0) if kept else {}
        lines += ["", "[[error]]", f"check = {_q(check)}", f"path = {_q(where)}",
                  f"verdict = {_q(previous.get('verdict', 'unclassified'))}",
                  f"evidence = {_q(previous.get('evidence', ''))}",
                  f"message = {_q(message)}"]
    EXPECTED.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


_BEGIN = "<!-- corpus table: generated by tests/corpus/accuracy.py --table -->"
_END = "<!-- end of corpus table -->"


def table(keys: Iterable[str]) -> str:
    """The corpus table of docs/accuracy.md: one row per wheel, then every error-level finding
    with its verdict and evidence (findings of one check and verdict on one wheel grouped)."""
    corpus = load_corpus()
    rows = ["| wheel | version | os | exit | errors | true | false | platform |",
            "|---|---|---|---:|---:|---:|---:|---:|"]
    details: list[str] = []
    totals = dict.fromkeys(("errors", "true", "false", "platform", "unclassified"), 0)
    failing = 0
    for key in keys:
        exp = load_expected(key)
        entry = corpus[key]
        counts = {v: sum(e["verdict"] == v for e in exp.errors) for v in VERDICTS}
        totals["errors"] += len(exp.errors)
        for v in VERDICTS:
            totals[v] += counts[v]
        failing += exp.exit
        rows.append(f"| {key} | {entry.version} | {entry.os} | {exp.exit} | {len(exp.errors)} "
                    f"| {counts['true']} | {counts['false']} | {counts['platform']} |")
        if not exp.errors:
            continue
        details += ["", f"**{key}** ({entry.filename})", ""]
        groups: dict[tuple[str, str, str], list[dict[str, str]]] = {}
        for e in exp.errors:
            groups.setdefault((e["check"], e["verdict"], e["evidence"]), []).append(e)
        for (check, verdict, evidence), items in groups.items():
            paths = [f"`{e['path']}`" for e in items]
            shown = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3
                                             else "")
            details.append(f"- {check} x{len(items)} ({shown}): **{verdict}**. {evidence}")
            details.append(f"  Message: \"{items[0]['message']}\"")
    summary = (f"{len(rows) - 2} wheels, {failing} failing by default; {totals['errors']} "
               f"error-level findings: {totals['true']} true, {totals['false']} false, "
               f"{totals['platform']} platform (Mach-O/PE findings awaiting a verdict)"
               + (f", {totals['unclassified']} UNCLASSIFIED" if totals["unclassified"] else ""))
    return "\n".join([_BEGIN, "", summary, "", *rows, "", "### Every error-level finding",
                      *details, "", _END])


def write_table(keys: Sequence[str]) -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(_BEGIN), text.index(_END) + len(_END)
    DOC.write_text(text[:start] + table(keys) + text[end:], encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--only", nargs="*", default=[], metavar="KEY")
    parser.add_argument("--update", action="store_true", help="record what the audit says")
    parser.add_argument("--table", action="store_true",
                        help="rewrite the corpus table in docs/accuracy.md (no audit)")
    args = parser.parse_args(argv)
    keys = list(args.only or load_corpus())
    if args.table:
        write_table(keys)
        print(f"wrote the corpus table of {DOC}")
        return 0
    failures: list[str] = []
    total = 0.0
    for key in keys:
        try:
            observed = audit(key)
        except FileNotFoundError as e:
            print(f"{key}: skipped ({e})")
            continue
        total += observed.seconds
        if args.update:
            update(observed)
        problems = [] if args.update else compare(load_expected(key), observed)
        failures += problems
        false = [e for e in load_expected(key).errors if e["verdict"] in ("false",
                                                                          "unclassified")]
        status = "ok" if not problems else "DIFFERS"
        print(f"{key}: exit {observed.exit}, {len(observed.errors)} errors "
              f"({len(false)} false or unclassified), {observed.seconds:.1f}s: {status}",
              flush=True)
        failures += [f"{key}: {e['verdict']} {e['check']} {e['path']}" for e in false]
    print(f"{len(keys)} wheels in {total:.0f}s")
    for line in failures:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

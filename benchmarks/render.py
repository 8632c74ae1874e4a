"""docs/benchmarks.md (and its figure) from one recorded run of benchmarks/bench.py.

Everything on the page is computed from the run's samples (benchmarks/results.json); the
hand-written analysis (why it is fast, what limits what is missed) is benchmarks/notes.md,
appended as it is.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench import Input, Series, Tool

HERE = Path(__file__).resolve().parent
NOTES = HERE / "notes.md"

PEER_LABELS = {"aw-show": "auditwheel show", "pydistcheck": "pydistcheck",
               "cwc": "check-wheel-contents"}
STARTUP_LIMIT = 2.0
FLOOR_LIMIT = 1.3
AW_MEDIAN = 10.0
REPAIR_RATIO = 20.0
RSS_LIMIT_MB = 150.0


def _fmt_s(x: float) -> str:
    return f"{x:.2f}" if x >= 0.995 else f"{x:.3f}"


def _mb(series: Series) -> float:
    """Peak RSS in MB (10^6 bytes): ``ru_maxrss`` counts KiB."""
    return series.median("maxrss_mb") * 1.048576


def render(inputs: list[Input], all_tools: list[Tool], results: list[Series],
           context: dict[str, Any], *, output: Path) -> str:
    by = {(s.input, s.tool): s for s in results}
    page = _Page(inputs, all_tools, by)
    figure = output.with_suffix(".png")
    drawn = plot(page.corpus, by, figure)
    loads = context["loads"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by benchmarks/bench.py from benchmarks/results.json; edit those, not "
        "this file. -->",
        "",
        "wheelguard against `auditwheel show`, `pydistcheck` and `check-wheel-contents` "
        "(auditing) and against `auditwheel repair` and `repairwheel` doing the same job "
        "(repairing), on the same inputs in one run, interleaved. Each figure is the median "
        "of the runs listed; every run is a fresh process, timed from spawn to exit "
        "(interpreter start-up included), and its peak memory is that process's own peak RSS "
        "(`ru_maxrss` from `wait4`). Ratios are what to read: the machine is shared (load "
        "averages below), and every tool saw the same conditions.",
        "",
        f"Reproduce: `{context['command']}` (this run: {context['started']}), after "
        "`.venv/bin/pip install -e '.[dev,bench]'`. It fetches the pinned corpus wheels into "
        "the wheel cache once (tests/corpus/fetch.py) and writes this page, "
        f"`{figure.name}` and benchmarks/results.json (the samples; `--from-json` renders "
        "them again). Running it under `nice` on a shared machine does not bias it: the "
        "tools are interleaved and compared by ratio.",
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in context["info"].items()],
        f"| load average (1/5/15 min) | before {loads[0]}; after {loads[1]} |",
        "",
        "## Targets",
        "",
        *page.targets(),
        "",
    ]
    if drawn:
        lines += [f"![time and peak memory against wheel size]({figure.name})", ""]
    lines += page.corpus_tables()
    lines += page.large_table()
    lines += page.startup_table(context.get("imports", {}))
    lines += page.release_table()
    lines += page.repair_table()
    if context.get("notes"):
        lines += ["", *[f"- {n}" for n in context["notes"]]]
    if NOTES.is_file():
        lines += ["", NOTES.read_text(encoding="utf-8").strip()]
    return "\n".join(lines) + "\n"


class _Page:
    def __init__(self, inputs: list[Input], all_tools: list[Tool],
                 by: dict[tuple[str, str], Series]) -> None:
        self.inputs = inputs
        self.tools = {t.key: t for t in all_tools}
        self.by = by
        self.corpus = sorted((i for i in inputs if i.group == "corpus"),
                             key=lambda i: float(i.stats["file_mb"]))

    def series(self, inp: str, tool: str) -> Series | None:
        s = self.by.get((inp, tool))
        return s if s is not None and s.samples else None

    def sec(self, inp: str, tool: str) -> float | None:
        s = self.series(inp, tool)
        return s.seconds if s is not None else None

    def cell(self, inp: Input, tool: str, base: float | None) -> str:
        """A peer's median and its ratio to wheelguard; why there is none otherwise."""
        s = self.by.get((inp.key, tool))
        if s is None:
            return "n/a (Linux only)" if tool == "aw-show" and inp.os != "linux" else ""
        if not s.samples:
            return _failure(s.failure or "")
        ratio = f" ({s.seconds / base:.1f}x)" if base else ""
        return f"{_fmt_s(s.seconds)}{ratio}"

    # --- tables ----------------------------------------------------------------------------

    def corpus_tables(self) -> list[str]:
        if not self.corpus:
            return []
        out = ["## The corpus: time", "",
               "Median seconds, and in brackets how many times longer than wheelguard. "
               "Sorted by file size.", "",
               "| wheel | file MB | members | largest member MB | wheelguard s | "
               "auditwheel show s | pydistcheck s | check-wheel-contents s | runs |",
               "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for inp in self.corpus:
            st = inp.stats
            wg = self.sec(inp.key, "wg-audit")
            runs = self.series(inp.key, "wg-audit")
            out.append(
                f"| {inp.label} | {float(st['file_mb']):.1f} | {int(st['members']):,} | "
                f"{float(st['largest_mb']):.1f} | {self.cell(inp, 'wg-audit', None)} | "
                f"{self.cell(inp, 'aw-show', wg)} | {self.cell(inp, 'pydistcheck', wg)} | "
                f"{self.cell(inp, 'cwc', wg)} | {len(runs.samples) if runs else 0} |")
        out += ["", "## The corpus: peak memory", "",
                "Peak RSS in MB (10^6 bytes) of each tool's process, median of its runs.", "",
                "| wheel | file MB | largest member MB | wheelguard | auditwheel show | "
                "pydistcheck | check-wheel-contents |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for inp in self.corpus:
            cells = []
            for tool in ("wg-audit", *PEER_LABELS):
                s = self.series(inp.key, tool)
                cells.append(f"{_mb(s):.0f}" if s else
                             ("n/a" if tool == "aw-show" and inp.os != "linux" else ""))
            out.append(f"| {inp.label} | {float(inp.stats['file_mb']):.1f} | "
                       f"{float(inp.stats['largest_mb']):.1f} | " + " | ".join(cells) + " |")
        return [*out, ""]

    def large_table(self) -> list[str]:
        large = [i for i in self.corpus if self.series(i.key, "floor-1")]
        if not large:
            return []
        tiny = self.sec(self.corpus[0].key, "wg-audit")
        out = ["## Large wheels against the floor", "",
               "The floor is inflating and hashing every member (what an audit that checks "
               "RECORD must do), timed inside its process after start-up, on one thread and "
               "on every core (benchmarks/floor.py, zlib-ng). wheelguard is the whole CLI run, "
               "start-up, every check and the JSON report included: pinned to one core "
               "against the first, free against the second."]
        if tiny:
            out[-1] += (" The columns *less start-up* take off the time of the audit of the "
                        f"smallest wheel ({self.corpus[0].key}, {_fmt_s(tiny)} s: start-up, "
                        "imports and a trivial audit), to compare with the floor on its own "
                        "terms.")
        out += ["",
                "| wheel | inflated MB | members | floor, 1 thread s | wheelguard, 1 core s | "
                "ratio | less start-up | floor, all cores s | wheelguard s | ratio | "
                "less start-up |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

        def ratio(w: float | None, f: float | None, less: float = 0.0) -> str:
            return f"{(w - less) / f:.2f}x" if w and f else ""

        for inp in large:
            f1, w1 = self.sec(inp.key, "floor-1"), self.sec(inp.key, "wg-audit-1")
            fn, wn = self.sec(inp.key, "floor-n"), self.sec(inp.key, "wg-audit")
            out.append(f"| {inp.label} | {float(inp.stats['inflated_mb']):.0f} | "
                       f"{int(inp.stats['members']):,} | "
                       f"{_fmt_s(f1) if f1 else ''} | {_fmt_s(w1) if w1 else ''} | "
                       f"{ratio(w1, f1)} | {ratio(w1, f1, tiny or 0.0)} | "
                       f"{_fmt_s(fn) if fn else ''} | {_fmt_s(wn) if wn else ''} | "
                       f"{ratio(wn, fn)} | {ratio(wn, fn, tiny or 0.0)} |")
        return [*out, ""]

    def startup_table(self, imports: dict[str, list[list[Any]]]) -> list[str]:
        base = self.sec("startup", "py-pass")
        if base is None:
            return []
        rows = [("`python -c pass`", base), ("`wheelguard --version`",
                                             self.sec("startup", "wg-version"))]
        rows += [(f"`wheelguard audit` of {i.label}, {float(i.stats['file_mb']) * 1e3:.0f} "
                  "KB", self.sec(i.key, "wg-audit"))
                 for i in self.corpus if float(i.stats["file_mb"]) < 1]
        out = ["## Start-up", "",
               "| command | median s | x `python -c pass` |", "| --- | ---: | ---: |"]
        out += [f"| {label} | {_fmt_s(t)} | {t / base:.2f}x |" for label, t in rows if t]
        own = imports.get("audit-own") or []
        if own:
            per: dict[str, float] = {}
            for name, ms in own:
                top = name.split(".")[0]
                per[top] = per.get(top, 0.0) + ms
            wg_modules = sum(1 for name, _ms in own if name.split(".")[0] == "wheelguard")
            total = sum(per.values())
            out += ["", "Where the import time of that audit goes, per top-level package: the "
                    "time spent executing each package's own modules (`python -X importtime`, "
                    f"self times summed, one run; {total:.0f} ms in all, {len(own)} modules, "
                    f"{wg_modules} of them wheelguard's). importtime's own bookkeeping inflates "
                    "these figures; the shares are what to read.", "",
                    "| package | ms | share |", "| --- | ---: | ---: |"]
            out += [f"| `{n}` | {ms:.1f} | {100 * ms / total:.0f} % |"
                    for n, ms in sorted(per.items(), key=lambda r: -r[1])[:10]]
        audit = imports.get("audit") or []
        if audit:
            total = sum(ms for _n, ms in audit)
            out += ["", "What a JSON audit of the smallest wheel imports (`python -X "
                    f"importtime`, one run, top-level imports, {total:.0f} ms in all): the "
                    "ten that cost most.", "", "| module | ms (with what it imports) |",
                    "| --- | ---: |"]
            out += [f"| `{n}` | {ms:.1f} |"
                    for n, ms in sorted(audit, key=lambda r: -r[1])[:10]]
        return [*out, ""]

    def release_table(self) -> list[str]:
        inp = next((i for i in self.inputs if i.group == "release"), None)
        if inp is None:
            return []
        out = ["## A release of many wheels", "",
               f"`wheelguard audit --format json` of {len(inp.paths)} corpus wheels "
               f"({float(inp.stats['file_mb']):.0f} MB) in one command.", "",
               "| command | median s | CPU s | CPU / wall | peak RSS MB | runs |",
               "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for key in ("wg-release-1", "wg-release"):
            s = self.series(inp.key, key)
            if s is None:
                continue
            out.append(f"| {self.tools[key].label} | {_fmt_s(s.seconds)} | "
                       f"{_fmt_s(s.median('cpu'))} | {s.median('cpu') / s.seconds:.2f} | "
                       f"{_mb(s):.0f} | {len(s.samples)} |")
        return [*out, ""]

    def repair_table(self) -> list[str]:
        inp = next((i for i in self.inputs if i.group == "repair"), None)
        if inp is None:
            return []
        job = f"`--plat {inp.plat}`" + "".join(f" `--exclude {x}`" for x in inp.excludes)
        out = ["## Repair", "",
               f"{inp.label}: every tool writes the wheel anew, grafting nothing and dropping "
               f"nothing. The job every tool is given: {job} (wheelguard: a keep-all "
               "policy, benchmarks/policies/keep-all.toml).", "",
               "| tool | median s | CPU s | peak RSS MB | x wheelguard | runs |",
               "| --- | ---: | ---: | ---: | ---: | ---: |"]
        wg = self.sec(inp.key, "wg-repair")
        for key in ("wg-repair", "aw-repair", "repairwheel"):
            s = self.by.get((inp.key, key))
            if s is None:
                continue
            if not s.samples:
                out.append(f"| {self.tools[key].label} | failed: {s.failure} | | | | 0 |")
                continue
            ratio = f"{s.seconds / wg:.1f}x" if wg and key != "wg-repair" else ""
            out.append(f"| {self.tools[key].label} | {_fmt_s(s.seconds)} | "
                       f"{_fmt_s(s.median('cpu'))} | {_mb(s):.0f} | {ratio} | "
                       f"{len(s.samples)} |")
        return [*out, ""]

    # --- targets ---------------------------------------------------------------------------

    def targets(self) -> list[str]:
        out = ["| target | measured | verdict |", "| --- | --- | --- |"]
        out += self._peers()
        out += self._memory()
        out += self._floors()
        out += self._repair()
        out += self._release()
        out += self._startup()
        out.append("")
        out.append("A missed target shows by how much; \"What limits the missed targets\" "
                   "below says why, from this run's figures, and what it would take.")
        return out

    def _peers(self) -> list[str]:
        out = []
        for peer, label in PEER_LABELS.items():
            played, lost, aside = 0, [], []
            for inp in self.corpus:
                wg = self.sec(inp.key, "wg-audit")
                s = self.by.get((inp.key, peer))
                if wg is None:
                    continue
                if s is None:
                    if peer == "aw-show" and inp.os != "linux":
                        aside.append(f"n/a on {inp.key} (Linux wheels only)")
                    continue
                if not s.samples:
                    if s.failure and s.failure.startswith("timed out"):
                        played += 1  # the peer ran out of time: wheelguard finished
                    else:
                        aside.append(f"{_failure(s.failure or '')} on {inp.key}")
                    continue
                played += 1
                if s.seconds <= wg:
                    lost.append((inp.key, s.seconds, wg))
            if not played:
                continue
            if not lost:
                verdict = "met"
            elif len(lost) <= 8:
                verdict = f"**missed** on {len(lost)}: " + ", ".join(
                    f"{k} ({_fmt_s(p)} s against wheelguard's {_fmt_s(w)} s)"
                    for k, p, w in lost)
            else:
                shares = [p / w for _k, p, w in lost]
                verdict = (f"**missed** on {len(lost)}: there the peer takes "
                           f"{min(shares):.2f}-{max(shares):.2f}x wheelguard's time (median "
                           f"{statistics.median(shares):.2f}x)")
            measured = f"faster on {played - len(lost)} of {played}"
            if aside:
                measured += "; " + "; ".join(aside)
            out.append(f"| `wheelguard audit` faster than `{label}` on every corpus wheel | "
                       f"{measured} | {verdict} |")
        ratios = [s.seconds / wg for inp in self.corpus
                  if (wg := self.sec(inp.key, "wg-audit")) and (s := self.series(inp.key,
                                                                                  "aw-show"))]
        if ratios:
            med = statistics.median(ratios)
            verdict = "met" if med >= AW_MEDIAN else \
                f"**missed** by {100 * (1 - med / AW_MEDIAN):.0f}%"
            out.append(f"| median >= {AW_MEDIAN:.0f}x `auditwheel show` | median "
                       f"{med:.1f}x over {len(ratios)} wheels (min {min(ratios):.1f}x, max "
                       f"{max(ratios):.1f}x) | {verdict} |")
        return out

    def _memory(self) -> list[str]:
        measured = [(i, s) for i in self.corpus if (s := self.series(i.key, "wg-audit"))]
        if not measured:
            return []
        largest, s = max(measured, key=lambda m: float(m[0].stats["file_mb"]))
        worst, ws = max(measured, key=lambda m: _mb(m[1]))
        biggest, bs = max(measured, key=lambda m: float(m[0].stats["largest_mb"]))
        member = "" if biggest is largest else (
            f"on the largest member of the corpus ({biggest.key}, "
            f"{float(biggest.stats['largest_mb']):.0f} MB) {_mb(bs):.0f} MB; ")
        rss = _mb(s)
        verdict = "met" if rss <= RSS_LIMIT_MB else f"**missed** by {rss - RSS_LIMIT_MB:.0f} MB"
        return [f"| peak RSS on the largest wheel <= {RSS_LIMIT_MB:.0f} MB | {largest.key} "
                f"({float(largest.stats['file_mb']):.0f} MB file, largest member "
                f"{float(largest.stats['largest_mb']):.0f} MB): {rss:.0f} MB; {member}"
                "highest over the "
                f"corpus {_mb(ws):.0f} MB ({worst.key}, largest member "
                f"{float(worst.stats['largest_mb']):.0f} MB) | {verdict} |"]

    def _floors(self) -> list[str]:
        out = []
        for tool, floor, what in (("wg-audit-1", "floor-1", "one core"),
                                  ("wg-audit", "floor-n", "every core")):
            ratios = [(i.key, w / f) for i in self.corpus
                      if (w := self.sec(i.key, tool)) and (f := self.sec(i.key, floor))]
            if not ratios:
                continue
            over = [k for k, r in ratios if r > FLOOR_LIMIT]
            within = [k for k, r in ratios if r <= FLOOR_LIMIT]
            shown = ", ".join(f"{k} {r:.2f}x" for k, r in ratios)
            verdict = "met" if not over else (
                f"**missed** on {len(over)} of {len(ratios)}"
                + (f"; met on {', '.join(within)}" if within else ""))
            out.append(f"| within {FLOOR_LIMIT}x of the inflate-and-hash floor on large wheels, "
                       f"{what} | {shown} | {verdict} |")
        return out

    def _repair(self) -> list[str]:
        inp = next((i for i in self.inputs if i.group == "repair"), None)
        if inp is None:
            return []
        wg, aw = self.sec(inp.key, "wg-repair"), self.sec(inp.key, "aw-repair")
        if not wg or not aw:
            return []
        r = aw / wg
        verdict = "met" if r >= REPAIR_RATIO else \
            f"**missed** by {100 * (1 - r / REPAIR_RATIO):.0f}%"
        return [f"| `wheelguard repair` >= {REPAIR_RATIO:.0f}x `auditwheel repair` on tilelang, "
                f"same job | {r:.1f}x ({_fmt_s(aw)} s / {_fmt_s(wg)} s) | {verdict} |"]

    def _release(self) -> list[str]:
        inp = next((i for i in self.inputs if i.group == "release"), None)
        if inp is None:
            return []
        one, many = self.series(inp.key, "wg-release-1"), self.series(inp.key, "wg-release")
        if one is None or many is None:
            return []
        reports = {s.report for s in (*one.samples, *many.samples)}
        cores = _cores(self.tools["wg-release"].label)
        use = many.median("cpu") / many.seconds
        ok = len(reports) == 1 and use >= 0.8 * cores
        verdict = "met" if ok else "**missed**: " + (
            "reports differ" if len(reports) != 1 else f"{use:.2f} of {cores} cores busy")
        return [f"| a release of {len(inp.paths)} wheels uses every core, output order stable "
                f"| {one.seconds / many.seconds:.2f}x faster than one job; CPU/wall "
                f"{use:.2f} on {cores} cores; {len(one.samples) + len(many.samples)} reports, "
                f"{len(reports)} distinct | {verdict} |"]

    def _startup(self) -> list[str]:
        base = self.sec("startup", "py-pass")
        if base is None:
            return []
        out = []
        rows = [("`wheelguard --version`", self.sec("startup", "wg-version"))]
        tiny = self.corpus[0] if self.corpus else None
        if tiny is not None:
            rows.append((f"`wheelguard audit` of the smallest wheel ({tiny.key})",
                         self.sec(tiny.key, "wg-audit")))
        for label, t in rows:
            if t is None:
                continue
            r = t / base
            verdict = "met" if r <= STARTUP_LIMIT else \
                f"**missed** by {_fmt_s(t - STARTUP_LIMIT * base)} s ({r:.1f}x)"
            out.append(f"| {label} within {STARTUP_LIMIT:.0f}x of `python -c pass` | "
                       f"{_fmt_s(t)} s against {_fmt_s(base)} s: {r:.2f}x | {verdict} |")
        return out


def _failure(text: str) -> str:
    """A failed run in a table cell: a refusal said as one, anything else shortened."""
    if "does not look like a platform wheel" in text:
        return "refused: not a platform wheel"
    if text.startswith("timed out"):
        return text
    return f"failed: {text[:70]}{'...' if len(text) > 70 else ''}"


def _cores(label: str) -> int:
    digits = "".join(c if c.isdigit() else " " for c in label).split()
    return int(digits[0]) if digits else 1


def plot(corpus: Iterable[Input], by: dict[tuple[str, str], Series], path: Path) -> bool:
    """Time and peak memory against file size, one line per tool; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    wheels = list(corpus)
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(13, 5.2))
    styles = {"wg-audit": ("wheelguard audit", "o", "-"),
              "aw-show": ("auditwheel show", "s", "--"),
              "pydistcheck": ("pydistcheck", "^", "-."),
              "cwc": ("check-wheel-contents", "d", ":")}
    for tool, (label, marker, line) in styles.items():
        pts = [(float(i.stats["file_mb"]), s.seconds, _mb(s)) for i in wheels
               if (s := by.get((i.key, tool))) is not None and s.samples]
        if not pts:
            continue
        xs = [p[0] for p in pts]
        ax_t.plot(xs, [p[1] for p in pts], marker=marker, linestyle=line, label=label,
                  markersize=5, linewidth=1.2)
        ax_m.plot(xs, [p[2] for p in pts], marker=marker, linestyle=line, label=label,
                  markersize=5, linewidth=1.2)
    floor = [(float(i.stats["file_mb"]), s.seconds) for i in wheels
             if (s := by.get((i.key, "floor-n"))) is not None and s.samples]
    if floor:
        ax_t.plot([p[0] for p in floor], [p[1] for p in floor], marker="x", linestyle="none",
                  color="black", label="floor: inflate + hash, all cores (no start-up)")
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _pos: f"{v:g}")
    for ax, what in ((ax_t, "median wall time, s (start-up included)"),
                     (ax_m, "peak RSS, MB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)
        ax.set_xlabel("wheel file size, MB")
        ax.set_ylabel(what)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_t.set_title("Time per corpus wheel")
    ax_m.set_title("Peak memory per corpus wheel")
    ax_m.axhline(RSS_LIMIT_MB, color="grey", linewidth=0.8, linestyle=":")
    ax_m.annotate(f"target: {RSS_LIMIT_MB:.0f} MB on the largest wheel", (0.02, RSS_LIMIT_MB),
                  xycoords=("axes fraction", "data"), xytext=(0, 3),
                  textcoords="offset points", fontsize=8, color="grey")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True

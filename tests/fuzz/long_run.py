"""The long fuzz runs of docs/reliability.md: every target, at least 100,000 inputs each,
spread over the machine's cores, and one table of what happened.

Each target's inputs are split over shards (processes of ``tests/fuzz/run.py``): with atheris
the shards of one target share a corpus directory (libFuzzer reloads it, so coverage found by
one shard seeds the others); with the mutation loop each shard has its own random seed. A
shard that is still running at ``--deadline`` is stopped and its inputs so far are counted
(libFuzzer's status lines, the loop's summary), so the table never claims more than ran.

    python tests/fuzz/long_run.py --runs 100000 --out fuzz-long --markdown fuzz-long/table.md

Exit 0 when every target reached ``--runs`` with no unhandled exception and no hang.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from targets import TARGETS  # noqa: E402

COST = {"policy": 3, "zip": 2, "repair": 2, "distinfo": 2, "elf-image": 2, "elf": 1,
        "macho": 1, "glob": 1}
"""Relative cost of one input (measured: atheris runs policy at ~4 ms, glob at ~0.1 ms), so
that slow targets get more shards and all end at about the same time."""


@dataclass
class Shard:
    target: str
    index: int
    runs: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    inputs: int = 0
    crashes: int = 0
    hangs: int = 0
    stopped: bool = False
    rc: int | None = None


@dataclass
class Row:
    target: str
    engine: str
    shards: list[Shard] = field(default_factory=list)
    wall: float = 0.0

    @property
    def inputs(self) -> int:
        return sum(s.inputs for s in self.shards)

    @property
    def crashes(self) -> int:
        return sum(s.crashes for s in self.shards)

    @property
    def hangs(self) -> int:
        return sum(s.hangs for s in self.shards)


def _shards(targets: Sequence[str], cores: int) -> dict[str, int]:
    """Shards per target: at least one each, the rest of the cores by cost."""
    weights = {t: COST.get(t, 1) for t in targets}
    total = sum(weights.values())
    return {t: max(1, round(cores * w / total)) for t, w in weights.items()}


_DONE = re.compile(rb"Done (\d+) runs")
_STATUS = re.compile(rb"^#(\d+)\s", re.MULTILINE)
_LOOP = re.compile(rb"(\d+) inputs, (\d+) unhandled exceptions")


def _account(shard: Shard, engine: str, artifacts: Path) -> None:
    text = shard.log.read_bytes() if shard.log.exists() else b""
    if engine == "atheris":
        done = _DONE.findall(text)
        status = _STATUS.findall(text)
        shard.inputs = int(done[-1]) if done else int(status[-1]) if status else 0
        shard.crashes = len(list(artifacts.glob("crash-*"))) + len(list(artifacts.glob("oom-*")))
        shard.hangs = len(list(artifacts.glob("timeout-*")))
        if shard.rc not in (0, None) and not shard.stopped and not (shard.crashes or shard.hangs):
            shard.crashes = 1  # ended abnormally without an artifact: count it, read the log
    else:
        loop = _LOOP.findall(text)
        if loop:
            shard.inputs, shard.crashes = int(loop[-1][0]), int(loop[-1][1])
        shard.hangs = text.count(b"ran past")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", default=",".join(sorted(TARGETS)))
    p.add_argument("--runs", type=int, default=100_000, help="inputs per target (all shards)")
    p.add_argument("--engine", choices=("atheris", "mutate"), default=None)
    p.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds one input may take")
    p.add_argument("--deadline", type=float, default=3600.0, help="seconds for the whole run")
    p.add_argument("--out", type=Path, default=Path("fuzz-long"))
    p.add_argument("--markdown", type=Path, help="write the result table here")
    args = p.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    unknown = sorted(set(targets) - set(TARGETS))
    if unknown:
        p.error(f"unknown targets: {', '.join(unknown)}")
    engine = args.engine or ("atheris" if _has_atheris() else "mutate")
    args.out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Row] = {}
    started = time.monotonic()
    for target, count in _shards(targets, args.cores).items():
        row = rows[target] = Row(target, engine)
        per = -(-args.runs // count)
        for i in range(count):
            out = args.out / f"{target}-{i}"
            out.mkdir(parents=True, exist_ok=True)
            shard = Shard(target, i, per, out / "log.txt")
            cmd = [sys.executable, str(HERE / "run.py"), target, "--runs", str(per),
                   "--engine", engine, "--timeout", str(args.timeout), "--out", str(out),
                   "--seed", str(i)]
            if engine == "atheris":
                cmd += ["--corpus", str(args.out / f"corpus-{target}")]
            with shard.log.open("wb") as log:
                shard.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True)
            row.shards.append(shard)
    running = [s for r in rows.values() for s in r.shards]
    while running:
        time.sleep(1.0)
        late = time.monotonic() - started > args.deadline
        for shard in list(running):
            assert shard.proc is not None
            if shard.proc.poll() is None and late:
                shard.stopped = True
                os.killpg(shard.proc.pid, signal.SIGINT)
                try:
                    shard.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(shard.proc.pid, signal.SIGKILL)
                    shard.proc.wait()
            if shard.proc.poll() is not None:
                shard.rc = shard.proc.returncode
                rows[shard.target].wall = time.monotonic() - started
                running.remove(shard)
                print(f"{shard.target}#{shard.index} ended rc={shard.rc}"
                      f"{' (deadline)' if shard.stopped else ''}", flush=True)
    for row in rows.values():
        for shard in row.shards:
            _account(shard, engine, shard.log.parent)
    table = _table(list(rows.values()), args.runs)
    print(table)
    if args.markdown is not None:
        args.markdown.write_text(table, encoding="utf-8")
    ok = all(r.inputs >= args.runs and not r.crashes and not r.hangs for r in rows.values())
    return 0 if ok else 1


def _table(rows: list[Row], runs: int) -> str:
    lines = ["| target | engine | processes | inputs | unhandled exceptions | hangs | wall s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in sorted(rows, key=lambda r: r.target):
        short = " (stopped at the deadline)" if r.inputs < runs else ""
        lines.append(f"| `{r.target}` | {r.engine} | {len(r.shards)} | {r.inputs:,}{short} | "
                     f"{r.crashes} | {r.hangs} | {r.wall:.0f} |")
    return "\n".join(lines) + "\n"


def _has_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())

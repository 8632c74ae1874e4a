"""The baseline comparison: candidate against the last release, on this machine, in one run.

Both wheels are installed side by side, each into a fresh environment of its own (the ``venv``
layout, with the host's packages when the run sees them). Then the workload suite runs in
rounds, each wheel in a new process per round, in the order A B, B A, A B, ...
(:func:`wheelguard.smoke.gate.round_order`): a timing recorded last month, or in a process that
ran under other conditions, proves little, while two processes run back to back on one GPU see
the same machine. Each side keeps its own kernel cache across its rounds, so its first process
compiles (the cold compile time is recorded) and the later ones measure run time only.

:func:`play` and :func:`verdicts` are the pairing and the judgement, independent of processes
(the tests drive them with a fake that reports chosen timings); :class:`ProbeRounds` runs a
round for real through the probe.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from wheelguard.model import Wheel
from wheelguard.smoke.environments import Environments, Installed
from wheelguard.smoke.gate import (
    Comparison,
    GateStatus,
    Sample,
    Side,
    WorkloadVerdict,
    judge_workload,
    overall,
    round_order,
)
from wheelguard.smoke.gemm import driver_request
from wheelguard.smoke.judge import import_names
from wheelguard.smoke.options import SmokeOptions
from wheelguard.smoke.process import DRIVER_PACKAGE, exit_text, headline, last_line, run_probe
from wheelguard.util.fs import file_sha256

__all__ = ["ProbeRounds", "RoundRun", "compare", "play", "samples_from", "verdicts"]

_PROCESS = "(process)"
"""Suffix of the pseudo-workload that records a driver that never reported its cases."""


@dataclass(frozen=True, slots=True)
class RoundRun:
    """One process of one side in one round: its samples by workload, and its JSON record."""

    round: int
    side: Side
    samples: Mapping[str, Sample]
    record: Mapping[str, Any]


RunOne = Callable[[int, Side], RoundRun]


def play(rounds: int, run_one: RunOne) -> tuple[RoundRun, ...]:
    """Run ``rounds`` rounds, both sides per round, in :func:`round_order`."""
    return tuple(run_one(r, side) for r in range(rounds) for side in round_order(r))


def verdicts(runs: Sequence[RoundRun], *, threshold: float) -> tuple[WorkloadVerdict, ...]:
    """One verdict per workload seen in any run, in the order they were first seen. A
    driver's pseudo-workload (it died before reporting cases) is kept only when it failed."""
    by_id: dict[str, list[Sample]] = {}
    for run in runs:
        for workload, sample in run.samples.items():
            by_id.setdefault(workload, []).append(sample)
    out = []
    for workload, samples in by_id.items():
        if workload.endswith(_PROCESS) and all(s.status == "passed" for s in samples):
            continue
        out.append(judge_workload(workload, samples, threshold=threshold))
    return tuple(out)


def samples_from(round_index: int, side: Side, drivers: Sequence[str], *, ok: bool, why: str,
                 gemm: Sequence[Mapping[str, Any]]) -> dict[str, Sample]:
    """The samples of one process from what its drivers returned (``gemm``): one per case,
    plus one per driver saying whether the driver reported at all (``ok``/``why``: how the
    process ended)."""
    out: dict[str, Sample] = {}
    for name in drivers:
        entry = next((g for g in gemm if g.get("name") == name), None)
        cases = list(entry.get("cases", ())) if entry else []
        reported = bool(cases) or (entry is not None and entry.get("status") == "skipped")
        reason = (entry or {}).get("reason") or (why if not ok else "no cases reported")
        out[f"{name} {_PROCESS}"] = Sample(round=round_index, side=side,
                                          status="passed" if reported else "error",
                                          reason=None if reported else str(reason))
        for case in cases:
            workload = f"{name} {case.get('label')} {case.get('m')}x{case.get('n')}x{case.get('k')}"
            ref = case.get("reference") or {}
            out[workload] = Sample(
                round=round_index, side=side, status=str(case.get("status")),
                time_ms=_number(case.get("time_ms")), reference_ms=_number(ref.get("time_ms")),
                compile_s=_number(case.get("compile_s")), cache=case.get("cache"),
                reason=case.get("reason"),
            )
    return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and value > 0 else None


class ProbeRounds:
    """Runs rounds through the probe in the two installed environments."""

    def __init__(self, options: SmokeOptions, *, installed: Mapping[Side, Installed],
                 wheels: Mapping[Side, Wheel], environments: Environments, probe_dir: Path,
                 env: Mapping[str, str], log: Callable[[str], None]) -> None:
        self.o = options
        self.installed = installed
        self.wheels = wheels
        self.environments = environments
        self.probe_dir = probe_dir
        self.env = env
        self.log = log

    def _dir(self, side: Side) -> Path:
        return self.environments.workdir / f"compare-{side}"

    def __call__(self, round_index: int, side: Side) -> RoundRun:
        installed = self.installed[side]
        assert installed.env is not None
        cache = self._dir(side) / "cache"  # one per side, kept across its rounds: each side's
        # first process (round 0 in either order) compiles, the later ones load
        for sub in ("tilelang", "tinykern", "xdg"):
            (cache / sub).mkdir(parents=True, exist_ok=True)
        request = {
            "imports": list(self.o.imports or import_names(self.wheels[side])),
            "driver_dir": str(self.probe_dir / DRIVER_PACKAGE),
            "drivers": [driver_request(name, "gate", iterations=self.o.iterations,
                                       warmup=self.o.warmup, sizes=self.o.gemm_sizes,
                                       cache="cold" if round_index == 0 else "warm")
                        for name in self.o.gemm],
        }
        self.log(f"gate round {round_index + 1}/{self.o.rounds}: {side}")
        ran = run_probe(installed.env.python, self.probe_dir,
                        self._dir(side) / f"run-{round_index}", request,
                        env={**self.env, **installed.extra_env,
                             "TILELANG_CACHE_DIR": str(cache / "tilelang"),
                             "TINYKERN_CACHE_DIR": str(cache / "tinykern"),
                             "XDG_CACHE_HOME": str(cache / "xdg")},
                        timeout=self.o.timeout_s)
        ok = ran.step.status == "ok"
        why = "" if ok else (f"the probe {exit_text(ran.step.returncode)}: "
                             f"{headline(ran.step.output)}")
        failed_imports = [i for i in ran.data.get("imports", ()) if i.get("status") != "ok"]
        if failed_imports:
            why = "import failed: " + ", ".join(
                f"{i.get('module')} ({last_line(str(i.get('error', '')))})" for i in failed_imports)
        gemm = list(ran.data.get("gemm", ()))
        return RoundRun(
            round=round_index, side=side,
            samples=MappingProxyType(samples_from(round_index, side, self.o.gemm, ok=ok,
                                                  why=why, gemm=gemm)),
            record=MappingProxyType({"round": round_index, "side": side,
                                     "step": ran.step.to_json(), "gemm": gemm}),
        )


def _identity(path: Path, wheel: Wheel) -> dict[str, Any]:
    return {"path": str(path), "filename": wheel.filename, "name": str(wheel.name),
            "version": str(wheel.version), "sha256": file_sha256(path)}


def compare(options: SmokeOptions, *, candidate: Wheel, baseline: Wheel,
            environments: Environments, probe_dir: Path, env: Mapping[str, str],
            log: Callable[[str], None]) -> Comparison:
    """Install both wheels, play the rounds, judge them."""
    assert options.baseline is not None
    paths: dict[Side, Path] = {"baseline": options.baseline, "candidate": options.wheel}
    wheels: dict[Side, Wheel] = {"baseline": baseline, "candidate": candidate}
    identity = _identity(options.baseline, baseline)
    sides: tuple[Side, ...] = ("baseline", "candidate")
    installed: dict[Side, Installed] = {}
    for side in sides:
        installed[side] = environments.install("venv", paths[side], wheels[side].name,
                                               where=f"compare-{side}")
    described = MappingProxyType({
        side: {"paths": done.paths, "steps": [s.to_json() for s in done.steps]}
        for side, done in installed.items()
    })
    common: dict[str, Any] = {"baseline": identity, "rounds": options.rounds,
                              "threshold": options.threshold, "environments": described}
    # A candidate that does not install fails; a baseline that does not cannot be compared.
    setup: tuple[tuple[Side, GateStatus], ...] = (("candidate", "failed"),
                                                  ("baseline", "inconclusive"))
    for side, verdict in setup:
        done = installed[side]
        if not done.ok:
            failed = next((s for s in done.steps if s.status != "ok"), None)
            why = f"{failed.name} failed: {last_line(failed.output)}" if failed else "?"
            return Comparison(status=verdict, message=f"the {side} could not be installed: "
                              f"{why}", **common)
    runner = ProbeRounds(options, installed=installed, wheels=wheels,
                         environments=environments, probe_dir=probe_dir, env=env, log=log)
    runs = play(options.rounds, runner)
    judged = verdicts(runs, threshold=options.threshold)
    status, message = overall(judged)
    return Comparison(status=status, message=message, order=tuple(r.side for r in runs),
                      workloads=judged, runs=tuple(r.record for r in runs), **common)

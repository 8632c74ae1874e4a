"""The release gate's verdict: is the candidate slower than the baseline, beyond doubt?

Pure functions of the numbers the rounds produced (:mod:`wheelguard.smoke.compare` runs them).

**The statistic.** For each workload and each round *r*, both wheels ran it in their own
process, one right after the other. Each process reports the workload's median time over its
timed calls and, in the same process, the median time of torch's own kernel for the same
operation (the *reference*). Two per-round ratios estimate the same slowdown:

- ``time``: q_r = candidate time / baseline time;
- ``relative``: q_r = (candidate time / candidate reference) / (baseline time / baseline
  reference). Dividing by the in-process reference cancels what moves a whole process (GPU
  clocks and temperature, memory placement: cuBLAS itself moved 651-757 TFLOP/s between
  processes at 8192^3), at the price of the reference's own noise.

A ratio of 1.05 means the candidate is 5 % slower. For each basis the point estimate is the
**median** of the q_r (robust to one disturbed round) and its spread is the distribution-free
**sign-test interval of the median**: the k-th smallest and k-th largest q_r, with k the
largest value for which the interval covers the true median with probability
``1 - 2 * P(Binomial(n, 1/2) <= k - 1) >= 90 %``. With 5 to 7 rounds that is [min, max]
(93.8 % at 5 rounds); with fewer than 5 rounds no interval reaches 90 %, so the gate says
"inconclusive". No normality is assumed: GPU timings are skewed and occasionally bimodal.

The verdict uses the basis whose interval is narrower (relative width high / low): the more
precise estimate in this run. Both are in the JSON. Since each interval alone misses the median
on one side with at most 5 % probability, choosing between two at most doubles that.

**The verdict** for a threshold t (default 3 %):

- ``regressed`` when the whole interval lies above 1 + t: a slowdown beyond the threshold that
  the spread between rounds cannot explain. Fails the gate.
- ``passed`` when the whole interval lies at or below 1 + t: noise and improvements pass.
- ``inconclusive`` otherwise: the spread is too wide to tell. Fails the gate (never a pass);
  more rounds, or a quieter machine, narrow it.
- ``failed`` when the candidate broke or computed a wrong result in any round; ``skipped``
  when neither side could run the workload (no GPU); ``unpaired`` when only the baseline
  failed it (the candidate fixed it: not compared, does not fail the gate).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from wheelguard.util.plain import plain

__all__ = [
    "CONFIDENCE",
    "FAILING",
    "MIN_ROUNDS",
    "Comparison",
    "Estimate",
    "GateStatus",
    "Sample",
    "Side",
    "WorkloadVerdict",
    "estimate",
    "judge_workload",
    "overall",
    "round_order",
    "sign_interval",
]

Side = Literal["baseline", "candidate"]
GateStatus = Literal["passed", "regressed", "failed", "inconclusive", "skipped"]
Verdict = Literal["passed", "regressed", "failed", "inconclusive", "skipped", "unpaired"]

CONFIDENCE = 0.90
"""Coverage the interval of the median ratio must reach."""
MIN_ROUNDS = 5
"""The fewest rounds for which a sign-test interval reaches :data:`CONFIDENCE`."""
FAILING: frozenset[str] = frozenset({"failed", "regressed", "inconclusive"})
"""Gate statuses that fail a release."""

STATISTIC = ("median over rounds of the per-round ratio candidate/baseline, of time_ms "
             "('time') or of time_ms / reference time_ms within one process ('relative'); "
             "interval: sign-test order statistics of the median, coverage >= 90%; the verdict "
             "uses the basis with the narrower interval")


def round_order(index: int) -> tuple[Side, Side]:
    """Which side runs first in round ``index``: baseline first in even rounds, candidate
    first in odd ones (A B, B A, A B, ...), so a steady drift over the run (a GPU warming up,
    a neighbour starting) favours neither side."""
    return ("baseline", "candidate") if index % 2 == 0 else ("candidate", "baseline")


def sign_interval(values: Sequence[float], confidence: float = CONFIDENCE
                  ) -> tuple[float, float, float] | None:
    """(low, high, coverage): the narrowest order-statistic interval of the median of
    ``values`` whose coverage is at least ``confidence``; None when none is (too few)."""
    n = len(values)
    ordered = sorted(values)
    best: tuple[float, float, float] | None = None
    below = 0  # P(Binomial(n, 1/2) <= k - 1) * 2**n
    for k in range(1, n // 2 + 1):
        below += math.comb(n, k - 1)
        coverage = 1.0 - 2.0 * below / 2**n
        if coverage < confidence:
            break
        best = (ordered[k - 1], ordered[n - k], coverage)
    return best


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One workload's numbers from one process of one side."""

    round: int
    side: Side
    status: str
    """The case's status: passed, failed, error or skipped."""
    time_ms: float | None = None
    reference_ms: float | None = None
    compile_s: float | None = None
    cache: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round, "side": self.side, "status": self.status,
                "time_ms": self.time_ms, "reference_ms": self.reference_ms,
                "compile_s": self.compile_s, "cache": self.cache, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """The slowdown on one basis: per-round ratios, their median and its interval."""

    basis: Literal["relative", "time"]
    ratios: tuple[float, ...]
    ratio: float
    interval: tuple[float, float] | None
    coverage: float | None

    @property
    def width(self) -> float:
        """Relative width high / low (infinite without an interval)."""
        if self.interval is None or self.interval[0] <= 0:
            return math.inf
        return self.interval[1] / self.interval[0]

    def to_json(self) -> dict[str, Any]:
        return {"basis": self.basis, "ratios": list(self.ratios), "ratio": self.ratio,
                "interval": list(self.interval) if self.interval else None,
                "coverage": self.coverage}


def estimate(basis: Literal["relative", "time"], ratios: Sequence[float],
             confidence: float = CONFIDENCE) -> Estimate:
    interval = sign_interval(ratios, confidence)
    return Estimate(basis=basis, ratios=tuple(ratios), ratio=statistics.median(ratios),
                    interval=interval[:2] if interval else None,
                    coverage=interval[2] if interval else None)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadVerdict:
    id: str
    """``driver label MxNxK``: how the workload is named in messages and the JSON."""
    status: Verdict
    message: str
    chosen: Estimate | None = None
    """The estimate the verdict rests on (the narrower interval)."""
    estimates: tuple[Estimate, ...] = ()
    """Every basis that could be computed (``time`` always, ``relative`` with references)."""
    compile_ratio: float | None = None
    """Candidate / baseline compile time with an empty kernel cache (one pair: not judged)."""
    samples: tuple[Sample, ...] = ()

    @property
    def ratio(self) -> float | None:
        return self.chosen.ratio if self.chosen else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return self.chosen.interval if self.chosen else None

    def to_json(self) -> dict[str, Any]:
        c = self.chosen
        return {
            "id": self.id, "status": self.status, "message": self.message,
            "basis": c.basis if c else "none", "ratios": list(c.ratios) if c else [],
            "ratio": c.ratio if c else None,
            "interval": list(c.interval) if c and c.interval else None,
            "coverage": c.coverage if c else None,
            "estimates": [e.to_json() for e in self.estimates],
            "compile_ratio": self.compile_ratio,
            "samples": [s.to_json() for s in self.samples],
        }


_BAD = ("failed", "error")


def _cold_compile(samples: Iterable[Sample]) -> float | None:
    cold = [s.compile_s for s in samples if s.compile_s is not None and s.cache == "cold"]
    return cold[0] if cold else None


def judge_workload(workload: str, samples: Sequence[Sample], *, threshold: float,
                   confidence: float = CONFIDENCE) -> WorkloadVerdict:
    """The verdict on one workload from every sample of both sides (see the module doc)."""
    mine = tuple(sorted(samples, key=lambda s: (s.round, s.side)))
    base = {s.round: s for s in mine if s.side == "baseline"}
    cand = {s.round: s for s in mine if s.side == "candidate"}
    verdict = _status_verdict(workload, base, cand, mine)
    if verdict is not None:
        return verdict
    timed = [r for r in sorted(base) if r in cand and base[r].status == "passed"
             and cand[r].status == "passed" and base[r].time_ms and cand[r].time_ms]
    if not timed:
        return WorkloadVerdict(id=workload, status="passed", samples=mine,
                               message="correct in every round (no timing to compare)")
    estimates = [estimate("time", [_ratio(cand[r], base[r], "time") for r in timed],
                          confidence)]
    if all(base[r].reference_ms and cand[r].reference_ms for r in timed):
        estimates.insert(0, estimate(
            "relative", [_ratio(cand[r], base[r], "relative") for r in timed], confidence))
    chosen = min(estimates, key=lambda e: e.width)  # ties: relative, listed first
    b_compile, c_compile = _cold_compile(base.values()), _cold_compile(cand.values())
    common: dict[str, Any] = {
        "id": workload, "samples": mine, "chosen": chosen, "estimates": tuple(estimates),
        "compile_ratio": c_compile / b_compile if b_compile and c_compile else None,
    }
    limit = 1.0 + threshold
    if chosen.interval is None:
        return WorkloadVerdict(status="inconclusive", **common, message=(
            f"{len(timed)} paired round(s) are too few for a {confidence:.0%} interval of "
            f"the median ratio (median {chosen.ratio:.3f}); run at least {MIN_ROUNDS}"))
    low, high = chosen.interval
    spread = (f"median ratio {chosen.ratio:.3f} ({chosen.basis}), {chosen.coverage:.1%} "
              f"interval [{low:.3f}, {high:.3f}] over {len(timed)} rounds")
    if low > limit:
        return WorkloadVerdict(status="regressed", **common, message=(
            f"{spread}: slower than the baseline by more than {threshold:.0%}, beyond the "
            "spread between rounds"))
    if high <= limit:
        return WorkloadVerdict(status="passed", **common, message=(
            f"{spread}: within {threshold:.0%} of the baseline or faster"))
    return WorkloadVerdict(status="inconclusive", **common, message=(
        f"{spread}: the interval straddles {limit:.2f}; the spread is too wide to tell"))


def _ratio(cand: Sample, base: Sample, basis: str) -> float:
    assert cand.time_ms is not None
    assert base.time_ms is not None
    if basis == "time":
        return cand.time_ms / base.time_ms
    assert cand.reference_ms is not None
    assert base.reference_ms is not None
    return (cand.time_ms / cand.reference_ms) / (base.time_ms / base.reference_ms)


def _status_verdict(workload: str, base: Mapping[int, Sample], cand: Mapping[int, Sample],
                    samples: tuple[Sample, ...]) -> WorkloadVerdict | None:
    """The verdict when the statuses alone decide it (a failure, a skip), else None."""
    broken = [s for s in cand.values() if s.status in _BAD]
    if broken:
        first = broken[0]
        return WorkloadVerdict(id=workload, status="failed", samples=samples, message=(
            f"the candidate {first.status} in round {first.round}: {first.reason or '?'}"))
    if not base or not cand:
        side = "baseline" if not base else "candidate"
        return WorkloadVerdict(id=workload, status="inconclusive", samples=samples,
                               message=f"the {side} never reported this workload")
    if all(s.status == "skipped" for s in samples):
        reason = next((s.reason for s in samples if s.reason), "skipped")
        return WorkloadVerdict(id=workload, status="skipped", samples=samples,
                               message=f"skipped on both sides: {reason}")
    base_broken = [s for s in base.values() if s.status in _BAD]
    if base_broken:
        first = base_broken[0]
        return WorkloadVerdict(id=workload, status="unpaired", samples=samples, message=(
            f"the baseline {first.status} in round {first.round} ({first.reason or '?'}) "
            "and the candidate passed: not compared"))
    if any(s.status == "skipped" for s in cand.values()):
        return WorkloadVerdict(id=workload, status="inconclusive", samples=samples,
                               message="the candidate skipped a workload the baseline ran")
    if all(s.status == "skipped" for s in base.values()):
        return WorkloadVerdict(id=workload, status="unpaired", samples=samples,
                               message="the baseline skipped this workload: not compared")
    return None


def overall(verdicts: Sequence[WorkloadVerdict]) -> tuple[GateStatus, str]:
    """The gate's status over every workload, and one line saying why."""
    by: dict[str, list[WorkloadVerdict]] = {}
    for v in verdicts:
        by.setdefault(v.status, []).append(v)
    failing: tuple[GateStatus, ...] = ("failed", "regressed", "inconclusive")
    for status in failing:
        if status in by:
            names = ", ".join(v.id for v in by[status])
            return status, f"{len(by[status])} workload(s) {status}: {names}"
    if "passed" in by:
        worst = max((v.ratio for v in by["passed"] if v.ratio is not None), default=None)
        tail = f"; highest median ratio {worst:.3f}" if worst is not None else ""
        return "passed", f"{len(by['passed'])} workload(s) passed{tail}"
    if verdicts and all(v.status == "skipped" for v in verdicts):
        return "skipped", "every workload was skipped on both sides"
    return "inconclusive", "no workload could be compared"


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """The baseline comparison of one smoke run (``comparison`` in the JSON)."""

    baseline: Mapping[str, Any]
    """path, filename, name, version, sha256 of the baseline wheel."""
    rounds: int
    threshold: float
    status: GateStatus
    message: str
    confidence: float = CONFIDENCE
    order: tuple[Side, ...] = ()
    workloads: tuple[WorkloadVerdict, ...] = ()
    runs: tuple[Mapping[str, Any], ...] = ()
    """One entry per process: round, side, the probe step and what the drivers returned."""
    environments: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def failing(self) -> bool:
        return self.status in FAILING

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline": plain(self.baseline),
            "rounds": self.rounds,
            "threshold": self.threshold,
            "confidence": self.confidence,
            "statistic": STATISTIC,
            "order": list(self.order),
            "status": self.status,
            "message": self.message,
            "workloads": [w.to_json() for w in self.workloads],
            "environments": plain(self.environments),
            "runs": [plain(r) for r in self.runs],
        }

"""The baseline gate's pairing and verdict, driven by a fake workload that reports chosen timings.

The rounds are played through :func:`wheelguard.smoke.compare.play` exactly as the real run
plays them; only the process is replaced by a function that returns the numbers a test chose,
so each rule of the verdict (docs/smoke.md, "The release gate") is pinned at its edge:
a regression beyond the threshold fails, noise and improvements pass, a spread too wide to tell
is inconclusive (never a pass).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from wheelguard.errors import UsageError
from wheelguard.smoke.compare import RoundRun, play, samples_from, verdicts
from wheelguard.smoke.gate import (
    CONFIDENCE,
    Sample,
    Side,
    judge_workload,
    overall,
    round_order,
    sign_interval,
)
from wheelguard.smoke.options import SmokeOptions

WORKLOAD = "fake gemm-fp16 4096x4096x4096"
BASE = [1.00, 1.02, 0.99, 1.01, 1.00]
"""Baseline kernel times (ms) per round; the reference (torch) takes 0.5 ms unless a test
says otherwise."""


class FakeWorkload:
    """Reports chosen timings for each (round, side) and records the order it was run in."""

    def __init__(self, times: Mapping[Side, Sequence[float]], *,
                 reference: Mapping[Side, Sequence[float]] | None = None,
                 status: Mapping[tuple[int, Side], str] | None = None) -> None:
        self.times = times
        self.reference = reference
        self.status = status or {}
        self.calls: list[tuple[int, Side]] = []

    def __call__(self, round_index: int, side: Side) -> RoundRun:
        self.calls.append((round_index, side))
        ref = self.reference[side][round_index] if self.reference else 0.5
        status = self.status.get((round_index, side), "passed")
        sample = Sample(round=round_index, side=side, status=status,
                        time_ms=self.times[side][round_index], reference_ms=ref,
                        compile_s=4.0 if round_index == 0 else 0.1,
                        cache="cold" if round_index == 0 else "warm",
                        reason=None if status == "passed" else "relative error 0.5 exceeds 0.01")
        return RoundRun(round=round_index, side=side, samples={WORKLOAD: sample}, record={})


def gate(times: Mapping[Side, Sequence[float]], *, threshold: float = 0.03,
         **kwargs: Any) -> tuple[str, Any]:
    fake = FakeWorkload(times, **kwargs)
    runs = play(len(times["baseline"]), fake)
    (verdict,) = verdicts(runs, threshold=threshold)
    status, _message = overall([verdict])
    return status, verdict


def scaled(factors: Sequence[float]) -> list[float]:
    return [b * f for b, f in zip(BASE, factors, strict=True)]


def test_rounds_alternate_which_side_goes_first() -> None:
    fake = FakeWorkload({"baseline": BASE, "candidate": BASE})
    runs = play(5, fake)
    assert fake.calls == [(0, "baseline"), (0, "candidate"), (1, "candidate"), (1, "baseline"),
                          (2, "baseline"), (2, "candidate"), (3, "candidate"), (3, "baseline"),
                          (4, "baseline"), (4, "candidate")]
    assert [r.side for r in runs] == [side for r, _ in enumerate(BASE) for side in round_order(r)]


def test_regression_beyond_the_threshold_fails() -> None:
    status, v = gate({"baseline": BASE, "candidate": scaled([1.10, 1.09, 1.11, 1.10, 1.12])})
    assert (status, v.status) == ("regressed", "regressed")
    assert v.ratio == pytest.approx(1.10)
    assert v.interval == pytest.approx((1.09, 1.12))
    assert v.chosen is not None
    assert v.chosen.coverage == pytest.approx(1 - 2 / 32)
    assert v.chosen is not None
    assert v.chosen.basis == "relative"
    assert "beyond the spread" in v.message


def test_noise_around_one_is_not_flagged() -> None:
    status, v = gate({"baseline": BASE, "candidate": scaled([1.01, 0.99, 1.005, 0.995, 1.02])})
    assert (status, v.status) == ("passed", "passed")
    assert v.interval == pytest.approx((0.99, 1.02))


def test_improvement_is_not_flagged() -> None:
    status, v = gate({"baseline": BASE, "candidate": scaled([0.80, 0.82, 0.79, 0.81, 0.80])})
    assert (status, v.status) == ("passed", "passed")
    assert v.ratio == pytest.approx(0.80)


def test_small_regression_measured_precisely_passes_within_the_threshold() -> None:
    status, _v = gate({"baseline": BASE, "candidate": scaled([1.02, 1.021, 1.019, 1.02, 1.02])})
    assert status == "passed"
    status, _v = gate({"baseline": BASE, "candidate": scaled([1.02, 1.021, 1.019, 1.02, 1.02])},
                      threshold=0.01)
    assert status == "regressed"


@pytest.mark.parametrize("factors", [
    [0.90, 1.20, 0.95, 1.15, 1.02],  # straddles the limit widely
    [1.10, 1.12, 1.01, 1.11, 1.09],  # median is a regression, one round is not
])
def test_spread_too_wide_is_inconclusive_never_a_pass(factors: list[float]) -> None:
    status, v = gate({"baseline": BASE, "candidate": scaled(factors)})
    assert (status, v.status) == ("inconclusive", "inconclusive")
    assert "too wide" in v.message


def test_the_reference_cancels_what_moves_a_whole_process() -> None:
    """A candidate process that ran on a slower-clocked GPU: its kernel and its torch
    reference are both 30 % slower. The paired ratio sees no regression; the plain time ratio
    would have seen one."""
    slow = [1.0, 1.3, 1.0, 1.3, 1.0]
    status, v = gate({"baseline": BASE, "candidate": scaled(slow)},
                     reference={"baseline": [0.5] * 5, "candidate": [0.5 * f for f in slow]})
    assert v.chosen is not None
    assert (status, v.chosen.basis) == ("passed", "relative")
    assert v.chosen.ratios == pytest.approx((1.0,) * 5)
    (time,) = (e for e in v.estimates if e.basis == "time")
    assert time.interval == pytest.approx((1.0, 1.3))  # on its own: inconclusive


def test_a_disturbed_reference_leaves_the_plain_time_to_decide() -> None:
    """Seen on a busy CPU box: one process's numpy reference ran 35 times slower than the
    others. The relative ratio of that round is wild; the plain time ratios are steady and
    narrower, so they decide."""
    status, v = gate({"baseline": BASE, "candidate": scaled([0.5, 0.49, 0.51, 0.5, 0.5])},
                     reference={"baseline": [0.5] * 5, "candidate": [0.5, 17.5, 0.5, 0.5, 0.5]})
    assert v.chosen is not None
    assert (status, v.chosen.basis) == ("passed", "time")
    (relative,) = (e for e in v.estimates if e.basis == "relative")
    assert relative.width > v.chosen.width


def test_without_a_reference_the_plain_time_is_compared() -> None:
    fake = FakeWorkload({"baseline": BASE, "candidate": scaled([1.2] * 5)})
    runs = [RoundRun(r.round, r.side, {WORKLOAD: Sample(
        round=r.round, side=r.side, status="passed", time_ms=s.time_ms)}, {})
        for r in play(5, fake) for s in r.samples.values()]
    (v,) = verdicts(runs, threshold=0.03)
    assert v.chosen is not None
    assert (v.status, v.chosen.basis) == ("regressed", "time")
    assert [e.basis for e in v.estimates] == ["time"]


def test_cold_compile_time_is_reported_apart_from_run_time() -> None:
    _status, v = gate({"baseline": BASE, "candidate": BASE})
    assert v.compile_ratio == pytest.approx(1.0)
    assert [s.cache for s in v.samples if s.side == "candidate"] == ["cold"] + ["warm"] * 4


def test_a_wrong_result_in_any_candidate_round_fails() -> None:
    status, v = gate({"baseline": BASE, "candidate": BASE}, status={(3, "candidate"): "failed"})
    assert (status, v.status) == ("failed", "failed")
    assert "round 3" in v.message


def test_a_baseline_failure_is_not_compared_and_nothing_compared_is_no_pass() -> None:
    status, v = gate({"baseline": BASE, "candidate": BASE}, status={(1, "baseline"): "error"})
    assert v.status == "unpaired"
    assert status == "inconclusive"


def test_everything_skipped_is_skipped() -> None:
    sides: tuple[Side, ...] = ("baseline", "candidate")
    skipped = {(r, s): "skipped" for r in range(5) for s in sides}
    status, v = gate({"baseline": BASE, "candidate": BASE}, status=skipped)
    assert (status, v.status) == ("skipped", "skipped")


def test_too_few_rounds_cannot_pass() -> None:
    samples = [Sample(round=r, side=side, status="passed", time_ms=1.0, reference_ms=0.5)
               for r in range(4) for side in ("baseline", "candidate")]
    v = judge_workload(WORKLOAD, samples, threshold=0.03)
    assert v.status == "inconclusive"
    assert "too few" in v.message
    with pytest.raises(UsageError, match="--rounds must be at least 5"):
        SmokeOptions(wheel=Path("x.whl"), wheelhouses=(), rounds=4)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"baseline": Path("old.whl")}, "name one with --gemm"),
    ({"baseline": Path("old.whl"), "gemm": ("sample",), "threshold": 1.5}, "--threshold"),
])
def test_gate_options_are_checked(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        SmokeOptions(wheel=Path("x.whl"), wheelhouses=(), **kwargs)


@pytest.mark.parametrize(("n", "k", "coverage"), [
    (5, 1, 1 - 2 / 32), (6, 1, 1 - 2 / 64), (7, 1, 1 - 2 / 128),
    (8, 2, 1 - 2 * 9 / 256), (10, 2, 1 - 2 * 11 / 1024),
])
def test_sign_interval_uses_the_narrowest_order_statistics_with_enough_coverage(
    n: int, k: int, coverage: float
) -> None:
    values = [float(i) for i in range(n, 0, -1)]
    interval = sign_interval(values)
    assert interval is not None
    low, high, got = interval
    assert (low, high) == (float(k), float(n - k + 1))
    assert got == pytest.approx(coverage)
    assert got >= CONFIDENCE


def test_sign_interval_needs_five_values() -> None:
    assert sign_interval([1.0, 1.1, 0.9, 1.0]) is None


def test_samples_come_from_what_the_drivers_returned() -> None:
    """The shape the tilelang driver reports (cases with a reference), and a driver that never
    reported: the candidate process died, which fails the gate."""
    gemm = [{"name": "tilelang", "status": "passed", "cases": [
        {"target": "cuda", "label": "gemm-bf16", "m": 4096, "n": 4096, "k": 4096,
         "dtype": "bfloat16", "status": "passed", "reason": None, "time_ms": 0.27,
         "compile_s": 3.9, "cache": "cold", "reference": {"name": "torch.matmul", "time_ms": 0.19}},
    ]}]
    got = samples_from(0, "baseline", ["tilelang"], ok=True, why="", gemm=gemm)
    sample = got["tilelang gemm-bf16 4096x4096x4096"]
    assert (sample.time_ms, sample.reference_ms, sample.compile_s, sample.cache) == (
        0.27, 0.19, 3.9, "cold")
    assert got["tilelang (process)"].status == "passed"
    died = samples_from(0, "candidate", ["tilelang"], ok=False,
                        why="the probe was killed by SIGSEGV: Segmentation fault", gemm=[])
    assert died["tilelang (process)"].status == "error"
    runs = [RoundRun(0, "baseline", got, {}), RoundRun(0, "candidate", died, {})]
    by_id = {v.id: v for v in verdicts(runs, threshold=0.03)}
    assert by_id["tilelang (process)"].status == "failed"
    assert "SIGSEGV" in by_id["tilelang (process)"].message
    assert overall(list(by_id.values()))[0] == "failed"

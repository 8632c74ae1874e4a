"""A smoke result as a few lines per layout for a CI log; the JSON holds everything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wheelguard.smoke.gate import Comparison
from wheelguard.smoke.result import SmokeResult

__all__ = ["render_smoke_text"]


def _case_line(driver: str, case: Mapping[str, Any]) -> str:
    head = (f"      {driver} {case.get('label')} {case.get('target')} "
            f"{case.get('m')}x{case.get('n')}x{case.get('k')}: {case.get('status')}")
    parts: list[str] = []
    if isinstance(case.get("rel_error"), float):
        parts.append(f"rel err {case['rel_error']:.2e}")
    if isinstance(case.get("tflops"), float):
        parts.append(f"{case['tflops']:.4g} TFLOP/s")
    ref = case.get("reference") or {}
    if isinstance(ref.get("tflops"), float):
        parts.append(f"{ref.get('name')} {ref['tflops']:.4g} TFLOP/s")
    if isinstance(case.get("ratio"), float):
        parts.append(f"ratio {case['ratio']:.2f}")
    if isinstance(case.get("compile_s"), float):
        parts.append(f"compile {case['compile_s']:.1f} s")
    if case.get("reason"):
        parts.append(f"({case['reason']})")
    return head + ("  " + ", ".join(parts) if parts else "")


_GATE_MARK = {"passed": "ok", "regressed": "FAIL", "failed": "FAIL", "inconclusive": "??",
              "skipped": "skip", "unpaired": "n/a"}


def _comparison_lines(c: Comparison) -> list[str]:
    b = c.baseline
    lines = [f"  baseline {b.get('filename')} ({str(b.get('sha256', ''))[:12]}): "
             f"{c.status.upper()} ({c.rounds} rounds, threshold {c.threshold:.0%}): {c.message}"]
    for w in c.workloads:
        extra = "".join(f"; {e.basis} ratio {e.ratio:.3f}" for e in w.estimates
                        if e is not w.chosen)
        if w.compile_ratio is not None:
            extra += f"; cold compile ratio {w.compile_ratio:.2f}"
        lines.append(f"    [{_GATE_MARK[w.status]:>4}] {w.id}: {w.message}{extra}")
    return lines


def render_smoke_text(result: SmokeResult) -> str:
    """A few lines per layout for a CI log; the JSON holds everything."""
    w = result.wheel
    gate = f", baseline: {result.baseline_status}" if result.comparison is not None else ""
    lines = [f"{w['filename']}: {result.status.upper()} (GPU: {result.gpu_status}{gate})"]
    if result.missing:
        lines.append(f"  the wheelhouses lack {len(result.missing)} dependencies "
                     "(nothing was installed):")
        lines += [f"    - {m.describe()}" for m in result.missing]
    for lay in result.layouts:
        lines.append(f"  {lay.layout}: {lay.status}")
        for check in lay.checks:
            mark = {"passed": "ok", "failed": "FAIL", "skipped": "skip"}[check.status]
            lines.append(f"    [{mark:>4}] {check.id}: {check.message}")
        for driver in lay.gemm:
            lines += [_case_line(str(driver.get("name")), case)
                      for case in driver.get("cases", ())]
        lines += [f"    warning: {text}" for text in lay.warnings]
    if result.comparison is not None:
        lines += _comparison_lines(result.comparison)
    lines += [f"  warning: {text}" for text in result.warnings]
    if result.failures:
        lines.append("  failed because:")
        lines += [f"    - {text}" for text in result.failures]
    return "\n".join(lines) + "\n"

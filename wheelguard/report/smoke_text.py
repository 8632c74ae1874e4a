"""A smoke result as a few lines per layout for a CI log; the JSON holds everything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def render_smoke_text(result: SmokeResult) -> str:
    """A few lines per layout for a CI log; the JSON holds everything."""
    w = result.wheel
    lines = [f"{w['filename']}: {result.status.upper()} (GPU: {result.gpu_status})"]
    for lay in result.layouts:
        lines.append(f"  {lay.layout}: {lay.status}")
        for check in lay.checks:
            mark = {"passed": "ok", "failed": "FAIL", "skipped": "skip"}[check.status]
            lines.append(f"    [{mark:>4}] {check.id}: {check.message}")
        for driver in lay.gemm:
            lines += [_case_line(str(driver.get("name")), case)
                      for case in driver.get("cases", ())]
        lines += [f"    warning: {text}" for text in lay.warnings]
    lines += [f"  warning: {text}" for text in result.warnings]
    if result.failures:
        lines.append("  failed because:")
        lines += [f"    - {text}" for text in result.failures]
    return "\n".join(lines) + "\n"

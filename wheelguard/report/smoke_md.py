"""Smoke results (``schemas/smoke-v1.json``, ``smoke-v2.json``) as Markdown: the form a release
sign-off reads.

``python -m wheelguard.report.smoke_md RESULT.json...`` prints the tables; docs/smoke.md holds
the output for the recorded GPU run and a test keeps the two in step.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["render_smoke_markdown"]


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _device(doc: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for layout in doc.get("layouts", ()):
        for gemm in layout.get("gemm", ()):
            if gemm.get("device"):
                return dict(gemm["device"], versions=gemm.get("versions", {}))
    return None


def _gemm_rows(doc: Mapping[str, Any]) -> list[str]:
    rows = []
    for layout in doc.get("layouts", ()):
        for gemm in layout.get("gemm", ()):
            for case in gemm.get("cases", ()):
                ref = case.get("reference") or {}
                size = f"{case.get('m')}x{case.get('n')}x{case.get('k')}"
                rows.append(
                    f"| {layout['layout']} | {gemm.get('name')} {case.get('label', '')} "
                    f"({case.get('target')}) | {size} | {case.get('status')} | "
                    f"{_fmt(case.get('compile_s'), '.1f')} | "
                    f"{_fmt(case.get('rel_error'), '.2e')} | "
                    f"{_fmt(case.get('tflops'), '.4g')} | {ref.get('name') or '-'} | "
                    f"{_fmt(ref.get('tflops'), '.4g')} | {_fmt(case.get('ratio'), '.2f')} |"
                )
    return rows


def _libraries(doc: Mapping[str, Any]) -> list[str]:
    """Native libraries the environment itself installed (not the host's torch/CUDA)."""
    layouts = doc.get("layouts", ())
    if not layouts:
        return []
    seen = []
    for lib in layouts[0].get("libraries", ()):
        if lib.get("origin") in ("env", "target", "base") and lib.get("distribution"):
            path = str(lib["path"]).split("site-packages/")[-1].split("/target/")[-1]
            seen.append(f"| `{path}` | {lib.get('soname') or '-'} | "
                        f"{lib['distribution']} {lib.get('version') or ''} |")
    return sorted(set(seen))


def _comparison(doc: Mapping[str, Any]) -> list[str]:
    """The baseline gate of a schema-2 document: one row per workload."""
    c = doc.get("comparison")
    if not c:
        return []
    old = c.get("baseline", {})
    order = " ".join("B" if side == "baseline" else "C" for side in c.get("order", ()))
    out = [f"Baseline `{old.get('filename')}` ({Path(str(old.get('path'))).parent.name}, "
           f"sha256 `{str(old.get('sha256', ''))[:16]}…`): **{c.get('status')}**, "
           f"{c.get('rounds')} rounds, threshold {_fmt(c.get('threshold'), '.0%')}"
           + (f", order {order}" if order else "") + f". {c.get('message')}", ""]
    rows = c.get("workloads", ())
    if rows:
        out += ["| workload | verdict | basis | median ratio | interval (coverage) | other basis "
                "| cold compile ratio | per-round ratios |", "|---|---|---|---|---|---|---|---|"]
        for w in rows:
            interval = w.get("interval")
            spread = (f"[{interval[0]:.3f}, {interval[1]:.3f}] "
                      f"({_fmt(w.get('coverage'), '.1%')})" if interval else "-")
            ratios = " ".join(f"{r:.3f}" for r in w.get("ratios", ())) or "-"
            other = ", ".join(f"{e.get('basis')} {_fmt(e.get('ratio'), '.3f')}"
                              for e in w.get("estimates", ())
                              if e.get("basis") != w.get("basis")) or "-"
            out.append(f"| {w.get('id')} | {w.get('status')} | {w.get('basis')} | "
                       f"{_fmt(w.get('ratio'), '.3f')} | {spread} | {other} | "
                       f"{_fmt(w.get('compile_ratio'), '.2f')} | {ratios} |")
        out.append("")
    return out


def render_smoke_markdown(docs: Sequence[Mapping[str, Any]]) -> str:
    out: list[str] = []
    device = next((d for d in map(_device, docs) if d), None)
    if device is not None:
        versions = device.get("versions", {})
        host = docs[0].get("host", {})
        out.append(f"Device: **{device.get('name')}** (compute capability "
                   f"{device.get('capability')}, {device.get('multiprocessors')} SMs); "
                   f"torch {device.get('torch')} (CUDA {device.get('torch_cuda')}); Python "
                   f"{host.get('python_version')}"
                   + (f"; tilelang {versions['tilelang']}." if "tilelang" in versions else "."))
        out.append("")
    for doc in docs:
        wheel = doc.get("wheel", {})
        summary = doc.get("summary", {})
        out.append(f"### `{wheel.get('filename')}` ({Path(str(wheel.get('path'))).parent.name})")
        out.append("")
        gate = f", baseline: {summary.get('baseline')}" if doc.get("comparison") else ""
        out.append(f"Result: **{summary.get('status')}** (GPU: {summary.get('gpu')}{gate}); "
                   f"sha256 `{str(wheel.get('sha256', ''))[:16]}…`.")
        out.append("")
        out.append("| layout | status | checks |")
        out.append("|---|---|---|")
        for layout in doc.get("layouts", ()):
            checks = ", ".join(f"{c['id']} {c['status']}" for c in layout.get("checks", ()))
            out.append(f"| {layout['layout']} | {layout['status']} | {checks} |")
        out.append("")
        rows = _gemm_rows(doc)
        if rows:
            # The reference is named per row: numpy on a CPU row, cuBLAS on a GPU one (one
            # "cuBLAS" column put numpy's figures under cuBLAS).
            out.append("| layout | GEMM | MxNxK | status | compile s | rel. error | TFLOP/s "
                       "| reference | reference TFLOP/s | ratio |")
            out.append("|---|---|---|---|---|---|---|---|---|---|")
            out.extend(rows)
            out.append("")
        out.extend(_comparison(doc))
        libs = _libraries(doc)
        if libs:
            out.append("Native libraries the environment installed and the process mapped "
                       "(first layout):")
            out.append("")
            out.append("| file | SONAME | distribution |")
            out.append("|---|---|---|")
            out.extend(libs)
            out.append("")
        warnings = [*doc.get("warnings", ()),
                    *(w for lay in doc.get("layouts", ()) for w in lay.get("warnings", ()))]
        for w in dict.fromkeys(warnings):
            out.append(f"- warning: {w}")
        if warnings:
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m wheelguard.report.smoke_md RESULT.json...", file=sys.stderr)
        return 2
    docs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    sys.stdout.write(render_smoke_markdown(docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

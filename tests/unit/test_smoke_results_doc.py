"""docs/smoke.md shows the recorded GPU runs exactly as the renderer prints the kept JSON,
and the kept JSON is valid smoke output (so the numbers in the docs are real results): the
first smoke runs (schema 1) and the release gate's run (schema 2)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from wheelguard.report.smoke_md import render_smoke_markdown

DOCS = Path(__file__).resolve().parents[2] / "docs"
RESULTS = ["smoke-tilelang", "smoke-tilelang-repaired", "smoke-tinykern"]


def _docs() -> list[dict[str, object]]:
    return [json.loads((DOCS / "smoke-results" / f"{n}.json").read_text(encoding="utf-8"))
            for n in RESULTS]


def test_recorded_results_are_valid_smoke_documents() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        resources.files("wheelguard").joinpath("schemas/smoke-v1.json").read_text("utf-8")
    )
    for doc in _docs():
        jsonschema.validate(doc, schema)
        assert doc["summary"]["gpu"] == "passed"


def test_docs_show_the_rendered_results() -> None:
    text = (DOCS / "smoke.md").read_text(encoding="utf-8")
    begin, end = "<!-- smoke-results:begin -->\n", "<!-- smoke-results:end -->"
    shown = text.split(begin, 1)[1].split(end, 1)[0]
    assert shown == render_smoke_markdown(_docs())


def test_repaired_tilelang_keeps_the_original_speed_and_one_runtime() -> None:
    published, repaired, _ = _docs()

    def ratios(doc: dict[str, object]) -> list[float]:
        layout = doc["layouts"][0]  # type: ignore[index]
        return [c["ratio"] for g in layout["gemm"] for c in g["cases"]]

    for before, after in zip(ratios(published), ratios(repaired), strict=True):
        assert abs(before - after) / before < 0.05
    for doc in (published, repaired):
        for layout in doc["layouts"]:  # type: ignore[attr-defined]
            ffi = {lib["path"] for lib in layout["libraries"]
                   if lib.get("soname") == "libtvm_ffi.so"}
            (only,) = ffi
            assert only.endswith("tvm_ffi/lib/libtvm_ffi.so")


GATE_RESULTS = ["gate-tilelang-repaired", "gate-tilelang-slowed"]


def _gate_docs() -> list[dict[str, Any]]:
    return [json.loads((DOCS / "smoke-results" / f"{n}.json").read_text(encoding="utf-8"))
            for n in GATE_RESULTS]


def test_recorded_gate_results_are_valid_and_show_the_gate_working() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        resources.files("wheelguard").joinpath("schemas/smoke-v2.json").read_text("utf-8")
    )
    repaired, slowed = _gate_docs()
    for doc in (repaired, slowed):
        jsonschema.validate(doc, schema)
        assert doc["summary"]["gpu"] == "passed"
        assert doc["comparison"]["baseline"]["sha256"] == repaired["comparison"]["baseline"][
            "sha256"]
    labels = {"gemm-fp16", "gemm-bf16", "gemm-fp8", "attention-fwd"}
    for doc, verdict in ((repaired, "passed"), (slowed, "regressed")):
        assert doc["summary"]["baseline"] == verdict
        workloads = doc["comparison"]["workloads"]
        assert {w["id"].split()[1] for w in workloads} == labels
        assert {w["status"] for w in workloads} == {verdict}
    for w in repaired["comparison"]["workloads"]:
        low, high = w["interval"]
        assert 0.97 < low <= w["ratio"] <= high < 1.03


def test_docs_show_the_rendered_gate_results() -> None:
    text = (DOCS / "smoke.md").read_text(encoding="utf-8")
    begin, end = "<!-- gate-results:begin -->\n", "<!-- gate-results:end -->"
    shown = text.split(begin, 1)[1].split(end, 1)[0]
    assert shown == render_smoke_markdown(_gate_docs())

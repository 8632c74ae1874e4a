"""docs/smoke.md shows the recorded GPU run exactly as the renderer prints the kept JSON,
and the kept JSON is valid smoke output (so the numbers in the docs are real results)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

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

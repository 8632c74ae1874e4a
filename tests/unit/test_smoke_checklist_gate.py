"""The release checklist's smoke item reads a schema-2 smoke result with a baseline gate: the
gate's verdict and baseline appear in the item, a regression fails it, a skipped gate (no GPU)
only warns. Built on the recorded GPU run (docs/smoke-results/gate-*.json), re-addressed to a
fixture wheel's identity."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.fixtures import BuiltFixture

from wheelguard.audit import audit_wheel
from wheelguard.report.checklist import build_checklist

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "smoke-results"


def _gate_for(wheel: Path, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(json.loads((RESULTS / f"{name}.json").read_text()))
    doc["wheel"].update(filename=wheel.name, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    return doc


def _smoke_item(wheel: Path, doc: Mapping[str, Any]) -> tuple[str, str]:
    (c,) = build_checklist([audit_wheel(wheel)], [doc])
    item = next(i for i in c.items if i.item.id == "smoke")
    return item.status, item.detail


@pytest.fixture
def clean(fixture_wheels: Mapping[str, BuiltFixture]) -> Path:
    return fixture_wheels["clean"].path


def test_a_passed_gate_passes_and_names_the_baseline(clean: Path) -> None:
    status, detail = _smoke_item(clean, _gate_for(clean, "gate-tilelang-repaired"))
    assert status == "pass"
    assert "against tilelang-0.1.15-" in detail
    assert "093d57e889f1" in detail
    assert "passed, 4 workload(s) passed" in detail


def test_a_regression_fails_the_item(clean: Path) -> None:
    status, detail = _smoke_item(clean, _gate_for(clean, "gate-tilelang-slowed"))
    assert status == "fail"
    assert "regressed" in detail


def test_a_skipped_gate_only_warns(clean: Path) -> None:
    doc = _gate_for(clean, "gate-tilelang-repaired")
    doc["comparison"]["status"] = doc["summary"]["baseline"] = "skipped"
    assert _smoke_item(clean, doc)[0] == "warn"

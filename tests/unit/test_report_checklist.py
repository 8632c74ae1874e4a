"""The release checklist: items follow the audit (with policy waivers), and a smoke result
counts only for the build it was run on (sha256), not for any wheel of the same name."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import run_wheelguard
from helpers.fixtures import BuiltFixture

from wheelguard.audit import audit_wheel
from wheelguard.report.checklist import build_checklist, render_checklist_markdown

SMOKE = Path(__file__).resolve().parents[2] / "docs" / "smoke-results" / "smoke-tinykern.json"


def _smoke_for(wheel: Path, tmp_path: Path, *, status: str = "passed") -> Path:
    """The recorded tinykern smoke document, re-addressed to ``wheel`` (its identity fields
    only), so the matching rules are tested on a real result's shape."""
    doc: dict[str, Any] = copy.deepcopy(json.loads(SMOKE.read_text(encoding="utf-8")))
    doc["wheel"].update(filename=wheel.name,
                        sha256=hashlib.sha256(wheel.read_bytes()).hexdigest())
    doc["summary"]["status"] = status
    out = tmp_path / f"smoke-{status}.json"
    out.write_text(json.dumps(doc), encoding="utf-8")
    return out


def _statuses(wheel: Path, smokes: list[Mapping[str, Any]]) -> dict[str, str]:
    (c,) = build_checklist([audit_wheel(wheel)], smokes)
    return {i.item.id: i.status for i in c.items}


def test_clean_wheel_with_its_smoke_result_is_ready(
    fixture_wheels: Mapping[str, BuiltFixture], tmp_path: Path
) -> None:
    wheel = fixture_wheels["clean"].path
    smoke = _smoke_for(wheel, tmp_path)
    house = tmp_path / "wheelhouse"
    house.mkdir()
    # Every item must be given what it checks: a budget, a policy, dependency wheels.
    proc = run_wheelguard("report", wheel, "--smoke", smoke, "--size-budget", "100MB",
                          "--policy", "default", "--wheelhouse", house)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ready to ship" in proc.stdout
    assert "**not ready**" not in proc.stdout
    assert ": not checked (" not in proc.stdout


def test_without_smoke_result_the_release_is_not_signed_off(
    fixture_wheels: Mapping[str, BuiltFixture],
) -> None:
    statuses = _statuses(fixture_wheels["clean"].path, [])
    assert statuses.pop("smoke") == "skip"
    # Nor is what this audit was not given: dependency wheels, a budget, a policy.
    assert {k for k, v in statuses.items() if v == "skip"} == {
        "one-runtime", "loader", "size", "policy"}
    assert {k for k, v in statuses.items() if v == "pass"} == {
        "integrity", "search-paths", "contents"}
    proc = run_wheelguard("report", fixture_wheels["clean"].path)
    assert proc.returncode == 1


def test_smoke_of_another_build_does_not_count(
    fixture_wheels: Mapping[str, BuiltFixture], tmp_path: Path
) -> None:
    other = fixture_wheels["wg102_duplicate_content"].path
    doc = json.loads(_smoke_for(other, tmp_path).read_text(encoding="utf-8"))
    doc["wheel"]["filename"] = fixture_wheels["clean"].path.name
    assert _statuses(fixture_wheels["clean"].path, [doc])["smoke"] == "fail"


def test_failed_smoke_fails_the_item(
    fixture_wheels: Mapping[str, BuiltFixture], tmp_path: Path
) -> None:
    wheel = fixture_wheels["clean"].path
    doc = json.loads(_smoke_for(wheel, tmp_path, status="failed").read_text(encoding="utf-8"))
    assert _statuses(wheel, [doc])["smoke"] == "fail"


@pytest.mark.parametrize(
    ("fixture", "item"),
    [
        ("wg105_bundled_provided_library", "one-runtime"),
        ("wg201_rpath_absolute", "search-paths"),
        ("wg501_record_mismatch", "integrity"),
    ],
)
def test_defects_fail_their_item(
    fixture_wheels: Mapping[str, BuiltFixture], fixture: str, item: str
) -> None:
    wheel = fixture_wheels[fixture].path
    (c,) = build_checklist([audit_wheel(wheel)])
    failed = {i.item.id for i in c.items if i.status == "fail"}
    assert item in failed
    text = render_checklist_markdown([c])
    assert f"- [ ] **{next(i.item.title for i in c.items if i.item.id == item)}**" in text


def test_unreadable_smoke_result_is_a_usage_error(
    fixture_wheels: Mapping[str, BuiltFixture], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    proc = run_wheelguard("report", fixture_wheels["clean"].path, "--smoke", bad)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_json_output_names_every_item(
    fixture_wheels: Mapping[str, BuiltFixture], tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    proc = run_wheelguard("report", "--format", "json", "-o", out,
                          fixture_wheels["wg201_rpath_absolute"].path)
    assert proc.returncode == 1
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["ready"] is False
    items = {i["id"]: i["status"] for i in doc["wheels"][0]["items"]}
    assert items["search-paths"] == "fail"
    assert doc["wheels"][0]["audit"]["findings"]

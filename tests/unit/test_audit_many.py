"""Many wheels at once: worker processes, and the order the wheels were given in.

``wheelguard audit dist/*.whl`` audits a release in worker processes, one per core; what it
reports must not depend on which wheel finished first, nor on whether a pool ran at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.cli import run_inprocess
from helpers.fixtures import BuiltFixture

from wheelguard import audit
from wheelguard.audit import AuditResult, audit_wheels
from wheelguard.errors import InvalidWheel
from wheelguard.model import Finding, Wheel

Wheels = Mapping[str, BuiltFixture]

_NAMES = ("clean", "wg201_rpath_absolute", "wg205_rpath_missing_dir", "clean")


@pytest.fixture
def release(fixture_wheels: Wheels, tmp_path: Path) -> list[Path]:
    """Four fixture wheels and, second, a file that is not a wheel."""
    broken = tmp_path / "broken-1.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    paths = [fixture_wheels[n].path for n in _NAMES]
    return [paths[0], broken, *paths[1:]]


@pytest.fixture
def always_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit, "_POOL_MIN_BYTES", 0)


def _summary(outcomes: list[AuditResult | InvalidWheel]) -> list[object]:
    return [o.reason if isinstance(o, InvalidWheel) else (o.wheel, o.findings, o.checked)
            for o in outcomes]


@pytest.mark.usefixtures("always_pool")
def test_a_pool_reports_in_the_given_order_what_a_serial_run_reports(
    release: list[Path]
) -> None:
    seen: list[int] = []
    started: list[bool] = []
    pooled = audit_wheels(release, jobs=2, each=seen.append,
                          started=lambda: started.append(True))
    serial = audit_wheels(release, jobs=1)
    assert _summary(pooled) == _summary(serial)
    assert isinstance(pooled[1], InvalidWheel)
    assert [o.wheel.path for o in pooled if isinstance(o, AuditResult)] == [
        str(p) for i, p in enumerate(release) if i != 1]
    assert sorted(seen) == list(range(len(release)))
    assert started == [True]


@pytest.mark.usefixtures("always_pool")
def test_the_policy_pass_runs_on_pooled_results(release: list[Path]) -> None:
    calls: list[str] = []

    def post(wheel: Wheel, findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
        calls.append(wheel.filename)  # a closure: it runs here, not in a worker
        return findings[:1]

    pooled = audit_wheels(release, jobs=2, post=post)
    results = [o for o in pooled if isinstance(o, AuditResult)]
    assert len(calls) == len(results) == 4
    assert all(len(r.findings) <= 1 and "policy" in r.given for r in results)


@pytest.mark.usefixtures("always_pool")
def test_cli_output_does_not_depend_on_jobs(release: list[Path]) -> None:
    docs = []
    for jobs in ("1", "2"):
        rc, out, _err = run_inprocess(["audit", "--format", "json", "-q", "--jobs", jobs,
                                       *map(str, release)])
        assert rc == 2  # the broken file
        doc = json.loads(out)
        doc["run"].pop("command")
        docs.append(doc)
    assert docs[0] == docs[1]

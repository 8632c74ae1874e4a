"""``wheelguard smoke --baseline``: two real wheels, each in a fresh environment of its own, the
workloads run in alternating processes, the verdict on the paired ratios.

The wheels are stand-ins for the sample project: a pure-Python ``tinykern`` whose ``gemm``
spins for a chosen time before returning the product, so the ``sample`` driver's CPU case
measures timings the test chose (1 ms against 5 ms), through the same environments, probe
processes and JSON as a GPU run. numpy comes from the host (``host_packages``).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from helpers.cli import run_wheelguard
from helpers.wheels import build_wheel

from wheelguard.smoke.options import SmokeOptions
from wheelguard.smoke.run import run_smoke

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "wheelguard" / "schemas" / "smoke-v2.json").read_text()
)
CPU_CASE = "sample cpu-aot 384x320x256"


def fake_tinykern(dest: Path, version: str, delay_s: float) -> Path:
    source = f"""import time
__version__ = {version!r}

def gemm(a, b):
    end = time.perf_counter() + {delay_s!r}
    while time.perf_counter() < end:  # spin: steadier than sleep on a busy machine
        pass
    return a @ b
"""
    return build_wheel(dest, {"tinykern/__init__.py": source.encode()}, name="tinykern",
                       version=version, tag="py3-none-any", requires_dist=["numpy"])


@pytest.fixture(autouse=True)
def one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy's BLAS threads spin after each call and compete with the timed code on a small
    CI box; one thread keeps the chosen timings what they were chosen to be."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "1")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("numpy")
    root = tmp_path_factory.mktemp("baseline")
    (root / "wheelhouse").mkdir()
    return {
        "wheelhouse": root / "wheelhouse",
        "fast": fake_tinykern(root / "fast", "1.0", 0.001),
        "slow": fake_tinykern(root / "slow", "1.1", 0.005),
    }


def test_slower_candidate_fails_the_gate(wheels: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    proc = run_wheelguard("smoke", wheels["slow"], "--baseline", wheels["fast"], "--wheelhouse",
                          wheels["wheelhouse"], "--host-packages", "--gemm", "sample",
                          "--layout", "venv", "--iterations", "5", "--warmup", "1",
                          "--json", out, "-q", timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    comparison = doc["comparison"]
    assert comparison["status"] == "regressed"
    assert doc["summary"]["baseline"] == "regressed"
    assert doc["summary"]["layouts"] == {"venv": "passed"}
    assert comparison["order"] == ["baseline", "candidate", "candidate", "baseline"] * 2 + [
        "baseline", "candidate"]
    workloads = {w["id"]: w for w in comparison["workloads"]}
    cpu = workloads[CPU_CASE]
    assert cpu["status"] == "regressed"
    assert {e["basis"] for e in cpu["estimates"]} == {"relative", "time"}
    assert len(cpu["ratios"]) == 5
    assert cpu["interval"][0] > 1.03
    assert workloads["sample cuda 4096x4096x4096"]["status"] == "skipped"
    jit = workloads["sample cpu-jit 384x320x256"]["samples"]  # skipped, but labelled by the host
    assert [(s["round"], s["cache"]) for s in jit if s["side"] == "candidate"] == [
        (0, "cold"), (1, "warm"), (2, "warm"), (3, "warm"), (4, "warm")]
    assert [(r["round"], r["side"]) for r in comparison["runs"]][:3] == [
        (0, "baseline"), (0, "candidate"), (1, "candidate")]
    envs = comparison["environments"]
    assert Path(envs["baseline"]["paths"]["prefix"]).parent.name == "compare-baseline"
    assert "baseline: regressed" in proc.stdout
    assert f"[FAIL] {CPU_CASE}" in proc.stdout


def test_faster_candidate_passes_the_gate(wheels: dict[str, Path]) -> None:
    result = run_smoke(SmokeOptions(
        wheel=wheels["fast"], baseline=wheels["slow"].parent, wheelhouses=(wheels["wheelhouse"],),
        host_packages=True, gemm=("sample",), layouts=("venv",), iterations=5, warmup=1))
    jsonschema.validate(result.to_json(), SCHEMA)
    assert result.status == "passed", result.failures
    assert result.comparison is not None
    assert result.comparison.baseline["version"] == "1.1"  # the directory's newest wheel
    verdict = {w.id: w for w in result.comparison.workloads}[CPU_CASE]
    assert verdict.status == "passed"
    assert verdict.ratio is not None
    assert verdict.ratio < 0.8


def test_baseline_missing_dependencies_make_the_gate_inconclusive(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    """The candidate installs; the baseline needs what no wheelhouse holds: nothing to compare
    against, and the run says why without installing it."""
    old = build_wheel(tmp_path, {"tinykern/__init__.py": b""}, name="tinykern", version="0.9",
                      tag="py3-none-any", requires_dist=["numpy", "wgabsent-a", "wgabsent-b"])
    result = run_smoke(SmokeOptions(
        wheel=wheels["fast"], baseline=old, wheelhouses=(wheels["wheelhouse"],),
        host_packages=True, layouts=("venv",), gemm=("sample",), iterations=3, warmup=0))
    assert result.layouts[0].status == "passed"
    assert result.comparison is not None
    assert result.comparison.status == "inconclusive"
    assert [m.requirement for m in result.missing] == ["wgabsent-a", "wgabsent-b"]
    assert "wgabsent-a" in result.comparison.message
    assert result.status == "failed"

"""``wheelguard repair`` on the tinykern sample wheels: every defect variant repaired.

For each variant the standard policies (default, tvm-ffi) plus tinykern's own project policy
can fix, the result must audit clean under the same policies, pass pypa's ``installer`` (RECORD
verified), install with pip into a fresh venv, import, compute its CPU GEMM correctly with
exactly one libtvm_ffi mapped, and come out byte-identical when repaired again. The variant that
compiles tvm-ffi's C ABI in cannot be repaired by any file operation: exit 3, nothing written.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import run_wheelguard
from helpers.repair_fixtures import assert_installable

from wheelguard.audit import audit_wheel
from wheelguard.policy.decide import assign_actions
from wheelguard.policy.load import load_policy
from wheelguard.policy.schema import PolicySet

# tinykern's own policy, composed after the shipped ones (later wins). The sample links cudart
# statically, so an entry into an nvidia package is never needed: drop it. The shipped default
# leaves such entries alone, since other projects dlopen CUDA libraries through them.
# The sample project ships its own release policy; the tests use the file users would.
TINYKERN_POLICY = Path(__file__).parents[2] / "sample_projects/tinykern/wheelguard.toml"

REPAIRED: dict[str, str] = {
    # variant -> a line the repair must print
    "bundle-ffi": "tinykern/lib/libtvm_ffi.so: dropped: apache-tvm-ffi provides it  [tvm-ffi#1]",
    "abs-rpath": "dropped (absolute)  [default#5]",
    "cwd-rpath": "RUNPATH entry 'tinykern/lib' dropped (cwd-relative)  [default#5]",
    "vendored-3rdparty": "tinykern/3rdparty/minigemm/ (8 files): dropped  [default#2]",
    "foreign-runpath": "dropped (undeclared-distribution)  [tinykern#1]",
    "debug": "tinykern/lib/libtinykern.so: debug sections stripped (strip --strip-debug)",
}

PROBE = """
import json, os, re
import numpy as np
import tinykern
rng = np.random.default_rng(1)
a = rng.standard_normal((61, 37), dtype=np.float32)
b = rng.standard_normal((37, 23), dtype=np.float32)
err = float(np.abs(tinykern.gemm(a, b) - a @ b).max())
with open("/proc/self/maps") as maps:
    paths = {line.split()[-1] for line in maps if "/" in line}
# libtvm_ffi.so or a grafted libtvm_ffi-1a2b3c4d.so; not libtvm_ffi_testing.so
runtime = re.compile(r"libtvm_ffi(?:-[0-9a-f]{8})?\\.so(?:\\.[0-9.]+)?")
mapped = sorted(p for p in paths if runtime.fullmatch(os.path.basename(p)))
print("PROBE " + json.dumps({"err": err, "mapped": mapped}))
"""


@pytest.fixture(scope="module")
def policy_args() -> list[str]:
    return ["--policy", "default", "--policy", "tvm-ffi", "--policy", str(TINYKERN_POLICY)]


def _policies(args: list[str]) -> PolicySet:
    from wheelguard.policy.load import load_policy_set

    names = [a for a in args if a != "--policy"]
    ps = load_policy_set(names, project_dir=Path.cwd())
    assert ps is not None
    return ps


def _repair(wheel: Path, out: Path, args: list[str]) -> tuple[Path, str]:
    proc = run_wheelguard("repair", *args, "-w", out, wheel)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (repaired,) = out.iterdir()
    return repaired, proc.stdout


@pytest.fixture(scope="module")
def repaired(
    sample_wheel: Callable[[str], Path],
    policy_args: list[str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], tuple[Path, str]]:
    """``repaired(variant)`` -> (repaired wheel, repair output), once per variant."""
    done: dict[str, tuple[Path, str]] = {}

    def get(variant: str) -> tuple[Path, str]:
        if variant not in done:
            out = tmp_path_factory.mktemp(f"repaired-{variant}")
            done[variant] = _repair(sample_wheel(variant), out, policy_args)
        return done[variant]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(REPAIRED))
def test_repaired_variant_audits_clean_and_verifies(
    variant: str,
    repaired: Callable[[str], tuple[Path, str]],
    policy_args: list[str],
    tmp_path: Path,
) -> None:
    wheel, output = repaired(variant)
    assert REPAIRED[variant] in output
    result = audit_wheel(wheel, post=assign_actions(_policies(policy_args)))
    # The pip-built sample is linux_x86_64; default's retag rule gives it its manylinux tag.
    assert "manylinux_2_" in wheel.name
    assert "linux_x86_64" not in wheel.name.split("-")[-1]
    live = [(f.check, f.path, f.message) for f in result.findings if f.waived is None]
    assert live == []
    assert_installable(wheel, tmp_path / "installer")
    with zipfile.ZipFile(wheel) as zf:
        log = json.loads(zf.read("tinykern-0.1.0.dist-info/wheelguard.json"))
    assert len(log["repairs"]) == 1


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(REPAIRED))
def test_repairing_twice_is_byte_identical(
    variant: str,
    repaired: Callable[[str], tuple[Path, str]],
    policy_args: list[str],
    tmp_path: Path,
) -> None:
    wheel, _ = repaired(variant)
    again, output = _repair(wheel, tmp_path / "again", policy_args)
    assert "no policy edits" in output
    assert again.read_bytes() == wheel.read_bytes()


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize("variant", sorted(REPAIRED))
def test_repaired_variant_installs_imports_and_computes(
    variant: str,
    repaired: Callable[[str], tuple[Path, str]],
    make_venv: Callable[..., Any],
) -> None:
    wheel, _ = repaired(variant)
    venv = make_venv(wheel)
    proc = venv.run(PROBE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("PROBE "))
    report = json.loads(line.removeprefix("PROBE "))
    assert report["err"] < 1e-3
    assert len(report["mapped"]) == 1, report["mapped"]
    assert re.search(r"/tvm_ffi/lib/libtvm_ffi\.so$", report["mapped"][0])


@pytest.mark.slow
def test_embedded_runtime_variant_is_refused(
    sample_wheel: Callable[[str], Path], policy_args: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = run_wheelguard("repair", *policy_args, "-w", out, sample_wheel("embed-ffi"))
    assert proc.returncode == 3
    assert "tinykern/lib/libtinykern_runtime.so" in proc.stderr
    assert "WG104 embedded-runtime-abi" in proc.stderr
    assert not out.exists() or not list(out.iterdir())


@pytest.mark.slow
def test_clean_variant_needs_no_edit(
    sample_wheel: Callable[[str], Path], policy_args: list[str], tmp_path: Path
) -> None:
    wheel, output = _repair(sample_wheel("clean"), tmp_path / "out", policy_args)
    # Its one edit is the tag (pip builds linux_x86_64): nothing in the archive but WHEEL,
    # RECORD and the repair log changes.
    assert "platform tag linux_x86_64 -> manylinux_2_" in output
    with zipfile.ZipFile(sample_wheel("clean")) as before, zipfile.ZipFile(wheel) as after:
        changed = {n for n in after.namelist() if n not in before.namelist()
                   or before.read(n) != after.read(n)}
    assert changed == {"tinykern-0.1.0.dist-info/WHEEL", "tinykern-0.1.0.dist-info/RECORD",
                       "tinykern-0.1.0.dist-info/wheelguard.json"}
    assert_installable(wheel, tmp_path / "installer")
    assert load_policy("tvm-ffi").rules  # the preload is already in tinykern/__init__.py

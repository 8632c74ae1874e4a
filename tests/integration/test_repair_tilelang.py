"""The shipped tilelang policy on the published tilelang 0.1.15 wheel (pinned, sha256-checked).

The repaired wheel must have lost TVM's and tilelang's C++ sources, CUTLASS's tools and every
VCS file, must still hold every tree tilelang reads at run time, file for file, must be smaller,
must pass pypa's installer (RECORD verified) and ``pip install --no-deps`` into a fresh venv,
and must come out byte-identical when repaired again.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.cli import run_wheelguard
from helpers.repair_fixtures import assert_installable

from wheelguard.audit import audit_wheel
from wheelguard.policy.decide import assign_actions
from wheelguard.policy.load import load_policy
from wheelguard.policy.schema import PolicySet

KEPT = (
    "tilelang/3rdparty/tvm/python/",
    "tilelang/3rdparty/tvm/include/",
    "tilelang/3rdparty/cutlass/include/cutlass/",
    "tilelang/3rdparty/cutlass/include/cute/",
    "tilelang/src/tl_templates/",
)
GONE = (
    "tilelang/3rdparty/tvm/src/",
    "tilelang/3rdparty/cutlass/tools/",
)
SOURCES = (".cc", ".cpp", ".cu", ".c", ".mm")

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def tilelang_pair(
    published_wheel: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    original = published_wheel("tilelang")
    out = tmp_path_factory.mktemp("tilelang-repaired")
    proc = run_wheelguard("repair", "--policy", "tilelang", "-w", out, original, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "tilelang/3rdparty/tvm/src/" in proc.stdout
    (repaired,) = out.iterdir()
    assert repaired.name == original.name
    return original, repaired


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return {n for n in zf.namelist() if not n.endswith("/")}


def test_sources_tools_and_vcs_files_are_gone(tilelang_pair: tuple[Path, Path]) -> None:
    original, repaired = tilelang_pair
    before, after = _names(original), _names(repaired)
    assert any(n.startswith(GONE) for n in before), "the published wheel ships them"
    assert not any(n.startswith(GONE) for n in after)
    assert not [n for n in after if n.endswith(SOURCES)]
    assert not [n for n in after if n.rsplit("/", 1)[-1].startswith(".git")]
    assert not [n for n in after if n.startswith("tilelang/src/")
                and not n.startswith("tilelang/src/tl_templates/")]


def test_every_kept_tree_is_still_there(tilelang_pair: tuple[Path, Path]) -> None:
    original, repaired = tilelang_pair
    before, after = _names(original), _names(repaired)
    for tree in KEPT:
        wanted = {n for n in before if n.startswith(tree)
                  and not n.rsplit("/", 1)[-1].startswith(".git")}
        assert wanted, f"{tree} is not in the published wheel"
        assert wanted <= after, f"{tree}: {sorted(wanted - after)[:5]}"
    # and everything outside the vendored trees and src/ is untouched
    outside = {n for n in before if not n.startswith(("tilelang/3rdparty/", "tilelang/src/"))}
    assert outside - after == set()


def test_smaller_verified_and_audits_without_build_trees(
    tilelang_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    original, repaired = tilelang_pair
    assert repaired.stat().st_size < original.stat().st_size
    assert_installable(repaired, tmp_path / "installer")
    ps = PolicySet((load_policy("tilelang"),))
    result = audit_wheel(repaired, post=assign_actions(ps))
    assert not [f for f in result.findings if f.check in ("WG401", "WG402", "WG501")]


def test_pip_installs_it_into_a_fresh_venv(
    tilelang_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    _, repaired = tilelang_pair
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-compile", "--disable-pip-version-check", "-q", str(repaired)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    site = next((venv / "lib").glob("python3*/site-packages"))
    for tree in KEPT:
        assert (site / tree).is_dir(), tree
    assert not (site / "tilelang/3rdparty/tvm/src").exists()


def test_repairing_again_is_byte_identical(
    tilelang_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    _, repaired = tilelang_pair
    proc = run_wheelguard("repair", "--policy", "tilelang", "-w", tmp_path, repaired,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / repaired.name).read_bytes() == repaired.read_bytes()

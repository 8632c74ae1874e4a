"""``wheelguard fix-source`` on the tinykern sample: the loop closed for every field defect.

For each defect variant: the patch proposed against a copy of the project, applied with
``--write`` and rebuilt with the variant's own build settings, gives a wheel that audits clean
under the same policy (the project's ``[tool.wheelguard]``), and fix-source on the rebuilt
wheel proposes nothing more. The rebuilds go through ``ci/build_samples.py``'s cache, keyed by
the patched sources, so each fixed variant is built once per machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from helpers.cli import run_wheelguard

from wheelguard.audit import audit_wheel
from wheelguard.fixsource import propose
from wheelguard.policy.decide import assign_actions
from wheelguard.policy.load import load_policy_set
from wheelguard.policy.schema import PolicySet
from wheelguard.repair.write import repair_wheel

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "sample_projects" / "tinykern"
DOC = REPO / "docs" / "fix-source.md"
DEFECTS = ("bundle-ffi", "embed-ffi", "abs-rpath", "cwd-rpath", "vendored-3rdparty",
           "foreign-runpath", "debug")

# What each patch must touch: the file, and a line of the diff that says the fix was found at
# the source (not a generic fallback).
EXPECTED: dict[str, tuple[str, str]] = {
    "bundle-ffi": ("pyproject.toml", '+    "tinykern/lib/libtvm_ffi.so",'),
    "embed-ffi": ("CMakeLists.txt", "+  target_link_libraries(tinykern PRIVATE tvm_ffi::shared)"),
    "abs-rpath": ("CMakeLists.txt", "+      SKIP_BUILD_RPATH OFF BUILD_WITH_INSTALL_RPATH OFF "
                  "INSTALL_RPATH_USE_LINK_PATH OFF"),
    "cwd-rpath": ("CMakeLists.txt", '+set(TINYKERN_CWD_RPATH_ENTRY "" CACHE STRING'),
    "vendored-3rdparty": ("pyproject.toml", '+    "tinykern/3rdparty/minigemm/src/",'),
    "foreign-runpath": ("CMakeLists.txt", '+set(TINYKERN_FOREIGN_RUNPATH_ENTRY "" CACHE STRING'),
    "debug": ("CMakeLists.txt", "-  target_compile_options(tinykern PRIVATE -g)"),
}


def _copy_project(dest: Path) -> Path:
    shutil.copytree(PROJECT, dest, ignore=shutil.ignore_patterns("build", "dist", "__pycache__"))
    return dest


def _policies(project: Path) -> PolicySet:
    policies = load_policy_set([], project_dir=project)
    assert policies is not None, "the sample names its policies in [tool.wheelguard]"
    return policies


def _live(wheel: Path, policies: PolicySet) -> list[str]:
    result = audit_wheel(wheel, post=assign_actions(policies))
    return [f"{f.check} {f.path}: {f.message}" for f in result.findings if f.waived is None]


def test_every_defect_variant_is_covered(sample_builder: ModuleType) -> None:
    assert set(DEFECTS) == set(sample_builder.VARIANTS) - {"clean"}
    assert set(EXPECTED) == set(DEFECTS)


@pytest.mark.parametrize("variant", DEFECTS)
def test_patch_is_found_at_the_source(variant: str, sample_wheel: Callable[[str], Path],
                                      tmp_path: Path) -> None:
    """The proposal alone (no rebuild): which file, which line, and nothing left to a person."""
    project = _copy_project(tmp_path / "tinykern")
    fix = propose(sample_wheel(variant), project, _policies(project))
    assert not fix.instructions, fix.instructions
    file, line = EXPECTED[variant]
    assert fix.files == (file,)
    assert line in fix.diff.splitlines(), fix.diff
    # The diff is a real patch: it applies to a pristine copy and gives what --write gives.
    pristine = _copy_project(tmp_path / "pristine")
    applied = subprocess.run(["git", "apply", "-p1", "-"], cwd=pristine, input=fix.diff,
                             text=True, capture_output=True, check=False)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    fix.apply()
    assert (pristine / file).read_text() == (project / file).read_text()
    # docs/fix-source.md shows this very patch.
    shown = re.search(rf"<!-- fix-source:{re.escape(variant)} -->\n```diff\n(.*?)```",
                      DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert shown is not None, f"docs/fix-source.md has no patch for {variant}"
    assert shown.group(1) == fix.diff, "docs/fix-source.md is stale: regenerate the patch"


@pytest.mark.slow
@pytest.mark.parametrize("variant", DEFECTS)
def test_patched_project_rebuilds_clean(variant: str, sample_wheel: Callable[[str], Path],
                                        sample_builder: ModuleType, tmp_path: Path) -> None:
    defect = sample_wheel(variant)
    project = _copy_project(tmp_path / "tinykern")
    policies = _policies(project)
    assert _live(defect, policies), f"{variant}: the defect wheel should not audit clean"

    proc = run_wheelguard("fix-source", defect, "--project", project, "--write")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "# written:" in proc.stdout

    rebuilt = sample_builder.build_variant(variant, project_dir=project, log=print)
    again = propose(rebuilt.path, project, policies)
    assert again.clean, again.to_json()
    # A release build ends with the repair step (cibuildwheel's repair-wheel-command): for the
    # fixed project it has nothing left to do but give the pip-built linux_x86_64 wheel its
    # manylinux tag, and the result audits clean.
    released = repair_wheel(rebuilt.path, tmp_path / "released", policies, env={})
    assert {s.action for s in released.steps} == {"retag"}, released.steps
    assert released.output is not None
    assert _live(released.output, policies) == []

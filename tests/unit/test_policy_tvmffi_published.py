"""The provider's own wheel: apache-tvm-ffi ships its sources and CMake package on purpose, and
its Cython module's one TVMFFI*-named helper is no second runtime. Under the shipped tvm-ffi
policy the published wheel must audit clean, or the policy would be unusable for the one
project it names."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from wheelguard.audit import audit_wheel
from wheelguard.policy.decide import assign_actions
from wheelguard.policy.load import load_policy_set

pytestmark = pytest.mark.network


def test_published_tvm_ffi_is_clean_under_its_policy(
    published_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    wheel = published_wheel("apache-tvm-ffi")
    plain = audit_wheel(wheel)
    assert {f.check for f in plain.findings} >= {"WG401", "WG402"}
    assert "WG104" not in {f.check for f in plain.findings}
    policies = load_policy_set(["tvm-ffi"], project_dir=tmp_path)
    assert policies is not None
    result = audit_wheel(wheel, post=assign_actions(policies))
    live = [f for f in result.findings if f.waived is None]
    assert live == []
    assert all(f.action == "keep" for f in result.findings)

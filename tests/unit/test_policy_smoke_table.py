"""A policy may carry the ``[smoke]`` table ``wheelguard smoke`` reads; the policy loader
accepts it and reports a bad one like any other policy problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from wheelguard.errors import InvalidPolicy
from wheelguard.policy.load import parse_policy


def test_smoke_table_is_accepted() -> None:
    policy = parse_policy(
        '[policy]\nname = "p"\n[smoke]\ngemm = ["sample"]\nlayouts = ["venv", "target"]\n',
        source="p.toml",
    )
    assert policy.rules == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('layout = ["venv"]', "did you mean 'layouts'"),
        ('gemm = ["cublas"]', "is not one of"),
    ],
)
def test_bad_smoke_table_is_a_policy_error(table: str, message: str) -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy(f'[policy]\nname = "p"\n[smoke]\n{table}\n', source="p.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("p.toml")


def test_smoke_finds_the_policies_of_the_nearest_project_table(tmp_path: Path) -> None:
    """``wheelguard smoke`` reads ``[tool.wheelguard] policies`` as audit and repair do: from
    the working directory upwards, relative to the table's file; ``--isolated`` skips it."""
    import subprocess
    import sys

    (tmp_path / "pyproject.toml").write_text('[tool.wheelguard]\npolicies = ["ci/p.toml"]\n',
                                             encoding="utf-8")
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "p.toml").write_text(
        '[policy]\nname = "p"\n[smoke]\nlayouts = ["nowhere"]\n', encoding="utf-8")
    sub = tmp_path / "build" / "deep"
    sub.mkdir(parents=True)

    def smoke(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "wheelguard", "smoke", *extra,
                               "--wheelhouse", str(tmp_path), "missing-1.0-py3-none-any.whl"],
                              cwd=sub, check=False,
                              capture_output=True, text=True, timeout=120)

    found = smoke()
    assert found.returncode == 2
    assert "p.toml" in found.stderr
    assert "nowhere" in found.stderr
    skipped = smoke("--isolated")
    assert skipped.returncode == 2
    assert "no wheel at" in skipped.stderr

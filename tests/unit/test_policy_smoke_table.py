"""A policy may carry the ``[smoke]`` table ``wheelguard smoke`` reads; the policy loader
accepts it and reports a bad one like any other policy problem."""

from __future__ import annotations

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

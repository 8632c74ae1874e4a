"""Policy files (placeholder interface until the policy issue lands: no policy, no actions)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .audit import FindingFilter
from .errors import UsageError

__all__ = ["load_policy_set"]


class _NoPolicies:
    assign: FindingFilter


def load_policy_set(names: Sequence[str], *, project_dir: Path) -> _NoPolicies | None:
    if names:
        raise UsageError("policy files are not supported yet")
    del project_dir
    return None

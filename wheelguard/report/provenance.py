"""What a report was judged under: tool, Python, command line, configuration, policies.

Every output carries it (text as one line, JSON/SARIF/JUnit/checklists as fields), so a report
read weeks later, or a gate that passed where it should not have, can be traced to the
policies and settings that were in force. Built once by the CLI; renderers only read it.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

from wheelguard import __version__
from wheelguard.config import ProjectConfig
from wheelguard.model import Severity

__all__ = ["PolicyInfo", "RunInfo"]


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    name: str
    source: str
    sha256: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    command: tuple[str, ...] = ()
    """The command line as given (``wheelguard audit ...``)."""
    config: ProjectConfig = field(default_factory=ProjectConfig)
    policies: tuple[PolicyInfo, ...] = ()
    fail_on: Severity | None = Severity.ERROR
    linkage: str | None = None
    """Where dependency wheels came from (``--wheelhouse DIR``, ``--download``); None: the
    linkage checks did not run."""
    baseline: str | None = None
    tool_version: str = __version__
    python: str = field(
        default_factory=lambda: f"{platform.python_implementation()} {platform.python_version()}")

    @property
    def fail_on_label(self) -> str:
        return self.fail_on.label if self.fail_on is not None else "never"

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": {"name": "wheelguard", "version": self.tool_version},
            "python": self.python,
            "command": list(self.command),
            "config": self.config.to_json(),
            "policies": [{"name": p.name, "source": p.source, "sha256": p.sha256}
                         for p in self.policies],
            "fail_on": self.fail_on_label,
            "linkage": self.linkage,
            "baseline": self.baseline,
        }

    def policy_text(self) -> str:
        if not self.policies:
            return "none"
        return ", ".join(f"{p.name} (sha256 {p.sha256[:12]})" for p in self.policies)

    def line(self) -> str:
        """One line for logs: everything a reader needs to reproduce the verdict."""
        parts = [f"wheelguard {self.tool_version}", self.python,
                 f"config: {self.config.describe()}", f"policies: {self.policy_text()}",
                 f"fail-on: {self.fail_on_label}",
                 f"linkage: {self.linkage or 'not checked (no --wheelhouse/--download)'}"]
        if self.baseline:
            parts.append(f"baseline: {self.baseline}")
        return "; ".join(parts)

"""Fix at the source: the build-configuration change that makes the next wheel audit clean.

``wheelguard repair`` carries a policy's decisions out on one artifact; the next build ships
the same defects again. :func:`propose` audits a wheel, takes the same decisions
(:mod:`wheelguard.fixsource.needs`), reads the project's build configuration and returns a
:class:`SourceFix`: edits of ``pyproject.toml`` and CMake files as a unified diff, plus
instructions (file and line) for what no edit can express. Nothing is written unless
:meth:`SourceFix.apply` is called, and only inside the project (:mod:`.project`).

Typical use::

    fix = propose("dist/pkg.whl", Path("."), policies)
    print(fix.diff)
    fix.apply()  # what `wheelguard fix-source --write` does
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheelguard.fixsource.patch import (
    Edit,
    Instruction,
    apply_edits,
    summarize_patch,
    unified_diff,
)
from wheelguard.fixsource.project import BuildSystem, Project, ProjectError
from wheelguard.model import freeze_mapping
from wheelguard.policy.schema import PolicySet

__all__ = ["Edit", "Instruction", "ProjectError", "SourceFix", "propose", "summarize_patch"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceFix:
    """The proposed change of one project for one wheel; immutable, applied on request."""

    wheel: str
    project: Project
    build: BuildSystem
    policies: tuple[str, ...]
    edits: tuple[Edit, ...]
    instructions: tuple[Instruction, ...]
    notes: tuple[str, ...]
    defects: int
    """Findings the policy decides to act on, or leaves open: what the fix is about."""
    originals: Mapping[str, str]
    """The edited files as they were read: the diff stays the same after :meth:`apply`."""

    def new_texts(self) -> dict[str, str]:
        return apply_edits(self.originals, self.edits)

    @property
    def diff(self) -> str:
        return unified_diff(self.originals, self.new_texts())

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(sorted({e.file for e in self.edits}))

    @property
    def clean(self) -> bool:
        """Nothing to change and nothing left to a person."""
        return not self.edits and not self.instructions

    def apply(self) -> tuple[str, ...]:
        """Write every edited file (atomically, refusing symlinks, files outside the project
        and files changed since they were read). Returns the files written."""
        written = []
        for file, text in sorted(self.new_texts().items()):
            self.project.write_text(file, text)
            written.append(file)
        return tuple(written)

    def summary(self) -> str:
        """One line for the release checklist."""
        if self.clean:
            return f"{self.wheel}: the build configuration needs no change"
        parts = []
        if self.edits:
            parts.append(f"{len(self.edits)} edit(s) in {', '.join(self.files)}")
        if self.instructions:
            parts.append(f"{len(self.instructions)} instruction(s)")
        return f"{self.wheel}: " + ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "wheel": self.wheel,
            "project": str(self.project.root),
            "build": self.build,
            "policies": list(self.policies),
            "clean": self.clean,
            "summary": self.summary(),
            "edits": [e.to_json() for e in sorted(self.edits, key=lambda e: (e.file, e.start))],
            "diff": self.diff,
            "instructions": [i.to_json() for i in self.instructions],
            "notes": list(self.notes),
        }


def propose(wheel: str | Path, project_dir: str | Path, policies: PolicySet, *,
            python: str | None = None) -> SourceFix:
    """Audit ``wheel``, decide under ``policies``, and propose the change of ``project_dir``."""
    from wheelguard.audit import AuditOptions, audit_wheel
    from wheelguard.fixsource.build_fix import Parts, fix_skbuild, open_instructions
    from wheelguard.fixsource.needs import source_needs
    from wheelguard.fixsource.setuptools_fix import fix_setuptools

    project = Project.open(project_dir)
    result = audit_wheel(wheel, AuditOptions(python=python))
    needs = source_needs(result.context, result.findings, policies)
    build = project.build_system()
    if needs.empty:
        parts = Parts()
    elif build == "scikit-build-core":
        parts = fix_skbuild(project, needs)
    elif build == "setuptools":
        parts = fix_setuptools(project, needs)
    else:
        parts = Parts(notes=[f"build system {build!r}: only instructions can be given"])
        parts.instructions += [Instruction(text=f"{len(needs.removed)} files must not ship")] \
            if needs.removed else []
        parts.instructions += open_instructions(needs, (), sites=[])
    for refused in project.refused:
        parts.notes.append(f"not read: {refused}")
    defects = len(needs.removed) + len(needs.entries) + len(needs.debug) + len(needs.unembed) \
        + len(needs.open) + len(needs.requirements)
    originals = freeze_mapping({e.file: project.read_text(e.file) or "" for e in parts.edits})
    return SourceFix(
        wheel=Path(wheel).name, project=project, build=build, originals=originals,
        policies=policies.names, edits=tuple(parts.edits),
        instructions=tuple(dict.fromkeys(parts.instructions)),
        notes=tuple(dict.fromkeys(parts.notes)), defects=defects,
    )

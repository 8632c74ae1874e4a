"""What the wheelhouses lack: every missing dependency, found in one pass before pip runs.

pip stops at the first requirement it cannot satisfy, so a wheelhouse missing three wheels costs
three failed smoke runs. This pass walks the Requires-Dist of the wheels under test and, for
each requirement that applies (markers evaluated for the base interpreter), looks for a wheel
in the wheelhouses that matches its name, its version specifier and the interpreter's tags,
following the chosen wheel's own requirements, or for a distribution the environments already
see (the host's packages with ``--host-packages``). Everything that finds neither is reported
at once.

It is a single greedy pass (the highest matching version, no backtracking), not a resolver:
it cannot see a conflict between two requirements on one name; pip still decides that. When
the base interpreter cannot say which tags it supports (no ``packaging`` and no pip there),
wheels are matched on name and version only, which errs on the side of letting pip run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import Version

from wheelguard.errors import InvalidWheel, UsageError
from wheelguard.reading.archive import WheelArchive

__all__ = ["Missing", "missing_dependencies", "pick_baseline"]


@dataclass(frozen=True, slots=True)
class Missing:
    """A requirement that neither the wheelhouses nor the environment can satisfy."""

    requirement: str
    required_by: str
    available: tuple[str, ...] = ()
    """Versions of that name the wheelhouses hold that do not fit (version or tags)."""
    installed: str | None = None
    """The version the environment already sees, when it does not satisfy the requirement."""

    def describe(self) -> str:
        notes = []
        if self.available:
            notes.append("the wheelhouse has " + ", ".join(self.available))
        if self.installed:
            notes.append(f"the host has {self.installed}")
        tail = f"; {'; '.join(notes)}" if notes else ""
        return f"{self.requirement} (required by {self.required_by}{tail})"

    def to_json(self) -> dict[str, object]:
        return {"requirement": self.requirement, "required_by": self.required_by,
                "available": list(self.available), "installed": self.installed}


@dataclass(frozen=True, slots=True)
class _Offer:
    name: NormalizedName
    version: Version
    path: Path
    fits: bool
    """Its tags are among the interpreter's (or the tags are unknown)."""


def _offers(wheelhouses: Iterable[Path], tags: frozenset[str] | None) -> dict[str, list[_Offer]]:
    out: dict[str, list[_Offer]] = {}
    for wheelhouse in wheelhouses:
        for path in sorted(wheelhouse.glob("*.whl")):
            try:
                name, version, _build, wheel_tags = parse_wheel_filename(path.name)
            except (InvalidWheelFilename, ValueError):
                continue
            fits = tags is None or any(str(t) in tags for t in wheel_tags)
            out.setdefault(name, []).append(_Offer(name, version, path, fits))
    return out


def _requires(path: Path) -> tuple[str, list[Requirement]]:
    """(``name version``, Requires-Dist) of a wheel, read from its METADATA alone."""
    with WheelArchive(path) as archive:
        metadata = next((n for n in archive.names() if n.count("/") == 1
                         and n.endswith(".dist-info/METADATA")), None)
        if metadata is None:
            raise InvalidWheel(str(path), "no .dist-info/METADATA")
        raw, _unparsed = parse_email(archive.read(metadata))
    requires = []
    for text in raw.get("requires_dist", []):
        with contextlib.suppress(InvalidRequirement):
            requires.append(Requirement(text))
    return f"{raw.get('name', path.name)} {raw.get('version', '?')}", requires


def _applies(req: Requirement, markers: Mapping[str, str], extras: Iterable[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**markers, "extra": extra}) for extra in (*extras, ""))


def missing_dependencies(
    wheels: Sequence[tuple[Path, str]], wheelhouses: Sequence[Path], *,
    markers: Mapping[str, str], tags: frozenset[str] | None,
    installed: Mapping[str, str] | None = None,
) -> tuple[Missing, ...]:
    """Every requirement of ``wheels`` ((path, label) pairs: the wheels under test), and of the
    dependency wheels chosen for them, that nothing satisfies."""
    offers = _offers(wheelhouses, tags)
    seen_installed = {canonicalize_name(k): v for k, v in (installed or {}).items()}
    done: set[NormalizedName] = set()
    missing: list[Missing] = []
    queue: list[tuple[Requirement, str]] = []
    for path, label in wheels:
        _name, requires = _requires(path)
        queue += [(req, label) for req in requires if _applies(req, markers, ())]
    while queue:
        req, required_by = queue.pop(0)
        name = canonicalize_name(req.name)
        if name in done:
            continue
        done.add(name)
        have = seen_installed.get(name)
        if have is not None and req.specifier.contains(have, prereleases=True):
            continue
        fitting = [o for o in offers.get(name, ()) if o.fits]
        versions = list(req.specifier.filter(o.version for o in fitting))
        if not versions:
            missing.append(Missing(
                requirement=str(req), required_by=required_by,
                available=tuple(sorted({str(o.version) + ("" if o.fits else " (other tags)")
                                        for o in offers.get(name, ())})),
                installed=have))
            continue
        best = max(versions)
        offer = next(o for o in fitting if o.version == best)
        try:
            label, requires = _requires(offer.path)
        except InvalidWheel:
            continue  # pip will say what is wrong with it
        queue += [(dep, label) for dep in requires if _applies(dep, markers, req.extras)]
    return tuple(missing)


def pick_baseline(directory: Path, name: NormalizedName) -> Path:
    """The newest wheel of ``name`` in ``directory`` (a baseline wheelhouse: the last release
    the candidate is compared with). Several files of that version (platforms) are refused:
    the caller names one."""
    found: list[tuple[Version, Path]] = []
    for path in sorted(directory.glob("*.whl")):
        with contextlib.suppress(InvalidWheelFilename, ValueError):
            wheel_name, version, _build, _tags = parse_wheel_filename(path.name)
            if wheel_name == name:
                found.append((version, path))
    if not found:
        raise UsageError(f"--baseline {directory}: no wheel of {name} there")
    newest = max(version for version, _ in found)
    paths = [path for version, path in found if version == newest]
    if len(paths) > 1:
        raise UsageError(f"--baseline {directory}: several {name} {newest} wheels "
                         f"({', '.join(p.name for p in paths)}); name one")
    return paths[0]

"""The project directory a source fix reads and may write: nothing outside it, no symlinks.

A patch that edits a file outside the project, or follows a symlink out of it, changes
something the reviewer never asked about. Every path the source fix touches goes through
:class:`Project`, which refuses ``..``, absolute paths and symlinked components, and writes
only files it read (atomically, and only when they still hold what was read).
"""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wheelguard._compat import tomllib
from wheelguard.errors import UsageError, WheelguardError
from wheelguard.util.fs import atomic_write_text

__all__ = ["BuildSystem", "Project", "ProjectError"]

BuildSystem = Literal["scikit-build-core", "setuptools", "other", "none"]

MAX_FILE_BYTES = 4 << 20


class ProjectError(WheelguardError, ValueError):
    """A path would leave the project, is a symlink, or a file changed under us."""


@dataclass
class Project:
    """A build-configuration tree, read lazily; texts are cached so edits see what was read."""

    root: Path
    _texts: dict[str, str] = field(default_factory=dict, repr=False)
    _refused: list[str] = field(default_factory=list, repr=False)

    @classmethod
    def open(cls, directory: str | Path) -> Project:
        path = Path(directory)
        if not path.is_dir():
            raise UsageError(f"--project {directory}: not a directory")
        return cls(path.resolve())

    # ---- paths ----------------------------------------------------------------------------

    def _checked(self, rel: str) -> Path:
        """The file for project-relative ``rel``; ProjectError when it would leave the project
        or pass through a symlink."""
        if not rel or rel.startswith("/") or "\\" in rel:
            raise ProjectError(f"{rel!r}: not a project-relative path")
        norm = posixpath.normpath(rel)
        if norm == ".." or norm.startswith("../") or norm == ".":
            raise ProjectError(f"{rel!r}: outside the project {self.root}")
        current = self.root
        for part in norm.split("/"):
            current = current / part
            if current.is_symlink():
                raise ProjectError(f"{rel}: {current.relative_to(self.root)} is a symlink; "
                                   "wheelguard reads and edits only files inside the project")
        if not current.resolve().is_relative_to(self.root):
            raise ProjectError(f"{rel!r}: outside the project {self.root}")
        return current

    def is_file(self, rel: str) -> bool:
        try:
            return self._checked(rel).is_file()
        except ProjectError:
            return False

    def is_dir(self, rel: str) -> bool:
        if rel in ("", "."):
            return True
        try:
            return self._checked(rel).is_dir()
        except ProjectError:
            return False

    @property
    def refused(self) -> tuple[str, ...]:
        """Files the build names that were not read (symlinks, outside the project)."""
        return tuple(self._refused)

    def read_text(self, rel: str) -> str | None:
        """The text of ``rel``, or None if it does not exist; symlinks and escapes are recorded
        in :attr:`refused` and read as absent."""
        if rel in self._texts:
            return self._texts[rel]
        try:
            path = self._checked(rel)
        except ProjectError as e:
            self._refused.append(str(e))
            return None
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            self._refused.append(f"{rel}: larger than {MAX_FILE_BYTES} bytes, not read")
            return None
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        self._texts[rel] = text
        return text

    def write_text(self, rel: str, new: str) -> None:
        """Replace a file this project read, atomically, if it still holds what was read."""
        old = self._texts.get(rel)
        if old is None:
            raise ProjectError(f"{rel}: not read by this fix; refusing to write it")
        path = self._checked(rel)
        current = path.read_text(encoding="utf-8", errors="surrogateescape")
        if _digest(current) != _digest(old):
            raise ProjectError(f"{rel}: changed since it was read; run fix-source again")
        atomic_write_text(path, new)
        self._texts[rel] = new

    # ---- what kind of build ---------------------------------------------------------------

    def pyproject(self) -> dict[str, Any]:
        text = self.read_text("pyproject.toml")
        if text is None:
            return {}
        try:
            data: dict[str, Any] = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"{self.root / 'pyproject.toml'}: not valid TOML ({e})") from None
        return data

    def build_system(self) -> BuildSystem:
        data = self.pyproject()
        backend = str(data.get("build-system", {}).get("build-backend", ""))
        if backend.startswith("scikit_build_core") or "scikit-build" in data.get("tool", {}):
            return "scikit-build-core"
        if backend.startswith("setuptools") or self.is_file("setup.py") \
                or self.is_file("setup.cfg"):
            return "setuptools"
        if backend or data:
            return "other"
        return "none"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).hexdigest()

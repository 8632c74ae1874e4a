"""Session fixtures for tests that need real wheels: the tinykern sample variants, a wheelhouse of
pinned dependencies, and throw-away virtual environments to install them into.

Builds go through ``ci/build_samples.py`` and its content-hashed cache, so a session builds each
variant at most once and a second session builds nothing.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest
from packaging.utils import canonicalize_name, parse_wheel_filename

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_builder() -> ModuleType:
    """Import ci/build_samples.py by path: ci/ is a directory of scripts, not a package."""
    path = REPO_ROOT / "ci" / "build_samples.py"
    spec = importlib.util.spec_from_file_location("wheelguard_ci_build_samples", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def sample_builder() -> ModuleType:
    """The ci/build_samples.py module (VARIANTS, build_variant, cache_root)."""
    return _load_builder()


@pytest.fixture(scope="session")
def sample_wheel(sample_builder: ModuleType) -> Callable[[str], Path]:
    """``sample_wheel(variant)`` -> path of that variant's wheel, built once per session."""
    built: dict[str, Path] = {}

    def get(variant: str) -> Path:
        if variant not in built:
            wheel = sample_builder.build_variant(variant, log=print)
            built[variant] = wheel.path
        return built[variant]

    return get


@pytest.fixture(scope="session")
def sample_cuda(sample_builder: ModuleType) -> bool:
    """Whether the clean wheel of this session carries the CUDA kernel."""
    return bool(sample_builder.resolve_cuda(sample_builder.VARIANTS["clean"]))


def pinned_versions() -> dict[str, str]:
    """Dependency versions for installed samples: this interpreter's, which built them."""
    return {
        name: metadata.version(name) for name in ("apache-tvm-ffi", "numpy", "typing-extensions")
    }


@dataclass(frozen=True)
class Wheelhouse:
    """A directory of dependency wheels for this interpreter, filled on demand and kept.

    Installing from it with ``--no-index`` keeps the venv tests independent of whatever else
    the registry holds, and still checks that the sample's Requires-Dist resolves.
    """

    path: Path

    def ensure(self, name: str, version: str) -> None:
        """Download ``name==version`` (no dependencies) unless a wheel of it is already here."""
        for wheel in self.path.glob("*.whl"):
            wheel_name, wheel_version, _, _ = parse_wheel_filename(wheel.name)
            if wheel_name == canonicalize_name(name) and str(wheel_version) == version:
                return
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "-q", "-d", str(self.path), f"{name}=={version}",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"could not download {name}=={version}:\n{result.stderr[-2000:]}")


@pytest.fixture(scope="session")
def wheelhouse(sample_builder: ModuleType) -> Wheelhouse:
    """The cached wheelhouse of this interpreter's tag, under the sample cache."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    path = sample_builder.cache_root() / "wheelhouse" / tag
    path.mkdir(parents=True, exist_ok=True)
    return Wheelhouse(path)


@dataclass(frozen=True)
class Venv:
    """A virtual environment made for one test; ``run`` executes Python code inside it."""

    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def run(
        self, code: str, *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), "-c", code],
            capture_output=True,
            text=True,
            check=False,
            env={**_clean_environ(), **(env or {})},
            cwd=cwd,
            timeout=300,
        )


def _clean_environ() -> dict[str, str]:
    """The parent's environment minus what would make the child see other packages/libraries."""
    drop = {"PYTHONPATH", "PYTHONHOME", "LD_LIBRARY_PATH", "LD_PRELOAD", "VIRTUAL_ENV"}
    return {key: value for key, value in os.environ.items() if key not in drop}


@pytest.fixture
def make_venv(tmp_path: Path, wheelhouse: Wheelhouse) -> Callable[..., Venv]:
    """``make_venv(wheel, tvm_ffi=None)``: a fresh venv with ``wheel`` installed.

    Dependencies come from the wheelhouse, pinned to this interpreter's versions (``tvm_ffi``
    overrides the apache-tvm-ffi pin). The venv has no pip and no system site-packages; this
    interpreter's pip installs into it (``pip --python``).
    """
    counter = iter(range(100))

    def make(wheel: Path, *, tvm_ffi: str | None = None) -> Venv:
        venv = Venv(tmp_path / f"venv{next(counter)}")
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv.root)],
            check=True,
            capture_output=True,
        )
        pins = pinned_versions()
        if tvm_ffi is not None:
            pins["apache-tvm-ffi"] = tvm_ffi
        for name, version in pins.items():
            wheelhouse.ensure(name, version)
        command = [
            sys.executable, "-m", "pip", "--python", str(venv.python), "install", "--isolated",
            "--no-index", "--find-links", str(wheelhouse.path), "--disable-pip-version-check",
            "--no-compile", "-q", str(wheel),
            *(f"{name}=={version}" for name, version in pins.items()),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"installing {wheel.name} failed:\n{result.stderr}"
        return venv

    return make

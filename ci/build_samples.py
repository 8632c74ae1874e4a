#!/usr/bin/env python3
"""Build the tinykern sample wheels: the clean one and one per field defect, cached.

wheelguard is tested against real wheels built by a real scikit-build-core/CMake project, not
against hand-made archives: a hand-made ELF file proves only that the parser reads what the test
author wrote. Each variant is one ``pip wheel`` of ``sample_projects/tinykern`` with a few
``-C`` config settings. Wheels are cached under a key that hashes the project's sources, the
variant's settings and the build environment, so a second run (the demo, the test session) costs
nothing, and any edit to the sample project rebuilds exactly what it affects.

Usable as a module (``build_variant``, ``build_all``, ``VARIANTS``) from tests, and as a script::

    python ci/build_samples.py                 # all variants; wheel paths on stdout
    python ci/build_samples.py clean debug     # some variants
    python ci/build_samples.py --cuda off      # never build the CUDA kernel
    python ci/build_samples.py --list
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Literal

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT_DIR = REPO_ROOT / "sample_projects" / "tinykern"
CACHE_ENV = "WHEELGUARD_SAMPLE_CACHE"
CUDA_ENV = "WHEELGUARD_SAMPLE_CUDA"
DEFAULT_CACHE = Path.home() / ".cache" / "wheelguard" / "samples"

# Bump when the recipe changes in a way the key cannot see (e.g. how pip is invoked).
RECIPE_VERSION = 1

# Source files that do not change the wheel; everything else in the project is hashed.
_IGNORED_PARTS = frozenset({"build", "dist", "__pycache__", ".pytest_cache", ".ruff_cache"})
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".whl")

CudaMode = Literal["auto", "on", "off"]
Log = Callable[[str], None]


@dataclass(frozen=True)
class Variant:
    """One way of building tinykern: the CMake defines and scikit-build-core settings it adds."""

    name: str
    summary: str
    defines: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, str] = field(default_factory=dict)
    # Only the clean wheel gets the CUDA kernel: nvcc for two architectures is the slowest part
    # of a build, and no defect depends on it.
    cuda_capable: bool = False

    def config_settings(self, *, cuda: bool) -> list[str]:
        """The ``-C key=value`` arguments for pip, defines first, in a stable order.

        With ``cuda`` the compiler found here is named explicitly, so that CMake cannot
        silently fall back to a CPU-only build that the cache would then label as CUDA.
        """
        defines = dict(self.defines)
        nvcc = nvcc_path() if cuda else None
        if nvcc:
            defines["TINYKERN_ENABLE_CUDA"] = "ON"
            defines["CMAKE_CUDA_COMPILER"] = nvcc
        pairs = [(f"cmake.define.{key}", value) for key, value in sorted(defines.items())]
        pairs += sorted(self.settings.items())
        return [f"{key}={value}" for key, value in pairs]


def _defect(name: str, option: str, summary: str, **settings: str) -> Variant:
    return Variant(name, summary, {f"TINYKERN_DEFECT_{option}": "ON"}, settings)


VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (
        Variant("clean", "no RPATH, stripped, only run-time files", cuda_capable=True),
        _defect("bundle-ffi", "BUNDLE_FFI", "private tinykern/lib/libtvm_ffi.so, loaded by path"),
        _defect("embed-ffi", "EMBED_FFI", "libtinykern_runtime.so compiles tvm-ffi C ABI in"),
        _defect("abs-rpath", "ABS_RPATH", "absolute build-environment RUNPATH kept"),
        _defect("cwd-rpath", "CWD_RPATH", "relative RUNPATH entry without $ORIGIN"),
        _defect("vendored-3rdparty", "VENDORED_3RDPARTY", "3rdparty sources, objects, build dir"),
        _defect("foreign-runpath", "FOREIGN_RUNPATH", "RUNPATH into an undeclared distribution"),
        _defect("debug", "DEBUG", "DWARF debug info kept", **{"install.strip": "false"}),
    )
}


@dataclass(frozen=True)
class BuiltWheel:
    """A wheel in the cache and how it came to be (``seconds`` is the original build's time)."""

    variant: str
    path: Path
    cuda: bool
    cached: bool
    seconds: float
    key: str


class BuildError(RuntimeError):
    """A variant failed to build; the message ends with the tail of the build log."""


def cache_root(explicit: Path | str | None = None) -> Path:
    """The cache directory: the argument, else ``$WHEELGUARD_SAMPLE_CACHE``, else the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else DEFAULT_CACHE


def source_files(project_dir: Path = PROJECT_DIR) -> list[Path]:
    """Every file of the sample project that can influence a build, in a stable order."""
    files = []
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if not path.is_file() or _IGNORED_PARTS.intersection(relative.parts):
            continue
        if path.name.endswith(_IGNORED_SUFFIXES):
            continue
        files.append(path)
    return files


def source_digest(project_dir: Path = PROJECT_DIR) -> str:
    """SHA-256 over the project's relative paths and contents."""
    digest = hashlib.sha256()
    for path in source_files(project_dir):
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def nvcc_path() -> str | None:
    """The CUDA compiler CMake would find: ``$CUDACXX``, ``nvcc`` on PATH, or CUDA_HOME's."""
    candidates = [os.environ.get("CUDACXX"), shutil.which("nvcc")]
    for home in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if home:
            candidates.append(str(Path(home) / "bin" / "nvcc"))
    return next((c for c in candidates if c and Path(c).is_file()), None)


def resolve_cuda(variant: Variant, mode: CudaMode | None = None) -> bool:
    """Whether this build gets the CUDA kernel: ``mode`` (or ``$WHEELGUARD_SAMPLE_CUDA``)."""
    chosen = mode or os.environ.get(CUDA_ENV, "auto").strip().lower()
    if chosen not in ("auto", "on", "off"):
        msg = f"{CUDA_ENV} must be auto, on or off, not {chosen!r}"
        raise ValueError(msg)
    if not variant.cuda_capable or chosen == "off":
        return False
    if nvcc_path() is None:
        if chosen == "on":
            msg = "CUDA build requested but no nvcc found (set CUDACXX or put nvcc on PATH)"
            raise BuildError(msg)
        return False
    return True


def _distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


def cache_key(variant: Variant, *, cuda: bool, digest: str | None = None) -> str:
    """Hash of everything a wheel depends on: sources, settings, interpreter, build tools.

    The interpreter's prefix is included because a variant ("abs-rpath") records the build
    environment's absolute tvm_ffi path in the wheel.
    """
    inputs = {
        "recipe": RECIPE_VERSION,
        "sources": digest or source_digest(),
        "variant": variant.name,
        "config": variant.config_settings(cuda=cuda),
        "python": sys.executable,
        "prefix": sys.prefix,
        "machine": platform.machine(),
        "tools": {
            name: _distribution_version(name) for name in ("apache-tvm-ffi", "scikit-build-core")
        },
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:20]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _log_tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def _check_build_requirements() -> None:
    """``--no-build-isolation`` uses this interpreter's packages; say which one is missing."""
    missing = [
        name
        for name in ("scikit-build-core", "apache-tvm-ffi")
        if _distribution_version(name) == "missing"
    ]
    if missing:
        msg = f"{sys.executable} lacks {', '.join(missing)} (pip install -e '.[test]')"
        raise BuildError(msg)


def build_variant(
    name: str,
    *,
    cache_dir: Path | str | None = None,
    cuda: CudaMode | None = None,
    force: bool = False,
    log: Log = _stderr,
    digest: str | None = None,
    announce_cached: bool = True,
    project_dir: Path = PROJECT_DIR,
) -> BuiltWheel:
    """Return the wheel of one variant, building it only when the cache has none for its key.

    ``project_dir`` builds a copy of the sample project instead (``wheelguard fix-source``
    tests rebuild a patched copy with the variant's settings); its sources are in the key.
    """
    variant = VARIANTS[name]
    with_cuda = resolve_cuda(variant, cuda)
    if digest is None and project_dir != PROJECT_DIR:
        digest = source_digest(project_dir)
    key = cache_key(variant, cuda=with_cuda, digest=digest)
    root = cache_root(cache_dir)
    final = root / f"{name}-{key}"
    label = f"{name}{' (+cuda)' if with_cuda else ''}"
    if not force:
        wheels = sorted(final.glob("*.whl"))
        meta_path = final / "build.json"
        if wheels and meta_path.is_file():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if announce_cached:
                log(f"[samples] {label:<24} cached  {wheels[0].name}")
            return BuiltWheel(name, wheels[0], with_cuda, True, float(meta["seconds"]), key)

    _check_build_requirements()
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".tmp-{name}-{key}-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "dist").mkdir(parents=True)
    command = [
        sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
        "--disable-pip-version-check", "-v", "-w", str(staging / "dist"),
        *(f"--config-settings={setting}" for setting in variant.config_settings(cuda=with_cuda)),
        str(project_dir),
    ]  # fmt: skip
    env = dict(os.environ)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
    log(f"[samples] {label:<24} building ({variant.summary}) ...")
    started = time.monotonic()
    build_log = staging / "build.log"
    with build_log.open("w", encoding="utf-8") as out:
        out.write("$ " + " ".join(command) + "\n")
        out.flush()
        result = subprocess.run(
            command, cwd=project_dir, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    seconds = time.monotonic() - started
    wheels = sorted((staging / "dist").glob("*.whl"))
    if result.returncode != 0 or len(wheels) != 1:
        msg = (
            f"building sample variant {name!r} failed (exit {result.returncode}, "
            f"{len(wheels)} wheels); log: {build_log}\n{_log_tail(build_log)}"
        )
        raise BuildError(msg)
    meta = {
        "variant": name,
        "cuda": with_cuda,
        "seconds": round(seconds, 2),
        "key": key,
        "command": command,
    }
    (staging / "build.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    for item in (staging / "dist").iterdir():
        item.replace(staging / item.name)
    (staging / "dist").rmdir()
    if force:
        shutil.rmtree(final, ignore_errors=True)
    try:
        staging.replace(final)
    except OSError:  # another process (a parallel test worker) published this key first
        shutil.rmtree(staging)
    wheel = final / wheels[0].name
    log(f"[samples] {label:<24} built   {wheel.name} in {seconds:.1f}s")
    return BuiltWheel(name, wheel, with_cuda, False, seconds, key)


def build_all(
    names: Iterable[str] | None = None,
    *,
    cache_dir: Path | str | None = None,
    cuda: CudaMode | None = None,
    force: bool = False,
    log: Log = _stderr,
    announce_cached: bool = True,
    project_dir: Path = PROJECT_DIR,
) -> dict[str, BuiltWheel]:
    """Build (or fetch from the cache) several variants, one after the other.

    Sequential on purpose: each build already runs the compiler on every core, and on a 2-core
    CI machine two CMake builds side by side are slower than one after the other.
    """
    selected = list(names) if names is not None else list(VARIANTS)
    unknown = sorted(set(selected) - VARIANTS.keys())
    if unknown:
        msg = f"unknown sample variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}"
        raise KeyError(msg)
    digest = source_digest(project_dir)
    built = {
        name: build_variant(
            name,
            cache_dir=cache_dir,
            cuda=cuda,
            force=force,
            log=log,
            digest=digest,
            announce_cached=announce_cached,
            project_dir=project_dir,
        )
        for name in selected
    }
    cached = sum(wheel.cached for wheel in built.values())
    log(f"[samples] {len(built)} wheels ready ({cached} from cache) in {cache_root(cache_dir)}")
    return built


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build the tinykern sample wheels (clean + one per field defect), cached."
    )
    parser.add_argument("variants", nargs="*", help="variants to build (default: all)")
    parser.add_argument(
        "--cache-dir", type=Path, help=f"cache (default: ${CACHE_ENV} or {DEFAULT_CACHE})"
    )
    parser.add_argument(
        "--cuda",
        choices=("auto", "on", "off"),
        default=None,
        help=f"CUDA kernel in the clean wheel (default: ${CUDA_ENV} or auto)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR,
        help="build this copy of the sample project (e.g. one patched by wheelguard fix-source)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not list cache hits")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the requested variants; print their wheel paths (or a JSON summary) on stdout."""
    args = _parse_args(argv)
    if args.list:
        for variant in VARIANTS.values():
            settings = " ".join(f"-C {s}" for s in variant.config_settings(cuda=False))
            print(f"{variant.name:<18} {variant.summary}\n{'':<18} {settings or '(defaults)'}")
        return 0
    try:
        built = build_all(
            args.variants or None,
            cache_dir=args.cache_dir,
            cuda=args.cuda,
            force=args.force,
            announce_cached=not args.quiet,
            project_dir=args.project_dir.resolve(),
        )
    except (BuildError, KeyError, ValueError) as error:
        _stderr(f"[samples] error: {error}")
        return 1
    if args.json:
        summary = [{**asdict(wheel), "path": str(wheel.path)} for wheel in built.values()]
        print(json.dumps(summary, indent=2))
    else:
        for wheel in built.values():
            print(wheel.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

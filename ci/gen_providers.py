#!/usr/bin/env python3
"""Generate ``wheelguard/data/providers.toml`` from the published wheels of each provider.

The audit decides "provided by a declared dependency" without downloading the dependency, so
it needs to know which distribution ships which library. A name pattern is a guess
(``nvidia-*`` "providing" every CUDA library made cuBLAS's own wheel a duplicate of nvrtc's),
so this script reads the real wheels instead: each pinned release below is downloaded by
version and sha256 (the registry's JSON document gives both), scanned with wheelguard's own
reader, and every shared library it ships outside a grafting directory is written down with its
SONAME and install path. ``cuda-toolkit``'s extras are read from its METADATA, so
``cuda-toolkit[cufile]`` is known to bring ``nvidia-cufile``. The table records the version and
file each entry was built from; nothing in it is typed by hand except the runtimes' C ABI
prefix (which symbols make a library a *runtime*), listed in :data:`RUNTIMES`.

Usage::

    python ci/gen_providers.py                 # everything pinned below (about 8 GB to read)
    python ci/gen_providers.py --only numpy    # re-read some projects, keep the other entries
    python ci/gen_providers.py --platform macosx win_amd64   # only the macOS/Windows wheels
    python ci/gen_providers.py --check         # exit 1 when the table is not what the pins give

Wheels already in ``$WHEELGUARD_WHEEL_CACHE`` are used as they are; the others are downloaded
into it, read, and removed again unless ``--keep`` is given (the CUDA wheels alone are
several gigabytes).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from helpers.wheelcache import Artifact, cache_dir, cached, download  # noqa: E402
from packaging.requirements import Requirement  # noqa: E402
from packaging.specifiers import SpecifierSet  # noqa: E402
from packaging.utils import canonicalize_name, parse_wheel_filename  # noqa: E402
from packaging.version import Version  # noqa: E402

from wheelguard.knowledge.names import ungrafted  # noqa: E402
from wheelguard.model import Binary  # noqa: E402
from wheelguard.reading.scan import scan_wheel  # noqa: E402

OUTPUT = ROOT / "wheelguard" / "data" / "providers.toml"
_PYPI_JSON = "https://pypi.org/pypi/{project}/json"
_FILES_HOST = "https://files.pythonhosted.org/"

METAPACKAGES: tuple[tuple[str, str], ...] = (
    # cuda-toolkit's extras pin one nvidia-* distribution per component; CUDA 12's are the
    # "-cu12" names, CUDA 13's the plain ones.
    ("cuda-toolkit", "12.9.2"),
    ("cuda-toolkit", "13.5.0"),
)

PROJECTS: tuple[tuple[str, str], ...] = (
    # CUDA components that cuda-toolkit does not carry.
    ("nvidia-cudnn-cu12", "9.28.0.42"),
    ("nvidia-cudnn-cu13", "9.28.1.4"),
    ("nvidia-nccl-cu12", "2.32.3"),
    ("nvidia-nccl-cu13", "2.32.3"),
    ("nvidia-nvshmem-cu12", "3.8.0"),
    ("nvidia-nvshmem-cu13", "3.8.0"),
    ("nvidia-cusparselt-cu12", "0.8.1"),
    ("nvidia-cusparselt-cu13", "0.10.0"),
    ("cutensor-cu12", "2.8.1"),
    ("cutensor-cu13", "2.8.1"),
    # Frameworks and runtimes that compiler wheels link against.
    ("torch", "2.15.0"),
    ("triton", "3.9.0"),
    ("apache-tvm-ffi", "0.1.15.post2"),
    ("apache-tvm", "0.27.0.post1"),
    # z3's SONAME names its minor release (libz3.so.4.15): one wheel per line consumers pin.
    ("z3-solver", "4.12.6.0"),
    ("z3-solver", "4.13.4.0"),
    ("z3-solver", "4.14.1.0"),
    ("z3-solver", "4.15.8.0"),
    ("z3-solver", "4.16.0.0"),
    ("z3-solver", "5.4.1.0"),
    ("numpy", "2.5.5"),
)

SKIP_EXTRA_PROJECTS = frozenset({
    # Headers, tools and static archives only, or the toolkit as a whole: nothing to read.
    "nvidia-cuda-cccl", "nvidia-cuda-crt", "nvidia-cuda-cuobjdump", "nvidia-cuda-cuxxfilt",
    "nvidia-cuda-nvdisasm", "nvidia-cuda-culibos", "nvidia-cuda-tileiras", "nvidia-nvml-dev",
    "nvidia-cuda-profiler-api", "nvidia-cudla",
})

RUNTIMES: dict[str, tuple[str, str]] = {
    # distribution -> (C ABI prefix, the library whose exports with that prefix ARE the runtime)
    "apache-tvm-ffi": ("TVMFFI", "libtvm_ffi.so"),
}

CMAKE: dict[str, tuple[str, str]] = {
    # distribution -> (CMake package, the imported target that links its shared runtime): what
    # `wheelguard fix-source` links instead of compiling a runtime in. Typed by hand: a wheel
    # does not say which of its CMake targets is the shared library.
    "apache-tvm-ffi": ("tvm_ffi", "tvm_ffi::shared"),
}

OTHER_PLATFORMS: tuple[tuple[str, str, str], ...] = (
    # (project, version, platform tag prefix): the macOS and Windows wheels of providers that
    # publish them, so that dyld's install names and Windows' DLL names are known too (a
    # tilelang win_amd64 wheel imports libz3.dll; a macOS one loads @rpath/libtvm_ffi.dylib).
    ("apache-tvm-ffi", "0.1.15.post2", "macosx"),
    ("apache-tvm-ffi", "0.1.15.post2", "win_amd64"),
    ("z3-solver", "4.15.8.0", "macosx"),
    ("z3-solver", "4.15.8.0", "win_amd64"),
    ("torch", "2.15.0", "macosx"),
)

PYTHON_TAG = "cp312"
"""For projects with one wheel per Python version: read this one (SONAMEs do not change)."""


@dataclass(frozen=True, slots=True)
class Library:
    path: str
    soname: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    version: str
    wheel: str
    sha256: str
    top_level: tuple[str, ...]
    libraries: tuple[Library, ...]
    abi_prefixes: tuple[str, ...] = ()
    abi_symbols: tuple[str, ...] = ()
    cmake: tuple[str, str] | None = None
    platform: str = "manylinux"
    """The platform family the wheel was for: ``manylinux``, ``macosx`` or ``win_amd64``."""


@dataclass(frozen=True, slots=True)
class Meta:
    name: str
    version: str
    wheel: str
    sha256: str
    extras: dict[str, tuple[str, ...]]
    pins: dict[str, str]


def _project(name: str, documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if name not in documents:
        url = _PYPI_JSON.format(project=name)
        with urllib.request.urlopen(url, timeout=60) as response:
            documents[name] = json.load(response)
    return documents[name]


def _pick(name: str, spec: str, documents: dict[str, dict[str, Any]],
          platform: str = "manylinux") -> Artifact:
    """The Linux x86_64 wheel (else the pure one) of the newest release ``spec`` admits, or
    its wheel for another ``platform`` family (macOS arm64 preferred, Windows amd64)."""
    releases = _project(name, documents)["releases"]
    assert isinstance(releases, dict)
    specifier = SpecifierSet(spec)
    versions = sorted((Version(v) for v in releases if Version(v) in specifier
                       and not Version(v).is_prerelease), reverse=True)
    for version in versions:
        files = releases[str(version)] if str(version) in releases else releases[
            next(v for v in releases if Version(v) == version)]
        best = _best_file(files, platform)
        if best is not None:
            blake = best["digests"]["blake2b_256"]
            return Artifact(best["filename"], best["digests"]["sha256"],
                            f"{_FILES_HOST}packages/{blake[:2]}/{blake[2:4]}/{blake[4:]}/"
                            f"{best['filename']}", int(best["size"]))
    msg = f"{name}{spec}: no {platform} wheel on the registry"
    raise SystemExit(msg)


def _fits(platform: str, family: str) -> bool:
    if family == "manylinux":
        return platform.startswith("manylinux") and platform.endswith("x86_64")
    if family == "macosx":
        return platform.startswith("macosx") and platform.endswith(("arm64", "universal2"))
    return platform == family


def _best_file(files: Iterable[dict[str, Any]], family: str) -> dict[str, Any] | None:
    ranked: list[tuple[int, dict[str, Any]]] = []
    for f in files:
        filename = str(f["filename"])
        if not filename.endswith(".whl"):
            continue
        _n, _v, _b, tags = parse_wheel_filename(filename)
        pure = all(t.platform == "any" for t in tags)
        if (pure and family != "manylinux") or (
                not pure and not any(_fits(t.platform, family) for t in tags)):
            continue
        interpreters = {t.interpreter for t in tags}
        rank = 0 if interpreters & {"py3", PYTHON_TAG} else 1
        if rank and not any(t.abi == "abi3" for t in tags):
            continue
        ranked.append((rank + (2 if pure else 0), f))
    ranked.sort(key=lambda rf: rf[0])
    return ranked[0][1] if ranked else None


def _fetch(artifact: Artifact, keep: bool) -> tuple[Path, bool]:
    cache = cache_dir()
    hit = cached(artifact, cache)
    if hit is not None:
        return hit, False
    print(f"  downloading {artifact.filename} ({(artifact.size or 0) >> 20} MiB)", flush=True)
    return download(artifact, cache), not keep


def _linkable(b: Binary, platform: str) -> bool:
    """A shared library another binary of ``platform`` can link against: in that platform's
    format (z3's macOS wheel also carries Windows DLLs), not an executable, object file,
    extension module (imported, never linked) or grafted private copy."""
    want = {"manylinux": "elf", "macosx": "macho", "win_amd64": "pe"}[platform]
    if b.format != want:
        return False
    directory, _, base = b.path.rpartition("/")
    top = b.path.split("/", 1)[0]
    if top.endswith(".libs") or (".data/" in b.path and "/platlib/" not in b.path):
        return False  # grafted private copies, or scripts/data outside site-packages
    if ungrafted(base) is not None or not b.is_shared_object or directory.endswith("/bin"):
        return False
    if any(p.startswith(("PyInit_", "_PyInit_")) for p in b.exported) and (
            b.format != "elf" or b.soname is None):
        return False
    if b.format == "elf":
        return ".so" in base and b.machine == "x86_64"
    if b.format == "macho":
        return base.endswith(".dylib")
    return base.lower().endswith(".dll")


def read_project(name: str, version: str, artifact: Artifact, keep: bool,
                 platform: str = "manylinux") -> Entry:
    path, remove = _fetch(artifact, keep)
    try:
        wheel = scan_wheel(path)
    finally:
        if remove:
            path.unlink()
    libraries = [Library(b.path, b.soname) for b in wheel.binaries if _linkable(b, platform)]
    prefixes: tuple[str, ...] = ()
    symbols: tuple[str, ...] = ()
    if name in RUNTIMES and platform == "manylinux":
        prefix, library = RUNTIMES[name]
        owner = next(b for b in wheel.binaries if b.path.endswith("/" + library))
        prefixes, symbols = (prefix,), owner.exports_prefix(prefix)
    return Entry(name=name, version=version, wheel=artifact.filename, sha256=artifact.sha256,
                 top_level=tuple(sorted(wheel.top_levels)),
                 libraries=tuple(sorted(libraries, key=lambda lib: lib.path)),
                 abi_prefixes=prefixes, abi_symbols=symbols,
                 cmake=CMAKE.get(name) if platform == "manylinux" else None, platform=platform)


def read_meta(name: str, version: str, artifact: Artifact, keep: bool) -> Meta:
    path, remove = _fetch(artifact, keep)
    try:
        wheel = scan_wheel(path)
    finally:
        if remove:
            path.unlink()
    extras: dict[str, list[str]] = {}
    pins: dict[str, str] = {}
    for req in wheel.requires_dist:
        extra = _extra_of(req)
        if extra is None or extra == "all":
            continue
        dist = canonicalize_name(req.name)
        extras.setdefault(extra, []).append(dist)
        pins[dist] = str(req.specifier)
    return Meta(name=name, version=version, wheel=artifact.filename, sha256=artifact.sha256,
                extras={e: tuple(sorted(set(d))) for e, d in sorted(extras.items())},
                pins=dict(sorted(pins.items())))


def _extra_of(req: Requirement) -> str | None:
    if req.marker is None:
        return None
    text = str(req.marker)
    marker = 'extra == "'
    at = text.find(marker)
    if at < 0:
        return None
    return text[at + len(marker):].split('"', 1)[0]


# ---- output ----------------------------------------------------------------------------------


def _q(text: str) -> str:
    return json.dumps(text)


def render(metas: Sequence[Meta], entries: Sequence[Entry]) -> str:
    out = [
        "# Which distribution ships which shared library, read from the published wheels named",
        "# below. GENERATED by ci/gen_providers.py: do not edit; change the pins there and run",
        "# it again. Each entry lists the SONAME and install path of every shared library the",
        "# wheel ships (grafted private copies under <dist>.libs/ left out). Distribution",
        "# names and SONAMEs are exact: no pattern stands for a family.",
        "",
    ]
    for m in metas:
        out += ["[[metapackage]]", f"name = {_q(m.name)}", f"version = {_q(m.version)}",
                f"wheel = {_q(m.wheel)}", f"sha256 = {_q(m.sha256)}", "[metapackage.extras]"]
        out += [f"{_q(e)} = [{', '.join(_q(d) for d in ds)}]" for e, ds in m.extras.items()]
        out += ["[metapackage.pins]"]
        out += [f"{_q(d)} = {_q(s)}" for d, s in m.pins.items()]
        out.append("")
    for e in entries:
        out += ["[[distribution]]", f"name = {_q(e.name)}", f"version = {_q(e.version)}",
                f"platform = {_q(e.platform)}",
                f"wheel = {_q(e.wheel)}", f"sha256 = {_q(e.sha256)}",
                f"top_level = [{', '.join(_q(t) for t in e.top_level)}]"]
        if e.cmake is not None:
            out += [f"cmake_package = {_q(e.cmake[0])}", f"cmake_target = {_q(e.cmake[1])}"]
        if e.abi_prefixes:
            out.append(f"abi_prefixes = [{', '.join(_q(p) for p in e.abi_prefixes)}]")
            out.append("abi_symbols = [")
            out += [f"  {_q(s)}," for s in e.abi_symbols]
            out.append("]")
        out.append("libraries = [")
        for lib in e.libraries:
            soname = f", soname = {_q(lib.soname)}" if lib.soname else ""
            out.append(f"  {{ path = {_q(lib.path)}{soname} }},")
        out += ["]", ""]
    return "\n".join(out)


def _load_existing() -> tuple[dict[str, Meta], dict[tuple[str, str, str], Entry]]:
    from wheelguard._compat import tomllib

    if not OUTPUT.is_file():
        return {}, {}
    data = tomllib.loads(OUTPUT.read_text("utf-8"))
    metas = {
        f"{m['name']}=={m['version']}": Meta(m["name"], m["version"], m["wheel"], m["sha256"],
                                             {k: tuple(v) for k, v in m["extras"].items()},
                                             dict(m["pins"]))
        for m in data.get("metapackage", [])
    }
    entries = {
        (d["name"], d["version"], d.get("platform", "manylinux")): Entry(
            d["name"], d["version"], d["wheel"], d["sha256"], tuple(d["top_level"]),
            tuple(Library(x["path"], x.get("soname")) for x in d["libraries"]),
            tuple(d.get("abi_prefixes", ())), tuple(d.get("abi_symbols", ())),
            (d["cmake_package"], d["cmake_target"]) if "cmake_package" in d else None,
            d.get("platform", "manylinux"))
        for d in data.get("distribution", [])
    }
    return metas, entries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--only", nargs="*", default=[], metavar="PROJECT",
                        help="re-read these projects only; keep the table's other entries")
    parser.add_argument("--platform", nargs="*", default=[], metavar="FAMILY",
                        help="re-read only the wheels of these platform families (manylinux, "
                        "macosx, win_amd64); keep the other entries")
    parser.add_argument("--keep", action="store_true",
                        help="leave downloaded wheels in the cache")
    parser.add_argument("--check", action="store_true",
                        help="compare the pins with the table instead of writing it")
    args = parser.parse_args(argv)
    only = {canonicalize_name(p) for p in args.only}
    old_metas, old_entries = _load_existing()
    if args.check:
        stale = [f"{n}=={v}" for n, v in PROJECTS
                 if (canonicalize_name(n), v, "manylinux") not in old_entries]
        stale += [f"{n}=={v} ({p})" for n, v, p in OTHER_PLATFORMS
                  if (canonicalize_name(n), v, p) not in old_entries]
        stale += [f"{n}=={v}" for n, v in METAPACKAGES if f"{n}=={v}" not in old_metas]
        if stale:
            print("providers.toml is not what the pins give:", ", ".join(stale))
            return 1
        print(f"providers.toml matches the pins ({len(old_entries)} distributions)")
        return 0

    documents: dict[str, dict[str, Any]] = {}
    metas: list[Meta] = []
    todo: dict[tuple[str, str], str] = {}
    for name, version in METAPACKAGES:
        key = f"{name}=={version}"
        if key in old_metas and only and canonicalize_name(name) not in only:
            meta = old_metas[key]
        else:
            print(f"{key}: reading extras", flush=True)
            meta = read_meta(name, version, _pick(name, f"=={version}", documents), args.keep)
        metas.append(meta)
        for dist, spec in meta.pins.items():
            if dist.removesuffix("-cu12") not in SKIP_EXTRA_PROJECTS:
                todo.setdefault((dist, spec), spec)
    todo.update({(canonicalize_name(n), f"=={v}"): f"=={v}" for n, v in PROJECTS})
    entries: dict[tuple[str, str, str], Entry] = {}
    jobs = [(dist, spec, "manylinux") for (dist, _key), spec in sorted(todo.items())]
    jobs += [(canonicalize_name(n), f"=={v}", p) for n, v, p in OTHER_PLATFORMS]
    for dist, spec, platform in jobs:
        old = next((e for (n, v, p), e in old_entries.items()
                    if n == dist and p == platform and Version(v) in SpecifierSet(spec)), None)
        skip = (only and dist not in only) or (args.platform and platform not in args.platform)
        if skip and old is not None:
            entries[(dist, old.version, platform)] = old
            continue
        artifact = _pick(dist, spec, documents, platform)
        version = str(parse_wheel_filename(artifact.filename)[1])
        if (dist, version, platform) in entries:
            continue
        print(f"{dist}=={version}: reading {artifact.filename}", flush=True)
        entries[(dist, version, platform)] = read_project(dist, version, artifact, args.keep,
                                                          platform)
    ordered = [entries[k] for k in sorted(entries, key=lambda k: (k[0], Version(k[1]), k[2]))]
    OUTPUT.write_text(render(metas, ordered), encoding="utf-8")
    libraries = sum(len(e.libraries) for e in ordered)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(ordered)} distribution releases, "
          f"{libraries} libraries, {len(metas)} metapackages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What a wheel ships, for a bill of materials: native libraries with their origin, vendored
source trees with their version, declared providers, and who loads whom.

A release sign-off or a security review asks where each native library comes from: built by
this project, part of a vendored tree, grafted from the build system by auditwheel (under a
hashed name: the original is what a vulnerability database knows), or a copy of a library a
declared distribution provides (with the range the wheel admits). The edges are the loader's:
each NEEDED resolved by :func:`wheelguard.loader.resolve.resolve_binary` over the wheel's
layout, and, where provider wheels were read (``--wheelhouse``/``--download``), to the file in
the provider's wheel that the linkage analysis found.

Pure apart from :func:`tree_versions`, which reads a few small marker files from the archive.
The CycloneDX and SPDX writers render this and compute nothing.
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from packaging.utils import canonicalize_name

from wheelguard.audit import AuditResult
from wheelguard.knowledge.names import loader_name, ungrafted
from wheelguard.knowledge.providers import provider_for_soname
from wheelguard.knowledge.trees import tree_of
from wheelguard.loader.paths import install_path
from wheelguard.loader.resolve import resolve_binary
from wheelguard.model import ArchivePath, Wheel
from wheelguard.reading.archive import WheelArchive

__all__ = ["Edge", "Library", "Origin", "Provider", "ProviderFile", "SourceTree",
           "WheelInventory", "hex_digest", "inventory", "tree_versions"]

Origin = Literal["built", "vendored", "grafted", "provided"]

MAX_MARKER_BYTES = 256 << 10


def hex_digest(record_hash: str) -> str:
    """RECORD's urlsafe base64 sha256 as the hex SBOM formats want."""
    return base64.urlsafe_b64decode(record_hash + "=" * (-len(record_hash) % 4)).hex()


@dataclass(frozen=True, slots=True, kw_only=True)
class Library:
    ref: str
    path: ArchivePath
    name: str
    """SONAME (ELF), install name (Mach-O), else the file name."""
    sha256: str
    format: str
    machine: str
    bits: int
    build_id: str | None
    origin: Origin
    original_name: str | None = None
    """For a grafted copy: the name it had on the build system."""
    tree: str | None = None
    """For a library inside a vendored tree: that tree."""
    provider: str | None = None
    """For a copy of a library a declared distribution provides: that distribution."""
    admitted: str | None = None
    """The range of ``provider`` the wheel's Requires-Dist admits."""
    needed: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceTree:
    ref: str
    path: str
    name: str
    version: str | None
    marker: str | None
    """The member the version was read from."""
    files: int
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    """A declared distribution that provides libraries the wheel's binaries need."""

    ref: str
    name: str
    admitted: str
    libraries: tuple[str, ...]
    versions: tuple[str, ...] = ()
    """Versions whose wheels the linkage analysis read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderFile:
    """A library in a provider's wheel that a NEEDED of this wheel resolves to."""

    ref: str
    distribution: str
    version: str
    path: str
    name: str
    sha256: str | None


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    kind: Literal["contains", "needs", "declares"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelInventory:
    ref: str
    filename: str
    name: str
    version: str
    sha256: str | None
    tags: tuple[str, ...]
    libraries: tuple[Library, ...]
    trees: tuple[SourceTree, ...]
    providers: tuple[Provider, ...]
    provider_files: tuple[ProviderFile, ...]
    edges: tuple[Edge, ...]


def _grafted(path: str) -> str | None:
    base = posixpath.basename(path)
    original = ungrafted(base)
    if original is not None:
        return original
    top = path.split("/", 1)[0]
    if top.endswith(".libs") or "/.dylibs/" in f"/{path}":
        return base
    return None


def inventory(result: AuditResult, *, wheel_sha256: str | None = None,
              versions: dict[str, tuple[str, str]] | None = None) -> WheelInventory:
    """The inventory of one audited wheel. ``versions``: tree -> (version, marker member), as
    :func:`tree_versions` read them."""
    wheel = result.wheel
    ctx = result.context
    prefix = f"{wheel.name}=={wheel.version}"
    members = {m.path: m for m in wheel.members}
    libraries: list[Library] = []
    by_install: dict[str, str] = {}
    for b in wheel.binaries:
        tree, vendored = tree_of(b.path)
        original = _grafted(b.path)
        known = provider_for_soname(loader_name(b.name), ctx.providers)
        req = next((r for n, r in ctx.requirements.items()
                    if known is not None and known.matches_distribution(n)), None)
        origin: Origin = "grafted" if original else "provided" if req is not None else \
            "vendored" if vendored else "built"
        ref = f"{prefix}#{b.path}"
        by_install[install_path(b.path)] = ref
        libraries.append(Library(
            ref=ref, path=b.path, name=b.name, sha256=hex_digest(members[b.path].sha256),
            format=b.format, machine=b.machine, bits=b.bits, build_id=b.build_id,
            origin=origin, original_name=original, tree=tree if vendored else None,
            provider=canonicalize_name(req.name) if req is not None else None,
            admitted=(str(req.specifier) or "any") if req is not None else None,
            needed=tuple(b.needed),
        ))
    edges: list[Edge] = [Edge(prefix, lib.ref, "contains") for lib in libraries]
    needs: dict[str, set[str]] = {}
    for b in wheel.binaries:
        src = by_install[install_path(b.path)]
        for res in resolve_binary(ctx.layout, b, ctx.platform, ctx.providers,
                                  ctx.requirements):
            if res.kind == "wheel" and res.path in by_install:
                edges.append(Edge(src, by_install[res.path], "needs"))
            elif res.kind == "dependency" and res.provider is not None:
                needs.setdefault(canonicalize_name(res.provider), set()).add(res.needed)
                edges.append(Edge(src, f"pypi:{canonicalize_name(res.provider)}", "needs"))
    providers, files, linked = _providers(result, needs, by_install)
    edges += linked
    edges += [Edge(prefix, p.ref, "declares") for p in providers]
    trees = _trees(wheel, prefix, versions or {})
    edges += [Edge(prefix, t.ref, "contains") for t in trees]
    return WheelInventory(
        ref=prefix, filename=wheel.filename, name=str(wheel.name), version=str(wheel.version),
        sha256=wheel_sha256, tags=tuple(sorted(str(t) for t in wheel.tags)),
        libraries=tuple(libraries), trees=trees, providers=providers,
        provider_files=files, edges=tuple(dict.fromkeys(edges)),
    )


def _providers(result: AuditResult, needs: dict[str, set[str]], by_install: dict[str, str]
               ) -> tuple[tuple[Provider, ...], tuple[ProviderFile, ...], list[Edge]]:
    ctx = result.context
    linkage = ctx.linkage
    files: dict[str, ProviderFile] = {}
    edges: list[Edge] = []
    read: dict[str, tuple[str, ...]] = {}
    if linkage is not None:
        for dep in linkage.dependencies:
            read[dep.name] = tuple(str(s.version) for s in dep.checked)
            needs.setdefault(dep.name, set())
        for link in linkage.links:
            res = link.resolution
            if link.layout not in linkage.shared_layouts or res.provider is None \
                    or res.version is None or res.path is None:
                continue
            name = str(canonicalize_name(res.provider))
            ref = f"{name}=={res.version}#{res.path}"
            if ref not in files:
                files[ref] = ProviderFile(ref=ref, distribution=name, version=res.version,
                                          path=res.path, name=res.needed,
                                          sha256=_provider_digest(linkage, name, res.version,
                                                                  res.path))
            src = by_install.get(install_path(link.binary))
            if src is not None:
                edges.append(Edge(src, ref, "needs"))
            edges.append(Edge(f"pypi:{name}", ref, "contains"))
    providers = []
    for name in sorted(needs):
        req = ctx.requirements.get(name)
        if req is None:
            continue
        providers.append(Provider(ref=f"pypi:{name}", name=name,
                                  admitted=str(req.specifier) or "any",
                                  libraries=tuple(sorted(needs[name])),
                                  versions=read.get(name, ())))
    return tuple(providers), tuple(files.values()), edges


def _provider_digest(linkage: object, name: str, version: str, path: str) -> str | None:
    from wheelguard.linkage.emulate import Linkage

    assert isinstance(linkage, Linkage)
    dep = linkage.dependency(name)
    for sample in dep.samples if dep is not None else ():
        if str(sample.version) != version or sample.wheel is None:
            continue
        for m in sample.wheel.members:
            if install_path(m.path) == path or m.path == path:
                return hex_digest(m.sha256)
    return None


def _trees(wheel: Wheel, prefix: str, versions: dict[str, tuple[str, str]]
           ) -> tuple[SourceTree, ...]:
    counts: dict[str, list[int]] = {}
    for m in wheel.members:
        tree, vendored = tree_of(m.path)
        if vendored:
            slot = counts.setdefault(tree, [0, 0])
            slot[0] += 1
            slot[1] += m.size
    out = []
    for tree, (files, size) in sorted(counts.items()):
        version, marker = versions.get(tree, (None, None))
        out.append(SourceTree(ref=f"{prefix}#{tree}/", path=tree,
                              name=posixpath.basename(tree), version=version, marker=marker,
                              files=files, size=size))
    return tuple(out)


# ---- versions of vendored trees -----------------------------------------------------------

_PY_VERSION = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)
_CMAKE_VERSION = re.compile(r"project\s*\([^)]*?\bVERSION\s+([0-9][0-9A-Za-z.+-]*)",
                            re.IGNORECASE)
_JSON_VERSION = re.compile(r'"version"\s*:\s*"([^"]+)"')
_PLAIN_VERSION = re.compile(r"^v?([0-9]+(?:\.[0-9A-Za-z]+)+(?:[.+-][0-9A-Za-z.]+)?)\s*$")


def _marker_candidates(tree: str, paths: Iterable[str]) -> list[str]:
    """Members that can tell a tree's version, best first."""
    name = posixpath.basename(tree).lower().replace("-", "_")
    ranked: list[tuple[int, str]] = []
    for p in paths:
        if not p.startswith(tree + "/"):
            continue
        rest = p[len(tree) + 1:]
        low = rest.lower()
        if low in ("version", "version.txt"):
            ranked.append((0, p))
        elif low in ("version.py", f"python/{name}/version.py"):
            ranked.append((1, p))
        elif re.fullmatch(r"include/[^/]+/version\.h", low):
            ranked.append((2, p))
        elif low == "package.json":
            ranked.append((3, p))
        elif low == "cmakelists.txt":
            ranked.append((4, p))
    return [p for _r, p in sorted(ranked)]


def _version_in(path: str, text: str) -> str | None:
    base = posixpath.basename(path).lower()
    if base in ("version", "version.txt"):
        first = next((line for line in text.splitlines() if line.strip()), "")
        m = _PLAIN_VERSION.match(first.strip())
        return m.group(1) if m else None
    if base == "version.py":
        m = _PY_VERSION.search(text)
        return m.group(1) if m else None
    if base == "version.h":
        parts = dict(re.findall(r"#define\s+\w+?_(MAJOR|MINOR|PATCH)\s+(\d+)", text))
        if "MAJOR" in parts and "MINOR" in parts:
            return ".".join(parts[k] for k in ("MAJOR", "MINOR", "PATCH") if k in parts)
        m = re.search(r'#define\s+\w+_VERSION\s+"([^"]+)"', text)
        return m.group(1) if m else None
    if base == "package.json":
        m = _JSON_VERSION.search(text)
        return m.group(1) if m else None
    m = _CMAKE_VERSION.search(text)
    return m.group(1) if m and "${" not in m.group(1) else None


def tree_versions(path: str, wheel: Wheel) -> dict[str, tuple[str, str]]:
    """tree -> (version, marker member), read from the few marker files each tree has."""
    trees = sorted({t for m in wheel.members for t, v in (tree_of(m.path),) if v})
    sizes: dict[str, int] = {m.path: m.size for m in wheel.members}
    out: dict[str, tuple[str, str]] = {}
    if not trees:
        return out
    with WheelArchive(path) as archive:
        for tree in trees:
            for candidate in _marker_candidates(tree, sizes):
                if sizes[candidate] > MAX_MARKER_BYTES:
                    continue
                text = archive.read(candidate).decode("utf-8", errors="replace")
                version = _version_in(candidate, text)
                if version:
                    out[tree] = (version, candidate)
                    break
    return out

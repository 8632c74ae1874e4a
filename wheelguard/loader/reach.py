"""Which of the wheel's native files a process actually maps, and through which chain.

A library matters at run time only when something loads it. The loads the audit can see:

* **extension modules** (files exporting ``PyInit_*``): Python opens them by path on import.
  An import the package makes only inside ``try: ... except ImportError`` (or ``OSError``,
  ``Exception``) is *optional*: the package works without the module. A module built for
  another CPython (``core.cpython-38-...so`` in a cp312 wheel) is never imported.
* **executables**: each runs as its own process.
* **libraries the package's Python code opens itself** (``ctypes.CDLL``, ``dlopen``,
  ``load_lib``): a string literal of such a module naming the file (``"libtvm_ffi.so"``), its
  stem (``"libz3."``, ``"tvm_runtime_cuda"``) or a glob matching it.
* **a library wheel** (no extension module at all, like ``nvidia-cublas``): every library is
  what it ships for others to load.
* from each of those, every ``DT_NEEDED`` the loader resolves inside the wheel.

What none of these reaches is loaded on demand by native code (a plugin opened with
``dlopen``) or not at all. The state of each binary (``import``, ``optional``, ``unloaded``)
and the chain that gives it decide how much a defect in it hurts, and which copies of one
library can meet in one process. docs/accuracy.md states the heuristic and its limits.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from wheelguard.loader.paths import install_path
from wheelguard.loader.resolve import Resolution
from wheelguard.model import ArchivePath, Binary, Site, Wheel, freeze_mapping
from wheelguard.reading.pysource import module_name

__all__ = ["Edge", "Reach", "ReachState", "Root", "compute_reach", "is_extension"]

ReachState = Literal["import", "optional", "unloaded"]
_RANK: Mapping[ReachState, int] = {"import": 2, "optional": 1, "unloaded": 0}

RootKind = Literal["extension", "executable", "python", "library-wheel"]


@dataclass(frozen=True, slots=True)
class Root:
    """A file something outside the loader's NEEDED walk opens."""

    path: ArchivePath
    kind: RootKind
    optional: bool
    evidence: str
    """Why it is opened: 'imported at pkg/x.py:12', 'named at pkg/lib.py:40' ..."""
    by_path: bool
    """Opened by its own path (compared by file, never by SONAME, against what is loaded)."""
    group: str | None = None
    """Roots of one group are alternatives (one conditional picks one): never together."""

    def excludes(self, other: Root) -> bool:
        return self.group is not None and self.group == other.group and self != other


@dataclass(frozen=True, slots=True)
class Edge:
    """One DT_NEEDED that the loader resolves to a file of the wheel."""

    source: ArchivePath
    needed: str
    target: ArchivePath


@dataclass(frozen=True, slots=True)
class Reach:
    roots: Mapping[ArchivePath, Root]
    state: Mapping[ArchivePath, ReachState]
    chain: Mapping[ArchivePath, tuple[ArchivePath, ...]]
    """For each reached binary: the root, then every file down to it, for its best state."""
    edges: tuple[Edge, ...]
    """NEEDED resolved inside the wheel, from every binary a Python process may load."""
    origins: Mapping[ArchivePath, frozenset[ArchivePath]] = field(
        default_factory=lambda: freeze_mapping({}))
    """For each reached binary: every root whose loading maps it."""

    def together(self, a: ArchivePath, b: ArchivePath) -> bool:
        """Whether some process can hold both: roots that reach them are not alternatives."""
        left, right = self.origins.get(a, frozenset()), self.origins.get(b, frozenset())
        return any(not self.roots[x].excludes(self.roots[y]) for x in left for y in right)

    def of(self, path: ArchivePath) -> ReachState:
        return self.state.get(path, "unloaded")

    def describe(self, path: ArchivePath) -> str:
        """How the binary gets loaded, in words that follow "it is loaded": ``by <what
        opens the first file> -> <each NEEDED down to it>``."""
        chain = self.chain.get(path)
        if chain is None:
            return "by nothing in the wheel (a plugin opened on demand, or unused)"
        root = self.roots[chain[0]]
        via = "" if len(chain) == 1 else " -> " + " -> ".join(chain[1:])
        return f"by {root.evidence}{via}"

    def loaded_sonames(self, binaries: Iterable[Binary]) -> dict[str, str]:
        """SONAME -> install path of the wheel's libraries that importing the package loads
        (so they are mapped before anything opened later looks for their SONAME)."""
        out: dict[str, str] = {}
        for b in binaries:
            chain = self.chain.get(b.path)
            if (b.soname and chain is not None and self.of(b.path) == "import"
                    and self.roots[chain[0]].kind in ("extension", "python")):
                out.setdefault(b.soname, install_path(b.path))
        return out


def is_extension(binary: Binary) -> bool:
    return any(s.startswith(("PyInit_", "_PyInit_")) for s in binary.exported)


def compute_reach(
    wheel: Wheel,
    resolutions: Mapping[ArchivePath, tuple[Resolution, ...]],
    files: Mapping[str, ArchivePath],
) -> Reach:
    """Roots, then a breadth-first walk over the NEEDED each resolves inside the wheel.
    ``files`` maps install paths to members (the layout's)."""
    roots = _roots(wheel)
    out: dict[ArchivePath, ReachState] = {}
    chain: dict[ArchivePath, tuple[ArchivePath, ...]] = {}
    for root in sorted(roots.values(), key=lambda r: (-_RANK[_root_state(r)], r.path)):
        state = _root_state(root)
        queue: list[tuple[ArchivePath, tuple[ArchivePath, ...]]] = [(root.path, (root.path,))]
        while queue:
            path, via = queue.pop(0)
            if _RANK[out.get(path, "unloaded")] >= _RANK[state] and path in chain:
                continue
            out[path] = state
            chain[path] = via
            for res in resolutions.get(path, ()):
                if res.kind == "wheel" and res.path is not None and res.path in files:
                    target = files[res.path]
                    queue.append((target, (*via, target)))
    origins: dict[ArchivePath, set[ArchivePath]] = {}
    for root in roots.values():
        seen_here: set[ArchivePath] = set()
        todo_here = [root.path]
        while todo_here:
            path = todo_here.pop()
            if path in seen_here:
                continue
            seen_here.add(path)
            origins.setdefault(path, set()).add(root.path)
            todo_here.extend(files[r.path] for r in resolutions.get(path, ())
                             if r.kind == "wheel" and r.path is not None and r.path in files)
    process = {p for p, r in roots.items() if r.kind != "executable"}
    edges: list[Edge] = []
    seen: set[ArchivePath] = set()
    todo = sorted(process)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for res in resolutions.get(path, ()):
            if res.kind == "wheel" and res.path is not None and res.path in files:
                edges.append(Edge(path, res.needed, files[res.path]))
                todo.append(files[res.path])
    return Reach(roots=freeze_mapping(roots), state=freeze_mapping(out),
                 chain=freeze_mapping(chain), edges=tuple(edges),
                 origins=freeze_mapping({p: frozenset(o) for p, o in origins.items()}))


def _root_state(root: Root) -> ReachState:
    return "optional" if root.optional else "import"


_CPYTHON_TAG = re.compile(r"\.cpython-(\d)(\d+)")


def _roots(wheel: Wheel) -> dict[ArchivePath, Root]:
    roots: dict[ArchivePath, Root] = {}
    binaries = list(wheel.binaries)
    extensions = [b for b in binaries if is_extension(b)]
    pythons = _importable_pythons(wheel)
    facts = wheel.python
    for b in extensions:
        tag = _CPYTHON_TAG.search(b.path.rsplit("/", 1)[-1])
        if tag is not None and pythons is not None and (int(tag[1]), int(tag[2])) not in pythons:
            continue  # built for another CPython: this wheel's interpreter never imports it
        module = module_name(b.path)
        sites = facts.imports.get(module, ())
        where = ", ".join(str(s) for s in sites[:2])
        if module in facts.on_import:
            root = Root(b.path, "extension", False, f"the extension module {module}, which "
                        f"importing the package loads ({where})", by_path=True)
        elif sites:
            root = Root(b.path, "extension", True, f"the extension module {module}, imported "
                        f"at {where}, which importing the package does not run: loaded on "
                        "request", by_path=True)
        else:
            root = Root(b.path, "extension", True, f"the extension module {module}, which "
                        "nothing in the package imports: loaded only when a user imports it",
                        by_path=True)
        roots[b.path] = root
    for b in binaries:
        if b.path not in roots and _is_executable(b):
            roots[b.path] = Root(b.path, "executable", False, f"the executable {b.path}",
                                 by_path=True)
    loads = _python_loads(wheel, binaries)
    for path, (sites, exact) in loads.items():
        if path in roots:
            continue
        now = [s for s in sites if not s.guarded and module_name(s.file) in facts.on_import]
        shown = ", ".join(str(s) for s in (now or sites)[:2])
        if now:
            evidence = f"{path}, which the package's Python code opens ({shown})"
        else:
            evidence = (f"{path}, which the package's Python code opens only optionally or "
                        f"on request ({shown})")
        groups = {f"{s.file}:{s.line}" for s in sites}
        group = next(iter(groups)) if len(groups) == 1 and groups <= facts.alternatives else None
        roots[path] = Root(path, "python", not now, evidence, by_path=exact, group=group)
    if not extensions and not loads:
        for b in binaries:
            if b.path not in roots and b.is_shared_object:
                roots[b.path] = Root(b.path, "library-wheel", False,
                                     "its consumers (a wheel without extension modules ships "
                                     "its libraries for other packages to load)", by_path=False)
    return roots


def _is_executable(b: Binary) -> bool:
    if not b.is_shared_object:
        return True
    parts = b.path.split("/")
    return "bin" in parts[:-1] or ".data/scripts" in b.path


def _importable_pythons(wheel: Wheel) -> frozenset[tuple[int, int]] | None:
    """CPython versions whose ``cpython-XY`` extension modules the wheel's interpreters
    import; None when every version may (``py3`` or ``abi3`` tags)."""
    found: set[tuple[int, int]] = set()
    for t in wheel.tags:
        if t.abi == "abi3" or not t.interpreter.startswith("cp"):
            return None
        digits = t.interpreter[2:]
        if len(digits) >= 2 and digits.isdigit():
            found.add((int(digits[0]), int(digits[1:])))
    return frozenset(found) or None


_STEM_STOP = frozenset({"lib", "libs", "library", "c", "m", "dl", "rt", "so"})


def _python_loads(
    wheel: Wheel, binaries: list[Binary]
) -> dict[ArchivePath, tuple[tuple[Site, ...], bool]]:
    """Libraries a literal of a library-loading module names: path -> (sites, by exact
    file name)."""
    libraries = [b for b in binaries if b.is_shared_object and not is_extension(b)]
    if not libraries or not wheel.python.libraries:
        return {}
    by_base: dict[str, list[Binary]] = {}
    by_stem: dict[str, list[Binary]] = {}
    for b in libraries:
        base = posixpath.basename(b.path)
        by_base.setdefault(base, []).append(b)
        stem = _stem(base)
        for key in {stem, stem.removeprefix("lib")}:
            if len(key) >= 3 and key not in _STEM_STOP:
                by_stem.setdefault(key, []).append(b)
    found: dict[ArchivePath, tuple[tuple[Site, ...], bool]] = {}

    def note(b: Binary, sites: tuple[Site, ...], exact: bool) -> None:
        old = found.get(b.path)
        if old is None or (exact and not old[1]):
            found[b.path] = (sites, exact)

    for literal, sites in wheel.python.libraries.items():
        if literal in by_base:
            for b in by_base[literal]:
                note(b, sites, True)
        elif any(c in literal for c in "*?["):
            for base, group in by_base.items():
                if fnmatch.fnmatchcase(base, literal):
                    for b in group:
                        note(b, sites, False)
        elif literal.startswith("lib") or "." not in literal:
            # 'libz3.%s.%s' (a name being formatted) or a bare target name ('tvm_runtime');
            # a dotted name of anything else ('tvm.contrib.cudnn.exists') is no library.
            for b in by_stem.get(_stem(literal), ()):
                note(b, sites, False)
    return found


def _stem(name: str) -> str:
    """``libz3`` for ``libz3.so.5.4``, ``libz3.%s`` and ``libz3.dylib``."""
    return name.split(".", 1)[0]

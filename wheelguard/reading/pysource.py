"""What a package's own Python code says about loading its native parts.

Packages make libraries reachable at run time in ways the ELF headers do not show: torch
preloads its CUDA dependencies from ``sys.path`` before loading ``libtorch_global_deps.so``;
tvm-ffi and z3 open their library with ``ctypes.CDLL``; numba imports its OpenMP and TBB
threading layers inside ``try: ... except ImportError``; triton compiles ``driver.c`` at run
time. The audit reads a few facts from the sources to tell those apart from defects, with a
documented, line-based heuristic (no import, no execution; see docs/accuracy.md):

* **imports**: ``import a.b`` and ``from a import b`` statements, with relative imports made
  absolute, and whether each sits inside a ``try`` whose handlers catch ``ImportError``,
  ``OSError``, ``RuntimeError``, ``Exception`` or everything (*guarded*: the package works
  without it);
* **library references**: string literals in modules that load libraries themselves (they
  mention ``CDLL``, ``LoadLibrary``, ``dlopen``, ``load_lib``...), with the same guard flag;
* **path fragments**: literals the code builds paths from (``root / "data" / "csrc"``,
  ``os.path.join(d, "driver.c")``), and file names with a source extension: the trees a
  package compiles at run time.

Parsing every module with :mod:`ast` costs seconds on torch's 2,500 modules; these regular
expressions cost a fraction of that and only look at lines that can matter. What they cannot
see (names computed at run time) leaves a library unexplained, never explains one wrongly.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

from wheelguard.loader.paths import install_path
from wheelguard.model import ArchivePath, PythonFacts, Site, freeze_mapping

__all__ = ["ModuleFacts", "merge_facts", "module_name", "read_module"]


@dataclass(frozen=True, slots=True)
class ModuleFacts:
    """One module's facts, as the scan reads them (plain tuples: cheap to send between
    threads and processes)."""

    path: ArchivePath
    imports: tuple[tuple[str, int, bool, bool], ...]
    """(module, line, guarded, lazy): lazy imports sit in a function body."""
    libraries: tuple[tuple[str, int, bool, bool], ...]
    """(literal, line, optional, alternative): alternative literals share a conditional
    expression (``"a" if runtime_only else "b"``), so one of them is loaded, not both."""
    fragments: tuple[str, ...]


_MAX_SITES = 4

_LOADER_WORDS = (b"ctypes", b"dlopen", b"load_lib")
"""A module mentioning one of these may load libraries itself (one ``in`` test each is far
cheaper than one regular expression with alternatives)."""
# Each search starts with a literal, which :mod:`re` finds with a fast scan; the statement
# around a hit is then matched where it starts. Patterns that begin with a class or an anchor
# would be tried at every position of every module.
_IMPORT_HIT = re.compile(rb"import[ \t(]")
_IMPORT = re.compile(
    rb"([ \t]*)(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]*(\([^)]*\)|[^\n#;]+)"
    rb"|import[ \t]+([^\n#;]+))"
)
_TRY_HIT = re.compile(rb"try[ \t]*:")
_DEF_HIT = re.compile(rb"def[ \t]")
_EXCEPT = re.compile(rb"except\b[ \t]*(\(?[^:\n]*)")
_STRING = re.compile(rb"""(['"])([\w.+*%\[\]{}-]{2,120})\1""")
_CALL_HIT = re.compile(rb"(?:join|joinpath|Path)\(")
_CALL_ARGS = re.compile(rb"\(([^()\n]*)\)")
_SLASH_HIT = re.compile(rb"""/ ?['"]""")
_SLASH_CHAIN = re.compile(rb"""(?:/[ \t]*(['"])[\w.+-]+\1[ \t]*)+""")
_SOURCE_HIT = re.compile(
    rb"""\.(?:c|cc|cpp|cxx|cu|cuh|h|hh|hpp|inl|m|mm|cl|ptx|ll|bc)['"]""")
_NAME = re.compile(rb"[\w.+-]+")
_QUOTED = re.compile(rb"""(['"])([\w.+-]+)\1""")
_CATCHES = frozenset({"", "Exception", "BaseException", "ImportError", "ModuleNotFoundError",
                      "OSError", "FileNotFoundError", "RuntimeError", "AttributeError"})
"""Handlers under which a failed import or library load leaves the package working."""


def read_module(path: ArchivePath, data: bytes) -> ModuleFacts | None:
    """The facts of one ``.py`` member, or None when it has none worth keeping."""
    tries = _Blocks(data, _TRY_HIT, handled=True)
    defs = _Blocks(data, _DEF_HIT, handled=False)
    package = _package(path)
    imports = []
    lines = _Lines(data)
    done = -1
    for hit in _IMPORT_HIT.finditer(data):
        start = data.rfind(b"\n", 0, hit.start()) + 1
        if start <= done:
            continue
        m = _IMPORT.match(data, start)
        if m is None or m.end() < hit.end() - 1:
            continue
        done = start
        guarded = len(m[1]) > 0 and tries.holds(start)
        lazy = len(m[1]) > 0 and not guarded and defs.holds(start)
        line = lines.at(start)
        for module in _imported(m, package):
            imports.append((module, line, guarded, lazy))
    libraries = []
    if any(data.find(word) >= 0 for word in _LOADER_WORDS):
        lines = _Lines(data)
        calls = _Calls(data, tries)
        for m in _STRING.finditer(data):
            text = m[2].decode("ascii", "replace")
            optional = tries.holds(m.start()) or not calls.runs_on_import(m.start())
            start = data.rfind(b"\n", 0, m.start()) + 1
            end = data.find(b"\n", m.end())
            line_text = data[start: end if end >= 0 else None]
            alternative = b" if " in line_text and b" else " in line_text
            libraries.append((text, lines.at(m.start()), optional, alternative))
    fragments = set()
    for hit in _CALL_HIT.finditer(data):
        args = _CALL_ARGS.match(data, hit.end() - 1)
        if args is not None:
            parts = [q[2].decode("ascii", "replace") for q in _QUOTED.finditer(args[1])]
            if parts:
                fragments.add("/".join(parts))
    end = -1
    for hit in _SLASH_HIT.finditer(data):
        if hit.start() < end:
            continue
        chain = _SLASH_CHAIN.match(data, hit.start())
        if chain is not None:
            end = chain.end()
            fragments.add("/".join(q[2].decode("ascii", "replace")
                                   for q in _QUOTED.finditer(chain[0])))
    for hit in _SOURCE_HIT.finditer(data):
        quote = data[hit.end() - 1: hit.end()]
        opening = data.rfind(quote, max(0, hit.start() - 120), hit.start())
        name = data[opening + 1: hit.end() - 1]
        if opening >= 0 and _NAME.fullmatch(name):
            fragments.add(name.decode("ascii", "replace"))
    if not imports and not libraries and not fragments:
        return None
    return ModuleFacts(path=path, imports=tuple(imports), libraries=tuple(libraries),
                       fragments=tuple(sorted(fragments)))


def merge_facts(
    modules: Iterable[ModuleFacts],
    module_paths: Iterable[ArchivePath],
    extensions: Iterable[ArchivePath],
) -> PythonFacts:
    """One wheel's facts: ``module_paths`` are its ``.py`` members, ``extensions`` its
    extension modules. Works out which modules importing the wheel's top-level packages runs:
    module-level imports that are neither guarded nor in a function body, followed from each
    top-level package (test modules do not count)."""
    keys: dict[str, ArchivePath] = {}
    for path in [*module_paths, *extensions]:
        keys.setdefault(module_name(path), path)
    alias: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split(".")
        for i in range(len(parts) - 1, -1, -1):
            if not parts[i].isidentifier():
                break
            alias.setdefault(".".join(parts[i:]), []).append(key)
    ext_keys = {module_name(p) for p in extensions}

    def resolve(name: str) -> list[str]:
        if name in keys:
            return [name]
        return alias.get(name, [])

    imports: dict[str, list[Site]] = {}
    libraries: dict[str, list[Site]] = {}
    fragments: set[str] = set()
    alternatives: set[str] = set()
    edges: dict[str, set[str]] = {}
    for mod in sorted(modules, key=lambda m: m.path):
        if _is_test(mod.path) or _is_build_script(mod.path):
            fragments.update(mod.fragments)
            continue
        source = module_name(mod.path)
        for name, line, guarded, lazy in mod.imports:
            for target in resolve(name):
                if target in ext_keys:
                    _add(imports, target, Site(mod.path, line, guarded))
                if not guarded and not lazy:
                    edges.setdefault(source, set()).add(target)
        for text, line, guarded, alternative in mod.libraries:
            _add(libraries, text, Site(mod.path, line, guarded))
            if alternative:
                alternatives.add(f"{mod.path}:{line}")
        fragments.update(mod.fragments)
    on_import: set[str] = set()
    todo = [k for k in keys if "." not in k and k.isidentifier()]
    while todo:
        key = todo.pop()
        if key in on_import:
            continue
        on_import.add(key)
        todo.extend(edges.get(key, ()))
        parent = key.rpartition(".")[0]
        if parent in keys:  # importing a.b runs a/__init__.py first
            todo.append(parent)
    return PythonFacts(
        imports=freeze_mapping({k: tuple(v) for k, v in sorted(imports.items())}),
        libraries=freeze_mapping({k: tuple(v) for k, v in sorted(libraries.items())}),
        fragments=frozenset(fragments),
        on_import=frozenset(on_import),
        alternatives=frozenset(alternatives),
    )


_TEST_DIRS = frozenset({"tests", "test", "testing", "unittests"})


def _is_test(path: str) -> bool:
    """A test module's imports say what the tests need, not what importing the package does."""
    *dirs, base = path.split("/")
    return (base.startswith("test_") or base.endswith("_test.py") or base == "conftest.py"
            or any(d in _TEST_DIRS for d in dirs))


def module_name(path: str) -> str:
    """The dotted name of a module from where it installs (``pkg/__init__.py`` is ``pkg``,
    ``pkg/_C.cpython-312-x86_64-linux-gnu.so`` is ``pkg._C``); directories that are no
    identifiers (``3rdparty``) stay in it: such a module is importable only under the
    identifier tail of its name, from a ``sys.path`` entry the package adds."""
    parts = install_path(path).split("/")
    parts[-1] = parts[-1].split(".", 1)[0]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(p for p in parts if p)


def _is_build_script(path: str) -> bool:
    """``setup.py`` and friends build the package; nothing imports them at run time."""
    return path.rsplit("/", 1)[-1] in ("setup.py", "conftest.py", "noxfile.py")


def _add(table: dict[str, list[Site]], key: str, site: Site) -> None:
    sites = table.setdefault(key, [])
    if len(sites) >= _MAX_SITES and (site.guarded or not all(s.guarded for s in sites)):
        return
    sites.append(site)
    sites.sort(key=lambda s: s.guarded)
    del sites[_MAX_SITES:]


class _Lines:
    """Line numbers for increasing positions, counted once through the text."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._line = 1

    def at(self, pos: int) -> int:
        self._line += self._data.count(b"\n", self._pos, pos)
        self._pos = pos
        return self._line


def _package(path: ArchivePath) -> list[str]:
    """The dotted package a module belongs to, from where it installs."""
    parts = install_path(path).split("/")[:-1]
    return [p for p in parts if p]


def _imported(m: re.Match[bytes], package: list[str]) -> list[str]:
    if m[4] is not None:  # import a.b, c as d
        names = [n.strip().split()[0] for n in m[4].decode("ascii", "replace").split(",")
                 if n.strip()]
        return [n for n in names if _DOTTED.match(n)]
    base = m[2].decode("ascii", "replace")
    dots = len(base) - len(base.lstrip("."))
    if dots:
        up = package[: len(package) - (dots - 1)] if dots - 1 <= len(package) else []
        rest = base[dots:]
        base = ".".join([*up, *([rest] if rest else [])])
    names_text = m[3].decode("ascii", "replace").strip().strip("()")
    out = [base] if base else []
    for item in names_text.replace("\n", " ").split(","):
        words = item.strip().split()
        if words and _DOTTED.match(words[0]):
            out.append(f"{base}.{words[0]}" if base else words[0])
    return out


_DOTTED = re.compile(r"^[A-Za-z_][\w.]*$")


class _Blocks:
    """The bodies of one module's ``try`` statements whose handlers keep the package working
    (``handled``), or of its functions (outer ones and methods: an import in a nested function
    is inside its outer one anyway), found on first use (most modules never need them) and
    kept as sorted disjoint spans, so a lookup is one bisection."""

    def __init__(self, data: bytes, hit: re.Pattern[bytes], *, handled: bool) -> None:
        self._data = data
        self._hit = hit
        self._handled = handled
        self._starts: list[int] | None = None
        self._spans: list[tuple[int, int]] = []
        self._opened: list[int] = []

    def holds(self, pos: int) -> bool:
        self._load()
        assert self._starts is not None
        i = bisect.bisect_right(self._starts, pos) - 1
        return i >= 0 and self._spans[i][0] < pos < self._spans[i][1]

    def any_within(self, start: int, end: int) -> bool:
        """Whether a block opens between ``start`` and ``end``."""
        self._load()
        i = bisect.bisect_left(self._opened, start)
        return i < len(self._opened) and self._opened[i] < end

    def _load(self) -> None:
        if self._starts is not None:
            return
        ranges = sorted(_block_ranges(self._data, self._hit, handled=self._handled,
                                      max_indent=None if self._handled else 4))
        self._opened = [s for s, _e in ranges]
        for s, e in ranges:
            if self._spans and s <= self._spans[-1][1]:
                self._spans[-1] = (self._spans[-1][0], max(e, self._spans[-1][1]))
            else:
                self._spans.append((s, e))
        self._starts = [s for s, _e in self._spans]


_DEF_NAME = re.compile(rb"^([ \t]*)(?:async[ \t]+)?def[ \t]+(\w+)", re.MULTILINE)
_CALL = re.compile(rb"(?<![\w.])(?<!def )(\w+)\(")
"""A call of a plain name (``f(``, not ``obj.f(`` and not the ``def f(`` defining it)."""


class _Calls:
    """Which code of a library-loading module runs when the module is imported: module-level
    statements, and functions called from there (transitively, within the module) unless a
    function on the way handles failures (has a ``try`` with a broad handler) or the call
    sits in such a ``try``. Names computed or passed on to other modules are not followed."""

    def __init__(self, data: bytes, tries: _Blocks) -> None:
        self._defs: list[tuple[str, int, int]] = []
        for m in _DEF_NAME.finditer(data):
            body_end = _dedent(len(m[1].expandtabs())).search(data, m.end())
            self._defs.append((m[2].decode("ascii", "replace"), m.start(),
                               body_end.start() if body_end else len(data)))
        self._def_starts = [start for _n, start, _e in self._defs]
        names = {name for name, _s, _e in self._defs}
        safe = {name for name, start, end in self._defs if tries.any_within(start, end)}
        callers: dict[str, list[str | None]] = {}
        for call in _CALL.finditer(data):
            name = call[1].decode("ascii", "replace")
            if name not in names or tries.holds(call.start()):
                continue
            caller = self._innermost(call.start())
            callers.setdefault(name, []).append(None if caller is None else caller[0])
        live: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, by in callers.items():
                if name not in live and any(c is None or (c in live and c not in safe)
                                            for c in by):
                    live.add(name)
                    changed = True
        self._live = {name for name in live if name not in safe}

    def _innermost(self, pos: int) -> tuple[str, int] | None:
        i = bisect.bisect_right(self._def_starts, pos) - 1
        while i >= 0:  # the nearest function opened before pos that is still open there
            name, start, end = self._defs[i]
            if pos < end:
                return name, start
            i -= 1
        return None

    def runs_on_import(self, pos: int) -> bool:
        inner = self._innermost(pos)
        return inner is None or inner[0] in self._live


def _block_ranges(
    data: bytes, hit: re.Pattern[bytes], *, handled: bool, max_indent: int | None
) -> Iterable[tuple[int, int]]:
    for m in hit.finditer(data):
        start = data.rfind(b"\n", 0, m.start()) + 1
        lead = data[start: m.start()]
        if lead.strip(b" \t") not in (b"", b"async"):
            continue  # "try:" or "def" inside a line: not a statement
        indent = len(lead.expandtabs())
        if max_indent is not None and indent > max_indent:
            continue
        end_re = _dedent(indent)
        body_end = end_re.search(data, m.end())
        if body_end is None:
            continue
        if not handled or _catches(data, body_end.start() + 1, end_re):
            yield m.end(), body_end.start()


def _catches(data: bytes, pos: int, end_re: re.Pattern[bytes]) -> bool:
    """Whether the handlers from ``pos`` (the first one at the try's indentation) catch a
    failed import or load."""
    while True:
        line_end = data.find(b"\n", pos)
        line = data[pos: line_end if line_end >= 0 else None].strip()
        handler = _EXCEPT.match(line)
        if handler is None:
            return False
        names = {n.strip().split(" as ")[0].strip().rsplit(".", 1)[-1]
                 for n in handler[1].decode("ascii", "replace").strip("() ").split(",")}
        if names & _CATCHES or not handler[1].strip():
            return True
        if line_end < 0:
            return False
        nxt = end_re.search(data, line_end)
        if nxt is None:
            return False
        pos = nxt.start() + 1


def _dedent(indent: int) -> re.Pattern[bytes]:
    """The next line indented at most ``indent`` columns that holds code (not a comment);
    :func:`re.compile` keeps the few distinct patterns in its own cache."""
    return re.compile(rb"\n[ \t]{0,%d}(?=[^\s#])" % indent)

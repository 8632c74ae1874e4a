"""Policy files as values: what a rule matches and what its action asks for.

Everything here is frozen and built once by :mod:`wheelguard.policy.load`; the decisions
(:mod:`wheelguard.policy.decide`) only read it. The ``[smoke]`` table's settings live here too:
a policy is the one file a project writes, and every command reads it through this schema.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from wheelguard.errors import InvalidPolicy
from wheelguard.knowledge.names import library_leaf, loader_name, ungrafted
from wheelguard.loader.paths import install_path
from wheelguard.model import Action, DropKind
from wheelguard.policy.glob import GlobAutomaton, compile_glob
from wheelguard.rules import RULES
from wheelguard.smoke.gemm import GEMM_CHOICES

__all__ = [
    "CATEGORIES",
    "DROP_KINDS",
    "SHIPPED",
    "SMOKE_GEMM",
    "SMOKE_LAYOUTS",
    "DependOptions",
    "Glob",
    "Match",
    "Policy",
    "PolicySet",
    "Ranked",
    "RelinkOptions",
    "Rule",
    "SmokeLayout",
    "SmokeSettings",
]

DROP_KINDS: tuple[DropKind, ...] = get_args(DropKind)

CATEGORIES = ("source", "cmake", "object", "build-dir", "vcs", "tests", "docs")
"""Artifact categories as :func:`wheelguard.checks.artifacts.artifact_category` names them."""

SHIPPED = "<shipped>/"
"""How :attr:`Policy.source` names a policy shipped in the package."""

SmokeLayout = Literal["venv", "system-site-packages", "target"]
SMOKE_LAYOUTS: tuple[SmokeLayout, ...] = get_args(SmokeLayout)
SMOKE_GEMM = GEMM_CHOICES
"""What ``gemm`` may name: the drivers of :mod:`wheelguard.smoke.gemm`, or ``none``."""


# ---- globs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Glob:
    """A path glob: ``*`` and ``?`` stay within one path component, ``**`` crosses them.

    As a path pattern it also matches everything below what it names (``pkg/3rdparty/tvm/src``
    means the tree), the way people write exclusions; as a name pattern (SONAMEs, RPATH
    entries) it must match the whole string. Matching is linear in the name whatever the
    pattern (:mod:`wheelguard.policy.glob`); a malformed class is a ValueError here.
    """

    pattern: str
    _automaton: GlobAutomaton = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_automaton", compile_glob(self.pattern))

    def match_path(self, path: str) -> bool:
        return self._automaton.match_tree(path)

    def match_name(self, name: str) -> bool:
        return self._automaton.fullmatch(name)


# ---- the [smoke] table ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SmokeSettings:
    """What the ``[smoke]`` table of a policy may set; the command line wins over it."""

    gemm: tuple[str, ...] = ()
    layouts: tuple[SmokeLayout, ...] = ()

    KEYS = ("gemm", "layouts")

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None, source: str = "policy") -> SmokeSettings:
        """Validate a ``[smoke]`` table; every problem is reported at once."""
        if not table:
            return cls()
        problems: list[str] = []
        for key in table:
            if key not in cls.KEYS:
                close = difflib.get_close_matches(key, cls.KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problems.append(f"{source}: [smoke] has unknown key {key!r}{hint}")
        gemm = _string_list(table.get("gemm", ()), f"{source}: [smoke].gemm", problems)
        for name in gemm:
            if name not in SMOKE_GEMM:
                problems.append(
                    f"{source}: [smoke].gemm {name!r} is not one of {', '.join(SMOKE_GEMM)}"
                )
        layouts: list[SmokeLayout] = []
        for name in _string_list(table.get("layouts", ()), f"{source}: [smoke].layouts",
                                 problems):
            layout = next((x for x in SMOKE_LAYOUTS if x == name), None)
            if layout is None:
                problems.append(f"{source}: [smoke].layouts {name!r} is not one of "
                                f"{', '.join(SMOKE_LAYOUTS)}")
            else:
                layouts.append(layout)
        if problems:
            raise InvalidPolicy(problems)
        return cls(gemm=tuple(gemm), layouts=tuple(layouts))

    def over(self, earlier: SmokeSettings) -> SmokeSettings:
        """These settings on top of an earlier policy's: each key set here wins."""
        return SmokeSettings(gemm=self.gemm or earlier.gemm,
                             layouts=self.layouts or earlier.layouts)


def _string_list(value: object, where: str, problems: list[str]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    problems.append(f"{where} must be a string or a list of strings")
    return []


# ---- rules and policies ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """What a rule applies to; every matcher given must match (none given: nothing matches)."""

    paths: tuple[Glob, ...] = ()
    exclude: tuple[Glob, ...] = ()
    libraries: tuple[Glob, ...] = ()
    checks: frozenset[str] = frozenset()
    """Rule codes (names are resolved to codes on load)."""
    distributions: tuple[Glob, ...] = ()
    categories: frozenset[str] = frozenset()

    def path_ok(self, path: str) -> bool:
        """``path`` and ``exclude`` (tried on the archive path and the installed path)."""
        candidates = {path, install_path(path)}
        if self.paths and not any(g.match_path(p) for g in self.paths for p in candidates):
            return False
        return not any(g.match_path(p) for g in self.exclude for p in candidates)

    def library_ok(self, names: Iterable[str]) -> bool:
        """Whether a library glob matches one of ``names``, its ungrafted name, or (for a
        Mach-O install name such as ``@rpath/libz3.dylib``) its file name."""
        candidates = {n for name in names
                      for n in (name, ungrafted(name), library_leaf(name), loader_name(name)) if n}
        return any(g.match_name(n) for g in self.libraries for n in candidates)

    def distribution_ok(self, name: str) -> bool:
        return not self.distributions or any(
            g.match_name(canonicalize_name(name)) for g in self.distributions
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RelinkOptions:
    drop: frozenset[DropKind] = frozenset()
    """Entry kinds to remove."""
    replace: tuple[tuple[Glob, str], ...] = ()
    """(entry glob, new entry): ``$ORIGIN...`` verbatim, else an install-root-relative dir."""
    replace_needed: tuple[tuple[str, str], ...] = ()
    remove_needed: frozenset[str] = frozenset()

    def replacement(self, raw: str) -> str | None:
        """The new entry for ``raw`` (``$ORIGIN...`` or an install-root-relative directory)."""
        return next((to for g, to in self.replace if g.match_name(raw)), None)

    def drops(self, kind: DropKind | None) -> bool:
        """Whether entries of ``kind`` go; ``other-distribution`` covers undeclared ones too."""
        if kind is None:
            return False
        return kind in self.drop or (kind == "undeclared-distribution"
                                     and "other-distribution" in self.drop)

    def acts_on_entry(self, raw: str, kind: DropKind | None) -> bool:
        return self.drops(kind) or self.replacement(raw) is not None

    def renamed(self, needed: str) -> str | None:
        """The new name ``replace_needed`` gives ``needed``, if any."""
        return next((new for old, new in self.replace_needed if old == needed), None)

    def acts_on_needed(self, needed: str) -> bool:
        return needed in self.remove_needed or any(old == needed for old, _ in self.replace_needed)


@dataclass(frozen=True, slots=True, kw_only=True)
class DependOptions:
    provider: str
    """Canonical distribution name of the pip package that provides the library."""
    version: SpecifierSet | None = None
    runpath: str | None = None
    """Install-root-relative directory of the provider's library, added as $ORIGIN entry."""
    preload: str | None = None
    """Module imported first thing in the consuming package's ``__init__.py``."""
    cxx_namespace: str | None = None
    """A C++ namespace (``tvm::ffi``) whose ABI is unstable: consumers need an upper bound."""

    @property
    def cxx_mangled(self) -> str | None:
        """The Itanium-mangled nested-name fragment (``3tvm3ffi``) of the namespace."""
        if self.cxx_namespace is None:
            return None
        return "".join(f"{len(p)}{p}" for p in self.cxx_namespace.split("::"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    action: Action
    reason: str
    match: Match
    relink: RelinkOptions | None = None
    depend: DependOptions | None = None
    expires: dt.date | None = None
    index: int
    """1-based position in its file."""
    line: int | None = None

    def applies_to(self, check: str) -> bool:
        """Whether this rule can decide a finding of ``check``: its action handles that rule's
        findings (the rules table says which) and its ``check`` matcher, if any, names it."""
        if not RULES[check].accepts(self.action):
            return False
        return not self.match.checks or check in self.match.checks


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    name: str
    source: str
    """Where it was read from: a file path, or ``<shipped>/name.toml``."""
    sha256: str
    description: str = ""
    distributions: tuple[Glob, ...] = ()
    rules: tuple[Rule, ...] = ()
    smoke: SmokeSettings = field(default_factory=SmokeSettings)
    """The ``[smoke]`` table: defaults for ``wheelguard smoke``."""

    def distribution_ok(self, name: str) -> bool:
        return not self.distributions or any(
            g.match_name(canonicalize_name(name)) for g in self.distributions
        )

    @property
    def argument(self) -> str:
        """How ``--policy`` names it: the shipped name, else the file."""
        return self.name if self.source.startswith(SHIPPED) else self.source


Ranked = tuple[tuple[int, int], Policy, Rule]
"""A rule with its precedence: (policy index, rule index); higher wins."""


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Policies in order of precedence (later wins), and the date waivers are judged on."""

    policies: tuple[Policy, ...]
    today: dt.date = field(default_factory=dt.date.today)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.policies)

    @property
    def smoke(self) -> SmokeSettings:
        """The merged ``[smoke]`` settings: for each key, the last policy that sets it."""
        merged = SmokeSettings()
        for policy in self.policies:
            merged = policy.smoke.over(merged)
        return merged

    def ranked(self, name: str) -> tuple[Ranked, ...]:
        """Every rule that may apply to a wheel of project ``name``, in precedence order."""
        out = []
        canonical = canonicalize_name(name)
        for i, policy in enumerate(self.policies):
            if not policy.distribution_ok(canonical):
                continue
            for j, rule in enumerate(policy.rules):
                if not rule.match.distribution_ok(canonical):
                    continue
                if rule.depend is not None and canonical == rule.depend.provider:
                    continue  # the provider's own wheel ships its library by definition
                out.append(((i, j), policy, rule))
        return tuple(out)

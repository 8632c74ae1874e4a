"""Policy files: what must happen to what a wheel ships, and in which order policies win.

A policy is a TOML file of ``[[rule]]`` tables (format: ``docs/policies.md``). It is parsed
once into frozen values and validated as a whole: every problem in every file is collected,
each naming the file, the line and the key, and reported in one :class:`InvalidPolicy`, so a
CI log shows the whole list at once instead of one error per run.

Decisions are taken per *subject*, three kinds of them:

- a **finding** (one per audit finding): which action the policy assigns to it, whether it is
  waived;
- a **member** of the archive: kept, stripped (dropped), dropped in favour of a pip provider,
  waived or failing;
- a **library need** (a binary's DT_NEEDED): provided by pip (depend-on-pip) or grafted.

For each subject every matching rule of every policy is a candidate and one is decisive
(:func:`_decisive`): the last policy file with a candidate wins; within that file the last
matching rule wins, except that a ``keep`` beats any rule that would remove the member. The
plan (:mod:`wheelguard.repair.plan`) turns the decisions into edits; the audit shows them as
``Finding.action``/``Finding.waived`` through :meth:`PolicySet.assign`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from wheelguard._compat import tomllib
from wheelguard.checks import AuditContext
from wheelguard.checks.artifacts import artifact_category, tree_of
from wheelguard.errors import InvalidPolicy
from wheelguard.knowledge.providers import known_providers, provider_for_soname
from wheelguard.loader.resolve import install_path
from wheelguard.model import Action, Binary, Finding, Severity, Wheel
from wheelguard.rules import lookup_rule

__all__ = [
    "APPLIES_TO",
    "CATEGORIES",
    "DROP_KINDS",
    "Decisions",
    "DependOptions",
    "DropKind",
    "Glob",
    "Match",
    "Policy",
    "PolicySet",
    "RelinkOptions",
    "Rule",
    "Verdict",
    "load_policy",
    "load_policy_set",
    "parse_policy",
    "project_policy_names",
    "shipped_policy_names",
    "ungrafted",
]

DropKind = Literal[
    "absolute", "cwd-relative", "escapes-root", "missing-dir", "other-distribution",
    "undeclared-distribution",
]
DROP_KINDS: tuple[str, ...] = get_args(DropKind)

CATEGORIES = ("source", "cmake", "object", "build-dir", "vcs", "tests", "docs")
"""Artifact categories as :func:`wheelguard.checks.artifacts.artifact_category` names them."""

_REMOVABLE = frozenset({"WG105", "WG401", "WG402", "WG403", "WG404"})
_MEMBER_CHECKS = frozenset({"WG105", "WG401", "WG402", "WG403"})
"""Checks whose findings stand for whole members: a strip there drops the member."""
_TREE_CHECKS = frozenset({"WG401", "WG402"})
_RPATH_KIND = {"WG201": "absolute", "WG202": "cwd-relative", "WG203": "escapes-root",
               "WG204": "other-distribution", "WG205": "missing-dir"}

APPLIES_TO: Mapping[Action, frozenset[str] | None] = {
    Action.KEEP: _REMOVABLE,
    Action.STRIP: _REMOVABLE,
    Action.RELINK: frozenset({*_RPATH_KIND, "WG301"}),
    Action.DEPEND_ON_PIP: frozenset(
        {"WG101", "WG102", "WG103", "WG105", "WG204", "WG301", "WG701"}
    ),
    Action.GRAFT: frozenset({"WG301"}),
    Action.FAIL: None,
    Action.WAIVE: None,
}
"""The checks each action can handle (None: every check)."""

_MEMBER_ACTIONS = frozenset(
    {Action.KEEP, Action.STRIP, Action.DEPEND_ON_PIP, Action.WAIVE, Action.FAIL}
)
_REMOVING = frozenset({Action.STRIP, Action.DEPEND_ON_PIP})


_GRAFTED = re.compile(r"^(?P<stem>.+)-[0-9a-f]{8}(?P<ext>\.so(?:\.[0-9.]+)?|\.dylib|\.dll)$")


def ungrafted(name: str) -> str | None:
    """``libtvm_ffi.so`` for ``libtvm_ffi-1a2b3c4d.so``: the name before auditwheel (or
    delocate/delvewheel) grafted a copy under a hash-suffixed name, None if not such a name.

    A grafted copy of a pip-provided library is the same duplicate runtime under another name;
    rules about the library apply to it too.
    """
    m = _GRAFTED.match(name)
    return f"{m['stem']}{m['ext']}" if m else None


# ---- globs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Glob:
    """A path glob: ``*`` and ``?`` stay within one path component, ``**`` crosses them.

    As a path pattern it also matches everything below what it names (``pkg/3rdparty/tvm/src``
    means the tree), the way people write exclusions; as a name pattern (SONAMEs, RPATH
    entries) it must match the whole string.
    """

    pattern: str
    _tree: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _exact: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        body = _glob_regex(self.pattern)
        object.__setattr__(self, "_tree", re.compile(f"(?:{body})(?:/.*)?", re.DOTALL))
        object.__setattr__(self, "_exact", re.compile(body, re.DOTALL))

    def match_path(self, path: str) -> bool:
        return self._tree.fullmatch(path) is not None

    def match_name(self, name: str) -> bool:
        return self._exact.fullmatch(name) is not None


def _glob_regex(pattern: str) -> str:
    """Translate a glob; ValueError for an unterminated ``[``."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append("(?:.*/)?")  # zero or more whole directories
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) else i + 1)
            if end < 0 or end == i + 1:
                msg = f"unterminated '[' in glob {pattern!r}"
                raise ValueError(msg)
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


# ---- the parsed policy -------------------------------------------------------------------


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
        """Whether a library glob matches one of ``names`` or its ungrafted name."""
        candidates = {n for name in names for n in (name, ungrafted(name)) if n}
        return any(g.match_name(n) for g in self.libraries for n in candidates)

    def distribution_ok(self, name: str) -> bool:
        return not self.distributions or any(
            g.match_name(canonicalize_name(name)) for g in self.distributions
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RelinkOptions:
    drop: frozenset[str] = frozenset()
    """Entry kinds (:data:`DROP_KINDS`) to remove."""
    replace: tuple[tuple[Glob, str], ...] = ()
    """(entry glob, new entry): ``$ORIGIN...`` verbatim, else an install-root-relative dir."""
    replace_needed: tuple[tuple[str, str], ...] = ()
    remove_needed: frozenset[str] = frozenset()

    def acts_on_entry(self, raw: str, kind: str) -> bool:
        return kind in self.drop or any(g.match_name(raw) for g, _ in self.replace)

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
        allowed = APPLIES_TO[self.action]
        if allowed is not None and check not in allowed:
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

    def distribution_ok(self, name: str) -> bool:
        return not self.distributions or any(
            g.match_name(canonicalize_name(name)) for g in self.distributions
        )

    @property
    def argument(self) -> str:
        """How ``--policy`` names it: the shipped name, else the file."""
        return self.name if self.source.startswith(_SHIPPED) else self.source


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decisive rule for one subject, with where it came from."""

    rule: Rule
    policy: Policy
    order: tuple[int, int]
    expired: bool = False

    @property
    def action(self) -> Action:
        """The action in force: an expired waiver fails again."""
        return Action.FAIL if self.expired else self.rule.action

    @property
    def label(self) -> str:
        return f"{self.policy.name}#{self.rule.index}"

    def waiver_note(self) -> str:
        assert self.rule.expires is not None
        return (f"waiver expired on {self.rule.expires.isoformat()} ({self.label}: "
                f"{self.rule.reason})")


# ---- loading and validation ---------------------------------------------------------------

_SHIPPED = "<shipped>/"
_TOP_KEYS = ("policy", "rule", "smoke")
_POLICY_KEYS = ("name", "description", "distribution")
_MATCH_KEYS = ("path", "exclude", "library", "check", "distribution", "category")
_COMMON_KEYS = ("action", "reason", *_MATCH_KEYS)
_ACTION_KEYS: Mapping[Action, tuple[str, ...]] = {
    Action.RELINK: ("drop", "replace", "replace_needed", "remove_needed"),
    Action.DEPEND_ON_PIP: ("provider", "version", "runpath", "preload", "cxx_namespace"),
    Action.WAIVE: ("expires",),
}
_ALL_RULE_KEYS = tuple(dict.fromkeys(
    [*_COMMON_KEYS, *(k for keys in _ACTION_KEYS.values() for k in keys)]
))
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]#]+?)\s*\]\]?\s*(?:#.*)?$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class _Lines:
    """Line numbers for tables and keys, found by scanning the text (tomllib keeps none)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str]] = []
        for no, line in enumerate(self.lines, start=1):
            m = _HEADER.match(line)
            if m:
                name = re.sub(r"\s*\.\s*", ".", m[2]).replace('"', "").replace("'", "")
                self.headers.append((no, name))

    def span(self, table: str, index: int | None = None) -> tuple[int, int] | None:
        """Lines [start, end) of ``[table]`` or the ``index``-th (1-based) ``[[table]]``."""
        if not table:
            start = 1
        else:
            hits = [no for no, name in self.headers if name == table]
            pos = (index or 1) - 1
            if pos >= len(hits):
                return None
            start = hits[pos]
        end = len(self.lines) + 1
        for no, name in self.headers:
            if no > start and not name.startswith(f"{table}."):
                end = no
                break
        return start, end

    def line_of(self, table: str, index: int | None = None, key: str | None = None) -> int | None:
        span = self.span(table, index)
        if span is None:
            return None
        start, end = span
        if key is not None:
            k = re.escape(key)
            pattern = re.compile(rf"^\s*(?:{k}|\"{k}\"|'{k}')\s*[=.]")
            for no in range(start, min(end, len(self.lines) + 1)):
                if pattern.match(self.lines[no - 1]):
                    return no
        return start if table else None


class _Problems:
    """Collects every problem of one file, each as ``file:line: where: message``."""

    def __init__(self, source: str, lines: _Lines) -> None:
        self.source = source
        self.lines = lines
        self.items: list[str] = []

    def add(self, message: str, *, table: str = "", index: int | None = None,
            key: str | None = None) -> None:
        line = self.lines.line_of(table, index, key)
        where = self.source if line is None else f"{self.source}:{line}"
        if table == "rule":
            what = f"rule {index}" + (f", key {key!r}" if key else "")
        elif table:
            what = f"[{table}]" + (f", key {key!r}" if key else "")
        else:
            what = f"key {key!r}" if key else "file"
        self.items.append(f"{where}: {what}: {message}")


def _suggest(key: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_policy(text: str, *, source: str, name: str | None = None) -> Policy:
    """Parse and validate one policy; :class:`InvalidPolicy` lists every problem found."""
    lines = _Lines(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidPolicy([f"{source}: not valid TOML: {e}"]) from None
    problems = _Problems(source, lines)
    for key in data:
        if key not in _TOP_KEYS:
            problems.add(f"unknown key{_suggest(key, _TOP_KEYS)}", key=key)
    if "smoke" in data:
        # [smoke] belongs to `wheelguard smoke`; validated here too so `policy check` and
        # every command report a bad table the same way.
        from wheelguard.smoke.run import SmokeSettings

        table = data["smoke"]
        if not isinstance(table, dict):
            problems.add("must be a table ([smoke])", key="smoke")
        else:
            try:
                SmokeSettings.from_table(table, source)
            except InvalidPolicy as e:
                for p in e.problems:
                    problems.add(p.removeprefix(f"{source}: "), key="smoke")
    header = data.get("policy", {})
    description = ""
    distributions: tuple[Glob, ...] = ()
    policy_name = name or Path(source).stem
    if not isinstance(header, dict):
        problems.add("must be a table ([policy])", key="policy")
        header = {}
    for key, value in header.items():
        if key not in _POLICY_KEYS:
            problems.add(f"unknown key{_suggest(key, _POLICY_KEYS)}", table="policy", key=key)
        elif key == "name":
            if not isinstance(value, str) or not value.strip():
                problems.add("must be a non-empty string", table="policy", key=key)
            else:
                policy_name = value.strip()
        elif key == "description":
            if not isinstance(value, str):
                problems.add("must be a string", table="policy", key=key)
            else:
                description = value.strip()
        elif key == "distribution":
            distributions = _globs(value, problems, table="policy", index=None, key=key)
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        problems.add("must be an array of tables ([[rule]])", key="rule")
        raw_rules = []
    rules = []
    for index, raw in enumerate(raw_rules, start=1):
        if not isinstance(raw, dict):
            problems.add("must be a table", table="rule", index=index)
            continue
        rule = _parse_rule(raw, index, problems)
        if rule is not None:
            rules.append(rule)
    if problems.items:
        raise InvalidPolicy(problems.items)
    return Policy(
        name=policy_name,
        source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        description=description,
        distributions=distributions,
        rules=tuple(rules),
    )


def _parse_rule(raw: dict[str, Any], index: int, problems: _Problems) -> Rule | None:
    before = len(problems.items)

    def bad(message: str, key: str | None = None) -> None:
        problems.add(message, table="rule", index=index, key=key)

    action: Action | None = None
    text = raw.get("action")
    if text is None:
        bad("missing 'action' (keep, strip, relink, depend-on-pip, graft, fail or waive)")
    elif not isinstance(text, str):
        bad("must be a string", "action")
    else:
        try:
            action = Action(text.strip().lower())
        except ValueError:
            bad(f"unknown action {text!r}{_suggest(text, [a.value for a in Action])}", "action")
    if action is None:
        allowed = set(_ALL_RULE_KEYS)  # the action is wrong already; judge keys by name only
    else:
        allowed = {*_COMMON_KEYS, *_ACTION_KEYS.get(action, ())}
    for key in raw:
        if key in allowed:
            continue
        if key in _ALL_RULE_KEYS and action is not None:
            owners = [a.value for a, keys in _ACTION_KEYS.items() if key in keys]
            bad(f"applies only to action {' or '.join(repr(o) for o in owners)}, not "
                f"{action.value!r}", key)
        else:
            bad(f"unknown key{_suggest(key, _ALL_RULE_KEYS)}", key)
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        bad("every rule needs a non-empty 'reason' saying why", "reason" if "reason" in raw
            else None)
        reason = ""
    match = _parse_match(raw, index, problems, bad)
    if action is None:
        return None
    if not any(key in raw for key in ("path", "library", "check", "category", "distribution")):
        bad("matches nothing: give path, library, check, category or distribution")
    allowed_checks = APPLIES_TO[action]
    if allowed_checks is not None:
        wrong = sorted(match.checks - allowed_checks)
        if wrong:
            bad(f"action {action.value!r} cannot handle {', '.join(wrong)} (it handles "
                f"{', '.join(sorted(allowed_checks))})", "check")
    if match.categories:
        if action not in (Action.KEEP, Action.STRIP, Action.WAIVE, Action.FAIL):
            bad(f"applies only to keep, strip, waive and fail, not {action.value!r}",
                "category")
        elif match.checks and not match.checks & _TREE_CHECKS:
            bad("needs check WG401 or WG402 (categories are those of build artifacts)",
                "category")
    relink = _parse_relink(raw, bad) if action is Action.RELINK else None
    depend = _parse_depend(raw, match, bad) if action is Action.DEPEND_ON_PIP else None
    expires = None
    if "expires" in raw and action is Action.WAIVE:
        value = raw["expires"]
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            bad("must be a TOML date, e.g. expires = 2026-06-30 (no quotes)", "expires")
        else:
            expires = value
    if len(problems.items) > before:
        return None
    match = _implied_checks(match)
    return Rule(action=action, reason=reason.strip(), match=match, relink=relink, depend=depend,
                expires=expires, index=index, line=problems.lines.line_of("rule", index))


def _implied_checks(match: Match) -> Match:
    """``category`` alone means the members behind WG401/WG402 findings."""
    if match.categories and not match.checks:
        return replace(match, checks=_TREE_CHECKS)
    return match


def _strings(value: object, bad: Any, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
        isinstance(v, str) and v for v in items
    ):
        bad("must be a non-empty string or a list of them", key)
        return ()
    return tuple(str(v) for v in items)


def _globs(value: object, problems: _Problems, *, table: str, index: int | None,
           key: str) -> tuple[Glob, ...]:
    def bad(message: str, k: str) -> None:
        problems.add(message, table=table, index=index, key=k)

    out = []
    for text in _strings(value, bad, key):
        try:
            out.append(Glob(text))
        except ValueError as e:
            bad(str(e), key)
    return tuple(out)


def _parse_match(raw: dict[str, Any], index: int, problems: _Problems, bad: Any) -> Match:
    def globs(key: str) -> tuple[Glob, ...]:
        if key not in raw:
            return ()
        return _globs(raw[key], problems, table="rule", index=index, key=key)

    checks: set[str] = set()
    for key in _strings(raw["check"], bad, "check") if "check" in raw else ():
        try:
            checks.add(lookup_rule(key).code)
        except KeyError as e:
            bad(str(e.args[0]), "check")
    categories: set[str] = set()
    for cat in _strings(raw["category"], bad, "category") if "category" in raw else ():
        if cat not in CATEGORIES:
            bad(f"unknown category {cat!r}{_suggest(cat, CATEGORIES)} (one of "
                f"{', '.join(CATEGORIES)})", "category")
        categories.add(cat)
    paths = globs("path")
    for g in paths:
        if g.pattern.startswith("/"):
            bad(f"{g.pattern!r}: member paths are relative to the wheel root", "path")
    return Match(
        paths=paths,
        exclude=globs("exclude"),
        libraries=globs("library"),
        checks=frozenset(checks),
        distributions=globs("distribution"),
        categories=frozenset(categories),
    )


def _parse_relink(raw: dict[str, Any], bad: Any) -> RelinkOptions:
    drop: set[str] = set()
    for kind in _strings(raw["drop"], bad, "drop") if "drop" in raw else ():
        if kind not in DROP_KINDS:
            bad(f"unknown entry kind {kind!r}{_suggest(kind, DROP_KINDS)} (one of "
                f"{', '.join(DROP_KINDS)})", "drop")
        drop.add(kind)
    replacements: list[tuple[Glob, str]] = []
    items = raw.get("replace", [])
    if not isinstance(items, list):
        bad("must be a list of {from = GLOB, to = ENTRY} tables", "replace")
        items = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"from", "to"} or not all(
            isinstance(v, str) and v for v in item.values()
        ):
            bad("each item must be {from = GLOB, to = ENTRY}, both non-empty strings", "replace")
            continue
        to = str(item["to"])
        if not to.startswith("$ORIGIN") and (to.startswith("/") or ".." in to.split("/")):
            bad(f"'to' = {to!r}: give an $ORIGIN entry or a directory relative to the install "
                "root (site-packages), like 'tvm_ffi/lib'", "replace")
            continue
        try:
            replacements.append((Glob(str(item["from"])), to))
        except ValueError as e:
            bad(str(e), "replace")
    needed: list[tuple[str, str]] = []
    table = raw.get("replace_needed", {})
    if not isinstance(table, dict) or not all(
        isinstance(v, str) and v for v in table.values()
    ):
        bad("must be a table of OLD = NEW library names", "replace_needed")
        table = {}
    needed.extend((str(k), str(v)) for k, v in table.items())
    removed = _strings(raw["remove_needed"], bad, "remove_needed") if "remove_needed" in raw \
        else ()
    if not (drop or replacements or needed or removed):
        bad("relink does nothing: give drop, replace, replace_needed or remove_needed")
    return RelinkOptions(drop=frozenset(drop), replace=tuple(replacements),
                         replace_needed=tuple(needed), remove_needed=frozenset(removed))


def _parse_depend(raw: dict[str, Any], match: Match, bad: Any) -> DependOptions | None:
    if not match.libraries:
        bad("depend-on-pip needs 'library' (the SONAMEs the provider ships)", "library")
    provider = raw.get("provider")
    if provider is None:
        known = [
            p for g in match.libraries
            if (p := provider_for_soname(g.pattern, known_providers())) is not None
        ]
        if not known or "*" in known[0].distribution:
            bad("name the 'provider' distribution (no known provider ships this library)")
            return None
        provider = known[0].distribution
    if not isinstance(provider, str) or not provider.strip():
        bad("must be a distribution name", "provider")
        return None
    version = None
    if "version" in raw:
        try:
            version = SpecifierSet(str(raw["version"]))
        except InvalidSpecifier as e:
            bad(f"not a version specifier ({e})", "version")
    runpath = raw.get("runpath")
    if runpath is not None and (
        not isinstance(runpath, str) or not runpath or runpath.startswith(("/", "$"))
        or ".." in runpath.split("/")
    ):
        bad("must be the provider's library directory relative to the install root, like "
            "'tvm_ffi/lib'", "runpath")
        runpath = None
    preload = raw.get("preload")
    if preload is not None and (not isinstance(preload, str) or not _MODULE.match(preload)):
        bad("must be a module name to import, like 'tvm_ffi'", "preload")
        preload = None
    namespace = raw.get("cxx_namespace")
    if namespace is not None and (
        not isinstance(namespace, str)
        or not all(p.isidentifier() for p in namespace.split("::"))
    ):
        bad("must be a C++ namespace, like 'tvm::ffi'", "cxx_namespace")
        namespace = None
    return DependOptions(provider=canonicalize_name(provider), version=version,
                         runpath=runpath, preload=preload, cxx_namespace=namespace)


def _shipped_dir() -> Any:
    return resources.files("wheelguard").joinpath("policies")


def shipped_policy_names() -> tuple[str, ...]:
    """Names usable as ``--policy NAME``: the ``policies/*.toml`` shipped in the package."""
    root = _shipped_dir()
    if not root.is_dir():
        return ()
    return tuple(sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml")))


def _is_path(name: str) -> bool:
    return name.endswith(".toml") or "/" in name or "\\" in name


def load_policy(name: str, *, base_dir: Path | None = None) -> Policy:
    """A shipped policy by name, or a policy file (relative paths from ``base_dir``)."""
    if _is_path(name):
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidPolicy(f"{name}: no such policy file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidPolicy(f"{name}: unreadable ({e})") from None
        return parse_policy(text, source=str(name), name=path.stem)
    shipped = shipped_policy_names()
    if name not in shipped:
        raise InvalidPolicy(
            f"{name}: no shipped policy of that name{_suggest(name, shipped)} (shipped: "
            f"{', '.join(shipped) or 'none'}; a file path needs a '/' or '.toml')"
        )
    text = _shipped_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return parse_policy(text, source=f"{_SHIPPED}{name}.toml", name=name)


def project_policy_names(project_dir: Path) -> list[str] | None:
    """``[tool.wheelguard] policies`` of ``project_dir/pyproject.toml``, if it names any."""
    path = project_dir / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as e:
        raise InvalidPolicy(f"{path}: unreadable ({e})") from None
    table = data.get("tool", {}).get("wheelguard", {})
    if not isinstance(table, dict) or "policies" not in table:
        return None
    names = table["policies"]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        line = _Lines(path.read_text(encoding="utf-8")).line_of("tool.wheelguard", None,
                                                                "policies")
        where = f"{path}:{line}" if line else str(path)
        raise InvalidPolicy(f"{where}: [tool.wheelguard], key 'policies': must be a list of "
                            "policy names or paths")
    return [str(n) for n in names]


def load_policy_set(
    names: Sequence[str], *, project_dir: Path, today: dt.date | None = None
) -> PolicySet | None:
    """The policies named on the command line, else those ``[tool.wheelguard]`` names.

    Paths from pyproject.toml are relative to ``project_dir``; paths given on the command line
    to the current directory. None when neither names any policy. Every problem of every file
    is collected into one :class:`InvalidPolicy`.
    """
    base: Path | None = None
    chosen = list(names)
    if not chosen:
        from_project = project_policy_names(project_dir)
        if not from_project:
            return None
        chosen, base = from_project, project_dir
    policies: list[Policy] = []
    problems: list[str] = []
    for name in chosen:
        try:
            policies.append(load_policy(name, base_dir=base))
        except InvalidPolicy as e:
            problems.extend(e.problems)
    if problems:
        raise InvalidPolicy(problems)
    return PolicySet(tuple(policies), today=today or dt.date.today())


# ---- decisions ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decisions:
    """Everything a policy set decided about one wheel; the plan reads only this."""

    findings: tuple[Finding, ...]
    """The audit's findings with ``action``/``waived`` assigned (same order)."""
    verdicts: tuple[Verdict | None, ...]
    """The decisive rule of each finding (None: no rule; tree findings: see ``members``)."""
    members: Mapping[str, Verdict]
    """Fate of each member some rule matched (keep, strip, depend-on-pip, waive or fail)."""
    libraries: Mapping[tuple[str, str], Verdict]
    """(binary path, DT_NEEDED) -> the depend-on-pip or graft rule that decides it."""
    covered: Mapping[str, tuple[int, ...]]
    """Member path -> indexes of the member-level findings (WG105/WG401-403) that cover it."""


@dataclass(frozen=True, slots=True)
class PolicySet:
    """Policies in order of precedence (later wins), and the date waivers are judged on."""

    policies: tuple[Policy, ...]
    today: dt.date = field(default_factory=dt.date.today)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.policies)

    def ranked(self, wheel: Wheel) -> list[tuple[tuple[int, int], Policy, Rule]]:
        """Every rule that may apply to ``wheel``, in precedence order (last wins)."""
        out = []
        for i, policy in enumerate(self.policies):
            if not policy.distribution_ok(wheel.name):
                continue
            for j, rule in enumerate(policy.rules):
                if not rule.match.distribution_ok(wheel.name):
                    continue
                if rule.depend is not None and canonicalize_name(wheel.name) == \
                        rule.depend.provider:
                    continue  # the provider's own wheel ships its library by definition
                out.append(((i, j), policy, rule))
        return out

    def assign(self, ctx: AuditContext, findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
        """The audit post-pass (a :data:`~wheelguard.audit.FindingFilter`)."""
        return self.decide(ctx, findings).findings

    def decide(self, ctx: AuditContext, findings: tuple[Finding, ...]) -> Decisions:
        wheel = ctx.wheel
        ranked = self.ranked(wheel)
        binaries: dict[str, Binary] = {b.path: b for b in wheel.binaries}
        covered = _coverage(wheel, findings)
        members = self._members(wheel, findings, ranked, binaries, covered)
        libraries = self._libraries(wheel, ranked)
        out: list[Finding] = []
        verdicts: list[Verdict | None] = []
        for i, f in enumerate(findings):
            if f.check in _TREE_CHECKS:
                out.append(self._tree_finding(f, i, covered, members))
                verdicts.append(None)
                continue
            verdict = _decisive(
                [(order, policy, rule) for order, policy, rule in ranked
                 if _matches_finding(rule, f, ctx, binaries)],
                self.today,
            )
            verdicts.append(verdict)
            out.append(_apply(f, verdict, members.get(f.path) if f.path else None))
        out.extend(_forbidden_members(members, covered))
        verdicts.extend(None for _ in range(len(out) - len(verdicts)))
        return Decisions(
            findings=tuple(out),
            verdicts=tuple(verdicts),
            members=members,
            libraries=libraries,
            covered={k: tuple(v) for k, v in covered.items()},
        )

    def _members(
        self,
        wheel: Wheel,
        findings: tuple[Finding, ...],
        ranked: list[tuple[tuple[int, int], Policy, Rule]],
        binaries: Mapping[str, Binary],
        covered: Mapping[str, list[int]],
    ) -> dict[str, Verdict]:
        dist_info = wheel.dist_info + "/"
        member_rules = [(o, p, r) for o, p, r in ranked if r.action in _MEMBER_ACTIONS]
        fates: dict[str, Verdict] = {}
        for member in wheel.members:
            if member.path.startswith(dist_info):
                continue  # metadata is rewritten by the repair, never matched
            binary = binaries.get(member.path)
            names = _binary_names(member.path, binary)
            cands = []
            for order, policy, rule in member_rules:
                m = rule.match
                if (m.paths or m.exclude) and not m.path_ok(member.path):
                    continue
                if m.libraries and (binary is None or not m.library_ok(names)):
                    continue
                if rule.action is Action.DEPEND_ON_PIP and binary is None:
                    continue
                if m.checks:
                    if not any(
                        findings[i].check in m.checks
                        and _category_ok(m, findings[i], member.path)
                        for i in covered.get(member.path, ())
                    ):
                        continue
                elif m.categories:
                    continue
                cands.append((order, policy, rule))
            verdict = _decisive(cands, self.today)
            if verdict is not None:
                fates[member.path] = verdict
        return fates

    def _libraries(
        self, wheel: Wheel, ranked: list[tuple[tuple[int, int], Policy, Rule]]
    ) -> dict[tuple[str, str], Verdict]:
        rules = [
            (o, p, r) for o, p, r in ranked
            if r.action in (Action.DEPEND_ON_PIP, Action.GRAFT)
            and (not r.match.checks or "WG301" in r.match.checks)
        ]
        out: dict[tuple[str, str], Verdict] = {}
        for b in wheel.binaries:
            for needed in b.needed:
                cands = [
                    (o, p, r) for o, p, r in rules
                    if r.match.library_ok((needed,))
                    and (not (r.match.paths or r.match.exclude) or r.match.path_ok(b.path))
                ]
                verdict = _decisive(cands, self.today)
                if verdict is not None:
                    out[(b.path, needed)] = verdict
        return out

    def _tree_finding(
        self,
        f: Finding,
        index: int,
        covered: Mapping[str, list[int]],
        members: Mapping[str, Verdict],
    ) -> Finding:
        """A WG401/WG402 finding takes the fates of the members it stands for."""
        fates = [members.get(p) for p, idx in covered.items() if index in idx]
        decided = [v for v in fates if v is not None]
        if not decided:
            return f
        failing = [v for v in decided if v.action is Action.FAIL]
        if failing:
            return _failed(f, failing[0])
        removed = [v for v in decided if v.action in _REMOVING]
        if removed:
            kept = len(decided) - len(removed)
            note = f" [policy {removed[0].label}: strips {len(removed)} of {len(fates)} files" + (
                f", keeps {kept}]" if kept else "]")
            return replace(f, action=Action.STRIP.value, message=f.message + note)
        if len(decided) < len(fates):
            return f
        first = decided[-1]
        if first.action is Action.KEEP:
            return replace(f, action=Action.KEEP.value, waived=f"kept by {first.label}: "
                           f"{first.rule.reason}")
        return replace(f, action=Action.WAIVE.value, waived=first.rule.reason)


def _binary_names(path: str, binary: Binary | None) -> tuple[str, ...]:
    base = posixpath.basename(path)
    if binary is None:
        return (base,)
    return (binary.name, base) if binary.name != base else (base,)


def _category_ok(match: Match, f: Finding, path: str) -> bool:
    if not match.categories or f.check not in _TREE_CHECKS:
        return True
    vendored = bool(f.data.get("vendored"))
    return artifact_category(path, vendored) in match.categories


def _coverage(wheel: Wheel, findings: tuple[Finding, ...]) -> dict[str, list[int]]:
    """Which members each member-level finding stands for.

    WG401/WG402 report a tree; the members are recomputed from the tree and the categories the
    finding counted, with the check's own classifier, so strip and audit agree on every file.
    """
    out: dict[str, list[int]] = {}
    trees: dict[tuple[str, bool], list[tuple[int, frozenset[str]]]] = {}
    for i, f in enumerate(findings):
        if f.check in _TREE_CHECKS:
            cats = f.data.get("categories", {})
            key = (str(f.data.get("tree", f.path)), bool(f.data.get("vendored")))
            trees.setdefault(key, []).append((i, frozenset(cats)))
        elif f.check in _MEMBER_CHECKS and f.path is not None:
            out.setdefault(f.path, []).append(i)
    if trees:
        dist_info = wheel.dist_info + "/"
        for m in wheel.members:
            if m.path.startswith(dist_info):
                continue
            key = tree_of(m.path)
            for i, cats in trees.get(key, ()):
                category = artifact_category(m.path, key[1])
                if category is not None and category in cats:
                    out.setdefault(m.path, []).append(i)
    return out


def _finding_libraries(f: Finding, binaries: Mapping[str, Binary]) -> set[str]:
    """The library names a finding is about (what ``library`` globs are matched against)."""
    needed = f.data.get("needed")
    if isinstance(needed, str):
        return {needed}
    names: set[str] = set()
    for key in ("library", "key") if f.check in ("WG101", "WG105") else ("library",):
        value = f.data.get(key)
        if isinstance(value, str):
            names.add(value)
    paths = [f.path, *f.data.get("paths", ())]
    for p in paths:
        if isinstance(p, str):
            names.update(_binary_names(p, binaries.get(p)))
    return names


def _matches_finding(
    rule: Rule, f: Finding, ctx: AuditContext, binaries: Mapping[str, Binary]
) -> bool:
    if not rule.applies_to(f.check):
        return False
    m = rule.match
    if m.categories:
        return False
    if (m.paths or m.exclude) and (f.path is None or not m.path_ok(f.path)):
        return False
    provider = f.data.get("provider", f.data.get("distribution"))
    if m.libraries:
        names = _finding_libraries(f, binaries)
        by_provider = (
            rule.depend is not None and isinstance(provider, str)
            and canonicalize_name(provider) == rule.depend.provider
        )
        if not (m.library_ok(names) or by_provider):
            return False
    if rule.action is Action.RELINK:
        assert rule.relink is not None
        return _relink_acts(rule.relink, f)
    if rule.action is Action.DEPEND_ON_PIP and f.check == "WG204":
        return rule.depend is not None and isinstance(provider, str) and \
            canonicalize_name(provider) == rule.depend.provider
    return True


def entry_kind(f: Finding) -> str | None:
    """The relink drop kind of an RPATH finding (``undeclared-distribution`` is WG204 where
    the owner of the directory is not a declared dependency)."""
    kind = _RPATH_KIND.get(f.check)
    if kind == "other-distribution" and f.data.get("declared") is None:
        return "undeclared-distribution"
    return kind


def _relink_acts(options: RelinkOptions, f: Finding) -> bool:
    if f.check == "WG301":
        needed = f.data.get("needed")
        return isinstance(needed, str) and options.acts_on_needed(needed)
    raw = f.data.get("entry")
    kind = entry_kind(f)
    if not isinstance(raw, str) or kind is None:
        return False
    if options.acts_on_entry(raw, kind):
        return True
    return kind == "undeclared-distribution" and "other-distribution" in options.drop


def _decisive(
    cands: list[tuple[tuple[int, int], Policy, Rule]], today: dt.date
) -> Verdict | None:
    """The precedence rule: the last file with a match decides; in it the last match wins,
    but a keep beats any rule that would remove the member."""
    if not cands:
        return None
    top = max(order[0] for order, _, _ in cands)
    mine = sorted((c for c in cands if c[0][0] == top), key=lambda c: c[0])
    order, policy, rule = mine[-1]
    if rule.action in _REMOVING:
        keeps = [c for c in mine if c[2].action is Action.KEEP]
        if keeps:
            order, policy, rule = keeps[-1]
    expired = rule.action is Action.WAIVE and rule.expires is not None and rule.expires < today
    return Verdict(rule=rule, policy=policy, order=order, expired=expired)


def _forbidden_members(
    members: Mapping[str, Verdict], covered: Mapping[str, list[int]]
) -> list[Finding]:
    """Members a ``fail`` rule matches by path or library alone: with no check reporting
    them, the rule would otherwise only show at repair time."""
    from wheelguard.rules import RULES

    out = []
    for path, verdict in sorted(members.items()):
        if verdict.action is not Action.FAIL or covered.get(path):
            continue
        f = RULES["WG801"].finding(
            path, "matches a fail rule", data={"rule": verdict.label,
                                               "reason": verdict.rule.reason},
        )
        out.append(_failed(f, verdict))
    return out


def _failed(f: Finding, verdict: Verdict) -> Finding:
    note = verdict.waiver_note() if verdict.expired else f"fails by {verdict.label}: " \
        f"{verdict.rule.reason}"
    return replace(f, action=Action.FAIL.value, severity=Severity.ERROR, waived=None,
                   message=f"{f.message} [{note}]")


def _apply(f: Finding, verdict: Verdict | None, fate: Verdict | None) -> Finding:  # noqa: RET503
    """Finding + decisive rule -> the finding as the audit reports it."""
    if verdict is None:
        if fate is not None and fate.action in _REMOVING:
            # Nothing decides the finding itself, but its member goes: so does the finding.
            return replace(f, action=fate.action.value)
        return f
    action = verdict.action
    match action:
        case Action.FAIL:
            return _failed(f, verdict)
        case Action.WAIVE:
            return replace(f, action=action.value, waived=verdict.rule.reason)
        case Action.KEEP:
            return replace(f, action=action.value,
                           waived=f"kept by {verdict.label}: {verdict.rule.reason}")
        case Action.STRIP | Action.RELINK | Action.DEPEND_ON_PIP | Action.GRAFT:
            return replace(f, action=action.value)
        case _:
            _unreachable(action)


def _unreachable(value: NoReturn) -> NoReturn:
    """``typing.assert_never`` (3.11+) for 3.10: mypy proves every action is handled."""
    msg = f"unhandled {value!r}"
    raise AssertionError(msg)

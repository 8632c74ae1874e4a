"""Reading policy files: TOML in, validated frozen :class:`~wheelguard.policy.schema.Policy`
values out.

Validation is whole-file: every problem in every file is collected, each naming the file, the
line and the key (with a "did you mean" where one is close), and reported in one
:class:`InvalidPolicy`, so a CI log shows the whole list at once instead of one error per run.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from wheelguard._compat import tomllib
from wheelguard.errors import InvalidPolicy
from wheelguard.knowledge.providers import known_providers, provider_for_soname
from wheelguard.loader.origin import is_origin_relative
from wheelguard.model import Action, DropKind
from wheelguard.policy.problems import Lines, Problems
from wheelguard.policy.schema import (
    CATEGORIES,
    DROP_KINDS,
    SHIPPED,
    DependOptions,
    Glob,
    Match,
    Policy,
    PolicySet,
    RelinkOptions,
    Rule,
    SmokeSettings,
)
from wheelguard.rules import RULES, lookup_rule

__all__ = [
    "TREE_CHECKS",
    "is_policy_path",
    "load_policy",
    "load_policy_set",
    "parse_policy",
    "policy_text",
    "project_policy_names",
    "shipped_policy_names",
]

TREE_CHECKS = frozenset(code for code, rule in RULES.items() if rule.subject == "tree")
"""The checks whose findings stand for trees of members (what ``category`` refers to)."""

# ---- loading and validation ---------------------------------------------------------------

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
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_DIST_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
"""A project name as PEP 508 (and so a Requires-Dist line) allows it."""


def _suggest(key: str, choices: Iterable[str]) -> str:
    if len(key) > 100:
        return ""  # no key is that long; difflib's cost grows with it
    close = difflib.get_close_matches(key, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_policy(text: str, *, source: str, name: str | None = None) -> Policy:
    """Parse and validate one policy; :class:`InvalidPolicy` lists every problem found."""
    lines = Lines(text)
    data = _toml(text, source)
    problems = Problems(source, lines)
    for key in data:
        if key not in _TOP_KEYS:
            problems.add(f"unknown key{_suggest(key, _TOP_KEYS)}", key=key)
    smoke = SmokeSettings()
    if "smoke" in data:
        # [smoke] belongs to `wheelguard smoke`; validated here too so `policy check` and
        # every command report a bad table the same way.
        table = data["smoke"]
        if not isinstance(table, dict):
            problems.add("must be a table ([smoke])", key="smoke")
        else:
            try:
                smoke = SmokeSettings.from_table(table, source)
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
        smoke=smoke,
    )


def _toml(text: str, source: str) -> dict[str, Any]:
    """The parsed document; deep nesting is a malformed policy, not a crash (tomllib parses
    nested arrays and inline tables recursively)."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidPolicy([f"{source}: not valid TOML: {e}"]) from None
    except RecursionError:
        raise InvalidPolicy([f"{source}: not valid TOML: arrays or tables nested too deeply"]) \
            from None
    return data


def _parse_rule(raw: dict[str, Any], index: int, problems: Problems) -> Rule | None:
    before = len(problems.items)

    def bad(message: str, key: str | None = None) -> None:
        problems.add(message, table="rule", index=index, key=key)

    action: Action | None = None
    text = raw.get("action")
    if text is None:
        bad("missing 'action' (keep, strip, relink, depend-on-pip, graft, retag, fail or "
            "waive)")
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
    handled = sorted(code for code, rule in RULES.items() if rule.accepts(action))
    wrong = sorted(c for c in match.checks if c not in handled)
    if wrong:
        bad(f"action {action.value!r} cannot handle {', '.join(wrong)} (it handles "
            f"{', '.join(handled)})", "check")
    if match.categories:
        if action not in (Action.KEEP, Action.STRIP, Action.WAIVE, Action.FAIL):
            bad(f"applies only to keep, strip, waive and fail, not {action.value!r}",
                "category")
        elif match.checks and not match.checks & TREE_CHECKS:
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
        return replace(match, checks=TREE_CHECKS)
    return match


def _strings(value: object, bad: Any, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(
        isinstance(v, str) and v for v in items
    ):
        bad("must be a non-empty string or a list of them", key)
        return ()
    return tuple(str(v) for v in items)


def _globs(value: object, problems: Problems, *, table: str, index: int | None,
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


def _parse_match(raw: dict[str, Any], index: int, problems: Problems, bad: Any) -> Match:
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
    drop: set[DropKind] = set()
    for text in _strings(raw["drop"], bad, "drop") if "drop" in raw else ():
        kind = next((k for k in DROP_KINDS if k == text), None)
        if kind is None:
            bad(f"unknown entry kind {text!r}{_suggest(text, DROP_KINDS)} (one of "
                f"{', '.join(DROP_KINDS)})", "drop")
        else:
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
        if not is_origin_relative(to) and (to.startswith("/") or ".." in to.split("/")):
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
    if not isinstance(provider, str) or not _DIST_NAME.match(provider.strip()):
        bad("must be a distribution name as Requires-Dist spells it (letters, digits, '.', "
            "'-' and '_'; e.g. 'apache-tvm-ffi')", "provider")
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


def is_policy_path(name: str) -> bool:
    """How ``--policy`` tells a file from a shipped name: a path ends in ``.toml`` or holds a
    directory separator."""
    return name.endswith(".toml") or "/" in name or "\\" in name


def policy_text(name: str, *, base_dir: Path | None = None) -> tuple[str, str, str]:
    """(text, source, policy name) of a shipped policy or a policy file; the one resolver of
    ``--policy`` arguments (relative paths from ``base_dir``)."""
    if is_policy_path(name):
        path = Path(name)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidPolicy(f"{name}: no such policy file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidPolicy(f"{name}: unreadable ({e})") from None
        return text, str(name), path.stem
    shipped = shipped_policy_names()
    if name not in shipped:
        raise InvalidPolicy(
            f"{name}: no shipped policy of that name{_suggest(name, shipped)} (shipped: "
            f"{', '.join(shipped) or 'none'}; a file path needs a '/' or '.toml')"
        )
    text = _shipped_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return text, f"{SHIPPED}{name}.toml", name


def load_policy(name: str, *, base_dir: Path | None = None) -> Policy:
    """A shipped policy by name, or a policy file (relative paths from ``base_dir``)."""
    text, source, policy_name = policy_text(name, base_dir=base_dir)
    return parse_policy(text, source=source, name=policy_name)


def project_policy_names(project_dir: Path) -> list[str] | None:
    """``[tool.wheelguard] policies`` of ``project_dir/pyproject.toml``, if it names any."""
    path = project_dir / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as e:
        raise InvalidPolicy(f"{path}: unreadable ({e})") from None
    except RecursionError:
        raise InvalidPolicy(f"{path}: unreadable (nested too deeply)") from None
    table = data.get("tool", {}).get("wheelguard", {})
    if not isinstance(table, dict) or "policies" not in table:
        return None
    names = table["policies"]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        line = Lines(path.read_text(encoding="utf-8")).line_of("tool.wheelguard", None,
                                                                "policies")
        where = f"{path}:{line}" if line else str(path)
        raise InvalidPolicy(f"{where}: [tool.wheelguard], key 'policies': must be a list of "
                            "policy names or paths")
    return [str(n) for n in names]


def load_policy_set(
    names: Sequence[str], *, project_dir: Path, today: dt.date | None = None,
    base_dir: Path | None = None,
) -> PolicySet | None:
    """The policies named on the command line, else those ``[tool.wheelguard]`` names.

    Paths from pyproject.toml are relative to ``project_dir``; paths in ``names`` to
    ``base_dir`` (default: the current directory; :mod:`wheelguard.config` passes the
    directory of the table that named them). None when neither names any policy. Every
    problem of every file is collected into one :class:`InvalidPolicy`.
    """
    base: Path | None = base_dir
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

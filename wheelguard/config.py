"""The project's ``[tool.wheelguard]`` table: found, validated, and turned into typed values.

A gate that silently ignores a misspelt key fails open (``polices = [...]`` used to mean "no
policy at all"), so the table is validated as strictly as a policy file: every unknown key is
named with a "did you mean", every bad value with its line, all problems in one error.

Where it comes from: ``--config FILE``, else the nearest ``pyproject.toml`` with a
``[tool.wheelguard]`` table, walking up from the working directory (a CI job often runs from a
subdirectory of the repository), else nothing (``--isolated`` also means nothing). Paths in it
(policy files, wheelhouses) are relative to the file's directory.

The cascade, later winning: built-in defaults, this table, the command line. Every output
echoes the table it used (:meth:`ProjectConfig.to_json`), so a report says what it was judged
under.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wheelguard._compat import tomllib
from wheelguard.errors import InvalidConfig
from wheelguard.model import Severity, freeze_mapping
from wheelguard.rules import lookup_rule
from wheelguard.util.units import format_bytes, parse_size

__all__ = ["KEYS", "ProjectConfig", "find_config", "load_config", "parse_config"]

KEYS: Mapping[str, str] = {
    "policies": "policy names or files, applied in order (later wins)",
    "fail-on": "error, warning, info or never: the level at which audit exits 1",
    "select": "only these checks (codes or names)",
    "ignore": "never these checks (codes or names)",
    "severity": "a table of check = level, overriding a check's default severity",
    "size-budget": "largest wheel file allowed (e.g. \"100MB\")",
    "installed-size-budget": "most bytes the installed files may take",
    "wheelhouse": "directories of dependency wheels for the linkage checks",
    "archive-limits": "a table of zip-bomb and size guards over their defaults, e.g. "
                      "max-total-size = \"16GB\" (docs/reliability.md lists them)",
}
"""Every key the table may hold, with what it means (the one list; unknown keys are errors)."""

FailOn = Severity | Literal["never"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectConfig:
    """``[tool.wheelguard]`` as typed values; a field left at its default was not set."""

    path: Path | None = None
    """The file it was read from; None: no configuration in force."""
    policies: tuple[str, ...] | None = None
    fail_on: FailOn | None = None
    select: frozenset[str] = frozenset()
    """Rule codes (names were resolved to codes)."""
    ignore: frozenset[str] = frozenset()
    severity: Mapping[str, Severity] = field(default_factory=lambda: freeze_mapping({}))
    size_budget: int | None = None
    installed_size_budget: int | None = None
    wheelhouse: tuple[Path, ...] = ()
    """Absolute, resolved against the file's directory."""
    archive_limits: Mapping[str, object] = field(default_factory=lambda: freeze_mapping({}))
    """``[tool.wheelguard.archive-limits]`` as written (validated by
    :func:`wheelguard.reading.archive.limits_from`)."""

    @property
    def root(self) -> Path | None:
        """The directory relative paths in the table are resolved from."""
        return self.path.parent if self.path is not None else None

    def to_json(self) -> dict[str, Any]:
        """What was in force, for the echo in every output (only keys the table set)."""
        out: dict[str, Any] = {"path": str(self.path) if self.path else None}
        if self.policies is not None:
            out["policies"] = list(self.policies)
        if self.fail_on is not None:
            out["fail-on"] = self.fail_on if self.fail_on == "never" else self.fail_on.label
        if self.select:
            out["select"] = sorted(self.select)
        if self.ignore:
            out["ignore"] = sorted(self.ignore)
        if self.severity:
            out["severity"] = {k: v.label for k, v in sorted(self.severity.items())}
        if self.size_budget is not None:
            out["size-budget"] = self.size_budget
        if self.installed_size_budget is not None:
            out["installed-size-budget"] = self.installed_size_budget
        if self.wheelhouse:
            out["wheelhouse"] = [str(p) for p in self.wheelhouse]
        if self.archive_limits:
            out["archive-limits"] = dict(self.archive_limits)
        return out

    def describe(self) -> str:
        """One line for text output: where the table came from and what it set."""
        if self.path is None:
            return "no [tool.wheelguard]"
        parts = []
        for key, value in self.to_json().items():
            if key == "path":
                continue
            if key in ("size-budget", "installed-size-budget"):
                shown = format_bytes(value)
            elif isinstance(value, list):
                shown = ", ".join(str(v) for v in value)
            elif isinstance(value, dict):
                shown = ", ".join(f"{k}={v}" for k, v in value.items())
            else:
                shown = str(value)
            parts.append(f"{key} {shown}")
        return f"{self.path} [tool.wheelguard]" + (f" ({'; '.join(parts)})" if parts else "")


def find_config(start: Path) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` that has ``[tool.wheelguard]``."""
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        try:
            text = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        # A cheap text test first: most pyproject.toml files on the way up are not ours, and
        # one that cannot be parsed is only our problem when it holds our table.
        if "wheelguard" in text and _has_table(candidate, text):
            return candidate
    return None


def _has_table(path: Path, text: str) -> bool:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidConfig([f"{path}: not valid TOML: {e}"]) from None
    tool = data.get("tool")
    return isinstance(tool, dict) and "wheelguard" in tool


def load_config(*, explicit: str | None, cwd: Path, isolated: bool = False) -> ProjectConfig:
    """The configuration in force: ``--config FILE``, else the nearest one, else none."""
    if isolated:
        return ProjectConfig()
    if explicit is not None:
        path = Path(explicit)
        if not path.is_absolute():
            path = cwd / path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidConfig([f"--config {explicit}: no such file"]) from None
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidConfig([f"--config {explicit}: unreadable ({e})"]) from None
        return parse_config(text, path=path.resolve(), required=True)
    found = find_config(cwd.resolve())
    if found is None:
        return ProjectConfig()
    return parse_config(found.read_text(encoding="utf-8"), path=found)


def _suggest(key: str, choices: list[str]) -> str:
    # Underscores are the usual slip (fail_on for fail-on): compare in the table's spelling.
    close = difflib.get_close_matches(key.replace("_", "-"), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_config(text: str, *, path: Path, required: bool = False) -> ProjectConfig:
    """Validate ``[tool.wheelguard]`` of one file; :class:`InvalidConfig` lists every problem.

    ``required``: the file was named with ``--config``, so a missing table is an error too.
    """
    from wheelguard.policy.problems import Lines, Problems

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidConfig([f"{path}: not valid TOML: {e}"]) from None
    tool = data.get("tool", {})
    table = tool.get("wheelguard") if isinstance(tool, dict) else None
    if table is None:
        if required:
            raise InvalidConfig([f"{path}: no [tool.wheelguard] table"])
        return ProjectConfig()
    problems = Problems(str(path), Lines(text))
    where = "tool.wheelguard"
    if not isinstance(table, dict):
        problems.add("must be a table", table=where)
        raise InvalidConfig(problems.items)

    def bad(key: str, message: str) -> None:
        problems.add(message, table=where, key=key)

    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in KEYS:
            bad(key, f"unknown key{_suggest(key, list(KEYS))} (known: {', '.join(KEYS)})")
            continue
        match key:
            case "policies":
                if not isinstance(value, list) or not all(
                    isinstance(v, str) and v.strip() for v in value
                ):
                    bad(key, "must be a list of policy names or paths")
                else:
                    values["policies"] = tuple(v.strip() for v in value)
            case "fail-on":
                if not isinstance(value, str):
                    bad(key, "must be a string: error, warning, info or never")
                elif value.strip().lower() == "never":
                    values["fail_on"] = "never"
                else:
                    try:
                        values["fail_on"] = Severity.parse(value)
                    except ValueError as e:
                        bad(key, f"{e} or never")
            case "select" | "ignore":
                codes = _checks(value, lambda m, k=key: bad(k, m))
                if codes is not None:
                    values[key] = codes
            case "severity":
                if not isinstance(value, dict):
                    bad(key, "must be a table of check = level, e.g. WG204 = \"error\"")
                    continue
                levels: dict[str, Severity] = {}
                for check, level in value.items():
                    try:
                        code = lookup_rule(check).code
                    except KeyError as e:
                        bad(key, str(e.args[0]))
                        continue
                    try:
                        levels[code] = Severity.parse(level if isinstance(level, str) else "")
                    except ValueError:
                        bad(key, f"{check}: {level!r} is not error, warning or info")
                values["severity"] = freeze_mapping(levels)
            case "size-budget" | "installed-size-budget":
                try:
                    if isinstance(value, bool) or not isinstance(value, int | str):
                        raise ValueError(f"not a size: {value!r} (try \"100MB\")")
                    size = value if isinstance(value, int) else parse_size(value)
                    if size <= 0:
                        raise ValueError("must be positive")
                except ValueError as e:
                    bad(key, str(e))
                else:
                    values[key.replace("-", "_")] = size
            case "archive-limits":
                from wheelguard.reading.archive import limits_from

                if not isinstance(value, dict):
                    bad(key, "must be a table, e.g. max-total-size = \"16GB\"")
                    continue
                try:
                    limits_from(value)
                except ValueError as e:
                    bad(key, str(e))
                else:
                    values["archive_limits"] = freeze_mapping(dict(value))
            case "wheelhouse":
                items = [value] if isinstance(value, str) else value
                if not isinstance(items, list) or not all(
                    isinstance(v, str) and v for v in items
                ):
                    bad(key, "must be a directory or a list of them")
                else:
                    values["wheelhouse"] = tuple((path.parent / v).resolve() for v in items)
    if problems.items:
        raise InvalidConfig(problems.items)
    return ProjectConfig(path=path, **values)


def _checks(value: object, bad: Any) -> frozenset[str] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        bad("must be a list of check codes or names")
        return None
    codes = set()
    for item in items:
        try:
            codes.add(lookup_rule(item.strip()).code)
        except KeyError as e:
            bad(str(e.args[0]))
    return frozenset(codes)

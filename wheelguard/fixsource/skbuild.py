"""``pyproject.toml`` edits for scikit-build-core projects, and where package files come from.

What goes into the wheel is decided in ``[tool.scikit-build]``: ``wheel.packages`` maps source
directories into the wheel, ``wheel.exclude`` (gitignore syntax, matched against the final
paths in the wheel, CMake output included) takes files out, ``install.strip`` and
``cmake.build-type`` decide whether DWARF ships. Each edit here changes one value span of the
file (:mod:`wheelguard.fixsource.toml_text`), and :meth:`PyprojectEditor.check` parses the
edited text again so a broken TOML file can never be proposed.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from wheelguard._compat import tomllib
from wheelguard.fixsource.patch import Edit, Instruction
from wheelguard.fixsource.toml_text import Statement, TomlLayout, array_items, dump_string
from wheelguard.repair.edits import RequirementEdit

__all__ = ["PyprojectEditor", "exclude_patterns", "package_sources"]

PYPROJECT = "pyproject.toml"
SKB = ("tool", "scikit-build")


# ---- exclusion patterns -------------------------------------------------------------------


def exclude_patterns(removed: Iterable[str], kept: Iterable[str]) -> list[str]:
    """The fewest gitignore patterns that match every removed path and no kept one.

    Whole directories where nothing under them is kept (``dir/``); where most of a directory
    goes, ``dir/**`` with ``!`` re-inclusions of what stays, if that is shorter.
    """
    gone = frozenset(removed)
    stay = frozenset(kept)
    # Dot files (.gitignore, .gitattributes ...) scattered over a tree: one pattern per name,
    # where no kept file has that name.
    names: dict[str, list[str]] = {}
    for p in gone:
        base = posixpath.basename(p)
        if base.startswith("."):
            names.setdefault(base, []).append(p)
    kept_names = {posixpath.basename(p) for p in stay}
    by_name = sorted(n for n, ps in names.items() if len(ps) > 1 and n not in kept_names)
    gone = gone - {p for n in by_name for p in names[n]}

    @cache
    def has(paths: frozenset[str], directory: str) -> bool:
        prefix = directory + "/"
        return any(p.startswith(prefix) for p in paths)

    @cache
    def children(directory: str) -> tuple[tuple[str, bool], ...]:
        prefix = directory + "/" if directory else ""
        out: dict[str, bool] = {}
        for p in gone | stay:
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            head, sep, _ = rest.partition("/")
            out[prefix + head] = bool(sep) or out.get(prefix + head, False)
        return tuple(sorted(out.items()))

    def anchored(path: str) -> str:
        return path if "/" in path else "/" + path

    @cache
    def exclude(directory: str) -> tuple[str, ...]:
        """Patterns that remove exactly the gone paths under ``directory``, which is included
        so far."""
        if directory and not has(stay, directory):
            return (anchored(directory) + "/",)
        by_child: list[str] = []
        for child, is_dir in children(directory):
            if is_dir:
                if has(gone, child):
                    by_child.extend(exclude(child))
            elif child in gone:
                by_child.append(anchored(child))
        if directory and len(by_child) > 1:
            flipped = (anchored(directory) + "/**", *reinclude(directory))
            if 2 * len(flipped) <= len(by_child):  # only where it is much shorter
                return flipped
        return tuple(by_child)

    @cache
    def reinclude(directory: str) -> tuple[str, ...]:
        """Patterns that bring back the kept paths under an excluded ``directory`` (the last
        matching pattern wins, so a re-included directory can lose files again)."""
        out: list[str] = []
        for child, is_dir in children(directory):
            if is_dir:
                if not has(stay, child):
                    continue
                if not has(gone, child):
                    out.append("!" + anchored(child) + "/**")
                    continue
                back = ("!" + anchored(child) + "/**", *exclude(child))
                inner = reinclude(child)
                out.extend(inner if len(inner) <= len(back) else back)
            elif child in stay:
                out.append("!" + anchored(child))
        return tuple(out)

    return [f"**/{n}" for n in by_name] + list(exclude(""))


# ---- where package files come from --------------------------------------------------------


def package_sources(data: Mapping[str, Any], project_name: str,
                    exists: Any) -> dict[str, str]:
    """Wheel directory -> project directory, for packages scikit-build-core copies in.

    ``exists(path)`` tells whether a project directory exists (auto-discovery looks for
    ``src/<name>``, ``python/<name>``, ``<name>``).
    """
    skb = data.get("tool", {}).get("scikit-build", {})
    wheel = skb.get("wheel", {}) if isinstance(skb, dict) else {}
    packages = wheel.get("packages") if isinstance(wheel, dict) else None
    out: dict[str, str] = {}
    if isinstance(packages, dict):
        for dest, src in packages.items():
            out[str(dest).strip("/")] = str(src).strip("/")
        return out
    if isinstance(packages, list):
        for src in packages:
            text = str(src).strip("/")
            out[posixpath.basename(text)] = text
        return out
    name = project_name.replace("-", "_").replace(".", "_")
    for candidate in (f"src/{name}", f"python/{name}", name):
        if exists(candidate):
            out[name] = candidate
            break
    return out


def source_of(mapping: Mapping[str, str], member: str) -> str | None:
    """The project file a wheel member was copied from, through the package mapping."""
    for dest, src in sorted(mapping.items(), key=lambda kv: -len(kv[0])):
        if member == dest or member.startswith(dest + "/"):
            return posixpath.normpath(src + member[len(dest):]) if src else member
    return None


# ---- the editor ---------------------------------------------------------------------------


@dataclass
class PyprojectEditor:
    text: str

    def __post_init__(self) -> None:
        self.layout = TomlLayout(self.text)
        self.data: dict[str, Any] = tomllib.loads(self.text)

    def _line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def find(self, *paths: tuple[str, ...]) -> Statement | None:
        return next((s for p in paths if (s := self.layout.find(p)) is not None), None)

    def _insert(self, table_choices: list[tuple[tuple[str, ...], str]], value: str,
                why: str) -> Edit:
        """A new ``key = value`` statement in the first table that exists, else a new
        ``[tool.scikit-build]`` table at the end."""
        for table, key in table_choices:
            at = self.layout.table_end(table)
            if at is not None:
                return Edit(file=PYPROJECT, start=at, end=at, text=f"{key} = {value}\n",
                            why=why, line=self._line(at))
        at = len(self.text)
        lead = "" if self.text.endswith("\n") else "\n"
        key = table_choices[-1][1]
        return Edit(file=PYPROJECT, start=at, end=at,
                    text=f"{lead}\n[tool.scikit-build]\n{key} = {value}\n", why=why,
                    line=self._line(at))

    def add_to_array(self, stmt: Statement, items: list[str], why: str) -> Edit:
        """``items`` (plain strings) appended to the array of ``stmt``; in a multi-line array
        as new lines after the last item, so comments and the other items stay untouched."""
        spans = array_items(self.text, stmt.value_start, stmt.value_end)
        new = [dump_string(i) for i in items]
        if "\n" not in self.text[stmt.value_start:stmt.value_end] or not spans:
            raw = [self.text[a:b] for a, b in spans]
            return self._rewrite(stmt, [*raw, *new], why)
        last = spans[-1][1]
        at = last
        while at < stmt.value_end and self.text[at] in " \t":
            at += 1
        comma = at < stmt.value_end and self.text[at] == ","
        line_end = self.text.find("\n", last, stmt.value_end)
        line_end = stmt.value_end if line_end < 0 else line_end
        line_start = self.text.rfind("\n", 0, spans[-1][0]) + 1
        indent = self.text[line_start:spans[-1][0]]
        text = "".join(f"\n{indent}{i}," for i in new)
        if not comma:  # the last item had no trailing comma: give it one, then the new lines
            return Edit(file=PYPROJECT, start=last, end=line_end,
                        text="," + self.text[last:line_end] + text, why=why,
                        line=self._line(last))
        return Edit(file=PYPROJECT, start=line_end, end=line_end, text=text, why=why,
                    line=self._line(line_end))

    def _rewrite(self, stmt: Statement, items: list[str], why: str) -> Edit:
        """The array value of ``stmt`` written anew with ``items`` (TOML source text each)."""
        if len(items) > 2:
            line_start = self.text.rfind("\n", 0, stmt.start) + 1
            indent = " " * (len(self.text[line_start:stmt.start]) -
                            len(self.text[line_start:stmt.start].lstrip()) + 4)
            body = "".join(f"{indent}{i},\n" for i in items)
            value = "[\n" + body + indent[:-4] + "]"
        else:
            value = "[" + ", ".join(items) + "]"
        return Edit(file=PYPROJECT, start=stmt.value_start, end=stmt.value_end, text=value,
                    why=why, line=stmt.line)

    def exclude(self, patterns: list[str], why: str) -> Edit | None:
        existing = self.data.get("tool", {}).get("scikit-build", {}).get("wheel", {}).get(
            "exclude", [])
        new = [p for p in patterns if p not in existing]
        if not new:
            return None
        stmt = self.find((*SKB, "wheel", "exclude"))
        if stmt is not None:
            return self.add_to_array(stmt, new, why)
        value = "[\n" + "".join(f"    {dump_string(p)},\n" for p in new) + "]"
        return self._insert([((*SKB, "wheel"), "exclude"), (SKB, "wheel.exclude")], value, why)

    def mapping_statement(self, dest: str) -> Statement | None:
        return self.find((*SKB, "wheel", "packages", dest))

    def delete(self, stmt: Statement, why: str) -> Edit:
        return Edit(file=PYPROJECT, start=stmt.start, end=stmt.end, text="", why=why,
                    line=stmt.line)

    def set_bool(self, keys: tuple[str, ...], value: bool, why: str) -> Edit | None:
        stmt = self.find(SKB + keys)
        if stmt is None:
            return None
        current = self.text[stmt.value_start:stmt.value_end]
        wanted = "true" if value else "false"
        if current == wanted:
            return None
        return Edit(file=PYPROJECT, start=stmt.value_start, end=stmt.value_end, text=wanted,
                    why=why, line=stmt.line)

    def set_string(self, stmt: Statement, value: str, why: str) -> Edit:
        return Edit(file=PYPROJECT, start=stmt.value_start, end=stmt.value_end,
                    text=dump_string(value), why=why, line=stmt.line)

    def define(self, name: str, value: str, why: str) -> Edit | None:
        stmt = self.find((*SKB, "cmake", "define", name))
        if stmt is not None:
            current = self.data["tool"]["scikit-build"]["cmake"]["define"][name]
            return None if str(current) == value else self.set_string(stmt, value, why)
        return self._insert([((*SKB, "cmake", "define"), name),
                             (SKB, f"cmake.define.{name}")], dump_string(value), why)

    def requirements(self, wanted: list[tuple[RequirementEdit, str]]) -> list[Edit | Instruction]:
        """``[project].dependencies`` with each requirement replaced or added, as one edit of
        the array when anything is added (edits of one span cannot overlap)."""
        if not wanted:
            return []
        project = self.data.get("project", {})
        if "dependencies" in project.get("dynamic", []):
            return [Instruction(file=PYPROJECT, text=f"dependencies are dynamic: make the "
                                f"build declare Requires-Dist {e.new} ({why})")
                    for e, why in wanted]
        stmt = self.find(("project", "dependencies"))
        if stmt is None:
            first = self._insert_dependencies([e.new for e, _ in wanted],
                                              "; ".join(w for _, w in wanted))
            return [first]
        spans = array_items(self.text, stmt.value_start, stmt.value_end)
        names: dict[str, tuple[int, int]] = {}
        for a, b in spans:
            try:
                req = Requirement(tomllib.loads(f"x = {self.text[a:b]}")["x"])
            except (InvalidRequirement, tomllib.TOMLDecodeError, TypeError):
                continue
            names.setdefault(canonicalize_name(req.name), (a, b))
        replaced: dict[tuple[int, int], str] = {}
        added: list[str] = []
        for e, _why in wanted:
            span = names.get(canonicalize_name(e.provider))
            if span is None:
                added.append(e.new)
            else:
                replaced[span] = dump_string(e.new)
        whys = "; ".join(dict.fromkeys(w for _, w in wanted))
        if added and "\n" not in self.text[stmt.value_start:stmt.value_end]:
            raw = [replaced.get((a, b), self.text[a:b]) for a, b in spans]
            return [self._rewrite(stmt, [*raw, *(dump_string(i) for i in added)], whys)]
        out: list[Edit | Instruction] = [
            Edit(file=PYPROJECT, start=a, end=b, text=t, why=whys, line=self._line(a))
            for (a, b), t in replaced.items()]
        if added:
            out.append(self.add_to_array(stmt, added, whys))
        return out

    def requirement(self, edit: RequirementEdit, why: str) -> Edit | Instruction:
        (out,) = self.requirements([(edit, why)])
        return out

    def _insert_dependencies(self, requirements: list[str], why: str) -> Edit | Instruction:
        at = self.layout.table_end(("project",))
        if at is None:
            return Instruction(file=PYPROJECT, text=f"declare Requires-Dist "
                               f"{', '.join(requirements)} ({why})")
        items = ", ".join(dump_string(r) for r in requirements)
        return Edit(file=PYPROJECT, start=at, end=at, text=f"dependencies = [{items}]\n",
                    why=why, line=self._line(at))

    def check(self, new_text: str) -> dict[str, Any]:
        """The edited file, parsed: an edit that breaks the TOML is a bug, never proposed."""
        try:
            data: dict[str, Any] = tomllib.loads(new_text)
        except tomllib.TOMLDecodeError as e:  # pragma: no cover - a fixer bug
            msg = f"internal error: the proposed pyproject.toml does not parse ({e})"
            raise AssertionError(msg) from e
        return data

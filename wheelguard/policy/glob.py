"""Path globs compiled to automata: matching costs one step per character, whatever the pattern.

A policy file comes from the project (or from whoever can change its CI); a member name comes
from the wheel. Translated to a backtracking regex, a glob such as ``**a**a**a**a**b`` tries
every way of splitting a long name between its stars: one member name of a few thousand
characters then takes hours. Here a glob becomes a small nondeterministic automaton whose set
of live states advances one character at a time; the sets met are cached as the states of a
deterministic automaton, so a match is one dictionary step per character, and neither the
pattern nor the name can make it super-linear. Character classes are parsed here too, so a
class the regex engine would reject (``[z-a]``) is a :class:`ValueError` at load time, not an
error at match time.

Semantics: ``*`` and ``?`` stay within one path component, ``**`` crosses them, ``**/`` is
"zero or more whole directories", ``[...]`` a class (``!`` or ``^`` first negates, ``a-z``
a range, a backslash is itself).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GlobAutomaton", "compile_glob"]

# Token kinds
_LIT, _ANY, _CLASS, _STAR, _DSTAR, _DIRS = range(6)
_MAX_DFA_STATES = 4096
"""Cached deterministic states per glob; past this the automaton steps its state sets
directly (still linear, just not cached)."""


@dataclass(frozen=True, slots=True)
class _Class:
    ranges: tuple[tuple[int, int], ...]
    negated: bool

    def __contains__(self, c: str) -> bool:
        o = ord(c)
        inside = any(lo <= o <= hi for lo, hi in self.ranges)
        return inside != self.negated


_Token = tuple[int, object]


def _tokens(pattern: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                i += 2
                if i < n and pattern[i] == "/":
                    out.append((_DIRS, None))
                    i += 1
                else:
                    out.append((_DSTAR, None))
                continue
            if not (out and out[-1][0] in (_STAR, _DSTAR)):
                out.append((_STAR, None))  # "**"-less runs of "*" are one star
            i += 1
            continue
        if c == "?":
            out.append((_ANY, None))
        elif c == "[":
            # As fnmatch reads it: a ']' right after '[' (or '[!') is a member, not the end.
            start = i + 1
            if pattern[start:start + 1] in ("!", "^"):
                start += 1
            end = pattern.find("]", start + 1)
            if end < 0:
                msg = f"unterminated '[' in glob {pattern!r}"
                raise ValueError(msg)
            out.append((_CLASS, _parse_class(pattern[i + 1:end], pattern)))
            i = end + 1
            continue
        else:
            out.append((_LIT, c))
        i += 1
    return out


def _parse_class(body: str, pattern: str) -> _Class:
    negated = body[:1] in ("!", "^")
    if negated:
        body = body[1:]
    if not body:
        msg = f"empty character class in glob {pattern!r}"
        raise ValueError(msg)
    ranges: list[tuple[int, int]] = []
    i = 0
    while i < len(body):
        lo = body[i]
        if i + 2 < len(body) and body[i + 1] == "-":
            hi = body[i + 2]
            if ord(hi) < ord(lo):
                msg = f"bad character range {lo}-{hi} in glob {pattern!r}"
                raise ValueError(msg)
            ranges.append((ord(lo), ord(hi)))
            i += 3
        else:
            ranges.append((ord(lo), ord(lo)))
            i += 1
    return _Class(tuple(ranges), negated)


class GlobAutomaton:
    """The automaton of one glob. States of the nondeterministic automaton: ``2 * k`` is
    "before token k", ``2 * k + 1`` is "inside the ``**/`` of token k" (it has consumed part
    of the directories and waits for a '/'); ``2 * len(tokens)`` accepts."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._tokens = _tokens(pattern)
        self._final = 2 * len(self._tokens)
        self._dfa: dict[frozenset[int], dict[str, frozenset[int]]] = {}
        self._start = self._closure({0})
        self._prefix = "".join(str(v) for _k, v in _take_while_literal(self._tokens))
        # Every literal run must occur in a match: substring tests (C speed) turn most names
        # away before the automaton takes a step.
        self._needles = tuple(n for n in _literal_runs(self._tokens) if len(n) > 1)

    # -- construction ------------------------------------------------------------------------

    def _closure(self, states: set[int]) -> frozenset[int]:
        """Add the states reachable without consuming a character (stars match empty)."""
        todo = list(states)
        seen = set(states)
        while todo:
            s = todo.pop()
            if s % 2 or s == self._final:
                continue
            kind, _v = self._tokens[s // 2]
            if kind in (_STAR, _DSTAR, _DIRS):
                nxt = s + 2
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def _step_set(self, states: frozenset[int], c: str) -> frozenset[int]:
        out: set[int] = set()
        for s in states:
            if s == self._final:
                continue
            kind, value = self._tokens[s // 2]
            if s % 2:  # inside "**/": any character stays, '/' may also finish it
                out.add(s)
                if c == "/":
                    out.add(s + 1)
                continue
            if kind == _LIT:
                if c == value:
                    out.add(s + 2)
            elif kind == _ANY:
                if c != "/":
                    out.add(s + 2)
            elif kind == _CLASS:
                assert isinstance(value, _Class)
                if c in value:
                    out.add(s + 2)
            elif kind == _STAR:
                if c != "/":
                    out.add(s)
            elif kind == _DSTAR:
                out.add(s)
            else:  # _DIRS, at its start: the first character enters it ('/' may end it)
                out.add(s + 1)
                if c == "/":
                    out.add(s + 2)
        return self._closure(out)

    def _step(self, states: frozenset[int], c: str) -> frozenset[int]:
        row = self._dfa.get(states)
        if row is None:
            if len(self._dfa) >= _MAX_DFA_STATES:
                return self._step_set(states, c)
            row = self._dfa[states] = {}
        nxt = row.get(c)
        if nxt is None:
            nxt = row[c] = self._step_set(states, c)
        return nxt

    # -- matching ----------------------------------------------------------------------------

    def _may_match(self, name: str) -> bool:
        return name.startswith(self._prefix) and all(n in name for n in self._needles)

    def fullmatch(self, name: str) -> bool:
        if not self._may_match(name):
            return False
        states = self._start
        for c in name:
            states = self._step(states, c)
            if not states:
                return False
        return self._final in states

    def match_tree(self, path: str) -> bool:
        """The glob matches ``path`` or a directory above it (``a/b`` matches ``a/b/c``)."""
        if not self._may_match(path):
            return False
        states = self._start
        for c in path:
            if c == "/" and self._final in states:
                return True
            states = self._step(states, c)
            if not states:
                return False
        return self._final in states


def _take_while_literal(tokens: list[_Token]) -> list[_Token]:
    out = []
    for t in tokens:
        if t[0] != _LIT:
            break
        out.append(t)
    return out


def _literal_runs(tokens: list[_Token]) -> list[str]:
    runs: list[str] = []
    current: list[str] = []
    for kind, value in tokens:
        if kind == _LIT:
            current.append(str(value))
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def compile_glob(pattern: str) -> GlobAutomaton:
    """The automaton of ``pattern``; ValueError for a malformed class."""
    return GlobAutomaton(pattern)

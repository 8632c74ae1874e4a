"""Decisions: what a policy set says must happen to each subject of one wheel.

Every finding carries a typed subject (:mod:`wheelguard.model`), and a decision is taken per
subject, never per check code:

- each **finding**: which action the policy assigns to it, whether it is waived;
- each **member** of the archive: kept, stripped (dropped), dropped in favour of a pip
  provider, waived or failing;
- each **binary's debug sections**: stripped or kept;
- each **search-path entry**: relinked (dropped or replaced);
- each **library need** (a binary's DT_NEEDED): renamed or removed (relink), provided by pip
  (depend-on-pip) or left to a grafting tool.

For each subject every matching rule of every policy is a candidate and one is decisive
(:func:`_decisive`): the last policy file with a candidate wins; within that file the last
matching rule wins, except that a ``keep`` beats any rule that would remove the member. Which
actions can handle which findings is the rules table's answer (:mod:`wheelguard.rules`). The
plan (:mod:`wheelguard.repair.plan`) reads only :class:`Decisions`; the audit shows them as
``Finding.action``/``Finding.waived`` through :func:`assign_actions`.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

from packaging.utils import canonicalize_name

from wheelguard.model import (
    Action,
    ArchivePath,
    Binary,
    DebugInfoSubject,
    Finding,
    MemberSubject,
    NeededSubject,
    SearchPathSubject,
    Severity,
    Subject,
    TreeSubject,
    Wheel,
    WheelSubject,
    freeze_mapping,
)
from wheelguard.policy.schema import Match, Policy, PolicySet, Ranked, Rule
from wheelguard.rules import RULES

__all__ = ["Decisions", "Verdict", "assign_actions", "decide"]

_MEMBER_ACTIONS = frozenset(
    {Action.KEEP, Action.STRIP, Action.DEPEND_ON_PIP, Action.WAIVE, Action.FAIL}
)
_REMOVING = frozenset({Action.STRIP, Action.DEPEND_ON_PIP})


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


NeedKey = tuple[ArchivePath, str]
"""(binary path, DT_NEEDED name)."""


@dataclass(frozen=True, slots=True)
class Decisions:
    """Everything a policy set decided about one wheel; the plan reads only this."""

    findings: tuple[Finding, ...]
    """The audit's findings with ``action``/``waived`` assigned (same order), then the WG801
    findings of members a ``fail`` rule forbids while no check reports them."""
    verdicts: tuple[Verdict | None, ...]
    """The decisive rule of each finding (None: no rule; tree findings: see ``members``)."""
    members: Mapping[ArchivePath, Verdict]
    """Fate of each member some rule matched (keep, strip, depend-on-pip, waive or fail)."""
    debug: Mapping[ArchivePath, Verdict]
    """Binaries whose debug sections a ``strip`` rule removes."""
    entries: tuple[tuple[SearchPathSubject, Verdict], ...]
    """Search-path entries a ``relink`` rule drops or replaces."""
    needed: Mapping[NeedKey, Verdict]
    """NEEDED entries a ``relink`` rule renames or removes."""
    libraries: Mapping[NeedKey, Verdict]
    """NEEDED entries a ``depend-on-pip`` or ``graft`` rule decides."""
    grafts: tuple[tuple[NeededSubject, Verdict], ...]
    """Unresolved needs a ``graft`` rule leaves to the platform's grafting tool."""
    covered: Mapping[ArchivePath, tuple[int, ...]]
    """Member -> indexes of the findings that stand for it and could remove it (a bundled
    copy, a foreign binary, a file of an artifact tree)."""
    retag: Verdict | None = None
    """The ``retag`` rule that gives a ``linux_*`` wheel the manylinux tag it qualifies for."""


def assign_actions(policies: PolicySet) -> Callable[[Wheel, tuple[Finding, ...]],
                                                     tuple[Finding, ...]]:
    """The audit post-pass for ``policies``: findings with their actions and waivers."""

    def post(wheel: Wheel, findings: tuple[Finding, ...]) -> tuple[Finding, ...]:
        return decide(policies, wheel, findings).findings

    return post


def decide(policies: PolicySet, wheel: Wheel, findings: tuple[Finding, ...]) -> Decisions:
    """Every decision ``policies`` take about ``wheel`` given the audit's ``findings`` (as the
    checks produced them, before any policy assigned actions)."""
    ranked = policies.ranked(wheel.name)
    today = policies.today
    covered = _coverage(findings)
    members = _members(wheel, findings, ranked, covered, today)
    out: list[Finding] = []
    verdicts: list[Verdict | None] = []
    for i, f in enumerate(findings):
        if isinstance(f.subject, TreeSubject):
            out.append(_tree_finding(f, i, covered, members))
            verdicts.append(None)
            continue
        verdict = _decisive([c for c in ranked if _matches(c[2], f)], today)
        verdicts.append(verdict)
        anchor = f.subject.anchor
        out.append(_apply(f, verdict, members.get(ArchivePath(anchor)) if anchor else None))
    out.extend(_forbidden_members(members, covered))
    verdicts.extend(None for _ in range(len(out) - len(verdicts)))
    acting = [(f.subject, v) for f, v in zip(out, verdicts, strict=True)
              if v is not None and f.waived is None]
    debug = {s.binary: v for s, v in acting
             if isinstance(s, DebugInfoSubject) and v.action is Action.STRIP}
    entries = tuple((s, v) for s, v in acting
                    if isinstance(s, SearchPathSubject) and v.action is Action.RELINK)
    grafts = tuple((s, v) for s, v in acting
                   if isinstance(s, NeededSubject) and v.action is Action.GRAFT)
    retag = next((v for s, v in acting
                  if isinstance(s, WheelSubject) and v.action is Action.RETAG), None)
    return Decisions(
        findings=tuple(out),
        verdicts=tuple(verdicts),
        members=freeze_mapping(members),
        debug=freeze_mapping(debug),
        entries=entries,
        needed=freeze_mapping(_needed_relinks(wheel, ranked, acting, today)),
        libraries=freeze_mapping(_libraries(wheel, ranked, today)),
        grafts=grafts,
        retag=retag,
        covered=freeze_mapping({k: tuple(v) for k, v in covered.items()}),
    )


# ---- members ------------------------------------------------------------------------------


def _coverage(findings: tuple[Finding, ...]) -> dict[ArchivePath, list[int]]:
    """Which members each removable finding stands for: the member itself, or every member of
    a tree (as the check counted them, so strip and audit agree file by file)."""
    out: dict[ArchivePath, list[int]] = {}
    for i, f in enumerate(findings):
        if not RULES[f.check].accepts(Action.STRIP):
            continue
        match f.subject:
            case TreeSubject(members=members):
                for path, _category in members:
                    out.setdefault(path, []).append(i)
            case MemberSubject(path=path):
                out.setdefault(path, []).append(i)
            case _:
                pass  # debug sections: stripping them keeps the member
    return out


def _members(
    wheel: Wheel,
    findings: tuple[Finding, ...],
    ranked: Sequence[Ranked],
    covered: Mapping[ArchivePath, list[int]],
    today: dt.date,
) -> dict[ArchivePath, Verdict]:
    dist_info = wheel.dist_info + "/"
    member_rules = [(o, p, r) for o, p, r in ranked if r.action in _MEMBER_ACTIONS]
    if not member_rules:
        return {}
    binaries: dict[str, Binary] = {b.path: b for b in wheel.binaries}
    fates: dict[ArchivePath, Verdict] = {}
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
                    findings[i].check in m.checks and _category_ok(m, findings[i], member.path)
                    for i in covered.get(member.path, ())
                ):
                    continue
            elif m.categories:
                continue
            cands.append((order, policy, rule))
        verdict = _decisive(cands, today)
        if verdict is not None:
            fates[member.path] = verdict
    return fates


def _binary_names(path: str, binary: Binary | None) -> tuple[str, ...]:
    base = posixpath.basename(path)
    if binary is None:
        return (base,)
    return (binary.name, base) if binary.name != base else (base,)


def _category_ok(match: Match, f: Finding, path: str) -> bool:
    if not match.categories or not isinstance(f.subject, TreeSubject):
        return True
    return any(p == path and c in match.categories for p, c in f.subject.members)


def _tree_finding(
    f: Finding,
    index: int,
    covered: Mapping[ArchivePath, list[int]],
    members: Mapping[ArchivePath, Verdict],
) -> Finding:
    """A tree finding takes the fates of the members it stands for."""
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


def _forbidden_members(
    members: Mapping[ArchivePath, Verdict], covered: Mapping[ArchivePath, list[int]]
) -> list[Finding]:
    """Members a ``fail`` rule matches by path or library alone: with no check reporting
    them, the rule would otherwise only show at repair time."""
    out = []
    for path, verdict in sorted(members.items()):
        if verdict.action is not Action.FAIL or covered.get(path):
            continue
        f = RULES["WG801"].finding(
            MemberSubject(path=path), "matches a fail rule",
            data={"rule": verdict.label, "reason": verdict.rule.reason},
        )
        out.append(_failed(f, verdict))
    return out


# ---- findings -----------------------------------------------------------------------------


def _matches(rule: Rule, f: Finding) -> bool:
    """Whether ``rule`` is a candidate for finding ``f``: its action can handle the finding's
    check, and every matcher it gives matches the finding's subject."""
    if not rule.applies_to(f.check):
        return False
    m = rule.match
    s = f.subject
    if m.categories:
        return False  # categories name the files of trees: decided per member
    if (m.paths or m.exclude) and not any(m.path_ok(p) for p in s.paths):
        return False
    if m.libraries and not (m.library_ok(s.libraries) or _provides(rule, s)):
        return False
    if rule.action is Action.RELINK:
        assert rule.relink is not None
        match s:
            case SearchPathSubject():
                return rule.relink.acts_on_entry(s.entry, s.drop_kind)
            case NeededSubject():
                return rule.relink.acts_on_needed(s.needed)
            case _:
                return False
    if rule.action is Action.DEPEND_ON_PIP and isinstance(s, SearchPathSubject):
        return _provides(rule, s)  # an entry into the provider's directory, nothing else
    return True


def _provides(rule: Rule, subject: Subject) -> bool:
    """A depend-on-pip rule names the distribution the subject is tied to."""
    provider = subject.provider
    return rule.depend is not None and provider is not None and \
        canonicalize_name(provider) == rule.depend.provider


def _decisive(cands: Sequence[Ranked], today: dt.date) -> Verdict | None:
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
        case Action.STRIP | Action.RELINK | Action.DEPEND_ON_PIP | Action.GRAFT | Action.RETAG:
            return replace(f, action=action.value)
        case _:
            _unreachable(action)


def _unreachable(value: NoReturn) -> NoReturn:
    """``typing.assert_never`` (3.11+) for 3.10: mypy proves every action is handled."""
    msg = f"unhandled {value!r}"
    raise AssertionError(msg)


# ---- library needs ------------------------------------------------------------------------


def _needs_rule(rule: Rule) -> bool:
    """A rule about library needs: no ``check``, or a check whose findings are needs."""
    return not rule.match.checks or any(RULES[c].subject == "needed" for c in rule.match.checks)


def _needed_relinks(
    wheel: Wheel,
    ranked: Sequence[Ranked],
    acting: Sequence[tuple[Subject, Verdict]],
    today: dt.date,
) -> dict[NeedKey, Verdict]:
    """The relink rule that renames or removes each NEEDED, if any.

    A rule with ``check`` acts through the findings about that need (their decisive verdict
    above); one without acts on the binaries its ``path``/``library`` match. Both compete
    under the one precedence rule.
    """
    found: dict[NeedKey, list[Ranked]] = {}
    for s, v in acting:
        if isinstance(s, NeededSubject) and v.action is Action.RELINK:
            for binary in s.binaries:
                found.setdefault((binary, s.needed), []).append((v.order, v.policy, v.rule))
    rules = [
        c for c in ranked
        if c[2].relink is not None and not c[2].match.checks
        and (c[2].match.paths or c[2].match.libraries)
        and (c[2].relink.replace_needed or c[2].relink.remove_needed)
    ]
    for b in wheel.binaries if rules else ():
        names = _binary_names(b.path, b)
        for c in rules:
            m, relink = c[2].match, c[2].relink
            assert relink is not None
            if (m.paths or m.exclude) and not m.path_ok(b.path):
                continue
            if m.libraries and not m.library_ok(names):
                continue
            for needed in b.needed:
                if relink.acts_on_needed(needed):
                    found.setdefault((b.path, needed), []).append(c)
    out: dict[NeedKey, Verdict] = {}
    for key, cands in found.items():
        verdict = _decisive(cands, today)
        if verdict is not None:
            out[key] = verdict
    return out


def _libraries(wheel: Wheel, ranked: Sequence[Ranked], today: dt.date) -> dict[NeedKey, Verdict]:
    """The depend-on-pip or graft rule that decides each NEEDED its ``library`` names."""
    rules = [c for c in ranked
             if c[2].action in (Action.DEPEND_ON_PIP, Action.GRAFT) and _needs_rule(c[2])]
    out: dict[NeedKey, Verdict] = {}
    if not rules:
        return out
    for b in wheel.binaries:
        for needed in b.needed:
            cands = [
                c for c in rules
                if c[2].match.library_ok((needed,))
                and (not (c[2].match.paths or c[2].match.exclude) or c[2].match.path_ok(b.path))
            ]
            verdict = _decisive(cands, today)
            if verdict is not None:
                out[(b.path, needed)] = verdict
    return out

"""From a policy's decisions to a repair plan: which members go, which bytes change, how.

Pure: it reads the scanned wheel, the audit context and the policy set's
:class:`~wheelguard.policy.decide.Decisions`, and returns a :class:`RepairPlan`; nothing is read
from the archive and nothing is written. Edits are queued per member and a conflicting edit (two
rules renaming one DT_NEEDED two ways, a Requires-Dist no version can satisfy) is rejected when
it is queued, so :mod:`wheelguard.repair.write` applies a plan that is consistent by
construction.

The plan never looks at check codes or at a finding's data: what to do and to what comes from
the decisions (typed subjects with their verdicts), so a new check needs nothing here.

A plan whose edits are already in place is empty: every edit is computed from what the wheel has
now (entries, requirements), never from what the policy says in the abstract. That is what makes
repairing a repaired wheel a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.names import loader_name, ungrafted
from wheelguard.knowledge.specifiers import has_upper_bound, tighten
from wheelguard.loader.origin import (
    LOADER_PATH,
    ORIGIN,
    is_origin_relative,
    origin_entry,
    spelled_for,
)
from wheelguard.loader.paths import install_path
from wheelguard.loader.resolve import resolve_binary
from wheelguard.model import Action, ArchivePath, Binary, DropKind, Finding, SearchTag
from wheelguard.policy.decide import Decisions, Verdict, decide
from wheelguard.policy.schema import PolicySet
from wheelguard.repair.edits import (
    ElfEdit,
    MachOEdit,
    PlanConflict,
    PreloadEdit,
    RepairPlan,
    RequirementEdit,
    Step,
)
from wheelguard.repair.retag import TagEdit, qualify, retag_filename

__all__ = ["make_plan"]


# ---- the builder --------------------------------------------------------------------------


@dataclass
class _ElfDraft:
    strip_debug: bool = False
    entries: tuple[str, ...] | None = None
    tag: SearchTag = "RUNPATH"
    added: list[str] = field(default_factory=list)
    replace_needed: dict[str, str] = field(default_factory=dict)
    remove_needed: set[str] = field(default_factory=set)


@dataclass
class _Want:
    specs: list[tuple[SpecifierSet, Step]] = field(default_factory=list)
    cxx: list[tuple[str, str]] = field(default_factory=list)
    """(binary, example symbol) of C++-ABI consumers: the range needs an upper bound."""


class _Builder:
    def __init__(self, ctx: AuditContext) -> None:
        self.ctx = ctx
        self.binaries: dict[str, Binary] = {b.path: b for b in ctx.wheel.binaries}
        self.drops: dict[str, Step] = {}
        self.elf: dict[str, _ElfDraft] = {}
        self.wants: dict[str, _Want] = {}
        self.preloads: dict[tuple[ArchivePath, str], Step] = {}
        self.steps: list[Step] = []
        self.failures: list[str] = []
        self.retag: TagEdit | None = None

    def fail(self, message: str) -> None:
        if message not in self.failures:
            self.failures.append(message)

    def step(self, action: Action, path: str | None, detail: str, v: Verdict) -> Step:
        s = Step(action.value, path, detail, v.label, v.rule.reason)
        self.steps.append(s)
        return s

    def draft(self, path: str) -> _ElfDraft:
        """The edits queued for one binary (ELF or Mach-O; :func:`_finish` turns them into an
        :class:`ElfEdit` or a :class:`MachOEdit`)."""
        binary = self.binaries.get(path)
        if binary is not None and binary.format == "pe":
            self.fail(f"{path}: PE binaries are not edited by wheelguard (delvewheel repairs "
                      "Windows wheels); the policy asks for an edit of it")
        return self.elf.setdefault(path, _ElfDraft())

    def token(self, path: str) -> str:
        """How an origin-relative entry is spelled in this binary's format."""
        binary = self.binaries.get(path)
        return LOADER_PATH if binary is not None and binary.format == "macho" else ORIGIN

    def replace_needed(self, path: str, old: str, new: str, v: Verdict) -> None:
        d = self.draft(path)
        if old in d.remove_needed or d.replace_needed.get(old, new) != new:
            msg = (f"{path}: conflicting DT_NEEDED edits of {old} "
                   f"({v.label} asks for {new})")
            raise PlanConflict(msg)
        if old not in d.replace_needed:
            d.replace_needed[old] = new
            self.step(Action.RELINK, path, f"NEEDED {old} -> {new}", v)

    def remove_needed(self, path: str, name: str, v: Verdict) -> None:
        d = self.draft(path)
        if name in d.replace_needed:
            msg = f"{path}: {v.label} removes NEEDED {name}, another rule renames it"
            raise PlanConflict(msg)
        if name not in d.remove_needed:
            d.remove_needed.add(name)
            self.step(Action.RELINK, path, f"NEEDED {name} removed", v)

    def require(self, provider: str, spec: SpecifierSet | None, step: Step) -> None:
        self.wants.setdefault(provider, _Want()).specs.append((spec or SpecifierSet(), step))


def _package_init(ctx: AuditContext, path: str) -> ArchivePath | None:
    top = install_path(path).split("/", 1)
    if len(top) < 2:
        return None
    return ctx.layout.files.get(f"{top[0]}/__init__.py")


def make_plan(ctx: AuditContext, findings: tuple[Finding, ...], policies: PolicySet,
              decisions: Decisions | None = None) -> RepairPlan:
    """The plan for one wheel: ``findings`` are the audit's, before any policy assigned them;
    ``decisions``, when the caller has them already, are ``policies``' on those findings."""
    if decisions is None:
        decisions = decide(policies, ctx.wheel, findings)
    b = _Builder(ctx)
    _failures(b, decisions)
    _drops(b, decisions)
    _subject_edits(b, decisions)
    _libraries(b, decisions)
    _safety(b, decisions)
    _retag(b, decisions)
    requirements = _requirements(b)
    return _finish(b, requirements)


def _retag(b: _Builder, d: Decisions) -> None:
    """The manylinux tag a ``linux_*`` wheel earns (:mod:`wheelguard.repair.retag`)."""
    if d.retag is None:
        return
    tags, why = qualify(b.ctx)
    wheel = b.ctx.wheel
    if tags is None:
        b.fail(f"{wheel.filename}: cannot retag ({d.retag.label}): {why}")
        return
    old = tuple(sorted(p for p in wheel.platforms if p.startswith("linux_")))
    b.retag = TagEdit(old=old, new=tags, filename=retag_filename(wheel.filename, old, tags))
    b.step(Action.RETAG, None, f"platform tag {', '.join(old)} -> {'.'.join(tags)} ({why})",
           d.retag)


def _failures(b: _Builder, d: Decisions) -> None:
    for f in d.findings:
        if f.action == Action.FAIL.value:
            b.fail(f"{f.check} {f.name}: {f.path or b.ctx.wheel.filename}: {f.message}")
    reported = {f.path for f in d.findings if f.action == Action.FAIL.value}
    for path, v in sorted(d.members.items()):
        if v.action is Action.FAIL and path not in reported:
            note = v.waiver_note() if v.expired else f"{v.label}: {v.rule.reason}"
            b.fail(f"{path}: forbidden by policy ({note})")


def _drops(b: _Builder, d: Decisions) -> None:
    for path, v in sorted(d.members.items()):
        if v.action not in (Action.STRIP, Action.DEPEND_ON_PIP):
            continue
        detail = "dropped"
        if v.action is Action.DEPEND_ON_PIP:
            assert v.rule.depend is not None
            dep = v.rule.depend
            detail = f"dropped: {dep.provider} provides it"
            step = b.step(v.action, path, detail, v)
            b.require(dep.provider, dep.version, step)
            if dep.preload and _package_init(b.ctx, path) is not None:
                # The package that shipped the copy may load it by path; its libraries' own
                # needs are preloaded below. A copy outside any package (auditwheel's
                # <pkg>.libs/) has only those.
                _queue_preload(b, path, dep.preload, v)
        else:
            step = b.step(v.action, path, detail, v)
        b.drops[path] = step


def _queue_preload(b: _Builder, path: str, module: str, v: Verdict) -> None:
    init = _package_init(b.ctx, path)
    if init is None:
        b.fail(f"{path}: cannot preload {module} ({v.label}): the library is not inside a "
               "package with an __init__.py")
        return
    if (init, module) not in b.preloads:
        b.preloads[(init, module)] = b.step(
            Action.DEPEND_ON_PIP, init, f"import {module} before the package loads its "
            "libraries", v)


def _subject_edits(b: _Builder, d: Decisions) -> None:
    """Edits of binaries that stay: debug sections, NEEDED entries, search-path entries."""
    for path, v in sorted(d.debug.items()):
        if path not in b.drops:
            b.draft(path).strip_debug = True
            b.step(Action.STRIP, path, "debug sections stripped (strip --strip-debug)", v)
    for (path, needed), v in sorted(d.needed.items()):
        if path in b.drops:
            continue
        assert v.rule.relink is not None
        new = v.rule.relink.renamed(needed)
        if new is not None:
            b.replace_needed(path, needed, new, v)
        else:
            b.remove_needed(path, needed, v)
    by_binary: dict[ArchivePath, dict[tuple[SearchTag, str], tuple[Verdict, DropKind | None]]]
    by_binary = {}
    for subject, v in d.entries:
        if subject.binary not in b.drops:
            by_binary.setdefault(subject.binary, {})[(subject.tag, subject.entry)] = (
                v, subject.drop_kind)
    for path, decided in sorted(by_binary.items()):
        _relink_entries(b, b.binaries[path], decided)
    for need, v in d.grafts:
        for path in need.binaries:
            if path not in b.drops:
                b.step(Action.GRAFT, path, f"{need.needed}: left to auditwheel/delocate/"
                       "delvewheel", v)


def _relink_entries(
    b: _Builder,
    binary: Binary,
    decided: Mapping[tuple[SearchTag, str], tuple[Verdict, DropKind | None]],
) -> None:
    """New entries of the tag the loader reads: replaced, dropped or kept one by one."""
    if binary.rpath and binary.runpath:
        b.fail(f"{binary.path}: has both DT_RPATH and DT_RUNPATH; relinking it would be "
               "ambiguous (rebuild with one of them)")
        return
    tag: SearchTag = binary.search_path_tag
    out: list[str] = []
    for raw in binary.search_path:
        hit = decided.get((tag, raw))
        if hit is None:
            out.append(raw)
            continue
        v, kind = hit
        assert v.rule.relink is not None
        opts = v.rule.relink
        target = opts.replacement(raw)
        if target is not None:
            token = b.token(binary.path)
            new = (spelled_for(target, token) if is_origin_relative(target)
                   else origin_entry(binary.path, target, token=token))
            out.append(new)
            b.step(Action.RELINK, binary.path, f"{tag} entry {raw!r} -> {new!r}", v)
        elif opts.drops(kind):
            b.step(Action.RELINK, binary.path, f"{tag} entry {raw!r} dropped ({kind})", v)
        else:
            out.append(raw)
    draft = b.draft(binary.path)
    draft.tag = tag
    draft.entries = tuple(dict.fromkeys(out))


def _libraries(b: _Builder, d: Decisions) -> None:
    for (path, needed), v in sorted(d.libraries.items()):
        if path in b.drops:
            continue
        if v.action is Action.GRAFT:
            continue
        dep = v.rule.depend
        assert dep is not None
        step = Step(Action.DEPEND_ON_PIP.value, path, f"NEEDED {needed} from {dep.provider}",
                    v.label, v.rule.reason)
        original = ungrafted(needed)
        binary = b.binaries[path]
        if binary.format == "macho" and not needed.startswith("@rpath/"):
            # dyld matches a load of @rpath/<name> against the provider's image, already
            # loaded under that install name; a load by path would look for the dropped copy.
            b.replace_needed(path, needed, f"@rpath/{loader_name(needed)}", v)
        elif original is not None and not any(g.match_name(needed)
                                              for g in v.rule.match.libraries):
            # A grafted copy's hashed SONAME: the provider's library carries the original one.
            b.replace_needed(path, needed, original, v)
        b.require(dep.provider, dep.version, step)
        if dep.preload:
            _queue_preload(b, path, dep.preload, v)
        if dep.runpath:
            entry = origin_entry(path, dep.runpath, token=b.token(path))
            if entry not in binary.search_path:
                b.draft(path).added.append(entry)
                tag = "LC_RPATH" if binary.format == "macho" else "RUNPATH"
                b.step(Action.DEPEND_ON_PIP, path, f"{tag} entry {entry!r} added "
                       f"({dep.provider}'s {dep.runpath})", v)
        mangled = dep.cxx_mangled
        if mangled:
            uses = sorted(s for s in binary.undefined if s.startswith("_Z") and mangled in s)
            if uses:
                b.wants.setdefault(dep.provider, _Want()).cxx.append((path, uses[0]))


def _safety(b: _Builder, d: Decisions) -> None:
    """Refuse to drop a library that a remaining binary finds in the wheel and needs."""
    if not b.drops:
        return
    dropped = {install_path(p): p for p in b.drops}
    ctx = b.ctx
    for binary in ctx.wheel.binaries:
        if binary.path in b.drops:
            continue
        for res in resolve_binary(ctx.layout, binary, ctx.platform, ctx.providers,
                                  ctx.requirements):
            if res.kind != "wheel" or res.path not in dropped:
                continue
            v = d.libraries.get((binary.path, res.needed))
            if v is not None and v.action is Action.DEPEND_ON_PIP:
                continue
            b.fail(f"{binary.path}: NEEDED {res.needed} is {dropped[res.path]}, which the "
                   f"policy drops ({b.drops[dropped[res.path]].rule}); the library would not "
                   "load")


def _requirements(b: _Builder) -> list[RequirementEdit]:
    edits = []
    for provider, want in sorted(b.wants.items()):
        existing = b.ctx.requirements.get(provider)
        current = existing.specifier if existing is not None else SpecifierSet()
        spec = current
        try:
            for wanted, _step in want.specs:
                spec = tighten(spec, wanted)
        except ValueError as e:
            raise PlanConflict(f"Requires-Dist {provider}: {e}") from None
        if want.cxx and not has_upper_bound(spec):
            binary, symbol = want.cxx[0]
            b.fail(f"{binary}: imports C++ symbols of {provider} (e.g. {symbol}), whose C++ ABI "
                   f"changes between releases, but Requires-Dist {provider}{spec} has no upper "
                   "bound: pin the range the wheel was built and tested against "
                   f"(e.g. {provider}>=X.Y.Z,<X.Y.Z+1)")
        if existing is not None and str(spec) == str(existing.specifier):
            continue
        new = _with_specifier(existing, provider, spec)
        edits.append(RequirementEdit(provider, str(existing) if existing else None, str(new)))
        first = want.specs[0][1]
        b.steps.append(Step(Action.DEPEND_ON_PIP.value, None,
                            f"Requires-Dist: {new}" + (f" (was {existing})" if existing else
                                                       " (added)"),
                            first.rule, first.reason))
    return edits


def _with_specifier(existing: Requirement | None, provider: str, spec: SpecifierSet) -> Requirement:
    if existing is None:
        return Requirement(f"{provider}{spec}")
    extras = f"[{','.join(sorted(existing.extras))}]" if existing.extras else ""
    marker = f"; {existing.marker}" if existing.marker is not None else ""
    return Requirement(f"{existing.name}{extras}{spec}{marker}")


def _finish(b: _Builder, requirements: list[RequirementEdit]) -> RepairPlan:
    edits = []
    macho: list[MachOEdit] = []
    for path, draft in sorted(b.elf.items()):
        if path in b.drops:
            continue
        binary = b.binaries[path]
        if binary.format == "macho":
            edit = _macho_edit(b, binary, draft)
            if edit is not None:
                macho.append(edit)
            continue
        current = binary.search_path
        entries = draft.entries if draft.entries is not None else current
        tag = draft.tag if draft.entries is not None else (
            "RUNPATH" if binary.runpath or not binary.rpath else "RPATH")
        entries = tuple(dict.fromkeys([*entries, *draft.added]))
        search = None if entries == current else entries
        needed_edits = tuple(sorted((o, n) for o, n in draft.replace_needed.items()
                                    if o in binary.needed))
        removed = tuple(sorted(n for n in draft.remove_needed if n in binary.needed))
        strip = draft.strip_debug and binary.has_debug_info
        if search is None and not needed_edits and not removed and not strip:
            continue
        edits.append(ElfEdit(path=ArchivePath(path), strip_debug=strip, tag=tag,
                             search_path=search, replace_needed=needed_edits,
                             remove_needed=removed))
    steps = sorted(set(b.steps), key=lambda s: (s.path or "", s.action, s.detail))
    return RepairPlan(
        drops=tuple(ArchivePath(p) for p in sorted(b.drops)),
        elf=tuple(edits),
        macho=tuple(macho),
        requirements=tuple(requirements),
        preloads=tuple(PreloadEdit(init, module) for init, module in sorted(b.preloads)),
        steps=tuple(steps),
        failures=tuple(b.failures),
        retag=b.retag,
    )


def _macho_edit(b: _Builder, binary: Binary, draft: _ElfDraft) -> MachOEdit | None:
    """The queued edits of a Mach-O member, or the reason they cannot be made."""
    if draft.strip_debug and binary.has_debug_info:
        b.fail(f"{binary.path}: stripping DWARF from a Mach-O file is not done here (strip -S "
               "on macOS, then re-sign); ship the debug info in a .dSYM outside the wheel")
    removed = sorted(n for n in draft.remove_needed if n in binary.needed)
    if removed:
        b.fail(f"{binary.path}: removing the load command of {', '.join(removed)} would "
               "renumber the library ordinals the symbol bindings refer to; relink it to "
               "another name, or drop the dependency at build time")
    entries = draft.entries if draft.entries is not None else binary.rpath
    entries = tuple(dict.fromkeys([*entries, *draft.added]))
    renamed = tuple(sorted((o, n) for o, n in draft.replace_needed.items() if o in binary.needed))
    rpaths = None if entries == binary.rpath else entries
    if rpaths is None and not renamed:
        return None
    return MachOEdit(path=ArchivePath(binary.path), replace_dylibs=renamed, rpaths=rpaths)

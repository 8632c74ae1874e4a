"""The release checklist: one page per release that says, wheel by wheel, whether it may ship.

It is built from what the other commands established (the audit's findings with the policy's
actions and waivers, a saved ``audit --format json`` for what this run could not check, and
``wheelguard smoke`` results) and adds no judgement of its own beyond grouping, which the rules
table decides (each rule names its item). An item **fails** on an unwaived error of its rules,
**warns** on a warning, **passes** only when every rule of it ran and found nothing worse; an
item any of whose rules did not run (no dependency wheels for the loader's WG7xx, no size
budget, no policy, no smoke result of *this* build) is **not checked**, never passed, and a
wheel with an item not checked is not ready. The smoke item counts a smoke result only for the
build it ran on (sha256, not file name: every rebuild has the same name).

The page records what it was judged under (tool, Python, command line, configuration, policy
names and hashes) and the sha256 of every wheel, so a sign-off can be traced.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wheelguard.audit import AuditResult
from wheelguard.model import Finding, Severity
from wheelguard.report.coverage import WHY_NOT, code_list, not_checked
from wheelguard.report.json import result_to_json
from wheelguard.report.provenance import RunInfo
from wheelguard.report.text import display_path, one_line
from wheelguard.rules import ITEMS, RULES, ChecklistItem, Needs
from wheelguard.util.fs import file_sha256

__all__ = [
    "STATUS_LABEL",
    "Evidence",
    "ItemResult",
    "SavedAudit",
    "WheelChecklist",
    "build_checklist",
    "checklist_to_json",
    "render_checklist_markdown",
    "saved_audits",
]

Status = Literal["pass", "warn", "fail", "skip"]
STATUS_LABEL: Mapping[Status, str] = {"pass": "pass", "warn": "warn", "fail": "FAIL",
                                      "skip": "not checked"}
_MARK = {"pass": "[x]", "warn": "[x]", "fail": "[ ]", "skip": "[ ]"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """A finding as the checklist needs it, from this run's audit or from a saved audit."""

    check: str
    name: str
    severity: Severity
    path: str | None
    message: str
    waived: str | None = None
    action: str | None = None
    source: str | None = None
    """The saved audit it came from; None: this run's audit."""

    @classmethod
    def of(cls, f: Finding) -> Evidence:
        return cls(check=f.check, name=f.name, severity=f.severity, path=f.path,
                   message=f.message, waived=f.waived, action=f.action)

    @classmethod
    def from_json(cls, d: Mapping[str, Any], source: str) -> Evidence:
        return cls(check=str(d["check"]), name=str(d["name"]),
                   severity=Severity.parse(str(d["severity"])), path=d.get("path"),
                   message=str(d["message"]), waived=d.get("waived"), action=d.get("action"),
                   source=source)


@dataclass(frozen=True, slots=True, kw_only=True)
class SavedAudit:
    """One wheel's part of a saved ``wheelguard audit --format json``."""

    source: str
    sha256: str
    checked: frozenset[str]
    findings: tuple[Evidence, ...]
    linkage: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemResult:
    item: ChecklistItem
    status: Status
    detail: str
    findings: tuple[Evidence, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelChecklist:
    result: AuditResult
    sha256: str
    items: tuple[ItemResult, ...]
    smoke: Mapping[str, Any] | None
    waivers: tuple[Evidence, ...]
    saved: SavedAudit | None = None
    changes: Mapping[str, Any] | None = None
    """``wheelguard diff`` of this wheel against its baseline (``report --baseline``)."""
    notes: tuple[str, ...] = field(default=())

    @property
    def ready(self) -> bool:
        return all(i.status in ("pass", "warn") for i in self.items)

    @property
    def verdict(self) -> str:
        if any(i.status == "fail" for i in self.items):
            return "not ready"
        if not self.ready:
            return "not signed off (items not checked)"
        return "ready to ship"


def saved_audits(docs: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, SavedAudit]:
    """The wheels of saved audit documents by sha256 (an audit JSON without sha256s cannot be
    matched to a build, so it is refused by the caller)."""
    out: dict[str, SavedAudit] = {}
    for source, doc in docs:
        run = doc.get("run") or {}
        for w in doc.get("wheels", ()):
            sha = w.get("sha256")
            if not isinstance(sha, str):
                continue
            out[sha] = SavedAudit(
                source=source, sha256=sha, checked=frozenset(w.get("checked", ())),
                findings=tuple(Evidence.from_json(f, source) for f in w.get("findings", ())),
                linkage=run.get("linkage"),
            )
    return out


def _judge(item: ChecklistItem, evidence: Sequence[Evidence], checked: frozenset[str],
           given: frozenset[Needs]) -> ItemResult:
    codes = sorted(c for c, r in RULES.items() if r.item == item.id)
    ran = [c for c in codes if c in checked]
    mine = tuple(e for e in evidence if e.check in codes and e.waived is None)
    errors = [e for e in mine if e.severity >= Severity.ERROR]
    warnings = [e for e in mine if e.severity == Severity.WARNING]
    missing = {why: [c for c in cs if c in codes]
               for why, cs in not_checked(checked, given).items()}
    gaps = "; ".join(f"{code_list(cs)} not run: {WHY_NOT[why]}"
                     for why, cs in missing.items() if cs)
    gap = f"; {gaps}" if gaps else ""
    partial = [e for e in mine if RULES[e.check].unchecked]
    if partial:
        # A check that ran but could not read what it needed (a provider wheel) is no pass.
        gaps = "; ".join(filter(None, [gaps, f"{len(partial)} part(s) could not be checked: "
                                       + "; ".join(one_line(e.message) for e in partial)]))
        gap = f"; {gaps}"
    if errors:
        return ItemResult(item=item, status="fail", findings=mine,
                          detail=f"{len(errors)} error(s): "
                                 f"{', '.join(sorted({e.check for e in errors}))}{gap}")
    if gaps:
        found = (f"{len(warnings)} warning(s) from {code_list(ran)}" if warnings
                 else f"no findings from {code_list(ran)}") if ran else ""
        return ItemResult(item=item, status="skip", findings=mine,
                          detail=gaps + (f"; {found}" if found else ""))
    if warnings:
        return ItemResult(item=item, status="warn", findings=mine,
                          detail=f"{len(warnings)} warning(s): "
                                 f"{', '.join(sorted({e.check for e in warnings}))}")
    notes = f"{len(mine)} info note(s) and nothing worse" if mine else "no findings"
    return ItemResult(item=item, status="pass", findings=mine,
                      detail=f"{notes} from {code_list(ran)}")


def _smoke_item(sha256: str, filename: str, smokes: Sequence[Mapping[str, Any]]
                ) -> tuple[ItemResult, Mapping[str, Any] | None]:
    item = ChecklistItem("smoke", "Installs offline in fresh environments, maps one copy of "
                         "each runtime, and its GEMM passes on the GPU")
    same_name = [s for s in smokes if s.get("wheel", {}).get("filename") == filename]
    mine = [s for s in same_name if s.get("wheel", {}).get("sha256") == sha256]
    if not mine:
        if same_name:
            return ItemResult(item=item, status="fail", detail="the smoke result given is for "
                              "another build of this file name (sha256 differs)"), None
        return ItemResult(item=item, status="skip", detail="no smoke result for this wheel "
                          "(run `wheelguard smoke ... --json`)"), None
    doc = mine[-1]
    summary = doc.get("summary", {})
    layouts = ", ".join(f"{k} {v}" for k, v in summary.get("layouts", {}).items())
    # Schema 2: the baseline gate (`--baseline`); its failures are in summary.failures too.
    comparison = doc.get("comparison") or {}
    gate = ""
    if comparison:
        old = comparison.get("baseline", {})
        gate = (f"; against {old.get('filename')} ({str(old.get('sha256', ''))[:12]}): "
                f"{comparison.get('status')}, {comparison.get('message')}")
    if summary.get("status") != "passed":
        failures = "; ".join(str(f) for f in summary.get("failures", ())) or "failed"
        return ItemResult(item=item, status="fail", detail=f"{failures} ({layouts})"), doc
    if summary.get("gpu") != "passed" or comparison.get("status", "passed") != "passed":
        return ItemResult(item=item, status="warn", detail=f"passed, GPU part "
                          f"{summary.get('gpu')} ({layouts}){gate}"), doc
    return ItemResult(item=item, status="pass",
                      detail=f"passed, GPU passed ({layouts}){gate}"), doc


def build_checklist(
    results: Sequence[AuditResult],
    smokes: Sequence[Mapping[str, Any]] = (),
    *,
    saved: Mapping[str, SavedAudit] | None = None,
    changes: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[WheelChecklist, ...]:
    """One checklist per wheel. ``saved``: saved audits by sha256, which supply the rules this
    run did not check (typically the linkage checks of an ``audit --download`` run);
    ``changes``: ``wheelguard diff`` documents by wheel path."""
    out = []
    for r in results:
        sha = file_sha256(r.wheel.path)
        evidence = [Evidence.of(f) for f in r.findings]
        checked, given = r.checked, r.given
        prior = (saved or {}).get(sha)
        if prior is not None:
            extra = prior.checked - checked
            evidence += [e for e in prior.findings if e.check in extra]
            checked = checked | extra
            if extra & {c for c, rule in RULES.items() if rule.needs == "linkage"}:
                given = given | {"linkage"}
        items = [_judge(item, evidence, checked, given) for item in ITEMS]
        smoke_item, smoke = _smoke_item(sha, r.wheel.filename, smokes)
        items.append(smoke_item)
        out.append(WheelChecklist(
            result=r, sha256=sha, items=tuple(items), smoke=smoke,
            waivers=tuple(e for e in evidence if e.waived is not None), saved=prior,
            changes=(changes or {}).get(r.wheel.path),
        ))
    return tuple(out)


# ---- Markdown -------------------------------------------------------------------------------
#
# Written for GitHub (task-list checkboxes) and for renderers without task lists (CommonMark,
# Python-Markdown), which show "[x]" literally: so every item also says its status in words,
# and nested lists are indented four spaces, which Python-Markdown needs and GFM accepts.


def _code(text: str) -> str:
    """Inline code that survives backticks in the text."""
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md(text: str) -> str:
    """Plain text in Markdown: characters that would start markup or HTML are escaped."""
    out = one_line(text)
    for ch in "\\`*_{}[]<>#|!":
        out = out.replace(ch, "\\" + ch)
    return out


def _evidence_line(e: Evidence) -> str:
    where = f"{_code(e.path)}: " if e.path else ""
    action = f" \\[{e.action}\\]" if e.action else ""
    source = f" (from {_code(e.source)})" if e.source else ""
    return f"    - {e.check} {e.name}{action} ({e.severity.label}): {where}{_md(e.message)}{source}"


def provenance_lines(run: RunInfo, checklists: Sequence[WheelChecklist],
                     smoke_files: Sequence[str] = ()) -> list[str]:
    saved = sorted({c.saved.source for c in checklists if c.saved is not None})
    lines = [
        f"- wheelguard {run.tool_version} on {run.python}",
        f"- command: {_code(' '.join(run.command) or 'wheelguard report')}",
        f"- configuration: {_md(run.config.describe())}",
        f"- policies: {_md(run.policy_text())}"
        + "".join(f"\n    - {_md(p.name)}: {_code(p.source)}, sha256 {_code(p.sha256)}"
                  for p in run.policies),
        f"- dependency wheels (linkage checks): {_md(run.linkage or 'none given')}"
        + (f"; saved audits: {', '.join(_code(s) for s in saved)}" if saved else ""),
        f"- smoke results: {', '.join(_code(s) for s in smoke_files) or 'none given'}",
    ]
    if run.baseline:
        lines.append(f"- baseline: {_code(run.baseline)}")
    return lines


def render_checklist_markdown(
    checklists: Sequence[WheelChecklist], *, run: RunInfo | None = None,
    today: dt.date | None = None, smoke_files: Sequence[str] = (),
) -> str:
    from wheelguard.report.smoke_md import render_smoke_markdown

    run = run or RunInfo()
    day = (today or dt.date.today()).isoformat()
    ready = sum(c.ready for c in checklists)
    overall = "ready to ship" if ready == len(checklists) else "**not ready**"
    lines = [f"# Release checklist ({day})", "",
             f"Verdict: {overall}: {ready} of {len(checklists)} wheel(s) ready.", "",
             "| wheel | verdict | failed | not checked |", "|---|---|---|---|"]
    for c in checklists:
        failed = ", ".join(i.item.id for i in c.items if i.status == "fail") or "-"
        skipped = ", ".join(i.item.id for i in c.items if i.status == "skip") or "-"
        verdict = c.verdict if c.ready else f"**{c.verdict}**"
        lines.append(f"| {_code(display_path(c.result.wheel.path))} | {verdict} | {failed} "
                     f"| {skipped} |")
    lines += ["", "Judged by:", "", *provenance_lines(run, checklists, smoke_files), ""]
    for c in checklists:
        w = c.result.wheel
        lines += [f"## {_code(display_path(w.path))}", "",
                  f"{_md(str(w.name))} {_md(str(w.version))}; sha256 {_code(c.sha256)}; "
                  f"{len(w.members)} files, {len(w.binaries)} native; tags "
                  f"{', '.join(sorted(str(t) for t in w.tags))}.", ""]
        for i in c.items:
            lines.append(f"- {_MARK[i.status]} **{_md(i.item.title)}**: "
                         f"{STATUS_LABEL[i.status]} ({_md(i.detail)})")
            lines += [_evidence_line(e) for e in i.findings]
        if c.waivers:
            lines += ["", "Waived or kept by policy (or known in the baseline):", ""]
            for e in c.waivers:
                where = _code(e.path) if e.path else "the wheel"
                lines.append(f"- {e.check} {e.name} at {where}: {_md(e.waived or '')}")
        if c.changes is not None:
            from wheelguard.report.diff import diff_markdown

            lines += ["", diff_markdown(c.changes).rstrip()]
        if c.smoke is not None:
            lines += ["", render_smoke_markdown([c.smoke]).rstrip()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def checklist_to_json(checklists: Sequence[WheelChecklist], *, run: RunInfo | None = None
                      ) -> dict[str, Any]:
    run = run or RunInfo()
    return {
        "schema_version": 1,
        "ready": all(c.ready for c in checklists),
        "run": run.to_json(),
        "wheels": [
            {
                "filename": c.result.wheel.filename,
                "sha256": c.sha256,
                "ready": c.ready,
                "verdict": c.verdict,
                "items": [{"id": i.item.id, "title": i.item.title, "status": i.status,
                           "label": STATUS_LABEL[i.status], "detail": i.detail}
                          for i in c.items],
                "audit": result_to_json(c.result, failed=not c.ready, sha256=c.sha256),
                "saved_audit": c.saved.source if c.saved is not None else None,
                "changes": c.changes,
                "smoke": c.smoke,
            }
            for c in checklists
        ],
    }

"""The release checklist: one page per release that says, wheel by wheel, whether it may ship.

It is built from what the other commands already established (the audit's findings with the
policy's actions and waivers, and ``wheelguard smoke`` results) and adds no judgement of its own
beyond grouping, which the rules table decides (each rule names its item): an item fails when an
unwaived error-level finding of its checks is present, warns on warnings, and the smoke item
passes only for a smoke result of *this* wheel (matched by sha256, not by file name: every
rebuild has the same name).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from wheelguard.audit import AuditResult
from wheelguard.model import Finding, Severity
from wheelguard.report.json import result_to_json
from wheelguard.report.text import display_path
from wheelguard.rules import ITEMS, RULES, ChecklistItem
from wheelguard.util.fs import file_sha256

__all__ = [
    "WheelChecklist",
    "build_checklist",
    "checklist_to_json",
    "render_checklist_markdown",
]

Status = Literal["pass", "warn", "fail", "skip"]
_MARK = {"pass": "[x]", "warn": "[x]", "fail": "[ ]", "skip": "[ ]"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemResult:
    item: ChecklistItem
    status: Status
    detail: str
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WheelChecklist:
    result: AuditResult
    sha256: str
    items: tuple[ItemResult, ...]
    smoke: Mapping[str, Any] | None
    waivers: tuple[Finding, ...]

    @property
    def ready(self) -> bool:
        return all(i.status in ("pass", "warn") for i in self.items)


def _judge(item: ChecklistItem, findings: Sequence[Finding]) -> ItemResult:
    mine = tuple(f for f in findings if RULES[f.check].item == item.id and f.waived is None)
    errors = [f for f in mine if f.severity >= Severity.ERROR]
    warnings = [f for f in mine if f.severity == Severity.WARNING]
    if errors:
        codes = sorted({f.check for f in errors})
        return ItemResult(item=item, status="fail", findings=mine,
                          detail=f"{len(errors)} error(s): {', '.join(codes)}")
    if warnings:
        codes = sorted({f.check for f in warnings})
        return ItemResult(item=item, status="warn", findings=mine,
                          detail=f"{len(warnings)} warning(s): {', '.join(codes)}")
    return ItemResult(item=item, status="pass", detail="no findings")


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
    results: Sequence[AuditResult], smokes: Sequence[Mapping[str, Any]] = ()
) -> tuple[WheelChecklist, ...]:
    out = []
    for r in results:
        sha = file_sha256(r.wheel.path)
        items = [_judge(item, r.findings) for item in ITEMS]
        smoke_item, smoke = _smoke_item(sha, r.wheel.filename, smokes)
        items.append(smoke_item)
        out.append(WheelChecklist(
            result=r, sha256=sha, items=tuple(items), smoke=smoke,
            waivers=tuple(f for f in r.findings if f.waived is not None),
        ))
    return tuple(out)


def render_checklist_markdown(
    checklists: Sequence[WheelChecklist], *, today: dt.date | None = None
) -> str:
    from wheelguard.report.smoke_md import render_smoke_markdown

    day = (today or dt.date.today()).isoformat()
    lines = [f"# Release checklist ({day})", "", "| wheel | verdict |", "|---|---|"]
    for c in checklists:
        verdict = "ready to ship" if c.ready else "**not ready**"
        lines.append(f"| `{display_path(c.result.wheel.path)}` | {verdict} |")
    lines.append("")
    for c in checklists:
        w = c.result.wheel
        lines += [f"## `{display_path(w.path)}`", "",
                  f"{w.name} {w.version}; sha256 `{c.sha256}`; {len(w.members)} files, "
                  f"{len(w.binaries)} native; tags {', '.join(sorted(str(t) for t in w.tags))}.",
                  ""]
        for i in c.items:
            lines.append(f"- {_MARK[i.status]} **{i.item.title}** ({i.status}: {i.detail})")
            for f in i.findings[:5]:
                where = f"`{f.path}`: " if f.path else ""
                lines.append(f"  - {f.check} {f.name}: {where}{f.message}")
            if len(i.findings) > 5:
                lines.append(f"  - ... {len(i.findings) - 5} more (see the audit JSON)")
        if c.waivers:
            lines += ["", "Waived or kept by policy:", ""]
            for f in c.waivers:
                where = f"`{f.path}`" if f.path else "wheel"
                lines.append(f"- {f.check} {f.name} at {where}: {f.waived}")
        if c.smoke is not None:
            lines += ["", render_smoke_markdown([c.smoke]).rstrip()]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def checklist_to_json(checklists: Sequence[WheelChecklist]) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "ready": all(c.ready for c in checklists),
        "wheels": [
            {
                "filename": c.result.wheel.filename,
                "sha256": c.sha256,
                "ready": c.ready,
                "items": [{"id": i.item.id, "title": i.item.title, "status": i.status,
                           "detail": i.detail} for i in c.items],
                "audit": result_to_json(c.result, failed=not c.ready),
                "smoke": c.smoke,
            }
            for c in checklists
        ],
    }

"""``wheelguard advise`` output: the version matrix and the proposed ``Requires-Dist``, as JSON,
text and Markdown, and the item the release checklist embeds.

:func:`advice_to_json` is the one shape (``docs/advise.md`` describes it); the text and
Markdown renderers read that document and compute nothing beyond layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from wheelguard.linkage.advise import Advice
from wheelguard.linkage.matrix import Cell, Evidence, ProviderAdvice

__all__ = [
    "SCHEMA",
    "advice_to_json",
    "checklist_item",
    "render_advice_markdown",
    "render_advice_text",
]

SCHEMA = "wheelguard-advise/1"


# ---- JSON -----------------------------------------------------------------------------------


def _evidence(e: Evidence) -> dict[str, Any]:
    return {
        "kind": e.kind, "needed": e.needed, "binaries": list(e.binaries),
        "symbols": [{"name": s.name, "version": s.version, "demangled": s.demangled}
                    for s in e.symbols],
        "count": e.count, "detail": e.detail,
    }


def _cell(c: Cell) -> dict[str, Any]:
    return {"version": str(c.version), "status": c.status, "declared": c.declared,
            "wheel": c.wheel, "reach": dict(c.reach),
            "evidence": [_evidence(e) for e in c.evidence]}


def _provider(p: ProviderAdvice) -> dict[str, Any]:
    proposal = None
    if p.proposal is not None:
        proposal = {
            "specifier": p.proposal.specifier, "requirement": p.proposed_requirement,
            "contiguous": p.proposal.contiguous,
            "runs": [[str(a), str(b)] for a, b in p.proposal.runs],
            "kept": list(p.proposal.kept), "capped": p.proposal.capped,
            "alternative": p.proposal.alternative,
        }
    return {
        "name": p.name, "status": p.status, "reasons": list(p.reasons), "needs": list(p.needs),
        "declared": str(p.requirement) if p.requirement is not None else None,
        "declared_specifier": p.declared_spec if p.requirement is not None else None,
        "available": [str(v) for v in p.available], "imports_cxx": p.cxx,
        "problem": p.problem, "versions": [_cell(c) for c in p.cells], "proposal": proposal,
        "diff": {
            "admitted_failing": [str(v) for v in p.admitted_failing],
            "excluded_working": [str(v) for v in p.excluded_working],
            "unread": [str(v) for v in p.unread],
        },
        "wrong": p.wrong,
    }


def advice_to_json(advice: Advice) -> dict[str, Any]:
    """The advice as one JSON document (``wheelguard advise --format json``)."""
    w = advice.wheel
    return {
        "schema": SCHEMA,
        "wheel": {"filename": w.filename, "name": w.name, "version": str(w.version)},
        "python": advice.python,
        "platforms": sorted(w.platforms),
        "versions_read": "all" if advice.all_versions else "around-declared",
        "demangler": advice.demangler,
        "ok": advice.ok,
        "providers": [_provider(p) for p in advice.providers],
        "unprovided": [{"library": n, "needed_by": list(users)} for n, users in advice.unprovided],
    }


def checklist_item(advice: Advice) -> dict[str, Any]:
    """What the release checklist embeds: a status (``fail`` when a declared range admits a
    version that does not work or a needed provider is undeclared, ``warn`` when the advice
    differs otherwise or a version could not be read, ``pass`` else), one line of detail, and
    the whole advice document."""
    doc = advice_to_json(advice)
    wrong = [p for p in doc["providers"] if p["wrong"]]
    differs = [p for p in doc["providers"]
               if p["proposal"] is not None and p["declared_specifier"] is not None
               and p["proposal"]["specifier"] != p["declared_specifier"]]
    unread = [p for p in doc["providers"] if p["diff"]["unread"] or p["problem"]]
    if wrong:
        status, detail = "fail", "; ".join(_wrong_line(p) for p in wrong)
    elif differs or unread:
        status = "warn"
        detail = "; ".join([*(f"{p['name']}: could be {p['proposal']['requirement']}"
                              for p in differs),
                            *(f"{p['name']}: not every version could be read" for p in unread)])
    else:
        status, detail = "pass", "every declared range admits only versions that work"
    return {"id": "provider-ranges",
            "title": "Each provider's declared range admits only versions that work",
            "status": status, "detail": detail, "advice": doc}


def _wrong_line(p: Mapping[str, Any]) -> str:
    if p["status"] == "undeclared":
        return f"{p['name']} is needed but not declared"
    bad = p["diff"]["admitted_failing"]
    return f"{p['declared']} admits {len(bad)} failing version{'s' if len(bad) != 1 else ''}"


# ---- shared wording ---------------------------------------------------------------------------


def _evidence_line(e: Mapping[str, Any]) -> str:
    users = ", ".join(e["binaries"])
    needed_by = f" (needed by {users})" if users else ""
    match e["kind"]:
        case "soname":
            return f"no {e['needed']}{needed_by}: {e['detail']}"
        case "unreachable":
            return f"{e['needed']} not found{needed_by}: {e['detail']}"
        case "symbols":
            names = "; ".join(_symbol_text(s) for s in e["symbols"])
            more = f" and {e['count'] - len(e['symbols'])} more" if \
                e["count"] > len(e["symbols"]) else ""
            return f"{e['detail']}: {names}{more}{needed_by}"
        case "duplicate":
            return str(e["detail"])
        case _:
            return f"not read: {e['detail']}"


def _symbol_text(s: Mapping[str, Any]) -> str:
    text = str(s["demangled"] or s["name"])
    return f"{text} @{s['version']}" if s["version"] else text


def _reach_line(p: Mapping[str, Any]) -> str | None:
    """How the working versions' libraries are found per layout, when they all agree."""
    reaches = {tuple(sorted(c["reach"].items())) for c in p["versions"]
               if c["status"] == "works" and c["reach"]}
    if len(reaches) != 1:
        return None
    words = {"search-path": "through the wheel's search path",
             "preload": "only once the provider's package is imported (preload)",
             "not-found": "not at all"}
    by_kind: dict[str, list[str]] = {}
    for layout, kind in next(iter(reaches)):
        by_kind.setdefault(kind, []).append(layout)
    return "; ".join(f"{', '.join(layouts)}: {words[k]}" for k, layouts in by_kind.items())


def _summary(p: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    prop = p["proposal"]
    bad, wider = p["diff"]["admitted_failing"], p["diff"]["excluded_working"]
    if p["status"] == "undeclared":
        lines.append("not declared: the wheel needs it, so Requires-Dist should name it")
    if bad:
        lines.append(f"the declared range admits {len(bad)} version(s) that fail: "
                     f"{_versions(bad)}")
    if wider:
        lines.append(f"the declared range excludes {len(wider)} version(s) that work: "
                     f"{_versions(wider)}")
    if prop is not None and not prop["contiguous"]:
        runs = ", ".join(a if a == b else f"{a} to {b}" for a, b in prop["runs"])
        lines.append(f"the working versions are not contiguous ({runs}): proposed is the "
                     f"safe contiguous part"
                     + (f"; every working version: {prop['alternative']}"
                        if prop["alternative"] else ""))
    if prop is not None and prop["kept"]:
        lines.append(f"kept from the declared range (no release there to judge): "
                     f"{', '.join(prop['kept'])}")
    if prop is not None and prop["capped"]:
        lines.append("capped above the newest release: the wheel imports C++ symbols, "
                     "which change between releases")
    if p["diff"]["unread"]:
        lines.append(f"not read: {_versions(p['diff']['unread'])}")
    own = sorted({b for c in p["versions"] for e in c["evidence"] if e["kind"] == "duplicate"
                  for b in e["binaries"]})
    if own:
        lines.append(f"the wheel ships its own copy ({', '.join(own)}): drop it and load the "
                     f"provider's (wheelguard repair) rather than narrowing the range")
    if prop is None and p["problem"] is None:
        lines.append("no version read works: no range can fix this; the wheel must change")
    return lines


def _status(p: Mapping[str, Any], *, code: bool = False) -> str:
    if p["declared"] is None:
        return "not declared"
    text = f"`{p['declared']}`" if code else p["declared"]
    return f"{p['status']}: {text}"


def _versions(vs: Sequence[str]) -> str:
    return ", ".join(vs) if len(vs) <= 8 else f"{', '.join(vs[:3])}, ... {', '.join(vs[-3:])}"


def _header(doc: Mapping[str, Any]) -> list[str]:
    w = doc["wheel"]
    how = ("every release" if doc["versions_read"] == "all"
           else "the declared range, the newest release, and outwards to the nearest failure")
    return [f"{w['name']} {w['version']} ({w['filename']})",
            f"Python {doc['python']}, {' '.join(doc['platforms'])}; versions read: {how}; "
            f"C++ names demangled by {doc['demangler']}"]


# ---- text ---------------------------------------------------------------------------------------


def render_advice_text(doc: Mapping[str, Any]) -> str:
    lines = _header(doc)
    for p in doc["providers"]:
        lines += ["", f"{p['name']}  ({_status(p)}; {', '.join(p['reasons']) or 'asked for'})"]
        if p["problem"] is not None:
            lines.append(f"  not advised: {p['problem']}")
            continue
        width = max([len(c["version"]) for c in p["versions"]] + [7])
        lines.append(f"  {'version':<{width}}  declared  verdict")
        for c in p["versions"]:
            mark = "admits" if c["declared"] else ""
            lines.append(f"  {c['version']:<{width}}  {mark:<8}  {c['status']}")
            lines += [f"  {'':<{width}}    - {_evidence_line(e)}" for e in c["evidence"]]
        if (reach := _reach_line(p)) is not None:
            lines.append(f"  found: {reach}")
        if p["proposal"] is not None:
            lines.append(f"  proposed: {p['proposal']['requirement']}")
            if p["declared"] is not None and p["declared"] != p["proposal"]["requirement"]:
                lines += [f"    - {p['declared']}", f"    + {p['proposal']['requirement']}"]
        lines += [f"  note: {line}" for line in _summary(p)]
    if doc["unprovided"]:
        lines += ["", "needed from outside, no provider read delivers it:"]
        lines += [f"  {u['library']} (needed by {', '.join(u['needed_by'])})"
                  for u in doc["unprovided"]]
    lines += ["", "verdict: " + ("every declared range admits only versions that work"
                                 if doc["ok"] else "Requires-Dist needs changing (see above)")]
    return "\n".join(lines) + "\n"


# ---- Markdown ------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render_advice_markdown(doc: Mapping[str, Any]) -> str:
    head = _header(doc)
    lines = [f"### {_md(head[0])}", "", _md(head[1])]
    for p in doc["providers"]:
        lines += ["", f"#### {p['name']} ({_status(p, code=True)})", "",
                  f"Why read: {_md(', '.join(p['reasons']) or 'asked for')}."]
        if p["problem"] is not None:
            lines += ["", f"Not advised: {_md(p['problem'])}"]
            continue
        lines += ["", "| version | declared range | verdict | evidence |", "|---|---|---|---|"]
        for c in p["versions"]:
            evidence = "<br>".join(_md(_evidence_line(e)) for e in c["evidence"])
            verdict = {"works": "works", "fails": "**fails**", "unread": "not read"}[c["status"]]
            lines.append(f"| {c['version']} | {'admits' if c['declared'] else ''} | {verdict} "
                         f"| {evidence} |")
        if (reach := _reach_line(p)) is not None:
            lines += ["", f"Found: {_md(reach)}."]
        if p["proposal"] is not None:
            lines += ["", "```diff"]
            if p["declared"] is not None:
                lines.append(f"- {p['declared']}")
            lines += [f"+ {p['proposal']['requirement']}", "```"]
        lines += ["", *(f"- {_md(line)}" for line in _summary(p))] if _summary(p) else []
    if doc["unprovided"]:
        lines += ["", "Needed from outside, delivered by no provider read:", ""]
        lines += [f"- `{u['library']}` (needed by {_md(', '.join(u['needed_by']))})"
                  for u in doc["unprovided"]]
    lines += ["", "**Verdict:** " + ("every declared range admits only versions that work."
                                     if doc["ok"] else "`Requires-Dist` needs changing.")]
    return "\n".join(lines) + "\n"

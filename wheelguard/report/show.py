"""Text for ``wheelguard show`` and ``show --deps``: what each library needs and where the
loader finds it. Renderers only: the data comes from :func:`wheelguard.cli.show.show_data`
and :func:`wheelguard.linkage.facts.describe`, each resolution in its one JSON shape
(:meth:`wheelguard.loader.resolve.Resolution.to_json`), rendered by :func:`resolution_text`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wheelguard.util.printable import markup as escape

__all__ = ["deps_lines", "resolution_text", "show_lines"]

_SCENARIOS = ("lowest", "highest", "newest")


def resolution_text(r: Mapping[str, Any], *, versions: bool = False) -> str:
    """One resolution as rich markup: what the loader finds and how. With ``versions`` the
    caller names the provider and its version beside it, so the requirement is left out."""
    path = escape(r["path"] or "")
    via = f" [dim](via {escape(r['entry'])})[/]" if r["entry"] else ""
    match r["kind"]:
        case "wheel":
            how = via or " [dim](already loaded by a loader in the wheel)[/]"
            return f"[green]{path}[/]{how}"
        case "platform":
            return "[dim]platform library[/]"
        case "dependency" | "undeclared":
            style = "cyan" if r["kind"] == "dependency" else "yellow"
            note = "" if r["kind"] == "dependency" else "[yellow](not declared)[/] "
            who = "" if versions else escape(r["requirement"] or r["provider"] or "") + " "
            where = f"{path}{via}" if path else \
                "[dim](by SONAME once the provider is imported)[/]"
            return f"[{style}]{who}[/]{note}{where}".replace(f"[{style}][/]", "")
        case "preload":
            top = (r["path"] or "").split("/", 1)[0]
            return (f"[magenta]preload[/] of {path or '?'} "
                    f"[dim](only if `import {escape(top)}` ran first)[/]")
        case _:
            return "[bold red]not found[/]"


def show_lines(data: Mapping[str, Any]) -> list[str]:
    lines = [f"[bold]{escape(data['wheel'])}[/] "
             f"[dim]({data['platform_policy'] or 'no platform policy'})[/]"]
    for lib in data["libraries"]:
        lines += ["", f"[bold]{escape(lib['path'])}[/] [dim]{escape(lib['machine'])}[/]",
                  f"  SONAME   {escape(lib['soname'] or '-')}"]
        for tag in ("rpath", "runpath"):
            if lib[tag]:
                lines.append(f"  {tag.upper():8} {escape(':'.join(lib[tag]))}")
        lines += [f"  NEEDED   {escape(r['needed'])} -> {resolution_text(r)}"
                  for r in lib["resolution"]]
    return lines





def _layout_line(per_scenario: dict[str, dict[str, Any]]) -> str:
    """The version scenarios of one layout, grouped where they resolve alike:
    ``where: dist 1.0 (lowest); dist 2.0 (highest, newest)``."""
    groups: dict[str, dict[str, list[str]]] = {}
    for scenario in _SCENARIOS:
        r = per_scenario.get(scenario)
        if r is None:
            continue
        foreign = r["kind"] not in ("wheel", "platform")
        who = f"{r['provider']} {r['version']}" if foreign and r["provider"] else ""
        who = who or r.get("expected_from") or ""
        where = resolution_text(r, versions=True)
        groups.setdefault(where, {}).setdefault(who, []).append(scenario)
    parts = []
    for where, versions in groups.items():
        shown = [f"{who} ({', '.join(roles)})" if who else f"({', '.join(roles)})"
                 for who, roles in versions.items()]
        if len(groups) == 1 and list(versions) == [""]:
            parts.append(where)
        else:
            parts.append(f"{where}: {'; '.join(shown)}")
    return " | ".join(parts)


def deps_lines(data: dict[str, Any]) -> list[str]:
    lines = [f"[bold]{escape(data['wheel'])}[/] [dim](Python {data['python']}; "
             f"{data['platform_policy'] or 'no platform policy'})[/]", "", "[bold]layouts[/]"]
    lines += [f"  {lay['name']:22} {escape(lay['description'])}" for lay in data["layouts"]]
    lines += ["", "[bold]providers read[/]"]
    if not data["dependencies"]:
        lines.append("  none: no library outside the wheel needs one")
    for d in data["dependencies"]:
        samples = ", ".join(
            f"{s['version']} ({', '.join(s['roles'])}{'' if s['in_range'] else ', outside'})"
            + (f" [red]unread: {escape(s['problem'])}[/]" if s["problem"] else "")
            for s in d["samples"]
        )
        status = {"declared": "", "extra": " [yellow]extra only[/]",
                  "undeclared": " [yellow]not declared[/]"}[d["status"]]
        lines.append(f"  [cyan]{escape(d['name'])}[/] {escape(d['requirement'] or '')}{status}"
                     f" [dim]({escape(', '.join(d['reasons']))})[/]")
        lines.append(f"      read: {samples or '-'}")
        for smp in d["samples"]:
            if smp["lacks"]:
                where = "" if smp["in_range"] else " (outside the range: not a finding)"
                lines.append(f"      [red]{smp['version']} lacks[/]{where}: "
                             f"{escape(', '.join(smp['lacks']))}")
        if d["problem"]:
            lines.append(f"      [red]{escape(d['problem'])}[/]")
    for lib in data["libraries"]:
        search = ":".join(lib["runpath"] or lib["rpath"])
        tag = "RUNPATH" if lib["runpath"] else "RPATH"
        lines += ["", f"[bold]{escape(lib['path'])}[/] [dim](SONAME {escape(lib['soname'] or '-')}"
                      + (f"; {tag} {escape(search)}" if search else "") + ")[/]"]
        platform: list[str] = []
        for need in lib["needed"]:
            per_layout = need["layouts"]
            kinds = {r["kind"] for sc in per_layout.values() for r in sc.values()}
            if kinds == {"platform"}:
                platform.append(need["needed"])
                continue
            rendered = {name: _layout_line(sc) for name, sc in per_layout.items()}
            if len(set(rendered.values())) == 1:
                which = "every layout" if len(rendered) > 1 else next(iter(rendered))
                lines.append(f"  {escape(need['needed'])}: {next(iter(rendered.values()))} "
                             f"[dim]({which})[/]")
                continue
            lines.append(f"  {escape(need['needed'])}")
            for name, text in rendered.items():
                lines.append(f"    {name:22} {text}")
        if platform:
            lines.append(f"  [dim]platform: {escape(', '.join(platform))}[/]")
    v = data["verdict"]
    if v is not None:
        provided = escape(", ".join(f"{p['library']} from {p['distribution']}"
                                    for p in v["provided"]))
        state = "[green]holds[/]" if v["holds"] else "[bold red]does not hold[/]"
        lines += ["", f"[bold]verdict[/] {v['claimed']} {state} with the declared providers "
                      f"counted as present ({provided or 'none needed'}); oldest qualifying "
                      f"tag: {v['oldest'] or 'none'}"]
        if v["outside"]:
            lines.append(f"  outside the whitelist: {escape(', '.join(v['outside']))}")
        if v["too_new"]:
            lines.append(f"  above the symbol-version ceiling: {escape(', '.join(v['too_new']))}")
    return lines

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
_SIGNED = {"adhoc": "signed ad hoc", "linker-signed": "signed ad hoc by the linker",
           "certificate": "signed with a certificate"}


def resolution_text(r: Mapping[str, Any], *, versions: bool = False) -> str:
    """One resolution as rich markup: what the loader finds and how. With ``versions`` the
    caller names the provider and its version beside it, so the requirement is left out."""
    path = escape(r["path"] or "")
    via = f" [dim](via {escape(r['entry'])})[/]" if r["entry"] else ""
    reason = r.get("reason")
    why = f" [dim]({escape(reason)})[/]" if reason else ""
    match r["kind"]:
        case "wheel":
            how = via or " [dim](already loaded by a loader in the wheel)[/]"
            return f"[green]{path}[/]{how}"
        case "platform":
            return f"[dim]platform library[/]{why}"
        case "driver":
            return f"[dim]{escape(r['provider'] or 'GPU')} driver library[/]"
        case "dependency" | "undeclared" | "extra":
            style = "cyan" if r["kind"] == "dependency" else "yellow"
            note = {"dependency": "", "undeclared": "[yellow](not declared)[/] ",
                    "extra": "[yellow](only with an extra)[/] "}[r["kind"]]
            who = "" if versions else escape(r["requirement"] or r["provider"] or "") + " "
            where = f"{path}{via}" if path else \
                (why.strip() or "[dim](by SONAME once the provider is imported)[/]")
            return f"[{style}]{who}[/]{note}{where}".replace(f"[{style}][/]", "")
        case "preload" if r["provider"] is not None and r["requirement"] is None \
                and r["version"] is None:
            return (f"[magenta]preload[/] of {path} "
                    "[dim](this wheel's own library, once something has loaded it)[/]")
        case "preload":
            top = (r["path"] or "").split("/", 1)[0]
            if reason:
                return f"[magenta]preload[/] of {path or '?'}{why}"
            return (f"[magenta]preload[/] of {path or '?'} "
                    f"[dim](only if `import {escape(top)}` ran first)[/]")
        case "redistributable":
            return f"[yellow]not shipped[/]{why}"
        case _:
            return f"[bold red]not found[/]{why}"


def show_lines(data: Mapping[str, Any]) -> list[str]:
    policy = data["platform_policy"] or ", ".join(data.get("tags", ())) or "no platform policy"
    lines = [f"[bold]{escape(data['wheel'])}[/] [dim]({escape(policy)})[/]"]
    for lib in data["libraries"]:
        if lib["format"] == "macho":
            lines += _macho_lines(lib)
        elif lib["format"] == "pe":
            lines += _pe_lines(lib)
        else:
            lines += _elf_lines(lib)
    for d in data.get("debug_companions", ()):
        uuids = ", ".join(s["uuid"] for s in d.get("slices", ()) if s["uuid"])
        lines += ["", f"[bold]{escape(d['path'])}[/] [dim]{escape(d['machine'])} .dSYM DWARF "
                      f"(debug data, never loaded; UUID {escape(uuids or '-')})[/]"]
    return lines


def _elf_lines(lib: Mapping[str, Any]) -> list[str]:
    lines = ["", f"[bold]{escape(lib['path'])}[/] [dim]{escape(lib['machine'])}[/]",
             f"  SONAME   {escape(lib['soname'] or '-')}"]
    for tag in ("rpath", "runpath"):
        if lib[tag]:
            lines.append(f"  {tag.upper():8} {escape(':'.join(lib[tag]))}")
    lines += [f"  NEEDED   {escape(r['needed'])} -> {resolution_text(r)}"
              for r in lib["resolution"]]
    return lines


def _macho_lines(lib: Mapping[str, Any]) -> list[str]:
    """Install name, LC_RPATH and each load command by kind, as otool -L/-l would name them;
    one header per slice when the slices differ in what they say."""
    slices = lib["slices"]
    about = [f"Mach-O {lib['file_type']}"]
    for s in slices:
        facts = [s["arch"]]
        if s["min_os"]:
            facts.append(f"{s['platform'] or 'macos'} {s['min_os']}")
        signature = s["signature"]
        if signature is None:
            facts.append("unsigned")
        else:
            facts.append(_SIGNED[signature] + ("" if s["signature_valid"] is not False
                                               else " [red](invalid)[/]"))
        about.append(" ".join(facts))
    lines = ["", f"[bold]{escape(lib['path'])}[/] [dim]{'; '.join(about)}[/]"]
    if lib["install_name"]:
        lines.append(f"  {'install name':<20} {escape(lib['install_name'])}")
    for entry in lib["lc_rpath"]:
        lines.append(f"  {'LC_RPATH':<20} {escape(entry)}")
    commands = {c["name"]: c["command"] for s in slices for c in s["load_commands"]}
    for r in lib["resolution"]:
        command = commands.get(r["needed"], "LC_LOAD_DYLIB")
        lines.append(f"  {command:<20} {escape(r['needed'])} -> {resolution_text(r)}")
    return lines


def _pe_lines(lib: Mapping[str, Any]) -> list[str]:
    kind = "DLL" if lib["kind"] == "dll" else "executable"
    lines = ["", f"[bold]{escape(lib['path'])}[/] [dim]{escape(lib['machine'])} PE {kind}"
                 + (f", exports as {escape(lib['export_name'])}" if lib["export_name"] else "")
                 + "[/]"]
    delayed = {n.lower() for n in lib["delay_imports"]}
    for r in lib["resolution"]:
        label = "delay import" if r["needed"].lower() in delayed else "import"
        lines.append(f"  {label:<13} {escape(r['needed'])} -> {resolution_text(r)}")
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
        if provided:
            counted = f"with the declared providers' libraries counted as present ({provided})"
        elif v["outside"]:
            # Nothing was provided because no provider wheel was read, not because none was
            # needed: the libraries listed next are exactly the ones nobody supplied.
            counted = "with no provider library counted (no provider wheel was read)"
        else:
            counted = "(no library outside the wheel and the platform is needed)"
        lines += ["", f"[bold]verdict[/] {escape(v['claimed'])} {state} {counted}; oldest "
                      f"qualifying tag: {escape(v['oldest'] or 'none')}"]
        if v["outside"]:
            lines.append(f"  outside the whitelist: {escape(', '.join(v['outside']))}")
        if v["too_new"]:
            lines.append(f"  above the symbol-version ceiling: {escape(', '.join(v['too_new']))}")
    return lines

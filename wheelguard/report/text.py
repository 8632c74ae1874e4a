"""Text output, written for CI logs first: one line per finding, never wrapped, nothing hidden.

A log is read with grep and copied into issues, so a finding is one physical line however long
(a wheel name or an RPATH split across two lines matches nothing), every finding is shown
unless ``--max-per-check`` asks for fewer, waived findings are listed apart and never take a
visible slot or count as errors, and the run ends with a per-wheel table and one summary line.
Every dynamic string goes into rich ``Text`` objects, never into markup, so a member named
``[bold]x`` prints as itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from rich.console import Console
from rich.text import Text

from wheelguard.audit import AuditResult, count_findings
from wheelguard.model import Finding, Severity
from wheelguard.report.coverage import WHY_NOT, code_list, not_checked
from wheelguard.report.provenance import RunInfo
from wheelguard.util.printable import visible
from wheelguard.util.units import format_bytes

__all__ = ["ColorMode", "TextOptions", "display_path", "make_console", "one_line",
           "render_text"]

ColorMode = Literal["auto", "always", "never"]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


@dataclass(frozen=True, slots=True, kw_only=True)
class TextOptions:
    hints: bool = True
    max_per_check: int | None = None
    """Findings shown per check and wheel (None: all); the rest are counted, never dropped
    silently."""
    quiet: bool = False
    """Only the findings that fail the gate, and the summary line."""


def make_console(color: ColorMode = "auto", file: IO[str] | None = None) -> Console:
    """A console that never wraps or crops (``soft_wrap``), coloured as asked; ``auto``
    follows the terminal, ``NO_COLOR`` and ``FORCE_COLOR``."""
    match color:
        case "never":
            return Console(file=file, color_system=None, soft_wrap=True, highlight=False,
                           emoji=False, no_color=True)
        case "always":
            return Console(file=file, force_terminal=True, color_system="standard",
                           soft_wrap=True, highlight=False, emoji=False)
        case _:
            return Console(file=file, soft_wrap=True, highlight=False, emoji=False)


def display_path(path: str) -> str:
    """Short but unambiguous: relative to the working directory when inside it, else the
    wheel's folder and name (several wheelhouses often hold the same file name). Controls in
    it are shown escaped: a directory named ``"x\nFORGED: ok"`` must not forge a line."""
    p = Path(path)
    try:
        return visible(str(p.resolve().relative_to(Path.cwd().resolve())))
    except ValueError:
        return visible(str(Path(p.parent.name) / p.name) if p.parent.name else p.name)


def one_line(text: str) -> str:
    """A message as one line: a finding that spans lines breaks grep and annotations."""
    return " ".join(text.split())


def _finding(f: Finding, *, waived: bool) -> Text:
    style = "dim" if waived else _STYLE[f.severity]
    line = Text("  ")
    line.append(f.check, style=style)
    line.append(f" {f.name}", style="dim")
    if f.action:
        line.append(f" [{f.action}]", style="magenta")
    line.append(" ")
    if f.path:
        line.append(visible(f.path), style="bold")
        line.append(": ")
    line.append(visible(one_line(f.message)))
    if waived:
        line.append(f" (waived: {visible(one_line(f.waived or ''))})", style="dim")
    return line


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _header(r: AuditResult, failed: bool) -> Text:
    w = r.wheel
    promise = r.context.platform.name if r.context.platform else "no platform policy"
    head = Text()
    head.append("FAIL" if failed else "ok", style="bold red" if failed else "bold green")
    head.append(" ")
    head.append(display_path(w.path), style="bold")
    head.append(f" ({len(w.members)} files, {len(w.binaries)} native, "
                f"{format_bytes(w.file_size or w.total_compressed)} file / "
                f"{format_bytes(w.total_size)} installed; {promise})", style="dim")
    return head


def _wheel_body(console: Console, r: AuditResult, fail_on: Severity | None,
                opts: TextOptions) -> None:
    live = [f for f in r.findings if f.waived is None]
    for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
        group = [f for f in live if f.severity == sev]
        if opts.quiet:
            group = [f for f in group if fail_on is not None and sev >= fail_on]
        if not group:
            continue
        if not opts.quiet:
            console.print(Text(f" {sev.label}s ({len(group)})", style=_STYLE[sev]))
        shown: dict[str, int] = {}
        for f in group:
            shown[f.check] = shown.get(f.check, 0) + 1
            if opts.max_per_check is not None and shown[f.check] > opts.max_per_check:
                continue
            console.print(_finding(f, waived=False))
            # One hint per check and wheel: the fix is the same for each instance.
            if opts.hints and not opts.quiet and shown[f.check] == 1 and f.hint:
                hint = Text("      ")
                hint.append("fix:", style="green")
                hint.append(f" {one_line(f.hint)}")
                console.print(hint)
        for check, n in shown.items():
            if opts.max_per_check is not None and n > opts.max_per_check:
                console.print(Text(f"  ... {n - opts.max_per_check} more {check} not shown "
                                   f"(--max-per-check {opts.max_per_check})", style="dim"))
    waived = [f for f in r.findings if f.waived is not None]
    if waived and not opts.quiet:
        console.print(Text(f" waived ({len(waived)})", style="dim"))
        for f in waived:
            console.print(_finding(f, waived=True))


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Plain columns sized to their content: a log has no terminal width to fit."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) if i > 1
                 else c.ljust(widths[i]) for i, c in enumerate(row)]
        out.append("  ".join(cells).rstrip())
    return out


def render_text(
    console: Console,
    results: Sequence[AuditResult],
    errors: Sequence[tuple[str, str]],
    *,
    run: RunInfo,
    exit_code: int,
    options: TextOptions | None = None,
) -> None:
    opts = options or TextOptions()
    fail_on = run.fail_on
    if not opts.quiet:
        console.print(Text(run.line(), style="dim"))
    for r in results:
        failed = r.fails(fail_on)
        if not opts.quiet or failed:
            console.print(_header(r, failed))
        _wheel_body(console, r, fail_on, opts)
    for path, error in errors:
        line = Text()
        line.append("ERROR", style="bold red")
        line.append(f" {display_path(path)}: {visible(one_line(error))}")
        console.print(line)
    if not opts.quiet:
        if results:
            reasons = not_checked(results[0].checked, results[0].given)
            for why, codes in reasons.items():
                console.print(Text(f"not checked: {code_list(codes)}: {WHY_NOT[why]}",
                                   style="yellow" if why is not None else "dim"))
        rows = [["wheel", "verdict", "errors", "warnings", "info", "waived", "file"]]
        for r in results:
            c = count_findings(r.findings)
            rows.append([display_path(r.wheel.path), "FAIL" if r.fails(fail_on) else "ok",
                         str(c["errors"]), str(c["warnings"]), str(c["info"]),
                         str(c["waived"]), format_bytes(r.wheel.file_size)])
        rows += [[display_path(p), "unreadable", "-", "-", "-", "-", "-"] for p, _e in errors]
        if len(rows) > 1:
            for row in _table(rows):
                console.print(Text(row))
    total = count_findings([f for r in results for f in r.findings])
    failing = sum(r.fails(fail_on) for r in results)
    audited = _plural(len(results), "wheel") + " audited"
    if errors:
        audited += f", {len(errors)} unreadable"
    summary = (f"{audited}: {_plural(total['errors'], 'error')}, "
               f"{_plural(total['warnings'], 'warning')}, {total['info']} info"
               + (f", {total['waived']} waived" if total["waived"] else "")
               + f"; {failing} failing at --fail-on {run.fail_on_label}; exit {exit_code}")
    console.print(Text(summary, style="bold"))

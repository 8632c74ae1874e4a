"""Human output: grouped by wheel, then severity, with one summary line at the end."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from wheelguard.audit import AuditResult
from wheelguard.model import Finding, Severity
from wheelguard.util.printable import markup as escape
from wheelguard.util.units import format_bytes

__all__ = ["display_path", "render_text"]

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def display_path(path: str) -> str:
    """Short but unambiguous: relative to the working directory when inside it, else the
    wheel's folder and name (several wheelhouses often hold the same file name)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(Path(p.parent.name) / p.name) if p.parent.name else p.name


def _line(console: Console, f: Finding, show_hint: bool) -> None:
    style = "dim" if f.waived else _STYLE[f.severity]
    action = f" [magenta]\\[{f.action}][/]" if f.action else ""
    where = f"[bold]{escape(f.path)}[/]: " if f.path else ""
    console.print(
        f"  [{style}]{f.check}[/] [dim]{f.name}[/]{action} {where}{escape(f.message)}",
        highlight=False,
        soft_wrap=False,
        overflow="fold",
    )
    if f.waived:
        console.print(f"      [dim]waived: {escape(f.waived)}[/]", highlight=False)
    elif show_hint and f.hint:
        console.print(f"      [green]fix:[/] {escape(f.hint)}", highlight=False)


def render_text(
    console: Console,
    results: Sequence[AuditResult],
    errors: Sequence[tuple[str, str]],
    *,
    fail_on: Severity | None,
    verbose: bool = True,
    max_per_check: int = 6,
) -> None:
    for r in results:
        w = r.wheel
        status = "[bold red]FAIL[/]" if r.fails(fail_on) else "[bold green]ok[/]"
        promise = r.context.platform.name if r.context.platform else "no platform policy"
        console.print(
            f"{status} [bold]{escape(display_path(w.path))}[/] "
            f"[dim]({len(w.members)} files, {len(w.binaries)} native, "
            f"{format_bytes(w.total_compressed)} compressed / {format_bytes(w.total_size)} "
            f"installed; {promise})[/]",
            highlight=False,
        )
        for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO):
            group = [f for f in r.findings if f.severity == sev]
            if not group:
                continue
            console.print(f" [{_STYLE[sev]}]{sev.label}s ({len(group)})[/]")
            shown: dict[str, int] = {}
            for f in group:
                shown[f.check] = shown.get(f.check, 0) + 1
                if shown[f.check] <= max_per_check:
                    # One hint per check and wheel: the fix is the same for each instance.
                    _line(console, f, verbose and shown[f.check] == 1)
            for check, n in shown.items():
                if n > max_per_check:
                    console.print(
                        f"  [dim]... {n - max_per_check} more {check} (--format json lists all)[/]"
                    )
    for path, error in errors:
        console.print(f"[bold red]ERROR[/] {escape(path)}: {escape(error)}", highlight=False)
    live = [f for r in results for f in r.findings if f.waived is None]
    counts = {s: sum(f.severity == s for f in live) for s in Severity}
    waived = sum(f.waived is not None for r in results for f in r.findings)
    failed = sum(r.fails(fail_on) for r in results) + len(errors)
    console.print(
        f"[bold]{len(results) + len(errors)} wheel(s): {counts[Severity.ERROR]} errors, "
        f"{counts[Severity.WARNING]} warnings, {counts[Severity.INFO]} info"
        + (f", {waived} waived" if waived else "")
        + f"; {failed} failing (--fail-on {fail_on.label if fail_on else 'never'})[/]",
        highlight=False,
    )

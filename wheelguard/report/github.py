"""GitHub Actions: workflow-command annotations for findings, and the job summary.

Annotations (``::error file=...,title=...::message``) put each unwaived finding on the run's
summary page and on the pull request; they are emitted with ``--format github``, and beside
the text output when ``GITHUB_ACTIONS=true``. Errors become ``error``, warnings ``warning``,
info ``notice``. The job summary (``$GITHUB_STEP_SUMMARY``, GitHub-flavoured Markdown) gets
the release checklist of the audited wheels, appended, as GitHub expects of every step.

Escaping follows the runner's rules: in the message ``%``, CR and LF are encoded; in
properties also ``:`` and ``,``. A finding's text is untrusted (member names come from the
wheel), so nothing in it can end the command or open another.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from wheelguard.audit import AuditResult
from wheelguard.model import Severity
from wheelguard.report.provenance import RunInfo
from wheelguard.report.text import display_path, one_line

__all__ = ["append_step_summary", "escape_data", "escape_property", "on_github",
           "render_annotations"]

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def on_github(env: Mapping[str, str]) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_annotations(results: Sequence[AuditResult], errors: Sequence[tuple[str, str]],
                       *, run: RunInfo) -> str:
    lines = []
    for r in results:
        wheel = display_path(r.wheel.path)
        for f in sorted(r.findings, key=lambda f: f.sort_key):
            if f.waived is not None:
                continue
            gate = " (fails the gate)" if run.fail_on is not None and f.severity >= run.fail_on \
                else ""
            where = f"{f.path}: " if f.path else ""
            message = f"{r.wheel.filename}: {where}{one_line(f.message)}{gate}"
            if f.hint:
                message += f"\nfix: {one_line(f.hint)}"
            lines.append(f"::{_COMMAND[f.severity]} file={escape_property(wheel)},"
                         f"title={escape_property(f'{f.check} {f.name}')}::"
                         f"{escape_data(message)}")
    for path, error in errors:
        lines.append(f"::error file={escape_property(display_path(path))},"
                     f"title=unreadable wheel::{escape_data(one_line(error))}")
    return "".join(line + "\n" for line in lines)


def append_step_summary(path: str, markdown: str) -> None:
    """Append to the job summary file (the runner creates it; every step appends)."""
    with Path(path).open("a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")

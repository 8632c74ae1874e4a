"""``wheelguard audit WHEEL...``: the CI gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelguard.cli.common import (
    add_output_options,
    add_policy_option,
    add_provider_options,
    add_python_version,
    add_wheels_argument,
    check_inputs,
    expand_wheels,
    policy_filter,
    progress_bar,
    severity_or_never,
    size_arg,
)
from wheelguard.errors import InvalidWheel, UsageError
from wheelguard.model import Severity
from wheelguard.util.printable import visible

if TYPE_CHECKING:
    from wheelguard.audit import AuditResult

__all__ = ["configure_parser", "execute"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="check wheels for duplicate runtimes, bad RPATHs, shipped build trees and more",
        description="Check wheels without unpacking them. Exit 0 when nothing reaches "
        "--fail-on, 1 when something does, 2 for usage errors and unreadable wheels.",
    )
    add_wheels_argument(p)
    add_output_options(p, ("text", "json"))
    p.add_argument(
        "--fail-on",
        type=severity_or_never,
        default=Severity.ERROR,
        metavar="LEVEL",
        help="error (default), warning, info or never",
    )
    p.add_argument("--select", action="append", default=[], metavar="CHECK",
                   help="only these checks (code or name; repeatable, comma-separated)")
    p.add_argument("--ignore", action="append", default=[], metavar="CHECK",
                   help="skip these checks (code or name; repeatable, comma-separated)")
    p.add_argument("--size-budget", type=size_arg, metavar="SIZE",
                   help="fail (WG601) when the wheel file is larger, e.g. 100MB")
    p.add_argument("--installed-size-budget", type=size_arg, metavar="SIZE",
                   help="fail (WG601) when the installed members total more")
    add_python_version(p)
    p.add_argument("--no-hints", action="store_true", help="leave out fix hints in text output")
    add_policy_option(p)
    add_provider_options(p)
    p.set_defaults(func=execute)


def _codes(values: list[str]) -> frozenset[str]:
    from wheelguard.audit import AuditOptions

    keys = [k.strip() for v in values for k in v.split(",") if k.strip()]
    try:
        return AuditOptions.codes(keys)
    except KeyError as e:
        raise UsageError(str(e.args[0])) from None


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.audit import AuditOptions, audit_wheel
    from wheelguard.cli.common import provider_lookup

    options = AuditOptions(
        select=_codes(args.select),
        ignore=_codes(args.ignore),
        size_budget=args.size_budget,
        installed_budget=args.installed_size_budget,
        python=args.python_version,
        providers=provider_lookup(args),
        extras=tuple(args.extra),
    )
    post = policy_filter(args.policy)
    wheels = check_inputs(expand_wheels(args.wheels), output=args.output)
    total = sum(Path(w).stat().st_size for w in wheels if Path(w).is_file())
    results: list[AuditResult] = []
    errors: list[tuple[str, str]] = []
    with progress_bar("auditing", total, enabled=total > (32 << 20)) as bar:
        def advance(n: int) -> None:
            if bar is not None:
                bar.advance(bar.task_ids[0], n)

        for w in wheels:
            try:
                results.append(audit_wheel(w, options, progress=advance, post=post))
            except InvalidWheel as e:
                errors.append((w, e.reason))
    for w, reason in errors:
        # The report (stdout or --output) lists these too; stderr is where a CI log reader
        # and a calling script look for why the exit code is 2: one line per wheel.
        print(f"wheelguard: error: {visible(w)}: {visible(' '.join(reason.split()))}",
              file=sys.stderr)
    fail_on = args.fail_on
    if args.format == "json":
        from wheelguard.report.json import render_json

        _emit(render_json(results, errors, fail_on=fail_on), args.output)
        return _exit_code(results, errors, fail_on)
    # rich only for people: a JSON gate in CI does not pay for importing a terminal UI.
    from rich.console import Console

    from wheelguard.report.text import render_text

    if args.output:
        # Capture.get() holds what was printed; export_text() would see an empty record,
        # because captured output never reaches the record buffer.
        console = Console(width=120, force_terminal=False, emoji=False)
        with console.capture() as capture:
            render_text(console, results, errors, fail_on=fail_on, verbose=not args.no_hints)
        _emit(capture.get(), args.output)
    else:
        render_text(Console(emoji=False), results, errors, fail_on=fail_on,
                    verbose=not args.no_hints)
    return _exit_code(results, errors, fail_on)


def _exit_code(
    results: list[AuditResult], errors: list[tuple[str, str]], fail_on: Severity | None
) -> int:
    if errors:
        return 2
    return 1 if any(r.fails(fail_on) for r in results) else 0


def _emit(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from wheelguard.util.fs import atomic_write_text

    atomic_write_text(Path(output), text)

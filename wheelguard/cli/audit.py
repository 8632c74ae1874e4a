"""``wheelguard audit WHEEL...``: the CI gate.

Exit 0 when nothing (new, with ``--baseline``) reaches ``--fail-on``, 1 when something does,
2 for usage errors and unreadable wheels, policies, configuration or baselines. Output: text
for logs (one line per finding), JSON, SARIF 2.1.0, JUnit XML, or GitHub annotations; on
GitHub Actions the text run also annotates and writes the job summary.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelguard.cli.common import (
    add_config_options,
    add_fail_on,
    add_output_options,
    add_policy_option,
    add_provider_options,
    add_python_version,
    add_text_options,
    add_wheels_argument,
    positive_int,
    size_arg,
)
from wheelguard.errors import InvalidWheel
from wheelguard.model import Severity
from wheelguard.util.printable import visible

if TYPE_CHECKING:
    from wheelguard.audit import AuditResult
    from wheelguard.report.provenance import RunInfo

__all__ = ["FORMATS", "configure_parser", "execute"]

FORMATS = ("text", "json", "sarif", "junit", "github")


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "audit",
        help="check wheels for duplicate runtimes, bad RPATHs, shipped build trees and more",
        description="Check wheels without unpacking them. Exit 0 when nothing reaches "
        "--fail-on, 1 when something does (with --baseline: something new), 2 for usage "
        "errors and unreadable wheels, policies, configuration or baselines.",
    )
    add_wheels_argument(p)
    add_output_options(p, FORMATS)
    add_fail_on(p)
    p.add_argument("--select", action="append", default=[], metavar="CHECK",
                   help="only these checks (code or name; repeatable, comma-separated)")
    p.add_argument("--ignore", action="append", default=[], metavar="CHECK",
                   help="skip these checks (code or name; repeatable, comma-separated)")
    p.add_argument("--size-budget", type=size_arg, metavar="SIZE",
                   help="fail (WG601) when the wheel file is larger, e.g. 100MB")
    p.add_argument("--installed-size-budget", type=size_arg, metavar="SIZE",
                   help="fail (WG601) when the installed members total more")
    p.add_argument("--baseline", metavar="AUDIT.json",
                   help="a saved `audit --format json`: its findings are shown as known and "
                        "do not fail the run; only new ones do")
    add_python_version(p)
    p.add_argument("--jobs", "-j", type=positive_int, default=None, metavar="N",
                   help="audit up to N wheels at once, in worker processes (default: one per "
                        "core; 1 audits them in turn). Output order is the order given")
    p.add_argument("--no-hints", action="store_true", help="leave out fix hints in text output")
    add_text_options(p)
    add_policy_option(p)
    add_config_options(p)
    add_provider_options(p)
    p.set_defaults(func=execute)


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.audit import audit_wheels
    from wheelguard.cli.common import (
        audit_options,
        check_inputs,
        expand_wheels,
        load_policies,
        policy_filter,
        project_config,
        provider_lookup,
        resolve_fail_on,
        run_info,
    )
    from wheelguard.report.progress import Progress

    del parser
    config = project_config(args)
    fail_on = resolve_fail_on(args.fail_on, config)
    providers = provider_lookup(args, config)
    policies = load_policies(args.policy, config)
    options = audit_options(args, config, providers)
    post = policy_filter(policies)
    baseline = None
    if args.baseline:
        from wheelguard.baseline import load_baseline

        baseline = load_baseline(args.baseline)
    wheels = check_inputs(expand_wheels(args.wheels), output=args.output)
    sizes = [Path(w).stat().st_size if Path(w).is_file() else 0 for w in wheels]
    slow = providers is not None and providers.download
    progress = Progress(total_bytes=sum(sizes), wheels=len(wheels), enabled=not args.quiet,
                        slow=slow)
    with contextlib.ExitStack() as stack:

        def started() -> None:  # after any worker process has forked: the bar runs a thread
            stack.enter_context(progress)
            if providers is not None:
                progress.step("the linkage checks read dependency wheels"
                              + (" (pip may download them)" if slow else ""))

        outcomes = audit_wheels(
            wheels, options, post=post, jobs=args.jobs, progress=progress.advance,
            started=started, each=lambda i: progress.wheel(i, wheels[i], sizes[i]))
    results: list[AuditResult] = [o for o in outcomes if not isinstance(o, InvalidWheel)]
    errors = [(w, o.reason) for w, o in zip(wheels, outcomes, strict=True)
              if isinstance(o, InvalidWheel)]
    if baseline is not None:
        from wheelguard.baseline import apply_baseline

        results = apply_baseline(results, baseline)
    for w, reason in errors:
        # The report (stdout or --output) lists these too; stderr is where a CI log reader
        # and a calling script look for why the exit code is 2: one line per wheel.
        print(f"wheelguard: error: {visible(w)}: {visible(' '.join(reason.split()))}",
              file=sys.stderr)
    run = run_info(args, config, policies, fail_on=fail_on, providers=providers,
                   baseline=args.baseline)
    code = _exit_code(results, errors, fail_on)
    on_actions = os.environ.get("GITHUB_ACTIONS") == "true"
    _emit(_render(args, results, errors, run, code), args.output)
    if on_actions and args.format != "github":
        from wheelguard.report.github import render_annotations

        # On stderr: stdout may be a JSON or SARIF document that must stay parseable, and the
        # runner reads workflow commands from both streams.
        sys.stderr.write(render_annotations(results, errors, run=run))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and (on_actions or args.format == "github"):
        from wheelguard.report.checklist import build_checklist, render_checklist_markdown
        from wheelguard.report.github import append_step_summary

        append_step_summary(summary, render_checklist_markdown(build_checklist(results),
                                                               run=run))
    return code


def _render(args: argparse.Namespace, results: list[AuditResult],
            errors: list[tuple[str, str]], run: RunInfo, code: int) -> str | None:
    """The report as text for ``--output``/stdout; None when it was printed to the console."""
    match args.format:
        case "json":
            from wheelguard.report.json import render_json

            return render_json(results, errors, run=run)
        case "sarif":
            from wheelguard.report.sarif import render_sarif

            return render_sarif(results, errors, run=run)
        case "junit":
            from wheelguard.report.junit import render_junit

            return render_junit(results, errors, run=run)
        case "github":
            from wheelguard.report.github import render_annotations

            return render_annotations(results, errors, run=run)
    # rich only for people: a JSON gate in CI does not pay for importing a terminal UI.
    import io

    from wheelguard.report.text import TextOptions, make_console, render_text

    opts = TextOptions(hints=not args.no_hints, max_per_check=args.max_per_check,
                       quiet=args.quiet)
    if args.output:
        buffer = io.StringIO()
        console = make_console("never" if args.color == "auto" else args.color, file=buffer)
        render_text(console, results, errors, run=run, exit_code=code, options=opts)
        return buffer.getvalue()
    render_text(make_console(args.color), results, errors, run=run, exit_code=code,
                options=opts)
    return None


def _exit_code(
    results: list[AuditResult], errors: list[tuple[str, str]], fail_on: Severity | None
) -> int:
    if errors:
        return 2
    return 1 if any(r.fails(fail_on) for r in results) else 0


def _emit(text: str | None, output: str | None) -> None:
    if text is None:
        return
    if output is None:
        sys.stdout.write(text)
        return
    from wheelguard.util.fs import atomic_write_text

    atomic_write_text(Path(output), text)

"""``wheelguard report WHEEL...``: the release checklist.

For whoever signs off a release: audits the wheels (under the project's policy and size
budget, with the linkage checks when dependency wheels are given), takes what it cannot run
itself from a saved ``audit --format json`` (``--audit``) and ``wheelguard smoke --json``
results (``--smoke``), and writes one page (Markdown, HTML or JSON) that says what passed,
what blocks the release and what was not checked. Exit 0 when every wheel is ready to ship, 1
when one is not (an item failed or was not checked), 2 for unreadable wheels, smoke results,
saved audits, policies or configuration, and for a smoke result or saved audit that matches no
wheel given.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from wheelguard.cli.common import (
    add_config_options,
    add_output_options,
    add_policy_option,
    add_provider_options,
    add_python_version,
    add_wheels_argument,
    size_arg,
)

__all__ = ["configure_parser", "execute"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="the release checklist: audit + policy + linkage + smoke results, one page",
        description="Write the release checklist for WHEELs. Exit 0 when every wheel is ready "
        "to ship, 1 when one is not (an item failed or was not checked), 2 for unreadable "
        "input and for a --smoke or --audit file that matches no wheel given.",
    )
    add_wheels_argument(p)
    p.add_argument("--smoke", action="append", default=[], metavar="RESULT.json",
                   help="a `wheelguard smoke --json` result; repeatable (matched by sha256)")
    p.add_argument("--audit", action="append", default=[], metavar="AUDIT.json",
                   help="a saved `wheelguard audit --format json` (e.g. one run with "
                        "--download): supplies the checks this run does not run itself, for "
                        "the wheels it audited (matched by sha256); repeatable")
    p.add_argument("--baseline", metavar="DIR",
                   help="the previous release's wheels: each wheel's changes since then "
                        "(`wheelguard diff`) go into the checklist")
    add_output_options(p, ("markdown", "html", "json"))
    p.add_argument("--size-budget", type=size_arg, metavar="SIZE",
                   help="largest wheel file allowed, e.g. 100MB (default: [tool.wheelguard] "
                        "size-budget; without one the size item is not checked)")
    p.add_argument("--installed-size-budget", type=size_arg, metavar="SIZE",
                   help="most bytes the installed files may take")
    add_python_version(p)
    add_policy_option(p)
    add_config_options(p)
    add_provider_options(p)
    p.set_defaults(func=execute)


def _documents(paths: list[str], what: str, key: str) -> list[tuple[str, dict[str, Any]]]:
    from wheelguard.errors import UsageError

    docs = []
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UsageError(f"{path}: not a readable {what} ({e})") from None
        if not isinstance(doc, dict) or key not in doc:
            raise UsageError(f"{path}: not a wheelguard {what} (no {key!r})")
        docs.append((path, doc))
    return docs


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.audit import audit_wheel
    from wheelguard.cli.common import (
        audit_options,
        expand_wheels,
        load_policies,
        policy_filter,
        project_config,
        provider_lookup,
        resolve_fail_on,
        run_info,
    )
    from wheelguard.errors import UsageError
    from wheelguard.report.checklist import build_checklist, saved_audits

    del parser
    config = project_config(args)
    smokes = _documents(args.smoke, "smoke result", "wheel")
    audits = _documents(args.audit, "audit JSON", "wheels")
    saved = saved_audits(audits)
    for path, doc in audits:
        if not any(isinstance(w.get("sha256"), str) for w in doc["wheels"]):
            raise UsageError(f"--audit {path}: its wheels carry no sha256 (written by an older "
                             "wheelguard): audit again to match it to the wheels")
    policies = load_policies(args.policy, config)
    providers = provider_lookup(args, config)
    options = audit_options(args, config, providers)
    post = policy_filter(policies)
    results = [audit_wheel(w, options, post=post) for w in expand_wheels(args.wheels)]
    changes = _changes(args.baseline, results) if args.baseline else None
    checklists = build_checklist(results, [d for _p, d in smokes], saved=saved,
                                 changes=changes)
    names = {c.result.wheel.filename for c in checklists}
    for path, doc in smokes:
        if doc["wheel"].get("filename") not in names:
            raise UsageError(f"--smoke {path}: for {doc['wheel'].get('filename')!r}, which is "
                             "not among the wheels given")
    shas = {c.sha256 for c in checklists}
    for path, doc in audits:
        if not any(w.get("sha256") in shas for w in doc["wheels"]):
            raise UsageError(f"--audit {path}: none of its wheels is among those given (same "
                             "file names are not enough: the sha256 must match)")
    run = run_info(args, config, policies, fail_on=resolve_fail_on(None, config),
                   providers=providers, baseline=args.baseline)
    smoke_files = [p for p, _d in smokes]
    if args.format == "json":
        from wheelguard.report.checklist import checklist_to_json

        text = json.dumps(checklist_to_json(checklists, run=run), indent=2) + "\n"
    elif args.format == "html":
        from wheelguard.report.checklist_html import render_checklist_html

        text = render_checklist_html(checklists, run=run, smoke_files=smoke_files)
    else:
        from wheelguard.report.checklist import render_checklist_markdown

        text = render_checklist_markdown(checklists, run=run, smoke_files=smoke_files)
    if args.output:
        from wheelguard.util.fs import atomic_write_text

        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and os.environ.get("GITHUB_ACTIONS") == "true":
        from wheelguard.report.checklist import render_checklist_markdown
        from wheelguard.report.github import append_step_summary

        append_step_summary(summary, render_checklist_markdown(checklists, run=run,
                                                               smoke_files=smoke_files))
    return 0 if all(c.ready for c in checklists) else 1


def _changes(baseline: str, results: list[Any]) -> dict[str, dict[str, Any]]:
    """Each wheel's diff against its counterpart in the baseline release, by wheel path."""
    from wheelguard.compare import compare_wheels, pair_wheels, wheel_files
    from wheelguard.errors import UsageError
    from wheelguard.reading.scan import scan_wheel

    directory = Path(baseline)
    if not directory.is_dir():
        raise UsageError(f"--baseline {baseline}: not a directory of wheels")
    by_path = {Path(r.wheel.path): r.wheel for r in results}
    pairs, _removed, _added = pair_wheels(wheel_files(directory), list(by_path))
    return {by_path[new].path: compare_wheels(scan_wheel(old), by_path[new])
            for old, new in pairs}

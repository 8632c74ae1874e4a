"""``wheelguard report WHEEL... [--smoke RESULT.json]``: the release checklist.

For whoever signs off a release: audits the wheels (under the project's policy), pairs each
with its smoke result, and writes one Markdown (or JSON) page that says what passed and what
blocks the release. Exit 0 when every wheel is ready to ship, 1 when one is not, 2 for
unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from wheelguard.cli.common import (
    add_output_options,
    add_policy_option,
    add_wheels_argument,
    size_arg,
)

__all__ = ["configure_parser", "execute"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="the release checklist: audit + policy + smoke results, one page per release",
        description="Write the release checklist for WHEELs. Exit 0 when every wheel is ready "
        "to ship, 1 when one is not, 2 for unreadable wheels, smoke results or policies.",
    )
    add_wheels_argument(p)
    p.add_argument("--smoke", action="append", default=[], metavar="RESULT.json",
                   help="a `wheelguard smoke --json` result; repeatable (matched by sha256)")
    add_output_options(p, ("markdown", "json"))
    p.add_argument("--size-budget", type=size_arg, metavar="SIZE",
                   help="largest wheel file allowed, e.g. 100MB")
    add_policy_option(p)
    p.set_defaults(func=execute)


def _smoke_docs(paths: list[str]) -> list[dict[str, Any]]:
    from wheelguard.errors import UsageError

    docs = []
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UsageError(f"{path}: not a readable smoke result ({e})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("wheel"), dict):
            raise UsageError(f"{path}: not a wheelguard smoke result (no 'wheel' object)")
        docs.append(doc)
    return docs


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.audit import AuditOptions, audit_wheel
    from wheelguard.cli.common import expand_wheels, policy_filter
    from wheelguard.errors import InvalidWheel
    from wheelguard.report.checklist import (
        build_checklist,
        checklist_to_json,
        render_checklist_markdown,
    )
    from wheelguard.util.fs import atomic_write_text

    del parser
    smokes = _smoke_docs(args.smoke)
    post = policy_filter(args.policy)
    options = AuditOptions(size_budget=args.size_budget)
    results = []
    for wheel in expand_wheels(args.wheels):
        try:
            results.append(audit_wheel(wheel, options, post=post))
        except InvalidWheel as e:
            print(f"wheelguard: error: {e}", file=sys.stderr)
            return 2
    checklists = build_checklist(results, smokes)
    if args.format == "json":
        text = json.dumps(checklist_to_json(checklists), indent=2) + "\n"
    else:
        text = render_checklist_markdown(checklists)
    if args.output:
        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0 if all(c.ready for c in checklists) else 1

"""``wheelguard fix-source WHEEL --project DIR [--write]``: the build change, as a patch.

Audits the wheel, takes the policy's decisions (``--policy``, else ``[tool.wheelguard]`` of the
project's pyproject.toml, else the shipped ``default``) and prints the edits of the project's
build configuration that make the next wheel clean, as a unified diff with the reasons and any
instructions above it (``patch -p1`` and ``git apply`` skip those lines). ``--write`` applies
the edits inside the project. Exit 0: nothing left to do (clean, or everything written);
1: edits not applied or instructions left for a person; 2: unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wheelguard.cli.common import add_policy_option, add_python_version

if TYPE_CHECKING:
    from wheelguard.fixsource import SourceFix

__all__ = ["configure_parser", "execute", "render_text"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "fix-source",
        help="propose (or --write) the build-configuration change that fixes a wheel's "
             "defects at the source",
        description="Read the project's build configuration (pyproject.toml [tool.scikit-build], "
        "its CMake files; setup.py builds get instructions) and propose the edits that make the "
        "next wheel audit clean under the policy. Nothing is written without --write, and "
        "nothing outside --project.",
    )
    p.add_argument("wheel", metavar="WHEEL", help="the wheel the project built")
    p.add_argument("--project", required=True, metavar="DIR",
                   help="the project's source directory (where pyproject.toml is)")
    p.add_argument("--write", action="store_true",
                   help="apply the edits to the project's files (atomically)")
    p.add_argument("--format", choices=("text", "diff", "json"), default="text",
                   help="text: reasons, instructions and the diff; diff: the diff only; json")
    p.add_argument("-o", "--output", metavar="FILE", help="write the patch/report here")
    add_policy_option(p)
    add_python_version(p)
    p.set_defaults(func=execute)


def _policies(names: list[str], project: Path) -> Any:
    from wheelguard.policy.load import load_policy, load_policy_set
    from wheelguard.policy.schema import PolicySet

    policies = load_policy_set(names, project_dir=project)
    return policies if policies is not None else PolicySet((load_policy("default"),))


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.errors import UsageError
    from wheelguard.fixsource import propose
    from wheelguard.util.fs import atomic_write_text

    del parser
    project = Path(args.project)
    if not project.is_dir():
        raise UsageError(f"--project {args.project}: not a directory")
    fix = propose(args.wheel, project, _policies(args.policy, project),
                  python=args.python_version)
    written: tuple[str, ...] = ()
    if args.write:
        written = fix.apply()
    if args.format == "json":
        text = json.dumps({**fix.to_json(), "written": list(written)}, indent=2) + "\n"
    elif args.format == "diff":
        text = fix.diff
    else:
        text = render_text(fix, written)
    if args.output:
        atomic_write_text(Path(args.output), text)
    else:
        sys.stdout.write(text)
    if args.format == "diff" and fix.instructions:
        for i in fix.instructions:
            print(f"wheelguard: instruction: {i.where + ': ' if i.where else ''}{i.text}",
                  file=sys.stderr)
    if fix.instructions:
        return 1
    return 0 if fix.clean or args.write else 1


def render_text(fix: SourceFix, written: tuple[str, ...] = ()) -> str:
    """Reasons and instructions as '#' lines, then the diff."""
    lines = [f"# wheelguard fix-source: {fix.wheel} -> {fix.project.root} ({fix.build}), "
             f"policies: {', '.join(fix.policies)}"]
    if fix.clean:
        lines.append("# nothing to change: the build configuration already gives what the "
                     "policy asks for")
    grouped: dict[tuple[str, str], list[int]] = {}
    for e in sorted(fix.edits, key=lambda e: (e.file, e.line)):
        grouped.setdefault((e.file, e.why), []).append(e.line)
    for (file, why), at in grouped.items():
        lines.append(f"# edit {file}:{','.join(str(n) for n in dict.fromkeys(at))}: {why}")
    for i in fix.instructions:
        lines.append(f"# TODO {i.where + ': ' if i.where else ''}{i.text}")
    for n in fix.notes:
        lines.append(f"# note {n}")
    if written:
        lines.append(f"# written: {', '.join(written)}")
    elif fix.edits:
        lines.append("# not written (pass --write to apply)")
    return "\n".join(lines) + "\n" + fix.diff

"""``wheelguard policy check|flags|list``: validate policies and derive grafting flags.

``flags`` turns the libraries a policy says pip provides (depend-on-pip rules) into the exclude
options of the grafting tool of each platform, so one policy serves Linux, macOS and Windows:
``$(wheelguard policy flags --for auditwheel)`` in a cibuildwheel repair command. What each
tool accepts is :mod:`wheelguard.policy.flags`'s business.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from wheelguard.cli.common import add_policy_option
from wheelguard.policy.flags import TOOLS, exclude_flags

__all__ = ["TOOLS", "configure_parser", "exclude_flags", "execute"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "policy",
        help="validate policy files; print the grafting excludes a policy implies",
        description="Work with policy files (format: docs/policies.md).",
    )
    actions = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", help="validate policy files, and a pyproject.toml's [tool.wheelguard] with "
        "the policies it names (exit 0 valid, 2 with every problem listed)"
    )
    check.add_argument("files", nargs="+", metavar="FILE|NAME")
    flags = actions.add_parser(
        "flags", help="exclude options for auditwheel, delocate or delvewheel"
    )
    flags.add_argument("--for", dest="tool", choices=TOOLS, required=True)
    flags.add_argument("--wheel", metavar="WHEEL",
                       help="expand library globs against this wheel's libraries and what they "
                            "load (delocate and delvewheel take no globs)")
    flags.add_argument("--delvewheel-form", choices=("exclude", "no-dll"), default="exclude",
                       help="delvewheel's option: --exclude NAME per DLL (default), or one "
                            "--no-dll 'a.dll;b.dll' for releases without --exclude")
    add_policy_option(flags)
    actions.add_parser("list", help="the shipped policies")
    p.set_defaults(func=execute)


def _check_project(path: str) -> list[str]:
    """``[tool.wheelguard]`` of one pyproject.toml and every policy it names: the problems."""
    from wheelguard.cli.common import load_policies
    from wheelguard.config import load_config
    from wheelguard.errors import InvalidConfig, InvalidPolicy

    try:
        config = load_config(explicit=path, cwd=Path.cwd())
        policies = load_policies([], config)
    except (InvalidConfig, InvalidPolicy) as e:
        return list(e.problems)
    names = ", ".join(policies.names) if policies is not None else "no policies"
    print(f"{path}: [tool.wheelguard] ok ({names})")
    return []


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.errors import InvalidPolicy, UsageError
    from wheelguard.model import Action
    from wheelguard.policy.load import load_policy, shipped_policy_names

    del parser
    if args.policy_command == "list":
        for name in shipped_policy_names():
            print(f"{name:<12} {load_policy(name).description}")
        return 0
    if args.policy_command == "check":
        problems: list[str] = []
        for name in args.files:
            if Path(name).name == "pyproject.toml":
                problems.extend(_check_project(name))
                continue
            try:
                policy = load_policy(name, base_dir=Path.cwd())
            except InvalidPolicy as e:
                problems.extend(e.problems)
                continue
            print(f"{name}: ok ({len(policy.rules)} rules)")
        if problems:
            raise InvalidPolicy(problems)
        return 0
    from wheelguard.cli.common import load_policies, project_config

    policies = load_policies(args.policy, project_config(args))
    if policies is None:
        raise UsageError("no policy: pass --policy or name policies in [tool.wheelguard]")
    libraries = [
        g.pattern
        for policy in policies.policies
        for rule in policy.rules
        if rule.action is Action.DEPEND_ON_PIP
        for g in rule.match.libraries
    ]
    wheel_names = None
    if args.wheel:
        from wheelguard.policy.flags import names_in_wheel
        from wheelguard.reading.scan import scan_wheel

        wheel_names = names_in_wheel(scan_wheel(args.wheel), args.tool)
    flags = exclude_flags(args.tool, libraries, wheel_names=wheel_names,
                          delvewheel_form=args.delvewheel_form)
    if flags:
        print(" ".join(flags))
    return 0

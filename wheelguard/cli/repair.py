"""``wheelguard repair WHEEL... -w OUTDIR``: apply the policy, write repaired wheels.

Usable as cibuildwheel's ``repair-wheel-command`` (``wheelguard repair -w {dest_dir} {wheel}``):
each input gives exactly one wheel of the same name in OUTDIR, written atomically, and the
input is never modified. Exit 0 when every wheel was repaired (or needed nothing) and nothing
at or above ``--fail-on`` (default error) is left in the result, 1 when a repaired wheel still
has such a finding (it is written, and the finding named), 3 when the policy cannot be carried
out (a fail rule, an expired waiver, an unsafe drop; nothing is written), 2 for unreadable
wheels, policies, configuration or usage errors.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from wheelguard.cli.common import (
    add_config_options,
    add_fail_on,
    add_policy_option,
    add_python_version,
    add_wheels_argument,
)

if TYPE_CHECKING:
    from wheelguard.config import ProjectConfig
    from wheelguard.model import Severity
    from wheelguard.policy.schema import PolicySet
    from wheelguard.repair.write import RepairResult

__all__ = ["configure_parser", "execute", "policy_set_or_default"]


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "repair",
        help="apply a policy: strip, relink, depend on pip providers; write repaired wheels",
        description="Repair wheels under a policy (default: what [tool.wheelguard] names, else "
        "the shipped 'default' policy). Exit 0 repaired, 1 repaired but a finding at or above "
        "--fail-on is left, 3 the policy cannot be carried out, 2 unreadable input or policy.",
    )
    add_wheels_argument(p)
    p.add_argument("-w", "--wheel-dir", default="wheelhouse", metavar="OUTDIR",
                   help="directory for the repaired wheels (default: wheelhouse)")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be done; write nothing")
    add_python_version(p)
    p.add_argument("-v", "--verbose", action="store_true", help="list every dropped file")
    add_fail_on(p, what="exit 1 when such a finding is left in the repaired wheel")
    add_policy_option(p)
    add_config_options(p)
    p.set_defaults(func=execute)


def policy_set_or_default(names: list[str], config: ProjectConfig | None = None) -> PolicySet:
    """The policies --policy or [tool.wheelguard] name, else the shipped ``default``."""
    from wheelguard.cli.common import load_policies
    from wheelguard.config import ProjectConfig
    from wheelguard.policy.load import load_policy
    from wheelguard.policy.schema import PolicySet

    policies = load_policies(names, config or ProjectConfig())
    return policies if policies is not None else PolicySet((load_policy("default"),))


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.cli.common import (
        archive_limits,
        check_inputs,
        expand_wheels,
        project_config,
        resolve_fail_on,
        same_name_inputs,
    )
    from wheelguard.errors import InvalidWheel, OutputError, RepairError, WheelguardError
    from wheelguard.repair.write import repair_wheel

    del parser
    config = project_config(args)
    fail_on = resolve_fail_on(args.fail_on, config)
    policies = policy_set_or_default(args.policy, config)
    limits = archive_limits(args, config)
    wheels = check_inputs(expand_wheels(args.wheels))
    same_name_inputs(wheels)
    errors: list[WheelguardError] = []
    left_failing = 0
    for w in wheels:
        try:
            result = repair_wheel(w, args.wheel_dir, policies, dry_run=args.dry_run,
                                  python=args.python_version, limits=limits)
        except (RepairError, InvalidWheel, OutputError) as e:
            errors.append(e)
            continue
        left_failing += _report(result, policies, verbose=args.verbose,
                                python=args.python_version, fail_on=fail_on)
    if not errors:
        return 1 if left_failing else 0
    if len(errors) == 1 and len(wheels) == 1:
        raise errors[0]
    raise RepairError(f"{len(errors)} of {len(wheels)} wheels not repaired:\n  "
                      + "\n  ".join(str(e) for e in errors))


def _report(result: RepairResult, policies: PolicySet, *, verbose: bool,
            python: str | None, fail_on: Severity | None) -> bool:
    """Print what was done and what is left; True when a finding at or above ``fail_on`` is
    left in the repaired wheel (a repair that leaves an error is no success)."""
    from wheelguard.audit import AuditOptions, audit_scanned
    from wheelguard.policy.decide import assign_actions
    from wheelguard.repair.write import summary
    from wheelguard.util.printable import visible
    from wheelguard.util.units import format_bytes

    name = result.source.name
    if result.output is None:
        print(f"{name}: dry run under {', '.join(policies.names)}: "
              f"{'would change' if result.changed else 'nothing to change'}")
    elif result.changed:
        assert result.size_after is not None
        print(f"{name}: repaired under {', '.join(policies.names)} -> {result.output} "
              f"({format_bytes(result.size_before)} -> {format_bytes(result.size_after)})")
    else:
        what = "RECORD regenerated" if result.record_regenerated else "nothing to change"
        print(f"{name}: no policy edits under {', '.join(policies.names)} ({what}) -> "
              f"{result.output}")
    steps = result.steps
    lines = [visible(f"{s.action:<13} {s.path}: {s.detail}  [{s.rule}]") for s in steps] \
        if verbose else summary(steps)
    for line in lines:
        print(f"  {line}")
    if result.output is None:
        return False
    # The output's model comes from the input's scan and what was written (read back and
    # checked), not from scanning the output again: repair.after.
    # A written output always has its model: repair_wheel removes one that does not read back.
    assert result.wheel_after is not None
    after = audit_scanned(result.wheel_after, AuditOptions(python=python),
                          post=assign_actions(policies))
    live = [f for f in after.findings if f.waived is None]
    if not live:
        return False
    worst = max(f.severity for f in live)
    flags = " ".join(f"--policy {p.argument}" for p in policies.policies)
    failing = [f for f in live if fail_on is not None and f.severity >= fail_on]
    print(f"  {len(live)} finding(s) remain (worst: {worst.label}): wheelguard audit {flags} "
          f"{result.output}")
    for f in failing:
        where = f"{visible(f.path)}: " if f.path else ""
        print(f"  left: {f.check} {f.name} {where}{visible(' '.join(f.message.split()))}")
    if failing:
        label = fail_on.label if fail_on is not None else "never"
        print(f"  {len(failing)} finding(s) at or above --fail-on {label} are left: exit 1")
    return bool(failing)

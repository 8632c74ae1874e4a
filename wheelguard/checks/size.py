"""The size budget: one number a release engineer sets, and the trees that spend it."""

from __future__ import annotations

from collections.abc import Iterator

from wheelguard.checks.context import AuditContext
from wheelguard.knowledge.trees import largest_trees
from wheelguard.model import Finding, WheelSubject
from wheelguard.rules import RULES
from wheelguard.util.units import format_bytes

__all__ = ["run"]


def run(ctx: AuditContext) -> Iterator[Finding]:
    wheel = ctx.wheel
    total, packed = wheel.total_size, wheel.total_compressed
    # The budget counts the file, as its help says and as an index's upload limit does: the
    # compressed members alone leave out the zip's headers and central directory.
    file_size = wheel.file_size or packed
    for what, size, budget in (
        ("file", file_size, ctx.size_budget),
        ("installed", total, ctx.installed_budget),
    ):
        if budget is None or size <= budget:
            continue
        trees = largest_trees(wheel)
        yield RULES["WG601"].finding(
            WheelSubject(),
            f"{format_bytes(size)} {what}: over the {format_bytes(budget)} budget "
            f"({format_bytes(file_size)} file, {format_bytes(total)} installed); largest: "
            + ", ".join(f"{t} {format_bytes(s)}" for t, s in trees),
            data={"measure": what, "file": file_size, "compressed": packed,
                  "uncompressed": total,
                  "budget": budget,
                  "largest_trees": [{"tree": t, "bytes": s} for t, s in trees]},
        )

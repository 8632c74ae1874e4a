"""Apply a policy to a wheel: audit, plan, then write a new wheel next to nothing else.

The input is only read. The output is written to a temporary file in the output directory and
renamed over ``OUTDIR/<same file name>`` only when everything succeeded. Members the plan does
not touch are copied raw from the input archive (:mod:`wheelguard.repair.zipwrite`); changed members
are the bytes patchelf/strip wrote or the edited text. RECORD is regenerated from what was
written: the digest of a copied member is the one the scan took while inflating it, that of a
changed member is taken from the bytes written.

Reproducible: members in sorted order with ``.dist-info`` last and RECORD last, timestamps from
``SOURCE_DATE_EPOCH`` when set (else those of the input members). Idempotent: a repaired wheel
repaired again under the same policies plans nothing, and is written byte for byte the same.
What was done is printed by the CLI and recorded in ``.dist-info/wheelguard.json``.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import os
import posixpath
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from wheelguard import __version__
from wheelguard.audit import AuditOptions, audit_wheel
from wheelguard.checks.context import AuditContext
from wheelguard.errors import InvalidWheel, RepairError
from wheelguard.formats import parse_native
from wheelguard.model import ArchivePath, Finding, Severity, Wheel
from wheelguard.policy.decide import decide
from wheelguard.policy.schema import PolicySet
from wheelguard.reading.archive import Limits, WheelArchive, urlsafe_digest
from wheelguard.reading.scan import ProgressFn
from wheelguard.repair.after import repaired_wheel
from wheelguard.repair.edits import (
    ElfEdit,
    MachOEdit,
    PreloadEdit,
    RepairPlan,
    RequirementEdit,
    Step,
)
from wheelguard.repair.plan import make_plan
from wheelguard.repair.retag import retag_wheel_file
from wheelguard.repair.zipwrite import DateTime, ZipWriter, source_date_epoch
from wheelguard.rules import RULES
from wheelguard.util.fs import atomic_binary_output, scratch_dir
from wheelguard.util.printable import visible

__all__ = ["RECORD_NAME", "RepairResult", "plan_wheel", "repair_wheel", "summary"]

RECORD_NAME = "wheelguard.json"
"""The repair log inside ``.dist-info/``."""

_SIGNATURES = ("RECORD.jws", "RECORD.p7s")
_PRELOAD_COMMENT = "# noqa: F401  (wheelguard: the provider's library loads before ours)"


@dataclass(frozen=True, slots=True, kw_only=True)
class RepairResult:
    source: Path
    output: Path | None
    """None for a dry run."""
    plan: RepairPlan
    steps: tuple[Step, ...]
    """What was done (the plan's steps, less edits that turned out to be in place already)."""
    findings: tuple[Finding, ...]
    """The input's findings with the actions the policy assigned."""
    changed: bool
    """Whether a policy edit changed the wheel (then ``wheelguard.json`` records it)."""
    record_regenerated: bool = False
    """Whether the RECORD written differs from the input's (it did not match, or its rows were
    in another order or form)."""
    size_before: int
    size_after: int | None
    wheel_after: Wheel | None = None
    """The output's model, derived from the input's scan and what was written (raw copies
    keep their digests and parses; written members are read back and checked): what the
    findings left in the output are computed from, without scanning it again."""


def plan_wheel(
    path: str | Path,
    policies: PolicySet,
    *,
    python: str | None = None,
    progress: ProgressFn | None = None,
    limits: Limits | None = None,
) -> tuple[Wheel, AuditContext, tuple[Finding, ...], RepairPlan]:
    """Audit ``path`` (every check) and plan its repair under ``policies``."""
    result = audit_wheel(path, AuditOptions(python=python, limits=limits), progress=progress)
    decided = decide(policies, result.wheel, result.findings)
    plan = make_plan(result.context, result.findings, policies, decided)
    return result.wheel, result.context, decided.findings, plan


def repair_wheel(
    path: str | Path,
    out_dir: str | Path,
    policies: PolicySet,
    *,
    dry_run: bool = False,
    python: str | None = None,
    env: Mapping[str, str] | None = None,
    progress: ProgressFn | None = None,
    limits: Limits | None = None,
) -> RepairResult:
    """Repair one wheel into ``out_dir``. Raises :class:`RepairError` when the policy cannot be
    carried out (nothing is written then)."""
    source = Path(path)
    env = os.environ if env is None else env
    source_date_epoch(env)  # a malformed value stops the run before any work
    _refuse_same_file(source, Path(out_dir) / source.name)
    wheel, _ctx, findings, plan = plan_wheel(source, policies, python=python, progress=progress,
                                             limits=limits)
    _refuse_uninstallable(source, findings)
    if plan.failures:
        raise RepairError(
            f"{wheel.filename}: cannot repair under policies {', '.join(policies.names)}:\n  "
            + "\n  ".join(plan.failures)
        )
    target = Path(out_dir) / (plan.retag.filename if plan.retag else wheel.filename)
    _refuse_same_file(source, target)
    size_before = source.stat().st_size
    # Work files go beside the output (a killed run's are removed by the next one there); a
    # dry run writes nothing there, so its go to the system's temporary directory.
    scratch = Path(tempfile.gettempdir()) if dry_run else Path(out_dir)
    with WheelArchive(source, limits) as archive:
        contents, steps = _changed_members(archive, wheel, plan, env, scratch)
        changed = bool(plan.drops or contents)
        log = _repair_log(archive, wheel, policies, steps) if changed else None
        if log is not None:
            contents[f"{wheel.dist_info}/{RECORD_NAME}"] = log
        if dry_run:
            return RepairResult(source=source, output=None, plan=plan, steps=steps,
                                findings=findings, changed=changed, size_before=size_before,
                                size_after=None)
        record = _write(source, archive, wheel=wheel, plan=plan, contents=contents,
                        target=target, env=env)
        regenerated = record != archive.read(f"{wheel.dist_info}/RECORD")
        written = {**contents, f"{wheel.dist_info}/RECORD": record}
        try:
            wheel_after = repaired_wheel(wheel, archive, target, written, limits=limits)
        except (InvalidWheel, RepairError) as e:
            # The output does not read back: never leave such a wheel where a later step
            # (cibuildwheel, an upload) would take it.
            target.unlink(missing_ok=True)
            why = e.reason if isinstance(e, InvalidWheel) else str(e)
            raise RepairError(f"{source}: the repaired wheel does not read back, so it was "
                              f"removed: {why}") from None
    return RepairResult(source=source, output=target, plan=plan, steps=steps, findings=findings,
                        changed=changed, record_regenerated=regenerated,
                        size_before=size_before, size_after=target.stat().st_size,
                        wheel_after=wheel_after)


# ---- changed members ----------------------------------------------------------------------


def _refuse_uninstallable(source: Path, findings: tuple[Finding, ...]) -> None:
    """A wheel no installer takes is not written anew: the rules table says which findings
    mean that (``blocks_repair``), unless the policy waived them."""
    blocking = [f for f in findings if RULES[f.check].blocks_repair
                and f.severity >= Severity.ERROR and f.waived is None]
    if blocking:
        shown = "; ".join(f"{f.check} {f.path + ': ' if f.path else ''}{f.message}"
                          for f in blocking[:5])
        more = f" (and {len(blocking) - 5} more)" if len(blocking) > 5 else ""
        raise InvalidWheel(str(source), f"not installable, so not repaired: {shown}{more}")


def _refuse_same_file(source: Path, target: Path) -> None:
    """The output must never be the input (same path, a symlink or a hard link to it)."""
    try:
        same = target.exists() and source.samefile(target)
    except OSError:
        return
    if same:
        raise RepairError(f"{source}: the output would replace the input (-w is the input's "
                          "own directory); choose another -w")


def _changed_members(
    archive: WheelArchive, wheel: Wheel, plan: RepairPlan, env: Mapping[str, str],
    scratch: Path,
) -> tuple[dict[str, bytes], tuple[Step, ...]]:
    """New bytes of every member the plan changes, and the steps that changed something."""
    contents: dict[str, bytes] = {}
    if plan.elf:
        # In the output directory, not /tmp: a run killed here leaves its scratch where the
        # next run into that directory removes it (util.fs.remove_stale).
        with scratch_dir(scratch) as tmp:
            for edit in plan.elf:
                contents[edit.path] = _edit_elf(archive, wheel, edit, tmp, env)
    signing: list[Step] = []
    for medit in plan.macho:
        contents[medit.path], note = _edit_macho(archive, wheel, medit)
        if note is not None:
            rule = next((s for s in plan.steps if s.path == medit.path), None)
            signing.append(Step("relink", medit.path, f"code signature {note}",
                                rule.rule if rule else "repair",
                                rule.reason if rule else "the edit changed signed bytes"))
    if plan.retag is not None:
        wheel_path = f"{wheel.dist_info}/WHEEL"
        text = archive.read(wheel_path).decode("utf-8")
        contents[wheel_path] = retag_wheel_file(text, plan.retag.old,
                                                plan.retag.new).encode("utf-8")
    metadata_path = f"{wheel.dist_info}/METADATA"
    if plan.requirements:
        new = _edit_metadata(archive.read(metadata_path), plan.requirements, wheel)
        if new != archive.read(metadata_path):
            contents[metadata_path] = new
    idle: set[str] = set()
    for preload in plan.preloads:
        original = contents.get(preload.init) or archive.read(preload.init)
        edited = _add_preload(original, preload, wheel)
        if edited is None:
            idle.add(preload.init)
        else:
            contents[preload.init] = edited
    steps = tuple(
        s for s in plan.steps
        if not (s.path in idle and s.detail.startswith("import "))
    ) + tuple(signing)
    return contents, steps


def _edit_elf(archive: WheelArchive, wheel: Wheel, edit: ElfEdit, tmp: Path,
              env: Mapping[str, str]) -> bytes:
    from wheelguard.repair.patchelf import apply_edit

    before = next(b for b in wheel.binaries if b.path == edit.path)
    file = tmp / hashlib.sha256(edit.path.encode()).hexdigest()[:16]
    file.write_bytes(archive.read(edit.path))
    apply_edit(file, edit, env)
    data = file.read_bytes()
    file.unlink()
    try:
        after = parse_native(edit.path, data)
    except ValueError as e:
        raise RepairError(f"{edit.path}: unreadable after patching ({e})") from None
    if after is None:
        raise RepairError(f"{edit.path}: no longer an ELF file after patching")
    want_needed = tuple(
        dict(edit.replace_needed).get(n, n) for n in before.needed if n not in edit.remove_needed
    )
    problems = []
    if edit.search_path is not None and after.search_path != edit.search_path:
        problems.append(f"{after.search_path_tag} is {list(after.search_path)}, not "
                        f"{list(edit.search_path)}")
    if after.needed != want_needed:
        problems.append(f"NEEDED is {list(after.needed)}, not {list(want_needed)}")
    if edit.strip_debug and after.has_debug_info:
        problems.append("still carries debug sections")
    if problems:
        raise RepairError(f"{edit.path}: patched file is wrong: {'; '.join(problems)}")
    return data


def _edit_macho(archive: WheelArchive, wheel: Wheel, edit: MachOEdit) -> tuple[bytes, str | None]:
    """The edited bytes, checked by reading them back with the audit's own Mach-O reader,
    and what became of the signature."""
    from wheelguard.repair.macho import apply_macho_edit

    before = next(b for b in wheel.binaries if b.path == edit.path)
    result = apply_macho_edit(edit.path, archive.read(edit.path), edit)
    try:
        after = parse_native(edit.path, result.data)
    except ValueError as e:
        raise RepairError(f"{edit.path}: unreadable after editing ({e})") from None
    if after is None or after.macho is None:
        raise RepairError(f"{edit.path}: no longer a Mach-O file after editing")
    renames = dict(edit.replace_dylibs)
    want_needed = tuple(renames.get(n, n) for n in before.needed)
    want_rpath = before.rpath if edit.rpaths is None else edit.rpaths
    want_id = edit.install_name if edit.install_name is not None else before.soname
    problems = []
    if after.needed != want_needed:
        problems.append(f"dylibs are {list(after.needed)}, not {list(want_needed)}")
    if after.rpath != want_rpath:
        problems.append(f"LC_RPATH is {list(after.rpath)}, not {list(want_rpath)}")
    if after.soname != want_id:
        problems.append(f"install name is {after.soname}, not {want_id}")
    if after.exported != before.exported or after.undefined != before.undefined:
        problems.append("its symbols changed")
    if problems:
        raise RepairError(f"{edit.path}: edited file is wrong: {'; '.join(problems)}")
    return result.data, result.signature


def _edit_metadata(data: bytes, edits: tuple[RequirementEdit, ...], wheel: Wheel) -> bytes:
    """Replace or add Requires-Dist lines; every other byte of METADATA stays as it was."""
    text = data.decode("utf-8")
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    header_end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    last_requires = None
    for edit in edits:
        if edit.old is None:
            continue
        old = Requirement(edit.old)
        for i in range(header_end):
            value = _requires_dist_value(lines[i])
            if value is not None and _same_requirement(value, old):
                lines[i] = f"Requires-Dist: {edit.new}{newline}"
                break
        else:
            raise RepairError(f"{wheel.filename}: METADATA has no Requires-Dist {edit.old!r}")
    for i in range(header_end):
        if _requires_dist_value(lines[i]) is not None:
            last_requires = i
    insert_at = header_end if last_requires is None else last_requires + 1
    added = [f"Requires-Dist: {e.new}{newline}" for e in edits if e.old is None]
    if insert_at > 0 and not lines[insert_at - 1].endswith(("\n", "\r")):
        lines[insert_at - 1] += newline
    lines[insert_at:insert_at] = added
    return "".join(lines).encode("utf-8")


def _requires_dist_value(line: str) -> str | None:
    name, sep, value = line.partition(":")
    if not sep or name.strip().lower() != "requires-dist":
        return None
    return value.strip()


def _same_requirement(text: str, old: Requirement) -> bool:
    try:
        return str(Requirement(text)) == str(old)
    except InvalidRequirement:
        return False


def _add_preload(source: bytes, edit: PreloadEdit, wheel: Wheel) -> bytes | None:
    """``source`` with ``import <module>`` as its first statement, or None if the module is
    already imported before anything else runs (the docstring, ``__future__`` imports and
    other imports may precede it)."""
    try:
        text = source.decode("utf-8")
        tree = ast.parse(text)
    except (UnicodeDecodeError, SyntaxError, ValueError) as e:
        raise RepairError(f"{wheel.filename}: {edit.init} cannot be edited to preload "
                          f"{edit.module} ({e})") from None
    body = tree.body
    i = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        i = 1
    while i < len(body) and isinstance(body[i], ast.ImportFrom) and \
            getattr(body[i], "module", None) == "__future__":
        i += 1
    after_line = (body[i - 1].end_lineno or 0) if i else 0
    for node in body[i:]:
        if not isinstance(node, ast.Import | ast.ImportFrom):
            break  # code runs from here on: the module must be imported before it
        if _imports(node, edit.module):
            return None
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    if after_line and not lines[after_line - 1].endswith(("\n", "\r")):
        lines[after_line - 1] += newline
    line = f"import {edit.module}  {_PRELOAD_COMMENT}{newline}"
    lines.insert(after_line, line)
    return "".join(lines).encode("utf-8")


def _imports(node: ast.Import | ast.ImportFrom, module: str) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == module or a.name.startswith(module + ".") for a in node.names)
    return node.level == 0 and node.module is not None and (
        node.module == module or node.module.startswith(module + "."))


def _repair_log(archive: WheelArchive, wheel: Wheel, policies: PolicySet,
                steps: tuple[Step, ...]) -> bytes:
    """``.dist-info/wheelguard.json``: earlier repairs kept, this one appended."""
    path = f"{wheel.dist_info}/{RECORD_NAME}"
    doc: dict[str, Any] = {"schema": 1, "repairs": []}
    if archive.has(path):
        try:
            previous = json.loads(archive.read(path))
            if isinstance(previous, dict) and isinstance(previous.get("repairs"), list):
                doc = previous
        except ValueError:
            pass  # unreadable: start a fresh log
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for s in steps:
        groups.setdefault((s.action, s.rule, s.reason, s.detail), []).append(s.path or "")
    doc["repairs"].append({
        "tool": f"wheelguard {__version__}",
        "policies": [{"name": p.name, "sha256": p.sha256} for p in policies.policies],
        "steps": [
            {"action": a, "rule": r, "reason": why, "detail": d,
             "paths": [p for p in paths if p]}
            for (a, r, why, d), paths in groups.items()
        ],
    })
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode("utf-8")


# ---- writing ------------------------------------------------------------------------------


def _order(names: list[str], dist_info: str) -> list[str]:
    record = f"{dist_info}/RECORD"
    payload = sorted(n for n in names if not n.startswith(dist_info + "/"))
    meta = sorted(n for n in names if n.startswith(dist_info + "/") and n != record)
    return [*payload, *meta, record]


def _write(
    source: Path,
    archive: WheelArchive,
    *,
    wheel: Wheel,
    plan: RepairPlan,
    contents: Mapping[str, bytes],
    target: Path,
    env: Mapping[str, str],
) -> bytes:
    """Write the output archive; return the RECORD written."""
    dist_info = wheel.dist_info
    record_path = f"{dist_info}/RECORD"
    skipped = {*plan.drops, record_path, *(f"{dist_info}/{s}" for s in _SIGNATURES)}
    names: list[str] = [m.path for m in wheel.members if m.path not in skipped]
    names += [n for n in contents if not archive.has(n)]
    epoch = source_date_epoch(env)
    default_date: DateTime = archive.info(f"{dist_info}/METADATA").date_time
    members = {m.path: m for m in wheel.members}
    rows: list[tuple[str, str, str]] = []
    # A wheel is as readable as its input (the temporary file is created under the umask).
    mode = stat.S_IMODE(source.stat().st_mode)
    with source.open("rb") as raw, atomic_binary_output(target, mode=mode) as out:
        writer = ZipWriter(out)
        for name in _order(names, dist_info)[:-1]:
            info = archive.info(name) if archive.has(name) else None
            date = epoch or (info.date_time if info is not None else default_date)
            if name in contents:
                data = contents[name]
                attr = info.external_attr if info is not None and info.external_attr else \
                    0o100644 << 16
                writer.add_bytes(name, data, date_time=date, external_attr=attr)
                rows.append((name, "sha256=" + urlsafe_digest(hashlib.sha256(data).digest()),
                             str(len(data))))
            else:
                assert info is not None
                try:
                    writer.copy_raw(raw, info, date_time=date)
                except ValueError as e:
                    raise RepairError(f"{source}: {e}") from None
                member = members[ArchivePath(name)]
                rows.append((name, f"sha256={member.sha256}", str(member.size)))
        rows.append((record_path, "", ""))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        record = buf.getvalue().encode("utf-8")
        record_info = archive.info(record_path)
        writer.add_bytes(record_path, record, date_time=epoch or record_info.date_time,
                         external_attr=record_info.external_attr or 0o100644 << 16)
        writer.close()
    return record


def summary(steps: tuple[Step, ...]) -> list[str]:
    """Steps as lines for people: drops grouped per rule under their common directory."""
    lines: list[str] = []
    drops: dict[tuple[str, str, str], list[str]] = {}
    for s in steps:
        if s.detail.startswith("dropped") and s.path:
            drops.setdefault((s.rule, s.action, s.detail), []).append(s.path)
        else:
            where = f"{s.path}: " if s.path else ""
            lines.append(f"{s.action:<13} {where}{s.detail}  [{s.rule}]")
    for (rule, action, detail), paths in sorted(drops.items()):
        if len(paths) == 1:
            what = paths[0]
        else:
            what = f"{posixpath.commonpath(paths) or '.'}/ ({len(paths)} files)"
        lines.append(f"{action:<13} {what}: {detail}  [{rule}]")
    # Plain print: member names from the wheel are shown, never sent raw to the terminal.
    return [visible(line) for line in lines]

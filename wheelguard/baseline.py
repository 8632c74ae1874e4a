"""Baselines: adopt the gate before fixing everything, and fail only on what is new.

A finding is identified across builds by its *fingerprint*: the rule and what the finding is
about (its typed subject), never its message (messages carry sizes) nor the wheel's version or
tags (a baseline taken on 0.1.14 still holds for 0.1.15, and for the cp311 wheel of the same
build). Grafted library names are un-hashed first (``libz-1a2b3c4d.so`` is ``libz.so`` again),
because every rebuild grafts under a new hash. Matching counts instances, so a second
absolute RPATH where the baseline had one is new.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from wheelguard.audit import AuditResult
from wheelguard.errors import UsageError
from wheelguard.knowledge.names import loader_name
from wheelguard.model import Finding

__all__ = ["Baseline", "apply_baseline", "fingerprint", "load_baseline"]


def _stable(value: Any) -> Any:
    if isinstance(value, str):
        return "/".join(loader_name(part) for part in value.split("/"))
    if isinstance(value, tuple | list | frozenset | set):
        items = [_stable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, frozenset | set) else items
    return value


def fingerprint(f: Finding) -> str:
    """16 hex digits naming the finding's rule and subject, stable across rebuilds."""
    subject = f.subject
    fields = {fl.name: _stable(getattr(subject, fl.name)) for fl in dataclasses.fields(subject)}
    text = json.dumps([f.check, subject.kind, fields], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Baseline:
    """The findings of a saved audit, counted per (distribution, fingerprint)."""

    path: str
    known: Counter[tuple[str, str]]

    def __len__(self) -> int:
        return sum(self.known.values())


def load_baseline(path: str) -> Baseline:
    """A saved ``wheelguard audit --format json``; :class:`UsageError` when it is not one."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"--baseline {path}: not a readable audit JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("wheels"), list):
        raise UsageError(f"--baseline {path}: not a wheelguard audit JSON (no 'wheels' list)")
    known: Counter[tuple[str, str]] = Counter()
    for wheel in doc["wheels"]:
        name = canonicalize_name(str(wheel.get("name", "")))
        for finding in wheel.get("findings", []):
            fp = finding.get("fingerprint")
            if not isinstance(fp, str):
                raise UsageError(f"--baseline {path}: findings carry no fingerprint (written "
                                 "by a wheelguard older than 0.1; audit again with this one)")
            known[(name, fp)] += 1
    return Baseline(path=path, known=known)


def apply_baseline(results: Sequence[AuditResult], baseline: Baseline) -> list[AuditResult]:
    """Findings the baseline knows become waived ("in the baseline"), so they show but do not
    fail; new ones stay as they are. Each wheel of a distribution is matched on its own,
    since a baseline of one build covers every tag of the next."""
    out = []
    for r in results:
        budget = Counter({k: v for k, v in baseline.known.items() if k[0] == r.wheel.name})
        findings: list[Finding] = []
        for f in r.findings:
            key = (str(r.wheel.name), fingerprint(f))
            if f.waived is None and budget[key] > 0:
                budget[key] -= 1
                findings.append(replace(f, waived=f"known in the baseline {baseline.path}"))
            else:
                findings.append(f)
        out.append(replace(r, findings=tuple(findings)))
    return out

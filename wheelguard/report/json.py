"""Machine-readable audit output; the shape is ``schemas/audit-v1.json`` and never changes
within a schema version (fields may be added, none removed or retyped)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wheelguard import __version__
from wheelguard.audit import AuditResult, count_findings
from wheelguard.baseline import fingerprint
from wheelguard.model import Finding
from wheelguard.report.coverage import not_checked
from wheelguard.report.provenance import RunInfo
from wheelguard.util.fs import file_sha256
from wheelguard.util.plain import plain

__all__ = ["SCHEMA_VERSION", "finding_to_json", "render_json", "result_to_json"]

SCHEMA_VERSION = 1


def finding_to_json(f: Finding) -> dict[str, Any]:
    return {
        "check": f.check,
        "name": f.name,
        "severity": f.severity.label,
        "path": f.path,
        "message": f.message,
        "hint": f.hint,
        "data": plain(f.data),
        "action": f.action,
        "waived": f.waived,
        "fingerprint": fingerprint(f),
    }


def result_to_json(result: AuditResult, *, failed: bool, sha256: str | None = None
                   ) -> dict[str, Any]:
    w = result.wheel
    return {
        "path": w.path,
        "filename": w.filename,
        "sha256": sha256 or file_sha256(w.path),
        "name": str(w.name),
        "version": str(w.version),
        "tags": sorted(str(t) for t in w.tags),
        "platform_policy": result.context.platform.name if result.context.platform else None,
        "failed": failed,
        "summary": {
            **count_findings(result.findings),
            "file_bytes": w.file_size,
            "files": len(w.members),
            "binaries": len(w.binaries),
            "compressed_bytes": w.total_compressed,
            "uncompressed_bytes": w.total_size,
            "largest_trees": [{"tree": t, "bytes": b} for t, b in result.largest_trees],
        },
        "findings": [finding_to_json(f) for f in result.findings],
        "checked": sorted(result.checked),
        "not_checked": {why or "deselected": list(codes)
                        for why, codes in not_checked(result.checked, result.given).items()},
    }


def render_json(
    results: Sequence[AuditResult],
    errors: Sequence[tuple[str, str]],
    *,
    run: RunInfo,
) -> str:
    fail_on = run.fail_on
    wheels = [result_to_json(r, failed=r.fails(fail_on)) for r in results]
    all_findings = [f for r in results for f in r.findings]
    doc = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "wheelguard", "version": __version__},
        "fail_on": fail_on.label if fail_on else "never",
        "run": run.to_json(),
        "wheels": wheels,
        "errors": [{"path": p, "error": e} for p, e in errors],
        "summary": {
            **count_findings(all_findings),
            "wheels": len(results),
            "unreadable": len(errors),
            "failed": any(w["failed"] for w in wheels) or bool(errors),
        },
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"

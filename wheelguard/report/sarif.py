"""SARIF 2.1.0, for code-scanning dashboards (GitHub's ``upload-sarif`` among them).

Shape choices, each from the specification (tests validate every document against the
official schema, kept in ``tests/schemas``):

- one run; ``tool.driver.rules`` has metadata for *every* rule wheelguard has, not only those
  found, so a dashboard can show what a clean run checked; each result points at its rule by
  ``ruleId`` and ``ruleIndex``;
- the wheel is a top-level artifact (``uri`` relative to ``%SRCROOT%``, the working
  directory), and each member a finding is about is a *nested* artifact of it (SARIF 3.24.2:
  ``parentIndex`` set, ``uri`` the member path in the archive, beginning with ``/``); results
  locate themselves on the member artifact, or on the wheel for whole-wheel findings;
- waived findings are results with a ``suppressions`` entry (kind ``external``: a policy file
  or a baseline), so a dashboard keeps them out of the open count;
- ``partialFingerprints`` carry the finding's fingerprint (:mod:`wheelguard.baseline`) so that
  dashboards track one finding across builds;
- the run's ``properties`` and ``invocations`` record what it was judged under.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wheelguard.audit import AuditResult
from wheelguard.baseline import fingerprint
from wheelguard.model import Finding, Severity
from wheelguard.report.coverage import not_checked
from wheelguard.report.provenance import RunInfo
from wheelguard.rules import RULES
from wheelguard.util.fs import file_sha256

__all__ = ["SARIF_SCHEMA", "render_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _anchor(code: str) -> str:
    """Where the rule is documented, in the docs shipped with the source (the project names
    no public URL, so none is made up)."""
    return f"docs/checks.md#{code.lower()}-{RULES[code].name}"


def _rules() -> list[dict[str, Any]]:
    out = []
    for code in sorted(RULES):
        rule = RULES[code]
        out.append({
            "id": code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.summary},
            "help": {"text": f"{rule.hint} (see {_anchor(code)})",
                     "markdown": f"{rule.hint}\n\nSee `{_anchor(code)}`."},
            "defaultConfiguration": {"level": _LEVEL[rule.severity]},
            "properties": {"checklist-item": rule.item, "needs": rule.needs,
                           "tags": ["packaging", rule.item]},
        })
    return out


def _uri(path: str) -> str:
    """The wheel relative to the working directory where it lies inside it (a SARIF viewer
    resolves ``%SRCROOT%``), else an absolute file URI."""
    p = Path(path).resolve()
    try:
        return quote(p.relative_to(Path.cwd().resolve()).as_posix())
    except ValueError:
        return p.as_uri()


class _Artifacts:
    """The run's artifacts: wheels at the top, the members findings are about nested."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._index: dict[tuple[int | None, str], int] = {}

    def wheel(self, path: str, sha256: str, length: int) -> int:
        uri = _uri(path)
        location: dict[str, Any] = {"uri": uri}
        if not uri.startswith("file:"):
            location["uriBaseId"] = "%SRCROOT%"
        return self._add((None, uri), {"location": location, "length": length,
                                       "mimeType": "application/zip",
                                       "hashes": {"sha-256": sha256}, "roles": ["analysisTarget"]})

    def member(self, parent: int, path: str) -> int:
        return self._add((parent, path), {"location": {"uri": "/" + quote(path)},
                                          "parentIndex": parent})

    def _add(self, key: tuple[int | None, str], artifact: dict[str, Any]) -> int:
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append(artifact)
        return self._index[key]

    def location(self, index: int) -> dict[str, Any]:
        art = self.items[index]["location"]
        loc: dict[str, Any] = {"uri": art["uri"], "index": index}
        if "uriBaseId" in art:
            loc["uriBaseId"] = art["uriBaseId"]
        return loc


def _result(f: Finding, wheel: int, rule_index: dict[str, int], arts: _Artifacts,
            filename: str) -> dict[str, Any]:
    where = arts.member(wheel, f.path) if f.path else wheel
    result: dict[str, Any] = {
        "ruleId": f.check,
        "ruleIndex": rule_index[f.check],
        "level": _LEVEL[f.severity],
        "message": {"text": f"{filename}: {f.path + ': ' if f.path else ''}{f.message}"},
        "locations": [{
            "physicalLocation": {"artifactLocation": arts.location(where)},
            "logicalLocations": [{"name": lib, "kind": "module"}
                                 for lib in f.subject.libraries][:5],
        }],
        "partialFingerprints": {"wheelguard/v1": fingerprint(f)},
        "properties": {"wheel": filename, "subject": f.subject.kind,
                       "paths": list(f.subject.paths)[:50], "action": f.action},
    }
    if not result["locations"][0]["logicalLocations"]:
        del result["locations"][0]["logicalLocations"]
    if f.waived is not None:
        result["suppressions"] = [{"kind": "external", "status": "accepted",
                                   "justification": f.waived}]
    return result


def render_sarif(results: Sequence[AuditResult], errors: Sequence[tuple[str, str]], *,
                 run: RunInfo) -> str:
    rules = _rules()
    rule_index = {r["id"]: i for i, r in enumerate(rules)}
    arts = _Artifacts()
    out: list[dict[str, Any]] = []
    for r in results:
        w = r.wheel
        wheel = arts.wheel(w.path, file_sha256(w.path), w.file_size)
        out.extend(_result(f, wheel, rule_index, arts, w.filename) for f in r.findings)
    notifications = [
        {"level": "error", "message": {"text": f"{path}: {error}"},
         "descriptor": {"id": "unreadable-wheel"}}
        for path, error in errors
    ]
    skipped = {why or "deselected": codes for why, codes in
               (not_checked(results[0].checked, results[0].given).items() if results else ())}
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "wheelguard",
                "version": run.tool_version,
                "semanticVersion": run.tool_version,
                "rules": rules,
            }},
            "invocations": [{
                "executionSuccessful": not errors,
                "commandLine": " ".join(run.command),
                "toolExecutionNotifications": notifications,
                "properties": {"fail-on": run.fail_on_label},
            }],
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().resolve().as_uri() + "/"}},
            "artifacts": arts.items,
            "results": out,
            "columnKind": "unicodeCodePoints",
            "properties": {"wheelguard": run.to_json(), "not-checked": skipped},
        }],
    }
    return json.dumps(doc, indent=2) + "\n"

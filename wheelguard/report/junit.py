"""JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure, test-report
actions): one test suite per wheel, one test case per check.

A check with unwaived findings at or above ``--fail-on`` is a failure listing them one per
line; a check that did not run (not selected, or not given what it needs) is *skipped* with
the reason, never passed; findings below the gate and waived ones go to ``system-out``. An
unreadable wheel is a suite with one errored case. The tests read the output back with
``junitparser``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from wheelguard.audit import AuditResult
from wheelguard.model import Finding
from wheelguard.report.coverage import WHY_NOT, not_checked
from wheelguard.report.provenance import RunInfo
from wheelguard.rules import RULES

__all__ = ["render_junit"]

_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters, and a hostile member name may."""
    return _XML_UNSAFE.sub("\ufffd", text)


def _line(f: Finding) -> str:
    where = f"{f.path}: " if f.path else ""
    waived = f" (waived: {f.waived})" if f.waived else ""
    return _clean(f"{f.check} {f.name} {f.severity.label} {where}{' '.join(f.message.split())}"
                  f"{waived}")


def _suite(root: ET.Element, r: AuditResult, run: RunInfo) -> None:
    fail_on = run.fail_on
    skipped_why = {code: why for why, codes in not_checked(r.checked, r.given).items()
                   for code in codes}
    suite = ET.SubElement(root, "testsuite", name=_clean(r.wheel.filename))
    props = ET.SubElement(suite, "properties")
    for name, value in (("wheelguard", run.tool_version), ("python", run.python),
                        ("fail-on", run.fail_on_label), ("config", run.config.describe()),
                        ("policies", run.policy_text()), ("command", " ".join(run.command))):
        ET.SubElement(props, "property", name=name, value=_clean(value))
    failures = skipped = 0
    for code in sorted(RULES):
        rule = RULES[code]
        case = ET.SubElement(suite, "testcase", name=f"{code} {rule.name}",
                             classname=_clean(f"wheelguard.{r.wheel.name}.{rule.item}"),
                             time="0")
        if code in skipped_why:
            ET.SubElement(case, "skipped", message=f"not checked: {WHY_NOT[skipped_why[code]]}")
            skipped += 1
            continue
        mine = [f for f in r.findings if f.check == code]
        failing = [f for f in mine if f.waived is None and fail_on is not None
                   and f.severity >= fail_on]
        if failing:
            failure = ET.SubElement(
                case, "failure", type=max(f.severity for f in failing).label,
                message=_clean(f"{len(failing)} finding(s) at or above --fail-on "
                               f"{run.fail_on_label}: {rule.summary}"))
            failure.text = "\n".join(_line(f) for f in failing) + f"\nfix: {rule.hint}\n"
            failures += 1
        failing_ids = {id(f) for f in failing}
        rest = [f for f in mine if id(f) not in failing_ids]
        if rest:
            ET.SubElement(case, "system-out").text = "\n".join(_line(f) for f in rest) + "\n"
    suite.set("tests", str(len(RULES)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))


def render_junit(results: Sequence[AuditResult], errors: Sequence[tuple[str, str]], *,
                 run: RunInfo) -> str:
    root = ET.Element("testsuites", name="wheelguard audit")
    for r in results:
        _suite(root, r, run)
    for path, error in errors:
        name = _clean(path.rsplit("/", 1)[-1])
        suite = ET.SubElement(root, "testsuite", name=name, tests="1", failures="0",
                              errors="1", skipped="0")
        case = ET.SubElement(suite, "testcase", name="read the wheel", classname="wheelguard",
                             time="0")
        ET.SubElement(case, "error", type="unreadable", message=_clean(error))
    totals = {k: sum(int(s.get(k, "0")) for s in root) for k in
              ("tests", "failures", "errors", "skipped")}
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"

"""docs/checks.md and the rules table stay in step, and every example in the docs is real.

Every rule has a section (code, name, severity, meaning, why, example, fix) and every code the
docs mention exists. Each ``WGnnn name path: message`` line in an example must be a finding
that some fixture wheel really produces (sizes aside), so the docs cannot drift from the code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.fixtures import FIXTURES

from wheelguard.rules import RULES

DOCS = Path(__file__).resolve().parents[2] / "docs"
CHECKS_MD = DOCS / "checks.md"
_SECTION = re.compile(r"^### (WG\d{3}) (\S+)\n(.*?)(?=^##|\Z)", re.MULTILINE | re.DOTALL)
_FINDING_LINE = re.compile(r"^  (WG\d{3}) (\S+) (?:(\S+): )?(.+)$", re.MULTILINE)
_SIZE = re.compile(r"\b\d+(?:\.\d+)? (?:B|KiB|MiB|GiB)\b")


def _sections() -> dict[str, tuple[str, str]]:
    text = CHECKS_MD.read_text(encoding="utf-8")
    found: dict[str, tuple[str, str]] = {}
    for code, name, body in _SECTION.findall(text):
        assert code not in found, f"{code} documented twice"
        found[code] = (name, body)
    return found


def test_every_rule_is_documented() -> None:
    sections = _sections()
    missing = sorted(set(RULES) - set(sections))
    assert not missing, f"docs/checks.md lacks a section for {missing}"


def test_every_documented_code_is_real() -> None:
    for doc in sorted(DOCS.glob("*.md")):
        codes = set(re.findall(r"\bWG\d{3}\b", doc.read_text(encoding="utf-8")))
        unknown = sorted(codes - set(RULES))
        assert not unknown, f"{doc.name} mentions unknown checks {unknown}"


@pytest.mark.parametrize("code", sorted(RULES))
def test_section_is_complete(code: str) -> None:
    sections = _sections()
    if code not in sections:
        pytest.fail(f"{code} is not documented")
    name, body = sections[code]
    rule = RULES[code]
    assert name == rule.name
    assert f"**Severity:** {rule.severity.label}\n" in body
    for part in ("**What it means.**", "**Why it matters.**", "**Example.**", "**Fix.**"):
        assert part in body, f"{code}: no {part}"
    example = body.split("**Example.**", 1)[1].split("**Fix.**", 1)[0]
    assert "```" in example, f"{code}: the example has no code block"
    assert re.search(rf"^  {code} {rule.name} ", example, re.MULTILINE), \
        f"{code}: the example shows no finding line"


def test_summary_table_matches_rules() -> None:
    text = CHECKS_MD.read_text(encoding="utf-8")
    rows = re.findall(r"^\| \[(WG\d{3})\]\(#[^)]+\) \| `([^`]+)` \| (\w+) \|", text, re.MULTILINE)
    assert [r[0] for r in rows] == sorted(RULES)
    for code, name, severity in rows:
        assert (name, severity) == (RULES[code].name, RULES[code].severity.label)


def _normalise(message: str) -> str:
    return _SIZE.sub("<size>", message)


def test_example_lines_are_real_findings(
    fixture_audits: Mapping[str, tuple[int, dict[str, Any]]],
) -> None:
    real = {
        (f["check"], f["name"], f["path"], _normalise(f["message"]))
        for _rc, doc in fixture_audits.values()
        for w in doc["wheels"]
        for f in w["findings"]
    }
    # A fixture that needs a newer host glibc than this one shows nothing to compare with.
    host_limited = {c for fx in FIXTURES if fx.needs_glibc for c in fx.expect}
    produced = {k[0] for k in real}
    # Checks that need more than one wheel (linkage, WG7xx) have no single-wheel fixture here;
    # their examples are held to the section structure only.
    covered = {c for fx in FIXTURES for c in fx.expect}
    text = CHECKS_MD.read_text(encoding="utf-8")
    lines = _FINDING_LINE.findall(text)
    assert len(lines) >= len(RULES)
    for code, name, path, message in lines:
        if code not in covered or (code in host_limited and code not in produced):
            continue
        key = (code, name, path or None, _normalise(message))
        assert key in real, f"docs/checks.md shows a finding no fixture produces: {key}"

"""Golden snapshots of ``wheelguard audit --format json`` for every fixture wheel.

Regenerate with ``WHEELGUARD_UPDATE_GOLDEN=1 pytest tests/unit/test_golden.py`` and review the
diff. What depends on the machine rather than on wheelguard is normalised before comparing: the
wheel's location, the tool version, byte counts (gcc and zlib versions change them), sizes in
messages, and content digests of compiled libraries.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers.fixtures import FIXTURES, WheelFixture, host_lacks

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("WHEELGUARD_UPDATE_GOLDEN") == "1"

_BYTE_KEYS = frozenset({"bytes", "size", "compressed_bytes", "uncompressed_bytes", "compressed",
                        "uncompressed", "file_bytes", "file"})
_SIZE_TEXT = re.compile(r"\b\d+(?:\.\d+)? (?:B|KiB|MiB|GiB)\b")
_DIGEST = re.compile(r"^[A-Za-z0-9_-]{43}$")


def schema() -> dict[str, Any]:
    text = resources.files("wheelguard").joinpath("schemas/audit-v1.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def normalise(doc: Any, key: str | None = None) -> Any:
    """The document with machine-dependent values replaced by placeholders."""
    if isinstance(doc, dict):
        return {k: normalise(v, k) for k, v in doc.items()}
    if isinstance(doc, list):
        return [normalise(v, key) for v in doc]
    if isinstance(doc, bool) or doc is None:
        return doc
    if isinstance(doc, int) and key is not None and (key in _BYTE_KEYS or key.endswith("_bytes")):
        return "<bytes>"
    if isinstance(doc, str):
        if key == "sha256":  # of the wheel file: the compiler's bytes
            return "<sha256>"
        if key == "path" and doc.endswith(".whl"):
            return "<dir>/" + Path(doc).name
        if _DIGEST.match(doc):
            return "<sha256>"
        return _SIZE_TEXT.sub("<size>", doc)
    return doc


def _golden(doc: dict[str, Any]) -> dict[str, Any]:
    # What the run was judged under names this interpreter and the command line: not the
    # wheel's, and checked in tests/unit/test_ci_output.py instead.
    doc = normalise({k: v for k, v in doc.items() if k != "run"})
    doc["tool"]["version"] = "<version>"
    return doc


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("fx", FIXTURES, ids=lambda fx: fx.name)
def test_golden(fx: WheelFixture, fixture_audits: Mapping[str, tuple[int, dict[str, Any]]]) -> None:
    if (why := host_lacks(fx)) is not None:
        pytest.skip(why)
    _rc, doc = fixture_audits[fx.name]
    jsonschema.Draft202012Validator(schema()).validate(doc)
    got = json.dumps(_golden(doc), indent=2) + "\n"
    path = GOLDEN / f"{fx.name}.json"
    if UPDATE:
        path.write_text(got, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing: run with WHEELGUARD_UPDATE_GOLDEN=1"
    # Compared as text so that a failure shows a line diff of the snapshot.
    assert got == path.read_text(encoding="utf-8")


def test_no_stale_golden_files() -> None:
    names = {fx.name for fx in FIXTURES}
    stale = sorted(p.stem for p in GOLDEN.glob("*.json") if p.stem not in names)
    assert not stale, f"golden files without a fixture: {stale}"


def test_normalise_keeps_what_wheelguard_decides() -> None:
    doc = {"path": "/tmp/x/demo-1.0-py3-none-any.whl", "message": "ships 3 files (1.5 KiB)",
           "data": {"bytes": 12, "files": 3, "key": "A" * 43, "entry": "$ORIGIN"}}
    assert normalise(doc) == {
        "path": "<dir>/demo-1.0-py3-none-any.whl", "message": "ships 3 files (<size>)",
        "data": {"bytes": "<bytes>", "files": 3, "key": "<sha256>", "entry": "$ORIGIN"},
    }

"""The JSON snapshots of the provider table and auditwheel's policies equal their sources.

An audit reads both tables from their snapshots (wheelguard/knowledge/snapshot.py) while the
sources are the bytes the snapshots were made from; these tests keep the repository's
snapshots current and show that a changed source is read directly instead.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wheelguard.knowledge import manylinux, providers, snapshot

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "ci"))

import gen_snapshots  # noqa: E402


@pytest.mark.parametrize("name", sorted(gen_snapshots.snapshots()))
def test_snapshots_are_current(name: str) -> None:
    document = gen_snapshots.snapshots()[name]
    written = (gen_snapshots.DATA / name).read_text(encoding="utf-8")
    assert written == gen_snapshots.render(document), "run: python ci/gen_snapshots.py"


def test_an_audit_reads_the_policies_without_importing_auditwheel() -> None:
    code = ("import sys; from wheelguard.knowledge.manylinux import platform_policy as p; "
            "a = p(['manylinux_2_28_x86_64', 'manylinux_2_17_x86_64']); "
            "print(a.name, 'auditwheel.policy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["manylinux_2_17_x86_64", "False"]


@pytest.mark.parametrize("tag", ["manylinux2014_x86_64", "manylinux_2_28_aarch64",
                                 "musllinux_1_2_x86_64", "manylinux_2_31_x86_64",
                                 "linux_x86_64", "manylinux_2_17_ppc64le"])
def test_snapshot_answers_as_auditwheel_does(
    tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_snapshot = manylinux.platform_policy([tag])
    monkeypatch.setattr(manylinux, "_LOADED", [None])  # as if the snapshot were stale
    assert manylinux.platform_policy([tag]) == from_snapshot


def test_a_changed_source_is_read_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = snapshot.load_snapshot
    assert real(providers.PROVIDERS_SNAPSHOT, [b"not the table"]) is None
    table = providers.known_providers()
    monkeypatch.setattr(providers, "load_snapshot", lambda _name, _sources: None)
    assert providers.known_providers() == table

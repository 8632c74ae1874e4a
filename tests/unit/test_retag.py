"""The ``retag`` action: a ``linux_*`` wheel gets the oldest manylinux tag its binaries satisfy.

Judged from auditwheel's policy data against real gcc-built libraries: the symbol versions a
library requires decide the tag, a library nothing provides refuses the retag, and the output
wheel's file name and WHEEL agree with each other and install.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.fixtures import INIT, host_glibc
from helpers.repair_fixtures import assert_installable
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel
from wheelguard.errors import RepairError
from wheelguard.policy.decide import assign_actions
from wheelguard.policy.load import load_policy
from wheelguard.policy.schema import PolicySet
from wheelguard.repair.retag import retag_filename, retag_wheel_file
from wheelguard.repair.write import repair_wheel

LINUX = "cp312-abi3-linux_x86_64"


def _default() -> PolicySet:
    return PolicySet((load_policy("default"),))


def test_filename_and_wheel_tags() -> None:
    new = ("manylinux_2_17_x86_64", "manylinux2014_x86_64")
    assert retag_filename("demo-1.0-cp312-abi3-linux_x86_64.whl", ("linux_x86_64",), new) == (
        "demo-1.0-cp312-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert retag_filename("demo-1.0-1-py3-none-linux_x86_64.whl", ("linux_x86_64",), new) == (
        "demo-1.0-1-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    text = ("Wheel-Version: 1.0\r\nGenerator: x\r\nRoot-Is-Purelib: false\r\n"
            "Tag: cp312-abi3-linux_x86_64\r\n")
    assert retag_wheel_file(text, ("linux_x86_64",), new) == (
        "Wheel-Version: 1.0\r\nGenerator: x\r\nRoot-Is-Purelib: false\r\n"
        "Tag: cp312-abi3-manylinux_2_17_x86_64\r\nTag: cp312-abi3-manylinux2014_x86_64\r\n")


def test_symbol_versions_decide_the_tag(libs: Mapping[str, bytes], tmp_path: Path) -> None:
    have = host_glibc()
    if have is None or have < (2, 34):
        pytest.skip(f"host glibc {have} is older than 2.34: the library needs no new symbol")
    wheel = build_wheel(tmp_path / "in", {**INIT, "demo/lib/libnew_glibc.so":
                                          libs["libnew_glibc.so"]}, tag=LINUX)
    before = {f.check for f in audit_wheel(wheel).findings}
    assert "WG406" in before
    result = repair_wheel(wheel, tmp_path / "out", _default(), env={})
    assert result.output is not None
    assert result.output.name == "demo-1.0-cp312-abi3-manylinux_2_34_x86_64.whl"
    with zipfile.ZipFile(result.output) as zf:
        tags = [ln for ln in zf.read("demo-1.0.dist-info/WHEEL").decode().splitlines()
                if ln.startswith("Tag:")]
    assert tags == ["Tag: cp312-abi3-manylinux_2_34_x86_64"]
    after = audit_wheel(result.output, post=assign_actions(_default()))
    assert [f.check for f in after.findings if f.waived is None] == []
    assert_installable(result.output, tmp_path / "installer")
    again = repair_wheel(result.output, tmp_path / "again", _default(), env={})
    assert not again.changed  # the retagged wheel is left as it is


def test_an_old_baseline_when_nothing_newer_is_needed(libs: Mapping[str, bytes],
                                                      tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "in", {**INIT, "demo/lib/libdemo.so": libs["libdemo.so"]},
                        tag=LINUX)
    result = repair_wheel(wheel, tmp_path / "out", _default(), env={})
    assert result.output is not None
    platforms = result.output.name.removesuffix(".whl").rsplit("-", 1)[1].split(".")
    assert platforms[0].startswith("manylinux_2_")
    assert "linux_x86_64" not in platforms
    needed_glibc = max(
        (tuple(int(x) for x in v.version.removeprefix("GLIBC_").split("."))
         for b in audit_wheel(wheel).wheel.binaries for v in b.version_needs
         if v.version.startswith("GLIBC_")), default=(2, 5))
    tag_glibc = tuple(int(x) for x in platforms[0].split("_")[1:3])
    assert tag_glibc >= needed_glibc  # never a tag the library's symbols exceed


def test_a_library_nothing_provides_refuses_the_retag(libs: Mapping[str, bytes],
                                                      tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "in", {**INIT, "demo/lib/libneeds_foo.so":
                                          libs["libneeds_foo.so"]}, tag=LINUX)
    mine = PolicySet((load_policy("default"),))
    with pytest.raises(RepairError, match=r"cannot retag .*libfoo\.so, which nothing provides"):
        repair_wheel(wheel, tmp_path / "out", mine, env={})
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())

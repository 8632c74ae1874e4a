"""Each check against the fixture wheel built to trigger it: exactly the expected check ids,
and the facts (paths, entries, byte totals) a release engineer acts on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.clibs import EM_386, minimal_elf
from helpers.fixtures import FIXTURES, INIT, BuiltFixture, host_glibc, host_lacks
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel
from wheelguard.model import Severity
from wheelguard.rules import RULES

Audits = Mapping[str, tuple[int, dict[str, Any]]]


def _findings(audits: Audits, name: str, check: str | None = None) -> list[dict[str, Any]]:
    _rc, doc = audits[name]
    (wheel,) = doc["wheels"]
    return [f for f in wheel["findings"] if check is None or f["check"] == check]


@pytest.mark.parametrize("fx", FIXTURES, ids=lambda fx: fx.name)
def test_fixture_triggers_exactly_its_checks(
    fx: Any, fixture_audits: Audits, fixture_wheels: Mapping[str, BuiltFixture]
) -> None:
    if (why := host_lacks(fx)) is not None:
        pytest.skip(why)
    rc, doc = fixture_audits[fx.name]
    found = {f["check"] for f in _findings(fixture_audits, fx.name)}
    assert found == fx.expect
    # Severity follows harm (a 13-byte CMakeLists.txt is a note): the exit code follows the
    # findings' own severities, which never exceed their rule's.
    severities = [f["severity"] for f in _findings(fixture_audits, fx.name)]
    assert all(Severity.parse(f["severity"]) <= RULES[f["check"]].severity
               for f in _findings(fixture_audits, fx.name))
    errors = "error" in severities
    assert rc == (1 if errors else 0)
    assert doc["wheels"][0]["failed"] is errors
    assert doc["errors"] == []


def test_every_audit_check_has_a_fixture() -> None:
    covered = set().union(*(fx.expect for fx in FIXTURES))
    audit_codes = {c for c in RULES if c[2] in "123456"}
    assert audit_codes <= covered, f"no fixture triggers {sorted(audit_codes - covered)}"
    assert any(not fx.expect for fx in FIXTURES), "a clean fixture must trigger nothing"


def test_wg101_names_both_paths(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg101_duplicate_soname")
    assert f["data"]["paths"] == ["demo/lib/libfoo.so", "demo/lib64/libfoo.so"]
    assert f["data"]["key"] == "libfoo.so"
    assert f["data"]["identical"] is False
    assert f["data"]["meets"] == "substituted"
    # The chain that loads each copy is the evidence.
    chain = f["data"]["loaded"]["demo/lib64/libfoo.so"]
    assert "extension module demo._b" in chain
    assert chain.endswith(" -> demo/lib64/libfoo.so")
    assert f["severity"] == "error"


def test_wg102_identical_copies_without_soname(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg102_duplicate_content")
    assert f["data"]["paths"] == ["demo/lib/libnosoname.so", "demo/lib/libnosoname.so.1"]
    assert f["severity"] == "warning"


def test_wg103_same_build_id_different_bytes(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg103_duplicate_build_id")
    assert f["data"]["key"] == "5eed" + "0" * 35 + "1"
    assert f["data"]["paths"] == ["demo/lib/libbid_a.so", "demo/lib/libbid_b.so"]


def test_wg104_against_required_distribution(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg104_embedded_runtime_abi")
    assert f["path"] == "demo/lib/libembed.so"
    assert f["data"]["provider"] == "apache-tvm-ffi"
    assert f["data"]["count"] == 3
    assert f["data"]["examples"] == ["TVMFFIFunctionCall", "TVMFFIObjectDecRef",
                                     "TVMFFIObjectIncRef"]
    assert "required distribution apache-tvm-ffi" in f["message"]


def test_wg104_against_bundled_runtime(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg104_embedded_runtime_abi_bundled")
    assert f["path"] == "demo/lib/libembed.so"  # the real libtvm_ffi.so is not reported
    assert "demo/lib/libtvm_ffi.so in this wheel" in f["message"]


def test_wg105_bundled_library_of_a_requirement(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg105_bundled_provided_library")
    assert f["path"] == "demo/lib/libtvm_ffi.so"
    assert f["data"]["library"] == "libtvm_ffi.so"
    assert f["data"]["provider"] == "apache-tvm-ffi"


def test_wg201_absolute_entries(fixture_audits: Audits) -> None:
    found = {(f["path"], f["data"]["tag"], f["data"]["entry"], f["data"]["build_tree"])
             for f in _findings(fixture_audits, "wg201_rpath_absolute")}
    assert found == {
        ("demo/lib/librpath_abs.so", "RUNPATH", "/home/runner/work/demo/build/lib", True),
        ("demo/lib/librpath_abs.so", "RUNPATH", "/usr/local/lib", False),
        ("demo/lib/librpath_abs_old.so", "RPATH", "/usr/local/lib", False),
    }


def test_wg202_empty_and_relative_entries(fixture_audits: Audits) -> None:
    found = {f["data"]["entry"]: f["message"]
             for f in _findings(fixture_audits, "wg202_rpath_cwd_relative")}
    assert set(found) == {"", "lib"}  # "$ORIGIN" between them is fine
    assert "is empty" in found[""]
    assert "relative without $ORIGIN" in found["lib"]


def test_wg203_climbs_out_of_site_packages(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg203_rpath_escapes_root")
    assert f["data"]["entry"] == "$ORIGIN/../../../.."
    assert f["data"]["directory"] == "../.."


@pytest.mark.parametrize("declared", [True, False])
def test_wg204_says_whether_the_owner_is_declared(fixture_audits: Audits, declared: bool) -> None:
    name = f"wg204_rpath_other_distribution_{'declared' if declared else 'undeclared'}"
    (f,) = _findings(fixture_audits, name)
    assert f["data"]["directory"] == "tvm_ffi/lib"
    assert f["data"]["provider"] == "apache-tvm-ffi"
    assert f["severity"] == "warning"
    if declared:
        assert f["data"]["declared"] == "apache-tvm-ffi<0.2,>=0.1.12"
        assert "owned by the declared dependency apache-tvm-ffi" in f["message"]
    else:
        assert f["data"]["declared"] is None
        assert "which this wheel does not declare" in f["message"]


def test_wg205_missing_directory(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg205_rpath_missing_dir")
    assert f["data"]["directory"] == "demo/lib/missing"


def test_wg301_unresolved(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg301_needed_unresolved")
    assert f["data"]["needed"] == "libfoo.so"
    assert f["data"]["search_path"] == ["$ORIGIN"]
    assert f["data"]["platform"] == "manylinux_2_17_x86_64"


def test_wg301_undeclared_provider(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg301_needed_undeclared_provider", "WG301")
    assert f["data"]["needed"] == "libtvm_ffi.so"
    assert f["data"]["provider"] == "apache-tvm-ffi"
    assert "Requires-Dist on apache-tvm-ffi" in f["hint"]


def test_wg302_glibc_above_the_tag(fixture_audits: Audits) -> None:
    have = host_glibc()
    if have is None or have < (2, 34):
        pytest.skip(f"host glibc {have} is older than 2.34")
    (f,) = _findings(fixture_audits, "wg302_symbol_version_too_new")
    assert f["data"] == {"version": "GLIBC_2.34", "ceiling": "GLIBC_2.17",
                         "platform": "manylinux_2_17_x86_64"}


def test_wg401_trees_with_byte_totals(
    fixture_audits: Audits, fixture_wheels: Mapping[str, BuiltFixture]
) -> None:
    found = {f["data"]["tree"]: f["data"] for f in _findings(fixture_audits,
                                                              "wg401_vendored_artifacts")}
    assert set(found) == {"demo/3rdparty/tvm", "demo/3rdparty/cutlass"}
    tvm = found["demo/3rdparty/tvm"]
    assert set(tvm["categories"]) == {"cmake", "source", "object", "tests", "docs"}
    files = fixture_wheels["wg401_vendored_artifacts"].spec.files({})
    flagged = [p for p in files if p.startswith("demo/3rdparty/tvm/")
               and not p.endswith((".h", "tvm/__init__.py"))]
    assert tvm["files"] == len(flagged) == 5
    assert tvm["bytes"] == sum(len(files[p]) for p in flagged)
    assert tvm["vendored"] is True
    assert found["demo/3rdparty/cutlass"]["categories"] == {"source": {"files": 1, "bytes": 23}}


def test_wg402_outside_vendored_trees(fixture_audits: Audits) -> None:
    found = {f["data"]["tree"]: set(f["data"]["categories"])
             for f in _findings(fixture_audits, "wg402_build_artifacts")}
    # tests/ of the package itself is the package's business, not an artifact
    assert found == {"demo": {"cmake"}, "demo/build": {"build-dir"}, "demo/src": {"source"}}


def test_wg403_aarch64_in_x86_64_wheel(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg403_foreign_arch")
    assert f["data"] == {"machine": "aarch64", "format": "elf", "wheel_arches": ["x86_64"]}


def test_wg404_only_the_debug_build(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg404_debug_info")
    assert f["path"] == "demo/lib/libdebug.so"
    assert f["data"]["size"] > 0


def test_wg405_truncated_library(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg405_unreadable_binary")
    assert f["path"] == "demo/lib/libdemo.so"
    assert f["message"].startswith("unreadable ELF (")  # the path is not repeated
    assert f["severity"] == "error"  # a library that cannot be read fails at import


def test_wg501_every_kind_of_mismatch(fixture_audits: Audits) -> None:
    found = {f["path"]: f["data"]["problem"]
             for f in _findings(fixture_audits, "wg501_record_mismatch")}
    assert found == {
        "demo/a.py": "hash",
        "demo/b.py": "unlisted",
        "demo/c.py": "size",
        "demo/gone.py": "absent",
        "demo-1.0.dist-info/RECORD": "self-hash",
    }


def test_wg601_both_budgets(fixture_audits: Audits) -> None:
    found = {f["data"]["measure"]: f["data"] for f in _findings(fixture_audits,
                                                                 "wg601_size_budget")}
    # --size-budget counts the wheel file (its help says so), not the compressed members.
    assert set(found) == {"file", "installed"}
    assert found["file"]["budget"] == 4096
    assert found["file"]["file"] > found["file"]["compressed"]
    assert found["installed"]["uncompressed"] > 16 << 10
    assert found["installed"]["largest_trees"][0] == {"tree": "demo/data", "bytes": 16 << 10}


def test_wg105_sees_through_auditwheel_hashed_names(fixture_audits: Audits) -> None:
    (f,) = _findings(fixture_audits, "wg105_grafted_provided_library")
    assert f["path"] == "demo.libs/libtvm_ffi-1a2b3c4d.so"
    assert f["data"]["library"] == "libtvm_ffi-1a2b3c4d.so"
    assert f["data"]["provider"] == "apache-tvm-ffi"


def test_wg403_x86_64_library_in_aarch64_wheel(
    libs: Mapping[str, bytes], tmp_path: Path
) -> None:
    path = build_wheel(tmp_path, {**INIT, "demo/lib/libdemo.so": libs["libdemo.so"]},
                       tag="cp312-abi3-manylinux_2_17_aarch64")
    found = [f for f in audit_wheel(path).findings if f.check == "WG403"]
    assert [(f.path, f.data["machine"], list(f.data["wheel_arches"])) for f in found] == [
        ("demo/lib/libdemo.so", "x86_64", ["aarch64"]),
    ]


def test_wg403_i686_header_in_x86_64_wheel(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, {**INIT, "demo/lib/lib32.so": minimal_elf(EM_386)})
    findings = audit_wheel(path).findings
    assert [(f.check, f.data["machine"]) for f in findings] == [("WG403", "i686")]

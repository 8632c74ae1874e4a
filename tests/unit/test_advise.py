"""``wheelguard advise`` against gcc-built provider release series whose right answer is known
(:mod:`helpers.advise_fixtures`): the verdict of every version, its evidence, the versions
read, and the proposed range, exactly. No network: providers come from a wheelhouse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers.advise_fixtures import PYTHON, AdviseWorld, build_advise_world
from helpers.cli import run_inprocess
from helpers.clibs import Compiler
from packaging.version import Version

from wheelguard.linkage import library_member
from wheelguard.linkage.advise import Advice, advise
from wheelguard.linkage.fetch import ProviderLookup
from wheelguard.linkage.matrix import ProviderAdvice
from wheelguard.model import ArchivePath
from wheelguard.reading.scan import scan_wheel
from wheelguard.report.advise import (
    advice_to_json,
    checklist_item,
    render_advice_markdown,
    render_advice_text,
)
from wheelguard.util.demangle import Demangler


@pytest.fixture(scope="module")
def world(compiler: Compiler, tmp_path_factory: pytest.TempPathFactory) -> AdviseWorld:
    return build_advise_world(compiler, tmp_path_factory.mktemp("advise"))


def _advise(world: AdviseWorld, name: str, **kw: object) -> Advice:
    lookup = ProviderLookup(wheelhouses=(world.wheelhouse,))
    return advise(scan_wheel(world.consumers[name]), lookup, python=PYTHON, jobs=1,
                  **kw)  # type: ignore[arg-type]


def _one(advice: Advice) -> ProviderAdvice:
    assert len(advice.providers) == 1, [p.name for p in advice.providers]
    return advice.providers[0]


def _verdicts(p: ProviderAdvice) -> dict[str, str]:
    return {str(c.version): c.status for c in p.cells}


def test_the_proposed_range_is_exactly_the_working_run(world: AdviseWorld) -> None:
    advice = _advise(world, "kituser", all_versions=True)
    kit = _one(advice)
    assert _verdicts(kit) == {"1.0": "fails", "1.1": "fails", "1.2": "works", "1.3": "works",
                              "1.4": "works", "1.5": "fails", "2.0": "fails"}
    assert kit.proposal is not None
    assert kit.proposal.specifier == ">=1.2,<1.5"
    assert kit.proposed_requirement == "libkit>=1.2,<1.5"
    assert kit.proposal.contiguous
    assert kit.admitted_failing == tuple(Version(v) for v in ("1.0", "1.1", "1.5", "2.0"))
    assert kit.needs == ("libkit.so.1",)
    assert kit.cxx  # libkit::run() is a C++ symbol
    assert not advice.ok


def test_each_failing_version_names_its_evidence(world: AdviseWorld) -> None:
    kit = _one(_advise(world, "kituser", all_versions=True))
    cells = {str(c.version): c for c in kit.cells}
    # 1.0 never had libkit::run(); 1.5 has it under another version node: both are missing
    # the symbol *at the version the wheel was linked against*.
    for version in ("1.0", "1.5"):
        (e,) = cells[version].evidence
        assert e.kind == "symbols"
        assert e.binaries == ("kituser/lib/libkituser.so",)
        assert [(s.name, s.version) for s in e.symbols] == [("_ZN6libkit3runEv", "KIT_1.2")]
        assert e.count == 1
    (soname,) = cells["2.0"].evidence
    assert (soname.kind, soname.needed) == ("soname", "libkit.so.1")
    assert "libkit/lib/libkit.so.2 (SONAME libkit.so.2)" in soname.detail
    assert dict(cells["1.3"].reach) == {"site-packages": "search-path",
                                        "system-site-packages": "preload", "target": "preload"}


def test_cxx_names_are_demangled_in_the_evidence(world: AdviseWorld) -> None:
    kit = _one(_advise(world, "kituser", all_versions=True))
    (e,) = next(c for c in kit.cells if c.version == Version("1.0")).evidence
    if Demangler().source == "none":
        pytest.skip("neither pydemumble nor c++filt is available")
    assert e.symbols[0].demangled == "libkit::run()"
    assert e.symbols[0].shown == "libkit::run() @KIT_1.2"
    plain = _one(_advise(world, "kituser", all_versions=True, demangler=Demangler("none")))
    (e,) = next(c for c in plain.cells if c.version == Version("1.0")).evidence
    assert e.symbols[0].demangled is None
    assert e.symbols[0].shown == "_ZN6libkit3runEv @KIT_1.2"


def test_a_non_contiguous_working_set_is_reported_as_such(world: AdviseWorld) -> None:
    gap = _one(_advise(world, "gapuser", all_versions=True))
    assert _verdicts(gap) == {"1.0": "works", "1.1": "fails", "1.2": "works", "1.3": "works"}
    assert gap.proposal is not None
    assert not gap.proposal.contiguous
    assert gap.proposal.runs == ((Version("1.0"), Version("1.0")),
                                 (Version("1.2"), Version("1.3")))
    # The safe contiguous part, and every working version as an alternative.
    assert gap.proposal.specifier == ">=1.2"
    assert gap.proposal.alternative == ">=1.0,!=1.1"
    (e,) = next(c for c in gap.cells if c.version == Version("1.1")).evidence
    assert (e.kind, [s.name for s in e.symbols]) == ("symbols", ["gap_b"])
    text = render_advice_text(advice_to_json(_advise(world, "gapuser", all_versions=True)))
    assert "not contiguous (1.0, 1.2 to 1.3)" in text


def test_default_reads_the_range_then_outwards_to_the_nearest_failure(world: AdviseWorld) -> None:
    narrow = _one(_advise(world, "kituser_narrow"))
    # Declared >=1.3,<1.4 admits 1.3; the newest (2.0) is read too; then one version a side
    # at a time while the outermost still works: 1.2 and 1.4 work, 1.1 and 1.5 fail. 1.0,
    # beyond the first failure, is never read.
    assert [str(c.version) for c in narrow.cells] == ["1.1", "1.2", "1.3", "1.4", "1.5", "2.0"]
    assert narrow.proposal is not None
    assert narrow.proposal.specifier == ">=1.2,<1.5"
    assert narrow.excluded_working == (Version("1.2"), Version("1.4"))
    assert not narrow.admitted_failing
    assert narrow.available[0] == Version("1.0")


def test_a_hole_in_the_declared_range_is_read_and_judged(world: AdviseWorld) -> None:
    hole = _one(_advise(world, "kituser_hole"))
    cells = {str(c.version): c for c in hole.cells}
    assert (cells["1.3"].status, cells["1.3"].declared) == ("works", False)
    assert hole.excluded_working == (Version("1.3"),)
    assert hole.proposed_requirement == "libkit>=1.2,<1.5"
    item = checklist_item(_advise(world, "kituser_hole"))
    assert (item["status"], item["detail"]) == ("warn", "libkit: could be libkit>=1.2,<1.5")


def test_a_bundled_copy_fails_every_version_that_ships_it(world: AdviseWorld) -> None:
    kit = _one(_advise(world, "dupuser", all_versions=True))
    assert kit.needs == ()
    failing = {str(c.version) for c in kit.cells if c.status == "fails"}
    assert failing == {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
    e = next(c for c in kit.cells if c.version == Version("1.2")).evidence[0]
    assert (e.kind, e.needed, e.binaries) == ("duplicate", "libkit.so.1",
                                              ("dupuser/lib/libkit.so.1",))
    text = render_advice_text(advice_to_json(_advise(world, "dupuser", all_versions=True)))
    assert "the wheel ships its own copy (dupuser/lib/libkit.so.1)" in text


def test_json_text_markdown_and_checklist_say_the_same(world: AdviseWorld) -> None:
    advice = _advise(world, "kituser", all_versions=True)
    doc = advice_to_json(advice)
    assert doc["schema"] == "wheelguard-advise/1"
    assert json.loads(json.dumps(doc)) == doc
    (p,) = doc["providers"]
    assert p["proposal"]["requirement"] == "libkit>=1.2,<1.5"
    assert p["diff"]["admitted_failing"] == ["1.0", "1.1", "1.5", "2.0"]
    cell = next(v for v in p["versions"] if v["version"] == "2.0")
    assert cell["evidence"][0]["kind"] == "soname"
    text = render_advice_text(doc)
    assert "    - libkit>=1.0\n    + libkit>=1.2,<1.5\n" in text
    markdown = render_advice_markdown(doc)
    assert "| 2.0 | admits | **fails** | no libkit.so.1 (needed by kituser/lib/libkituser.so)" \
        in markdown
    assert "```diff\n- libkit>=1.0\n+ libkit>=1.2,<1.5\n```" in markdown
    item = checklist_item(advice)
    assert (item["id"], item["status"]) == ("provider-ranges", "fail")
    assert item["detail"] == "libkit>=1.0 admits 4 failing versions"
    assert item["advice"] == doc
    narrow = checklist_item(_advise(world, "kituser_narrow"))
    assert narrow["status"] == "warn"
    assert narrow["detail"] == "libkit: could be libkit>=1.2,<1.5"


def test_cli_exit_codes_and_formats(world: AdviseWorld) -> None:
    base: list[str | Path] = ["advise", "--wheelhouse", world.wheelhouse, "--python-version",
                              PYTHON, "--jobs", "1"]
    rc, out, err = run_inprocess([*base, "--all-versions", "--format", "json",
                                  world.consumers["kituser"]])
    assert rc == 1, err
    assert json.loads(out)["providers"][0]["proposal"]["specifier"] == ">=1.2,<1.5"
    assert "libkit: reading 7 versions" in err
    rc, out, _err = run_inprocess([*base, "--format", "markdown",
                                   world.consumers["kituser_narrow"]])
    assert rc == 0
    assert out.startswith("### kituser-narrow 1.0")
    rc, _out, err = run_inprocess(["advise", world.consumers["kituser"]])
    assert rc == 2
    assert "--wheelhouse DIR or --download" in err


def test_provider_option_limits_and_adds(world: AdviseWorld) -> None:
    advice = _advise(world, "kituser", all_versions=True, only=("gapkit",))
    (gap,) = advice.providers
    # Asked for, though nothing in kituser needs it: read, and it delivers nothing.
    assert (gap.name, gap.status, gap.needs) == ("gapkit", "undeclared", ())
    assert gap.reasons == ("asked for with --provider",)
    assert advice.unprovided == (("libkit.so.1", (ArchivePath("kituser/lib/libkituser.so"),)),)


def test_oversized_providers_are_left_unread(world: AdviseWorld) -> None:
    lookup = ProviderLookup(wheelhouses=(world.wheelhouse,), max_wheel_size=100)
    advice = advise(scan_wheel(world.consumers["kituser"]), lookup, python=PYTHON, jobs=1,
                    all_versions=True)
    kit = _one(advice)
    assert kit.problem is not None
    assert "over the 100 B limit" in kit.problem
    assert {c.status for c in kit.cells} == {"unread"}
    assert kit.proposal is None


@pytest.mark.parametrize(("path", "read"), [
    ("z3/lib/libz3.so", True), ("z3/lib/libz3.so.4.15", True),
    ("tvm_ffi/core.abi3.so", True), ("tvm_ffi/include/tvm/ffi/any.h", False),
    ("z3_solver-4.15.4.0.data/data/bin/z3", False), ("z3/__init__.py", False),
    ("pkg/libfoo.dylib", False),
])
def test_only_library_members_of_a_provider_are_read(path: str, read: bool) -> None:
    assert library_member(ArchivePath(path)) is read


def test_a_partial_scan_lists_every_member_and_parses_only_those_asked(
    world: AdviseWorld,
) -> None:
    house = Path(world.wheelhouse)
    wheel = next(house.glob("libkit-1.2-*.whl"))
    full = scan_wheel(wheel)
    part = scan_wheel(wheel, only=library_member)
    assert [m.path for m in part.members] == [m.path for m in full.members]
    assert [b.path for b in part.binaries] == ["libkit/lib/libkit.so.1"]
    init = next(m for m in part.members if m.path == "libkit/__init__.py")
    assert (init.sha256, init.magic) == ("", b"")
    assert part.binaries == full.binaries

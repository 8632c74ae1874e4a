"""Cross-wheel linkage (WG7xx) against gcc-built provider and consumer wheels in a local
wheelhouse: no network. Each consumer of :data:`helpers.linkage_fixtures.CONSUMERS` names the
WG7xx codes it must raise, exactly; the tests below also pin what each finding says and what
the loader emulation concluded per layout and version."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import audit_json, run_inprocess
from helpers.clibs import Compiler
from helpers.linkage_fixtures import CONSUMERS, PYTHON, Consumer, LinkageWorld, build_world
from helpers.wheels import build_wheel
from packaging.requirements import Requirement

from wheelguard.audit import AuditOptions, AuditResult, audit_wheel
from wheelguard.knowledge.specifiers import has_upper_bound
from wheelguard.linkage.emulate import LAYOUTS, Linkage, analyse_linkage
from wheelguard.linkage.facts import describe, preloads, verdict
from wheelguard.linkage.fetch import ProviderLookup
from wheelguard.model import Finding, Severity
from wheelguard.reading.scan import scan_wheel


@pytest.fixture(scope="module")
def world(compiler: Compiler, tmp_path_factory: pytest.TempPathFactory) -> LinkageWorld:
    return build_world(compiler, tmp_path_factory.mktemp("linkage"))


def _lookup(world: LinkageWorld, **kw: Any) -> ProviderLookup:
    return ProviderLookup(wheelhouses=(world.wheelhouse,), **kw)


def _audit(world: LinkageWorld, name: str, **kw: Any) -> AuditResult:
    consumer = next(c for c in CONSUMERS if c.name == name)
    lookup = _lookup(world, **kw)
    options = AuditOptions(python=PYTHON, providers=lookup, extras=consumer.extras)
    return audit_wheel(world.consumers[name], options)


def _linkage(world: LinkageWorld, name: str, **kw: Any) -> Linkage:
    consumer = next(c for c in CONSUMERS if c.name == name)
    return analyse_linkage(scan_wheel(world.consumers[name]), _lookup(world, **kw),
                           python=PYTHON, extras=consumer.extras)


def _wg7(result: AuditResult) -> list[Finding]:
    return [f for f in result.findings if f.check.startswith("WG7")]


def _only(result: AuditResult, code: str) -> Finding:
    found = [f for f in result.findings if f.check == code]
    assert len(found) == 1, [f.message for f in found]
    return found[0]


@pytest.mark.parametrize("consumer", CONSUMERS, ids=lambda c: c.name)
def test_each_check_fires_where_it_should_and_nowhere_else(
    world: LinkageWorld, consumer: Consumer
) -> None:
    result = _audit(world, consumer.name)
    assert {f.check for f in _wg7(result)} == consumer.expect, consumer.description


def test_every_linkage_rule_has_a_consumer_that_raises_it() -> None:
    from wheelguard.rules import RULES

    raised = set().union(*(c.expect for c in CONSUMERS))
    assert raised == {code for code in RULES if code.startswith("WG7")}


def test_without_providers_the_audit_stays_hermetic(world: LinkageWorld) -> None:
    for path in world.consumers.values():
        result = audit_wheel(path, AuditOptions(python=PYTHON))
        assert result.context.linkage is None
        assert not _wg7(result)


def test_soname_gap_names_the_endpoint_and_what_it_ships(world: LinkageWorld) -> None:
    f = _only(_audit(world, "spans"), "WG702")
    assert f.path == "spans/lib/libuser.so"
    assert f.data["version"] == "2.0"
    assert f.data["needed"] == "libprov.so.1"
    assert f.data["ships"] == ("provkit/lib/libprov.so.2 (SONAME libprov.so.2)",)
    assert f.severity is Severity.ERROR


def test_symbol_gap_compares_symbol_versions(world: LinkageWorld) -> None:
    f = _only(_audit(world, "narrow"), "WG703")
    assert f.data["version"] == "1.1"
    assert f.data["roles"] == ("highest",)
    # 1.1 still exports prov_init, but under PROV_1.1: the PROV_1 reference does not bind.
    assert f.data["missing"] == ("_ZN7provkit3runEv@PROV_1", "prov_init@PROV_1",
                                 "prov_run@PROV_1")


def test_symbol_gap_by_name_where_the_provider_has_no_versions(world: LinkageWorld) -> None:
    f = _only(_audit(world, "ffi_user"), "WG703")
    assert f.data["version"] == "0.1.13"
    assert f.data["missing"] == ("TVMFFIFunctionCall",)
    assert f.data["imported"] == 2


def test_unbounded_range_with_cxx_imports(world: LinkageWorld) -> None:
    f = _only(_audit(world, "spans"), "WG705")
    assert f.data["examples"] == ("_ZN7provkit3runEv",)
    assert f.severity is Severity.WARNING
    assert not has_upper_bound(Requirement("provkit>=1.0").specifier)
    assert has_upper_bound(Requirement("provkit>=1.0,<2").specifier)
    assert has_upper_bound(Requirement("provkit~=1.0").specifier)
    assert not has_upper_bound(Requirement("provkit!=1.5,>1").specifier)


def test_undeclared_and_extra_only_providers(world: LinkageWorld) -> None:
    undeclared = _only(_audit(world, "undeclared"), "WG701")
    assert undeclared.data["status"] == "undeclared"
    assert undeclared.data["entry"] == "$ORIGIN/../../helperkit/lib"
    assert undeclared.data["path"] == "helperkit/lib/libhelper.so"
    extra = _only(_audit(world, "extra_only"), "WG701")
    assert extra.data["status"] == "extra"
    assert extra.data["extras"] == ("gpu",)
    assert "only under the extra(s) gpu" in extra.message


def test_duplicates_name_every_owner(world: LinkageWorld) -> None:
    abi = _only(_audit(world, "dup_abi"), "WG704")
    assert abi.data["kind"] == "abi"
    assert abi.data["key"] == "TVMFFI"
    owners = {o["distribution"]: o for o in abi.data["owners"]}
    assert owners["dup-abi"]["paths"] == ("dup_abi/lib/libembed.so",)
    assert owners["apache-tvm-ffi"]["versions"] == ("0.1.12", "0.1.13")
    soname = _only(_audit(world, "dup_soname"), "WG704")
    assert (soname.data["kind"], soname.data["key"]) == ("soname", "libprov.so.1")
    assert soname.path == "dup_soname/lib/libprov.so.1"


def test_preload_dependence_every_layout_or_only_apart(world: LinkageWorld) -> None:
    ffi = _only(_audit(world, "ffi_user"), "WG706")
    assert ffi.data["entry"] is None
    assert ffi.data["layouts"] == tuple(lay.name for lay in LAYOUTS)
    assert ffi.data["import"] == "tvm_ffi"
    assert ffi.severity is Severity.INFO
    clean = _only(_audit(world, "clean"), "WG706")
    assert clean.data["entry"] == "$ORIGIN/../../provkit/lib"
    assert clean.data["layouts"] == ("system-site-packages", "target")


def test_layout_break_without_soname(world: LinkageWorld) -> None:
    f = _only(_audit(world, "breaks"), "WG707")
    assert f.data["needed"] == "libprovx.so"
    assert f.data["layouts"] == ("system-site-packages", "target")


def test_verdict_counts_declared_providers_only(world: LinkageWorld) -> None:
    holds = _only(_audit(world, "clean"), "WG708")
    assert holds.severity is Severity.INFO
    assert holds.data["holds"] is True
    assert holds.data["provided"] == ({"library": "libprov.so.1", "distribution": "provkit"},)
    assert holds.data["oldest"] == "manylinux_2_5_x86_64"
    broken = _only(_audit(world, "undeclared"), "WG708")
    assert broken.severity is Severity.ERROR
    assert broken.data["outside"] == ("libhelper.so",)
    assert broken.data["oldest"] is None


def test_unchecked_provider_is_said_so(world: LinkageWorld) -> None:
    f = _only(_audit(world, "unchecked"), "WG709")
    assert "no version with a compatible wheel satisfies >=5" in f.message
    skipped = _only(_audit(world, "clean", skip=("prov*",)), "WG709")
    assert skipped.data["problem"] == "skipped (--skip)"
    assert not [f for f in _audit(world, "clean", skip=("prov*",)).findings
                if f.check == "WG706"]


def test_size_cap_leaves_a_provider_unread(world: LinkageWorld) -> None:
    f = _only(_audit(world, "clean", max_wheel_size=100), "WG709")
    assert "over the 100 B limit" in f.message


def test_samples_are_lowest_highest_and_newest(world: LinkageWorld) -> None:
    dep = _linkage(world, "narrow").dependency("provkit")
    assert dep is not None
    assert [(str(s.version), sorted(s.roles), s.in_range) for s in dep.samples] == [
        ("1.0", ["lowest"], True), ("1.1", ["highest"], True), ("2.0", ["newest"], False)]
    assert dep.reasons == ("provides libprov.so.1", "owns provkit/")


def test_loader_emulation_per_layout_and_version(world: LinkageWorld) -> None:
    linkage = _linkage(world, "spans")
    got = {(lk.layout, lk.scenario): lk.resolution for lk in linkage.links
           if lk.resolution.needed == "libprov.so.1"}
    site = got[("site-packages", "lowest")]
    assert (site.kind, site.path, site.entry, site.provider, site.version) == (
        "dependency", "provkit/lib/libprov.so.1", "$ORIGIN/../../provkit/lib", "provkit", "1.0")
    apart = got[("system-site-packages", "lowest")]
    assert (apart.kind, apart.path, apart.entry) == ("preload", "provkit/lib/libprov.so.1", None)
    assert got[("target", "lowest")] == apart
    # 2.0 renamed the SONAME: nothing finds libprov.so.1, whatever the layout.
    assert {got[(lay.name, "highest")].kind for lay in LAYOUTS} == {"unresolved"}


def test_undeclared_provider_is_found_but_never_preloaded(world: LinkageWorld) -> None:
    linkage = _linkage(world, "undeclared")
    kinds = {lk.layout: lk.resolution.kind for lk in linkage.links
             if lk.resolution.needed == "libhelper.so" and lk.scenario == "lowest"}
    assert kinds == {"site-packages": "undeclared", "system-site-packages": "unresolved",
                     "target": "unresolved"}
    assert not preloads(linkage)


def test_describe_is_json_ready_and_lists_gaps_outside_the_range(world: LinkageWorld) -> None:
    data = describe(_linkage(world, "narrow"))
    json.dumps(data)
    (dep,) = data["dependencies"]
    lacks = {s["version"]: s["lacks"] for s in dep["samples"]}
    assert lacks["1.0"] == []
    assert lacks["1.1"][0].startswith("_ZN7provkit3runEv@PROV_1 (needed by narrow/lib/libuser.so")
    assert lacks["2.0"] == ["libprov.so.1 (needed by narrow/lib/libuser.so)"]
    v = verdict(_linkage(world, "narrow"))
    assert v is not None
    assert data["verdict"]["claimed"] == v.claimed == "manylinux_2_17_x86_64"


def _show(world: LinkageWorld, name: str, *extra: str) -> tuple[int, str]:
    rc, out, err = run_inprocess(["show", "--deps", "--wheelhouse", str(world.wheelhouse),
                                  "--python", PYTHON, *extra, str(world.consumers[name])])
    assert err == ""
    return rc, out


def test_show_deps_json(world: LinkageWorld) -> None:
    rc, out = _show(world, "clean", "--format", "json", "--layout", "site-packages",
                    "--layout", "target")
    assert rc == 0
    data: Mapping[str, Any] = json.loads(out)
    assert [lay["name"] for lay in data["layouts"]] == ["site-packages", "target"]
    (lib,) = data["libraries"]
    need = next(n for n in lib["needed"] if n["needed"] == "libprov.so.1")
    assert set(need["layouts"]) == {"site-packages", "target"}
    lowest = need["layouts"]["site-packages"]["lowest"]
    assert (lowest["kind"], lowest["provider"], lowest["version"]) == (
        "dependency", "provkit", "1.0")
    assert need["layouts"]["target"]["lowest"]["kind"] == "preload"


def test_show_deps_text(world: LinkageWorld) -> None:
    rc, out = _show(world, "spans")
    assert rc == 0
    text = " ".join(out.split())
    assert "provkit provkit>=1.0 (provides libprov.so.1, owns provkit/)" in text
    assert "read: 1.0 (lowest), 2.0 (highest, newest)" in text
    assert "2.0 lacks: libprov.so.1 (needed by spans/lib/libuser.so)" in text
    assert ("site-packages provkit/lib/libprov.so.1 (via $ORIGIN/../../provkit/lib): provkit 1.0 "
            "(lowest) | not found: provkit 2.0 (highest, newest)") in text
    assert "preload of provkit/lib/libprov.so.1 (only if `import provkit` ran first)" in text
    assert "verdict manylinux_2_17_x86_64 holds" in text


def test_show_deps_without_providers_reads_nothing(world: LinkageWorld) -> None:
    # Only the known-provider table can name a provider then: apache-tvm-ffi, not provkit.
    for name, expect in (("ffi_user", ["apache-tvm-ffi"]), ("clean", [])):
        rc, out, _err = run_inprocess(["show", "--deps", "--python", PYTHON, "--format", "json",
                                       str(world.consumers[name])])
        assert rc == 0
        deps = json.loads(out)["dependencies"]
        assert [d["name"] for d in deps] == expect
        for dep in deps:
            assert dep["samples"] == []
            assert "no wheel for Python 3.12" in dep["problem"]


def test_audit_cli_options(world: LinkageWorld, tmp_path: Path) -> None:
    rc, doc = audit_json("--wheelhouse", world.wheelhouse, "--python", PYTHON,
                         world.consumers["extra_only"])
    assert rc == 1
    codes = {f["check"] for r in doc["wheels"] for f in r["findings"]}
    assert {"WG701", "WG708"} <= codes
    rc, doc = audit_json("--wheelhouse", world.wheelhouse, "--python", PYTHON,
                         "--extra", "gpu", "--select", "WG701,WG706",
                         world.consumers["extra_only"])
    assert {f["check"] for r in doc["wheels"] for f in r["findings"]} == {"WG706"}
    rc, _out, err = run_inprocess(["audit", "--wheelhouse", str(tmp_path / "missing"),
                                   str(world.consumers["clean"])])
    assert rc == 2
    assert "not a directory" in err


def test_a_wheel_without_native_code_has_nothing_to_link(
    world: LinkageWorld, tmp_path: Path
) -> None:
    pure = build_wheel(tmp_path, {"pure/__init__.py": b""}, name="pure", tag="py3-none-any",
                       requires_dist=("provkit>=1.0",))
    result = audit_wheel(pure, AuditOptions(python=PYTHON, providers=_lookup(world)))
    assert result.context.linkage is not None
    assert result.context.linkage.dependencies == ()
    assert not _wg7(result)


def test_cli_layout_choices_and_size_option(capsys: pytest.CaptureFixture[str]) -> None:
    from wheelguard.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["show", "--deps", "--max-provider-size", "2MB", "x.whl"])
    assert args.max_provider_size == 2 << 20
    assert parser.parse_args(["show", "x.whl"]).layout == []
    for name in (lay.name for lay in LAYOUTS):
        assert parser.parse_args(["show", "--layout", name, "x.whl"]).layout == [name]
    with pytest.raises(SystemExit):
        parser.parse_args(["show", "--layout", "conda", "x.whl"])
    with pytest.raises(SystemExit):
        parser.parse_args(["audit", "--max-provider-size", "lots", "x.whl"])
    assert "not a size" in capsys.readouterr().err


def test_verdict_not_failed_by_an_unchecked_provider(world: LinkageWorld) -> None:
    """A provider no admitted wheel could be read for is WG709's news; the manylinux verdict
    says what it could not judge instead of failing on it (issue 11: host and inventory must
    not decide the verdict)."""
    f = _only(_audit(world, "unchecked"), "WG708")
    assert f.severity is Severity.INFO
    assert f.data["unchecked"] == ("libprov.so.1",)
    assert "not judged: libprov.so.1 from declared providers that could not be checked" \
        in f.message

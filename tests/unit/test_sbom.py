"""``wheelguard sbom``: CycloneDX and SPDX documents, valid against each format's schema, that
say where every native library comes from.

CycloneDX is validated with cyclonedx-python-lib's strict JSON validator (the schemas it
ships); SPDX with the SPDX 2.3 JSON schema (tests/schemas) and with spdx-tools' own validation
of the specification's rules, which the writer already enforces.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers.cli import run_inprocess
from helpers.clibs import Compiler
from helpers.fixtures import BuiltFixture
from helpers.linkage_fixtures import CONSUMERS, PYTHON, LinkageWorld, build_world

from wheelguard.linkage.fetch import ProviderLookup
from wheelguard.sbom import build_inventories, render

SPDX_SCHEMA = json.loads((Path(__file__).parents[1] / "schemas" / "spdx-2.3.schema.json")
                         .read_text(encoding="utf-8"))


def _cyclonedx_valid(text: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, error


def _spdx_valid(text: str) -> dict[str, Any]:
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    doc: dict[str, Any] = json.loads(text)
    jsonschema.validate(doc, SPDX_SCHEMA)
    assert validate_full_spdx_document(JsonLikeDictParser().parse(doc)) == []
    return doc


def _props(component: Mapping[str, Any]) -> dict[str, str]:
    return {p["name"].removeprefix("wheelguard:"): p["value"]
            for p in component.get("properties", [])}


def _components(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in doc["components"]}


@pytest.mark.parametrize("fmt", ["cyclonedx", "spdx"])
def test_every_fixture_wheel_gives_a_valid_document(
        fmt: str, fixture_wheels: Mapping[str, BuiltFixture]) -> None:
    wheels = [fx.path for name, fx in sorted(fixture_wheels.items())
              if name not in ("wg405_unreadable_binary", "wg501_record_mismatch")]
    text = render(build_inventories(wheels), "cyclonedx" if fmt == "cyclonedx" else "spdx")
    if fmt == "cyclonedx":
        _cyclonedx_valid(text)
    else:
        _spdx_valid(text)


def test_origins_grafted_provided_vendored_built(
        fixture_wheels: Mapping[str, BuiltFixture]) -> None:
    grafted = fixture_wheels["wg105_grafted_provided_library"].path
    bundled = fixture_wheels["wg105_bundled_provided_library"].path
    text = render(build_inventories([grafted, bundled]), "cyclonedx")
    _cyclonedx_valid(text)
    comps = _components(json.loads(text))
    graft = _props(comps["demo==1.0#demo.libs/libtvm_ffi-1a2b3c4d.so"])
    assert (graft["origin"], graft["original-name"]) == ("grafted", "libtvm_ffi.so")
    assert graft["provider"] == "apache-tvm-ffi"
    assert comps["demo==1.0#demo.libs/libtvm_ffi-1a2b3c4d.so"]["pedigree"]["ancestors"][0][
        "name"] == "libtvm_ffi.so"
    copy = _props(comps["demo==1.0#demo/lib/libtvm_ffi.so"])
    assert copy["origin"] == "provided"
    assert copy["admitted-range"] == "<0.2,>=0.1.12"
    ext = _props(comps["demo==1.0#demo/_ext.abi3.so"])
    assert ext["origin"] == "built"
    assert ext["architecture"] == "x86_64"
    hashes = comps["demo==1.0#demo/lib/libtvm_ffi.so"]["hashes"]
    assert hashes[0]["alg"] == "SHA-256"
    assert len(hashes[0]["content"]) == 64

    vendored = render(build_inventories(
        [fixture_wheels["wg401_vendored_artifacts"].path]), "cyclonedx")
    trees = {c["name"] for c in json.loads(vendored)["components"]
             if c.get("description") == "vendored source tree"}
    assert trees == {"tvm", "cutlass"}


def test_edges_follow_the_loader_in_the_wheel(
        fixture_wheels: Mapping[str, BuiltFixture]) -> None:
    doc = _spdx_valid(render(build_inventories([fixture_wheels["clean"].path]), "spdx"))
    ids = {p["SPDXID"]: p["name"] for p in doc["packages"]}
    depends = {(ids[r["spdxElementId"]], ids[r["relatedSpdxElement"]])
               for r in doc["relationships"] if r["relationshipType"] == "DEPENDS_ON"}
    assert depends, doc["relationships"]
    contains = [r for r in doc["relationships"] if r["relationshipType"] == "CONTAINS"]
    assert len(contains) == sum(1 for p in doc["packages"]
                                if p.get("primaryPackagePurpose") in ("LIBRARY", "SOURCE")) - 1


@pytest.fixture(scope="module")
def world(compiler: Compiler, tmp_path_factory: pytest.TempPathFactory) -> LinkageWorld:
    return build_world(compiler, tmp_path_factory.mktemp("linkage"))


def test_edges_reach_the_provider_wheels_file(world: LinkageWorld) -> None:
    """With provider wheels, a NEEDED edge ends at the provider's own file, hashed."""
    consumer = next(c for c in CONSUMERS if c.name == "clean")
    lookup = ProviderLookup(wheelhouses=(world.wheelhouse,))
    (inv,) = build_inventories([world.consumers[consumer.name]], python=PYTHON,
                               providers=lookup)
    files = {f.ref: f for f in inv.provider_files}
    assert "provkit==1.0#provkit/lib/libprov.so.1" in files
    assert files["provkit==1.0#provkit/lib/libprov.so.1"].sha256
    (prov,) = [p for p in inv.providers if p.name == "provkit"]
    assert prov.admitted == "<1.1,>=1.0"
    assert "1.0" in prov.versions
    needs = {(e.source.rsplit("#", 1)[-1], e.target) for e in inv.edges if e.kind == "needs"}
    assert any(t == "provkit==1.0#provkit/lib/libprov.so.1" for _s, t in needs), needs
    _cyclonedx_valid(render([inv], "cyclonedx"))
    _spdx_valid(render([inv], "spdx"))


def test_vendored_tree_versions_of_the_published_tilelang(
        published_wheel: Callable[[str], Path]) -> None:
    (inv,) = build_inventories([published_wheel("tilelang")])
    versions = {t.name: (t.version, t.marker) for t in inv.trees}
    assert versions["tvm"] == ("0.25.dev0", "tilelang/3rdparty/tvm/version.py")
    assert versions["cutlass"] == ("4.1.0", "tilelang/3rdparty/cutlass/include/cutlass/"
                                            "version.h")
    grafted = [lib for lib in inv.libraries if lib.origin == "grafted"]
    assert all(lib.original_name for lib in grafted)


def test_cli_writes_the_document(fixture_wheels: Mapping[str, BuiltFixture],
                                 tmp_path: Path) -> None:
    out = tmp_path / "sbom.cdx.json"
    code, _out, err = run_inprocess(["sbom", str(fixture_wheels["clean"].path), "--format",
                                     "cyclonedx", "-o", str(out)])
    assert code == 0, err
    first = out.read_text()
    _cyclonedx_valid(first)
    code, _out, err = run_inprocess(["sbom", str(fixture_wheels["clean"].path), "--format",
                                     "cyclonedx", "-o", str(out)])
    assert json.loads(out.read_text())["serialNumber"] == json.loads(first)["serialNumber"]


def test_summary_line_for_the_checklist(fixture_wheels: Mapping[str, BuiltFixture],
                                        tmp_path: Path) -> None:
    from wheelguard.sbom import summarize_sbom

    wheels = [fixture_wheels["wg105_grafted_provided_library"].path,
              fixture_wheels["wg401_vendored_artifacts"].path]
    inventories = build_inventories(wheels)
    lines = []
    for fmt in ("cyclonedx", "spdx"):
        path = tmp_path / f"sbom.{fmt}.json"
        path.write_text(render(inventories, "cyclonedx" if fmt == "cyclonedx" else "spdx"))
        lines.append(summarize_sbom(path).split(": ", 1)[1])
    assert lines[0] == lines[1]  # both formats say the same
    assert lines[0].startswith("2 native libraries (1 built, 1 grafted), 2 vendored trees")

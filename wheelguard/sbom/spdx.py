"""Inventories rendered as an SPDX 2.3 JSON document, with spdx-tools.

spdx-tools is the SPDX project's own Python library (github.com/spdx/tools-python): it models
SPDX 2.2/2.3, writes every serialisation, and validates a document against the
specification's rules before writing it (``write_document_to_stream(validate=True)`` refuses
an invalid one). SPDX 2.3 JSON is what the consumers in this field read (GitHub's dependency
graph, Dependency-Track, syft/grype); spdx-tools' SPDX 3 support is still experimental.

Native libraries are SPDX packages (``primaryPackagePurpose: LIBRARY``) rather than files: a
package can carry a version, a supplier and a purl, and SPDX 2.3 requires a SHA-1 for every
file, which the scan does not compute. The origin goes into ``sourceInfo``; the loader's
edges are ``DEPENDS_ON`` relationships, what the wheel ships ``CONTAINS``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence

from wheelguard import __version__
from wheelguard.sbom.cyclonedx import created_at
from wheelguard.sbom.inventory import Library, WheelInventory

__all__ = ["render_spdx"]


def _id(ref: str) -> str:
    """An SPDX identifier for an inventory ref (letters, digits, '.' and '-' only)."""
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]+", "-", ref).strip("-")


def _origin(lib: Library) -> str:
    match lib.origin:
        case "grafted":
            return f"grafted from the build system; original name {lib.original_name}"
        case "provided":
            return f"a copy of {lib.provider}'s library (Requires-Dist admits {lib.admitted})"
        case "vendored":
            return f"built from the vendored tree {lib.tree}"
        case _:
            return "built by this project"


def render_spdx(wheels: Sequence[WheelInventory]) -> str:
    from spdx_tools.spdx.model.actor import Actor, ActorType
    from spdx_tools.spdx.model.checksum import Checksum, ChecksumAlgorithm
    from spdx_tools.spdx.model.document import CreationInfo, Document
    from spdx_tools.spdx.model.package import (
        ExternalPackageRef,
        ExternalPackageRefCategory,
        Package,
        PackagePurpose,
    )
    from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
    from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
    from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

    def purl(name: str, version: str | None = None) -> list[ExternalPackageRef]:
        locator = f"pkg:pypi/{name}" + (f"@{version}" if version else "")
        return [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", locator)]

    packages: dict[str, Package] = {}
    relationships: list[Relationship] = []
    for w in wheels:
        packages[w.ref] = Package(
            _id(w.ref), w.name, SpdxNoAssertion(), version=w.version, file_name=w.filename,
            files_analyzed=False, primary_package_purpose=PackagePurpose.LIBRARY,
            checksums=[Checksum(ChecksumAlgorithm.SHA256, w.sha256)] if w.sha256 else None,
            external_references=purl(w.name, w.version),
            comment=f"wheel tags: {' '.join(w.tags)}")
        relationships.append(Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES,
                                          _id(w.ref)))
        for lib in w.libraries:
            packages[lib.ref] = Package(
                _id(lib.ref), lib.name, SpdxNoAssertion(), file_name=lib.path,
                files_analyzed=False, primary_package_purpose=PackagePurpose.LIBRARY,
                checksums=[Checksum(ChecksumAlgorithm.SHA256, lib.sha256)],
                source_info=_origin(lib),
                comment=f"{lib.format} {lib.machine} ({lib.bits}-bit)"
                        + (f", build-id {lib.build_id}" if lib.build_id else "")
                        + (f", NEEDED {' '.join(lib.needed)}" if lib.needed else ""))
        for tree in w.trees:
            packages[tree.ref] = Package(
                _id(tree.ref), tree.name, SpdxNoAssertion(), version=tree.version,
                file_name=tree.path + "/", files_analyzed=False,
                primary_package_purpose=PackagePurpose.SOURCE,
                source_info="vendored source tree" + (f"; version from {tree.marker}"
                                                      if tree.marker else ""),
                comment=f"{tree.files} files, {tree.size} bytes")
        for p in w.providers:
            packages.setdefault(p.ref, Package(
                _id(p.ref), p.name, SpdxNoAssertion(), files_analyzed=False,
                primary_package_purpose=PackagePurpose.LIBRARY, external_references=purl(p.name),
                source_info=f"declared dependency, admitted range {p.admitted}",
                comment=f"provides {' '.join(p.libraries)}"
                        + (f"; wheels read: {' '.join(p.versions)}" if p.versions else "")))
        for f in w.provider_files:
            packages.setdefault(f.ref, Package(
                _id(f.ref), f.name, SpdxNoAssertion(), version=f.version, file_name=f.path,
                files_analyzed=False, primary_package_purpose=PackagePurpose.LIBRARY,
                checksums=[Checksum(ChecksumAlgorithm.SHA256, f.sha256)] if f.sha256 else None,
                source_info=f"in the wheel of {f.distribution} {f.version}"))
        for e in w.edges:
            if e.source not in packages or e.target not in packages:
                continue
            kind = RelationshipType.CONTAINS if e.kind == "contains" else \
                RelationshipType.DEPENDS_ON
            relationships.append(Relationship(_id(e.source), kind, _id(e.target)))
    first = wheels[0]
    digest = (first.sha256 or first.filename)[:16]
    info = CreationInfo(
        spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT",
        name=" ".join(w.filename for w in wheels),
        document_namespace=f"https://spdx.org/spdxdocs/wheelguard/{first.name}-{first.version}"
                           f"-{digest}",
        creators=[Actor(ActorType.TOOL, f"wheelguard-{__version__}")],
        created=created_at(),
    )
    unique = {(r.spdx_element_id, r.relationship_type, str(r.related_spdx_element_id)): r
              for r in relationships}
    document = Document(creation_info=info, packages=list(packages.values()),
                        relationships=list(unique.values()))
    stream = io.StringIO()
    write_document_to_stream(document, stream, validate=True)
    return _schema_spelling(stream.getvalue())


def _schema_spelling(text: str) -> str:
    """spdx-tools (0.8) writes external-reference categories with underscores
    (``PACKAGE_MANAGER``), the 2.3 JSON schema spells them with hyphens (``PACKAGE-MANAGER``):
    the schema wins, since that is what consumers validate against."""
    doc = json.loads(text)
    for package in doc.get("packages", []):
        for ref in package.get("externalRefs", []):
            ref["referenceCategory"] = ref["referenceCategory"].replace("_", "-")
    return json.dumps(doc, indent=4) + "\n"

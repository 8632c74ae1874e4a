"""Inventories rendered as a CycloneDX 1.6 JSON document, with cyclonedx-python-lib.

cyclonedx-python-lib is the CycloneDX project's own implementation of the format: it models
every field of the specification, serialises to each schema version, and ships the JSON
schemas the tests validate against. Facts CycloneDX has no field for (origin, SONAME,
architecture, build-id) are ``wheelguard:*`` properties, the specification's extension point.
The serial number is derived from the wheels' digests, so one wheel always gives one document
identity.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Sequence

from wheelguard import __version__
from wheelguard.sbom.inventory import Library, WheelInventory

__all__ = ["render_cyclonedx"]

_NS = uuid.UUID("7d3a43a4-0a8b-4c33-9a59-0b6b8f1f3e35")


def created_at() -> dt.datetime:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc)
    return dt.datetime.now(tz=dt.timezone.utc).replace(microsecond=0)


def render_cyclonedx(wheels: Sequence[WheelInventory]) -> str:
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType, Pedigree
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from packageurl import PackageURL

    def props(**values: str | int | None) -> list[Property]:
        return [Property(name=f"wheelguard:{k.replace('_', '-')}", value=str(v))
                for k, v in values.items() if v is not None and v != ""]

    def library(lib: Library) -> Component:
        pedigree = None
        if lib.original_name is not None:
            pedigree = Pedigree(ancestors=[Component(name=lib.original_name,
                                                     type=ComponentType.LIBRARY)])
        return Component(
            name=lib.name, type=ComponentType.LIBRARY, bom_ref=lib.ref,
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=lib.sha256)],
            pedigree=pedigree,
            properties=props(path=lib.path, origin=lib.origin, format=lib.format,
                             architecture=lib.machine, bits=lib.bits, build_id=lib.build_id,
                             original_name=lib.original_name, vendored_tree=lib.tree,
                             provider=lib.provider, admitted_range=lib.admitted,
                             needed=" ".join(lib.needed) or None),
        )

    components: dict[str, Component] = {}
    roots: list[Component] = []
    for w in wheels:
        root = Component(
            name=w.name, version=w.version, type=ComponentType.LIBRARY, bom_ref=w.ref,
            purl=PackageURL("pypi", name=w.name, version=w.version,
                            qualifiers={"file_name": w.filename}),
            hashes=[HashType(alg=HashAlgorithm.SHA_256, content=w.sha256)] if w.sha256 else None,
            properties=props(wheel_tags=" ".join(w.tags)),
        )
        roots.append(root)
        components[w.ref] = root
        for lib in w.libraries:
            components[lib.ref] = library(lib)
        for tree in w.trees:
            components[tree.ref] = Component(
                name=tree.name, version=tree.version, type=ComponentType.LIBRARY,
                bom_ref=tree.ref, description="vendored source tree",
                properties=props(path=tree.path, origin="vendored", version_marker=tree.marker,
                                 files=tree.files, size=tree.size))
        for p in w.providers:
            components.setdefault(p.ref, Component(
                name=p.name, type=ComponentType.LIBRARY, bom_ref=p.ref,
                purl=PackageURL("pypi", name=p.name), scope=None,
                properties=props(origin="provided", admitted_range=p.admitted,
                                 provides=" ".join(p.libraries),
                                 versions_read=" ".join(p.versions) or None)))
        for f in w.provider_files:
            components.setdefault(f.ref, Component(
                name=f.name, version=f.version, type=ComponentType.LIBRARY, bom_ref=f.ref,
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=f.sha256)] if f.sha256
                else None,
                properties=props(path=f.path, origin="provided", distribution=f.distribution)))
    metadata = BomMetaData(
        component=roots[0] if len(roots) == 1 else None, timestamp=created_at(),
        properties=props(generator=f"wheelguard {__version__}"),
    )
    digests = "".join(sorted(w.sha256 or w.filename for w in wheels))
    bom = Bom(serial_number=uuid.uuid5(_NS, digests), metadata=metadata)
    for ref, comp in components.items():
        if len(roots) == 1 and comp is roots[0]:
            continue
        del ref
        bom.components.add(comp)
    targets: dict[str, list[Component]] = {}
    for w in wheels:
        for e in w.edges:
            if e.source in components and e.target in components:
                targets.setdefault(e.source, []).append(components[e.target])
    for source, deps in targets.items():
        bom.register_dependency(components[source], deps)
    outputter = make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6)
    return outputter.output_as_string(indent=2) + "\n"

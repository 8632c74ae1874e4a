"""Installability: what pip and pypa/installer check before they install, checked the same way.

A wheel can pass every linkage check and still be refused at ``pip install`` time, or be
installed wrong: METADATA without a Version, ``Wheel-Version: 9.0``, a .dist-info directory of
another project, a file that is also a directory. Each check here reads the .dist-info files
with the library the installers use for them where one exists (packaging's core-metadata
parser, the ``email`` parser for WHEEL, ``configparser`` for entry points, ``csv`` for
RECORD) and reports what they would refuse as an error; what only the specifications forbid
(a field newer than the declared Metadata-Version, WHEEL tags that disagree with the file
name) is a warning. docs/reliability.md sets each case beside what pip and installer do.
"""

from __future__ import annotations

import configparser
import csv
import io
import re
import unicodedata
from collections.abc import Iterator
from email.parser import BytesParser

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata, RawMetadata, parse_email
from packaging.tags import parse_tag
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from wheelguard.checks.context import AuditContext
from wheelguard.model import ArchivePath, Finding, MemberSubject, Severity, Wheel, WheelSubject
from wheelguard.rules import RULES

__all__ = ["run"]

_REQUIRED = ("metadata-version", "name", "version")
_SCHEMES = frozenset({"purelib", "platlib", "headers", "scripts", "data"})
_ENTRY_POINT = re.compile(
    r"^(?P<module>[\w.]+)\s*(:\s*(?P<attrs>[\w.]+))\s*(?P<extras>\[.*\])?\s*$")
"""A script entry point as installer parses it (``module:attribute [extras]``)."""
_LIMIT = 20
"""Findings per rule and wheel; the rest are counted in the last."""


def run(ctx: AuditContext) -> Iterator[Finding]:
    wheel = ctx.wheel
    yield from _metadata(wheel)
    yield from _wheel_file(wheel)
    yield from _directories(wheel)
    yield from _entry_points(wheel)
    yield from _paths(wheel)
    yield from _record(wheel)


def _member(wheel: Wheel, name: str) -> MemberSubject:
    return MemberSubject(path=ArchivePath(f"{wheel.dist_info}/{name}"))


# ---- METADATA -------------------------------------------------------------------------------


def _metadata(wheel: Wheel) -> Iterator[Finding]:
    data = wheel.dist_info_files.get("METADATA", b"")
    subject = _member(wheel, "METADATA")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        yield RULES["WG502"].finding(subject, f"METADATA is not UTF-8 (byte {e.start}: "
                                     f"{data[e.start:e.start + 1]!r}); pip refuses it",
                                     data={"problem": "encoding"})
        return
    raw, unparsed = parse_email(data)
    errors, warnings = _validate(raw)
    for field in _REQUIRED:  # given twice, or not as text: parse_email sets it aside
        if (field.replace("-", "_") in unparsed or field in unparsed) and \
                all(f != field for f, _m in errors):
            errors.append((field, f"{field} could not be parsed"))
    for field, message in errors:
        yield RULES["WG502"].finding(subject, f"METADATA: {message}",
                                     data={"problem": "invalid", "field": field})
    for field, message in warnings[:_LIMIT]:
        yield RULES["WG503"].finding(subject, f"METADATA: {message}",
                                     data={"problem": "invalid", "field": field})
    if errors:
        return
    name, version = raw.get("name", ""), raw.get("version", "")
    if canonicalize_name(name) != wheel.name:
        yield RULES["WG504"].finding(subject, f"METADATA names the project {name!r}, the file "
                                     f"name {wheel.name!r}", data={"field": "name"})
    if Version(version) != wheel.version:
        yield RULES["WG504"].finding(subject, f"METADATA says version {version!r}, the file "
                                     f"name {str(wheel.version)!r}", data={"field": "version"})


def _validate(raw: RawMetadata) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(errors, warnings) of packaging's validating parser: the required fields and a
    Metadata-Version of an unknown major version are errors, the rest warnings."""
    try:
        Metadata.from_raw(raw)
    except ExceptionGroup as group:
        problems = [e for e in group.exceptions if isinstance(e, InvalidMetadata)]
    else:
        return [], []
    errors: list[tuple[str, str]] = []
    warnings: list[tuple[str, str]] = []
    for e in problems:
        field = e.field
        message = str(e)
        if field == "metadata-version" and _known_major(raw.get("metadata_version")):
            warnings.append((field, message))  # 2.0: never a real version, still readable
        elif field in _REQUIRED:
            errors.append((field, message))
        else:
            warnings.append((field, message))
    return errors, warnings


def _known_major(value: str | None) -> bool:
    """The core-metadata spec: tools must refuse a major version they do not know."""
    try:
        return value is not None and Version(value).major in (1, 2)
    except InvalidVersion:
        return False


# ---- WHEEL ----------------------------------------------------------------------------------


def _wheel_file(wheel: Wheel) -> Iterator[Finding]:
    data = wheel.dist_info_files.get("WHEEL", b"")
    subject = _member(wheel, "WHEEL")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        yield RULES["WG505"].finding(subject, "WHEEL is not UTF-8", data={"field": "encoding"})
        return
    msg = BytesParser().parsebytes(data)
    # str(): with the compat32 policy a value holding non-ASCII bytes is an email Header.
    version = str(msg.get("Wheel-Version") or "").strip()
    major = version.split(".", 1)[0]
    if not re.fullmatch(r"\d+\.\d+", version):
        yield RULES["WG505"].finding(subject, f"Wheel-Version {version!r} is not MAJOR.MINOR",
                                     data={"field": "Wheel-Version"})
    elif major != "1":
        yield RULES["WG505"].finding(subject, f"Wheel-Version {version} has major version "
                                     f"{major}; pip and installer read only 1.x",
                                     data={"field": "Wheel-Version"})
    purelib = [str(p).strip().lower() for p in msg.get_all("Root-Is-Purelib") or []]
    if not purelib or purelib[0] not in ("true", "false"):
        shown = repr(purelib[0]) if purelib else "missing"
        yield RULES["WG505"].finding(subject, f"Root-Is-Purelib is {shown}, not true or false",
                                     data={"field": "Root-Is-Purelib"})
    elif len(set(purelib)) > 1:
        # Installers read the first (email.message's get); a later one says otherwise.
        yield RULES["WG505"].finding(subject, f"Root-Is-Purelib is given {len(purelib)} times "
                                     f"({', '.join(purelib)}); installers use the first",
                                     data={"field": "Root-Is-Purelib"}, severity=Severity.WARNING)
    declared: set[str] = set()
    bad: list[str] = []
    for line in (str(t).strip() for t in msg.get_all("Tag") or []):
        try:
            declared.update(str(t) for t in parse_tag(line))
        except ValueError:
            bad.append(line)
    named = {str(t) for t in wheel.tags}
    if bad or declared != named:
        missing, extra = sorted(named - declared), sorted(declared - named)
        parts = [f"lack {', '.join(missing)}"] if missing else []
        parts += [f"add {', '.join(extra)}"] if extra else []
        parts += [f"include unreadable lines {bad!r}"] if bad else []
        yield RULES["WG506"].finding(subject, "the Tag lines " + "; ".join(parts) +
                                     " (against the file name's tags)",
                                     data={"missing": missing, "extra": extra})


# ---- directories ----------------------------------------------------------------------------


def _directories(wheel: Wheel) -> Iterator[Finding]:
    stem = wheel.dist_info.removesuffix(".dist-info")
    name, _, version = stem.rpartition("-")
    if not _same_project(name, version, wheel):
        why = ("pip and installer refuse another project's" if canonicalize_name(name) !=
               wheel.name else "the installed metadata then names another version")
        yield RULES["WG507"].finding(
            WheelSubject(), f"{wheel.dist_info} is not the .dist-info directory of "
            f"{wheel.name} {wheel.version} ({why})", data={"directory": wheel.dist_info})
    datas = sorted({m.path.split("/", 1)[0] for m in wheel.members
                    if m.path.split("/", 1)[0].endswith(".data") and "/" in m.path})
    for d in datas:
        d_name, _, d_version = d.removesuffix(".data").rpartition("-")
        if not _same_project(d_name, d_version, wheel):
            yield RULES["WG507"].finding(
                WheelSubject(), f"{d} is not the .data directory of {wheel.name} "
                f"{wheel.version}: installers put it in site-packages as a plain directory",
                data={"directory": d})
    unknown: dict[str, str] = {}
    for m in wheel.members:
        top, _, rest = m.path.partition("/")
        if top.endswith(".data") and top in datas:
            scheme = rest.split("/", 1)[0]
            if scheme not in _SCHEMES and scheme not in unknown:
                unknown[scheme] = m.path
    for scheme, path in sorted(unknown.items()):
        yield RULES["WG508"].finding(MemberSubject(path=ArchivePath(path)),
                                     f"scheme {scheme!r} is not one of "
                                     f"{', '.join(sorted(_SCHEMES))}", data={"scheme": scheme})


def _same_project(name: str, version: str, wheel: Wheel) -> bool:
    if canonicalize_name(name) != wheel.name:
        return False
    try:
        return Version(version) == wheel.version
    except InvalidVersion:
        return False


# ---- entry points ---------------------------------------------------------------------------


def _entry_points(wheel: Wheel) -> Iterator[Finding]:
    data = wheel.dist_info_files.get("entry_points.txt")
    if data is None:
        return
    subject = _member(wheel, "entry_points.txt")
    parser = configparser.ConfigParser(delimiters="=", interpolation=None)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        parser.read_string(data.decode("utf-8"))
    except (UnicodeDecodeError, configparser.Error) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        yield RULES["WG509"].finding(subject, f"entry_points.txt cannot be parsed ({first})",
                                     data={"problem": "syntax"})
        return
    shown = 0
    for section in ("console_scripts", "gui_scripts"):
        if not parser.has_section(section):
            continue
        for script, value in parser.items(section):
            if _ENTRY_POINT.match(value) is None and shown < _LIMIT:
                shown += 1
                yield RULES["WG509"].finding(
                    subject, f"[{section}] {script} = {value!r} is not module:attribute",
                    data={"problem": "entry", "section": section, "name": script})


# ---- paths ----------------------------------------------------------------------------------


def _paths(wheel: Wheel) -> Iterator[Finding]:
    files: set[str] = {m.path for m in wheel.members}
    parents: dict[str, str] = {}
    for path in sorted(files):
        parts = path.split("/")
        for i in range(1, len(parts)):
            parents.setdefault("/".join(parts[:i]), path)
    conflicts = sorted(p for p in files if p in parents)
    for path in conflicts[:_LIMIT]:
        yield RULES["WG510"].finding(MemberSubject(path=ArchivePath(path)),
                                     f"is a file, and a directory holding {parents[path]}",
                                     data={"below": parents[path]})
    keys: dict[str, list[str]] = {}
    for name in sorted(files | set(parents)):
        keys.setdefault(unicodedata.normalize("NFC", name).casefold(), []).append(name)
    collisions = [paths for paths in keys.values() if len(paths) > 1]
    severity = None if _installs_off_linux(wheel) else Severity.WARNING
    for paths in collisions[:_LIMIT]:
        yield RULES["WG511"].finding(
            MemberSubject(path=ArchivePath(paths[0])),
            f"is one path with {', '.join(repr(p) for p in paths[1:])} where names ignore case "
            "or Unicode normalization (macOS, Windows)",
            data={"paths": paths}, severity=severity)


def _installs_off_linux(wheel: Wheel) -> bool:
    """Whether a tag admits a platform whose usual file systems fold case."""
    return any(not p.startswith(("linux", "manylinux", "musllinux")) for p in wheel.platforms)


# ---- RECORD ---------------------------------------------------------------------------------


def _record(wheel: Wheel) -> Iterator[Finding]:
    data = wheel.dist_info_files.get("RECORD", b"")
    subject = _member(wheel, "RECORD")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        yield RULES["WG512"].finding(subject, f"RECORD is not UTF-8 (byte {e.start})",
                                     data={"problem": "encoding"})
        return
    # pip and installer split RECORD with str.splitlines() and parse each line as CSV; a
    # quoted field holding a line break (or \x0c, \x1c-\x1e, \x85, \u2028, \u2029) becomes two
    # rows there.
    as_csv = list(csv.reader(io.StringIO(text, newline="")))
    by_line = list(csv.reader(text.splitlines()))
    if [r for r in as_csv if r] != [r for r in by_line if r]:
        yield RULES["WG512"].finding(subject, "RECORD has a row that spans lines: pip and "
                                     "installer read it as a different row",
                                     data={"problem": "line-break"})


"""Property-based tests (hypothesis) of every component that reads untrusted bytes, and a short
run of each fuzz target (tests/fuzz): seconds here, 100,000 inputs per target in the long runs
docs/reliability.md records.
"""

from __future__ import annotations

import contextlib
import functools
import io
import zipfile
from pathlib import Path

import pytest
from fuzz import targets
from fuzz.run import MutationRun
from hostile.generate import build_elf, build_macho
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wheelguard.errors import InvalidPolicy, InvalidWheel
from wheelguard.formats import parse_native
from wheelguard.formats.elf import PartialElf
from wheelguard.model import ArchivePath
from wheelguard.policy.load import parse_policy
from wheelguard.policy.schema import Glob
from wheelguard.reading.archive import record_hash
from wheelguard.reading.scan import scan_wheel

PROPERTY = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

# ---- the zip reader -------------------------------------------------------------------------

_NAME = st.text(alphabet="abcXYZ019_-. ,%#[]~+\u00e9\u65e5", min_size=1, max_size=12).filter(
    lambda s: s.strip(".") == s and s not in ("", "."))
_FILES = st.dictionaries(
    st.lists(_NAME, min_size=1, max_size=3).map(lambda parts: "demo/" + "/".join(parts)),
    st.binary(max_size=2048), min_size=1, max_size=8)


def _conflict_free(files: dict[str, bytes]) -> bool:
    paths = set(files)
    return not any(p.startswith(q + "/") for p in paths for q in paths)


@PROPERTY
@given(files=_FILES.filter(_conflict_free),
       method=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                               zipfile.ZIP_LZMA]))
def test_zip_reader_reads_every_member_once_and_right(
    files: dict[str, bytes], method: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any valid wheel reads back: every member, its digest the digest of its bytes."""
    path = tmp_path_factory.mktemp("zip") / "demo-1.0-py3-none-any.whl"
    path.write_bytes(_wheel(files, method))
    wheel = scan_wheel(path)
    digests = {m.path: m.sha256 for m in wheel.members}
    for name, data in files.items():
        assert "sha256=" + digests[ArchivePath(name)] == record_hash(data)


@PROPERTY
@given(files=_FILES.filter(_conflict_free), where=st.floats(0, 1), value=st.integers(0, 255))
def test_zip_reader_refuses_or_reads_a_damaged_wheel(
    files: dict[str, bytes], where: float, value: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """One byte changed anywhere: the archive is refused (InvalidWheel) or read, nothing
    else; read, every digest is still the digest of what the member inflates to."""
    data = bytearray(_wheel(files, zipfile.ZIP_DEFLATED))
    data[int(where * (len(data) - 1))] = value
    path = tmp_path_factory.mktemp("zip") / "demo-1.0-py3-none-any.whl"
    path.write_bytes(bytes(data))
    try:
        wheel = scan_wheel(path)
    except InvalidWheel:
        return
    with zipfile.ZipFile(path) as zf:
        for m in wheel.members:
            assert "sha256=" + m.sha256 == record_hash(zf.read(m.path))


def _wheel(files: dict[str, bytes], method: int) -> bytes:
    dist = "demo-1.0.dist-info"
    members = {**files,
               f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
               f"{dist}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f'"{p}",{record_hash(d)},{len(d)}\n' for p, d in members.items())
    members[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p, d in members.items():
            info = zipfile.ZipInfo(p, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            info.external_attr = 0o100644 << 16
            zf.writestr(info, d)
    return buf.getvalue()


# ---- binary adapters ------------------------------------------------------------------------

_SONAME = st.text(alphabet="abcxyz0123._-+", min_size=1, max_size=24)


@PROPERTY
@given(needed=st.lists(_SONAME, max_size=6), soname=_SONAME,
       runpath=st.lists(st.sampled_from(["$ORIGIN", "$ORIGIN/../lib", "/opt/x", ""]),
                        max_size=3))
def test_elf_adapter_reads_what_was_written(needed: list[str], soname: str,
                                            runpath: list[str]) -> None:
    elf = build_elf(needed=tuple(needed), soname=soname,
                    runpath=":".join(runpath) if runpath else None)
    b = parse_native(ArchivePath("demo/libx.so"), elf.bytes())
    assert b is not None
    assert list(b.needed) == needed
    assert b.soname == soname
    assert list(b.runpath) == (":".join(runpath).split(":") if runpath else [])


@PROPERTY
@given(data=st.binary(min_size=0, max_size=600), seed=st.sampled_from(range(8)))
def test_elf_adapter_refuses_or_reads_any_bytes(data: bytes, seed: int) -> None:
    """Garbage after the magic, or a real object with its tail replaced: a Binary, a
    PartialElf or an ElfParseError; never another exception, never a hang."""
    base = _elf_seeds()[seed % len(_elf_seeds())]
    for blob in (b"\x7fELF" + data, base[: len(base) // 2] + data):
        try:
            parse_native(ArchivePath("demo/libx.so"), blob)
        except PartialElf:
            pass
        except ValueError:
            pass


@PROPERTY
@given(at=st.integers(0, 400), value=st.binary(min_size=1, max_size=8))
def test_device_code_reader_refuses_or_reads_any_damage(at: int, value: bytes) -> None:
    """CUDA device code (e_machine 190) takes the struct section-table reader, not pyelftools:
    damage anywhere in its headers gives a Binary, a PartialElf or an ElfParseError."""
    for base in _elf_seeds():
        blob = bytearray(base)
        blob[18:20] = (190).to_bytes(2, "little")
        blob[at:at + len(value)] = value
        with contextlib.suppress(ValueError):  # PartialElf and ElfParseError are ValueErrors
            parse_native(ArchivePath("demo/k.cubin"), bytes(blob))


@functools.cache
def _elf_seeds() -> list[bytes]:
    return [build_elf(needed=("libc.so.6",)).bytes(), build_elf(soname="libx.so").bytes()]


@PROPERTY
@given(install=_SONAME, loads=st.lists(_SONAME, max_size=4),
       rpaths=st.lists(st.sampled_from(["@loader_path", "@loader_path/../lib", "/opt"]),
                       max_size=3))
def test_macho_adapter_reads_what_was_written(install: str, loads: list[str],
                                              rpaths: list[str]) -> None:
    blob = build_macho(install_name=f"@rpath/{install}", loads=loads, rpaths=rpaths)
    b = parse_native(ArchivePath("demo/libx.dylib"), blob)
    assert b is not None
    assert b.soname == f"@rpath/{install}"
    assert list(b.needed) == list(dict.fromkeys(loads))
    # LC_RPATH entries as dyld reads them (@loader_path kept), each once across the slices.
    assert list(b.rpath) == list(dict.fromkeys(rpaths))


@PROPERTY
@given(cut=st.integers(0, 2000), patch_at=st.integers(0, 2000), value=st.binary(min_size=1,
                                                                                max_size=8))
def test_macho_adapter_refuses_or_reads_damage(cut: int, patch_at: int, value: bytes) -> None:
    blob = bytearray(build_macho())
    blob[patch_at:patch_at + len(value)] = value
    with contextlib.suppress(ValueError):
        parse_native(ArchivePath("demo/libx.dylib"), bytes(blob[: max(cut, 8)]))


# ---- policies and globs ---------------------------------------------------------------------

_FRAGMENTS = ["[[rule]]\n", "[policy]\n", "[smoke]\n", 'action = "strip"\n',
              'action = "relink"\n', 'action = "depend-on-pip"\n', 'reason = "r"\n',
              'path = "demo/**"\n', 'path = ["a/[z-a]", "b"]\n', 'library = "lib*.so"\n',
              'check = "WG401"\n', 'drop = ["absolute"]\n', 'provider = "x y"\n',
              'version = ">=1,<"\n', "expires = 2030-01-01\n", 'name = ""\n', "x = [[[\n",
              'category = ["source"]\n', 'gemm = "none"\n', "= broken\n", 'preload = "a.b"\n']


@PROPERTY
@given(parts=st.lists(st.sampled_from(_FRAGMENTS), max_size=12))
def test_policy_loader_accepts_or_lists_problems(parts: list[str]) -> None:
    problems: list[str] = []
    try:
        policy = parse_policy("".join(parts), source="p.toml")
    except InvalidPolicy as e:
        problems = e.problems
    else:
        assert all(rule.reason for rule in policy.rules)
        return
    assert problems
    assert all("\n" not in p for p in problems)


_GLOB = st.text(alphabet="ab/*?[]!-", max_size=9)
_PATH = st.text(alphabet="ab/-", max_size=9)


@settings(max_examples=400, deadline=None, database=None)
@given(pattern=_GLOB, name=_PATH)
def test_glob_matches_as_the_reference_does(pattern: str, name: str) -> None:
    """The automaton against a plain recursive matcher of the documented semantics."""
    try:
        g = Glob(pattern)
    except ValueError:
        return
    tokens = _reference_tokens(pattern)
    assert g.match_name(name) == _ref_match(tokens, name)
    tree = any(_ref_match(tokens, name[:i]) for i in range(len(name) + 1)
               if i == len(name) or name[i] == "/")
    assert g.match_path(name) == tree


def _reference_tokens(pattern: str) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append(("dirs", ""))
            i += 3
        elif pattern.startswith("**", i):
            out.append(("any", ""))
            i += 2
        elif c == "*":
            out.append(("star", ""))
            i += 1
        elif c == "?":
            out.append(("one", ""))
            i += 1
        elif c == "[":
            start = i + 1 + (pattern[i + 1:i + 2] in ("!", "^"))
            end = pattern.index("]", start + 1)
            out.append(("class", pattern[i + 1:end]))
            i = end + 1
        else:
            out.append(("lit", c))
            i += 1
    return tuple(out)


@functools.cache
def _ref_match(tokens: tuple[tuple[str, str], ...], name: str) -> bool:
    if not tokens:
        return name == ""
    (kind, arg), rest = tokens[0], tokens[1:]
    if kind == "lit":
        return name[:1] == arg and _ref_match(rest, name[1:])
    if kind == "one":
        return name[:1] not in ("", "/") and _ref_match(rest, name[1:])
    if kind == "class":
        return name != "" and _in_class(arg, name[0]) and _ref_match(rest, name[1:])
    if kind == "star":
        limit = name.find("/") if "/" in name else len(name)
        return any(_ref_match(rest, name[i:]) for i in range(limit + 1))
    if kind == "any":
        return any(_ref_match(rest, name[i:]) for i in range(len(name) + 1))
    # dirs: nothing, or anything that ends with '/'
    return _ref_match(rest, name) or any(
        _ref_match(rest, name[i + 1:]) for i in range(len(name)) if name[i] == "/")


def _in_class(body: str, c: str) -> bool:
    negated = body[:1] in ("!", "^")
    body = body[1:] if negated else body
    inside, i = False, 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            inside |= body[i] <= c <= body[i + 2]
            i += 3
        else:
            inside |= body[i] == c
            i += 1
    return inside != negated


def test_pathological_glob_is_linear() -> None:
    """Backtracking would take hours on this pair; the automaton a few milliseconds."""
    import time

    g = Glob("**/*a*a*a*a*a*a*a*b")
    started = time.monotonic()
    assert not g.match_path("demo/" + "a" * 10_000)
    assert time.monotonic() - started < 2.0


# ---- the repair writer ----------------------------------------------------------------------


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(min_size=8, max_size=160))
def test_repair_output_reads_validates_and_changes_only_the_plan(data: bytes) -> None:
    targets.run_repair(data)


# ---- short fuzz runs ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(targets.TARGETS))
def test_short_fuzz_run(name: str, tmp_path: Path) -> None:
    """Each target: its seeds, then mutations of them for two seconds (or 400 inputs)."""
    target = targets.TARGETS[name]
    loop = MutationRun(target.run, target.seeds(), out=tmp_path, timeout=30.0, seed=1)
    loop.run(400, max_seconds=2.0)
    assert loop.inputs > 0
    assert not loop.crashes, [p.name for p in loop.crashes]


def test_a_fuzz_run_can_fail(tmp_path: Path) -> None:
    """A loop that cannot report a crash proves nothing."""

    def broken(data: bytes) -> None:
        if len(data) > 3:
            raise RuntimeError("found")

    loop = MutationRun(broken, [b"abcd"], out=tmp_path, timeout=30.0)
    loop.run(5)
    assert loop.crashes
    assert loop.crashes[0].read_bytes() == b"abcd"


def test_expected_refusals_are_not_crashes() -> None:
    """The targets return on the components' own errors for bad input."""
    targets.run_zip(b"not a zip")
    targets.run_policy(b"[[rule]\n")
    targets.run_native(b"\x7fELF" + bytes(60))


def test_found_by_fuzzing_non_ascii_wheel_header_values() -> None:
    """distinfo, atheris: a WHEEL value holding non-ASCII UTF-8 is an email ``Header`` object,
    not a str (the compat32 policy); the installability check called ``.strip()`` on it."""
    wheel_file = "Wheel-Version: 1.0\nRoot-Is-Purelib: tru\u00e9\nTag: py3\u04cdnone-any\n".encode()
    metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    targets.run_distinfo(b"\x00\x00".join([metadata, wheel_file, b"", b""]))


def test_long_run_counts_every_shard_and_tells_a_short_run(tmp_path: Path) -> None:
    """The long-run driver's table is what docs/reliability.md records: its input counts add
    the shards up, and a run stopped before ``--runs`` exits 1 and says so."""
    import subprocess
    import sys

    script = Path(targets.__file__).with_name("long_run.py")
    md = tmp_path / "table.md"
    done = subprocess.run([sys.executable, str(script), "--targets", "glob", "--runs", "300",
                           "--engine", "mutate", "--cores", "3", "--out", str(tmp_path / "a"),
                           "--markdown", str(md)], check=False, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in md.read_text().splitlines() if line.startswith("| `glob`"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] == "3"  # processes
    assert int(cells[3].replace(",", "")) >= 300
    assert cells[4:6] == ["0", "0"]
    short = subprocess.run([sys.executable, str(script), "--targets", "glob", "--runs",
                            "100000000", "--engine", "mutate", "--cores", "1", "--deadline",
                            "3", "--out", str(tmp_path / "b")], check=False, capture_output=True,
                           text=True,
                           timeout=120)
    assert short.returncode == 1
    assert "stopped at the deadline" in short.stdout

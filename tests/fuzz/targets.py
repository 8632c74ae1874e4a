"""Fuzz targets: one function per component that reads untrusted bytes, and its seeds.

Each target takes the fuzzer's bytes and raises only on a defect of wheelguard: an exception
that is not the component's own error for bad input (a traceback, an "internal error"), or a
property that does not hold (a repaired wheel that installer refuses). Expected refusals
(``InvalidWheel``, ``InvalidPolicy``, an unreadable binary) are what a hostile input should
get, and return normally. Hangs are caught by the runner (``run.py``: libFuzzer's
``-timeout`` under atheris, an alarm in the mutation loop).

The same functions serve the long runs (``python tests/fuzz/run.py TARGET --runs 100000``,
documented in docs/reliability.md) and the short ones in the suite (tests/unit/test_fuzz.py).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TARGETS", "Target", "seeds"]

_TMP = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
_SMALL = 256 << 10
"""Seeds larger than this slow every mutation down: real members above it are left out."""
_REAL_WHEELS = ("markupsafe-linux", "markupsafe-macos-arm64", "psutil-linux", "cffi-linux",
                "psutil-win")
"""Small published wheels of the corpus (tests/corpus), used as seeds when cached."""


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]
    description: str


# ---- the zip reader (and everything an audit does with what it read) -------------------------


class _Scratch:
    """One file per process, rewritten for every input (tmpfs where there is one)."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="wheelguard-fuzz-", dir=_TMP))
        self.wheel = self._dir / "demo-1.0-py3-none-any.whl"

    def write(self, data: bytes) -> Path:
        self.wheel.write_bytes(data)
        return self.wheel


_scratch: _Scratch | None = None


def _scratch_file() -> _Scratch:
    global _scratch  # noqa: PLW0603 - one scratch directory per fuzzing process
    if _scratch is None:
        _scratch = _Scratch()
    return _scratch


def run_zip(data: bytes) -> None:
    """Audit the bytes as a wheel: a refusal (InvalidWheel) or a result, nothing else."""
    from wheelguard.audit import audit_wheel
    from wheelguard.errors import InvalidWheel

    path = _scratch_file().write(data)
    try:
        result = audit_wheel(path)
    except InvalidWheel:
        return
    for f in result.findings:
        assert f.check.startswith("WG"), f


_DIST_FILES = ("METADATA", "WHEEL", "RECORD", "entry_points.txt")


def run_distinfo(data: bytes) -> None:
    """A well-formed archive whose .dist-info files are the fuzzer's bytes (split at
    ``\x00\x00``: METADATA, WHEEL, RECORD, entry_points.txt, then member names): the parsers
    of METADATA, WHEEL, RECORD and entry points, and the installability checks, see anything."""
    import zipfile as zf_module

    parts = data.split(b"\x00\x00")
    dist = "demo-1.0.dist-info"
    members: dict[str, bytes] = {}
    for name, content in zip(_DIST_FILES, parts, strict=False):
        members[f"{dist}/{name}"] = content
    for raw in parts[len(_DIST_FILES):][:16]:
        name = raw.decode("utf-8", "replace").replace("\x00", "")[:200] or "x"
        members.setdefault(f"demo/{name}", raw)
    for required in ("METADATA", "WHEEL", "RECORD"):
        members.setdefault(f"{dist}/{required}", b"")
    buf = io.BytesIO()
    try:
        with zf_module.ZipFile(buf, "w", zf_module.ZIP_DEFLATED) as zf:
            for path, content in members.items():
                zf.writestr(path, content)
    except (ValueError, UnicodeEncodeError):  # a name zipfile itself cannot write
        return
    run_zip(buf.getvalue())


# ---- binary adapters -----------------------------------------------------------------------


def run_native(data: bytes) -> None:
    """A member with native magic: a Binary or a ValueError (unreadable), whatever the bytes."""
    from wheelguard.formats import parse_native
    from wheelguard.formats.elf import PartialElf
    from wheelguard.model import ArchivePath, Binary

    try:
        b = parse_native(ArchivePath("demo/lib/libfuzz.so"), data)
    except PartialElf as e:
        b = e.binary
    except ValueError:
        return
    if b is not None:
        assert isinstance(b, Binary)
        assert all(isinstance(n, str) for n in (*b.needed, *b.rpath, *b.runpath))


def run_elf_image(data: bytes) -> None:
    """The scanner's sparse image of a large ELF: built chunk by chunk, then parsed."""
    from wheelguard.formats.elf_image import ElfImage

    if len(data) < 64:
        return
    with ElfImage(len(data)) as image:
        for pos in range(0, len(data), 4096):
            image.write(pos, data[pos : pos + 4096])
        if image.complete():
            run_native(bytes(image.buffer[: len(data)]))


# ---- policies ------------------------------------------------------------------------------

_NAMES = ("demo/__init__.py", "demo/lib/libdemo.so", "demo/3rdparty/tvm/src/a.cc",
          "a" * 300, "demo/" + "ab/" * 50 + "x.so", "libtvm_ffi.so", "$ORIGIN/../lib")


def run_policy(data: bytes) -> None:
    """Parse a policy file; then match every glob it holds against a few names."""
    from wheelguard.errors import InvalidPolicy
    from wheelguard.policy.load import parse_policy

    text = data.decode("utf-8", "replace")
    try:
        policy = parse_policy(text, source="fuzz.toml")
    except InvalidPolicy:
        return
    names = (*_NAMES, text[:2000])
    for rule in policy.rules:
        m = rule.match
        for g in (*m.paths, *m.exclude, *m.libraries, *m.distributions):
            for n in names:
                assert isinstance(g.match_path(n), bool)
                assert isinstance(g.match_name(n), bool)


def run_glob(data: bytes) -> None:
    """A glob (before the first NUL) against a name (after it), both ways."""
    from wheelguard.policy.schema import Glob

    pattern, _, name = data.decode("utf-8", "replace").partition("\x00")
    try:
        g = Glob(pattern)
    except ValueError:
        return
    g.match_path(name)
    g.match_name(name)


# ---- the repair writer ---------------------------------------------------------------------

_ODD = ("plain", "with space", "comma,name", 'quote"d', "percent%20", "hash#1", "[bold]x[/]",
        "caf\u00e9", "\u65e5\u672c", "emoji\U0001f600", "semi;colon", "tilde~", "plus+")


def run_repair(data: bytes) -> None:
    """A valid wheel built from the input (member names with unusual characters, a vendored
    tree the default policy strips) is repaired; the output must re-read, pass installer's
    RECORD validation and differ from the input exactly where the plan said."""
    from installer.sources import WheelFile

    from wheelguard.policy.load import load_policy
    from wheelguard.policy.schema import PolicySet
    from wheelguard.reading.scan import scan_wheel
    from wheelguard.repair.write import repair_wheel

    files = _files_from(data)
    scratch = _scratch_file()
    src_dir = scratch.wheel.parent / "src"
    out_dir = scratch.wheel.parent / "out"
    src_dir.mkdir(exist_ok=True)
    src = src_dir / "demo-1.0-py3-none-any.whl"
    src.write_bytes(_wheel(files))
    before = src.read_bytes()
    policies = PolicySet((load_policy("default"),))
    result = repair_wheel(src, out_dir, policies, env={"SOURCE_DATE_EPOCH": "315532800"})
    assert src.read_bytes() == before, "the input changed"
    assert result.output is not None
    with WheelFile.open(result.output) as source:
        source.validate_record()
    repaired = scan_wheel(result.output)
    original = scan_wheel(src)
    dropped = set(result.plan.drops)
    kept = {m.path: m.sha256 for m in original.members if m.path not in dropped}
    after = {m.path: m.sha256 for m in repaired.members}
    dist = original.dist_info
    for path, digest in kept.items():
        if path.startswith(f"{dist}/"):
            continue  # RECORD is regenerated; METADATA may gain requirements
        assert after.get(path) == digest, f"{path} changed or went missing"
    extra = set(after) - set(kept) - {f"{dist}/RECORD", f"{dist}/wheelguard.json"}
    assert not extra, f"members the plan did not add: {sorted(extra)}"
    assert not dropped & set(after), "a dropped member is still there"


def _files_from(data: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {"demo/__init__.py": b'"""fuzz"""\n'}
    chunks = [data[i : i + 8] for i in range(0, min(len(data), 160), 8)]
    for i, chunk in enumerate(chunks):
        if not chunk:
            continue
        h = sum(chunk) + 7 * i
        name = _ODD[chunk[0] % len(_ODD)]
        where = ("demo", "demo/sub", "demo/3rdparty/tvm/src", "demo/3rdparty/tvm/include")[
            h % 4]
        ext = (".py", ".txt", ".cc", ".h", ".dat", ".o")[(h // 4) % 6]
        files[f"{where}/{name}{i}{ext}"] = chunk * (1 + (chunk[-1] % 7))
    return files


def _wheel(files: dict[str, bytes]) -> bytes:
    import csv

    from wheelguard.reading.archive import record_hash

    dist = "demo-1.0.dist-info"
    members = {**files,
               f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
               f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: fuzz\nRoot-Is-Purelib: true\n"
                                b"Tag: py3-none-any\n"}
    rows = [(p, record_hash(d), str(len(d))) for p, d in members.items()]
    rows.append((f"{dist}/RECORD", "", ""))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    members[f"{dist}/RECORD"] = out.getvalue().encode("utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, content in members.items():
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return buf.getvalue()


# ---- seeds ---------------------------------------------------------------------------------


def _hostile_files() -> list[Path]:
    from hostile import generate

    root = Path(tempfile.mkdtemp(prefix="wheelguard-fuzz-seeds-", dir=_TMP))
    generate.generate(root, ["archive/*", "metadata/*", "elf/*", "macho/*", "pe/*",
                             "policy/*"])
    return sorted(p for p in root.rglob("*") if p.is_file() and p.stat().st_size < (4 << 20))


def _real_wheels() -> list[Path]:
    try:
        from corpus.fetch import path_of
    except ImportError:
        return []
    out = []
    for key in _REAL_WHEELS:
        try:
            out.append(path_of(key))
        except FileNotFoundError:
            continue
    return out


def _members(paths: list[Path], magic: Callable[[bytes], bool]) -> Iterator[bytes]:
    for p in paths:
        try:
            with zipfile.ZipFile(p) as zf:
                for info in zf.infolist():
                    if 64 <= info.file_size <= _SMALL:
                        data = zf.read(info)
                        if magic(data[:8]):
                            yield data
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError,
                RuntimeError):  # hostile seeds: encrypted, broken, whatever zipfile says
            continue


def _seeds_zip() -> list[bytes]:
    hostile = [p.read_bytes() for p in _hostile_files() if p.suffix == ".whl"]
    real = [p.read_bytes() for p in _real_wheels() if p.stat().st_size <= _SMALL]
    return real + hostile


def _seeds_elf() -> list[bytes]:
    from wheelguard.formats.elf import is_elf

    paths = _real_wheels() + [p for p in _hostile_files() if p.suffix == ".whl"]
    return list(dict.fromkeys(_members(paths, is_elf)))[:64]


def _seeds_macho() -> list[bytes]:
    from wheelguard.formats import is_native
    from wheelguard.formats.elf import is_elf

    paths = _real_wheels() + [p for p in _hostile_files() if p.suffix == ".whl"]
    found = _members(paths, lambda h: is_native(h) and not is_elf(h))
    return list(dict.fromkeys(found))[:64]


def _seeds_policy() -> list[bytes]:
    from importlib import resources

    shipped = resources.files("wheelguard").joinpath("policies")
    out = [p.read_bytes() for p in shipped.iterdir() if p.name.endswith(".toml")]
    out += [p.read_bytes() for p in _hostile_files() if p.name == "policy.toml"]
    return out


def _seeds_glob() -> list[bytes]:
    pairs = [("**/*.cc", "demo/3rdparty/a.cc"), ("demo/[a-z]*.so", "demo/lib.so"),
             ("**/.git*", "a/.github/x"), ("lib*.so.[0-9]", "libfoo.so.1"),
             ("*a*a*a*b", "a" * 40), ("[!]x]?", "yz"), ("tvm_ffi/**", "tvm_ffi/lib/x")]
    return [f"{p}\x00{n}".encode() for p, n in pairs]


def _seeds_distinfo() -> list[bytes]:
    valid = [b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: numpy>=1\n",
             b"Wheel-Version: 1.0\nGenerator: fuzz\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
             b"demo/a.py,sha256=AAAA,3\ndemo-1.0.dist-info/RECORD,,\n",
             b"[console_scripts]\ndemo = demo.cli:main [extra]\n", b"a.py", b"sub/b.txt"]
    out = [b"\x00\x00".join(valid)]
    for p in _hostile_files():
        if p.suffix == ".whl":
            try:
                with zipfile.ZipFile(p) as zf:
                    files = {n.rsplit("/", 1)[-1]: n for n in zf.namelist()
                             if ".dist-info/" in n}
                    out.append(b"\x00\x00".join(
                        zf.read(files[f]) if f in files else b"" for f in _DIST_FILES))
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError,
                    RuntimeError, KeyError):
                continue
    return list(dict.fromkeys(out))[:80]


def _seeds_repair() -> list[bytes]:
    import random

    return [random.Random(i).randbytes(96 + 16 * i) for i in range(6)]


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("zip", run_zip, _seeds_zip, "the zip reader and everything audit does with a wheel"),
    Target("distinfo", run_distinfo, _seeds_distinfo, "METADATA, WHEEL, RECORD and entry "
           "points of any content in a well-formed archive, and the installability checks"),
    Target("elf", run_native, _seeds_elf, "the ELF adapter (loader view, then pyelftools)"),
    Target("elf-image", run_elf_image, _seeds_elf, "the sparse ELF image the scanner streams"),
    Target("macho", run_native, _seeds_macho, "Mach-O (thin and fat): header walk, then lief"),
    Target("policy", run_policy, _seeds_policy, "the policy loader, and matching its globs"),
    Target("glob", run_glob, _seeds_glob, "glob compilation and matching"),
    Target("repair", run_repair, _seeds_repair, "repair: output re-reads, installer validates "
           "RECORD, only planned changes"),
)}


def seeds(name: str) -> list[bytes]:
    """The seed inputs of target ``name``."""
    return TARGETS[name].seeds()


"""The scanner's fast paths read exactly what the plain path reads.

Members over 1 MB stream in chunks, large native members are kept as sparse images of what
their decoder reads (whatever the stream did not keep is inflated again from a checkpoint),
and big wheels are read by several threads (or a caller's process pool). Each of those must
give the same :class:`~wheelguard.model.Wheel` as reading every member whole, and must refuse
the same corrupt archives.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import struct
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from helpers.clibs import Compiler, LibSpec
from helpers.wheels import ZipEntry, member_data_span, patch_member, wheel_files, zip_bytes

from wheelguard.errors import InvalidWheel
from wheelguard.formats import elf, elf_image, parse_native
from wheelguard.formats.elf_image import ElfImage
from wheelguard.model import ArchivePath, Wheel
from wheelguard.reading import archive, scan
from wheelguard.reading.archive import STREAM_OUT, urlsafe_digest

# 3 MB of machine code (an executable PT_LOAD the image may drop) and 2 MB of data (RW).
BIG_SOURCE = r"""
__asm__(".text\n.globl wg_pad\n.type wg_pad,@function\nwg_pad:\n.fill 3145728,1,0x90\nret\n");
char wg_data[2 << 20] = {1};
int wg_answer(void) { return 42; }
"""
LIB = "big/lib/libbig.so"
NAME = "big-1.0-cp312-abi3-manylinux_2_17_x86_64.whl"

_PT_LOAD, _PF_X = 1, 1


@pytest.fixture(scope="module")
def big_lib(compiler: Compiler) -> bytes:
    return compiler.build("libbig.so", LibSpec(source=BIG_SOURCE, soname="libbig.so")).read_bytes()


def _wheel(tmp_path: Path, lib: bytes, *, stored: bool = False, small: int = 40) -> Path:
    files = {LIB: lib, **{f"big/data/f{i}.txt": b"line %d\n" % i * (i + 1) for i in range(small)}}
    entries = wheel_files(files, name="big", tag="cp312-abi3-manylinux_2_17_x86_64")
    if stored:
        entries = [
            ZipEntry(e.name, e.data, e.mode, zipfile.ZIP_STORED if e.name == LIB else e.compress)
            for e in entries
        ]
    path = tmp_path / NAME
    path.write_bytes(zip_bytes(entries))
    return path


def _scan_whole(path: Path) -> Wheel:
    """The reference: every member inflated whole by zipfile and parsed from bytes."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    wheel = scan.scan_wheel(path, executor=None)
    for m in wheel.members:
        data = members[m.path]
        digest = hashlib.sha256(data).digest()
        assert m.sha256 == urlsafe_digest(digest), m.path
        assert (m.size, m.magic) == (len(data), data[:8]), m.path
    expected = [
        b for n, d in sorted(members.items()) if (b := parse_native(ArchivePath(n), d))
    ]
    assert list(wheel.binaries) == expected
    return wheel


def _elf_headers(data: bytes) -> tuple[int, int, int]:
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    return phoff, phentsize, phnum


def _code_and_tables_mixed(data: bytes) -> bytes:
    """The same library with its RW segment marked executable and every non-LOAD header
    blanked: the ``.dynamic`` section now lies in a range the image would drop."""
    buf = bytearray(data)
    phoff, phentsize, phnum = _elf_headers(data)
    for i in range(phnum):
        at = phoff + i * phentsize
        p_type, flags = struct.unpack_from("<II", buf, at)
        if p_type == _PT_LOAD and flags & 0x2:
            struct.pack_into("<I", buf, at + 4, flags | _PF_X)
        elif p_type != _PT_LOAD:
            struct.pack_into("<IIQQQQQQ", buf, at, 0, 0, 0, 0, 0, 0, 0, 0)
    return bytes(buf)


def _image(data: bytes) -> ElfImage:
    image = ElfImage(len(data))
    for pos in range(0, len(data), STREAM_OUT):
        image.write(pos, data[pos : pos + STREAM_OUT])
    return image


@pytest.fixture
def small_heads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep little while streaming, as a 500 MB library's image does of its size: the
    start and the end of this 5 MB library would otherwise hold all of it."""
    monkeypatch.setattr(elf_image, "_HEAD_KEEP", 64 << 10)
    monkeypatch.setattr(elf_image, "_TAIL_KEEP", 4 << 10)


@pytest.mark.usefixtures("small_heads")
def test_large_library_streams_into_a_sparse_image(big_lib: bytes) -> None:
    assert len(big_lib) > 4 << 20
    with _image(big_lib) as image:
        assert sum(b - a for a, b in image.dropped) >= 4 << 20, "code and data are left out"
        for a, b in image.missing():  # what the scanner reads again from the stream
            image.fill(a, big_lib[a:b])
        assert image.complete()
        assert image.kept_bytes < 1 << 20
        assert elf.parse_elf(ArchivePath(LIB), image.buffer) == elf.parse_elf(
            ArchivePath(LIB), big_lib
        )


@pytest.mark.parametrize("heads", ["default", "small"])
def test_scan_of_large_members_matches_whole_reads(
    tmp_path: Path, big_lib: bytes, heads: str, request: pytest.FixtureRequest
) -> None:
    if heads == "small":
        request.getfixturevalue("small_heads")
    wheel = _scan_whole(_wheel(tmp_path, big_lib))
    binary = next(b for b in wheel.binaries if b.path == LIB)
    assert "wg_answer" in binary.exported
    assert binary.soname == "libbig.so"


@pytest.mark.usefixtures("small_heads")
def test_stored_large_member(tmp_path: Path, big_lib: bytes) -> None:
    _scan_whole(_wheel(tmp_path, big_lib, stored=True))


@pytest.mark.usefixtures("small_heads")
def test_tables_the_stream_left_behind_are_read_again(
    tmp_path: Path, big_lib: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without PT_DYNAMIC and PT_NOTE the image cannot know while streaming where the dynamic
    # section lies; the section headers at the end say it, and it is read again from the
    # nearest checkpoint of the member's stream (several here, in a 5 MB member).
    monkeypatch.setattr(archive, "CHECKPOINT_EVERY", 256 << 10)
    mixed = _code_and_tables_mixed(big_lib)
    with _image(mixed) as image:
        assert not image.complete()
    wheel = _scan_whole(_wheel(tmp_path, mixed))
    binary = next(b for b in wheel.binaries if b.path == LIB)
    # Read whole, it parses as the bytes do; with PT_DYNAMIC blanked the loader (and so the
    # adapter) sees no SONAME, while the section-level facts are all there.
    assert binary == elf.parse_elf(ArchivePath(LIB), mixed)
    assert "wg_answer" in binary.exported
    assert binary.soname is None


def test_threads_and_processes_read_the_same(
    tmp_path: Path, big_lib: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _wheel(tmp_path, big_lib, small=300)
    monkeypatch.setattr(scan, "_PARALLEL_MIN", 1 << 62)
    serial = scan.scan_wheel(path)
    monkeypatch.setattr(scan, "_PARALLEL_MIN", 0)
    monkeypatch.setattr(scan, "_workers", lambda _inflated: 2)
    seen: list[int] = []
    threaded = scan.scan_wheel(path, progress=seen.append)
    assert threaded == serial
    assert sum(seen) == serial.total_compressed
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        assert scan.scan_wheel(path, executor=pool) == serial


def _corrupt_crc(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        crc = zf.getinfo(LIB).CRC
    return patch_member(data, LIB, crc=crc ^ 0x1)


def _corrupt_stream(data: bytes) -> bytes:
    start, end = member_data_span(data, LIB)
    mid = (start + end) // 2
    return data[:mid] + b"\xff" * 64 + data[mid + 64 :]


def _declared(delta: int) -> Callable[[bytes], bytes]:
    def patch(data: bytes) -> bytes:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            size = zf.getinfo(LIB).file_size
        return patch_member(data, LIB, file_size=size + delta)

    return patch


@pytest.mark.parametrize(
    "damage",
    [_corrupt_crc, _corrupt_stream, _declared(-4096), _declared(4096)],
    ids=["crc", "deflate-stream", "declared-smaller", "declared-larger"],
)
@pytest.mark.parametrize("mode", ["serial", "threads"])
def test_large_member_damage_is_refused(
    tmp_path: Path,
    big_lib: bytes,
    damage: Callable[[bytes], bytes],
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = _wheel(tmp_path, big_lib)
    path.write_bytes(damage(path.read_bytes()))
    if mode == "threads":
        monkeypatch.setattr(scan, "_PARALLEL_MIN", 0)
        monkeypatch.setattr(scan, "_workers", lambda _inflated: 2)
    with pytest.raises(InvalidWheel, match=r"libbig\.so.*is corrupt"):
        scan.scan_wheel(path)


def test_damage_found_in_a_worker_process_reaches_the_caller(
    tmp_path: Path, big_lib: bytes
) -> None:
    path = _wheel(tmp_path, big_lib)
    path.write_bytes(_corrupt_crc(path.read_bytes()))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool, pytest.raises(
        InvalidWheel, match=r"libbig\.so.*is corrupt"
    ):
        scan.scan_wheel(path, executor=pool)

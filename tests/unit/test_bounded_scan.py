"""Large members are held as sparse images of what their decoder reads, in bounded memory.

Every native format streams into a :class:`~wheelguard.formats.sparse.SparseImage` that keeps
only the ranges its decoder reads; whatever the stream did not keep is inflated again from a
checkpoint, and Mach-O code signatures are checked against page digests taken while streaming.
The thresholds are made tiny here so that small fixtures take every one of those paths, and the
result must equal parsing each member whole.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from helpers.native_fixtures import FIXTURES, NativeFixtures
from helpers.wheels import wheel_files, zip_bytes

from wheelguard.formats import elf_image, macho_image, parse_native, pe_image
from wheelguard.formats.sparse import MissingBytes, PageHasher, SparseImage, add, subtract
from wheelguard.model import ArchivePath, Wheel
from wheelguard.reading import archive, raw, scan
from wheelguard.reading.archive import Checkpoint, RawReader, WheelArchive


@pytest.fixture
def stream_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every member streams, images keep almost nothing up front, checkpoints are dense."""
    monkeypatch.setattr(scan, "_SMALL", 0)
    monkeypatch.setattr(elf_image, "_HEAD_KEEP", 512)
    monkeypatch.setattr(elf_image, "_TAIL_KEEP", 512)
    monkeypatch.setattr(macho_image, "_MACHO_HEAD", 64)
    monkeypatch.setattr(pe_image, "_PE_HEAD", 64)
    monkeypatch.setattr(archive, "CHECKPOINT_EVERY", 16 << 10)


def _whole(path: Path) -> tuple[dict[str, object], dict[str, str]]:
    """Every native member parsed from its whole bytes; and the digests of all members."""
    parsed: dict[str, object] = {}
    digests: dict[str, str] = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith("/"):
                continue  # directory entries: the scan lists files only
            data = zf.read(name)
            digests[name] = archive.urlsafe_digest(hashlib.sha256(data).digest())
            try:
                binary = parse_native(ArchivePath(name), data)
            except ValueError:
                continue
            if binary is not None:
                parsed[name] = binary
    return parsed, digests


def _assert_same_as_whole(wheel: Wheel, path: Path) -> None:
    parsed, digests = _whole(path)
    assert {m.path: m.sha256 for m in wheel.members} == digests
    assert {b.path: b for b in (*wheel.binaries, *wheel.debug_companions)} == parsed


@pytest.mark.usefixtures("stream_everything")
def test_mach_o_and_pe_fixtures_stream_into_sparse_images(
    tmp_path: Path, native_fixtures: NativeFixtures
) -> None:
    files = {f"demo/{name}": native_fixtures.read(name) for name in FIXTURES}
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(zip_bytes(wheel_files(files)))
    wheel = scan.scan_wheel(path)
    assert len(wheel.binaries) >= 15
    assert any(b.macho and b.macho.slices[0].signature_valid for b in wheel.binaries)
    _assert_same_as_whole(wheel, path)


@pytest.mark.usefixtures("stream_everything")
def test_a_signature_with_other_pages_is_hashed_again(
    tmp_path: Path, native_fixtures: NativeFixtures, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stream hashes 4 KiB SHA-256 pages; pretend it hashed 8 KiB ones, so that every
    # signature asks for pages the stream did not hash and the scanner hashes them again.
    original = PageHasher.__init__

    def other_pages(self: PageHasher, base: int, size: int, algorithm: str = "sha256",
                    page: int = 4096) -> None:
        original(self, base, size, algorithm, 8192 if page == 4096 else page)

    monkeypatch.setattr(PageHasher, "__init__", other_pages)
    again: list[tuple[int, str, int]] = []
    digests = scan._page_digests

    def counted(reader: RawReader, ext: archive.Extent, checkpoints: list[Checkpoint],
                hasher: PageHasher) -> list[bytes]:
        again.append(hasher.key)
        return digests(reader, ext, checkpoints, hasher)

    monkeypatch.setattr(scan, "_page_digests", counted)
    signed = [n for n in FIXTURES if n.startswith("macos/") and "unsigned" not in n]
    files = {f"demo/{name}": native_fixtures.read(name) for name in signed}
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(zip_bytes(wheel_files(files)))
    wheel = scan.scan_wheel(path)
    assert again
    _assert_same_as_whole(wheel, path)


def test_resume_from_any_checkpoint_gives_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(raw, "CHECKPOINT_EVERY", 64 << 10)
    # Little to compress: a checkpoint can only be taken between two reads of the file.
    data = b"".join(hashlib.sha256(b"%d" % i).digest() * (1 + i % 2) for i in range(80000))
    path = tmp_path / "demo-1.0-py3-none-any.whl"
    path.write_bytes(zip_bytes(wheel_files({"demo/blob.bin": data})))
    with WheelArchive(path) as wa, RawReader(str(path)) as reader:
        ext = next(e for e in wa.extents() if e.path == "demo/blob.bin")
        checkpoints: list[Checkpoint] = []
        assert b"".join(reader.iter_chunks(ext, checkpoints)) == data
        assert len(checkpoints) > 5
        for start in (0, 1, 70_000, len(data) // 2, len(data) - 5):
            got = bytearray()
            for at, chunk in reader.resume(ext, checkpoints, start):
                assert at <= start + len(got) or got
                got += chunk
            first = max(c.out for c in checkpoints if c.out <= start)
            assert bytes(got) == data[first:]


def test_an_image_refuses_to_hand_out_bytes_it_did_not_keep() -> None:
    with SparseImage(1 << 20) as image:
        image.want(0, 100)
        image.want(4096, 8192)
        image.write(0, b"\1" * (1 << 20))
        assert image.kept == [(0, 100), (4096, 8192)]
        image.require(4096, 8000)
        with pytest.raises(MissingBytes) as e:
            image.require(50, 5000)
        assert (e.value.start, e.value.stop) == (100, 4096)


def test_ranges_merge_and_subtract() -> None:
    ranges: list[tuple[int, int]] = []
    assert add(ranges, 10, 20)
    assert add(ranges, 30, 40)
    assert not add(ranges, 12, 18)
    assert add(ranges, 20, 30)
    assert ranges == [(10, 40)]
    assert subtract(0, 50, ranges) == [(0, 10), (40, 50)]


_PUBLISHED = ("tvm-ffi-linux", "tvm-ffi-macos-arm64", "tvm-ffi-win", "numpy-macos-x86_64")


@pytest.mark.parametrize("key", _PUBLISHED)
@pytest.mark.usefixtures("stream_everything")
def test_published_wheels_stream_to_the_same_values(key: str) -> None:
    """Real layouts (patchelf-appended tables, universal files, SHA-1 code directories), where
    the corpus cache has them; the corpus is fetched by tests/corpus/fetch.py, not here."""
    from corpus.fetch import path_of

    try:
        path = path_of(key)
    except FileNotFoundError as e:
        pytest.skip(str(e))
    _assert_same_as_whole(scan.scan_wheel(path), path)

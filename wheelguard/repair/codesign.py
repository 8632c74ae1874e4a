"""Ad-hoc code signatures re-sealed after an edit, on any host.

An ad-hoc signature (what ld64 and ``codesign -s -`` write, and what Apple silicon requires of
every arm64 image) is a CodeDirectory of page hashes and nothing else: no certificate, no
secret. After an edit that leaves the layout where it was (an install name or an ``LC_RPATH``
rewritten within the load commands' padding, which is what ``install_name_tool`` can do too),
the signature is made valid again by hashing each page anew, as ``codesign`` would. That is
what :func:`reseal` does; it is the product version of the test helper that made the fixtures.

Where it cannot, it raises :class:`ResealError` and says why, and the repair reports that the
file must be re-signed on macOS: the layout moved (the signed range no longer ends where the
signature starts), or the signature carries a certificate (a Developer ID signature covers the
CodeDirectory's hash; re-hashing the pages would leave a certificate that no longer matches,
so only ``codesign`` with the key can redo it).

Why not a signer from PyPI: the one ad-hoc signer published there (``apple-platform-py`` 0.1.0,
a ctypes binding of the apple-codesign crate) has a single release and a single maintainer, and
a release gate that runs on every build should not execute a native library of that standing.
Re-sealing covers the edits wheelguard makes; anything beyond it is a job for ``codesign`` on
a Mac, and the repair says so instead of guessing.
"""

from __future__ import annotations

import hashlib
import struct

from wheelguard.errors import RepairError
from wheelguard.formats.macho import MachOParseError, signature_range, slice_ranges

__all__ = ["ResealError", "reseal"]

_SUPERBLOB = 0xFADE0CC0
_CODEDIRECTORY = 0xFADE0C02
_BLOBWRAPPER = 0xFADE0B01
_SIGNATURE_SLOT = 0x10000
_CS_ADHOC = 0x2
_HASHES = {1: "sha1", 2: "sha256", 3: "sha256", 4: "sha384"}


class ResealError(RepairError):
    """The signature cannot be made valid here; the file must be re-signed on macOS."""


def reseal(data: bytes) -> bytes:
    """``data`` with the page hashes of every ad-hoc signature (every slice) recomputed.

    Unsigned slices are left alone. Raises :class:`ResealError` when a signature cannot be
    re-sealed without ``codesign``.
    """
    out = bytearray(data)
    try:
        for base, size in slice_ranges(data):
            where = signature_range(data, base, size)
            if where is not None:
                _reseal_slice(out, base, size, *where)
    except (MachOParseError, struct.error) as e:
        raise ResealError(f"the signature cannot be read ({e})") from None
    return bytes(out)


def _reseal_slice(out: bytearray, base: int, size: int, dataoff: int, datasize: int) -> None:
    if dataoff + datasize > size:
        raise ResealError(f"the signature at {dataoff}+{datasize} runs past the slice")
    sig = base + dataoff
    magic, _length, count = struct.unpack_from(">III", out, sig)
    if magic != _SUPERBLOB:
        raise ResealError(f"signature superblob magic {magic:#x}")
    directories = []
    for i in range(count):
        slot, offset = struct.unpack_from(">II", out, sig + 12 + 8 * i)
        blob_magic, blob_length = struct.unpack_from(">II", out, sig + offset)
        if blob_magic == _CODEDIRECTORY:
            directories.append(sig + offset)
        elif slot == _SIGNATURE_SLOT and blob_magic == _BLOBWRAPPER and blob_length > 8:
            raise ResealError("signed with a certificate: only codesign with the signing "
                              "identity can redo it")
    if not directories:
        raise ResealError("the signature has no CodeDirectory")
    for cd in directories:
        fields = struct.unpack_from(">9I4B", out, cd)
        flags, hash_offset, n_code, code_limit = fields[3], fields[4], fields[7], fields[8]
        hash_size, hash_type, page_shift = fields[9], fields[10], fields[12]
        if not flags & _CS_ADHOC:
            raise ResealError("not an ad-hoc signature")
        if code_limit != dataoff:
            raise ResealError(f"the signed range ends at {code_limit} but the signature now "
                              f"starts at {dataoff}: the layout moved")
        algorithm = _HASHES.get(hash_type)
        if algorithm is None:
            raise ResealError(f"hash type {hash_type} is not one re-sealing supports")
        page = 1 << page_shift if page_shift else code_limit
        if n_code != -(-code_limit // page):
            raise ResealError(f"{n_code} code slots for {code_limit} bytes in pages of {page}")
        for k in range(n_code):
            lo = base + k * page
            hi = base + min((k + 1) * page, code_limit)
            digest = hashlib.new(algorithm, out[lo:hi]).digest()[:hash_size]
            at = cd + hash_offset + k * hash_size
            out[at : at + hash_size] = digest

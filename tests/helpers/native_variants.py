"""Variants of the zig-built Mach-O and PE fixtures, made by editing bytes in place.

Each variant differs from its fixture in one fact a check looks at (a UUID, an install name,
a minimum macOS, a broken signature), and nothing else moves: strings are replaced by strings of
the same length, numbers in their fields. Signed Mach-O variants are re-sealed with the test
helper :func:`helpers.native_fixtures.reseal_adhoc`, not with wheelguard's own re-sealer, so
the audit is never judged by bytes the product produced.
"""

from __future__ import annotations

import struct

from .native_fixtures import LC_UUID, load_commands, reseal_adhoc

__all__ = [
    "LC_BUILD_VERSION",
    "broken_signature",
    "replaced",
    "with_minos",
    "with_uuid",
    "without_signature",
]

LC_BUILD_VERSION = 0x32
LC_CODE_SIGNATURE = 0x1D


def replaced(data: bytes, old: str, new: str, *, reseal: bool = True) -> bytes:
    """``data`` with the one NUL-terminated occurrence of ``old`` replaced by ``new`` (of the
    same length), re-sealed if it is a signed Mach-O file."""
    assert len(old) == len(new), (old, new)
    needle = old.encode() + b"\0"
    assert data.count(needle) == 1, f"{old!r} occurs {data.count(needle)} times"
    out = data.replace(needle, new.encode() + b"\0")
    return reseal_adhoc(out) if reseal and out[:4] == b"\xcf\xfa\xed\xfe" else out


def with_uuid(data: bytes, uuid: bytes) -> bytes:
    (offset,) = [o for o, cmd, _s in load_commands(data) if cmd == LC_UUID]
    out = bytearray(data)
    out[offset + 8 : offset + 24] = uuid
    return reseal_adhoc(bytes(out))


def with_minos(data: bytes, major: int, minor: int) -> bytes:
    (offset,) = [o for o, cmd, _s in load_commands(data) if cmd == LC_BUILD_VERSION]
    out = bytearray(data)
    struct.pack_into("<I", out, offset + 12, (major << 16) | (minor << 8))
    return reseal_adhoc(bytes(out))


def broken_signature(data: bytes) -> bytes:
    """One byte of the header padding (signed, unused) changed and the signature left alone:
    what an edit without re-signing leaves behind."""
    sizeofcmds = struct.unpack_from("<I", data, 20)[0]
    at = 32 + sizeofcmds + 16
    assert data[at] == 0, "expected header padding"
    out = bytearray(data)
    out[at] = 0x5A
    return bytes(out)


def without_signature(data: bytes) -> bytes:
    """``LC_CODE_SIGNATURE`` removed by lief, as the fixture recipe removes it."""
    import lief

    lief.logging.disable()
    fat = lief.MachO.parse(data)
    assert fat is not None
    binary = fat.at(0)
    assert binary is not None
    binary.remove_signature()
    return bytes(binary.write_to_bytes())

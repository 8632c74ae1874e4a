"""Which DLLs a Windows wheel may import without shipping them.

Three groups, by who puts the DLL on the user's machine:

- **Windows itself**: API sets (``api-ms-win-*``, ``ext-ms-*``, resolved by the loader, never
  files) and the DLLs of ``System32`` that a Python extension plausibly imports. The list is
  curated, not exhaustive: a system DLL missing from it is reported as not found, and the fix
  is one line here.
- **the interpreter**: ``python3.dll``/``python3XX.dll``, and ``vcruntime140.dll`` and
  ``vcruntime140_1.dll``, which the CPython installers ship next to ``python.exe`` (delvewheel
  relies on the same; Microsoft promises backward compatibility within the 14.x runtime).
- **the Visual C++ redistributable**: the rest of the MSVC runtime (``msvcp140*.dll``,
  ``vcomp140.dll``, ``concrt140.dll`` ...). Neither Windows nor CPython ships it; many machines
  have it, and a DLL of that name loaded earlier by another package satisfies the import too,
  so a wheel that imports it without shipping it works on some machines only.

Drivers (``nvcuda.dll``, ``OpenCL.dll``) come with the GPU driver, like ``libcuda.so.1`` on
Linux: a fact to report, not a library to ship.
"""

from __future__ import annotations

import re
from typing import Literal

__all__ = ["DllOrigin", "dll_origin"]

DllOrigin = Literal["windows", "interpreter", "redistributable", "driver"]

_API_SET = re.compile(r"^(api|ext)-ms-", re.IGNORECASE)
_PYTHON = re.compile(r"^python3(\d+)?t?\.dll$", re.IGNORECASE)
_CPYTHON_RUNTIME = frozenset({"vcruntime140.dll", "vcruntime140_1.dll"})
_REDISTRIBUTABLE = re.compile(
    r"^(msvcp1\d\d(_\w+)?|msvcr1\d\d|vcruntime140_threads|vcomp1\d\d|concrt1\d\d|vccorlib1\d\d"
    r"|mfc1\d\du?|vcamp1\d\d)\.dll$", re.IGNORECASE)
_DRIVERS = frozenset({"nvcuda.dll", "nvml.dll", "opencl.dll", "nvapi64.dll", "amdhip64.dll",
                      "vulkan-1.dll"})

# System32 DLLs a Python extension or its libraries import in practice (lower case).
_SYSTEM = frozenset({
    "advapi32", "authz", "avrt", "bcrypt", "bcryptprimitives", "cabinet", "cfgmgr32", "clbcatq",
    "combase", "comctl32", "comdlg32", "credui", "crypt32", "cryptbase", "cryptnet", "cryptsp",
    "d2d1", "d3d10", "d3d10_1", "d3d11", "d3d12", "d3d9", "d3dcompiler_47", "dbgeng", "dbghelp",
    "dcomp", "devobj", "dhcpcsvc", "dinput8", "dnsapi", "dsound", "dwmapi", "dwrite", "dxgi",
    "dxva2", "esent", "evr", "fltlib", "fwpuclnt", "gdi32", "gdiplus", "glu32", "hid",
    "httpapi", "imagehlp", "imm32", "iphlpapi", "kernel32", "kernelbase", "ksuser", "ktmw32",
    "mf", "mfplat", "mfreadwrite", "mpr", "msacm32", "msasn1", "mscoree", "msctf", "msi",
    "msimg32", "msvcrt", "mswsock", "ncrypt", "netapi32", "normaliz", "ntdll", "ntmarta",
    "ole32", "oleacc", "oleaut32", "opengl32", "pdh", "powrprof", "propsys", "psapi", "rpcrt4",
    "rstrtmgr", "sechost", "secur32", "setupapi", "shcore", "shell32", "shlwapi", "sspicli",
    "t2embed", "tdh", "ucrtbase", "urlmon", "user32", "userenv", "usp10", "uxtheme", "version",
    "virtdisk", "wer", "winhttp", "wininet", "winmm", "winspool", "wintrust", "wldap32",
    "wlanapi", "ws2_32", "wsock32", "wtsapi32", "xinput1_4", "xinput9_1_0", "windowscodecs",
    "winusb", "wevtapi", "wbemuuid", "comsvcs", "mfc42", "netutils", "srvcli",
})


def dll_origin(name: str) -> DllOrigin | None:
    """Who provides DLL ``name`` on the user's machine, or None: the wheel (or a provider)
    must."""
    lower = name.lower()
    if _API_SET.match(lower):
        return "windows"
    if lower in _CPYTHON_RUNTIME or _PYTHON.match(lower):
        return "interpreter"
    if _REDISTRIBUTABLE.match(lower):
        return "redistributable"
    if lower in _DRIVERS:
        return "driver"
    stem = lower.removesuffix(".dll").removesuffix(".drv")
    if stem in _SYSTEM and lower.endswith((".dll", ".drv")):
        return "windows"
    return None

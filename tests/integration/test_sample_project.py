"""wheelguard against real wheels: the tinykern sample project, clean and with each field defect.

Three things are checked for every variant, because each alone could lie:

* the wheel really carries the planted defect and nothing else (inspected here directly with
  pyelftools, independently of wheelguard), so a disagreement below is the audit's fault;
* ``wheelguard audit --format json`` reports exactly the checks of the ground-truth table;
* for the clean and the bundled-runtime wheels, the defect (or its absence) shows at run time:
  installed into a fresh venv, the clean wheel maps one libtvm_ffi and computes a correct GEMM,
  the bundling wheel maps two.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.parser import Parser
from importlib import metadata
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import pytest
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO_ROOT = Path(__file__).resolve().parents[2]

# Ground truth: variant -> the audit check ids it must produce, no more, no fewer. Every
# variant is built by `pip wheel`, so every one carries a linux_x86_64 tag the package index
# refuses (WG406) until a repair step retags it.
_BUILT = frozenset({"WG406"})
GROUND_TRUTH: dict[str, frozenset[str]] = {
    "clean": _BUILT,
    "bundle-ffi": _BUILT | {"WG105"},
    "embed-ffi": _BUILT | {"WG104"},
    "abs-rpath": _BUILT | {"WG201"},
    "cwd-rpath": _BUILT | {"WG202"},
    "vendored-3rdparty": _BUILT | {"WG401"},
    "foreign-runpath": _BUILT | {"WG204"},
    "debug": _BUILT | {"WG404"},
}

# The lowest apache-tvm-ffi the sample's Requires-Dist admits: the clean wheel must run on it.
TVM_FFI_LOWER_BOUND = "0.1.12"

# libtvm_ffi.so, or an auditwheel-grafted copy (libtvm_ffi-1a2b3c4d.so); not libtvm_ffi_testing.
RUNTIME_NAME = re.compile(r"libtvm_ffi(?:-[0-9a-f]{8})?\.so(?:\.[0-9.]+)?")

# Runs inside the venv: import tinykern, compare its GEMMs with numpy, list mapped runtimes.
PROBE = """
import json, os, re, sys
import numpy as np
import tinykern, tvm_ffi

runtime = re.compile(os.environ["PROBE_RUNTIME_RE"])
rng = np.random.default_rng(0)
a = rng.standard_normal((67, 45), dtype=np.float32)
b = rng.standard_normal((45, 29), dtype=np.float32)
report = {"tvm_ffi": tvm_ffi.__version__, "tinykern": tinykern.__file__}
report["err32"] = float(np.abs(tinykern.gemm(a, b) - a @ b).max())
a64, b64 = a.astype(np.float64), b.astype(np.float64)
report["err64"] = float(np.abs(tinykern.gemm(a64, b64) - a64 @ b64).max())
report["tile_config"] = tinykern.jit.tile_config()
if os.environ.get("PROBE_JIT") == "1":
    report["err_jit"] = float(np.abs(tinykern.jit.compile_gemm(67, 29, 45)(a, b) - a @ b).max())
with open("/proc/self/maps") as maps:
    paths = {line.split()[-1] for line in maps if line.count("/")}
report["mapped"] = sorted(p for p in paths if runtime.fullmatch(os.path.basename(p)))
print("PROBE " + json.dumps(report))
"""


# --------------------------------------------------------------------------------------------
# Independent inspection of what a wheel carries


def _elf_members(archive: zipfile.ZipFile) -> Iterator[tuple[str, ELFFile]]:
    for name in archive.namelist():
        data = archive.read(name)
        if data[:4] == b"\x7fELF":
            yield name, ELFFile(io.BytesIO(data))


def _dynamic_tags(elf: ELFFile) -> list[Any]:
    """Typed Any: pyelftools sets ``needed``/``rpath``/``runpath`` on tags at run time."""
    dynamic = elf.get_section_by_name(".dynamic")
    return list(dynamic.iter_tags()) if isinstance(dynamic, DynamicSection) else []


def _run_paths(elf: ELFFile) -> list[str]:
    entries: list[str] = []
    for tag in _dynamic_tags(elf):
        if tag.entry.d_tag == "DT_RUNPATH":
            entries += tag.runpath.split(":")
        elif tag.entry.d_tag == "DT_RPATH":
            entries += tag.rpath.split(":")
    return entries


def _exports_tvm_ffi_abi(elf: ELFFile) -> bool:
    dynsym = elf.get_section_by_name(".dynsym")
    return isinstance(dynsym, SymbolTableSection) and any(
        symbol.name.startswith("TVMFFI") and symbol["st_shndx"] != "SHN_UNDEF"
        for symbol in dynsym.iter_symbols()
    )


def planted_defects(wheel: Path) -> set[str]:
    """The defects (named as the sample variants) this wheel really carries."""
    found: set[str] = set()
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_levels = {name.split("/", 1)[0] for name in names}
        for name in names:
            base = PurePosixPath(name).name
            if RUNTIME_NAME.fullmatch(base):
                found.add("bundle-ffi")
            if "/3rdparty/" in name and "/include/" not in name and base != "LICENSE":
                found.add("vendored-3rdparty")
        for name, elf in _elf_members(archive):
            if elf.get_section_by_name(".debug_info") is not None:
                found.add("debug")
            if not RUNTIME_NAME.fullmatch(PurePosixPath(name).name) and _exports_tvm_ffi_abi(elf):
                found.add("embed-ffi")
            for entry in _run_paths(elf):
                if entry.startswith("/"):
                    found.add("abs-rpath")
                elif not entry.startswith(("$ORIGIN", "${ORIGIN}")):
                    found.add("cwd-rpath")
                else:
                    relative = entry.split("}", 1)[-1] if entry[1] == "{" else entry[7:]
                    target = posixpath.normpath(posixpath.dirname(name) + "/" + relative)
                    if target.split("/", 1)[0] not in top_levels:
                        found.add("foreign-runpath")  # another distribution, or above the root
    return found


def _fatbin_archs(library: bytes) -> set[tuple[str, int]]:
    """(kind, sm) of each entry of the CUDA fat binary: kind "sass" (cubin) or "ptx"."""
    section = ELFFile(io.BytesIO(library)).get_section_by_name(".nv_fatbin")
    if section is None:
        return set()
    data, offset, found = section.data(), 0, set()
    while offset + 16 <= len(data):
        magic, _, header_size, fat_size = struct.unpack_from("<IHHQ", data, offset)
        if magic != 0xBA55ED50:
            break
        entry, end = offset + header_size, offset + header_size + fat_size
        while entry < end:
            kind, _, entry_header, size = struct.unpack_from("<HHIQ", data, entry)
            (arch,) = struct.unpack_from("<I", data, entry + 28)
            found.add(({1: "ptx", 2: "sass"}.get(kind, str(kind)), arch))
            entry += entry_header + size
        offset = end
    return found


# --------------------------------------------------------------------------------------------
# Helpers


def _with_pythonpath(first: Path) -> str:
    return os.pathsep.join(filter(None, [str(first), os.environ.get("PYTHONPATH")]))


def audit(wheel: Path, cwd: Path) -> tuple[int, dict[str, Any]]:
    """Run ``wheelguard audit --format json`` as a user would; return (exit code, report).

    Runs from a scratch directory so that no ``[tool.wheelguard]`` policy in a pyproject.toml
    around the test changes what the default audit reports.
    """
    env = {**os.environ, "PYTHONPATH": _with_pythonpath(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "wheelguard", "audit", "--format", "json", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    assert result.returncode in (0, 1), f"audit crashed ({result.returncode}):\n{result.stderr}"
    return result.returncode, json.loads(result.stdout)


@dataclass(frozen=True)
class ProbeResult:
    """What PROBE printed (None if it died first), and the runtimes the loader initialised."""

    report: dict[str, Any] | None
    returncode: int
    stderr: str
    initialised_runtimes: list[str]


def probe(venv: Any, tmp_path: Path, *, jit: bool = False) -> ProbeResult:
    """Run PROBE in ``venv`` under ``LD_DEBUG=files``.

    The loader's own trace names every object it initialised, so a second libtvm_ffi shows up
    even when its constructors abort the process before the probe can read /proc/self/maps.
    """
    env = {
        "PROBE_RUNTIME_RE": RUNTIME_NAME.pattern,
        "PROBE_JIT": "1" if jit else "0",
        "TINYKERN_CACHE_DIR": str(tmp_path / "jit-cache"),
        "LD_DEBUG": "files",
        "LD_DEBUG_OUTPUT": str(tmp_path / "ld-debug"),
    }
    result = venv.run(PROBE, env=env, cwd=tmp_path)
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE ")]
    initialised: set[str] = set()
    for log in tmp_path.glob("ld-debug.*"):
        for match in re.finditer(r"calling init: (\S+)", log.read_text(errors="replace")):
            if RUNTIME_NAME.fullmatch(Path(match.group(1)).name):
                initialised.add(str(Path(match.group(1)).resolve()))
    return ProbeResult(
        report=json.loads(lines[-1].removeprefix("PROBE ")) if lines else None,
        returncode=result.returncode,
        stderr=result.stderr,
        initialised_runtimes=sorted(initialised),
    )


# --------------------------------------------------------------------------------------------
# Tests


def test_ground_truth_covers_every_variant(sample_builder: ModuleType) -> None:
    """A variant without an expected result (or a stale expectation) is a hole in the suite."""
    assert set(GROUND_TRUTH) == set(sample_builder.VARIANTS)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(GROUND_TRUTH))
def test_variant_carries_exactly_its_defect(
    variant: str, sample_wheel: Callable[[str], Path]
) -> None:
    """Checked without wheelguard, so that an audit disagreement below is not a build bug."""
    expected = set() if variant == "clean" else {variant}
    assert planted_defects(sample_wheel(variant)) == expected


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(GROUND_TRUTH))
def test_audit_reports_exactly_the_planted_defects(
    variant: str, sample_wheel: Callable[[str], Path], tmp_path: Path
) -> None:
    status, report = audit(sample_wheel(variant), tmp_path)
    assert report["schema_version"] == 1
    (wheel_report,) = report["wheels"]
    findings = wheel_report["findings"]
    shown = [f"{f['check']} {f['severity']} {f['path']}: {f['message']}" for f in findings]
    assert {f["check"] for f in findings} == GROUND_TRUTH[variant], "\n".join(shown)
    has_error = any(f["severity"] == "error" for f in findings)
    assert status == (1 if has_error else 0), "\n".join(shown)


@pytest.mark.slow
def test_clean_wheel_metadata_and_targets(
    sample_wheel: Callable[[str], Path], sample_cuda: bool
) -> None:
    """One py3 wheel for every CPython >= 3.9, any apache-tvm-ffi 0.1.x from 0.1.12 on."""
    wheel = sample_wheel("clean")
    with zipfile.ZipFile(wheel) as archive:
        wheel_info = Parser().parsestr(archive.read("tinykern-0.1.0.dist-info/WHEEL").decode())
        meta = Parser().parsestr(archive.read("tinykern-0.1.0.dist-info/METADATA").decode())
        library = archive.read("tinykern/lib/libtinykern.so")
    assert wheel_info.get_all("Tag") == ["py3-none-linux_x86_64"]
    python = SpecifierSet(meta["Requires-Python"])
    assert all(v in python for v in ("3.9", "3.12", "3.13"))
    requirements = [Requirement(line) for line in meta.get_all("Requires-Dist", [])]
    (tvm_ffi,) = [r for r in requirements if r.name == "apache-tvm-ffi"]
    for admitted in ("0.1.12", metadata.version("apache-tvm-ffi"), "0.1.99"):
        assert tvm_ffi.specifier.contains(admitted, prereleases=True), admitted
    for rejected in ("0.1.11", "0.2.0"):
        assert not tvm_ffi.specifier.contains(rejected), rejected

    elf = ELFFile(io.BytesIO(library))
    needed = [tag.needed for tag in _dynamic_tags(elf) if tag.entry.d_tag == "DT_NEEDED"]
    assert "libtvm_ffi.so" in needed
    assert not [n for n in needed if n.startswith(("libcudart", "libpython"))], needed
    if sample_cuda:  # fp16 GEMM for Ampere and Hopper, plus PTX for later GPUs
        assert {("sass", 80), ("sass", 90), ("ptx", 90)} <= _fatbin_archs(library)


@pytest.mark.slow
@pytest.mark.network
@pytest.mark.parametrize(
    "tvm_ffi", [None, TVM_FFI_LOWER_BOUND], ids=["build-env-tvm-ffi", "lowest-admitted-tvm-ffi"]
)
def test_clean_wheel_maps_one_runtime_and_computes(
    tvm_ffi: str | None,
    sample_wheel: Callable[[str], Path],
    make_venv: Callable[..., Any],
    tmp_path: Path,
) -> None:
    venv = make_venv(sample_wheel("clean"), tvm_ffi=tvm_ffi)
    jit = tvm_ffi is None and shutil.which("c++") is not None
    result = probe(venv, tmp_path, jit=jit)
    assert result.returncode == 0, result.stderr[-3000:]
    report = result.report
    assert report is not None
    assert report["tvm_ffi"] == (tvm_ffi or metadata.version("apache-tvm-ffi"))
    assert report["err32"] < 1e-4
    assert report["err64"] < 1e-10
    assert report["tile_config"]["cuda_tile"] == 16  # read from the installed header
    if jit:  # compiled at run time against the headers the wheel keeps
        assert report["err_jit"] < 1e-4
    (runtime,) = report["mapped"]
    assert Path(runtime).resolve().is_relative_to(venv.root.resolve())
    assert PurePosixPath(runtime).parent.as_posix().endswith("tvm_ffi/lib")
    assert result.initialised_runtimes == [str(Path(runtime).resolve())]


@pytest.mark.slow
@pytest.mark.network
def test_bundled_runtime_is_really_mapped_twice(
    sample_wheel: Callable[[str], Path], make_venv: Callable[..., Any], tmp_path: Path
) -> None:
    """The defect WG105 names is real: apache-tvm-ffi's libtvm_ffi and the bundled copy both
    get mapped and initialised. (With tvm-ffi 0.1.15 the copy's constructors then re-register
    types into the first runtime and the import aborts; either way two runtimes were loaded.)"""
    venv = make_venv(sample_wheel("bundle-ffi"))
    result = probe(venv, tmp_path)
    parents = sorted(PurePosixPath(p).parent.parent.name for p in result.initialised_runtimes)
    assert parents == ["tinykern", "tvm_ffi"], (result.initialised_runtimes, result.stderr[-2000:])
    if result.report is not None:  # a tvm-ffi release that survives the double load
        assert len(result.report["mapped"]) == 2


@pytest.mark.gpu
@pytest.mark.slow
def test_gemm_cuda_matches_torch(
    sample_wheel: Callable[[str], Path], sample_cuda: bool, tmp_path: Path
) -> None:
    """fp16 GEMM on the GPU through DLPack, on a non-default torch stream."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if not sample_cuda:
        pytest.skip("the clean sample wheel was built without CUDA (no nvcc)")
    site = tmp_path / "site"
    with zipfile.ZipFile(sample_wheel("clean")) as archive:
        archive.extractall(site)
    code = """
import torch, tinykern
assert tinykern.built_with_cuda(), tinykern.build_info()
worst = 0.0
for m, n, k in [(128, 96, 64), (257, 129, 77), (1024, 1024, 1024)]:
    a = torch.randn(m, k, device="cuda", dtype=torch.float16)
    b = torch.randn(k, n, device="cuda", dtype=torch.float16)
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        c = tinykern.gemm_cuda(a, b)
    stream.synchronize()
    ref = a.double().cpu() @ b.double().cpu()
    worst = max(worst, ((c.double().cpu() - ref).abs() / (1 + ref.abs())).max().item())
print(worst)
"""
    env = {**os.environ, "PYTHONPATH": _with_pythonpath(site)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert float(result.stdout.split()[-1]) < 1e-3

"""The classes of false alarm the corpus study found (issue 11), each against gcc-built
libraries in a wheel built for the case: what must be an error stays one, what cannot hurt is
not. The corpus itself is tests/corpus/test_corpus.py."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.clibs import TVMFFI_SOURCE, Compiler, LibSpec
from helpers.wheels import RecordTweaks, build_wheel, record_digest

from wheelguard.audit import AuditOptions, audit_wheel
from wheelguard.checks.artifacts import harm
from wheelguard.knowledge.providers import (
    declared,
    find_requirement,
    known_providers,
    marker_environment,
    providers_for_soname,
)
from wheelguard.model import ArchivePath, Finding, Severity
from wheelguard.reading.pysource import read_module
from wheelguard.reading.scan import scan_wheel

EXT = "void *PyInit_{name}(void) {{ return (void *)0; }}\n"

Audits = Mapping[str, tuple[int, dict[str, Any]]]


@pytest.fixture(scope="module")
def built(compiler: Compiler) -> Mapping[str, bytes]:
    """The libraries of this module's wheels, compiled once."""
    return compiler.build_all((
        ("libffi_one.so", LibSpec(source=TVMFFI_SOURCE, soname="libffi_one.so")),
        ("libffi_two.so", LibSpec(source=TVMFFI_SOURCE + "int two(void) { return 2; }\n",
                                  soname="libffi_two.so")),
        ("_one.abi3.so", LibSpec(source=EXT.format(name="_one") + "int TVMFFIObjectIncRef(void *);"
                                 "\nint one(void *p) { return TVMFFIObjectIncRef(p); }\n",
                                 rpath=("$ORIGIN/lib",), link=("libffi_one.so",))),
        ("_two.abi3.so", LibSpec(source=EXT.format(name="_two") + "int two(void);\n"
                                 "int use_two(void) { return two(); }\n",
                                 rpath=("$ORIGIN/lib",), link=("libffi_two.so",))),
        ("libz.so.1.2", LibSpec(source="int zz(void) { return 1; }\n", soname="libz.so.1")),
        ("_uses_z.abi3.so", LibSpec(source=EXT.format(name="_uses_z") + "int zz(void);\n"
                                    "int z(void) { return zz(); }\n",
                                    rpath=("$ORIGIN/lib",), link=("libz.so.1.2",))),
        ("libmissing.so", LibSpec(source="int gone(void) { return 0; }\n",
                                  soname="libmissing.so")),
        ("libneeds_missing.so", LibSpec(source="int gone(void);\nint f(void) { return gone(); }\n",
                                        soname="libneeds_missing.so", link=("libmissing.so",))),
        ("libcuda.so.1", LibSpec(source="int cuInit(unsigned f) { return (int)f; }\n",
                                 soname="libcuda.so.1")),
        ("_gpu.abi3.so", LibSpec(source=EXT.format(name="_gpu") + "int cuInit(unsigned);\n"
                                 "int g(void) { return cuInit(0); }\n", link=("libcuda.so.1",))),
    ))


def _audit(path: Path) -> list[Finding]:
    return list(audit_wheel(path, AuditOptions(python="3.12")).findings)


def _codes(findings: list[Finding]) -> dict[str, Severity]:
    return {f.check: f.severity for f in findings}


# ---- two embedded runtimes --------------------------------------------------------------------


def test_two_embedded_runtimes_both_loaded_are_an_error(
    tmp_path: Path, built: Mapping[str, bytes]
) -> None:
    """Two libraries of one wheel that each carry tvm-ffi's C ABI, each loaded by an
    extension module the package imports: two runtimes in one process, with no provider
    declared or bundled (what WG104 used to miss)."""
    wheel = build_wheel(tmp_path, {
        "demo/__init__.py": b"from . import _one, _two\n",
        "demo/_one.abi3.so": built["_one.abi3.so"], "demo/_two.abi3.so": built["_two.abi3.so"],
        "demo/lib/libffi_one.so": built["libffi_one.so"],
        "demo/lib/libffi_two.so": built["libffi_two.so"],
    })
    found = [f for f in _audit(wheel) if f.check == "WG104"]
    assert {f.path for f in found} == {"demo/lib/libffi_one.so", "demo/lib/libffi_two.so"}
    assert all(f.severity is Severity.ERROR for f in found)
    one = next(f for f in found if f.path == "demo/lib/libffi_one.so")
    # The evidence: the chain that loads each copy.
    assert "demo/lib/libffi_two.so in this wheel" in one.message
    assert "extension module demo._one, which importing the package loads" in one.message
    assert one.message.endswith("-> demo/lib/libffi_one.so")


def test_two_embedded_runtimes_that_never_meet_are_a_warning(
    tmp_path: Path, built: Mapping[str, bytes]
) -> None:
    """The same two libraries, but only one is loaded by anything: they cannot meet."""
    wheel = build_wheel(tmp_path, {
        "demo/__init__.py": b"from . import _one\n",
        "demo/_one.abi3.so": built["_one.abi3.so"],
        "demo/lib/libffi_one.so": built["libffi_one.so"],
        "demo/lib/libffi_two.so": built["libffi_two.so"],
    })
    findings = _audit(wheel)
    assert "WG104" not in _codes(findings)
    (apart,) = [f for f in findings if f.check == "WG106"]
    assert apart.severity is Severity.WARNING
    assert set(apart.data["paths"]) == {"demo/lib/libffi_one.so", "demo/lib/libffi_two.so"}


# ---- identical copies -------------------------------------------------------------------------


def test_identical_copies_under_one_soname_are_wasted_space(
    tmp_path: Path, built: Mapping[str, bytes]
) -> None:
    """A symlink expanded by the zip format (libz.so.1 and libz.so.1.2, one SONAME): the loader
    maps one, whichever name the users need. Not WG101."""
    wheel = build_wheel(tmp_path, {
        "demo/__init__.py": b"from . import _uses_z\n",
        "demo/_uses_z.abi3.so": built["_uses_z.abi3.so"],
        "demo/lib/libz.so.1": built["libz.so.1.2"], "demo/lib/libz.so.1.2": built["libz.so.1.2"],
    })
    findings = _audit(wheel)
    assert "WG101" not in _codes(findings)
    (f,) = [f for f in findings if f.check == "WG102"]
    assert f.severity is Severity.WARNING
    assert "the loader maps only one of them (one SONAME)" in f.message


def test_identical_copies_opened_by_path_twice_are_an_error(
    tmp_path: Path, built: Mapping[str, bytes]
) -> None:
    """The same two files, each opened by its own path by the package (ctypes compares files,
    not SONAMEs): two copies in one process."""
    wheel = build_wheel(tmp_path, {
        "demo/__init__.py": b"import ctypes, os\nHERE = os.path.dirname(__file__)\n"
                            b"A = ctypes.CDLL(os.path.join(HERE, 'lib', 'libz.so.1'))\n"
                            b"B = ctypes.CDLL(os.path.join(HERE, 'lib', 'libz.so.1.2'))\n",
        "demo/lib/libz.so.1": built["libz.so.1.2"], "demo/lib/libz.so.1.2": built["libz.so.1.2"],
    })
    (f,) = [f for f in _audit(wheel) if f.check in ("WG101", "WG102")]
    assert (f.check, f.severity) == ("WG101", Severity.ERROR)
    assert "both can be mapped into one process" in f.message


# ---- what the package's Python code loads ------------------------------------------------------


def test_preloaded_by_the_package_is_loaded_on_import(
    tmp_path: Path, built: Mapping[str, bytes]
) -> None:
    """A library nothing NEEDs, opened by the package's __init__ with ctypes (torch's
    _load_global_deps, tvm-ffi's libinfo): a library it needs is unresolved at import, an
    error; without the __init__ load nothing in the wheel opens it, and the same defect is a
    plugin's (WG307)."""
    lib = {"demo/lib/libneeds_missing.so": built["libneeds_missing.so"],
           "demo/_uses_z.abi3.so": built["_uses_z.abi3.so"],
           "demo/lib/libz.so.1": built["libz.so.1.2"]}
    loads = build_wheel(tmp_path / "loads", {
        **lib, "demo/__init__.py": b"import ctypes, os\nfrom . import _uses_z\n"
        b"_LIB = ctypes.CDLL(os.path.join(os.path.dirname(__file__), 'lib', "
        b"'libneeds_missing.so'))\n"})
    (err,) = [f for f in _audit(loads) if f.data.get("needed") == "libmissing.so"]
    assert (err.check, err.severity) == ("WG301", Severity.ERROR)
    assert "which the package's Python code opens (demo/__init__.py:3)" in err.message
    plugin = build_wheel(tmp_path / "plugin",
                         {**lib, "demo/__init__.py": b"from . import _uses_z\n"})
    (warn,) = [f for f in _audit(plugin) if f.data.get("needed") == "libmissing.so"]
    assert (warn.check, warn.severity) == ("WG307", Severity.WARNING)
    assert "nothing in the wheel" in warn.message


def test_load_guarded_by_try_except_is_optional(tmp_path: Path, built: Mapping[str, bytes]) -> None:
    wheel = build_wheel(tmp_path, {
        "demo/__init__.py": b"import ctypes, os\ntry:\n    _LIB = ctypes.CDLL(os.path.join("
                            b"os.path.dirname(__file__), 'lib', 'libneeds_missing.so'))\n"
                            b"except OSError:\n    _LIB = None\n",
        "demo/lib/libneeds_missing.so": built["libneeds_missing.so"],
    })
    (f,) = [f for f in _audit(wheel) if f.data.get("needed") == "libmissing.so"]
    assert (f.check, f.severity) == ("WG307", Severity.WARNING)
    assert "(in try/except)" in f.message


def test_module_facts_read_the_guards_and_the_calls() -> None:
    src = (b"import ctypes\nfrom . import _core\ntry:\n    from . import _opt\n"
           b"except ImportError:\n    _opt = None\n"
           b"def lazy():\n    from . import _lazy\n"
           b"def _load():\n    return ctypes.CDLL('libnow.so')\n"
           b"def _later():\n    return ctypes.CDLL('liblater.so')\n"
           b"_LIB = _load()\n")
    facts = read_module(ArchivePath("pkg/__init__.py"), src)
    assert facts is not None
    imports = {m: (guarded, lazy) for m, _line, guarded, lazy in facts.imports}
    assert imports["pkg._core"] == (False, False)
    assert imports["pkg._opt"] == (True, False)
    assert imports["pkg._lazy"] == (False, True)
    libraries = {text: optional for text, _line, optional, _alt in facts.libraries}
    assert libraries["libnow.so"] is False  # in a function called at module level
    assert libraries["liblater.so"] is True  # in a function nothing here calls


def test_a_library_the_wheel_loads_first_satisfies_its_plugins(
    fixture_audits: Audits,
) -> None:
    """triton's plugins need libtriton.so, which `import triton` loads: a note, never "the
    wheel does not declare" itself."""
    _rc, doc = fixture_audits["wg308_needed_preloaded"]
    (wheel,) = doc["wheels"]
    (f,) = wheel["findings"]
    assert (f["check"], f["severity"]) == ("WG308", "info")
    assert "demo/_C/libdemocore.so of this wheel" in f["message"]


# ---- GPU driver libraries ------------------------------------------------------------------------


def test_driver_library_is_a_run_time_fact_not_a_missing_library(
    tmp_path: Path, built: Mapping[str, bytes]
) -> None:
    wheel = build_wheel(tmp_path, {"demo/__init__.py": b"from . import _gpu\n",
                                   "demo/_gpu.abi3.so": built["_gpu.abi3.so"]})
    findings = _audit(wheel)
    assert _codes(findings) == {"WG306": Severity.INFO}
    (f,) = findings
    assert f.data["driver"] == "NVIDIA"
    assert "bundle" not in f.message + f.hint.lower().replace("nothing to bundle", "")


# ---- provider knowledge ----------------------------------------------------------------------


def test_provider_table_names_exact_distributions() -> None:
    providers = known_providers()
    assert not [p for p in providers if "*" in p.distribution or any("*" in n for n in p.sonames)]
    assert [p.distribution for p in providers_for_soname("libcublas.so.12", providers)] == [
        "nvidia-cublas-cu12"]
    assert [p.distribution for p in providers_for_soname("libnvrtc.so.12", providers)] == [
        "nvidia-cuda-nvrtc-cu12"]
    # numpy ships no libgfortran or libopenblas of its own any more (only a grafted copy).
    assert not providers_for_soname("libgfortran.so.5", [p for p in providers
                                                         if p.distribution == "numpy"])
    z3 = next(p for p in providers if p.distribution == "z3-solver")
    assert {"libz3.so.4.15", "libz3.so.5.4"} <= set(z3.sonames)


def test_metapackage_extra_declares_what_it_pins(tmp_path: Path) -> None:
    """torch declares cuda-toolkit[cufile,...]: libcufile.so.0 is then declared."""
    wheel = scan_wheel(build_wheel(tmp_path, {"demo/__init__.py": b""}, requires_dist=(
        'cuda-toolkit[cublas,cufile]==13.2.2; platform_system == "Linux"',)))
    reqs = declared(wheel)
    providers = known_providers()
    cufile = next(p for p in providers if p.distribution == "nvidia-cufile")
    assert find_requirement(reqs, cufile) is not None
    cufile12 = next(p for p in providers if p.distribution == "nvidia-cufile-cu12")
    assert find_requirement(reqs, cufile12) is None  # CUDA 12's component: another major
    nccl = next(p for p in providers if p.distribution == "nvidia-nccl-cu13")
    assert find_requirement(reqs, nccl) is None  # not in the extras asked for


def test_a_provider_wheel_requiring_another_component_bundles_nothing(
    tmp_path: Path, built: Mapping[str, bytes]
) -> None:
    """nvidia-cublas-cu12 requires nvidia-cuda-nvrtc-cu12; a family pattern made the latter
    "provide" cuBLAS, and cuBLAS's own wheel a duplicate of it."""
    wheel = build_wheel(tmp_path, {"nvidia/cublas/lib/libcublas.so.12": built["libz.so.1.2"]},
                        name="nvidia-cublas-cu12", requires_dist=("nvidia-cuda-nvrtc-cu12",))
    assert "WG105" not in _codes(_audit(wheel))


# ---- markers ------------------------------------------------------------------------------------


def test_marker_environment_takes_nothing_from_the_host(tmp_path: Path) -> None:
    wheel = scan_wheel(build_wheel(tmp_path, {"demo/__init__.py": b""},
                                   tag="cp310-cp310-manylinux_2_28_aarch64", requires_dist=(
        'old; platform_release < "5"', 'new; python_version >= "3.11"',
        'arm; platform_machine == "aarch64"')))
    env = marker_environment(wheel)
    from packaging.markers import default_environment

    assert set(default_environment()) <= set(env)
    assert (env["python_version"], env["platform_machine"], env["platform_release"]) == (
        "3.10", "aarch64", "")
    # An unknown platform_release ("") satisfies no version comparison: "old" is not in force.
    assert set(declared(wheel)) == {"arm"}
    win = scan_wheel(build_wheel(tmp_path / "win", {"demo/__init__.py": b""},
                                 tag="cp312-cp312-win_amd64"))
    assert marker_environment(win)["platform_machine"] == "AMD64"


# ---- RECORD and names ----------------------------------------------------------------------------


def _sha512(data: bytes) -> str:
    raw = hashlib.sha512(data).digest()
    return "sha512=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def test_record_in_sha512_is_checked_in_sha512(tmp_path: Path) -> None:
    files = {"demo/__init__.py": b"A = 1\n", "demo/b.py": b"B = 2\n"}
    rows = [f"demo/__init__.py,{_sha512(files['demo/__init__.py'])},6",
            f"demo/b.py,{_sha512(b'tampered')},6"]

    def record(meta: Mapping[str, bytes]) -> bytes:
        lines = [*rows, *(f"{p},{record_digest(d)},{len(d)}" for p, d in meta.items()),
                 "demo-1.0.dist-info/RECORD,,"]
        return ("\n".join(lines) + "\n").encode()

    meta = {"demo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
            "demo-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: "
                                        b"false\nTag: cp312-abi3-manylinux_2_17_x86_64\n"}
    wheel = build_wheel(tmp_path, {**files, **meta},
                        record=RecordTweaks(raw=record(meta)))
    found = [f for f in _audit(wheel) if f.check == "WG501"]
    assert [(f.path, f.data["problem"], f.data["algorithm"]) for f in found] == [
        ("demo/b.py", "hash", "sha512")]


@pytest.mark.parametrize(("algorithm", "problem"), [("md5", "weak-hash"),
                                                    ("sha1", "weak-hash"),
                                                    ("whirlpool2", "unknown-hash")])
def test_record_refuses_what_the_spec_forbids(tmp_path: Path, algorithm: str, problem: str) -> None:
    data = b"A = 1\n"
    digest = base64.urlsafe_b64encode(hashlib.md5(data).digest()).rstrip(b"=").decode()
    raw = (f"demo/__init__.py,{algorithm}={digest},6\n"
           "demo-1.0.dist-info/METADATA,,\ndemo-1.0.dist-info/WHEEL,,\n"
           "demo-1.0.dist-info/RECORD,,\n").encode()
    wheel = build_wheel(tmp_path, {"demo/__init__.py": data}, record=RecordTweaks(raw=raw))
    problems = {f.data["problem"] for f in _audit(wheel) if f.check == "WG501"
                and f.path == "demo/__init__.py"}
    assert problems == {problem}


def test_dist_info_must_match_the_file_name(
    fixture_audits: Audits,
) -> None:
    rc, doc = fixture_audits["wg507_other_project"]
    assert rc == 1
    (wheel,) = doc["wheels"]
    by_check = {f["check"]: f for f in wheel["findings"]}
    assert set(by_check) == {"WG504", "WG507"}
    assert by_check["WG507"]["data"]["directory"] == "other-2.0.dist-info"
    assert "another project" in by_check["WG507"]["message"]


def test_linux_tag_cannot_be_uploaded(
    fixture_audits: Audits,
) -> None:
    rc, doc = fixture_audits["wg406_tag_not_uploadable"]
    assert rc == 1
    (wheel,) = doc["wheels"]
    assert [(f["check"], f["data"]["tags"]) for f in wheel["findings"]] == [
        ("WG406", ["linux_x86_64"])]


# ---- severity by harm ---------------------------------------------------------------------------


@pytest.mark.parametrize(("wasted", "installed", "expected"), [
    (837, 50 << 20, Severity.INFO),              # pyarrow's one vendored CMakeLists.txt
    (600 << 10, 10 << 20, Severity.WARNING),     # tvm-ffi's libbacktrace sources
    (9 << 20, 160 << 20, Severity.WARNING),      # tilelang's TVM sources: 5.6% of the wheel
    (30 << 20, 180 << 20, Severity.ERROR),       # tilelang 0.1.6's build trees: 16%
    (165 << 20, 1000 << 20, Severity.ERROR),     # triton's CUPTI static archives
])
def test_wasted_bytes_scale_with_size_and_share(
    wasted: int, installed: int, expected: Severity
) -> None:
    assert harm(wasted, installed) is expected


def test_corrupt_member_is_an_error_and_damaged_sections_are_read_as_the_loader_does(
    fixture_audits: Audits,
) -> None:
    rc, doc = fixture_audits["wg405_unreadable_binary"]
    assert rc == 1
    rc, doc = fixture_audits["wg405_damaged_sections"]
    assert rc == 1
    (wheel,) = doc["wheels"]
    (f,) = wheel["findings"]
    assert (f["check"], f["severity"]) == ("WG405", "error")
    assert "unreadable ELF sections" in f["message"]

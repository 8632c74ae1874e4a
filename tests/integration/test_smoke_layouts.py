"""``wheelguard smoke`` end to end: real venvs, offline pip installs from a local wheelhouse,
gcc-built libraries really loaded by a real interpreter, the probe's real /proc/self/maps.

The wheels are tiny and built here (tests/helpers/wheels.py); each package's ``__init__``
loads its libraries the way field packages do (ctypes by path, NEEDED through RUNPATH), so
what the smoke run reports is what the loader did. No GPU is needed: the GPU parts must come
back skipped, never passed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers.cli import run_wheelguard
from helpers.clibs import Compiler, LibSpec
from helpers.wheels import build_wheel

from wheelguard.smoke.options import SmokeOptions
from wheelguard.smoke.result import SmokeResult
from wheelguard.smoke.run import run_smoke

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "wheelguard" / "schemas" / "smoke-v2.json").read_text()
)
LINUX_TAG = "py3-none-linux_x86_64"

# Load every library in lib/ (sorted) by path, as packages that bundle runtimes do.
LOAD_ALL = b"""import ctypes, pathlib
_HERE = pathlib.Path(__file__).parent
LIBS = [ctypes.CDLL(str(p)) for p in sorted((_HERE / "lib").rglob("*.so"))]
"""
# Load one library by path; its NEEDED entries are the loader's business (RUNPATH).
LOAD_SIBLING = b"""import ctypes, pathlib
_LIB = ctypes.CDLL(str(pathlib.Path(__file__).parent / "lib" / "libwgsib.so"))
def answer() -> int:
    return _LIB.wgsib()
"""


@dataclass(frozen=True)
class Built:
    wheelhouse: Path
    """Dependencies: wgbase (native, the RUNPATH target) and wghostdep (pure Python)."""
    wheels: Mapping[str, Path]
    """Wheels under test, by scenario."""


@pytest.fixture(scope="module")
def built(
    compiler: Compiler, libs: Mapping[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> Built:
    root = tmp_path_factory.mktemp("smoke")
    base = compiler.build("libwgbase.so", LibSpec(
        source="int wgbase(void) { return 40; }\n", soname="libwgbase.so"))
    sibling = compiler.build("libwgsib.so", LibSpec(
        source="int wgbase(void);\nint wgsib(void) { return wgbase() + 2; }\n",
        soname="libwgsib.so", rpath=("$ORIGIN/../../wgbase/lib",), link=("libwgbase.so",)))
    wheelhouse = root / "wheelhouse"
    build_wheel(wheelhouse, {"wgbase/__init__.py": b"", "wgbase/lib/libwgbase.so":
                             base.read_bytes()}, name="wgbase", tag=LINUX_TAG)
    build_wheel(wheelhouse, {"wghostdep/__init__.py": b"VALUE = 1\n"}, name="wghostdep",
                tag="py3-none-any")
    dist = root / "dist"
    wheels = {
        "clean": build_wheel(dist / "clean", {
            "wgclean/__init__.py": LOAD_ALL, "wgclean/lib/libdemo.so": libs["libdemo.so"],
        }, name="wgclean", tag=LINUX_TAG),
        "duplicate": build_wheel(dist / "duplicate", {
            "wgdup/__init__.py": LOAD_ALL,
            "wgdup/lib/a/libfoo.so": libs["libfoo_a.so"],
            "wgdup/lib/b/libfoo.so": libs["libfoo_b.so"],
        }, name="wgdup", tag=LINUX_TAG),
        "foreign-ffi": build_wheel(dist / "foreign-ffi", {
            "wgffi/__init__.py": LOAD_ALL,
            "wgffi/lib/libtvm_ffi-1a2b3c4d.so": libs["libtvm_ffi-1a2b3c4d.so"],
        }, name="wgffi", tag=LINUX_TAG),
        "sibling": build_wheel(dist / "sibling", {
            "wgsib/__init__.py": LOAD_SIBLING, "wgsib/lib/libwgsib.so": sibling.read_bytes(),
        }, name="wgsib", tag=LINUX_TAG, requires_dist=["wgbase"]),
        "needs-host": build_wheel(dist / "needs-host", {
            "wgneedshost/__init__.py": b"import wghostdep\n",
        }, name="wgneedshost", tag="py3-none-any", requires_dist=["wghostdep"]),
    }
    return Built(wheelhouse=wheelhouse, wheels=wheels)


def smoke(built: Built, scenario: str, **kwargs: Any) -> SmokeResult:
    options = SmokeOptions(wheel=built.wheels[scenario], wheelhouses=(built.wheelhouse,),
                           **kwargs)
    result = run_smoke(options)
    jsonschema.validate(result.to_json(), SCHEMA)
    return result


def checks(result: SmokeResult, layout: str) -> dict[str, str]:
    lay = next(x for x in result.layouts if x.layout == layout)
    return {c.id: c.status for c in lay.checks}


def test_clean_wheel_passes_every_layout(built: Built) -> None:
    result = smoke(built, "clean")
    assert result.status == "passed", result.failures
    assert [x.layout for x in result.layouts] == ["venv", "system-site-packages", "target"]
    for lay in result.layouts:
        assert checks(result, lay.layout) == {
            "install": "passed", "wheel-location": "passed", "import": "passed",
            "duplicate-soname": "passed", "provider-runtime": "passed",
        }
        demo = [lib for lib in lay.libraries if lib.soname == "libdemo.so"]
        assert len(demo) == 1
        assert demo[0].distribution == "wgclean"
        assert demo[0].loaded_in == "import"
        assert demo[0].origin == ("target" if lay.layout == "target" else "env")
    assert result.gpu_status == "not-run"


def test_dependencies_land_where_each_layout_puts_them(built: Built) -> None:
    """venv: one site-packages; system-site-packages: dependency in the base directory, wheel
    in the child venv; target: both in the --target directory on PYTHONPATH."""
    result = smoke(built, "sibling", layouts=("venv", "system-site-packages", "target"))
    origins = {
        lay.layout: {str(d["name"]): str(d["origin"]) for d in lay.distributions}
        for lay in result.layouts
    }
    assert origins["venv"] == {"wgbase": "env", "wgsib": "env"}
    assert origins["system-site-packages"] == {"wgbase": "base", "wgsib": "env"}
    assert origins["target"] == {"wgbase": "target", "wgsib": "target"}
    assert result.resolution is not None
    assert [d["name"] for d in result.resolution["dependencies"]] == ["wgbase"]


def test_sibling_runpath_breaks_only_in_system_site_packages(built: Built) -> None:
    """``$ORIGIN/../../wgbase/lib`` finds the dependency when both share a directory, and
    nothing when the dependency sits in the base environment: the layout matrix's point."""
    result = smoke(built, "sibling")
    assert result.status == "failed"
    assert checks(result, "venv")["import"] == "passed"
    assert checks(result, "target")["import"] == "passed"
    broken = checks(result, "system-site-packages")
    assert broken["import"] == "failed"
    lay = next(x for x in result.layouts if x.layout == "system-site-packages")
    assert "libwgbase.so" in lay.imports[0]["error"]
    assert result.failures == (
        next(f for f in result.failures if f.startswith("system-site-packages: import:")),
    )
    venv = next(x for x in result.layouts if x.layout == "venv")
    by_soname = {lib.soname: lib for lib in venv.libraries}
    assert by_soname["libwgbase.so"].distribution == "wgbase"
    assert by_soname["libwgsib.so"].distribution == "wgsib"


def test_planted_duplicate_soname_fails(built: Built) -> None:
    """Two different files with SONAME libfoo.so, both loaded by path: the loader maps both
    (it compares files, not SONAMEs, for a path), and the smoke run fails on it."""
    result = smoke(built, "duplicate", layouts=("venv",))
    assert result.status == "failed"
    assert checks(result, "venv")["import"] == "passed"
    assert checks(result, "venv")["duplicate-soname"] == "failed"
    check = next(c for c in result.layouts[0].checks if c.id == "duplicate-soname")
    files = check.details["duplicates"]["libfoo.so"]
    assert sorted(Path(f["path"]).parent.name for f in files) == ["a", "b"]
    assert {f["distribution"] for f in files} == {"wgdup"}


def test_private_tvm_ffi_runtime_fails(built: Built) -> None:
    """A libtvm_ffi (here under an auditwheel-style hashed name) mapped from a distribution
    other than apache-tvm-ffi is a second runtime."""
    result = smoke(built, "foreign-ffi", layouts=("target",))
    assert checks(result, "target")["provider-runtime"] == "failed"
    check = next(c for c in result.layouts[0].checks if c.id == "provider-runtime")
    assert check.details["foreign"][0]["owner"] == "wgffi"
    assert check.details["foreign"][0]["provider"] == "apache-tvm-ffi"


def test_missing_dependency_fails_install(built: Built, tmp_path: Path) -> None:
    result = run_smoke(SmokeOptions(wheel=built.wheels["needs-host"],
                                    wheelhouses=(tmp_path,), layouts=("venv", "target")))
    assert result.status == "failed"
    for lay in result.layouts:
        assert checks(result, lay.layout)["install"] == "failed"
        assert checks(result, lay.layout)["import"] == "skipped"
    assert "wghostdep" in result.failures[0]


def test_host_packages_are_visible_after_the_environments_own(
    built: Built, tmp_path: Path
) -> None:
    """A base interpreter that is itself a venv (as on the GPU machine, torch in a venv): its
    packages reach the fresh environments through a .pth, and pip treats them as installed,
    so the wheelhouse need not hold them."""
    host = tmp_path / "host"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(host)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(host / "bin" / "python"),
                    "install", "-q", "--no-index", "--find-links", str(built.wheelhouse),
                    "wghostdep"], check=True, capture_output=True)
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    result = run_smoke(SmokeOptions(
        wheel=built.wheels["needs-host"], wheelhouses=(empty,),
        python=host / "bin" / "python", host_packages=True))
    jsonschema.validate(result.to_json(), SCHEMA)
    assert result.status == "passed", result.failures
    for lay in result.layouts:
        origins = {str(d["name"]): str(d["origin"]) for d in lay.distributions}
        assert origins["wghostdep"] == "host"
        assert origins["wgneedshost"] == ("target" if lay.layout == "target" else "env")
    assert result.host["site_dirs"] == [
        str((host / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
             / "site-packages").resolve())]


def test_gpu_part_is_skipped_without_a_gpu(built: Built) -> None:
    """The tilelang driver runs inside the environment, finds no torch (and so no CUDA), and
    reports its cases skipped: the run passes, and the GPU verdict is 'skipped', not 'passed'."""
    result = smoke(built, "clean", layouts=("venv", "target"), gemm=("tilelang",),
                   gemm_layouts="all")
    assert result.status == "passed", result.failures
    assert result.gpu_status == "skipped"
    for lay in result.layouts:
        assert checks(result, lay.layout)["gemm:tilelang"] == "skipped"
        (driver,) = lay.gemm
        assert driver["status"] == "skipped"
        assert {c["status"] for c in driver["cases"]} == {"skipped"}
        assert {c["target"] for c in driver["cases"]} == {"cuda"}
    modes = [lay.gemm[0]["mode"] for lay in result.layouts]
    assert modes == ["benchmark", "check"]
    benchmark = [(c["label"], c["m"], c["dtype"]) for c in result.layouts[0].gemm[0]["cases"]]
    assert benchmark == [
        ("gemm-fp16", 4096, "float16"), ("gemm-fp16", 8192, "float16"),
        ("gemm-bf16", 4096, "bfloat16"), ("gemm-bf16", 8192, "bfloat16"),
        ("gemm-fp8", 4096, "float8_e4m3fn"), ("gemm-fp8", 8192, "float8_e4m3fn"),
        ("attention-fwd", 2048, "float16"),
    ]
    assert [(c["label"], c["m"]) for c in result.layouts[1].gemm[0]["cases"]] == [
        ("gemm-fp16", 4096)]


def test_require_gpu_turns_a_skip_into_a_failure(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    proc = run_wheelguard("smoke", built.wheels["clean"], "--wheelhouse", built.wheelhouse,
                          "--layout", "venv", "--gemm", "tilelang", "--require-gpu",
                          "--json", out, "-q")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(out.read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["summary"]["gpu"] == "skipped"
    assert doc["summary"]["failures"] == ["GPU required but the GPU part was skipped"]
    assert "GPU: skipped" in proc.stdout


def test_cli_exit_codes_and_kept_workdir(built: Built, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    ok = run_wheelguard("smoke", built.wheels["clean"], "--wheelhouse", built.wheelhouse,
                        "--layout", "system-site-packages", "--workdir", workdir, "-q")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (workdir / "system-site-packages" / "base").is_dir()
    assert (workdir / "system-site-packages" / "env" / "bin" / "python").exists()
    bad = run_wheelguard("smoke", built.wheels["duplicate"], "--wheelhouse", built.wheelhouse,
                         "--layout", "venv", "-q")
    assert bad.returncode == 1
    assert "[FAIL] duplicate-soname" in bad.stdout
    setup = run_wheelguard("smoke", built.wheels["clean"], "--wheelhouse", tmp_path / "nope")
    assert setup.returncode == 4
    assert "wheelhouse" in setup.stderr
    assert "Traceback" not in setup.stderr


def test_environment_overrides_do_not_leak(built: Built) -> None:
    """PYTHONPATH and the TL_*/TVM_* path overrides of the calling shell never reach the fresh
    environment: the wheel under test is what runs."""
    environ = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(built.wheelhouse),
               "TVM_LIBRARY_PATH": "/nonexistent", "TL_TEMPLATE_PATH": "/nonexistent",
               "PIP_TARGET": "/nonexistent"}
    result = smoke(built, "clean", layouts=("venv",), environ=environ)
    assert result.status == "passed", result.failures
    assert set(result.host["dropped_environment"]) == {
        "PYTHONPATH", "TVM_LIBRARY_PATH", "TL_TEMPLATE_PATH", "PIP_TARGET"}
    python = result.layouts[0].python
    assert python is not None
    assert str(built.wheelhouse) not in python["path"]


def _sample_dependencies(wheelhouse: Any) -> None:
    """tinykern's dependencies, at this interpreter's versions, into the cached wheelhouse."""
    for name in ("apache-tvm-ffi", "numpy", "typing-extensions"):
        wheelhouse.ensure(name, metadata.version(name))


@pytest.mark.slow
@pytest.mark.network
def test_sample_gemm_runs_on_cpu_and_skips_cuda(
    sample_wheel: Callable[[str], Path], wheelhouse: Any
) -> None:
    """tinykern's GEMM inside the fresh environment: the AOT and run-time compiled CPU kernels
    pass against float64, the CUDA case is skipped here (no GPU)."""
    _sample_dependencies(wheelhouse)
    result = run_smoke(SmokeOptions(wheel=sample_wheel("clean"), wheelhouses=(wheelhouse.path,),
                                    layouts=("venv", "system-site-packages"), gemm=("sample",),
                                    iterations=3, warmup=1))
    jsonschema.validate(result.to_json(), SCHEMA)
    assert result.status == "passed", result.failures
    (driver,) = result.layouts[0].gemm
    cases = {c["label"]: c for c in driver["cases"]}
    assert cases["cpu-aot"]["status"] == "passed"
    assert cases["cpu-aot"]["rel_error"] < 1e-5
    assert cases["cpu-jit"]["status"] == "passed"
    assert cases["cuda"]["status"] == "skipped"
    assert result.gpu_status == "skipped"
    ffi = [lib for lib in result.layouts[1].libraries if lib.soname == "libtvm_ffi.so"]
    assert [(lib.distribution, lib.origin) for lib in ffi] == [("apache-tvm-ffi", "base")]


@pytest.mark.slow
@pytest.mark.network
def test_sample_bundling_its_own_tvm_ffi_fails(
    sample_wheel: Callable[[str], Path], wheelhouse: Any
) -> None:
    """The bundle-ffi sample loads a private libtvm_ffi by path. The second runtime aborts the
    process in its static initialisers; the loader's log still shows both copies."""
    _sample_dependencies(wheelhouse)
    result = run_smoke(SmokeOptions(wheel=sample_wheel("bundle-ffi"),
                                    wheelhouses=(wheelhouse.path,), layouts=("venv",)))
    jsonschema.validate(result.to_json(), SCHEMA)
    assert result.status == "failed"
    status = checks(result, "venv")
    assert status["duplicate-soname"] == "failed"
    assert status["provider-runtime"] == "failed"
    owners = sorted(str(lib.distribution) for lib in result.layouts[0].libraries
                    if lib.soname == "libtvm_ffi.so")
    assert owners == ["apache-tvm-ffi", "tinykern"]

"""ci/make_slow_candidate.py: the slowed tilelang candidate the release gate must fail is a valid
wheel (RECORD matches every member, so wheelguard's integrity check passes) whose kernel launch
really waits the chosen time, and the script refuses a wheel it does not know how to slow."""

from __future__ import annotations

import importlib.util
import sys
import time
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel

SCRIPT = Path(__file__).resolve().parents[2] / "ci" / "make_slow_candidate.py"
KERNEL = b'''class JITKernel:
    def __init__(self, fn):
        self.torch_function = fn

    def __call__(self, *args, **kwds):
        """Invokes the compiled function."""
        return self.torch_function(*args, **kwds)
'''


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wheelguard_ci_make_slow_candidate", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def fake_tilelang(dest: Path, kernel: bytes = KERNEL) -> Path:
    return build_wheel(dest, {"tilelang/__init__.py": b"", "tilelang/jit/kernel.py": kernel},
                       name="tilelang", version="0.1.15", tag="py3-none-any")


def test_slowed_wheel_is_valid_and_waits_before_each_launch(
    script: ModuleType, tmp_path: Path
) -> None:
    wheel = fake_tilelang(tmp_path / "in")
    out = script.make_slow_candidate(wheel, tmp_path / "out", delay_ms=30)
    assert out.name == wheel.name
    assert script.verify_record(out) == 5  # two modules, METADATA, WHEEL, RECORD
    result = audit_wheel(out)
    assert not [f for f in result.findings if f.check == "WG501"]
    with zipfile.ZipFile(out) as zf:
        namespace: dict[str, object] = {}
        exec(zf.read("tilelang/jit/kernel.py").decode(), namespace)
    kernel = namespace["JITKernel"](lambda x: x + 1)  # type: ignore[operator]
    started = time.perf_counter()
    assert kernel(1) == 2
    assert time.perf_counter() - started >= 0.03


def test_launch_outside_call_is_refused(script: ModuleType, tmp_path: Path) -> None:
    moved = KERNEL.replace(b"def __call__", b"def launch")
    wheel = fake_tilelang(tmp_path, moved)
    with pytest.raises(script.CandidateError, match="'def launch', not in __call__"):
        script.make_slow_candidate(wheel, tmp_path / "out")
    assert not (tmp_path / "out" / wheel.name).exists()


def test_not_a_tilelang_wheel(script: ModuleType, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    wheel = build_wheel(tmp_path, {"other/__init__.py": b""}, name="other", tag="py3-none-any")
    assert script.main([str(wheel), str(tmp_path / "out")]) == 1
    assert "not a tilelang wheel" in capsys.readouterr().err

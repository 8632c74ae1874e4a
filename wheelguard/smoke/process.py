"""Running the smoke run's commands: pip, venv, the probe, each in a clean environment.

Every command goes through :func:`wheelguard.util.proc.run_tool` (its own process group, killed
as a group at its time limit, stdin closed), and comes back as a :class:`Step` that records
what happened instead of raising. The environment the children get drops whatever would point
the fresh environment at something other than itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wheelguard.smoke.gemm import DRIVER_FILES, driver_dir
from wheelguard.smoke.result import Step
from wheelguard.util.proc import run_tool

__all__ = [
    "DRIVER_PACKAGE",
    "LOADER_LOG",
    "PROBE_NAME",
    "ProbeRun",
    "child_environment",
    "copy_probe",
    "exit_text",
    "headline",
    "last_line",
    "read_json",
    "run_probe",
    "run_step",
]

PROBE_NAME = "_wheelguard_smoke_probe.py"
DRIVER_PACKAGE = "_wheelguard_gemm"
LOADER_LOG = "ld-debug"
_TAIL = 4000

# Variables that would point the fresh environment at something other than itself.
_DROP_EXACT = frozenset({
    "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONEXECUTABLE",
    "PYTHONSAFEPATH", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__", "TINYKERN_CACHE_DIR",
})  # fmt: skip
# pip configuration, and the TL_*/TVM_* path overrides that make tilelang use files other
# than the installed wheel's (FIELD.md), plus tilelang's own settings (the cache dir is set
# per run, fresh).
_DROP_PREFIXES = ("PIP_", "TL_", "TVM_", "TILELANG_")


def child_environment(
    base: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> tuple[dict[str, str], tuple[str, ...]]:
    """The environment for processes of a fresh environment, and the names it dropped."""
    env: dict[str, str] = {}
    dropped: list[str] = []
    for key, value in base.items():
        if key in _DROP_EXACT or key.startswith(_DROP_PREFIXES):
            dropped.append(key)
            continue
        env[key] = value
    env.update({
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONFAULTHANDLER": "1",
        "PYTHONUNBUFFERED": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_CONFIG_FILE": os.devnull,
    })  # fmt: skip
    env.update(extra or {})
    return env, tuple(sorted(dropped))


def tail(text: str) -> str:
    return text if len(text) <= _TAIL else "..." + text[-_TAIL:]


def run_step(
    name: str, command: Sequence[str], *, env: Mapping[str, str], cwd: Path | None = None,
    timeout: float,
) -> Step:
    """Run one command in its own process group, output merged, killed as a group on timeout
    (nvcc and other grandchildren of a hung probe must not outlive it)."""
    done = run_tool(command, timeout=timeout, env=env, cwd=cwd, merge_output=True)
    if done.error is not None:
        return Step(name=name, status="failed", command=done.command, output=done.error)
    if done.timed_out:
        return Step(name=name, status="failed", duration_s=done.duration_s,
                    command=done.command, returncode=None,
                    output=tail(f"{done.stdout}\n[killed after {timeout:.0f} s]"), pid=done.pid)
    return Step(name=name, status="ok" if done.ok else "failed", duration_s=done.duration_s,
                command=done.command, returncode=done.returncode, output=tail(done.stdout),
                pid=done.pid)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object written by a child process, or {} when it left none (or half of one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "was killed at the time limit"
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
        return f"was killed by signal {-returncode}"
    return f"exited with {returncode}"


def headline(output: str) -> str:
    """The line of a crash log that says what happened: a C++ exception's what(), Python's
    fatal error, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("what():", "Fatal Python error", "Error", "error"):
        hit = next((line for line in lines if marker in line), None)
        if hit is not None:
            return hit[:300]
    return last_line(output)


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


# ---- the probe ---------------------------------------------------------------------------------


def copy_probe(workdir: Path) -> Path:
    """The probe and drivers in a directory of their own: the package directory they come
    from holds modules that would shadow the standard library or the package under test."""
    probe_dir = workdir / "probe"
    package = probe_dir / DRIVER_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("probe.py"), probe_dir / PROBE_NAME)
    for name in DRIVER_FILES:
        shutil.copyfile(driver_dir() / name, package / name)
    (package / "__init__.py").write_text("", encoding="utf-8")
    return probe_dir


@dataclass(frozen=True, slots=True)
class ProbeRun:
    """One probe process: how it ended, and the report it left (``{}`` when none)."""

    step: Step
    data: Mapping[str, Any]


def run_probe(python: Path, probe_dir: Path, run_dir: Path, request: Mapping[str, Any], *,
              env: Mapping[str, str], timeout: float) -> ProbeRun:
    """Run the probe with ``request`` in ``run_dir`` (``request.json`` and ``result.json``
    are left there), under the environment's interpreter."""
    run_dir.mkdir(parents=True, exist_ok=True)
    request_path = run_dir / "request.json"
    result_path = run_dir / "result.json"
    request_path.write_text(json.dumps(request, indent=1), encoding="utf-8")
    step = run_step("probe", [str(python), "-s", str(probe_dir / PROBE_NAME), str(request_path),
                              str(result_path)], env=env, cwd=run_dir, timeout=timeout)
    return ProbeRun(step=step, data=read_json(result_path))

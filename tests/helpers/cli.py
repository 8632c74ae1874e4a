"""Running wheelguard's CLI the two ways tests need: as a process, exactly as CI runs it
(exit code, stderr, no traceback), and in-process for speed where only the output matters."""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "REPO",
    "audit_json",
    "cli_env",
    "neutral_dir",
    "run_inprocess",
    "run_wheelguard",
]

REPO = Path(__file__).resolve().parents[2]
_NEUTRAL: list[Path] = []


def neutral_dir() -> Path:
    """An empty working directory: ``wheelguard audit`` reads ``[tool.wheelguard]`` from
    ./pyproject.toml, and the repository's own must not change what the tests see."""
    if not _NEUTRAL:
        path = Path(tempfile.mkdtemp(prefix="wheelguard-cwd-"))
        atexit.register(shutil.rmtree, path, True)
        _NEUTRAL.append(path)
    return _NEUTRAL[0]


def cli_env() -> dict[str, str]:
    """The environment of a plain CI shell: no GitHub annotations, no debug, wide, no colour."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"GITHUB_ACTIONS", "WHEELGUARD_DEBUG", "FORCE_COLOR"}}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
    return env


def run_wheelguard(*args: str | Path, cwd: Path | None = None,
                   timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m wheelguard ARGS`` in a fresh interpreter, in :func:`neutral_dir`."""
    return subprocess.run(
        [sys.executable, "-m", "wheelguard", *map(str, args)],
        capture_output=True, text=True, check=False, cwd=cwd or neutral_dir(), env=cli_env(),
        timeout=timeout,
    )


def run_inprocess(args: Sequence[str | Path]) -> tuple[int, str, str]:
    """``wheelguard.cli.main(args)`` with stdout/stderr captured: (exit code, out, err).

    Runs in :func:`neutral_dir`, so relative paths in ``args`` must not be used.
    """
    from wheelguard.cli import main

    out, err = io.StringIO(), io.StringIO()
    before = Path.cwd()
    os.chdir(neutral_dir())
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in args])
    finally:
        os.chdir(before)
    return rc, out.getvalue(), err.getvalue()


def audit_json(*args: str | Path) -> tuple[int, dict[str, Any]]:
    """``wheelguard audit --format json ARGS`` in-process: (exit code, parsed document)."""
    rc, out, err = run_inprocess(["audit", "--format", "json", *args])
    assert out, f"no JSON on stdout (rc {rc}); stderr: {err}"
    return rc, json.loads(out)

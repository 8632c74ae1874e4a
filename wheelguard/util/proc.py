"""Running a tool (pip, patchelf, strip, a smoke probe): the one way wheelguard starts a process.

Every child gets its own process group and is killed as a group when it outlives its time
limit, so a hung ``pip`` or a probe that started ``nvcc`` leaves nothing behind; stdin is
closed so no tool ever waits on a prompt in CI. The result says what happened instead of
raising, because each caller words a failure for its own user.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Completed", "last_line", "run_tool"]


@dataclass(frozen=True, slots=True)
class Completed:
    """How one command ended."""

    command: tuple[str, ...]
    returncode: int | None
    """None when it could not start or was killed at its time limit."""
    stdout: str
    stderr: str
    """Empty when the streams were merged into ``stdout``."""
    duration_s: float
    timed_out: bool = False
    error: str | None = None
    """Why it could not start (OSError), if it did not."""
    pid: int | None = None
    stopped: str | None = None
    """Why the caller's ``watch`` stopped it early (the process group was killed)."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def why(self) -> str:
        """One line for a message: the start error, the timeout, or the exit and last line."""
        if self.error is not None:
            return f"could not run ({self.error})"
        if self.stopped is not None:
            return f"stopped: {self.stopped}"
        if self.timed_out:
            return f"killed after {self.duration_s:.0f} s"
        return f"exit {self.returncode}: {last_line(self.stderr or self.stdout)}"


def run_tool(
    command: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    merge_output: bool = False,
    watch: Callable[[str], str | None] | None = None,
) -> Completed:
    """Run ``command`` to completion or ``timeout`` seconds, whichever comes first.

    ``watch`` sees each line of standard output as it is printed; a reason returned from it
    stops the command there (how a ``pip download`` that announces a wheel over the size
    limit is cut off before it fetches the bytes).
    """
    argv = tuple(str(c) for c in command)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv, env=None if env is None else dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_output else subprocess.PIPE,
            text=True, errors="replace", start_new_session=True,
        )
    except OSError as e:
        return Completed(argv, None, "", "", 0.0, error=e.strerror or str(e))
    if watch is not None:
        return _watched(proc, argv, started, timeout, watch)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        out, err = proc.communicate()
        return Completed(argv, None, out or "", err or "", time.monotonic() - started,
                         timed_out=True, pid=proc.pid)
    return Completed(argv, proc.returncode, out or "", err or "", time.monotonic() - started,
                     pid=proc.pid)


def _kill(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # Windows: no process groups; the child alone
            proc.kill()


def _watched(
    proc: subprocess.Popen[str],
    argv: tuple[str, ...],
    started: float,
    timeout: float,
    watch: Callable[[str], str | None],
) -> Completed:
    """Standard output line by line through ``watch``; standard error drained on a thread so
    that neither pipe can fill up and stall the child."""
    assert proc.stdout is not None
    errors: list[str] = []
    drain = None
    if proc.stderr is not None:
        stream = proc.stderr
        drain = threading.Thread(target=lambda: errors.append(stream.read()), daemon=True)
        drain.start()
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        _kill(proc)

    timer = threading.Timer(timeout, expire)
    timer.start()
    lines: list[str] = []
    stopped: str | None = None
    try:
        for line in proc.stdout:
            lines.append(line)
            if stopped is None and (why := watch(line.rstrip("\n"))) is not None:
                stopped = why
                _kill(proc)
        proc.wait()
    finally:
        timer.cancel()
        if drain is not None:
            drain.join()
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()
    timed_out = expired.is_set() and stopped is None
    return Completed(argv, None if (timed_out or stopped) else proc.returncode, "".join(lines),
                     "".join(errors), time.monotonic() - started, timed_out=timed_out,
                     pid=proc.pid, stopped=stopped)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"

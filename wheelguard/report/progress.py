"""Progress for long work (many wheels, large wheels, provider downloads), always on stderr.

On a terminal: a transient bar that disappears when done. Anywhere else (every CI log): plain
lines, one per wheel and one per slow step, because a bar redrawn with carriage returns turns
into one enormous line in a log file. Short work prints nothing either way, and stdout (the
report) never carries progress.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import IO, TYPE_CHECKING

from wheelguard.util.units import format_bytes

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

__all__ = ["LONG_BYTES", "Progress"]

LONG_BYTES = 32 << 20
"""Below this many bytes of wheels (and with one wheel), nobody waits long enough to need it."""


class Progress:
    """One object per command run; pass :meth:`advance` as the scan's progress callback."""

    def __init__(self, *, total_bytes: int, wheels: int, enabled: bool,
                 slow: bool = False, stream: IO[str] | None = None,
                 terminal: bool | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        tty = self._stream.isatty() if terminal is None else terminal
        # ``slow``: steps not counted in bytes will run (provider wheels may be downloaded).
        long_work = slow or total_bytes > LONG_BYTES or wheels > 3
        self._plain = enabled and long_work and not tty
        self._wheels = wheels
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        if enabled and long_work and tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                TimeRemainingColumn(), console=Console(file=self._stream), transient=True)
            self._task = self._bar.add_task("auditing", total=total_bytes)

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()

    def wheel(self, index: int, path: str, size: int) -> None:
        """Work on wheel ``index`` (0-based) starts."""
        # The folder too: a release's wheels often share one file name across directories.
        name = "/".join(path.rstrip("/").rsplit("/", 2)[-2:])
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, description=f"[{index + 1}/{self._wheels}] {name}")
        elif self._plain:
            self._line(f"[{index + 1}/{self._wheels}] auditing {name} ({format_bytes(size)})")

    def step(self, text: str) -> None:
        """A slow step that is not counted in bytes (reading or downloading provider wheels)."""
        if self._bar is not None:
            self._bar.console.print(f"wheelguard: {text}", highlight=False, markup=False)
        elif self._plain:
            self._line(text)

    def advance(self, n: int) -> None:
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task, n)

    def _line(self, text: str) -> None:
        self._stream.write(f"wheelguard: {text}\n")
        self._stream.flush()

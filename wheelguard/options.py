"""Options shared by several commands, and the conversions from argparse strings."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from .model import Severity
from .units import parse_size

__all__ = ["add_policy_option", "progress_bar", "severity_or_never", "size_arg"]


def size_arg(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def severity_or_never(text: str) -> Severity | None:
    if text.strip().lower() == "never":
        return None
    try:
        return Severity.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_policy_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE|NAME",
        help="policy file, or the name of a shipped policy (default, tvm-ffi, tilelang); "
        "repeatable, later ones win. Default: what [tool.wheelguard] in ./pyproject.toml names",
    )


@contextmanager
def progress_bar(label: str, total: int, *, enabled: bool) -> Iterator[Progress | None]:
    """A transient progress bar on stderr, only where a person is watching."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        progress.add_task(label, total=total)
        yield progress

"""The command line: one parser, one module per command, one error boundary.

Each ``wheelguard.cli.<command>`` module exposes ``configure_parser(subparsers)`` and
``execute(args, parser) -> int``; heavy imports happen inside ``execute`` so ``--help`` stays
fast. Only :func:`main` turns :class:`~wheelguard.errors.WheelguardError` into a one-line
message and an exit code; nothing below it prints errors or exits.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from wheelguard import __version__
from wheelguard.errors import WheelguardError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (--version stays bare)
if TYPE_CHECKING:
    import argparse

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = ("audit", "show", "repair", "policy", "smoke", "report", "advise", "diff",
            "fix-source", "sbom")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``only`` the parser of that one command.

    Each command module is imported to configure its subparser, and some import what their
    options need (the policy tables, the smoke settings): ``main`` asks for the one command
    on the line so that an audit does not pay for importing ``repair`` or ``smoke``.
    """
    import argparse
    import importlib

    parser = argparse.ArgumentParser(
        prog="wheelguard",
        description="Audit, repair and smoke-test binary wheels of ML compiler stacks.",
    )
    parser.add_argument("--version", action="version", version=f"wheelguard {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show a traceback for internal errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        # A command's module is its name with '-' as '_' (fix-source: cli/fix_source.py).
        module_name = f"wheelguard.cli.{name.replace('-', '_')}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name != module_name:
                raise
            continue
        module.configure_parser(sub)
    return parser


def _annotate(message: str) -> None:
    """On GitHub Actions, also emit an ::error:: annotation so the failure shows on the PR."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::error title=wheelguard::{message.splitlines()[0]}", file=sys.stderr)


def _command_word(words: Sequence[str]) -> str | None:
    """The command a command line names: its first word that is not an option (the top-level
    options, ``--version``, ``--debug`` and ``--help``, take no value). None when there is
    none or it is not a command: then the full parser answers (help, or the usage error that
    lists the commands)."""
    word = next((w for w in words if not w.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["--version"]:
        # The most common way to ask whether the tool is there: no parser, no imports.
        print(f"wheelguard {__version__}")
        return 0
    parser = build_parser(_command_word(words))
    # --debug is accepted anywhere on the line (`wheelguard audit --debug x.whl` included):
    # it is the one flag people add in a hurry after seeing an internal error.
    wants_debug = "--debug" in words
    try:
        args = parser.parse_args([w for w in words if w != "--debug"])
    except SystemExit as e:  # --help, --version, or a usage error argparse already printed
        return e.code if isinstance(e.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    debug = wants_debug or os.environ.get("WHEELGUARD_DEBUG") == "1"
    # Reports record how they were made (wheelguard.report.provenance).
    args.command_line = ["wheelguard", *words]
    try:
        return int(args.func(args, parser))
    except WheelguardError as e:
        if debug:
            raise
        print(f"wheelguard: error: {e}", file=sys.stderr)
        _annotate(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        print("wheelguard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # the last line of defence: never a traceback without --debug
        if debug:
            raise
        print(
            f"wheelguard: internal error: {type(e).__name__}: {e} (rerun with --debug and "
            "report it)",
            file=sys.stderr,
        )
        return 70

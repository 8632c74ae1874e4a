"""Errors wheelguard raises, each with the exit code the CLI returns for it.

Code below the CLI raises these; only the CLI boundary (:mod:`wheelguard.cli`) prints them, so
a user never sees a traceback for a problem with their input. The base derives from
``Exception`` (not ``BaseException``): wheelguard is a library too.

Exit codes, the same for every command (README.md lists them per command):

- 0: nothing reaches ``--fail-on`` (audit, report: every wheel ready; repair: repaired, and
  nothing at or above ``--fail-on`` is left; diff: done);
- 1: findings at or above ``--fail-on`` (audit: new ones only, with ``--baseline``; repair: in
  the repaired wheel), a release checklist with an item failed or not checked, a smoke check
  that failed;
- 2: usage errors, unreadable wheels, policies, configuration, baselines or smoke results
  (:class:`UsageError`, :class:`InvalidWheel`, :class:`InvalidPolicy`, :class:`InvalidConfig`);
- 3: a repair the policy forbids or that cannot be carried out; nothing is written
  (:class:`RepairError`);
- 4: a smoke environment that could not be set up (:class:`SmokeError`);
- 70: an internal error (a bug: rerun with ``--debug`` and report it); 130: interrupted.
"""

from __future__ import annotations

__all__ = [
    "InvalidConfig",
    "InvalidPolicy",
    "InvalidWheel",
    "OutputError",
    "RepairError",
    "SmokeError",
    "UsageError",
    "WheelguardError",
]


class WheelguardError(Exception):
    """Base of every error wheelguard reports to its user."""

    exit_code = 2


class UsageError(WheelguardError, ValueError):
    """The command line asked for something that cannot be done."""


class InvalidWheel(WheelguardError, ValueError):
    """The input is not a wheel wheelguard can read safely.

    ``path`` names the wheel so that the one-line message is useful in a CI log holding many.
    """

    def __init__(self, path: str, reason: str) -> None:
        from wheelguard.util.printable import visible

        # One line whatever the path holds: a newline in a file name must not forge a line.
        super().__init__(f"{visible(path)}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type[InvalidWheel], tuple[str, str]]:
        # Raised in a scan worker process, it must survive the pickle back to the caller.
        return (type(self), (self.path, self.reason))


class InvalidPolicy(WheelguardError, ValueError):
    """A policy file is malformed; the message names file, key and line where known."""

    def __init__(self, problems: list[str] | str) -> None:
        items = [problems] if isinstance(problems, str) else list(problems)
        self.problems = items
        super().__init__("; ".join(items) if len(items) == 1 else "\n  " + "\n  ".join(items))


class InvalidConfig(WheelguardError, ValueError):
    """``[tool.wheelguard]`` (or ``--config``) is malformed: every problem, each with file,
    line and key, in one error."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems[0] if len(self.problems) == 1
                         else "\n  " + "\n  ".join(self.problems))
class OutputError(WheelguardError, OSError):
    """An output cannot be written (read-only or full file system, a path component that is a
    file); nothing partial was left at the output path."""


class RepairError(WheelguardError, RuntimeError):
    """A repair step failed; the input wheel is untouched and no output was written."""

    exit_code = 3


class SmokeError(WheelguardError, RuntimeError):
    """A smoke environment could not be set up (not a failed test: that is a result)."""

    exit_code = 4

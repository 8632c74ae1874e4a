"""Options shared by several commands, declared once, and the conversions from argparse strings.

A command module calls the ``add_*`` functions it needs, so every command spells an option
the same way, with the same help, validation and default.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from wheelguard.errors import UsageError
from wheelguard.linkage import DEFAULT_MAX_WHEEL_SIZE
from wheelguard.model import Severity
from wheelguard.util.printable import visible
from wheelguard.util.units import format_bytes, parse_size

if TYPE_CHECKING:
    from rich.progress import Progress

    from wheelguard.audit import AuditOptions, FindingFilter
    from wheelguard.config import FailOn, ProjectConfig
    from wheelguard.linkage.fetch import ProviderLookup
    from wheelguard.policy.schema import PolicySet
    from wheelguard.reading.archive import Limits
    from wheelguard.report.provenance import RunInfo

__all__ = [
    "add_config_options",
    "add_fail_on",
    "add_output_options",
    "add_policy_option",
    "add_provider_options",
    "add_python_version",
    "add_text_options",
    "add_wheels_argument",
    "archive_limits",
    "audit_options",
    "check_inputs",
    "expand_wheels",
    "fail_on_arg",
    "load_policies",
    "policy_filter",
    "positive_int",
    "progress_bar",
    "project_config",
    "provider_lookup",
    "python_version",
    "resolve_fail_on",
    "run_info",
    "same_name_inputs",
    "severity_or_never",
    "size_arg",
]

_PYTHON_VERSION = re.compile(r"^3\.\d{1,2}$")


def python_version(text: str) -> str:
    """``X.Y`` of a CPython 3 release; ``3``, ``cp312`` or an interpreter path are refused."""
    value = text.strip()
    if not _PYTHON_VERSION.match(value):
        msg = (f"want a Python version as X.Y (e.g. 3.12), not {text!r}"
               + (" (wheelguard smoke --interpreter takes an interpreter)" if "/" in text
                  else ""))
        raise argparse.ArgumentTypeError(msg)
    return value


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


def fail_on_arg(text: str) -> FailOn:
    """``--fail-on``: a severity, or ``never``; kept apart from "not given" (None), which
    lets ``[tool.wheelguard] fail-on`` decide."""
    if text.strip().lower() == "never":
        return "never"
    try:
        return Severity.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_fail_on(p: argparse.ArgumentParser, *, what: str = "exit 1") -> None:
    p.add_argument("--fail-on", type=fail_on_arg, default=None, metavar="LEVEL",
                   help=f"error, warning, info or never: the level at which to {what} "
                        "(default: [tool.wheelguard] fail-on, else error)")


def resolve_fail_on(given: FailOn | None, config: ProjectConfig) -> Severity | None:
    """The command line, else the configuration, else error; None means never fail."""
    value = given if given is not None else config.fail_on
    if value is None:
        return Severity.ERROR
    return None if value == "never" else value


def add_config_options(p: argparse.ArgumentParser, *, limits: bool = True) -> None:
    """``--config``/``--isolated``, and ``--archive-limit`` where the command reads wheels
    under the archive guards (``limits``)."""
    g = p.add_argument_group("configuration")
    g.add_argument("--config", metavar="FILE",
                   help="read [tool.wheelguard] from FILE (default: the nearest pyproject.toml "
                        "that has one, from the working directory upwards)")
    g.add_argument("--isolated", action="store_true",
                   help="ignore every [tool.wheelguard]: only the command line counts")
    if not limits:
        return
    g.add_argument("--archive-limit", action="append", default=[], metavar="KEY=VALUE",
                   type=_limit_arg,
                   help="raise or lower one zip-bomb/size guard over [tool.wheelguard."
                        "archive-limits] and the defaults, e.g. max-total-size=16GB "
                        "(repeatable; docs/reliability.md lists the keys)")


def _limit_arg(text: str) -> tuple[str, str]:
    from wheelguard.reading.archive import limits_from

    key, sep, value = text.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"want KEY=VALUE, e.g. max-total-size=16GB, not "
                                         f"{text!r}")
    try:
        limits_from({key: value})
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return key, value


def archive_limits(args: argparse.Namespace, config: ProjectConfig) -> Limits | None:
    """The archive guards in force: ``--archive-limit`` over the table over the defaults;
    None when neither sets one (the scanner's defaults)."""
    from wheelguard.reading.archive import limits_from

    given = {**config.archive_limits, **dict(getattr(args, "archive_limit", []) or [])}
    return limits_from(given) if given else None


def project_config(args: argparse.Namespace) -> ProjectConfig:
    from wheelguard.config import load_config

    return load_config(explicit=getattr(args, "config", None), cwd=Path.cwd(),
                       isolated=bool(getattr(args, "isolated", False)))


def load_policies(names: list[str], config: ProjectConfig) -> PolicySet | None:
    """``--policy`` (paths relative to the working directory), else ``[tool.wheelguard]
    policies`` (relative to its file); None when neither names one."""
    if not names and config.policies is None:
        return None  # the common CI case: skip importing and compiling the policy machinery
    from wheelguard.policy.load import load_policy_set

    if names:
        return load_policy_set(names, project_dir=Path.cwd())
    if config.root is None or not config.policies:
        return None
    return load_policy_set(list(config.policies), project_dir=config.root,
                           base_dir=config.root)


def add_text_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("text output")
    g.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the text output (auto: on a terminal, unless NO_COLOR is set)")
    g.add_argument("-q", "--quiet", action="store_true",
                   help="only the findings that fail the gate, and the summary line; no "
                        "progress")
    g.add_argument("--max-per-check", type=positive_int, default=None, metavar="N",
                   help="show at most N findings per check and wheel (default: all)")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"want a positive number, not {text!r}")
    return value


def add_wheels_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("wheels", nargs="+", metavar="WHEEL", help="wheel files (globs are expanded)")


def expand_wheels(patterns: list[str]) -> list[str]:
    """Expand globs ourselves: CI shells leave an unmatched ``dist/*.whl`` as it is."""
    out: list[str] = []
    for pattern in patterns:
        # A path that exists is itself, even when it holds glob characters ("[bold]x/a.whl").
        literal = not glob.has_magic(pattern) or os.path.lexists(pattern)
        matches = [pattern] if literal else sorted(glob.glob(pattern))
        if not matches:
            raise UsageError(f"no wheel matches {pattern!r}")
        out.extend(matches)
    return out


def check_inputs(wheels: list[str], *, output: str | None = None) -> list[str]:
    """The wheels to read, each once; UsageError for an ``-o`` that is one of them.

    Checked before any work: a report written over its own input wheel would destroy it.
    """
    unique: list[str] = []
    seen: set[tuple[int, int]] = set()
    for w in wheels:
        try:
            st = Path(w).stat()
        except OSError:
            unique.append(w)  # the reader says why it cannot be read
            continue
        if (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            unique.append(w)
    if output is not None:
        try:
            out = Path(output).stat()
        except OSError:
            return unique
        if (out.st_dev, out.st_ino) in seen and stat.S_ISREG(out.st_mode):
            raise UsageError(f"-o {visible(output)} is one of the input wheels; the report "
                             "would replace it")
    return unique


def same_name_inputs(wheels: list[str]) -> None:
    """UsageError when two different files share a file name: repaired into one directory,
    the second would silently replace the first."""
    by_name: dict[str, str] = {}
    for w in wheels:
        name = Path(w).name
        if name in by_name:
            raise UsageError(f"{visible(by_name[name])} and {visible(w)} have the same file "
                             "name; repaired into one directory, one would replace the other")
        by_name[name] = w


def add_output_options(p: argparse.ArgumentParser, formats: tuple[str, ...]) -> None:
    """``--format`` (the first format is the default) and ``-o``."""
    p.add_argument("--format", choices=formats, default=formats[0],
                   help=f"output format (default {formats[0]})")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report here, not stdout")


def add_python_version(p: argparse.ArgumentParser) -> None:
    p.add_argument("--python-version", "--python", dest="python_version", type=python_version,
                   metavar="X.Y", help="Python version the wheel is judged for (Requires-Dist "
                   "markers, provider wheels); default: the one running wheelguard")


def add_policy_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="FILE|NAME",
        help="policy file, or the name of a shipped policy (default, tvm-ffi, tilelang); "
        "repeatable, later ones win. Default: what [tool.wheelguard] policies names",
    )


@contextmanager
def progress_bar(label: str, total: int, *, enabled: bool) -> Iterator[Progress | None]:
    """A transient progress bar on stderr, only where a person is watching."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    # rich is imported here, not at module level: every command's parser imports this module,
    # and a CI gate should not pay for a terminal UI it never shows.
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
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


def add_provider_options(p: argparse.ArgumentParser, description: str | None = None) -> None:
    """The options that switch the linkage analysis on (audit, ``show --deps``, advise)."""
    g = p.add_argument_group(
        "dependency wheels (linkage analysis)",
        description or "With --wheelhouse or --download, wheels of the distributions that "
        "provide the libraries the wheel needs are read too: at the lowest and highest version "
        "the declared range admits, and the newest.",
    )
    g.add_argument("--wheelhouse", action="append", default=[], metavar="DIR",
                   help="read dependency wheels from this directory (repeatable; no network)")
    g.add_argument("--download", action="store_true",
                   help="let pip download dependency wheels into the wheel cache "
                        "(WHEELGUARD_WHEEL_CACHE, default ~/.cache/wheelguard/wheels)")
    g.add_argument("--skip", action="append", default=[], metavar="NAME",
                   help="never fetch or read this distribution (name or glob; repeatable)")
    g.add_argument("--extra", action="append", default=[], metavar="EXTRA",
                   help="count the Requires-Dist of this extra as declared (repeatable)")
    g.add_argument("--max-provider-size", type=size_arg, default=DEFAULT_MAX_WHEEL_SIZE,
                   metavar="SIZE", help=f"leave provider wheels larger than this unread "
                                        f"(default {format_bytes(DEFAULT_MAX_WHEEL_SIZE)})")


def provider_lookup(args: argparse.Namespace, config: ProjectConfig | None = None
                    ) -> ProviderLookup | None:
    """The lookup the options ask for; None when neither --wheelhouse nor --download is given
    (the audit then stays hermetic). ``[tool.wheelguard] wheelhouse`` stands in for a
    --wheelhouse not given."""
    wheelhouses = tuple(Path(d) for d in args.wheelhouse)
    if not wheelhouses and config is not None:
        wheelhouses = config.wheelhouse
    for d in wheelhouses:
        if not d.is_dir():
            raise UsageError(f"--wheelhouse {d}: not a directory")
    if not wheelhouses and not args.download:
        return None
    # Only now: the provider machinery (pip, downloads) costs a hermetic audit's start-up.
    from wheelguard.linkage.fetch import ProviderLookup
    return ProviderLookup(
        wheelhouses=wheelhouses, download=bool(args.download), skip=tuple(args.skip),
        max_wheel_size=int(args.max_provider_size),
    )


def policy_filter(policies: PolicySet | None) -> FindingFilter | None:
    """The policy post-pass for the policies in force, if any."""
    if policies is None:
        return None
    from wheelguard.policy.decide import assign_actions

    return assign_actions(policies)


def _codes(values: list[str]) -> frozenset[str]:
    from wheelguard.audit import AuditOptions

    keys = [k.strip() for v in values for k in v.split(",") if k.strip()]
    try:
        return AuditOptions.codes(keys)
    except KeyError as e:
        raise UsageError(str(e.args[0])) from None


def audit_options(args: argparse.Namespace, config: ProjectConfig,
                  providers: ProviderLookup | None = None) -> AuditOptions:
    """The options of one audit: the command line over ``[tool.wheelguard]`` over defaults.
    ``--select``/``--ignore`` on the command line replace the table's lists."""
    from wheelguard.audit import AuditOptions

    select = getattr(args, "select", [])
    ignore = getattr(args, "ignore", [])
    size = getattr(args, "size_budget", None)
    installed = getattr(args, "installed_size_budget", None)
    return AuditOptions(
        select=_codes(select) if select else config.select,
        ignore=_codes(ignore) if ignore else config.ignore,
        size_budget=size if size is not None else config.size_budget,
        installed_budget=installed if installed is not None else config.installed_size_budget,
        python=getattr(args, "python_version", None),
        providers=providers,
        extras=tuple(getattr(args, "extra", ())),
        severity=config.severity,
        limits=archive_limits(args, config),
    )


def run_info(args: argparse.Namespace, config: ProjectConfig, policies: PolicySet | None, *,
             fail_on: Severity | None, providers: ProviderLookup | None = None,
             baseline: str | None = None) -> RunInfo:
    from wheelguard.report.provenance import PolicyInfo, RunInfo

    linkage = None
    if providers is not None:
        where = [f"--wheelhouse {d}" for d in providers.wheelhouses]
        if providers.download:
            where.append("--download")
        linkage = ", ".join(where)
    return RunInfo(
        command=tuple(getattr(args, "command_line", ()) or ()),
        config=config,
        policies=tuple(PolicyInfo(p.name, p.source, p.sha256)
                       for p in (policies.policies if policies is not None else ())),
        fail_on=fail_on, linkage=linkage, baseline=baseline,
    )

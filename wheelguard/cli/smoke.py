"""``wheelguard smoke WHEEL --wheelhouse DIR [--baseline OLD]``: install into fresh
environments, import, map; with a baseline, compare the GEMM workloads round by round.

Exit codes: 0 every layout passed (and the baseline gate, when asked for), 1 a check failed or
the gate found a regression or could not tell (the JSON says which), 4 the run could not be set
up at all (no interpreter, no pip, no wheelhouse), 2 usage errors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from wheelguard.cli.common import add_config_options, add_policy_option
from wheelguard.errors import UsageError

__all__ = ["configure_parser", "execute"]

_LAYOUT_CHOICES = ("venv", "system-site-packages", "target")
_GEMM_CHOICES = ("tilelang", "sample", "none")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of sizes: {text!r}") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive integers: {text!r}")
    return sizes


def configure_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "smoke",
        help="install a wheel offline into fresh environments, import it, check what is "
        "mapped, run GEMM drivers, compare with a baseline release",
        description="Install WHEEL from local wheelhouses into a fresh environment per layout, "
        "import it, list every native library the process maps (failing on a SONAME mapped "
        "twice or a provider's runtime mapped from elsewhere), and optionally run a GEMM "
        "driver; with --baseline, compare its workloads with the last release's on this "
        "machine. Exit 0 when every check passed, 1 when one failed, 4 when no environment "
        "could be set up.",
    )
    p.add_argument("wheel", metavar="WHEEL", help="the wheel under test")
    p.add_argument("--wheelhouse", action="append", required=True, metavar="DIR",
                   help="directory of wheels for the dependencies (repeatable); nothing is "
                   "fetched from an index")
    p.add_argument("--layout", action="append", choices=_LAYOUT_CHOICES, metavar="LAYOUT",
                   help="venv, system-site-packages or target (repeatable; default: the "
                   "policy's [smoke].layouts, else all three)")
    p.add_argument("--gemm", action="append", choices=_GEMM_CHOICES, metavar="DRIVER",
                   help="GEMM driver: tilelang, sample or none (repeatable; default: the "
                   "policy's [smoke].gemm, else none)")
    p.add_argument("--gemm-layouts", choices=("first", "all"), default="first",
                   help="run the GEMM drivers in the first layout only (default) or in all "
                   "(the later ones in a short check mode)")
    p.add_argument("--gemm-sizes", type=_sizes, metavar="N[,N...]",
                   help="square problem sizes for the GPU cases (tilelang default 4096,8192)")
    p.add_argument("--iterations", type=int, default=50,
                   help="timed calls per case; the median is reported (default 50)")
    p.add_argument("--warmup", type=int, default=10, help="untimed calls first (default 10)")
    p.add_argument("--require-gpu", action="store_true",
                   help="fail unless a GPU case passed (a skipped GPU part fails the run)")
    p.add_argument("--interpreter", "--python", dest="python", metavar="PATH",
                   help="interpreter to build the environments from (default: this one); "
                   "--python is its old spelling")
    p.add_argument("--host-packages", action="store_true",
                   help="let the environments see the interpreter's own site-packages after "
                   "their own (e.g. a preinstalled torch), even when it is a venv")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="module to import (repeatable; default: the wheel's top-level modules)")
    p.add_argument("--workdir", metavar="DIR",
                   help="build the environments here and keep them (default: a temporary "
                   "directory, removed afterwards)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="limit for the probe of one layout (default 1800)")
    p.add_argument("--baseline", metavar="WHEEL|DIR",
                   help="the last release: installed beside WHEEL in a fresh environment of its "
                   "own, the GEMM workloads of both run interleaved in separate processes, and "
                   "a slowdown beyond --threshold that the spread between rounds cannot explain "
                   "fails the run (a directory: its newest wheel of WHEEL's name)")
    p.add_argument("--rounds", type=int, default=5, metavar="N",
                   help="rounds of the baseline comparison, one process per wheel each "
                   "(default 5, the fewest that give a 90%% interval)")
    p.add_argument("--threshold", type=float, default=3.0, metavar="PCT",
                   help="slowdown in percent beyond which a regression fails (default 3)")
    p.add_argument("--json", metavar="OUT", help="write the result (schemas/smoke-v2.json) here")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_policy_option(p)
    add_config_options(p, limits=False)
    p.set_defaults(func=execute)


def execute(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from wheelguard.cli.common import load_policies, project_config
    from wheelguard.policy.schema import SmokeSettings
    from wheelguard.report.smoke_text import render_smoke_text
    from wheelguard.smoke.options import LAYOUTS, SmokeOptions
    from wheelguard.smoke.run import run_smoke
    from wheelguard.util.fs import atomic_write_text

    del parser
    # --policy, else the policies of the nearest [tool.wheelguard] (as audit and repair find
    # them, from the working directory upwards; --config and --isolated as there).
    policies = load_policies(args.policy, project_config(args))
    settings = policies.smoke if policies is not None else SmokeSettings()
    gemm_names = args.gemm if args.gemm is not None else list(settings.gemm)
    if "none" in gemm_names and len(gemm_names) > 1:
        raise UsageError("--gemm none cannot be combined with a driver")
    gemm = tuple(dict.fromkeys(g for g in gemm_names if g != "none"))
    layouts = tuple(args.layout) if args.layout else (settings.layouts or LAYOUTS)
    wheel = Path(args.wheel)
    if not wheel.is_file():
        raise UsageError(f"no wheel at {wheel}")
    baseline = Path(args.baseline) if args.baseline else None
    if baseline is not None and not baseline.exists():
        raise UsageError(f"--baseline {baseline}: no such wheel or directory")
    options = SmokeOptions(
        wheel=wheel,
        wheelhouses=tuple(Path(w) for w in args.wheelhouse),
        layouts=tuple(dict.fromkeys(layouts)),
        gemm=gemm,
        gemm_layouts=args.gemm_layouts,
        python=Path(args.python) if args.python else None,
        host_packages=args.host_packages,
        imports=tuple(args.imports),
        require_gpu=args.require_gpu,
        gemm_sizes=args.gemm_sizes or (),
        iterations=args.iterations,
        warmup=args.warmup,
        workdir=Path(args.workdir) if args.workdir else None,
        timeout_s=args.timeout,
        baseline=baseline,
        rounds=args.rounds,
        threshold=args.threshold / 100.0,
    )

    def log(message: str) -> None:
        if not args.quiet:
            print(f"wheelguard smoke: {message}", file=sys.stderr, flush=True)

    result = run_smoke(options, log=log)
    if args.json:
        import json

        atomic_write_text(Path(args.json), json.dumps(result.to_json(), indent=2) + "\n")
    sys.stdout.write(render_smoke_text(result))
    return 0 if result.status == "passed" else 1


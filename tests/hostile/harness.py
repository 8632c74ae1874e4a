"""Run wheelguard on the hostile corpus and report every case whose outcome is not the expected.

    python tests/hostile/generate.py /tmp/corpus
    python tests/hostile/harness.py /tmp/corpus [--select GLOB] [--installers] [--json OUT]

Each command of each case runs in its own process group with a wall-clock timeout and an
address-space cap, in an empty working directory, with ``TMPDIR`` pointing at a fresh
directory and ``{out}`` at another. Afterwards the harness checks, besides the exit code, that
no traceback or internal error was printed, that memory stayed bounded, that the case's input
files are byte for byte what they were, that nothing was left in ``{out}`` or ``TMPDIR`` that
should not be there, that a refusal is one line naming what it refuses, and that text from
the wheel (rich markup, ANSI escapes, newlines) was printed literally. One line per case, then
a summary; exit 1 when any case misses its expectation.

With ``--installers`` the cases that name a wheel for it are also given to ``pip install
--no-deps --target`` and ``python -m installer`` (default and ``--validate-record all``), so
that what wheelguard does can be set beside what the installers do.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import hashlib
import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CaseResult", "Options", "Run", "load_cases", "main", "run_case"]

_TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True, kw_only=True)
class Options:
    wheelguard: tuple[str, ...] = (sys.executable, "-m", "wheelguard")
    timeout: float = 20.0
    mem_mb: int = 2048
    """RLIMIT_AS of every command."""
    rss_mb: int = 1024
    """Peak resident memory above which a command counts as a memory blow-up (unless the
    command sets its own ``max_rss_mb``)."""
    slow_s: float = 10.0
    """Wall time above which a command that finished counts as too slow: the largest real
    wheels audit in a few seconds (docs/benchmarks.md)."""
    installers: bool = False
    python: str = sys.executable
    """The interpreter that runs pip and installer."""
    keep: bool = False
    """Keep each run's directory (out, tmp) for inspection."""


@dataclass
class Run:
    """One command of a case: what happened and what was wrong with it."""

    argv: list[str]
    expect: str
    rc: int | None = None
    outcome: str = ""
    stdout: str = ""
    stderr: str = ""
    wall_s: float = 0.0
    max_rss_mb: float = 0.0
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def tags(self) -> list[str]:
        return [p.split(":", 1)[0] for p in self.problems]

    def label(self) -> str:
        words = [w for w in self.argv if not w.startswith("/")]
        return words[0] if words else "?"


@dataclass
class CaseResult:
    id: str
    cls: str
    issue: int
    runs: list[Run]
    installers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(not r.problems for r in self.runs)

    @property
    def skipped(self) -> bool:
        return all(r.skipped for r in self.runs)


def load_cases(root: Path, select: Sequence[str] = ()) -> list[dict[str, Any]]:
    doc = json.loads((root / "manifest.json").read_text())
    cases: list[dict[str, Any]] = doc["cases"]
    if select:
        cases = [c for c in cases if any(fnmatch.fnmatch(c["id"], s) for s in select)]
    return cases


# ---- running one command -------------------------------------------------------------------


def _env(extra: dict[str, str], tmp: Path) -> dict[str, str]:
    """A plain CI shell: no GitHub annotations, no debug, no colour, a private TMPDIR."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"GITHUB_ACTIONS", "WHEELGUARD_DEBUG", "FORCE_COLOR", "SOURCE_DATE_EPOCH",
                        "PYTHONWARNINGS"}}
    env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb", "TMPDIR": str(tmp),
                "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra)
    return env


_PR_CAPBSET_DROP = 24
_DAC_CAPS = (1, 2, 3)
"""CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER: what lets root ignore file modes."""


def _limits(mem_mb: int, unprivileged: bool) -> Callable[[], None]:
    """Runs in the child before exec: rlimits, and for root, no permission-bypassing
    capabilities (dropped from the bounding set, so the exec'd program never has them)."""
    def apply() -> None:
        limit = mem_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if unprivileged:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            for cap in _DAC_CAPS:
                if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")
    return apply


@dataclass
class _Proc:
    rc: int | None
    stdout: bytes
    stderr: bytes
    wall_s: float
    max_rss_mb: float
    timed_out: bool
    failed_to_start: str | None


def _spawn(argv: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float,
           mem_mb: int, unprivileged: bool, scratch: Path) -> _Proc:
    """Run ``argv`` to completion or until ``timeout``; peak RSS from wait4's rusage."""
    out_path, err_path = scratch / "stdout", scratch / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.monotonic()
        try:
            # preexec_fn is unsafe with threads; the harness starts none while it forks.
            proc = subprocess.Popen(
                list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=err, start_new_session=True,
                preexec_fn=_limits(mem_mb, unprivileged))  # noqa: PLW1509
        except (OSError, subprocess.SubprocessError) as e:
            return _Proc(None, b"", str(e).encode(), 0.0, 0.0, False, str(e))
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        # Children the command left behind (a patchelf it started) go with their group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    return _Proc(proc.returncode, out_path.read_bytes(), err_path.read_bytes(), wall,
                 usage.ru_maxrss / 1024, timed_out.is_set(), None)


# ---- snapshots -------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, str]:
    """Every entry below ``root``: its type, and for files their digest (never opens FIFOs)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if stat.S_ISREG(st.st_mode):
                out[rel] = "file:" + hashlib.sha256(p.read_bytes()).hexdigest()
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = "fifo"
            elif stat.S_ISCHR(st.st_mode):
                out[rel] = "chr"
            else:
                out[rel] = f"other:{stat.S_IFMT(st.st_mode)}"
    return out


def _listing(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.is_dir() else []


# ---- judging ---------------------------------------------------------------------------------


def _outcome(rc: int | None, codes: Sequence[int]) -> str:
    if rc is None:
        return "none"
    if rc == 0:
        return "ok"
    if rc == 1:
        return "error-finding"
    if rc in codes:
        return "refuse"
    return f"exit {rc}"


def _first(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else ""


def judge(cmd: dict[str, Any], p: _Proc, *, rss_limit: float, slow_s: float, changed: list[str],
          debris: list[str], devices_lost: list[str]) -> tuple[str, list[str]]:
    """The outcome of one command and every way it falls short of ``cmd``'s expectation."""
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    both = out + err
    codes = cmd.get("codes", [2])
    outcome = _outcome(p.rc, codes)
    wanted = [cmd["expect"], *cmd.get("accept", [])]
    problems: list[str] = []
    fatal = False
    if p.timed_out:
        problems.append(f"hang: killed after {p.wall_s:.0f} s")
        fatal = True
    elif p.rc is not None and p.rc < 0:
        problems.append(f"crash: killed by signal {-p.rc}")
        fatal = True
    if not p.timed_out and p.wall_s > slow_s:
        problems.append(f"slow: {p.wall_s:.1f} s (budget {slow_s:.0f} s)")
    if "MemoryError" in both or p.max_rss_mb > rss_limit:
        problems.append(f"memory: peak RSS {p.max_rss_mb:.0f} MB"
                        + (" (MemoryError)" if "MemoryError" in both else "")
                        + f", limit {rss_limit:.0f} MB")
    if _TRACEBACK in both:
        problems.append(f"traceback: {_last_line(err) or _last_line(out)}")
        fatal = True
    if p.rc == 70:
        line = next((x for x in err.splitlines() if "internal error" in x), _first(err))
        problems.append(f"internal-error: {line[:300]}")
        fatal = True
    if not fatal and outcome not in wanted:
        why = _first(err) or _first(out)
        problems.append(f"wrong-exit: exit {p.rc} ({outcome}), expected {' or '.join(wanted)}"
                        + (f"; {why}" if why else ""))
    if not fatal and outcome == "refuse" and outcome in wanted:
        lines = [line for line in err.splitlines() if line.strip()]
        if len(lines) != 1:
            problems.append(f"multi-line-message: {len(lines)} lines on stderr")
        elif not lines[0].startswith("wheelguard: error:"):
            problems.append(f"message-format: {lines[0][:120]}")
        if len(err) > 2000:
            problems.append(f"message-too-long: {len(err)} characters")
        missing = [m for m in cmd.get("mention", []) if m not in err]
        if missing:
            problems.append(f"message-unspecific: does not name {missing}; {_first(err)}")
    if not fatal and outcome in ("ok", "error-finding") and outcome in wanted and err.strip():
        problems.append(f"stderr-noise: {_first(err)}")
    finding = cmd.get("finding")
    if finding and outcome == "error-finding" and finding not in out:
        problems.append(f"finding-missing: no {finding} in the report")
    for text in cmd.get("must_print", []):
        if not fatal and outcome in wanted and text not in out:
            problems.append(f"markup-interpreted: {text!r} not printed literally")
    for prefix in cmd.get("forbid_lines", []):
        if any(line.startswith(prefix) for line in both.splitlines()):
            problems.append(f"forged-line: an output line starts with {prefix!r}")
    if b"\x1b" in p.stdout + p.stderr:
        problems.append("escape-leak: a raw ESC byte reached the output")
    problems += [f"input-changed: {c}" for c in changed]
    problems += [f"debris: {d}" for d in debris]
    problems += [f"device-clobbered: {d} is no longer a character device" for d in devices_lost]
    return outcome, problems


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


# ---- one case -------------------------------------------------------------------------------


def _subst(word: str, mapping: dict[str, str]) -> str:
    for key, value in mapping.items():
        word = word.replace("{" + key + "}", value)
    return word


def run_case(root: Path, case: dict[str, Any], options: Options, workdir: Path) -> CaseResult:
    """Run every command of ``case`` (and the installers, if asked) and judge each."""
    case_dir = root / case["id"]
    result = CaseResult(case["id"], case["class"], case["issue"], [])
    root_user = os.geteuid() == 0
    unprivileged = bool(case.get("needs_nonroot")) and root_user
    base = workdir / case["id"].replace("/", "__")
    for i, cmd in enumerate(case["commands"]):
        run = Run(argv=cmd["argv"], expect=cmd["expect"])
        result.runs.append(run)
        run_dir = base / f"cmd{i}"
        if run_dir.exists():
            shutil.rmtree(run_dir)
        out, tmp, cwd, scratch = (run_dir / n for n in ("out", "tmp", "cwd", "scratch"))
        for d in (out, tmp, cwd, scratch):
            d.mkdir(parents=True)
        mapping = {"case": str(case_dir), "out": str(out), "root": str(root)}
        argv = [*options.wheelguard, *(_subst(w, mapping) for w in cmd["argv"])]
        devices = list(cmd.get("devices", []))
        if root_user and devices:
            # Never hand root's wheelguard a real device path: a write-by-rename would replace
            # the system's /dev/null. A private node with the same device numbers stands in.
            private = []
            for n, dev in enumerate(devices):
                node = run_dir / f"device{n}"
                try:
                    os.mknod(node, stat.S_IFCHR | 0o666, Path(dev).stat().st_rdev)
                except OSError as e:
                    run.skipped = f"cannot make a private copy of {dev} ({e.strerror})"
                    break
                argv = [str(node) if w == dev else w for w in argv]
                private.append(str(node))
            if run.skipped:
                continue
            devices = private
        if any(not Path(d).is_char_device() for d in devices):
            run.skipped = f"not a character device here: {devices}"
            continue
        before = _snapshot(case_dir)
        p = _spawn(argv, cwd=cwd, env=_env(cmd.get("env", {}), tmp),
                   timeout=cmd.get("timeout") or options.timeout, mem_mb=options.mem_mb,
                   unprivileged=unprivileged, scratch=scratch)
        if p.failed_to_start:
            run.skipped = f"could not start: {p.failed_to_start}"
            continue
        after = _snapshot(case_dir)
        changed = [f"{k} {'removed' if k not in after else 'modified'}"
                   for k, v in before.items() if after.get(k) != v]
        changed += [f"{k} appeared in the input directory" for k in after if k not in before]
        allowed = set(cmd.get("outputs", [])) if p.rc == 0 else set()
        wanted = [cmd["expect"], *cmd.get("accept", [])]
        # A wheel written by a run that should have refused is reported as the wrong exit
        # code, not again as debris; debris is what a failed or finished run left over.
        accepted_wrongly = p.rc == 0 and "ok" not in wanted
        debris = [f"{name} left in the output directory" for name in _listing(out)
                  if name.startswith(".") or (name not in allowed and not accepted_wrongly)]
        debris += [f"{name} left in TMPDIR" for name in _listing(tmp)]
        if p.rc == 0:
            debris += [f"{name} missing from the output directory (exit 0)"
                       for name in allowed if not (out / name).is_file()]
        lost = [d for d in devices if not Path(d).is_char_device()]
        rss_limit = float(cmd.get("max_rss_mb") or options.rss_mb)
        run.rc, run.wall_s, run.max_rss_mb = p.rc, p.wall_s, p.max_rss_mb
        run.stdout = p.stdout.decode("utf-8", "replace")
        run.stderr = p.stderr.decode("utf-8", "replace")
        run.outcome, run.problems = judge(cmd, p, rss_limit=rss_limit, slow_s=options.slow_s,
                                          changed=changed, debris=debris, devices_lost=lost)
        if not options.keep:
            _rmtree(run_dir)
    if options.installers and case.get("installers"):
        result.installers = run_installers(case_dir / case["installers"], options, base)
    if not options.keep:
        _rmtree(base)
    return result


def _rmtree(d: Path) -> None:
    for p in [d, *d.rglob("*")] if d.exists() else []:
        if p.is_dir() and not p.is_symlink():
            with contextlib.suppress(OSError):
                p.chmod(0o755)
    shutil.rmtree(d, ignore_errors=True)


def run_installers(wheel: Path, options: Options, base: Path) -> dict[str, str]:
    """Whether pip and installer accept ``wheel``: 'accept', or 'refuse: <last line>'."""
    base.mkdir(parents=True, exist_ok=True)
    results: dict[str, str] = {}
    tools: dict[str, Callable[[Path], list[str]]] = {
        "pip": lambda d: [options.python, "-m", "pip", "install", "--no-deps", "--no-index",
                          "--no-cache-dir", "--disable-pip-version-check", "--no-compile",
                          "--target", str(d / "target"), str(wheel)],
        "installer": lambda d: [options.python, "-m", "installer", "--destdir", str(d / "root"),
                                "--no-compile-bytecode", str(wheel)],
        "installer-validate": lambda d: [options.python, "-m", "installer", "--destdir",
                                         str(d / "root"), "--no-compile-bytecode",
                                         "--validate-record", "all", str(wheel)],
    }
    for name, make in tools.items():
        d = base / f"install-{name}"
        if d.exists():
            shutil.rmtree(d)
        (d / "scratch").mkdir(parents=True)
        (d / "tmp").mkdir()
        env = _env({"PIP_CONFIG_FILE": os.devnull}, d / "tmp")
        p = _spawn(make(d), cwd=d, env=env, timeout=60, mem_mb=options.mem_mb,
                   unprivileged=False, scratch=d / "scratch")
        if p.timed_out:
            results[name] = "timeout"
        elif p.rc == 0:
            results[name] = "accept"
        else:
            err = p.stderr.decode("utf-8", "replace")
            results[name] = f"refuse: {_reason(err)}"
        _rmtree(d)
    return results


def _reason(err: str) -> str:
    """The line of an installer's stderr that says why (pip's 'ERROR:' line, else the last)."""
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ERROR:"):
            return line[:200]
    return lines[-1][:200] if lines else "(no message)"


# ---- reporting ------------------------------------------------------------------------------


def _result_from_dict(d: dict[str, Any]) -> CaseResult:
    return CaseResult(d["id"], d["cls"], d["issue"], [Run(**run) for run in d["runs"]],
                      d.get("installers", {}))


def describe(result: CaseResult) -> str:
    status = "SKIP" if result.skipped else "PASS" if result.ok else "FAIL"
    parts = []
    for r in result.runs:
        if r.skipped:
            parts.append(f"{r.label()}: skipped ({r.skipped})")
        elif r.problems:
            parts.append(f"{r.label()}: " + "; ".join(p.split(";")[0] for p in r.problems))
    line = f"{status} {result.id}"
    if parts:
        line += "  " + " | ".join(parts)
    if result.installers:
        line += "  [" + ", ".join(f"{k}: {v.split(':')[0]}"
                                  for k, v in result.installers.items()) + "]"
    return line


def summary(results: Sequence[CaseResult]) -> list[str]:
    failing = [r for r in results if not r.ok and not r.skipped]
    skipped = [r for r in results if r.skipped]
    tags: Counter[str] = Counter()
    for r in failing:
        tags.update({t for run in r.runs for t in run.tags})
    classes = Counter(r.cls for r in failing)
    lines = [f"{len(results)} cases: {len(results) - len(failing) - len(skipped)} meet their "
             f"expectation, {len(failing)} do not, {len(skipped)} skipped"]
    if failing:
        lines.append("failing cases by class: " + ", ".join(
            f"{c} {n}" for c, n in sorted(classes.items())))
        lines.append("failing cases by problem: " + ", ".join(
            f"{t} {n}" for t, n in tags.most_common()))
    return lines


def _cell(text: str, limit: int = 160) -> str:
    """Text for one markdown table cell: one line, pipes escaped, control characters shown."""
    text = " ".join(text.split())
    text = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    text = text.replace("|", "\\|").replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown_argv(argv: Sequence[str]) -> str:
    return " ".join(w if w and " " not in w else repr(w) for w in argv)


def markdown(results: Sequence[CaseResult]) -> str:
    """Every command that missed its expectation, and what the installers did, as tables."""
    lines = ["| case | command | exit | expected | problems | stderr (first line) |",
             "|---|---|---|---|---|---|"]
    for r in results:
        for run in r.runs:
            if not run.problems:
                continue
            err = _first(run.stderr) or "(empty)"
            problems = "; ".join(p.split(":", 1)[0] for p in run.problems)
            lines.append(f"| `{r.id}` | `{_cell(_shown_argv(run.argv), 90)}` | {run.rc} | "
                         f"{run.expect} | {problems} | {_cell(err)} |")
    rows = [r for r in results if r.installers]
    if rows:
        lines += ["", "| case | wheelguard audit | wheelguard repair | pip | installer | "
                  "installer --validate-record all |", "|---|---|---|---|---|---|"]
        for r in rows:
            by = {run.label(): run for run in r.runs}

            def verdict(name: str, runs: dict[str, Run] = by) -> str:
                run = runs.get(name)
                if run is None or run.rc is None:
                    return "-"
                mark = "" if not run.problems else " ✗"
                return f"{run.outcome} ({run.rc}){mark}"

            inst = [_cell(r.installers.get(k, "-"), 90)
                    for k in ("pip", "installer", "installer-validate")]
            lines.append(f"| `{r.id}` | {verdict('audit')} | {verdict('repair')} | "
                         + " | ".join(inst) + " |")
    return "\n".join(lines) + "\n"


def _progress(results: Iterator[CaseResult], quiet: bool) -> list[CaseResult]:
    out = []
    for r in results:
        out.append(r)
        if not quiet or not r.ok:
            print(describe(r), flush=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="directory written by generate.py")
    parser.add_argument("--from-json", type=Path, metavar="FILE",
                        help="render --markdown from an earlier --json instead of running")
    parser.add_argument("--select", action="append", default=[], metavar="GLOB",
                        help="only cases whose id matches (repeatable)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per command")
    parser.add_argument("--mem-mb", type=int, default=2048, help="RLIMIT_AS per command")
    parser.add_argument("--rss-mb", type=int, default=1024,
                        help="peak RSS counted as a memory blow-up (default 1024)")
    parser.add_argument("--slow-s", type=float, default=10.0,
                        help="wall time counted as too slow (default 10)")
    parser.add_argument("--installers", action="store_true",
                        help="also try pip and installer on the cases that name a wheel")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every result here")
    parser.add_argument("--markdown", type=Path, metavar="FILE",
                        help="write the failures (and the installer comparison) as tables")
    parser.add_argument("--wheelguard", default=None,
                        help="command that runs wheelguard (default: this Python -m wheelguard)")
    parser.add_argument("--keep", action="store_true", help="keep each run's directories")
    parser.add_argument("-q", "--quiet", action="store_true", help="print failing cases only")
    args = parser.parse_args(argv)
    options = Options(
        wheelguard=tuple(args.wheelguard.split()) if args.wheelguard else Options.wheelguard,
        timeout=args.timeout, mem_mb=args.mem_mb, rss_mb=args.rss_mb, slow_s=args.slow_s,
        installers=args.installers, keep=args.keep)
    if args.from_json:
        results = [_result_from_dict(d) for d in json.loads(args.from_json.read_text())]
        if args.markdown:
            args.markdown.write_text(markdown(results))
        for line in summary(results):
            print(line)
        return 0
    root = args.corpus.resolve()
    cases = load_cases(root, args.select)
    with tempfile.TemporaryDirectory(prefix="wheelguard-hostile-") as work:
        workdir = Path(work)
        results = _progress((run_case(root, c, options, workdir) for c in cases), args.quiet)
    for line in summary(results):
        print(line)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(results))
    return 1 if any(not r.ok and not r.skipped for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

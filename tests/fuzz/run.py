"""Run a fuzz target: coverage-guided with atheris (libFuzzer), or a seeded mutation loop.

    python tests/fuzz/run.py zip --runs 100000                  # atheris when installed
    python tests/fuzz/run.py elf --runs 100000 --engine mutate  # no atheris needed
    python tests/fuzz/run.py --list

A run ends with one line, ``fuzz TARGET ENGINE: N inputs, E unhandled exceptions, H hangs in
S s``, and exit 0 only when E and H are 0. An input that raises (or runs past ``--timeout``
seconds) is written to ``--out`` (``crash-<sha1>`` / ``timeout-<sha1>``, what libFuzzer names
them too) so ``python tests/fuzz/run.py TARGET --replay FILE`` reproduces it. docs/reliability.md
records the long runs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import random
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

_TESTS = Path(__file__).resolve().parents[1]
if str(_TESTS) not in sys.path:  # run as a script
    sys.path.insert(0, str(_TESTS))

from fuzz.targets import TARGETS  # noqa: E402 - after the path setup above

__all__ = ["MutationRun", "main", "mutate"]

_INSTRUMENTED = ["wheelguard", "elftools", "packaging", "installer"]
_IMPORTS = ("wheelguard.audit", "wheelguard.formats", "wheelguard.formats.elf_image",
            "wheelguard.policy.load", "wheelguard.repair.write", "wheelguard.reading.scan",
            "installer.sources")
_INTERESTING32 = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000,
                  0xFFFFFFFF, 0xFFFFFFF0)


def mutate(rng: random.Random, data: bytes, others: Sequence[bytes]) -> bytes:
    """One to four of the classic byte-level mutations (bit flips, interesting integers at any
    offset, deletions, duplications, truncation, splices with another seed)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(8)
        n = len(buf)
        if n == 0 or choice == 7:
            other = rng.choice(others) if others else b"\0"
            cut = rng.randint(0, n)
            buf[cut:] = other[rng.randint(0, len(other)):]
        elif choice == 0:
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif choice == 1:
            i = rng.randrange(n)
            buf[i] = rng.randrange(256)
        elif choice == 2:
            value = rng.choice(_INTERESTING32)
            width = rng.choice((1, 2, 4, 8))
            i = rng.randrange(n)
            raw = (value & ((1 << (8 * width)) - 1)).to_bytes(width, rng.choice(("little", "big")))
            buf[i:i + width] = raw
        elif choice == 3:
            i = rng.randrange(n)
            del buf[i:i + rng.randint(1, min(64, n - i))]
        elif choice == 4:
            i = rng.randrange(n)
            piece = buf[i:i + rng.randint(1, 256)]
            j = rng.randrange(n)
            buf[j:j] = piece * rng.randint(1, 4)
        elif choice == 5:
            del buf[rng.randint(0, n):]
        else:
            i = rng.randrange(n)
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(buf)


class MutationRun:
    """The mutation loop: each input is a mutated seed; a watchdog thread ends the process
    (after writing the input out) when one input runs past ``timeout``."""

    def __init__(self, target: Callable[[bytes], None], seeds: list[bytes], *, out: Path,
                 timeout: float, seed: int = 0) -> None:
        self.target = target
        self.seeds = seeds or [b""]
        self.out = out
        self.timeout = timeout
        self.rng = random.Random(seed)
        self.inputs = 0
        self.crashes: list[Path] = []
        self._current: bytes | None = None
        self._started = 0.0
        self._lock = threading.Lock()

    def _watch(self) -> None:
        while True:
            time.sleep(min(1.0, self.timeout / 4))
            with self._lock:
                current, started = self._current, self._started
            if current is not None and time.monotonic() - started > self.timeout:
                path = _save(self.out, "timeout", current)
                print(f"fuzz: an input ran past {self.timeout:.0f} s: {path}", file=sys.stderr,
                      flush=True)
                os._exit(3)

    def run(self, runs: int, *, max_seconds: float | None = None) -> None:
        threading.Thread(target=self._watch, daemon=True).start()
        end = None if max_seconds is None else time.monotonic() + max_seconds
        inputs = [*self.seeds]
        while self.inputs < runs and (end is None or time.monotonic() < end):
            if inputs:
                data = inputs.pop(0)  # every seed once, as it is
            else:
                data = mutate(self.rng, self.rng.choice(self.seeds), self.seeds)
            with self._lock:
                self._current, self._started = data, time.monotonic()
            try:
                self.target(data)
            except Exception:
                path = _save(self.out, "crash", data)
                self.crashes.append(path)
                print(f"fuzz: unhandled exception, input in {path}:\n"
                      f"{traceback.format_exc()}", file=sys.stderr, flush=True)
            finally:
                with self._lock:
                    self._current = None
            self.inputs += 1


def _save(out: Path, kind: str, data: bytes) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{kind}-{hashlib.sha1(data).hexdigest()}"
    path.write_bytes(data)
    return path


def _atheris(name: str, runs: int, timeout: float, out: Path, corpus: Path | None) -> int:
    """libFuzzer through atheris; its output is passed through, then the summary line."""
    import atheris

    # Coverage of wheelguard and the parsers it drives (not of the standard library, which
    # would only slow every input down): imported here, inside the instrumenting context,
    # before anything else imports them.
    with atheris.instrument_imports(include=_INSTRUMENTED):
        for module in _IMPORTS:
            importlib.import_module(module)
    target = TARGETS[name]
    seed_dir = corpus or out / f"corpus-{name}"
    seed_dir.mkdir(parents=True, exist_ok=True)
    for data in target.seeds():
        (seed_dir / hashlib.sha1(data).hexdigest()).write_bytes(data)
    max_len = max((len(p.read_bytes()) for p in seed_dir.iterdir()), default=4096)
    args = [sys.argv[0], str(seed_dir), f"-runs={runs}", f"-timeout={int(timeout)}",
            "-rss_limit_mb=3072", f"-max_len={max(4096, max_len + 1024)}",
            f"-artifact_prefix={out}/", "-print_final_stats=1"]
    atheris.Setup(args, target.run)
    atheris.Fuzz()  # exits the process: libFuzzer prints "Done N runs" and the stats
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("target", nargs="?", choices=sorted(TARGETS))
    p.add_argument("--runs", type=int, default=100_000)
    p.add_argument("--engine", choices=("atheris", "mutate"), default=None,
                   help="default: atheris when it imports, else mutate")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds one input may take")
    p.add_argument("--seed", type=int, default=0, help="mutation loop's random seed")
    p.add_argument("--out", type=Path, default=Path("fuzz-out"), help="crashes and timeouts")
    p.add_argument("--corpus", type=Path, help="atheris: corpus directory (grows)")
    p.add_argument("--replay", type=Path, metavar="FILE", help="run one saved input")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    if args.list or args.target is None:
        for t in TARGETS.values():
            print(f"{t.name:10} {t.description}")
        return 0
    target = TARGETS[args.target]
    if args.replay is not None:
        target.run(args.replay.read_bytes())
        print(f"fuzz {args.target}: {args.replay} ran without an unhandled exception")
        return 0
    engine = args.engine or ("atheris" if _has_atheris() else "mutate")
    if engine == "atheris":
        return _atheris(args.target, args.runs, args.timeout, args.out, args.corpus)
    started = time.monotonic()
    loop = MutationRun(target.run, target.seeds(), out=args.out, timeout=args.timeout,
                       seed=args.seed)
    loop.run(args.runs)
    print(f"fuzz {args.target} mutate: {loop.inputs} inputs, {len(loop.crashes)} unhandled "
          f"exceptions, 0 hangs in {time.monotonic() - started:.0f} s")
    return 1 if loop.crashes else 0


def _has_atheris() -> bool:
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())

"""The corpus of published wheels (``corpus.toml`` beside this file): fetch, verify, locate.

One pinned set of real wheels across the field (ML compiler stacks, CUDA libraries,
frameworks, the scientific stack, tiny C extensions) that accuracy studies, platform work and
benchmarks all read, so their numbers are about the same bytes. Every fact in the manifest
(file name, size, sha256, URL) was taken from the registry's JSON API; ``--check-registry``
asks it again.

Command line::

    python tests/corpus/fetch.py                      # everything, 4 downloads at a time
    python tests/corpus/fetch.py --os linux --max-size 200MB
    python tests/corpus/fetch.py --only numpy-linux torch-linux
    python tests/corpus/fetch.py --list               # what is pinned, and what is cached

From tests and benchmarks (with ``tests/`` on ``sys.path``)::

    from corpus.fetch import fetch, load_corpus, path_of
    paths = fetch(["numpy-linux"])          # downloads what is missing, verifies everything
    wheel = path_of("numpy-linux")          # cached path, or FileNotFoundError saying how to get it

Files land in ``$WHEELGUARD_WHEEL_CACHE`` (default ``~/.cache/wheelguard/wheels``) under their
registry file name, shared with ``helpers.published``.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO, cast, get_args

if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers.wheelcache import (
    Artifact,
    cache_dir,
    cached,
    download_all,
    lookup_pypi,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "CATEGORIES",
    "MANIFEST",
    "OSES",
    "CorpusFetchError",
    "Entry",
    "fetch",
    "load_corpus",
    "main",
    "path_of",
    "select",
]

MANIFEST = Path(__file__).with_name("corpus.toml")

Os = Literal["linux", "macos", "windows"]
Category = Literal["compiler-stack", "cuda", "framework", "scientific", "general"]
OSES: tuple[str, ...] = get_args(Os)
CATEGORIES: tuple[str, ...] = get_args(Category)
_FIELDS = ("key", "project", "version", "filename", "sha256", "size", "url", "os", "category",
           "why")


@dataclass(frozen=True, slots=True)
class Entry:
    """One corpus wheel. ``os`` is where it runs: for a pure wheel (``py3-none-any``, e.g.
    flashinfer) the one platform its project supports."""

    key: str
    project: str
    version: str
    filename: str
    sha256: str
    size: int
    url: str
    os: Os
    category: Category
    why: str

    @property
    def artifact(self) -> Artifact:
        return Artifact(self.filename, self.sha256, self.url, self.size)


class CorpusFetchError(RuntimeError):
    """Some wheels could not be fetched; ``failures`` maps each key to its one-line reason."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        lines = [f"{key}: {reason}" for key, reason in failures.items()]
        super().__init__(f"{len(failures)} corpus wheel(s) not fetched:\n" + "\n".join(lines))


def load_corpus(path: Path = MANIFEST) -> dict[str, Entry]:
    """Every entry by key, in manifest order. Shape errors (a missing field, a wrong type, an
    unknown os or category, a repeated key) are collected and raised together as ValueError."""
    with path.open("rb") as f:
        document = tomllib.load(f)
    problems: list[str] = []
    entries: dict[str, Entry] = {}
    for index, raw in enumerate(document.get("wheel", [])):
        where = f"wheel #{index + 1} ({raw.get('key', '?')})"
        missing = [name for name in _FIELDS if name not in raw]
        unknown = sorted(set(raw) - set(_FIELDS))
        if missing or unknown:
            problems.append(f"{where}: missing {missing}, unknown {unknown}")
            continue
        if not isinstance(raw["size"], int) or isinstance(raw["size"], bool):
            problems.append(f"{where}: size must be an integer byte count")
            continue
        if any(not isinstance(raw[name], str) for name in _FIELDS if name != "size"):
            problems.append(f"{where}: every field but size is a string")
            continue
        if raw["os"] not in OSES:
            problems.append(f"{where}: os {raw['os']!r} is not one of {OSES}")
            continue
        if raw["category"] not in CATEGORIES:
            problems.append(f"{where}: category {raw['category']!r} is not one of {CATEGORIES}")
            continue
        if raw["key"] in entries:
            problems.append(f"{where}: key {raw['key']!r} repeats an earlier entry")
            continue
        entries[raw["key"]] = Entry(
            key=raw["key"], project=raw["project"], version=raw["version"],
            filename=raw["filename"], sha256=raw["sha256"], size=raw["size"], url=raw["url"],
            os=cast("Os", raw["os"]), category=cast("Category", raw["category"]),
            why=raw["why"],
        )
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return entries


def select(
    corpus: dict[str, Entry],
    only: Sequence[str] = (),
    os: str | None = None,
    max_size: int | None = None,
    category: str | None = None,
) -> list[Entry]:
    """The entries the filters keep, in manifest order; an unknown key in ``only`` is a
    KeyError naming it (a typo must not fetch nothing and succeed)."""
    unknown = [key for key in only if key not in corpus]
    if unknown:
        msg = f"not in the corpus: {', '.join(unknown)}"
        raise KeyError(msg)
    wanted = set(only)
    return [
        e for e in corpus.values()
        if (not wanted or e.key in wanted)
        and (os is None or e.os == os)
        and (category is None or e.category == category)
        and (max_size is None or e.size <= max_size)
    ]


def path_of(key: str, cache: Path | None = None) -> Path:
    """The cached wheel of ``key``. Checks the size only (the digest was checked when the file
    was written); raises FileNotFoundError with the command that fetches it."""
    entry = load_corpus()[key]
    hit = cached(entry.artifact, cache or cache_dir(), verify=False)
    if hit is None:
        msg = (f"corpus wheel {key} ({entry.filename}) is not in the cache; "
               f"run: python tests/corpus/fetch.py --only {key}")
        raise FileNotFoundError(msg)
    return hit


def fetch(
    keys: Iterable[str] | None = None,
    *,
    cache: Path | None = None,
    jobs: int = 4,
    progress: TextIO | None = None,
) -> dict[str, Path]:
    """Cached, verified paths of ``keys`` (all entries when None), downloading what is missing.

    Raises :class:`CorpusFetchError` listing every failure, after trying all of them.
    """
    corpus = load_corpus()
    entries = select(corpus, list(keys) if keys is not None else ())
    return _fetch_entries(entries, cache or cache_dir(), jobs, _Reporter(progress, entries))


def _fetch_entries(
    entries: Sequence[Entry], cache: Path, jobs: int, reporter: _Reporter
) -> dict[str, Path]:
    by_artifact: dict[Artifact, list[Entry]] = {}
    for e in entries:
        by_artifact.setdefault(e.artifact, []).append(e)
    results = download_all(
        by_artifact, cache, jobs=jobs, progress=reporter.advance, on_done=reporter.done
    )
    reporter.finish()
    paths: dict[str, Path] = {}
    failures: dict[str, str] = {}
    for artifact, outcome in results.items():
        for e in by_artifact[artifact]:
            if isinstance(outcome, Path):
                paths[e.key] = outcome
            else:
                failures[e.key] = f"{type(outcome).__name__}: {outcome}".replace("\n", " ")
    if failures:
        raise CorpusFetchError(failures)
    return paths


class _Reporter:
    """Progress on a stream: one redrawn status line on a terminal, plain lines elsewhere
    (a log must stay readable, so only starts, quarter marks of large files, and ends)."""

    _QUARTERS_ABOVE = 50 << 20

    def __init__(self, stream: TextIO | None, entries: Sequence[Entry]) -> None:
        self._stream = stream
        self._tty = stream is not None and stream.isatty()
        self._keys = {e.artifact: e.key for e in entries}
        self._total = sum(e.size for e in {e.artifact: e for e in entries}.values())
        self._count = len(self._keys)
        self._got: dict[Artifact, int] = {}
        self._marks: dict[Artifact, int] = {}
        self._finished = 0
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._drawn = 0.0

    def advance(self, artifact: Artifact, received: int) -> None:
        if self._stream is None:
            return
        with self._lock:
            if artifact not in self._got:
                self._got[artifact] = 0
                if not self._tty:
                    self._line(f"get  {self._keys[artifact]} ({_mb(artifact.size or 0)})")
            self._got[artifact] = received
            if self._tty and time.monotonic() - self._drawn > 0.1:  # a redraw per MiB floods
                self._status()
            elif (artifact.size or 0) > self._QUARTERS_ABOVE:
                quarter = received * 4 // (artifact.size or 1)
                if 0 < quarter < 4 and quarter > self._marks.get(artifact, 0):
                    self._marks[artifact] = quarter
                    self._line(f"     {self._keys[artifact]}: {quarter * 25}%")

    def done(self, artifact: Artifact, outcome: Path | BaseException) -> None:
        if self._stream is None:
            return
        with self._lock:
            downloaded = artifact in self._got  # advance() ran: bytes came over the network
            self._finished += 1
            self._got[artifact] = artifact.size or 0
            key = self._keys[artifact]
            if isinstance(outcome, BaseException):
                self._line(f"FAIL {key}: {outcome}".replace("\n", " "))
            else:
                self._line(f"ok   {key}" + ("" if downloaded else " (cached)"))
            if self._tty:
                self._status()

    def finish(self) -> None:
        if self._stream is not None and self._tty:
            self._stream.write("\r\033[K")
            self._stream.flush()

    def _status(self) -> None:
        assert self._stream is not None
        got = sum(self._got.values())
        rate = got / max(time.monotonic() - self._start, 1e-3)
        self._stream.write(f"\r\033[K[{self._finished}/{self._count}] {_mb(got)} of "
                           f"{_mb(self._total)}, {_mb(int(rate))}/s")
        self._stream.flush()
        self._drawn = time.monotonic()

    def _line(self, text: str) -> None:
        assert self._stream is not None
        if self._tty:
            self._stream.write("\r\033[K")
        self._stream.write(text + "\n")
        self._stream.flush()


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB"


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def _parse_size(text: str) -> int:
    """``200MB``, ``1.5GiB`` or bytes; powers of 1024, as wheelguard's own size options."""
    m = _SIZE.match(text)
    if m is None:
        msg = f"not a size: {text!r} (try 200MB)"
        raise argparse.ArgumentTypeError(msg)
    return int(float(m[1]) * 1024 ** {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}[m[2].lower()])


def _check_registry(entries: Sequence[Entry]) -> list[str]:
    """Each entry against the registry's JSON API now: size, sha256 and URL must agree."""
    problems = []
    for e in entries:
        try:
            listed = lookup_pypi(e.project, e.version, e.filename)
        except Exception as exc:  # one line per entry, whatever went wrong
            problems.append(f"{e.key}: {exc}")
            continue
        if listed != e.artifact:
            problems.append(f"{e.key}: registry says {listed}, manifest says {e.artifact}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tests/corpus/fetch.py",
        description="Download the pinned corpus of published wheels into the shared cache "
                    "and verify each file's size and sha256.",
    )
    parser.add_argument("--only", nargs="+", default=[], metavar="KEY",
                        help="these keys only (see --list)")
    parser.add_argument("--os", choices=OSES, help="entries for this platform only")
    parser.add_argument("--category", choices=CATEGORIES)
    parser.add_argument("--max-size", type=_parse_size, metavar="SIZE",
                        help="skip wheels larger than this, e.g. 200MB")
    parser.add_argument("--list", action="store_true",
                        help="print the selected entries and whether each is cached; fetch nothing")
    parser.add_argument("--check-registry", action="store_true",
                        help="compare the selected entries with the registry's JSON API; "
                             "fetch nothing")
    parser.add_argument("-j", "--jobs", type=int, default=4, help="parallel downloads (4)")
    args = parser.parse_args(argv)

    try:
        corpus = load_corpus()
        entries = select(corpus, args.only, args.os, args.max_size, args.category)
    except (KeyError, ValueError) as bad:
        print(f"fetch.py: {bad.args[0] if isinstance(bad, KeyError) else bad}", file=sys.stderr)
        return 2
    cache = cache_dir()
    if args.list:
        for e in entries:
            state = "cached" if cached(e.artifact, cache, verify=False) else "-"
            print(f"{e.key:32} {e.size:>12,}  {e.os:8} {e.category:15} {state:7} {e.filename}")
        total = sum(e.size for e in entries)
        print(f"{len(entries)} wheels, {total:,} bytes ({total / (1 << 30):.2f} GiB); "
              f"cache: {cache}")
        return 0
    if args.check_registry:
        problems = _check_registry(entries)
        for line in problems:
            print(f"fetch.py: {line}", file=sys.stderr)
        print(f"{len(entries) - len(problems)} of {len(entries)} entries agree with the registry",
              file=sys.stderr)
        return 1 if problems else 0
    try:
        paths = _fetch_entries(entries, cache, args.jobs, _Reporter(sys.stderr, entries))
    except CorpusFetchError as failed:
        for key, reason in failed.failures.items():
            print(f"fetch.py: {key}: {reason}", file=sys.stderr)
        return 1
    print(f"{len(paths)} wheels verified in {cache}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

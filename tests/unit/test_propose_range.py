"""The range ``wheelguard advise`` proposes from a verdict per version, and the pieces it is
written with (:mod:`wheelguard.knowledge.specifiers`), plus the two seams the advice leans
on: a command stopped by what it prints, and pip's size announcement."""

from __future__ import annotations

import sys
import time

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from wheelguard.knowledge.specifiers import next_series, propose_range, simplest_between
from wheelguard.linkage.fetch import ProviderLookup
from wheelguard.util.proc import run_tool

Z3 = ["4.12.6.0", "4.13.0.0", "4.13.4.0", "4.14.0.0", "4.14.1.0", "4.15.0.0", "4.15.1.0",
      "4.15.3.0", "4.15.4.0", "4.15.8.0", "4.16.0.0", "5.0.0.0", "5.4.1.0"]
FFI = ["0.1.9", "0.1.10", "0.1.11", "0.1.12", "0.1.13.post2", "0.1.14.post1", "0.1.15.post2"]


def _v(*texts: str) -> list[Version]:
    return [Version(t) for t in texts]


@pytest.mark.parametrize(("after", "upto", "expected"), [
    ("4.14.1.0", "4.15.0.0", "4.15"),
    ("4.15.8.0", "4.16.0.0", "4.16"),
    ("0.1.12", "0.1.13.post2", "0.1.13"),
    ("0.1.9", "0.1.10", "0.1.10"),
    ("1.9", "2.0", "2"),
    ("0.1.13", "0.1.13.post1", "0.1.13.post1"),
    ("1.4", "2.0rc1", "2.0rc1"),
])
def test_simplest_between(after: str, upto: str, expected: str) -> None:
    got = simplest_between(Version(after), Version(upto))
    assert str(got) == expected
    assert Version(after) < got <= Version(upto)


@pytest.mark.parametrize(("version", "expected"), [
    ("0.1.15.post2", "0.1.16"), ("4.15.4.0", "4.15.5"), ("2", "2.0.1"), ("1!2.3", "1!2.3.1"),
])
def test_next_series(version: str, expected: str) -> None:
    assert str(next_series(Version(version))) == expected


@pytest.mark.parametrize(("versions", "working", "declared", "cap", "expected"), [
    # tilelang 0.1.15 and z3-solver: only the 4.15 series ships libz3.so.4.15.
    (Z3, [v for v in Z3 if v.startswith("4.15")], ">=4.13.0,<4.15.5", False, ">=4.15,<4.16"),
    # tilelang 0.1.15 and apache-tvm-ffi: 0.1.9 lacks ReprPrint, 0.1.13 drops json::Stringify.
    (FFI, ["0.1.10", "0.1.11", "0.1.12"], ">=0.1.11,<0.1.13", True, ">=0.1.10,<0.1.13"),
    # Everything works: nothing older to judge keeps no bound unless declared; the declared
    # cap above the newest is kept (future releases cannot be judged).
    (FFI, FFI, ">=0.1.12,<0.2", False, "<0.2"),
    (FFI, FFI, "", False, ""),
    # ... and a C++ consumer without a cap gets one above the newest series.
    (FFI, FFI, ">=0.1.9", True, ">=0.1.9,<0.1.16"),
    # The newest fails: bounded just below it.
    (["1.0", "1.1", "2.0"], ["1.0", "1.1"], "", False, "<2"),
])
def test_propose_range(versions: list[str], working: list[str], declared: str, cap: bool,
                       expected: str) -> None:
    proposal = propose_range(_v(*versions), _v(*working), declared=SpecifierSet(declared),
                             cap=cap)
    assert proposal is not None
    assert proposal.specifier == expected
    admitted = {v for v in versions if SpecifierSet(expected).contains(v, True)}
    assert admitted == set(working)


def test_unread_versions_are_never_admitted_nor_break_contiguity() -> None:
    versions = _v("1.0", "1.1", "1.2", "1.3", "1.4")
    proposal = propose_range(versions, _v("1.0", "1.1", "1.3"), judged=_v("1.0", "1.1", "1.3",
                                                                        "1.4"))
    assert proposal is not None
    assert proposal.contiguous  # 1.2 was not read: no evidence of a hole
    assert proposal.specifier == "<1.2"  # the longer safe run, 1.2 excluded
    assert proposal.runs == ((Version("1.0"), Version("1.1")), (Version("1.3"), Version("1.3")))


def test_non_contiguous_prefers_the_run_the_declared_range_admits() -> None:
    versions = _v("1.0", "1.1", "1.2", "1.3", "2.0", "2.1")
    working = _v("1.0", "1.1", "1.2", "2.0", "2.1")
    proposal = propose_range(versions, working, declared=SpecifierSet(">=2.0"))
    assert proposal is not None
    assert not proposal.contiguous
    assert proposal.specifier == ">=2"
    assert proposal.alternative == "!=1.3"
    # Without a declaration, the longer run wins.
    assert propose_range(versions, working) is not None
    assert propose_range(versions, working).specifier == "<1.3"  # type: ignore[union-attr]


def test_nothing_works_proposes_nothing() -> None:
    assert propose_range(_v("1.0", "1.1"), []) is None


def test_a_watch_stops_a_command_as_soon_as_it_says_so() -> None:
    script = "import time; print('hello', flush=True); print('STOP', flush=True); time.sleep(60)"
    started = time.monotonic()
    done = run_tool([sys.executable, "-c", script], timeout=120,
                    watch=lambda line: "asked to stop" if line == "STOP" else None)
    assert time.monotonic() - started < 30
    assert done.stopped == "asked to stop"
    assert done.returncode is None
    assert done.stdout.splitlines() == ["hello", "STOP"]
    assert done.why() == "stopped: asked to stop"
    plain = run_tool([sys.executable, "-c", "print('x')"], timeout=60, watch=lambda _l: None)
    assert (plain.returncode, plain.stdout, plain.stopped) == (0, "x\n", None)


@pytest.mark.parametrize(("line", "stops"), [
    ("  Downloading torch-2.5.1-cp312-cp312-manylinux1_x86_64.whl (906.4 MB)", True),
    ("  Using cached torch-2.5.1-cp312-cp312-manylinux1_x86_64.whl (906.4 MB)", True),
    ("  Downloading z3_solver-4.15.4.0-py3-none-manylinux_2_17_x86_64.whl (29.3 MB)", False),
    ("  Downloading torch-2.5.1-cp312-cp312-manylinux1_x86_64.whl.metadata (28 kB)", False),
    ("Collecting torch==2.5.1", False),
])
def test_pip_is_stopped_when_it_announces_a_wheel_over_the_limit(line: str, stops: bool) -> None:
    lookup = ProviderLookup(download=True, max_wheel_size=100 << 20)
    reason = lookup._size_watch(line)
    assert (reason is not None) is stops
    if reason is not None:
        assert "over the 100.0 MiB limit" in reason

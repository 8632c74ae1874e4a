"""Nothing lost, nothing left behind: outputs under faults, and installers as the judges.

Outputs: special files are written through, a full or blocked path is one clear error, a
killed run leaves only a locked temporary file that the next run removes, four repairs of
one wheel into one directory at once all succeed with one valid wheel left. Installability:
what pip or pypa/installer refuse, wheelguard does not pass; what wheelguard writes, both
install (member names with unusual characters included).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from fuzz.targets import _ODD, _wheel
from helpers.cli import cli_env, run_wheelguard
from helpers.fixtures import BuiltFixture
from helpers.repair_fixtures import assert_installable
from hostile import generate

from wheelguard.errors import OutputError, UsageError
from wheelguard.repair.zipwrite import source_date_epoch
from wheelguard.util.fs import TEMP_PREFIX, atomic_binary_output, atomic_write_text, remove_stale

Wheels = Mapping[str, BuiltFixture]
_ROOT = Path(__file__).resolve().parents[2]

# ---- util.fs --------------------------------------------------------------------------------


def test_a_fifo_target_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "report"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write_text(fifo, "hello\n")
    reader.join(10)
    assert got == [b"hello\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode), "the FIFO was replaced by a file"


def test_a_full_device_is_one_clear_error() -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with pytest.raises(OutputError, match="no space left on device"):
        atomic_write_text(Path("/dev/full"), "x" * 100_000)


def test_a_path_under_a_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(OutputError, match=r"file\.txt is a file, not a directory"):
        atomic_write_text(tmp_path / "file.txt" / "sub" / "report.txt", "x")


def test_a_directory_target_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="it is a directory"):
        atomic_write_text(tmp_path, "x")


def test_failure_leaves_the_target_and_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "out.whl"
    target.write_bytes(b"old")
    def write() -> None:
        with atomic_binary_output(target) as f:
            f.write(b"partial")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.whl"]


def test_temporary_names_match_no_wheel_glob(tmp_path: Path) -> None:
    target = tmp_path / "demo-1.0-py3-none-any.whl"
    with atomic_binary_output(target) as f:
        names = [p.name for p in tmp_path.iterdir()]
        f.write(b"x")
    (tmp,) = names
    assert tmp.startswith(TEMP_PREFIX)
    assert not fnmatch.fnmatch(tmp, "*.whl")
    assert not tmp.endswith(".whl")


_HOLD = """
import sys, time
from pathlib import Path
from wheelguard.util.fs import atomic_binary_output
with atomic_binary_output(Path(sys.argv[1])) as f:
    f.write(b"partial")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _holder(target: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(target)], stdout=subprocess.PIPE,
                            text=True, env=cli_env())
    assert proc.stdout is not None
    with proc.stdout:
        assert proc.stdout.readline().strip() == "writing"
    return proc


def test_a_killed_writer_leaves_a_temporary_file_the_next_run_removes(tmp_path: Path) -> None:
    target = tmp_path / "demo-1.0-py3-none-any.whl"
    live = _holder(target)
    killed = _holder(target)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    debris = [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert len(debris) == 2
    assert not target.exists(), "a killed write must not leave a partial target"
    # The next run removes the dead writer's file and leaves the live writer's alone.
    assert remove_stale(tmp_path) == 1
    left = [p for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert len(left) == 1
    live.send_signal(signal.SIGKILL)
    live.wait()
    atomic_write_text(target, "done")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


# ---- SOURCE_DATE_EPOCH ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "date"), [
    ("", None), ("0", (1980, 1, 1, 0, 0, 0)), ("315532800", (1980, 1, 1, 0, 0, 0)),
    ("1700000000", (2023, 11, 14, 22, 13, 20)), ("9" * 20, (2107, 12, 31, 23, 59, 58)),
    (" 1700000000 ", (2023, 11, 14, 22, 13, 20)),
])
def test_source_date_epoch(value: str, date: tuple[int, ...] | None) -> None:
    assert source_date_epoch({"SOURCE_DATE_EPOCH": value}) == date


@pytest.mark.parametrize("value", ["1e20", "-1", "abc", "1.5", "0x10", "\u0661\u0662"])
def test_malformed_source_date_epoch_is_an_error(value: str) -> None:
    with pytest.raises(UsageError, match="SOURCE_DATE_EPOCH"):
        source_date_epoch({"SOURCE_DATE_EPOCH": value})


# ---- repair under faults --------------------------------------------------------------------


def _odd_wheel(directory: Path, size: int = 0) -> Path:
    """A wheel with unusual member names, a vendored tree the default policy strips and, with
    ``size``, a large incompressible member so that writing takes a while."""
    files = {"demo/__init__.py": b'"""odd names"""\n',
             "demo/3rdparty/tvm/src/runtime.cc": b"int x;\n",
             "demo/3rdparty/tvm/include/tvm.h": b"int x;\n"}
    files.update({f"demo/{name}.txt": name.encode() for name in _ODD})
    if size:
        blob = b"".join(hashlib.sha256(i.to_bytes(4, "little")).digest()
                        for i in range(size // 32))
        files["demo/data/blob.bin"] = blob
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "demo-1.0-py3-none-any.whl"
    path.write_bytes(_wheel(files))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _published(key: str) -> Path:
    from corpus.fetch import path_of

    try:
        return path_of(key)
    except FileNotFoundError:
        pytest.skip(f"{key} is not cached (python tests/corpus/fetch.py --only {key})")


@pytest.mark.parametrize("source", ["generated", "tilelang-linux"])
def test_repair_killed_at_any_point_leaves_no_partial_wheel(source: str, tmp_path: Path) -> None:
    """Killed at several points of its run (the published tilelang wheel, 47 MB, when it is
    cached; a generated 25 MB wheel always): nothing or the whole wheel at the target path,
    the input unchanged, and only temporary files that the next run removes."""
    if source == "generated":
        src = _odd_wheel(tmp_path / "in", size=24 << 20)
    else:
        src = tmp_path / "in" / _published(source).name
        src.parent.mkdir()
        src.symlink_to(_published(source))
    before = _sha(src)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "wheelguard", "repair", "-w", str(out), str(src)]
    started = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True, env=cli_env(), timeout=300)
    full = time.monotonic() - started
    reference = _sha(out / src.name)
    (out / src.name).unlink()
    # Four points of the generated wheel's run; two of the published one's (it takes longer).
    for fraction in (0.3, 0.6, 0.8, 0.95) if source == "generated" else (0.5, 0.9):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=cli_env())
        time.sleep(full * fraction)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _sha(src) == before, "the input changed"
        target = out / src.name
        if target.exists():
            assert _sha(target) == reference, f"a partial wheel at {fraction:.0%}"
            target.unlink()
        for p in out.iterdir() if out.exists() else ():
            assert p.name.startswith(TEMP_PREFIX), f"debris {p.name}"
    subprocess.run(argv, check=True, capture_output=True, env=cli_env(), timeout=300)
    assert sorted(p.name for p in out.iterdir()) == [src.name], "the next run cleans up"
    assert _sha(out / src.name) == reference


def test_four_concurrent_repairs_into_one_directory(tmp_path: Path) -> None:
    src = _odd_wheel(tmp_path / "in", size=4 << 20)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "wheelguard", "repair", "-w", str(out), str(src)]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=cli_env()) for _ in range(4)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [e for _o, e in results]
    assert sorted(p.name for p in out.iterdir()) == [src.name]
    assert_installable(out / src.name, tmp_path / "root")


def test_repair_output_keeps_the_input_mode(tmp_path: Path) -> None:
    src = _odd_wheel(tmp_path / "in")
    src.chmod(0o640)
    proc = run_wheelguard("repair", "-w", tmp_path / "out", src)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((tmp_path / "out" / src.name).stat().st_mode) == 0o640


# ---- installers as the judges ---------------------------------------------------------------

_REFUSED_BY_INSTALLERS = ["metadata/wheel-version-9", "metadata/dist-info-other-project",
                          "metadata/data-unknown-scheme", "metadata/entry-points-invalid",
                          "metadata/metadata-empty", "metadata/metadata-no-version",
                          "archive/file-and-directory"]


@pytest.fixture(scope="module")
def refused_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("refused")
    generate.generate(root, _REFUSED_BY_INSTALLERS)
    return root


def _pip(wheel: Path, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                           "--no-compile", "--disable-pip-version-check", "--target",
                           str(target), str(wheel)], capture_output=True, text=True, timeout=300,
                          check=False)


def _installer(wheel: Path, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "installer", "--destdir", str(target),
                           "--validate-record", "all", "--no-compile-bytecode", str(wheel)],
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("case", _REFUSED_BY_INSTALLERS)
def test_what_an_installer_refuses_wheelguard_does_not_pass(
    refused_corpus: Path, case: str, tmp_path: Path
) -> None:
    (wheel,) = (refused_corpus / case).glob("*.whl")
    pip, inst = _pip(wheel, tmp_path / "pip"), _installer(wheel, tmp_path / "inst")
    assert pip.returncode != 0 or inst.returncode != 0, \
        f"{case}: pip and installer both accept it now; update the case list"
    audit = run_wheelguard("audit", wheel)
    assert audit.returncode in (1, 2), audit.stdout
    repair = run_wheelguard("repair", "-w", tmp_path / "out", wheel)
    assert repair.returncode in (2, 3), repair.stdout
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.whl"))


def test_what_wheelguard_writes_pip_and_installer_install(tmp_path: Path) -> None:
    """Odd member names (space, comma, quote, %, #, rich markup, non-ASCII, emoji), a stripped
    vendored tree: the repaired wheel passes installer's strictest RECORD validation, and pip
    installs it."""
    src = _odd_wheel(tmp_path / "in")
    proc = run_wheelguard("repair", "-w", tmp_path / "out", src)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out" / src.name
    inst = _installer(out, tmp_path / "inst")
    assert inst.returncode == 0, inst.stderr
    pip = _pip(out, tmp_path / "pip")
    assert pip.returncode == 0, pip.stderr
    installed = {p.relative_to(tmp_path / "pip").as_posix() for p in (tmp_path / "pip").rglob("*")
                 if p.is_file() and ".dist-info" not in p.as_posix()}
    with zipfile.ZipFile(out) as zf:
        shipped = {n for n in zf.namelist() if ".dist-info/" not in n}
    assert installed == shipped
    assert {f"demo/{name}.txt" for name in _ODD} <= installed
    assert "demo/3rdparty/tvm/src/runtime.cc" not in installed  # the plan dropped it


# ---- text from a wheel is shown, never obeyed ------------------------------------------------


@pytest.mark.parametrize(("text", "shown"), [
    ("libfoo.so", "libfoo.so"),
    ("lib\x1b[31mred\x1b[0m.so", "lib\\x1b[31mred\\x1b[0m.so"),
    ("a\nFORGED: ok", "a\\nFORGED: ok"),
    ("evil\u202eos.so", "evil\\u202eos.so"),
    ("caf\u00e9 \u65e5\u672c", "caf\u00e9 \u65e5\u672c"),
])
def test_visible_escapes_what_a_terminal_would_obey(text: str, shown: str) -> None:
    from wheelguard.util.printable import visible

    assert visible(text) == shown


@pytest.mark.parametrize("text", ["[bold red]x[/]", "x[/]", "a\\", ":smile: [link=x]y[/link]",
                                  "\x1b]8;;http://e\x07z"])
def test_markup_prints_literally(text: str) -> None:
    from rich.console import Console

    from wheelguard.util.printable import markup, visible

    console = Console(width=200, force_terminal=False, emoji=False)
    with console.capture() as capture:
        console.print(f"[dim]{markup(text)}[/]", highlight=False)
    assert capture.get().rstrip("\n") == visible(text)


# ---- published wheels stay readable -------------------------------------------------------


@pytest.mark.parametrize("key", ["numpy-musllinux", "opencv-headless-linux", "pillow-linux",
                                 "markupsafe-linux", "psutil-linux"])
def test_published_binaries_stay_readable(key: str) -> None:
    """The bounds on crafted binaries must not refuse real ones: these wheels hold 64-bit
    ``.note.gnu.property`` notes (8-aligned), musl and manylinux libraries, debug sections
    (all readable before the bounds; tests/corpus, skipped when not cached)."""
    from corpus.fetch import path_of

    from wheelguard.reading.scan import scan_wheel

    try:
        path = path_of(key)
    except FileNotFoundError:
        pytest.skip(f"{key} is not cached (python tests/corpus/fetch.py --only {key})")
    wheel = scan_wheel(path)
    assert wheel.binaries
    assert not wheel.unreadable_binaries


def test_an_output_that_does_not_read_back_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-audit of a repaired wheel is the last check before cibuildwheel takes it: a
    wheel it refuses is removed, never left in -w (the seam: the reader refusing the output)."""
    from helpers.cli import run_inprocess

    import wheelguard.repair.write
    from wheelguard.errors import InvalidWheel

    out = tmp_path / "out"

    def refuse_outputs(source: object, archive: object, target: Path, written: object,
                       **_kw: object) -> object:
        assert target.is_file()  # written, then refused while read back
        raise InvalidWheel(str(target), "member 'x' is corrupt (simulated)")

    monkeypatch.setattr(wheelguard.repair.write, "repaired_wheel", refuse_outputs)
    src = _odd_wheel(tmp_path / "in")
    rc, _out, err = run_inprocess(["repair", "-w", str(out), str(src)])
    assert rc == 3
    assert "does not read back, so it was removed" in err
    assert not list(out.glob("*.whl"))

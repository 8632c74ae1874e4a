"""The in-environment probe, run in this process on gcc-built libraries: its SONAME reader, its
/proc/self/maps reader, and what it reports after a package loads two copies of one library.

The probe is a standalone script; it is imported here by path, as the environment runs it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest
from helpers.clibs import minimal_elf, truncated

import wheelguard
from wheelguard.smoke.gemm import DRIVER_FILES, driver_dir
from wheelguard.smoke.judge import loader_log_libraries

PROBE = Path(wheelguard.__file__).parent / "smoke" / "probe.py"


@pytest.fixture(scope="module")
def probe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_wheelguard_smoke_probe_test", PROBE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_probe_imports_nothing_from_wheelguard() -> None:
    """wheelguard is not installed where the probe runs: the script must stand alone."""
    for path in [PROBE, *(driver_dir() / name for name in DRIVER_FILES)]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(from|import)\s+wheelguard\b", text, re.MULTILINE), path


@pytest.mark.parametrize(
    ("name", "soname"),
    [("libdemo.so", "libdemo.so"), ("libfoo_a.so", "libfoo.so"), ("libnosoname.so", None),
     ("libstripped.so", "libstripped.so")],
)
def test_elf_info_reads_soname(
    probe: ModuleType, libs: Mapping[str, bytes], tmp_path: Path, name: str, soname: str | None
) -> None:
    path = tmp_path / name
    path.write_bytes(libs[name])
    assert probe.elf_info(str(path)) == {"type": "dyn", "soname": soname}


def test_elf_info_refuses_what_is_not_a_library(
    probe: ModuleType, libs: Mapping[str, bytes], tmp_path: Path
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not an ELF file\n")
    cut = tmp_path / "cut.so"
    cut.write_bytes(truncated(libs["libdemo.so"], 40))
    header_only = tmp_path / "header.so"
    header_only.write_bytes(minimal_elf(bits=64))
    assert probe.elf_info(str(text)) is None
    assert probe.elf_info(str(cut)) is None
    assert probe.elf_info(str(tmp_path / "missing.so")) is None
    assert probe.elf_info(str(header_only)) == {"type": "dyn", "soname": None}
    assert probe.elf_info(sys.executable)["type"] in ("exec", "dyn")


def test_mapped_files_are_one_entry_per_inode(probe: ModuleType) -> None:
    maps = (
        "7f00-7f01 r--p 00000000 08:01 1234 /usr/lib/libc.so.6\n"
        "7f01-7f02 r-xp 00001000 08:01 1234 /usr/lib/libc.so.6\n"
        "7f02-7f03 r--p 00000000 08:01 1234 /lib/libc.so.6\n"
        "7f03-7f04 rw-p 00000000 00:00 0 \n"
        "7f04-7f05 rw-p 00000000 00:00 0 [heap]\n"
        "7f05-7f06 r--p 00000000 08:01 99 /tmp/x/libgone.so (deleted)\n"
        "7f06-7f07 r--p 00000000 00:05 7 /memfd:jit (deleted)\n"
    )
    files = probe.mapped_files(maps)
    assert files == [
        {"path": "/usr/lib/libc.so.6", "device": "08:01", "inode": 1234, "deleted": False},
        {"path": "/tmp/x/libgone.so", "device": "08:01", "inode": 99, "deleted": True},
        {"path": "/memfd:jit", "device": "00:05", "inode": 7, "deleted": True},
    ]


def test_two_copies_of_one_soname_are_both_reported(
    probe: ModuleType, libs: Mapping[str, bytes], tmp_path: Path
) -> None:
    """dlopen of a path compares files, not SONAMEs (FIELD.md): two files named libfoo.so in
    two directories are both mapped, and the probe lists both."""
    paths = []
    for sub, name in (("a", "libfoo_a.so"), ("b", "libfoo_b.so")):
        (tmp_path / sub).mkdir()
        path = tmp_path / sub / "libfoo.so"
        path.write_bytes(libs[name])
        paths.append(path)
    handles = [ctypes.CDLL(str(p)) for p in paths]
    assert [h.foo() for h in handles] == [1, 2]
    mapped = [lib for lib in probe.native_libraries() if lib["soname"] == "libfoo.so"]
    assert sorted(lib["path"] for lib in mapped) == sorted(os.path.realpath(p) for p in paths)


def test_probe_script_end_to_end(tmp_path: Path) -> None:
    """The script itself, in a child interpreter with isolated paths: environment facts,
    import results (one good, one missing), libraries with owners, and no driver run."""
    request = tmp_path / "request.json"
    result = tmp_path / "result.json"
    request.write_text(json.dumps({"imports": ["json", "no_such_module_wg"], "drivers": []}))
    run_dir = tmp_path / "probe"
    run_dir.mkdir()
    shutil.copy(PROBE, run_dir / "p.py")
    proc = subprocess.run([sys.executable, "-s", str(run_dir / "p.py"), str(request),
                           str(result)], capture_output=True, text=True, check=False,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(result.read_text())
    assert data["phase"] == "done"
    assert [(i["module"], i["status"]) for i in data["imports"]] == [
        ("json", "ok"), ("no_such_module_wg", "failed")]
    assert "ModuleNotFoundError" in data["imports"][1]["error"]
    assert str(run_dir) not in data["python"]["path"]
    assert any(lib["soname"] and lib["soname"].startswith("libc.so") for lib in data["libraries"])
    assert data["gemm"] == []


def test_loader_log_completes_the_report_of_a_process_that_died(
    libs: Mapping[str, bytes], tmp_path: Path
) -> None:
    """A process that aborts right after loading a library: the loader's own log (LD_DEBUG)
    still names it, and the host turns it into a library entry with its SONAME."""
    lib = tmp_path / "libfoo.so"
    lib.write_bytes(libs["libfoo_a.so"])
    code = f"import ctypes, os; ctypes.CDLL({str(lib)!r}); os.abort()"
    env = {**os.environ, "LD_DEBUG": "files", "LD_DEBUG_OUTPUT": str(tmp_path / "ld")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, check=False,
                          capture_output=True)
    assert proc.returncode < 0
    logs = sorted(tmp_path.glob("ld.*"))  # one per process: ld.<pid>
    assert logs, "the loader wrote no log"
    text = "".join(p.read_text(errors="replace") for p in logs)
    owners = {os.path.realpath(lib): ["wgdemo", "1.0"]}
    found = loader_log_libraries(text, [], owners)
    mine = [entry for entry in found if entry["path"] == os.path.realpath(lib)]
    assert mine == [{"path": os.path.realpath(lib), "type": "dyn", "soname": "libfoo.so",
                     "distribution": "wgdemo", "version": "1.0", "loaded_in": "loader-log"}]
    again = loader_log_libraries(text, found, owners)
    assert len(again) == len(found), "a library already reported is not added twice"

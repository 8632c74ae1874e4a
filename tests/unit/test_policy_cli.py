"""``wheelguard policy check|flags|list`` and ``wheelguard audit --policy``, as CI runs them;
and the shipped policies inside wheelguard's own built wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.cli import audit_json, run_inprocess, run_wheelguard
from helpers.fixtures import BuiltFixture

from wheelguard.cli.policy import exclude_flags

Wheels = Mapping[str, BuiltFixture]
REPO = Path(__file__).resolve().parents[2]


def test_check_valid_files_exits_0(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[[rule]]\naction = "waive"\ncheck = "WG204"\nreason = "ours"\n')
    rc, out, _ = run_inprocess(["policy", "check", "default", "tilelang", str(mine)])
    assert rc == 0
    assert "default: ok (8 rules)" in out
    assert f"{mine}: ok (1 rules)" in out


def test_check_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\naction = "keep"\npth = "x"\nreason = "r"\n\n'
                   '[[rule]]\naction = "strip"\npath = "y"\n')
    proc = run_wheelguard("policy", "check", bad, "no-such-policy")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{bad}:3: rule 1, key 'pth': unknown key (did you mean 'path'?)" in proc.stderr
    assert f"{bad}:6: rule 2: every rule needs a non-empty 'reason'" in proc.stderr
    assert "no-such-policy: no shipped policy of that name" in proc.stderr


@pytest.mark.parametrize(
    ("tool", "want"),
    [
        ("auditwheel", "--exclude libtvm_ffi.so"),
        ("delocate", "--exclude libtvm_ffi.dylib"),
        ("delvewheel", "--exclude tvm_ffi.dll"),
    ],
)
def test_flags_for_each_grafting_tool(tool: str, want: str) -> None:
    rc, out, _ = run_inprocess(["policy", "flags", "--for", tool, "--policy", "tvm-ffi"])
    assert rc == 0
    assert out.strip() == want


def test_flags_derive_names_for_other_platforms() -> None:
    """delocate matches a substring of the path: an ELF name becomes its stem and a dot, which
    matches libz3.dylib and libz3.4.15.dylib but not libz3java.dylib. A DLL name is never
    guessed from an ELF name (z3.dll? libz3.dll?): delvewheel gets nothing."""
    libs = ["libz3.so", "libz3.so.4.15"]
    assert exclude_flags("auditwheel", libs) == ["--exclude", "libz3.so",
                                                 "--exclude", "libz3.so.4.15"]
    assert exclude_flags("delocate", libs) == ["--exclude", "libz3."]
    assert exclude_flags("delvewheel", libs) == []


def test_globs_pass_to_auditwheel_and_are_expanded_for_the_others() -> None:
    from wheelguard.policy.flags import FlagsError

    assert exclude_flags("auditwheel", ["libz3.so*"]) == ["--exclude", "libz3.so*"]
    with pytest.raises(FlagsError, match="delocate takes no glob"):
        exclude_flags("delocate", ["libcudnn*.dylib"])
    with pytest.raises(FlagsError, match="--wheel"):
        exclude_flags("delvewheel", ["libz3*.dll"])
    names = ("LIBZ3.dll", "KERNEL32.dll", "libcudnn.9.dylib", "libcudnn_ops.9.dylib")
    assert exclude_flags("delvewheel", ["libz3*.dll"], wheel_names=names) == [
        "--exclude", "LIBZ3.dll"]
    assert exclude_flags("delvewheel", ["libz3*.dll", "tvm_ffi.dll"], wheel_names=names,
                         delvewheel_form="no-dll") == ["--no-dll", "LIBZ3.dll;tvm_ffi.dll"]
    assert exclude_flags("delocate", ["libcudnn*.so.*"], wheel_names=names) == [
        "--exclude", "libcudnn.9.dylib", "--exclude", "libcudnn_ops.9.dylib"]
    assert exclude_flags("delocate", ["libz3.so*"]) == ["--exclude", "libz3."]


def test_flags_of_a_policy_without_providers_are_empty() -> None:
    rc, out, _ = run_inprocess(["policy", "flags", "--for", "auditwheel", "--policy", "default"])
    assert rc == 0
    assert out == ""


def test_flags_come_from_pyproject_when_no_policy_is_given(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wheelguard]\npolicies = ["tvm-ffi"]\n')
    proc = run_wheelguard("policy", "flags", "--for", "auditwheel", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "--exclude libtvm_ffi.so"
    proc = run_wheelguard("policy", "flags", "--for", "auditwheel", cwd=tmp_path.parent)
    assert proc.returncode == 2
    assert "no policy" in proc.stderr


def test_list_names_the_shipped_policies() -> None:
    rc, out, _ = run_inprocess(["policy", "list"])
    assert rc == 0
    assert [line.split()[0] for line in out.splitlines()] == ["default", "tilelang", "tvm-ffi"]


def test_audit_shows_actions_and_waivers(fixture_wheels: Wheels, tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[[rule]]\naction = "waive"\ncheck = "needed-unresolved"\n'
                    'reason = "libfoo comes with the image"\nexpires = 2999-01-01\n')
    rc, doc = audit_json("--policy", "default", "--policy", str(mine),
                         fixture_wheels["wg301_needed_unresolved"].path)
    assert rc == 0
    (finding,) = doc["wheels"][0]["findings"]
    assert finding["action"] == "waive"
    assert finding["waived"] == "libfoo comes with the image"
    assert doc["summary"]["waived"] == 1

    rc, doc = audit_json("--policy", "tvm-ffi", fixture_wheels["wg104_embedded_runtime_abi"].path)
    assert rc == 1
    (finding,) = doc["wheels"][0]["findings"]
    assert finding["action"] == "fail"


def test_audit_with_an_expired_waiver_fails_with_the_date(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[[rule]]\naction = "waive"\ncheck = "WG205"\nreason = "later"\n'
                    "expires = 2020-01-01\n")
    proc = run_wheelguard("audit", "--policy", mine,
                          fixture_wheels["wg205_rpath_missing_dir"].path)
    assert proc.returncode == 1
    assert "waiver expired on 2020-01-01" in proc.stdout


def test_audit_with_an_invalid_policy_exits_2(fixture_wheels: Wheels, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rule]]\naction = "kep"\npath = "x"\nreason = "r"\n')
    proc = run_wheelguard("audit", "--policy", bad, fixture_wheels["clean"].path)
    assert proc.returncode == 2
    assert "did you mean 'keep'?" in proc.stderr


@pytest.mark.network
def test_built_wheelguard_wheel_ships_the_policies(tmp_path: Path) -> None:
    """``python -m build --wheel`` of a copy of the checkout: the wheel (what pipx installs)
    carries policies/*.toml as package data, through the wheelguard/policies symlink."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info",
                                    "__pycache__", "tests", "sample_projects", ".*cache")
    shutil.copytree(REPO, src, symlinks=True, ignore=ignore)
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, check=False, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("wheelguard-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in ("default", "tvm-ffi", "tilelang"):
            member = f"wheelguard/policies/{name}.toml"
            assert member in names
            assert zf.read(member) == (REPO / "policies" / f"{name}.toml").read_bytes()


def test_flags_expand_globs_against_a_wheel(tmp_path: Path) -> None:
    from helpers.fixtures import INIT, native_files
    from helpers.wheels import build_wheel

    files = native_files()
    if files is None:
        pytest.skip("zig is not installed: no PE fixtures")
    wheel = build_wheel(tmp_path, {**INIT, "demo/c.dll": files["windows/consumer.dll"]},
                        tag="cp312-abi3-win_amd64")
    policy = tmp_path / "p.toml"
    policy.write_text('[[rule]]\naction = "depend-on-pip"\nlibrary = "tvm_ffi*.dll"\n'
                      'provider = "apache-tvm-ffi"\nreason = "r"\n')
    rc, _out, err = run_inprocess(["policy", "flags", "--for", "delvewheel", "--policy",
                                   str(policy)])
    assert rc == 2
    assert "--wheel" in err
    rc, out, err = run_inprocess(["policy", "flags", "--for", "delvewheel", "--policy",
                                  str(policy), "--wheel", str(wheel)])
    assert rc == 0, err
    assert out.strip() == "--exclude tvm_ffi.dll"

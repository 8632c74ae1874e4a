"""The smoke run's judging and settings: checks on library lists, import names from real wheels,
the child environment, the ``[smoke]`` policy table, the CLI's argument handling.

The library lists are what the probe reports (tests/integration/test_smoke.py produces them
from real processes); here they are written out to pin each rule's edges.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import run_inprocess
from helpers.wheels import build_wheel

from wheelguard.errors import InvalidPolicy, UsageError
from wheelguard.knowledge.providers import known_providers
from wheelguard.policy.load import load_policy_set
from wheelguard.policy.schema import SmokeSettings
from wheelguard.reading.scan import scan_wheel
from wheelguard.smoke.judge import duplicate_sonames, import_names, provider_runtimes
from wheelguard.smoke.options import STRICT_PROVIDERS, SmokeOptions
from wheelguard.smoke.process import child_environment
from wheelguard.smoke.result import MappedLibrary


def lib(path: str, soname: str | None, dist: str | None = None) -> MappedLibrary:
    return MappedLibrary(path=path, soname=soname, elf_type="dyn", distribution=dist,
                         version="1" if dist else None, origin="env", loaded_in="import")


class TestDuplicateSonames:
    def test_distinct_sonames_pass(self) -> None:
        check = duplicate_sonames([lib("/a/libx.so", "libx.so"), lib("/a/liby.so", "liby.so"),
                                   lib("/usr/bin/python3", None), lib("/a/noname.so", None)])
        assert check.status == "passed"
        assert check.message == "2 SONAMEs, each mapped from one file"

    def test_same_soname_from_two_files_fails(self) -> None:
        check = duplicate_sonames([
            lib("/env/tvm_ffi/lib/libtvm_ffi.so", "libtvm_ffi.so", "apache-tvm-ffi"),
            lib("/env/pkg/lib/libtvm_ffi.so", "libtvm_ffi.so", "pkg"),
            lib("/env/pkg/lib/libother.so", "libother.so", "pkg"),
        ])
        assert check.status == "failed"
        assert "libtvm_ffi.so (2 files)" in check.message
        dup = check.details["duplicates"]["libtvm_ffi.so"]
        assert [d["distribution"] for d in dup] == ["apache-tvm-ffi", "pkg"]

    def test_files_without_soname_are_not_compared_by_file_name(self) -> None:
        """Kernels a JIT compiles are often all called kernel.so and carry no SONAME."""
        check = duplicate_sonames([lib("/cache/1/kernel.so", None),
                                   lib("/cache/2/kernel.so", None)])
        assert check.status == "passed"


class TestProviderRuntimes:
    providers = known_providers()

    def run(self, *libs: MappedLibrary) -> tuple[str, list[str]]:
        check, warnings = provider_runtimes(libs, self.providers, STRICT_PROVIDERS)
        return check.status, warnings

    def test_provider_own_copy_passes(self) -> None:
        status, warnings = self.run(lib("/env/tvm_ffi/lib/libtvm_ffi.so", "libtvm_ffi.so",
                                        "apache-tvm-ffi"))
        assert (status, warnings) == ("passed", [])

    @pytest.mark.parametrize(
        ("path", "soname", "owner"),
        [
            ("/env/pkg/lib/libtvm_ffi.so", "libtvm_ffi.so", "pkg"),
            ("/env/pkg.libs/libtvm_ffi-1a2b3c4d.so", "libtvm_ffi-1a2b3c4d.so", "pkg"),
            ("/opt/build/lib/libtvm_ffi.so", "libtvm_ffi.so", None),
            ("/env/pkg/lib/libtvm_ffi.so", None, "pkg"),
        ],
    )
    def test_foreign_copy_of_a_strict_provider_fails(
        self, path: str, soname: str | None, owner: str | None
    ) -> None:
        status, _ = self.run(lib(path, soname, owner))
        assert status == "failed"

    def test_other_providers_only_warn(self) -> None:
        status, warnings = self.run(
            lib("/env/torch/lib/libcudart.so.13", "libcudart.so.13", "torch"),
            lib("/env/nvidia/cu13/lib/libcudart.so.13", "libcudart.so.13", "nvidia-cuda-runtime"),
        )
        assert status == "passed"
        # The provider table names the one distribution that ships each library (generated
        # from the published wheels): no family pattern stands for it.
        assert warnings == ["/env/torch/lib/libcudart.so.13 (libcudart.so.13) is mapped from "
                            "torch, not from nvidia-cuda-runtime"]


def test_import_names_from_a_real_wheel(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, {
        "pkg/__init__.py": b"", "pkg/lib/libx.so": b"\x7fELF", "single.py": b"",
        "_ext.cpython-312-x86_64-linux-gnu.so": b"\x7fELF", "pkg.libs/liby.so": b"\x7fELF",
        "nspkg/mod.py": b"", "README.txt": b"", "demo-1.0.data/scripts/tool": b"",
    }, name="demo", tag="cp312-cp312-linux_x86_64")
    assert import_names(scan_wheel(wheel)) == ("_ext", "nspkg", "pkg", "single")


def test_child_environment_drops_what_would_redirect_the_environment() -> None:
    env, dropped = child_environment({
        "PATH": "/usr/bin", "HOME": "/root", "PYTHONPATH": "/src", "PYTHONHOME": "/x",
        "VIRTUAL_ENV": "/venv", "PIP_INDEX_URL": "https://example.invalid",
        "TVM_LIBRARY_PATH": "/tvm", "TL_TEMPLATE_PATH": "/tl", "TILELANG_CACHE_DIR": "/old",
        "LD_LIBRARY_PATH": "/usr/local/nvidia/lib64", "CUDA_HOME": "/usr/local/cuda",
        "NCCL_NVLS_ENABLE": "0",
    })
    assert dropped == ("PIP_INDEX_URL", "PYTHONHOME", "PYTHONPATH", "TILELANG_CACHE_DIR",
                       "TL_TEMPLATE_PATH", "TVM_LIBRARY_PATH", "VIRTUAL_ENV")
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64"  # reported, not hidden
    assert env["CUDA_HOME"] == "/usr/local/cuda"
    assert env["NCCL_NVLS_ENABLE"] == "0"
    assert env["PYTHONNOUSERSITE"] == "1"
    assert env["PIP_CONFIG_FILE"]
    assert "PYTHONPATH" not in env


class TestSettings:
    def test_table_sets_gemm_and_layouts(self) -> None:
        s = SmokeSettings.from_table({"gemm": "tilelang", "layouts": ["venv", "target"]})
        assert s == SmokeSettings(gemm=("tilelang",), layouts=("venv", "target"))
        assert SmokeSettings.from_table(None) == SmokeSettings()

    def test_every_problem_is_reported_at_once(self) -> None:
        with pytest.raises(InvalidPolicy) as err:
            SmokeSettings.from_table({"layout": ["venv"], "gemm": ["cublas"],
                                      "layouts": ["conda"]}, source="p.toml")
        assert err.value.problems == [
            "p.toml: [smoke] has unknown key 'layout' (did you mean 'layouts'?)",
            "p.toml: [smoke].gemm 'cublas' is not one of tilelang, sample, none",
            "p.toml: [smoke].layouts 'conda' is not one of venv, system-site-packages, target",
        ]

    def test_wrong_types(self) -> None:
        with pytest.raises(InvalidPolicy, match=r"\[smoke\]\.gemm must be a string or a list"):
            SmokeSettings.from_table({"gemm": 3})

    def test_policy_files_merge_later_wins(self, tmp_path: Path) -> None:
        first = tmp_path / "a.toml"
        first.write_text('[smoke]\ngemm = "sample"\nlayouts = ["venv"]\n')
        second = tmp_path / "b.toml"
        second.write_text('[smoke]\ngemm = ["tilelang"]\n')
        policies = load_policy_set([str(first), str(second)], project_dir=tmp_path)
        assert policies is not None
        assert policies.smoke == SmokeSettings(gemm=("tilelang",), layouts=("venv",))

    def test_pyproject_names_the_policies_when_the_command_line_does_not(
        self, tmp_path: Path
    ) -> None:
        (tmp_path / "ci").mkdir()
        (tmp_path / "ci" / "wg.toml").write_text('[smoke]\nlayouts = ["target"]\n')
        (tmp_path / "pyproject.toml").write_text(
            '[tool.wheelguard]\npolicies = ["ci/wg.toml"]\n')
        policies = load_policy_set([], project_dir=tmp_path)
        assert policies is not None
        assert policies.smoke == SmokeSettings(layouts=("target",))
        assert load_policy_set([], project_dir=tmp_path / "ci") is None

    def test_shipped_policies_read(self, tmp_path: Path) -> None:
        policies = load_policy_set(["tilelang"], project_dir=tmp_path)
        assert policies is not None
        assert isinstance(policies.smoke, SmokeSettings)

    def test_unknown_policy_name_and_bad_toml(self, tmp_path: Path) -> None:
        with pytest.raises(InvalidPolicy, match="no-such-policy-wg: no shipped policy"):
            load_policy_set(["no-such-policy-wg"], project_dir=tmp_path)
        with pytest.raises(InvalidPolicy, match="no such policy file"):
            load_policy_set([str(tmp_path / "missing.toml")], project_dir=tmp_path)
        bad = tmp_path / "bad.toml"
        bad.write_text("[smoke\n")
        with pytest.raises(InvalidPolicy, match="not valid TOML"):
            load_policy_set([str(bad)], project_dir=tmp_path)


def test_options_refuse_unknown_driver_and_repeated_layout(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown GEMM driver"):
        SmokeOptions(wheel=tmp_path / "x.whl", wheelhouses=(), gemm=("cublas",))
    with pytest.raises(UsageError, match="requested twice"):
        SmokeOptions(wheel=tmp_path / "x.whl", wheelhouses=(), layouts=("venv", "venv"))


def test_cli_usage_errors(tmp_path: Path) -> None:
    rc, _, err = run_inprocess(["smoke", str(tmp_path / "missing.whl"), "--wheelhouse",
                                str(tmp_path)])
    assert rc == 2
    assert "no wheel at" in err
    wheel = build_wheel(tmp_path, {"m.py": b""}, name="m", tag="py3-none-any")
    rc, _, err = run_inprocess(["smoke", str(wheel), "--wheelhouse", str(tmp_path),
                                "--gemm", "none", "--gemm", "sample"])
    assert rc == 2
    assert "--gemm none cannot be combined" in err
    policy = tmp_path / "p.toml"
    policy.write_text('[smoke]\nlayouts = ["conda"]\n')
    rc, _, err = run_inprocess(["smoke", str(wheel), "--wheelhouse", str(tmp_path),
                                "--policy", str(policy)])
    assert rc == 2
    assert "'conda' is not one of" in err


def test_bundled_runtime_of_an_absent_provider_is_no_warning() -> None:
    """tilelang ships its own libtvm_runtime.so; without apache-tvm installed there is no
    second copy to warn about (seen on the GPU run); with it, there is."""
    mine = lib("/env/tilelang/lib/libtvm_runtime.so", "libtvm_runtime.so", "tilelang")
    check, warnings = provider_runtimes([mine], known_providers(), STRICT_PROVIDERS)
    assert (check.status, warnings) == ("passed", [])
    check, warnings = provider_runtimes([mine], known_providers(), STRICT_PROVIDERS,
                                        installed=["apache-tvm"])
    assert check.status == "passed"
    assert len(warnings) == 1

"""The CI examples must be configuration cibuildwheel accepts, and every wheelguard command in
them must parse with wheelguard's own parser: cibuildwheel's containers cannot run here, so the
configuration is what is tested."""

from __future__ import annotations

import json
import re
import shlex
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from wheelguard.cli import build_parser

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXAMPLES = Path(__file__).resolve().parents[2] / "ci" / "examples"
PLACEHOLDERS = {"{wheel}": "dist/x-1.0-py3-none-linux_x86_64.whl", "{dest_dir}": "out",
                "{delocate_archs}": "x86_64", "{abi3_wheel}": "dist/x.whl"}


def _cibw_config() -> dict[str, Any]:
    return tomllib.loads((EXAMPLES / "cibuildwheel.toml").read_text(encoding="utf-8"))


def _commands(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _wheelguard_invocations(command: str) -> list[list[str]]:
    """Every ``wheelguard ...`` in a shell line, ``$(...)`` substitutions included."""
    for key, value in PLACEHOLDERS.items():
        command = command.replace(key, value)
    pieces = re.split(r"\$\(|\)|&&|\|\||;|\|", command)
    found = []
    for piece in pieces:
        words = shlex.split(piece)
        if words and words[0] == "wheelguard":
            found.append(words[1:])
    return found


def test_cibuildwheel_schema_accepts_the_example() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    pytest.importorskip("cibuildwheel")
    schema_text = (
        resources.files("cibuildwheel").joinpath("resources/cibuildwheel.schema.json").read_text()
    )
    schema = json.loads(schema_text)
    # The schema describes the [tool.cibuildwheel] table itself.
    tool = _cibw_config()["tool"]["cibuildwheel"]
    jsonschema.Draft7Validator(schema).validate(tool)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate({**tool, "repair-wheel-comand": "x"})


def test_every_wheelguard_command_in_the_examples_parses() -> None:
    tool = _cibw_config()["tool"]["cibuildwheel"]
    lines = _commands(tool["audit-command"])
    for platform in ("linux", "macos"):
        lines += _commands(tool[platform]["repair-wheel-command"])
    for step in _workflow_steps():
        lines += [ln.strip().removesuffix("|| true").strip()
                  for ln in str(step.get("run", "")).splitlines() if ln.strip()]
    invocations = [inv for line in lines for inv in _wheelguard_invocations(line)]
    assert len(invocations) >= 10
    parser = build_parser()
    for argv in invocations:
        args = parser.parse_args(argv)  # SystemExit (a failure) on an unknown flag
        assert args.command in {"audit", "repair", "policy", "report"}


def _workflow_steps() -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((EXAMPLES / "github-release.yml").read_text(encoding="utf-8"))
    steps: list[dict[str, Any]] = doc["jobs"]["build"]["steps"]
    return steps


def test_cibuildwheel_keeps_the_abi3_audit_and_installs_in_the_container() -> None:
    """Setting audit-command replaces cibuildwheel's default abi3audit: the example must keep
    it; and the Linux repair runs in the container, which must get wheelguard first."""
    pytest.importorskip("cibuildwheel")
    defaults = tomllib.loads(
        resources.files("cibuildwheel").joinpath("resources/defaults.toml").read_text())
    default_audit = defaults["tool"]["cibuildwheel"]["audit-command"]
    tool = _cibw_config()["tool"]["cibuildwheel"]
    assert default_audit in _commands(tool["audit-command"])
    assert "abi3audit" in tool["audit-requires"]
    assert any(r.startswith("wheelguard>=") for r in tool["audit-requires"])
    assert "wheelguard" in tool["linux"]["before-all"]
    text = (EXAMPLES / "cibuildwheel.toml").read_text(encoding="utf-8")
    assert "cibuildwheel >= 4" in text
    assert "inside the manylinux build container".lower() in text.lower()


def test_workflow_keeps_every_report_when_the_gate_fails() -> None:
    steps = _workflow_steps()
    gate = next(i for i, s in enumerate(steps) if s.get("name") == "gate")
    assert "--fail-on error" in steps[gate]["run"]
    for step in steps[:gate]:
        if "wheelguard audit" in str(step.get("run", "")):
            assert "--fail-on never" in step["run"]  # the reports exist whatever the verdict
    after = steps[gate + 1:]
    assert after
    assert all(s.get("if") == "always()" for s in after)
    uses = {s.get("uses", "").split("@")[0]: s for s in after}
    assert uses["github/codeql-action/upload-sarif"]["with"]["sarif_file"] == "wheelguard.sarif"
    uploaded = uses["actions/upload-artifact"]["with"]["path"]
    for name in ("wheelguard-audit.json", "wheelguard.sarif", "RELEASE.md", "RELEASE.html"):
        assert name in uploaded


def test_pre_commit_hook_runs_a_real_command() -> None:
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((EXAMPLES.parents[1] / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    argv = [*hook["entry"].split()[1:], "sample_projects/tinykern/pyproject.toml"]
    assert build_parser().parse_args(argv).command == "policy"
    assert re.search(hook["files"], "pyproject.toml")
    assert re.search(hook["files"], "ci/wheelguard.toml")
    assert not re.search(hook["files"], "setup.cfg")


def test_repair_hook_leaves_one_wheel_in_dest_dir() -> None:
    """cibuildwheel requires exactly one wheel in {dest_dir}: only the last step may write it."""
    tool = _cibw_config()["tool"]["cibuildwheel"]
    for platform in ("linux", "macos"):
        steps = _commands(tool[platform]["repair-wheel-command"])
        writers = [s for s in steps if "{dest_dir}" in s]
        assert writers == [steps[-1]]
        assert "wheelguard repair" in steps[-1]


def test_policy_flags_for_the_repair_hook() -> None:
    """The exclude flags the hook splices in come from the tvm-ffi policy."""
    from helpers.cli import run_wheelguard

    proc = run_wheelguard("policy", "flags", "--for", "auditwheel", "--policy", "tvm-ffi")
    assert proc.returncode == 0, proc.stderr
    assert "--exclude libtvm_ffi.so" in proc.stdout

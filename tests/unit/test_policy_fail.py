"""A ``fail`` rule that matches members by path alone must fail the audit (WG801) and the
repair, even when no check reports those members."""

from __future__ import annotations

from pathlib import Path

from helpers.cli import run_wheelguard
from helpers.wheels import build_wheel

from wheelguard.audit import audit_wheel
from wheelguard.policy.decide import assign_actions
from wheelguard.policy.load import load_policy_set

POLICY = """\
[policy]
name = "secrets"

[[rule]]
action = "fail"
path = "**/*.pem"
reason = "private keys must never ship"
"""

WAIVED = POLICY + """
[[rule]]
action = "waive"
path = "demo/certs/test-only.pem"
reason = "a throwaway key for the test suite"
expires = 2099-01-01
"""


def _wheel(tmp_path: Path) -> Path:
    return build_wheel(
        tmp_path,
        {"demo/__init__.py": b"", "demo/certs/server.pem": b"-----BEGIN-----\n",
         "demo/certs/test-only.pem": b"-----BEGIN-----\n"},
    )


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_path_only_fail_rule_reports_each_member(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    policies = load_policy_set([str(_policy(tmp_path, POLICY))], project_dir=tmp_path)
    assert policies is not None
    result = audit_wheel(wheel, post=assign_actions(policies))
    fails = [f for f in result.findings if f.check == "WG801"]
    assert [f.path for f in fails] == ["demo/certs/server.pem", "demo/certs/test-only.pem"]
    assert all(f.action == "fail" and "private keys must never ship" in f.message for f in fails)
    assert result.fails(result.worst())


def test_waived_member_is_not_reported(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    policies = load_policy_set([str(_policy(tmp_path, WAIVED))], project_dir=tmp_path)
    assert policies is not None
    result = audit_wheel(wheel, post=assign_actions(policies))
    assert [f.path for f in result.findings if f.check == "WG801"] == ["demo/certs/server.pem"]


def test_cli_audit_fails_and_repair_refuses(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    policy = _policy(tmp_path, POLICY)
    audit = run_wheelguard("audit", "--policy", policy, wheel)
    assert audit.returncode == 1, audit.stdout + audit.stderr
    assert "WG801" in audit.stdout
    out = tmp_path / "out"
    repair = run_wheelguard("repair", "--policy", policy, "-w", out, wheel)
    assert repair.returncode == 3, repair.stdout + repair.stderr
    assert not out.exists() or not any(out.iterdir())

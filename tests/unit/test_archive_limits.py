"""The archive guards (zip-bomb and size limits) are the user's to move: a release of a wheel
larger than any published one must not need a code change, and a gate may want them tighter.
``--archive-limit KEY=VALUE`` over ``[tool.wheelguard.archive-limits]`` over the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.cli import run_inprocess
from helpers.wheels import build_wheel

from wheelguard.reading.archive import LIMIT_KEYS, Limits, limits_from

FILES = {"demo/__init__.py": b"", "demo/a.py": b"A = 1\n", "demo/b.py": b"B = 2\n"}


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    return build_wheel(tmp_path / "in", FILES, tag="py3-none-any")


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.wheelguard.archive-limits]\n{body}\n", encoding="utf-8")
    return path


def test_every_key_sets_its_limit() -> None:
    for key, kind in LIMIT_KEYS.items():
        value = "3GiB" if kind == "size" else "7"
        got = getattr(limits_from({key: value}), key.replace("-", "_"))
        assert got == (3 << 30 if kind == "size" else 7), key
        assert got != getattr(Limits(), key.replace("-", "_"))


def test_a_lowered_limit_refuses_on_the_command_line(wheel: Path) -> None:
    rc, _out, _err = run_inprocess(["audit", "--isolated", str(wheel)])
    assert rc == 0
    rc, _out, err = run_inprocess(["audit", "--isolated", "--archive-limit", "max-members=2",
                                   str(wheel)])
    assert rc == 2
    assert "members" in err
    assert len(err.strip().splitlines()) == 1


def test_the_table_sets_limits_and_the_command_line_wins(wheel: Path, tmp_path: Path) -> None:
    config = _config(tmp_path, "max-members = 2")
    rc, _out, _err = run_inprocess(["audit", "--config", str(config), str(wheel)])
    assert rc == 2
    rc, _out, _err = run_inprocess(["audit", "--config", str(config), "--archive-limit",
                                    "max-members=10", str(wheel)])
    assert rc == 0


def test_repair_reads_and_writes_under_the_same_limits(wheel: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rc, _out, _err = run_inprocess(["repair", "--isolated", "--archive-limit", "max-members=2",
                                    "-w", str(out), str(wheel)])
    assert rc == 2
    assert not list(out.glob("*.whl"))
    rc, _out, _err = run_inprocess(["repair", "--isolated", "--archive-limit",
                                    "max-members=50", "-w", str(out), str(wheel)])
    assert rc == 0
    assert list(out.glob("*.whl"))


@pytest.mark.parametrize(("body", "expected"), [
    ("max-memberz = 2", "unknown archive limit 'max-memberz'"),
    ("max-members = -1", "must be positive"),
    ("max-ratio = \"lots\"", "is not a ratio"),
    ("max-total-size = true", "is not a size"),
])
def test_a_bad_table_is_a_configuration_error(wheel: Path, tmp_path: Path, body: str,
                                              expected: str) -> None:
    rc, _out, err = run_inprocess(["audit", "--config", str(_config(tmp_path, body)),
                                   str(wheel)])
    assert rc == 2
    assert expected in err
    assert "Traceback" not in err


@pytest.mark.parametrize("arg", ["max-members", "max-members=", "nope=3", "max-ratio=0"])
def test_a_bad_option_is_a_usage_error(wheel: Path, arg: str) -> None:
    rc, _out, err = run_inprocess(["audit", "--isolated", "--archive-limit", arg, str(wheel)])
    assert rc == 2
    assert "--archive-limit" in err

"""Policy files: parsing, validation messages, globs, composition and precedence, and the
actions the audit shows. Decisions are taken on real fixture wheels (gcc-built libraries)."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import pytest
from helpers.fixtures import BuiltFixture

from wheelguard.audit import audit_wheel
from wheelguard.errors import InvalidPolicy
from wheelguard.model import Action, Severity
from wheelguard.policy import decide as decisions
from wheelguard.policy.decide import Decisions, assign_actions
from wheelguard.policy.load import load_policy, load_policy_set, parse_policy, shipped_policy_names
from wheelguard.policy.schema import Glob, Policy, PolicySet

Wheels = Mapping[str, BuiltFixture]
REPO = Path(__file__).resolve().parents[2]


def policy(text: str, name: str = "p") -> Policy:
    return parse_policy(textwrap.dedent(text), source=f"{name}.toml", name=name)


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidPolicy) as info:
        policy(text)
    return info.value.problems


# ---- shipped policies -----------------------------------------------------------------------


def test_shipped_policies_are_package_data() -> None:
    assert set(shipped_policy_names()) >= {"default", "tvm-ffi", "tilelang"}
    root = resources.files("wheelguard").joinpath("policies")
    for name in ("default", "tvm-ffi", "tilelang"):
        shipped = root.joinpath(f"{name}.toml").read_text(encoding="utf-8")
        canonical = (REPO / "policies" / f"{name}.toml").read_text(encoding="utf-8")
        assert shipped == canonical, "wheelguard/policies must be the top-level policies/"


@pytest.mark.parametrize("name", ["default", "tvm-ffi", "tilelang"])
def test_shipped_policy_is_valid_and_every_rule_says_why(name: str) -> None:
    p = load_policy(name)
    assert p.name == name
    assert p.description
    assert p.rules
    for rule in p.rules:
        assert len(rule.reason) > 20, f"{name}#{rule.index} needs a real reason"


def test_tilelang_policy_applies_only_to_tilelang_wheels() -> None:
    p = load_policy("tilelang")
    assert p.distribution_ok("tilelang")
    assert not p.distribution_ok("tinykern")


def test_policies_in_the_docs_are_valid() -> None:
    """Every TOML example of docs/policies.md with rules parses as a policy."""
    text = (REPO / "docs" / "policies.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", text, re.DOTALL) if "[[rule]]" in b]
    assert len(blocks) >= 2
    for block in blocks:
        assert parse_policy(block, source="docs/policies.md").rules


# ---- globs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("pkg/*.so", "pkg/a.so", True),
        ("pkg/*.so", "pkg/lib/a.so", False),  # * stays within one directory
        ("pkg/**/*.so", "pkg/a.so", True),  # **/ is zero or more directories
        ("pkg/**/*.so", "pkg/lib/x/a.so", True),
        ("**/.gitignore", ".gitignore", True),
        ("**/.gitignore", "a/b/.gitignore", True),
        ("**/.git*", "a/.gitattributes", True),
        ("pkg/3rdparty/tvm/src", "pkg/3rdparty/tvm/src/runtime/a.cc", True),  # a tree
        ("pkg/3rdparty/tvm/src", "pkg/3rdparty/tvm/srcx/a.cc", False),
        ("pkg/lib?.so", "pkg/libA.so", True),
        ("pkg/lib?.so", "pkg/lib/.so", False),
        ("pkg/[ab].py", "pkg/b.py", True),
        ("pkg/[!ab].py", "pkg/b.py", False),
        ("pkg/a+b(c).txt", "pkg/a+b(c).txt", True),  # regex characters are literal
    ],
)
def test_glob_paths(pattern: str, path: str, hit: bool) -> None:
    assert Glob(pattern).match_path(path) is hit


@pytest.mark.parametrize(
    ("pattern", "name", "hit"),
    [
        ("libtvm_ffi.so", "libtvm_ffi.so", True),
        ("libtvm_ffi.so", "libtvm_ffi.so.1", False),  # names match whole
        ("libz3.so*", "libz3.so.4.15", True),
        ("/home/**", "/home/runner/build/lib", True),
        ("**/site-packages/tvm_ffi/lib", "/tmp/env/lib/site-packages/tvm_ffi/lib", True),
    ],
)
def test_glob_names(pattern: str, name: str, hit: bool) -> None:
    assert Glob(pattern).match_name(name) is hit


def test_member_paths_match_installed_form_too() -> None:
    p = policy("""
        [[rule]]
        action = "strip"
        path = "demo/lib/*.so"
        reason = "test"
    """)
    assert p.rules[0].match.path_ok("demo-1.0.data/platlib/demo/lib/x.so")


# ---- validation -----------------------------------------------------------------------------


def test_unknown_key_names_file_line_key_and_suggests() -> None:
    got = problems("""
        [policy]
        name = "mine"

        [[rule]]
        action = "strip"
        reason = "r"
        path = "a"

        [[rule]]
        action = "keep"
        pth = "pkg/include"
        reason = "headers"
    """)
    assert got == ["p.toml:12: rule 2, key 'pth': unknown key (did you mean 'path'?)",
                   "p.toml:10: rule 2: matches nothing: give path, library, check, category "
                   "or distribution"]


def test_all_problems_are_collected_in_one_error() -> None:
    got = problems("""
        polcy = 1

        [[rule]]
        action = "strp"
        path = "a"

        [[rule]]
        action = "strip"
        path = "a"
        expires = 2026-01-01
        reason = "r"

        [[rule]]
        action = "waive"
        check = "WG999"
        reason = ""
        expires = "2026-01-01"

        [[rule]]
        action = "relink"
        check = "debug-info"
        reason = "r"
    """)
    text = "\n".join(got)
    assert "p.toml:2: key 'polcy': unknown key (did you mean 'policy'?)" in text
    assert "p.toml:5: rule 1, key 'action': unknown action 'strp' (did you mean 'strip'?)" in text
    assert "p.toml:4: rule 1: every rule needs a non-empty 'reason'" in text
    assert "p.toml:11: rule 2, key 'expires': applies only to action 'waive', not 'strip'" \
        in text
    assert "p.toml:16: rule 3, key 'check': unknown check 'WG999'" in text
    assert "p.toml:17: rule 3, key 'reason': every rule needs" in text
    assert "p.toml:18: rule 3, key 'expires': must be a TOML date" in text
    assert "p.toml:22: rule 4, key 'check': action 'relink' cannot handle WG404" in text
    assert "p.toml:20: rule 4: relink does nothing" in text
    assert len(got) == 9


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('action = "strip"\ncategory = ["sources"]\nreason = "r"',
         "unknown category 'sources' (did you mean 'source'?)"),
        ('action = "relink"\ncheck = "WG201"\ndrop = ["absolut"]\nreason = "r"',
         "unknown entry kind 'absolut' (did you mean 'absolute'?)"),
        ('action = "relink"\ncheck = "WG201"\nreplace = [{from = "/a", to = "/b"}]\n'
         'reason = "r"', "give an $ORIGIN entry or a directory relative to the install root"),
        ('action = "depend-on-pip"\nlibrary = "libfoo.so"\nreason = "r"',
         "name the 'provider' distribution"),
        ('action = "depend-on-pip"\ncheck = "WG105"\nprovider = "x"\nreason = "r"',
         "depend-on-pip needs 'library'"),
        ('action = "depend-on-pip"\nlibrary = "libz3.so"\nversion = "=>1"\nreason = "r"',
         "not a version specifier"),
        ('action = "depend-on-pip"\nlibrary = "libz3.so"\npreload = "z3 solver"\nreason = "r"',
         "must be a module name"),
        ('action = "keep"\npath = "/abs"\nreason = "r"', "member paths are relative"),
        ('action = "keep"\npath = "a[b"\nreason = "r"', "unterminated '['"),
        ('action = "strip"\ncheck = "WG201"\nreason = "r"', "cannot handle WG201"),
        ('action = "graft"\ncheck = "WG105"\nreason = "r"', "cannot handle WG105"),
        ('action = "depend-on-pip"\nlibrary = "libz3.so"\ncategory = "source"\nreason = "r"',
         "applies only to keep, strip, waive and fail"),
    ],
)
def test_rule_problems(body: str, message: str) -> None:
    got = problems("[[rule]]\n" + body + "\n")
    assert any(message in p for p in got), got


def test_invalid_toml_names_the_file() -> None:
    got = problems("[[rule]\naction = 1\n")
    assert got[0].startswith("p.toml: not valid TOML")


def test_depend_on_pip_provider_defaults_from_the_provider_table() -> None:
    p = policy("""
        [[rule]]
        action = "depend-on-pip"
        library = "libz3.so"
        version = ">=4.13"
        reason = "z3-solver ships it"
    """)
    dep = p.rules[0].depend
    assert dep is not None
    assert dep.provider == "z3-solver"
    assert str(dep.version) == ">=4.13"


def test_check_names_resolve_to_codes_and_category_implies_artifact_checks() -> None:
    p = policy("""
        [[rule]]
        action = "strip"
        category = ["vcs"]
        reason = "r"

        [[rule]]
        action = "waive"
        check = ["rpath-other-distribution", "wg301"]
        reason = "r"
    """)
    assert p.rules[0].match.checks == {"WG401", "WG402", "WG408", "WG420"}  # every tree check
    assert p.rules[1].match.checks == {"WG204", "WG301"}
    assert p.rules[0].line == 2
    assert p.rules[1].line == 7


# ---- loading and composition ----------------------------------------------------------------


def test_no_policy_anywhere_is_none(tmp_path: Path) -> None:
    assert load_policy_set([], project_dir=tmp_path) is None
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert load_policy_set([], project_dir=tmp_path) is None


def test_pyproject_names_policies_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "mine.toml").write_text(
        '[[rule]]\naction = "waive"\ncheck = "WG204"\nreason = "ours"\n'
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.wheelguard]\npolicies = ["default", "tvm-ffi", "policies/mine.toml"]\n'
    )
    ps = load_policy_set([], project_dir=tmp_path)
    assert ps is not None
    assert ps.names == ("default", "tvm-ffi", "mine")
    # --policy replaces what pyproject names
    only = load_policy_set(["tilelang"], project_dir=tmp_path)
    assert only is not None
    assert only.names == ("tilelang",)


def test_bad_pyproject_policies_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wheelguard]\n\npolicies = "default"\n')
    with pytest.raises(InvalidPolicy, match=r"pyproject.toml:3: \[tool.wheelguard\], key "
                                            r"'policies': must be a list"):
        load_policy_set([], project_dir=tmp_path)


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[[rule]]\naction = "keep"\npath = "x"\n')
    (tmp_path / "b.toml").write_text('[[rule]]\naction = "nope"\npath = "x"\nreason = "r"\n')
    with pytest.raises(InvalidPolicy) as info:
        load_policy_set([str(tmp_path / "a.toml"), str(tmp_path / "b.toml"), "tilelagn",
                         str(tmp_path / "missing.toml")], project_dir=tmp_path)
    text = "\n".join(info.value.problems)
    assert "a.toml:1: rule 1: every rule needs a non-empty 'reason'" in text
    assert "b.toml:2: rule 1, key 'action': unknown action 'nope'" in text
    assert "tilelagn: no shipped policy of that name (did you mean 'tilelang'?)" in text
    assert "missing.toml: no such policy file" in text


# ---- decisions and precedence ---------------------------------------------------------------


def decide(wheel: Path, *policies: Policy, today: dt.date | None = None) -> Decisions:
    ps = PolicySet(tuple(policies), today=today or dt.date(2026, 1, 1))
    result = audit_wheel(wheel)
    return decisions.decide(ps, result.wheel, result.findings)


def fates(d: Decisions) -> dict[str, tuple[str, str]]:
    """member -> (action, rule) of the decisive rule."""
    return {p: (v.action.value, v.label) for p, v in d.members.items()}


VENDORED = "wg401_vendored_artifacts"


def test_later_policy_wins(fixture_wheels: Wheels) -> None:
    keep_all = policy("""
        [[rule]]
        action = "keep"
        path = "demo/3rdparty"
        reason = "first"
    """, "first")
    strip_src = policy("""
        [[rule]]
        action = "strip"
        path = "demo/3rdparty/tvm/src"
        reason = "second"
    """, "second")
    got = fates(decide(fixture_wheels[VENDORED].path, keep_all, strip_src))
    assert got["demo/3rdparty/tvm/src/runtime/module.cc"] == ("strip", "second#1")
    assert got["demo/3rdparty/tvm/CMakeLists.txt"] == ("keep", "first#1")
    # reversed order: the keep is now the later word
    got = fates(decide(fixture_wheels[VENDORED].path, strip_src, keep_all))
    assert got["demo/3rdparty/tvm/src/runtime/module.cc"] == ("keep", "first#1")


def test_keep_beats_strip_within_a_file_in_any_order(fixture_wheels: Wheels) -> None:
    for order in (("keep", "strip"), ("strip", "keep")):
        rules = {
            "keep": '[[rule]]\naction = "keep"\npath = "demo/3rdparty/tvm/include"\n'
                    'reason = "headers"\n',
            "strip": '[[rule]]\naction = "strip"\npath = "demo/3rdparty"\nreason = "all"\n',
        }
        p = parse_policy("\n".join(rules[o] for o in order), source="p.toml")
        got = fates(decide(fixture_wheels[VENDORED].path, p))
        assert got["demo/3rdparty/tvm/include/tvm/runtime/module.h"][0] == "keep"
        assert got["demo/3rdparty/tvm/src/runtime/module.cc"][0] == "strip"


def test_last_match_wins_within_a_file(fixture_wheels: Wheels) -> None:
    p = policy("""
        [[rule]]
        action = "waive"
        check = "WG204"
        reason = "first"

        [[rule]]
        action = "fail"
        check = "WG204"
        reason = "second"
    """)
    (finding,) = decide(fixture_wheels["wg204_rpath_other_distribution_declared"].path, p).findings
    assert finding.action == "fail"
    assert finding.severity is Severity.ERROR
    assert "fails by p#2: second" in finding.message


def test_check_strip_removes_exactly_what_the_finding_counted(fixture_wheels: Wheels) -> None:
    got = decide(fixture_wheels[VENDORED].path, load_policy("default"))
    stripped = sorted(p for p, (a, _) in fates(got).items() if a == "strip")
    assert stripped == [
        "demo/3rdparty/cutlass/tools/util/reference.cu",
        "demo/3rdparty/tvm/CMakeLists.txt",
        "demo/3rdparty/tvm/build/CMakeFiles/module.cc.o",
        "demo/3rdparty/tvm/docs/index.rst",
        "demo/3rdparty/tvm/src/runtime/module.cc",
        "demo/3rdparty/tvm/tests/python/test_basic.py",
    ]
    assert all(f.action == "strip" for f in got.findings)


def test_category_filter(fixture_wheels: Wheels) -> None:
    p = policy("""
        [[rule]]
        action = "strip"
        check = "vendored-artifacts"
        category = ["object", "cmake"]
        reason = "build files only"
    """)
    got = decide(fixture_wheels[VENDORED].path, p)
    assert sorted(got.members) == ["demo/3rdparty/tvm/CMakeLists.txt",
                               "demo/3rdparty/tvm/build/CMakeFiles/module.cc.o"]
    tvm = next(f for f in got.findings if f.path == "demo/3rdparty/tvm")
    assert tvm.action == "strip"
    assert "strips 2 of 5 files" in tvm.message


def test_tree_finding_waived_when_every_file_is(fixture_wheels: Wheels) -> None:
    p = policy("""
        [[rule]]
        action = "waive"
        check = "WG401"
        path = "demo/3rdparty/cutlass"
        reason = "cutlass tools are shipped on purpose"
    """)
    got = decide(fixture_wheels[VENDORED].path, load_policy("default"), p)
    by_path = {f.path: f for f in got.findings}
    assert by_path["demo/3rdparty/cutlass"].waived == "cutlass tools are shipped on purpose"
    assert by_path["demo/3rdparty/cutlass"].action == "waive"
    assert by_path["demo/3rdparty/tvm"].action == "strip"


# ---- the audit post-pass --------------------------------------------------------------------

EXPIRING = """
    [[rule]]
    action = "waive"
    check = "needed-unresolved"
    reason = "libfoo comes with the system image"
    expires = 2026-06-30
"""


def test_waiver_before_expiry_does_not_fail(fixture_wheels: Wheels) -> None:
    ps = PolicySet((policy(EXPIRING),), today=dt.date(2026, 6, 30))
    result = audit_wheel(fixture_wheels["wg301_needed_unresolved"].path, post=assign_actions(ps))
    (f,) = result.findings
    assert f.waived == "libfoo comes with the system image"
    assert f.action == Action.WAIVE.value
    assert not result.fails(Severity.INFO)


def test_expired_waiver_fails_again_and_says_so(fixture_wheels: Wheels) -> None:
    ps = PolicySet((policy(EXPIRING),), today=dt.date(2026, 7, 1))
    result = audit_wheel(fixture_wheels["wg301_needed_unresolved"].path, post=assign_actions(ps))
    (f,) = result.findings
    assert f.waived is None
    assert f.action == "fail"
    assert "waiver expired on 2026-06-30 (p#1: libfoo comes with the system image)" in f.message
    assert result.fails(Severity.ERROR)


def test_keep_marks_findings_kept_and_does_not_fail(fixture_wheels: Wheels) -> None:
    p = policy("""
        [[rule]]
        action = "keep"
        path = "demo/lib/libdebug.so"
        reason = "symbols for the crash reporter"
    """)
    ps = PolicySet((load_policy("default"), p))
    result = audit_wheel(fixture_wheels["wg404_debug_info"].path, post=assign_actions(ps))
    (f,) = result.findings
    assert f.action == "keep"
    assert f.waived == "kept by p#1: symbols for the crash reporter"
    assert not result.fails(Severity.INFO)


def test_actions_of_the_tvm_ffi_policy(fixture_wheels: Wheels) -> None:
    ps = PolicySet((load_policy("default"), load_policy("tvm-ffi")))
    cases = {
        "wg105_bundled_provided_library": {"WG105": "depend-on-pip"},
        "wg104_embedded_runtime_abi": {"WG104": "fail"},
        "wg301_needed_undeclared_provider": {"WG301": "depend-on-pip", "WG204": "depend-on-pip"},
        "wg301_needed_unresolved": {"WG301": "graft"},
        "wg201_rpath_absolute": {"WG201": "relink"},
        "wg202_rpath_cwd_relative": {"WG202": "relink"},
        "wg404_debug_info": {"WG404": "strip"},
    }
    for fixture, want in cases.items():
        result = audit_wheel(fixture_wheels[fixture].path, post=assign_actions(ps))
        got = {f.check: f.action for f in result.findings}
        assert got == want, fixture


def test_library_needs_are_decided_per_binary(fixture_wheels: Wheels) -> None:
    got = decide(fixture_wheels["wg301_needed_undeclared_provider"].path, load_policy("default"),
                 load_policy("tvm-ffi"))
    assert {k: v.label for k, v in got.libraries.items()} == {
        ("demo/lib/libneeds_tvmffi.so", "libtvm_ffi.so"): "tvm-ffi#1"}


def test_depend_on_pip_never_applies_to_the_providers_own_wheel(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    from helpers.wheels import build_wheel

    libs = fixture_wheels["clean"].libs
    wheel = build_wheel(tmp_path, {"tvm_ffi/__init__.py": b"",
                                   "tvm_ffi/lib/libtvm_ffi.so": libs["libtvm_ffi.so"],
                                   "tvm_ffi/lib/libneeds_tvmffi.so": libs["libneeds_tvmffi.so"]},
                        name="apache-tvm-ffi", version="0.1.12")
    got = decide(wheel, load_policy("tvm-ffi"))
    assert dict(got.members) == {}
    assert dict(got.libraries) == {}

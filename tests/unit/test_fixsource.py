"""The source-fix parts one by one: CMake reading, locating entries, TOML edits, exclusion
patterns, the project boundary, and fix-source on fixture wheels against small projects.

The closed loop (patch, rebuild, audit clean) runs on the tinykern sample in
tests/integration/test_fix_source_samples.py.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from pathlib import Path

import pathspec
import pytest
from helpers.cli import run_inprocess
from helpers.fixtures import BuiltFixture

from wheelguard._compat import tomllib
from wheelguard.fixsource import propose
from wheelguard.fixsource.cmake import parse
from wheelguard.fixsource.cmake_build import debug_flag_edits, install_sites
from wheelguard.fixsource.cmake_rpath import entry_edits, find_entry, link_path_edits, rpath_sites
from wheelguard.fixsource.patch import Edit, EditConflict, apply_edits
from wheelguard.fixsource.project import Project, ProjectError
from wheelguard.fixsource.skbuild import PyprojectEditor, exclude_patterns
from wheelguard.policy.load import load_policy
from wheelguard.policy.schema import PolicySet
from wheelguard.repair.edits import RequirementEdit

# ---- CMake ------------------------------------------------------------------------------

CMAKE = r'''# run paths, the ways projects spell them
set(EXTRA_ENTRY "tinykern/lib" CACHE STRING "an entry, resolved against the cwd")
function(set_runpath target)
  set(entries ${ARGN})  # a comment (with parens)
  set_target_properties(${target} PROPERTIES INSTALL_RPATH "${entries}"
    INSTALL_RPATH_USE_LINK_PATH ON)
endfunction()
set(RP "\$ORIGIN:\$ORIGIN/../../tvm_ffi/lib")
string(APPEND RP ":\$ORIGIN/../../nvidia/cu${CUDA_MAJOR}/lib")
set_runpath(core ${EXTRA_ENTRY} "${RP}")
install(TARGETS core LIBRARY DESTINATION tinykern/lib)
target_compile_options(core PRIVATE -g)
target_compile_options(other PRIVATE -O2 -g "$<$<CONFIG:Debug>:-g>")
set(CMAKE_CXX_FLAGS "-O2 -g -fPIC")
message([==[bracket ( ) "text"]==])
'''


def test_parse_keeps_spans_and_values() -> None:
    f = parse(CMAKE)
    names = [c.name for c in f.commands]
    assert names[:3] == ["set", "function", "set"]
    cache = f.commands[0]
    assert cache.values() == ("EXTRA_ENTRY", "tinykern/lib", "CACHE", "STRING",
                              "an entry, resolved against the cwd")
    assert CMAKE[cache.args[1].start:cache.args[1].end] == '"tinykern/lib"'
    rp = next(c for c in f.commands if c.values()[:1] == ("RP",))
    assert rp.args[1].value == "$ORIGIN:$ORIGIN/../../tvm_ffi/lib"  # \$ read as $
    assert f.commands[2].function == "set_runpath"
    bracket = f.commands[-1].args[0]
    assert (bracket.kind, bracket.value) == ("bracket", 'bracket ( ) "text"')
    assert f.line_of(rp.start) == 8


def test_entries_are_traced_through_variables_functions_and_cache() -> None:
    f = parse(CMAKE)
    sites = rpath_sites([f])
    (cwd,) = find_entry(sites, "tinykern/lib")
    assert f.line_of(cwd[1]) == 2  # the cache variable's default, not install(DESTINATION)
    (cuda,) = find_entry(sites, "$ORIGIN/../../nvidia/cu13/lib")  # cu${CUDA_MAJOR}
    assert f.line_of(cuda[1]) == 9
    assert find_entry(sites, "$ORIGIN/../../z3/lib") == []
    (ffi,) = find_entry(sites, "$ORIGIN/../../tvm_ffi/lib")
    edit = entry_edits(ffi[0], {(ffi[1], ffi[2]): None}, "drop")
    assert edit.text == r'"\$ORIGIN"'  # the other entry and its escaping kept
    replaced = entry_edits(cwd[0], {(cwd[1], cwd[2]): "$ORIGIN"}, "anchor")
    assert replaced.text == '"$ORIGIN"'
    dropped = entry_edits(cuda[0], {(cuda[1], cuda[2]): None}, "drop")
    assert dropped.text == '""'


def test_link_path_and_debug_flags() -> None:
    f = parse(CMAKE)
    (flip,) = link_path_edits([f], "abs")
    assert (CMAKE[flip.start:flip.end], flip.text) == ("ON", "OFF")
    new = apply_edits({f.path: CMAKE}, debug_flag_edits([f], "dwarf"))[f.path]
    assert "target_compile_options(core PRIVATE -g)" not in new
    assert 'target_compile_options(other PRIVATE -O2 "$<$<CONFIG:Debug>:-g>")' in new
    assert 'set(CMAKE_CXX_FLAGS "-O2 -fPIC")' in new
    assert [c.line for _f, c in install_sites([f], "tinykern/lib/libcore.so")] == [11]
    assert install_sites([f], "tinykern/lib/other.txt") == []


def test_overlapping_edits_are_a_bug_and_contained_ones_fold() -> None:
    text = "abcdef"
    outer = Edit(file="f", start=1, end=5, text="", why="x", line=1)
    inner = Edit(file="f", start=2, end=3, text="Z", why="y", line=1)
    assert apply_edits({"f": text}, [inner, outer]) == {"f": "af"}
    with pytest.raises(EditConflict):
        apply_edits({"f": text}, [Edit(file="f", start=0, end=3, text="", why="", line=1),
                                  Edit(file="f", start=2, end=4, text="", why="", line=1)])


# ---- exclusion patterns -----------------------------------------------------------------


@pytest.mark.parametrize("seed", range(12))
def test_exclude_patterns_match_exactly_what_goes(seed: int) -> None:
    rng = random.Random(seed)
    dirs = ["pkg", "pkg/3rdparty/a/src", "pkg/3rdparty/a/include/x", "pkg/src/op",
            "pkg/src/tl_templates/cuda", "pkg/lib", "pkg/3rdparty/a/.git"]
    paths = {f"{rng.choice(dirs)}/{name}{i}" for i in range(40)
             for name in (rng.choice(["f", ".gitignore", "g.h"]),)}
    gone = {p for p in paths if rng.random() < 0.6}
    kept = paths - gone
    spec = pathspec.GitIgnoreSpec.from_lines(exclude_patterns(gone, kept))
    assert {p for p in paths if spec.match_file(p)} == gone


def test_exclude_patterns_prefer_directories() -> None:
    gone = {"t/3/m/src/a.cc", "t/3/m/src/b.cc", "t/3/m/CMakeLists.txt", "t/3/m/build/x.o"}
    kept = {"t/3/m/include/g.h", "t/3/m/LICENSE", "t/lib/libt.so"}
    assert exclude_patterns(gone, kept) == [
        "t/3/m/CMakeLists.txt", "t/3/m/build/", "t/3/m/src/"]
    assert exclude_patterns({"top.txt"}, {"pkg/x"}) == ["/top.txt"]  # anchored at the root


# ---- pyproject.toml ---------------------------------------------------------------------

PYPROJECT = """[project]
name = "demo"
dependencies = [
    "numpy>=1.21",  # arrays
    "apache-tvm-ffi>=0.1",
]

[tool.scikit-build]
install.strip = false
wheel.exclude = ["old/"]
cmake.build-type = "RelWithDebInfo"

[tool.scikit-build.wheel.packages]
"demo" = "python/demo"
"demo/3rdparty/x/src" = "3rdparty/x/src"
"""


def test_pyproject_edits_touch_one_value_each() -> None:
    ed = PyprojectEditor(PYPROJECT)
    mapping = ed.mapping_statement("demo/3rdparty/x/src")
    assert mapping is not None
    edits = [e for e in (
        ed.exclude(["demo/3rdparty/x/tests/", "old/"], "exclude"),
        ed.set_bool(("install", "strip"), True, "strip"),
        *ed.requirements([
            (RequirementEdit("apache-tvm-ffi", "apache-tvm-ffi>=0.1",
                             "apache-tvm-ffi<0.2,>=0.1"), "range"),
            (RequirementEdit("z3-solver", None, "z3-solver>=4.13"), "add")]),
        ed.delete(mapping, "mapping"),
    ) if isinstance(e, Edit)]
    assert len(edits) == 5  # the range, and the new line: two edits of one array
    new = apply_edits({"pyproject.toml": PYPROJECT}, edits)["pyproject.toml"]
    data = tomllib.loads(new)
    skb = data["tool"]["scikit-build"]
    assert skb["wheel"]["exclude"] == ["old/", "demo/3rdparty/x/tests/"]
    assert skb["install"]["strip"] is True
    assert skb["wheel"]["packages"] == {"demo": "python/demo"}
    assert data["project"]["dependencies"] == ["numpy>=1.21", "apache-tvm-ffi<0.2,>=0.1",
                                               "z3-solver>=4.13"]
    assert "# arrays" in new  # comments survive


def test_new_exclude_goes_into_an_existing_wheel_table() -> None:
    text = '[tool.scikit-build.wheel]\npackages = ["src/demo"]\n\n[tool.other]\nx = 1\n'
    ed = PyprojectEditor(text)
    edit = ed.exclude(["demo/build/"], "x")
    assert edit is not None
    new = tomllib.loads(apply_edits({"pyproject.toml": text}, [edit])["pyproject.toml"])
    assert new["tool"]["scikit-build"]["wheel"]["exclude"] == ["demo/build/"]
    assert new["tool"]["other"] == {"x": 1}


# ---- the project boundary ---------------------------------------------------------------


def test_project_refuses_symlinks_and_escapes(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (tmp_path / "outside.cmake").write_text("set(X 1)\n")
    (root / "CMakeLists.txt").write_text("include(linked.cmake)\n")
    (root / "linked.cmake").symlink_to(tmp_path / "outside.cmake")
    project = Project.open(root)
    assert project.read_text("linked.cmake") is None
    assert any("symlink" in r for r in project.refused)
    with pytest.raises(ProjectError):
        project.write_text("../outside.cmake", "x")
    with pytest.raises(ProjectError, match="not read"):
        project.write_text("CMakeLists.txt", "x")
    assert project.read_text("CMakeLists.txt") is not None
    (root / "CMakeLists.txt").write_text("changed\n")
    with pytest.raises(ProjectError, match="changed since"):
        project.write_text("CMakeLists.txt", "x")


# ---- fix-source on fixture wheels -------------------------------------------------------

SKB_PYPROJECT = """[build-system]
requires = ["scikit-build-core"]
build-backend = "scikit_build_core.build"

[project]
name = "demo"
version = "0.1"

[tool.scikit-build]
wheel.packages = ["python/demo"]
"""


def _project(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _default() -> PolicySet:
    return PolicySet((load_policy("default"),))


def test_cwd_relative_entry_is_edited_and_an_empty_one_is_an_instruction(
        fixture_wheels: Mapping[str, BuiltFixture], tmp_path: Path) -> None:
    project = _project(tmp_path, {
        "pyproject.toml": SKB_PYPROJECT,
        "CMakeLists.txt": 'add_library(rpath_cwd SHARED a.c)\n'
                          'set_target_properties(rpath_cwd PROPERTIES INSTALL_RPATH '
                          '":\\$ORIGIN:lib")\ninstall(TARGETS rpath_cwd DESTINATION demo/lib)\n',
    })
    fix = propose(fixture_wheels["wg202_rpath_cwd_relative"].path, project, _default())
    assert fix.files == ("CMakeLists.txt",)
    assert '+set_target_properties(rpath_cwd PROPERTIES INSTALL_RPATH ":\\$ORIGIN")' in \
        fix.diff.splitlines()
    (todo,) = fix.instructions
    assert "RUNPATH entry ''" in todo.text
    before = (project / "CMakeLists.txt").read_text()
    assert fix.apply() == ("CMakeLists.txt",)
    assert (project / "CMakeLists.txt").read_text() != before


def test_setup_py_builds_get_instructions_with_lines(
        fixture_wheels: Mapping[str, BuiltFixture], tmp_path: Path) -> None:
    project = _project(tmp_path, {
        "setup.py": "from setuptools import Extension, setup\n\n"
                    "setup(ext_modules=[Extension('demo._x', ['x.c'],\n"
                    "      extra_compile_args=['-O2', '-g'])])\n",
    })
    fix = propose(fixture_wheels["wg404_debug_info"].path, project, _default())
    assert fix.build == "setuptools"
    assert fix.edits == ()
    (todo,) = fix.instructions
    assert (todo.file, todo.line) == ("setup.py", 4)
    assert "drop -g" in todo.text


def test_cli_never_writes_without_write_and_exits_1_with_work_left(
        fixture_wheels: Mapping[str, BuiltFixture], tmp_path: Path) -> None:
    project = _project(tmp_path, {"pyproject.toml": SKB_PYPROJECT,
                                  "CMakeLists.txt": "add_library(x SHARED x.c)\n"})
    wheel = fixture_wheels["wg401_vendored_artifacts"].path
    before = (project / "pyproject.toml").read_text()
    code, out, _err = run_inprocess(["fix-source", str(wheel), "--project", str(project),
                                    "--policy", "default"])
    assert code == 1
    assert "+wheel.exclude = [" in out
    assert "# not written" in out
    assert (project / "pyproject.toml").read_text() == before
    code, out, _err = run_inprocess(["fix-source", str(wheel), "--project", str(project),
                                    "--policy", "default", "--write"])
    assert code == 0, out
    after = tomllib.loads((project / "pyproject.toml").read_text())
    assert "demo/3rdparty/tvm/src/" in after["tool"]["scikit-build"]["wheel"]["exclude"]
    code, out, _err = run_inprocess(["fix-source", str(wheel), "--project", str(project),
                                    "--policy", "default", "--format", "diff"])
    assert (code, out) == (0, "")  # the old wheel, but the project already excludes it all


def test_patch_summary_for_the_checklist(fixture_wheels: Mapping[str, BuiltFixture],
                                         tmp_path: Path) -> None:
    from wheelguard.cli.fix_source import render_text
    from wheelguard.fixsource import summarize_patch

    project = _project(tmp_path, {"pyproject.toml": SKB_PYPROJECT,
                                  "CMakeLists.txt": "add_library(x SHARED x.c)\n"})
    fix = propose(fixture_wheels["wg202_rpath_cwd_relative"].path, project, _default())
    assert summarize_patch(render_text(fix)) == "no edits; 2 instruction(s)"
    assert summarize_patch(json.dumps(fix.to_json())) == fix.summary()
    fix2 = propose(fixture_wheels["wg401_vendored_artifacts"].path, project, _default())
    assert summarize_patch(fix2.diff) == "1 file(s) changed: pyproject.toml"

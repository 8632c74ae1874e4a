"""Session fixtures shared by every test tree.

Compiled libraries and fixture wheels are built once per session (gcc is the slow part);
published wheels are downloaded once per machine into the wheel cache.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import audit_json
from helpers.clibs import Compiler
from helpers.fixtures import LIBS, BuiltFixture, build_fixtures
from helpers.native_fixtures import NativeFixtures, ToolchainUnavailable
from helpers.native_fixtures import build as build_native
from helpers.published import Unavailable, fetch


@pytest.fixture(scope="session")
def compiler(tmp_path_factory: pytest.TempPathFactory) -> Compiler:
    """gcc writing into one session directory; libraries are compiled once each."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not on PATH: the ELF fixtures are compiled at test time")
    return Compiler(tmp_path_factory.mktemp("clibs"))


@pytest.fixture(scope="session")
def libs(compiler: Compiler) -> Mapping[str, bytes]:
    """Every library of :data:`helpers.fixtures.LIBS`, by file name, as bytes."""
    return compiler.build_all(LIBS)


@pytest.fixture(scope="session")
def fixture_wheels(
    compiler: Compiler, libs: Mapping[str, bytes], tmp_path_factory: pytest.TempPathFactory
) -> Mapping[str, BuiltFixture]:
    """Every wheel of the fixture catalogue, by fixture name."""
    return build_fixtures(compiler, tmp_path_factory.mktemp("fixture-wheels"))


@pytest.fixture(scope="session")
def native_fixtures() -> NativeFixtures:
    """Mach-O and PE files built with zig (the ``test`` extra installs it), cached by content
    under ``$WHEELGUARD_FIXTURE_CACHE``. Skips only when zig is not installed; a build that
    fails is an error."""
    try:
        return build_native()
    except ToolchainUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def published_wheel() -> Callable[[str], Path]:
    """``published_wheel("tilelang")``: the pinned published wheel (see helpers.published.PINS),
    downloaded with pip into the wheel cache and checked against its sha256.

    Skips the calling test only when no package registry can be reached, with the reason.
    """
    got: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in got:
            try:
                got[name] = fetch(name)
            except Unavailable as e:
                print(f"skipping: {e}")
                pytest.skip(str(e))
        return got[name]

    return get


@pytest.fixture(scope="session")
def fixture_audits(
    fixture_wheels: Mapping[str, BuiltFixture],
) -> Mapping[str, tuple[int, dict[str, Any]]]:
    """``wheelguard audit --format json`` of every fixture wheel (with the fixture's own
    options): exit code and parsed document, computed once for the golden and check tests."""
    return {
        name: audit_json(*built.spec.args, built.path)
        for name, built in fixture_wheels.items()
    }

"""Provider release series for ``wheelguard advise``, built with gcc, where the right answer is
known before the tool runs.

* ``libkit`` 1.0 .. 1.5 and 2.0: ``libkit.so.1`` with symbol versions. ``kit_init`` is in
  ``KIT_1.0`` from the start; ``libkit::run()`` (mangled ``_ZN6libkit3runEv``) arrives in 1.2
  under ``KIT_1.2``, stays in 1.3 and 1.4, and moves to ``KIT_1.5`` in 1.5; 2.0 renames the
  SONAME to ``libkit.so.2``. ``kituser`` is built against 1.2 and imports both, so exactly
  1.2, 1.3 and 1.4 work: the range to propose is ``>=1.2,<1.5``.
* ``gapkit`` 1.0 .. 1.3: ``libgap.so.1`` without symbol versions; 1.1 dropped ``gap_b`` and
  1.2 brought it back. ``gapuser`` imports ``gap_a`` and ``gap_b``: the working set {1.0, 1.2,
  1.3} is not contiguous, and the safe contiguous part is ``>=1.2``.
* ``kituser_narrow`` and ``kituser_hole`` are ``kituser`` declaring ``>=1.3,<1.4`` and
  ``>=1.2,!=1.3,<1.5``: a range narrower than it could be, and one with a needless hole.
* ``dupuser`` ships its own ``libkit.so.1`` while requiring ``libkit``: every version brings
  a second copy.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .clibs import Compiler
from .wheels import DEFAULT_TAG, build_wheel

__all__ = ["GAPKIT", "LIBKIT", "PROVIDER_TAG", "PYTHON", "AdviseWorld", "build_advise_world"]

PYTHON = "3.12"
PROVIDER_TAG = "py3-none-manylinux_2_17_x86_64"

_KIT_SOURCE = "int kit_init(void) { return 1; }\nint _ZN6libkit3runEv(void) { return 2; }\n"
_KIT_OLD = "int kit_init(void) { return 1; }\n"
_MAP_OLD = "KIT_1.0 { global: kit_init; local: *; };\n"
_MAP_12 = _MAP_OLD + "KIT_1.2 { global: _ZN6libkit3runEv; } KIT_1.0;\n"
_MAP_15 = _MAP_OLD + "KIT_1.5 { global: _ZN6libkit3runEv; } KIT_1.0;\n"

LIBKIT: Mapping[str, tuple[str, str, str]] = {
    # version: (SONAME, source, version script)
    "1.0": ("libkit.so.1", _KIT_OLD, _MAP_OLD),
    "1.1": ("libkit.so.1", _KIT_OLD, _MAP_OLD),
    "1.2": ("libkit.so.1", _KIT_SOURCE, _MAP_12),
    "1.3": ("libkit.so.1", _KIT_SOURCE, _MAP_12),
    "1.4": ("libkit.so.1", _KIT_SOURCE, _MAP_12),
    "1.5": ("libkit.so.1", _KIT_SOURCE, _MAP_15),
    "2.0": ("libkit.so.2", _KIT_SOURCE, _MAP_12),
}

_GAP_BOTH = "int gap_a(void) { return 1; }\nint gap_b(void) { return 2; }\n"
GAPKIT: Mapping[str, str] = {
    "1.0": _GAP_BOTH,
    "1.1": "int gap_a(void) { return 1; }\n",
    "1.2": _GAP_BOTH,
    "1.3": _GAP_BOTH,
}


@dataclass(frozen=True, slots=True)
class AdviseWorld:
    wheelhouse: Path
    consumers: Mapping[str, Path]


def _gcc(compiler: Compiler, out: Path, source: str, *, soname: str | None = None,
         script: str | None = None, runpath: str | None = None,
         link: tuple[Path, ...] = ()) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    src = out.with_name(out.name + ".c")
    src.write_text(source, encoding="utf-8")
    cmd = [compiler.gcc, "-shared", "-fPIC", "-g0", "-o", str(out), str(src)]
    if soname:
        cmd.append(f"-Wl,-soname,{soname}")
    if script:
        path = out.with_name(out.name + ".map")
        path.write_text(script, encoding="utf-8")
        cmd.append(f"-Wl,--version-script={path}")
    if runpath:
        cmd += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{runpath}"]
    cmd += [str(p) for p in link]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = f"{' '.join(cmd)} failed:\n{proc.stderr}"
        raise RuntimeError(msg)
    return out


def _init(top: str) -> dict[str, bytes]:
    return {f"{top}/__init__.py": f'"""{top}."""\n'.encode()}


def build_advise_world(compiler: Compiler, dest: Path) -> AdviseWorld:
    """Every provider release into one wheelhouse, and one wheel per consumer."""
    root = compiler.workdir / "advise"
    house = dest / "wheelhouse"
    kit: dict[str, Path] = {}
    for version, (soname, source, script) in LIBKIT.items():
        lib = _gcc(compiler, root / f"libkit-{version}" / soname, source, soname=soname,
                   script=script)
        kit[version] = lib
        build_wheel(house, {**_init("libkit"), f"libkit/lib/{soname}": lib.read_bytes()},
                    name="libkit", version=version, tag=PROVIDER_TAG)
    gap: dict[str, Path] = {}
    for version, source in GAPKIT.items():
        lib = _gcc(compiler, root / f"gapkit-{version}" / "libgap.so.1", source,
                   soname="libgap.so.1")
        gap[version] = lib
        build_wheel(house, {**_init("gapkit"), "gapkit/lib/libgap.so.1": lib.read_bytes()},
                    name="gapkit", version=version, tag=PROVIDER_TAG)
    uses_kit = "int kit_init(void); int _ZN6libkit3runEv(void);\n" \
               "int use(void) { return kit_init() + _ZN6libkit3runEv(); }\n"
    kituser = _gcc(compiler, root / "kituser" / "libkituser.so", uses_kit,
                   soname="libkituser.so", runpath="$ORIGIN/../../libkit/lib",
                   link=(kit["1.2"],))
    uses_gap = "int gap_a(void); int gap_b(void);\nint use(void) { return gap_a() + gap_b(); }\n"
    gapuser = _gcc(compiler, root / "gapuser" / "libgapuser.so", uses_gap,
                   soname="libgapuser.so", runpath="$ORIGIN/../../gapkit/lib", link=(gap["1.0"],))
    dupuser = _gcc(compiler, root / "dupuser" / "libdupuser.so", uses_kit,
                   soname="libdupuser.so", runpath="$ORIGIN", link=(kit["1.2"],))
    out = dest / "consumers"
    consumers = {
        "kituser": build_wheel(out, {**_init("kituser"),
                                     "kituser/lib/libkituser.so": kituser.read_bytes()},
                               name="kituser", requires_dist=("libkit>=1.0",), tag=DEFAULT_TAG),
        "kituser_narrow": build_wheel(out, {**_init("kituser_narrow"),
                                            "kituser_narrow/lib/libkituser.so":
                                                kituser.read_bytes()},
                                      name="kituser_narrow", requires_dist=("libkit>=1.3,<1.4",),
                                      tag=DEFAULT_TAG),
        "kituser_hole": build_wheel(out, {**_init("kituser_hole"),
                                          "kituser_hole/lib/libkituser.so": kituser.read_bytes()},
                                    name="kituser_hole",
                                    requires_dist=("libkit>=1.2,!=1.3,<1.5",), tag=DEFAULT_TAG),
        "gapuser": build_wheel(out, {**_init("gapuser"),
                                     "gapuser/lib/libgapuser.so": gapuser.read_bytes()},
                               name="gapuser", requires_dist=("gapkit>=1.0",), tag=DEFAULT_TAG),
        "dupuser": build_wheel(out, {**_init("dupuser"),
                                     "dupuser/lib/libdupuser.so": dupuser.read_bytes(),
                                     "dupuser/lib/libkit.so.1": kit["1.2"].read_bytes()},
                               name="dupuser", requires_dist=("libkit>=1.2",), tag=DEFAULT_TAG),
    }
    return AdviseWorld(wheelhouse=house, consumers=consumers)

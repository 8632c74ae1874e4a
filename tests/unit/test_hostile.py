"""The hostile-wheel corpus (tests/hostile) against the real CLI, as CI would run it.

A short selection of cases (about a minute): those that pass today guard against regressions,
and those that fail today are strict xfails whose reason names where in wheelguard the problem
lies, so each turns into an XPASS failure the moment it is fixed and its mark has to go. The
whole corpus and the installer comparison are run by ``python tests/hostile/harness.py`` (see
/work/notes/hostile-report.md).
"""

from __future__ import annotations

import copy
import io
import zipfile
from pathlib import Path

import pytest
from hostile import generate, harness

PASSING = [
    "archive/name-dotdot",
    "archive/name-absolute",
    "archive/name-nul",
    "archive/name-control-lf",
    "archive/symlink-create-system-0",
    "archive/symlink-create-system-3",
    "archive/duplicate-name",
    "archive/file-and-directory",
    "archive/case-collision",
    "archive/overlap-size-runs-over-next",
    "archive/prepended-data",
    "archive/bomb-ratio",
    "archive/bomb-nested-wheel",
    "archive/version-needed-too-high",
    "archive/encrypted",
    "archive/strong-encryption-flag",
    "archive/zip64-unneeded-but-consistent",
    "metadata/metadata-name-differs",
    "metadata/wheel-version-9",
    "metadata/wheel-tags-differ",
    "metadata/record-md5",
    "metadata/requires-dist-invalid",
    "metadata/data-unknown-scheme",
    "metadata/entry-points-invalid",
    "elf/valid",
    "elf/truncated-half",
    "elf/verneed-self-loop",
    "elf/no-section-headers-needed-unresolved",
    "elf/corrupt-shstrndx-needed-unresolved",
    "elf/garbage-section-headers-needed-unresolved",
    "elf/large-code-segment-over-dynamic",
    "elf/markup-needed",
    "elf/markup-unbalanced-soname",
    "elf/newline-needed",
    "elf/ansi-needed",
    "macho/fat-valid",
    "macho/unknown-cpu",
    "macho/cmdsize-zero",
    "pe/valid",
    "policy/valid",
    "policy/malformed",
    "policy/glob-reversed-range",
    "policy/nested-arrays-10000",
    "policy/glob-pathological",
    "policy/long-line-spaces",
    "policy/provider-not-a-requirement",
    "output/input-is-directory",
    "output/repair-into-input-dir",
    "output/markup-member-names",
    "output/under-regular-file",
    "output/input-is-fifo",
    "output/repair-two-inputs-one-name",
    "output/report-over-input",
    "output/dev-null",
    "output/markup-input-path",
    "output/newline-input-path",
    "output/source-date-epoch-1e20",
    "output/source-date-epoch-huge-int",
    "metadata/record-sha512",
    "metadata/record-no-size",
]

# case id -> why it fails today (where the fix goes).
FAILING: dict[str, str] = {}

HANGS: set[str] = set()
"""Cases that hang today: run with a short timeout so the selection stays fast."""

SELECTION = [*PASSING, *FAILING]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile-corpus")
    generate.generate(root, SELECTION)
    return root


def _params() -> list[object]:
    params: list[object] = [pytest.param(c, id=c) for c in PASSING]
    params += [pytest.param(c, id=c, marks=pytest.mark.xfail(strict=True, reason=why))
               for c, why in FAILING.items()]
    return params


@pytest.mark.parametrize("case_id", _params())
def test_case_meets_its_expectation(corpus: Path, case_id: str, tmp_path: Path) -> None:
    case = next(c for c in harness.load_cases(corpus) if c["id"] == case_id)
    options = harness.Options(timeout=2.0 if case_id in HANGS else 20.0)
    result = harness.run_case(corpus, case, options, tmp_path)
    if result.skipped:
        pytest.skip(harness.describe(result))
    assert result.ok, harness.describe(result)


def test_selection_names_real_cases() -> None:
    ids = {c.id for c in generate.CASES}
    assert set(SELECTION) <= ids
    assert set(FAILING) >= HANGS
    assert len(set(SELECTION)) == len(SELECTION)


def test_harness_reports_a_missed_expectation(corpus: Path, tmp_path: Path) -> None:
    """A harness that cannot fail proves nothing: the control wheel, expected refused."""
    case = copy.deepcopy(next(c for c in harness.load_cases(corpus) if c["id"] == "elf/valid"))
    case["commands"] = [dict(case["commands"][0], expect="refuse")]
    result = harness.run_case(corpus, case, harness.Options(), tmp_path)
    assert not result.ok
    assert result.runs[0].tags == ["wrong-exit"]


def test_manifest_is_well_formed(corpus: Path) -> None:
    for case in harness.load_cases(corpus):
        assert case["id"].split("/")[0] == case["class"]
        assert (corpus / case["id"]).is_dir()
        for cmd in case["commands"]:
            assert cmd["expect"] in ("ok", "refuse", "error-finding")
            assert cmd["argv"][0] in ("audit", "show", "repair", "policy")


def test_generation_is_deterministic(tmp_path: Path) -> None:
    cheap = ["archive/name-*", "metadata/record-*", "elf/*", "macho/fat-*"]
    first, second = tmp_path / "a", tmp_path / "b"
    generate.generate(first, cheap)
    generate.generate(second, cheap)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_quoted_overlap_members_inflate_to_what_the_directory_says() -> None:
    """The CRC-32 of every overlapping member is computed without inflating it (crc32_combine
    in GF(2)); zipfile inflates a small instance and checks each CRC and size."""
    data = generate.overlap_bomb_wheel(members=6, kernel_size=5000)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = [i for i in zf.infolist() if i.filename.startswith("demo/o")]
        assert len(infos) == 6
        for info in infos:
            assert len(zf.read(info)) == info.file_size  # zipfile raises on a CRC mismatch
        offsets = sorted(i.header_offset for i in infos)
        ends = [i.header_offset + 30 + len(i.filename) + i.compress_size for i in infos]
        assert max(ends) > offsets[-1], "the members' data must overlap"


def test_bzip2_blocks_splice_into_one_stream() -> None:
    import bz2

    stream, size = generate.bzip2_zeros(3)
    assert bz2.decompress(stream) == bytes(size)
    assert len(stream) < 200

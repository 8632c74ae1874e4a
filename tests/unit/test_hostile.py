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
    "archive/symlink-create-system-3",
    "archive/duplicate-name",
    "archive/bomb-ratio",
    "archive/bomb-nested-wheel",
    "archive/encrypted",
    "archive/zip64-unneeded-but-consistent",
    "metadata/record-md5",
    "metadata/requires-dist-invalid",
    "elf/valid",
    "elf/no-section-headers-needed-unresolved",
    "elf/large-code-segment-over-dynamic",
    "elf/markup-needed",
    "macho/fat-valid",
    "pe/valid",
    "policy/valid",
    "policy/malformed",
    "output/input-is-directory",
    "output/repair-into-input-dir",
    "output/markup-member-names",
]

# case id -> why it fails today (where the fix goes).
FAILING = {
    "archive/name-nul":
        "archive.WheelArchive._validate checks ZipInfo.filename, which zipfile cuts at the "
        "NUL (orig_filename keeps it): the wheel passes",
    "archive/name-control-lf":
        "archive._checked_path accepts control characters and line separators in names",
    "archive/symlink-create-system-0":
        "archive.WheelArchive._validate tests S_ISLNK only when create_system == 3",
    "archive/file-and-directory":
        "archive.WheelArchive._validate never compares file paths with parent directories",
    "archive/overlap-size-runs-over-next":
        "archive.RawReader.read never checks that a member's data ends by Extent.end",
    "archive/prepended-data":
        "zipfile silently shifts every offset by the prepended bytes; WheelArchive accepts it",
    "archive/version-needed-too-high":
        "zipfile's NotImplementedError is not caught in archive.WheelArchive.__init__ "
        "(exit 70)",
    "archive/strong-encryption-flag":
        "archive.WheelArchive._validate refuses flag bit 0 only; bit 6 passes (zipfile, and so "
        "pip, cannot read the member)",
    "metadata/metadata-name-differs":
        "nothing compares METADATA Name/Version with the wheel's file name",
    "metadata/wheel-version-9":
        "scan._read_wheel_file only checks that Wheel-Version exists",
    "metadata/record-sha512":
        "checks/record.py reports every algorithm but sha256 as weak (the scan only hashes "
        "with sha256)",
    "metadata/record-no-size":
        "checks/record.py does not report a RECORD row without a size",
    "metadata/data-unknown-scheme":
        "nothing checks the scheme names under .data/",
    "elf/truncated-half":
        "rules.py: WG405 unreadable-binary is a warning, so a broken library passes the gate",
    "elf/verneed-self-loop":
        "elf._version_needs: pyelftools trusts sh_info (2^32-1) and vn_next = 0 revisits one "
        "entry forever",
    "elf/corrupt-shstrndx-needed-unresolved":
        "elf._parse is all-or-nothing: a section-table error throws away the PT_DYNAMIC facts "
        "(an unresolved NEEDED hides behind WG405)",
    "elf/garbage-section-headers-needed-unresolved":
        "elf.parse_elf does not catch pyelftools' OverflowError (exit 70)",
    "elf/markup-unbalanced-soname":
        "cli_show.execute prints the SONAME without rich.markup.escape (MarkupError, exit 70)",
    "elf/newline-needed":
        "report/text.py and cli_show print NEEDED names with their newlines (forged lines)",
    "elf/ansi-needed":
        "report/text.py and cli_show print NEEDED names with raw ESC bytes",
    "macho/unknown-cpu":
        "macho.parse_macho calls .value on the int lief returns for an unknown CPU (exit 70)",
    "policy/glob-reversed-range":
        "policy._globs catches ValueError; re.error from Glob.__post_init__ escapes (exit 70)",
    "policy/nested-arrays-10000":
        "policy.parse_policy catches TOMLDecodeError only; tomllib's RecursionError escapes "
        "(exit 70)",
    "policy/glob-pathological":
        "policy._glob_regex: '*' becomes '[^/]*', so Python's backtracking regex takes O(n^8)",
    "policy/long-line-spaces":
        "policy._Lines: _HEADER's lazy group and \\s* backtrack quadratically on a long line, "
        "before the TOML is even parsed",
    "policy/provider-not-a-requirement":
        "policy._parse_depend does not validate 'provider' as a distribution name; repair then "
        "raises InvalidRequirement (exit 70)",
    "output/under-regular-file":
        "fsutil.atomic_binary_output lets OSError from mkdir escape (exit 70)",
    "output/input-is-fifo":
        "scan.scan_wheel and WheelArchive open any existing path: zipfile blocks on a FIFO",
    "output/repair-two-inputs-one-name":
        "cli_repair.execute writes each input to OUTDIR/<file name>: the second replaces the "
        "first",
    "output/report-over-input":
        "cli_audit._emit writes -o over an input wheel",
    "output/dev-null":
        "fsutil.atomic_binary_output renames a temporary file over -o: /dev/null itself is "
        "replaced (as root) or the run fails (exit 70)",
    "output/markup-input-path":
        "cli_audit.expand_wheels treats '[' in an existing path as a glob",
    "output/newline-input-path":
        "cli_audit.execute prints the wheel path raw in its one-line error",
    "output/source-date-epoch-huge-int":
        "zipcopy.source_date_epoch passes the value to time.gmtime unclipped (OverflowError, "
        "exit 70)",
}

HANGS = {"elf/verneed-self-loop", "policy/glob-pathological", "policy/long-line-spaces",
         "output/input-is-fifo"}
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

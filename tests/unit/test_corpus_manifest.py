"""The corpus manifest (tests/corpus/corpus.toml) is internally consistent, checked offline.

Studies and benchmarks trust each entry's os and category to pick wheels, and the fetch tool
trusts its size and digest, so a hand edit that breaks one of them must fail here, not in a
benchmark hours later. Whether the facts match the registry is ``fetch.py --check-registry``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from corpus.fetch import CATEGORIES, Entry, load_corpus, select
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename

CORPUS = load_corpus()
ENTRIES = list(CORPUS.values())


def _oses(tags: frozenset[Tag]) -> set[str]:
    """Where a wheel's platform tags say it runs; "any" for a pure wheel."""
    found = set()
    for tag in tags:
        platform = tag.platform
        if platform == "any":
            found.add("any")
        elif platform.startswith(("manylinux", "musllinux", "linux")):
            found.add("linux")
        elif platform.startswith("macosx"):
            found.add("macos")
        elif platform.startswith("win"):
            found.add("windows")
        else:
            found.add(platform)
    return found


def test_the_corpus_is_large_and_mixed() -> None:
    assert len(ENTRIES) >= 42
    assert {e.category for e in ENTRIES} == set(CATEGORIES)
    assert sum(e.os == "macos" for e in ENTRIES) >= 8
    assert sum(e.os == "windows" for e in ENTRIES) >= 6
    assert any("universal2" in e.filename for e in ENTRIES)
    assert any("win_arm64" in e.filename for e in ENTRIES)
    assert sum(e.size for e in ENTRIES) < 8 * 10**9, "the corpus must stay downloadable"


def test_keys_and_files_are_unique() -> None:
    assert len({e.key for e in ENTRIES}) == len(ENTRIES)
    assert len({e.filename for e in ENTRIES}) == len(ENTRIES)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9._-]*", e.key) for e in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.key for e in ENTRIES])
def test_entry_agrees_with_its_file_name(entry: Entry) -> None:
    name, version, _build, tags = parse_wheel_filename(entry.filename)
    assert name == canonicalize_name(entry.project)
    assert str(version) == entry.version
    oses = _oses(tags)
    if oses == {"any"}:
        # A pure wheel is listed under the one platform its project supports.
        assert entry.os == "linux", "a pure wheel needs a reason to be filed elsewhere"
    else:
        assert oses == {entry.os}
    assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256)
    assert entry.size > 0
    url = urlsplit(entry.url)
    assert (url.scheme, url.netloc) == ("https", "files.pythonhosted.org")
    assert url.path.startswith("/packages/")
    assert url.path.endswith("/" + entry.filename)
    assert entry.why.strip()
    assert "\n" not in entry.why


def test_cuda_entries_are_linux_or_windows_wheels() -> None:
    """CUDA has no macOS builds: an entry saying otherwise is a mislabelled row."""
    assert all(e.os != "macos" for e in ENTRIES if e.category == "cuda")


def test_select_filters_and_refuses_unknown_keys() -> None:
    small_linux = select(CORPUS, os="linux", max_size=1 << 20)
    assert small_linux
    assert all(e.os == "linux" and e.size <= 1 << 20 for e in small_linux)
    assert [e.key for e in select(CORPUS, ["numpy-linux"])] == ["numpy-linux"]
    with pytest.raises(KeyError, match="no-such-wheel"):
        select(CORPUS, ["numpy-linux", "no-such-wheel"])


def test_a_broken_manifest_is_refused_with_every_problem(tmp_path: Path) -> None:
    good = next(iter(ENTRIES))
    fields = "\n".join(
        f"{name} = {getattr(good, name)!r}".replace("'", '"') for name in
        ("key", "project", "version", "filename", "sha256", "url", "why")
    )
    manifest = tmp_path / "corpus.toml"
    manifest.write_text(
        f"[[wheel]]\n{fields}\nsize = {good.size}\nos = \"beos\"\ncategory = \"general\"\n"
        f"[[wheel]]\n{fields}\nsize = \"big\"\nos = \"linux\"\ncategory = \"general\"\n"
        f"[[wheel]]\n{fields}\nsize = 1\nos = \"linux\"\ncategory = \"general\"\n"
        f"[[wheel]]\n{fields}\nsize = 1\nos = \"linux\"\ncategory = \"general\"\n"
    )
    with pytest.raises(ValueError, match="beos") as refused:
        load_corpus(manifest)
    message = str(refused.value)
    assert "size must be an integer" in message
    assert "repeats an earlier entry" in message

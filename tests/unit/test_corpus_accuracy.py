"""The accuracy study in the suite: the corpus's recorded verdicts hold no false error, the
docs show what the records say, and a fast subset of the corpus (corpus.accuracy.SUITE) is
audited again whenever its wheels are in the cache. The whole corpus:
``python tests/corpus/accuracy.py`` (about two minutes)."""

from __future__ import annotations

import pytest
from corpus.accuracy import DOC, EXPECTED, SUITE, audit, compare, load_expected, table
from corpus.fetch import load_corpus, path_of

CORPUS = list(load_corpus())


def test_every_corpus_wheel_has_a_record_and_no_false_error() -> None:
    assert sorted(p.stem for p in EXPECTED.glob("*.toml")) == sorted(CORPUS)
    judged = [(key, e["check"], e["path"], e["verdict"])
              for key in CORPUS for e in load_expected(key).errors]
    assert not [j for j in judged if j[3] in ("false", "unclassified")]
    for key in CORPUS:
        exp = load_expected(key)
        assert exp.exit == (1 if exp.errors else 0), key
        assert all(e["evidence"] for e in exp.errors), key


def test_docs_show_the_recorded_table() -> None:
    assert table(CORPUS) in DOC.read_text(encoding="utf-8"), (
        "docs/accuracy.md is out of date: python tests/corpus/accuracy.py --table")


def _cached(key: str) -> bool:
    try:
        path_of(key)
    except FileNotFoundError:
        return False
    return True


@pytest.mark.parametrize("key", SUITE)
def test_audit_says_what_the_study_recorded(key: str) -> None:
    if not _cached(key):
        pytest.skip(f"{key} is not in the wheel cache: python tests/corpus/fetch.py --only {key}")
    assert compare(load_expected(key), audit(key)) == []

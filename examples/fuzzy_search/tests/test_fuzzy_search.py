"""search() gives rapidfuzz's top k: the k best by fuzz.ratio, ties in corpus order, over corpora
large enough for many chunks and both stages, and full of equal scores; and its checks."""

from __future__ import annotations

import asyncio
import random
from types import ModuleType

import numpy as np
import pytest
from corpus import product_titles
from rapidfuzz import fuzz, process

import gilfree


def reference(query: str, strings: list[str], k: int) -> list[tuple[int, float]]:
    """rapidfuzz's scores of every string, the best k by (-score, index)."""
    scores = process.cdist([query], strings, scorer=fuzz.ratio, dtype=np.float64)[0]
    order = np.lexsort((np.arange(len(strings)), -scores))[:k]
    return [(int(i), float(scores[i])) for i in order]


@pytest.fixture(scope="module")
def titles() -> list[str]:
    return product_titles(60_000, seed=7)


QUERIES = [
    "",
    "m",
    "mug",
    "cafe press",
    "Nordhaus Steel Water Bottle",
    "Müller Naïve Café Mug Small, Pack of 2",
    "抹茶 Matcha Whisk 日本製",
    "Headphones 🎧 Black",
    "Fjällräv Minimalist Cast Iron Kettle Slate Grey 12 oz - Édition Spéciale and more words",
    "x" * 256,
]


@pytest.mark.parametrize("k", [1, 10, 1000])
@pytest.mark.parametrize("query", QUERIES)
def test_the_top_k_of_product_titles_is_rapidfuzz_s(
    fuzzy: ModuleType, titles: list[str], query: str, k: int
) -> None:
    corpus = fuzzy.Corpus(titles)
    assert fuzzy.search(corpus, query, k) == reference(query, titles, k)


def test_ties_go_to_the_earlier_entry(fuzzy: ModuleType) -> None:
    # A few hundred distinct strings repeated over 40,000 entries: most scores are tied, within
    # chunks and across them.
    rng = random.Random(3)
    words = ["ab", "ba", "abc", "a", "", "b", "cab", "é", "🎧"]
    distinct = sorted({"".join(rng.choices(words, k=rng.randint(0, 4))) for _ in range(2000)})
    strings = rng.choices(distinct, k=40_000)
    corpus = fuzzy.Corpus(strings)
    for query in ["", "a", "ab", "abc", "abé🎧", "bbbbbbbb", "a" * 70]:
        for k in [1, 7, 10, 100, 1000]:
            assert fuzzy.search(corpus, query, k) == reference(query, strings, k), (query, k)


def test_a_corpus_of_one_string_repeated(fuzzy: ModuleType) -> None:
    corpus = fuzzy.Corpus(["same title"] * 100_000)
    assert fuzzy.search(corpus, "same title", 3) == [(0, 100.0), (1, 100.0), (2, 100.0)]
    score = fuzz.ratio("other", "same title")
    assert fuzzy.search(corpus, "other", 1000) == [(i, score) for i in range(1000)]


def test_k_beyond_the_corpus_gives_all_of_it(fuzzy: ModuleType) -> None:
    strings = ["kettle", "", "kettles", "mug", "kettle"]
    assert fuzzy.search(fuzzy.Corpus(strings), "kettle", 10) == reference("kettle", strings, 10)
    assert fuzzy.search(fuzzy.Corpus([]), "kettle", 10) == []
    assert fuzzy.search(fuzzy.Corpus([""]), "", 1) == [(0, 100.0)]


def test_awaited_it_answers_the_same(fuzzy: ModuleType, titles: list[str]) -> None:
    corpus = fuzzy.Corpus(titles)
    expected = fuzzy.search(corpus, "cafe press", 10)
    assert asyncio.run(gilfree.aio.run(fuzzy.search, corpus, "cafe press", 10)) == expected


def test_k_and_the_query_length_are_checked(fuzzy: ModuleType) -> None:
    corpus = fuzzy.Corpus(["a", "b"])
    assert (fuzzy.MAX_K, fuzzy.MAX_QUERY_LENGTH) == (1000, 256)
    for k in [0, -1, 1001]:
        with pytest.raises(gilfree.InvalidInput, match=f"k must be between 1 and 1000, got {k}"):
            fuzzy.search(corpus, "a", k)
    with pytest.raises(gilfree.InvalidInput, match="257 characters long, at most 256"):
        fuzzy.search(corpus, "é" * 257, 1)
    with pytest.raises(gilfree.InvalidInput, match="at most 256"):
        fuzzy.search(corpus, "a" * 10_000_000, 1)
    assert fuzzy.search(corpus, "🎧" * 256, 1) == [(0, 0.0)]
    with pytest.raises(TypeError):
        fuzzy.search(corpus, b"a", 1)


def test_the_corpus_keeps_its_strings(fuzzy: ModuleType) -> None:
    strings = ["plain", "", "café", "Œuvre — €5", "抹茶", "🎧 headphones", "\ud800 lone", "\xff"]
    corpus = fuzzy.Corpus(iter(strings))  # any iterable
    assert len(corpus) == len(strings)
    assert [corpus[i] for i in range(len(corpus))] == strings
    assert corpus[-1] == strings[-1]
    with pytest.raises(IndexError):
        corpus[len(strings)]
    with pytest.raises(IndexError):
        corpus[-len(strings) - 1]
    assert corpus.nbytes >= sum(len(s) for s in strings)


def test_a_corpus_takes_only_strings(fuzzy: ModuleType) -> None:
    with pytest.raises(TypeError, match="corpus entry 1 is bytes, not str"):
        fuzzy.Corpus(["a", b"b"])
    with pytest.raises(TypeError):
        fuzzy.Corpus(42)

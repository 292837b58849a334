"""Every score is rapidfuzz's fuzz.ratio to the bit: compared with ``==`` on floats, over random
strings of every width of code point, queries long enough to need two, three and four words."""

from __future__ import annotations

import random
from types import ModuleType

from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

ALPHABETS = {
    "binary": "ab",
    "ascii": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ 0123456789-,.",
    "latin1": "aeiouéèêëüßÿçÀ\xa0\xff ",
    "bmp": "aeΩλŒœłŁ€—\u0100\uffff ",
    "combining": "aeo\u0301\u0308\u0327\u20dd",
    "cjk": "抹茶弁当日本製桜の ",
    "astral": "a🎧🌱✨☔😀\U00010000\U0010ffff",
    "surrogates": "ab\ud800\udbff\udc00\udfff",
}
ALPHABETS["everything"] = "".join(ALPHABETS.values())
# The lengths where the state gains a word, and the longest query.
EDGES = (0, 1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256)


def random_text(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choices(alphabet, k=length))


def scores_of(fuzzy: ModuleType, query: str, strings: list[str]) -> list[float]:
    hits = fuzzy.search(fuzzy.Corpus(strings), query, len(strings))
    assert sorted(index for index, _ in hits) == list(range(len(strings)))
    scores = dict(hits)
    return [scores[i] for i in range(len(strings))]


def test_thousands_of_random_pairs_score_as_rapidfuzz(fuzzy: ModuleType) -> None:
    rng = random.Random(1234)
    pairs = 0
    for name, alphabet in ALPHABETS.items():
        # Every length where the state gains a word, then 30 more up to 150; each with a narrow
        # alphabet (long common subsequences) and the whole one (short ones).
        lengths = [*EDGES, *(rng.randint(0, 150) for _ in range(30))]
        for query_length in lengths:
            for letters in ("".join(rng.sample(alphabet, min(3, len(alphabet)))), alphabet):
                query = random_text(rng, letters, query_length)
                strings = [random_text(rng, letters, rng.randint(0, 150)) for _ in range(20)]
                strings += [query, query[: len(query) // 2], query[::-1], ""]
                expected = [fuzz.ratio(query, s) for s in strings]
                assert scores_of(fuzzy, query, strings) == expected, (name, query)
                pairs += len(strings)
    assert pairs > 15_000


def test_empty_strings_score_as_rapidfuzz(fuzzy: ModuleType) -> None:
    assert scores_of(fuzzy, "", ["", "a", "🎧"]) == [100.0, 0.0, 0.0]
    assert scores_of(fuzzy, "a", ["", "a", "b"]) == [0.0, 100.0, 0.0]
    assert scores_of(fuzzy, "🎧", ["", "🎧", "🎧🎧"]) == [0.0, 100.0, fuzz.ratio("🎧", "🎧🎧")]


def test_a_query_of_256_distinct_characters_beyond_latin1(fuzzy: ModuleType) -> None:
    # Every query position in the hash table of code points above 255, at its fullest.
    query = "".join(chr(0x4E00 + 7 * i) for i in range(256))
    rng = random.Random(5)
    strings = [random_text(rng, query + "abc", rng.randint(0, 300)) for _ in range(200)]
    strings += [query, query[::2], query[::-1]]
    assert scores_of(fuzzy, query, strings) == [fuzz.ratio(query, s) for s in strings]


def test_long_entries_score_as_rapidfuzz(fuzzy: ModuleType) -> None:
    # The longest read in slices (it looks whether the job was stopped in between).
    rng = random.Random(9)
    query = random_text(rng, "abcdé🎧", 100)
    lengths = (1000, 5000, 70_000, 600_000)
    strings = [
        random_text(rng, alphabet, length) for length in lengths for alphabet in ("ab", "é🎧")
    ]
    assert scores_of(fuzzy, query, strings) == [fuzz.ratio(query, s) for s in strings]


@settings(max_examples=300, deadline=None)
@given(
    query=st.text(max_size=150),
    strings=st.lists(st.text(max_size=150), min_size=1, max_size=8),
)
def test_any_strings_score_as_rapidfuzz(fuzzy: ModuleType, query: str, strings: list[str]) -> None:
    assert scores_of(fuzzy, query, strings) == [fuzz.ratio(query, s) for s in strings]

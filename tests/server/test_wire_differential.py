"""Differential tests of POST /process-numbers against a plain FastAPI app (docs/semantics.md,
section 2).

Every body is sent to gilfree's app and to a plain FastAPI endpoint whose body model is
``numbers: list[int]`` and which answers with the pure-Python reference kernel. The answers must be
the same bytes, with the contract's deliberate differences:

- an integer beyond int64 (as sent, or coerced: ``"9223372036854775808"``, ``9.3e18``) is a 422
  naming its index in gilfree, where the plain app answers 200 (or 422 for the other elements);
- where the plain app cannot render its own 422 (NaN, Infinity, a lone surrogate or nesting too
  deep in the refused input) it answers 500; gilfree answers the 422 with the same errors.

The canonical bodies must be answered by the native path and every other body by FastAPI's own
handler: spies on ``gilfree.wire``'s parser and writer say which one answered.
"""

from __future__ import annotations

import json
import random
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from bench.peers.original import NumbersRequest
from gilfree import INT64_MAX, INT64_MIN, aio, reference, wire

ITERATIONS = 3
JSON_TYPE = "application/json"
RANGE_TYPES = {"less_than_equal": ("le", INT64_MAX), "greater_than_equal": ("ge", INT64_MIN)}


# ---------------------------------------------------------------------------------------------
# Which path answered. The native path is the one whose request (its job from
# `gilfree.wire.submit_numbers_request`, answered at once or on the pool) comes back "ok"; FastAPI's
# handler writes its own answer.


@dataclass
class PathSpy:
    outcomes: list[str] = field(default_factory=list)  # of each native request

    def reset(self) -> None:
        self.outcomes.clear()

    @property
    def native(self) -> bool:
        return self.outcomes == ["ok"]


@pytest.fixture(scope="module")
def spy() -> Iterator[PathSpy]:
    record = PathSpy()
    submit = wire.submit_numbers_request

    class Recorded:
        """The native path's job, recording its request's outcome once awaited."""

        def __init__(self, job: aio.Job) -> None:
            self.job = job

        def __getattr__(self, name: str) -> Any:
            return getattr(self.job, name)

        def __await__(self) -> Generator[Any, None, Any]:
            request = yield from self.job.__await__()
            record.outcomes.append(request.outcome.name.lower())
            return request

    def submit_spy(*args: Any, **kwargs: Any) -> Recorded:
        return Recorded(submit(*args, **kwargs))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wire, "submit_numbers_request", submit_spy)
        yield record


# ---------------------------------------------------------------------------------------------
# The comparison


def _loads(body: bytes) -> Any:
    """The body as Starlette's ``Request.json()`` reads it; ``ValueError`` where it cannot."""
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise ValueError("too deep") from exc


_INT = TypeAdapter(int)  # pydantic's lax int, as `list[int]` applies it to each element
_PLAIN = TypeAdapter(NumbersRequest)


def beyond_int64(body: bytes) -> dict[int, tuple[Any, int]]:
    """index -> (element, its int), for the elements the plain model takes as ints outside
    int64."""
    try:
        payload = _loads(body)
    except ValueError:
        return {}
    if not isinstance(payload, dict) or not isinstance(payload.get("numbers"), list):
        return {}
    beyond = {}
    for index, element in enumerate(payload["numbers"]):
        try:
            value = _INT.validate_python(element)
        except ValidationError:
            continue
        if not INT64_MIN <= value <= INT64_MAX:
            beyond[index] = (element, value)
    return beyond


def plain_errors(body: bytes) -> list[tuple[str, list[Any]]]:
    """(type, loc) of the errors the plain model reports for a body it cannot render."""
    try:
        # FastAPI validates a body model from attributes too (`model_attributes_type`)
        _PLAIN.validate_python(_loads(body), from_attributes=True)
    except ValidationError as exc:
        return [(error["type"], ["body", *error["loc"]]) for error in exc.errors()]
    raise AssertionError(f"the plain model accepts {body[:80]!r}")


def _same_value(got: Any, sent: Any) -> bool:
    if isinstance(sent, float) and sent != sent:  # NaN, rendered JSON-safely as "NaN"
        return got == "NaN"
    return bool(got == sent and type(got) is type(sent))


def compare(body: bytes, got: Response, expected: Response) -> str:
    """Asserts that gilfree's answer ``got`` is the plain app's ``expected`` up to the contract's
    differences; returns which difference applied ("same", "int64", "unrenderable")."""
    assert got.status_code != 500, got.text
    beyond = beyond_int64(body)
    if not beyond and expected.status_code != 500:
        assert (got.status_code, got.headers["content-type"], got.content) == (
            expected.status_code,
            expected.headers["content-type"],
            expected.content,
        )
        return "same"
    assert got.status_code == 422, got.text
    assert got.headers["content-type"] == JSON_TYPE
    detail = got.json()["detail"]
    ranged = [
        error
        for error in detail
        if error["type"] in RANGE_TYPES
        and len(error["loc"]) == 3
        and error["loc"][:2] == ["body", "numbers"]
        and error["loc"][2] in beyond
    ]
    assert [error["loc"][2] for error in ranged] == sorted(beyond)
    for error in ranged:
        element, value = beyond[error["loc"][2]]
        assert error["type"] == ("less_than_equal" if value > INT64_MAX else "greater_than_equal")
        key, bound = RANGE_TYPES[error["type"]]
        assert error["ctx"] == {key: bound}
        assert _same_value(error["input"], element), error
    rest = [error for error in detail if error not in ranged]
    if expected.status_code == 422:
        assert rest == expected.json()["detail"]
    elif expected.status_code == 200:
        assert rest == []
    else:
        assert expected.status_code == 500, expected.text
        assert [(error["type"], error["loc"]) for error in rest] == plain_errors(body)
        for error in rest:
            assert set(error) >= {"type", "loc", "msg", "input"}
    return "int64" if beyond else "unrenderable"


def post(client: TestClient, body: bytes, content_type: str, iterations: str) -> Response:
    return client.post(
        f"/process-numbers?iterations={iterations}",
        content=body,
        headers={"content-type": content_type},
    )


# ---------------------------------------------------------------------------------------------
# The bodies


@dataclass(frozen=True)
class Case:
    family: str
    body: bytes
    # True: the native path must answer it; False: FastAPI's handler must; None: either.
    native: bool | None = False
    content_type: str = JSON_TYPE


EDGES = [
    0,
    1,
    -1,
    -2,
    INT64_MAX,
    INT64_MIN,
    INT64_MAX - 1,
    INT64_MIN + 1,
    999_999_999_999_999_999,
    1_000_000_000_000_000_000,
    -999_999_999_999_999_999,
    -1_000_000_000_000_000_000,
    1_000_000_006,
    -1_000_000_007,
]
BEYOND = [
    INT64_MAX + 1,
    INT64_MIN - 1,
    2**64 - 1,
    2**64,
    -(2**64),
    10**19,
    -(10**19),
    99_999_999_999_999_999_999,
    10**30,
    -(10**30),
    2**200,
]
# Extra keys the canonical form skips: integer, true, false, null, plain string.
SKIPPABLE = [
    ("a", "1"),
    ("flag", "true"),
    ("off", "false"),
    ("nothing", "null"),
    ("name", '"plain text"'),
    ("neg", "-5"),
    ("", '""'),
    ("big", str(INT64_MIN)),
]
WHITESPACE = ["", " ", "\n", "\t", "\r\n", "  \n\t "]


def _obj(items: list[tuple[str, str]], ws: str = "") -> str:
    """A JSON object of raw key/value texts, ``ws`` around every token."""
    members = f"{ws},{ws}".join(f'"{key}"{ws}:{ws}{value}' for key, value in items)
    return f"{ws}{{{ws}{members}{ws}}}{ws}"


def _arr(values: list[Any], ws: str = "") -> str:
    return f"[{ws}" + f"{ws},{ws}".join(str(v) for v in values) + f"{ws}]"


def _numbers(raw: str) -> bytes:
    return f'{{"numbers": {raw}}}'.encode()


def _canonical() -> list[Case]:
    rng = random.Random(20_240_611)
    lists: list[list[int]] = [[], [0], [1, 2, 3], [-2], [-0], EDGES]
    for _ in range(30):
        size = rng.randint(1, 20)
        wide = rng.random() < 0.5
        lists.append(
            [rng.randint(INT64_MIN, INT64_MAX) if wide else rng.randint(-1000, 1000)]
            + [rng.randint(INT64_MIN, INT64_MAX) for _ in range(size - 1)]
        )
    cases = [
        Case("canonical", _obj([("numbers", _arr(values))]).encode(), True) for values in lists
    ]
    for i, ws in enumerate(WHITESPACE):
        values = lists[6 + i]
        cases.append(
            Case("canonical-whitespace", _obj([("numbers", _arr(values, ws))], ws).encode(), True)
        )
    for i, (key, value) in enumerate(SKIPPABLE):
        numbers = ("numbers", _arr(lists[12 + i]))
        ws = WHITESPACE[i % len(WHITESPACE)]
        for items in ([numbers, (key, value)], [(key, value), numbers]):
            cases.append(Case("canonical-extra-keys", _obj(items, ws).encode(), True))
    middle = [SKIPPABLE[0], ("numbers", _arr([5, -6, 7])), *SKIPPABLE[1:]]
    cases.append(Case("canonical-extra-keys", _obj(middle, " ").encode(), True))
    cases += [
        Case("canonical-edges", _obj([("numbers", _arr([edge]))]).encode(), True) for edge in EDGES
    ]
    cases += _sized(rng)
    cases += [
        Case("canonical-content-type", b'{"numbers":[1,2]}', True, content_type)
        for content_type in (
            "application/json; charset=utf-8",
            "Application/JSON",
            "application/json;charset=UTF-8",
        )
    ]
    return cases


# Bodies about 16 KiB long, whose answers are written in parallel chunks of at most 2048 values at
# this test's iterations: values on both sides of a chunk (small ones run at once on the loop's
# thread, the others as a native job).
_INLINE_BYTES = 16 * 1024
_INLINE_VALUES = 2048


def _padded(values: list[Any], size: int) -> bytes:
    body = _obj([("numbers", _arr(values))]).encode()
    assert len(body) <= size
    return body + b" " * (size - len(body))


def _sized(rng: random.Random) -> list[Case]:
    wide = [rng.randint(INT64_MIN, INT64_MAX) for _ in range(_INLINE_VALUES + 1)]
    return [
        Case("canonical-sized", _padded([1] * _INLINE_VALUES, _INLINE_BYTES), True),
        Case("canonical-sized", _padded([-1] * (_INLINE_VALUES + 1), _INLINE_BYTES + 1), True),
        Case("canonical-sized", _padded([7] * (_INLINE_VALUES + 1), _INLINE_BYTES), True),
        Case("canonical-sized", _padded([0] * 10, _INLINE_BYTES + 1), True),
        Case("canonical-sized", _obj([("numbers", _arr(wide[:-1]))]).encode(), True),
        Case("canonical-sized", _obj([("numbers", _arr(wide))]).encode(), True),
    ]


def _sized_slow(rng: random.Random) -> list[Case]:
    wide = [rng.randint(INT64_MIN, INT64_MAX) for _ in range(3000)]
    return [
        Case("coercible-sized", _numbers(_arr([*wide, '"12"']))),
        Case("coercible-sized", _numbers(_arr(['"12"', *wide]))),
        Case("invalid-sized", _numbers(_arr([*wide, "1.5"]))),
        Case("huge-sized", _numbers(_arr([*wide, 2**63]))),
        Case("malformed-sized", _numbers(_arr(wide))[:-1]),
    ]


COERCIBLE_ELEMENTS = [
    '"12"',
    "1.0",
    "-0.0",
    "1e3",
    "1E2",
    "2.5e1",
    "100.0e-2",
    "true",
    "false",
    '" 7 "',
    '"-5"',
    '"+5"',
    '"1_000"',
    '"0"',
    '"-0"',
    '"007"',
    '"9223372036854775807"',
    '"-9223372036854775808"',
    "9.2e18",
    "-9.2e18",
    "1.0e0",
    '"\\u0031\\u0032"',
]


def _coercible() -> list[Case]:
    cases = [Case("coercible", _numbers(_arr([1, element, 3]))) for element in COERCIBLE_ELEMENTS]
    cases.append(Case("coercible", _numbers(_arr(COERCIBLE_ELEMENTS))))
    cases += _sized_slow(random.Random(5))
    # canonical numbers, but a body the native parser leaves to pydantic
    for raw in [
        '{"n\\u0075mbers": [1, 2]}',
        '{"numbers": [1, 2], "x": 1.5}',
        '{"numbers": [1, 2], "x": [1, 2]}',
        '{"numbers": [1, 2], "x": {"y": [1]}}',
        '{"numbers": [1, 2], "x": "esc\\"aped"}',
        '{"numbers": [1, 2], "x": "caf\u00e9"}',
        '{"numbers": [1, 2], "caf\u00e9": 1}',
        '{"numbers": [1, 2], "x": 1e400}',
        '{"numbers": [1, 2], "x": NaN}',
        '{"numbers": [1, 2], "x": 99999999999999999999}',
        '{"numbers": [1, 2], "x": -0.0}',
        '{"numbers": [1, 2], "x": "\\ud800"}',
        '{"numbers": [1, 2], "\\ud800": 1}',
        '{"numbers": [1, 2], "x": "\\ud83d\\ude00"}',
        '{"numbers": [1, 2], "x": "\\u0041"}',
        '{"numbers": [1, 2], "x": "tab\\there"}',
    ]:
        cases.append(Case("coercible-body", raw.encode()))
    cases.append(Case("coercible-body", b'\xef\xbb\xbf{"numbers": [1, 2]}'))
    cases.append(Case("coercible-body", '{"numbers": [1, 2]}'.encode("utf-16")))
    cases.append(Case("coercible-body", '{"numbers": [1, 2]}'.encode("utf-16-le")))
    cases.append(Case("coercible-body", '{"numbers": [1, 2]}'.encode("utf-32")))
    return cases


INVALID_ELEMENTS = [
    "1.5",
    "-1.5",
    "1e-3",
    "1.0000000001",
    '"abc"',
    '""',
    '" "',
    '"1.5"',
    '"1e3"',
    '"0x10"',
    '"NaN"',
    '"inf"',
    '"Infinity"',
    '"1 2"',
    '"\u0661\u0662"',
    "[1]",
    "[]",
    "{}",
    '{"a": 1}',
    "null",
    '"\\u0000"',
    '"caf\u00e9"',
]


def _invalid() -> list[Case]:
    cases = [
        Case("invalid-element", _numbers(_arr([1, element, 3]))) for element in INVALID_ELEMENTS
    ]
    cases.append(Case("invalid-element", _numbers(_arr(INVALID_ELEMENTS))))
    cases.append(Case("invalid-element", _numbers(_arr(['"a"'] * 100))))
    cases.append(Case("invalid-element", _numbers(_arr(["1.5", 1, '"x"', 2, "null"]))))
    for raw in [
        "{}",
        '{"number": [1]}',
        '{"Numbers": [1]}',
        '{"numbers ": [1]}',
        '{"numbers": "123"}',
        '{"numbers": "[1, 2]"}',
        '{"numbers": null}',
        '{"numbers": 1}',
        '{"numbers": true}',
        '{"numbers": {"0": 1}}',
        '{"numbers": {}}',
        "[]",
        "[1, 2, 3]",
        '[{"numbers": [1]}]',
        '"abc"',
        '""',
        "123",
        "1.5",
        "-0",
        "null",
        "true",
        "false",
    ]:
        cases.append(Case("invalid-shape", raw.encode()))
    return cases


def _malformed() -> list[Case]:
    valid = '{"numbers": [1, -22, 333]}'
    cases = [Case("malformed-truncated", valid[:n].encode()) for n in range(len(valid))]
    for raw in [
        '{"numbers": [1,]}',
        '{"numbers": [1, 2],}',
        '{"numbers": [,1]}',
        '{"numbers": [1,,2]}',
        "{'numbers': [1]}",
        "{\"numbers\": ['1']}",
        '{"numbers": [1]}x',
        '{"numbers": [1]}{}',
        '{"numbers": [1]} 1',
        '{"numbers": [1]}]',
        '{"numbers": [1]}\x00',
        '\x00{"numbers": [1]}',
        "   ",
        "\n\t\r ",
        '{"numbers": [01]}',
        '{"numbers": [-01]}',
        '{"numbers": [00]}',
        '{"numbers": [+1]}',
        '{"numbers": [.5]}',
        '{"numbers": [1.]}',
        '{"numbers": [1.e3]}',
        '{"numbers": [--1]}',
        '{"numbers": [- 1]}',
        '{"numbers": [-]}',
        '{"numbers": [0x10]}',
        '{"numbers": [1e]}',
        '{"numbers": [1 2]}',
        '{"numbers": [1] /* c */}',
        '{"numbers": [1]} // c',
        "{numbers: [1]}",
        '{"numbers" [1]}',
        '{"numbers": [1]',
        '"numbers": [1]}',
        '{"numbers": [nan]}',
        '{"numbers": [infinity]}',
        '{"numbers": [True]}',
        '{"numbers": [None]}',
        '{"numbers": ["a\nb"]}',
        '{"numbers": ["\\x41"]}',
        '{"numbers": ["\\u12"]}',
        '{"numbers": [1]\x0c}',
        '{"numbers":\x0b[1]}',
        '{"numbers": [1]}\u00a0',
        '{"numbers": [1, 2], "x": TRUE}',
    ]:
        cases.append(Case("malformed", raw.encode()))
    for raw_bytes in [
        b"",
        b"\xff\xfe",
        b'{"numbers": [1], "x": "\xff"}',
        b'{"numbers": ["\xc3"]}',
        b'{"numbers": [1]}\xef\xbb\xbf',
        b'\xef\xbb\xbf\xef\xbb\xbf{"numbers": [1]}',
    ]:
        cases.append(Case("malformed-bytes", raw_bytes))
    return cases


def _deep() -> list[Case]:
    cases = []
    for depth in (50, 500, 999, 1000, 5000):
        cases.append(Case("deep-array", ("[" * depth + "]" * depth).encode()))
        cases.append(Case("deep-numbers", _numbers("[" + "[" * depth + "]" * depth + "]")))
    for depth in (50, 5000):
        cases.append(Case("deep-object", ('{"a":' * depth + "1" + "}" * depth).encode()))
        nested = '{"a":' * depth + "1" + "}" * depth
        cases.append(Case("deep-extra-key", f'{{"numbers": [1], "x": {nested}}}'.encode()))
        cases.append(Case("deep-numbers-object", _numbers("[" + nested + "]")))
        cases.append(Case("deep-unclosed", ("[" * depth).encode()))
    return cases


def _unicode() -> list[Case]:
    cases = []
    for raw in [
        '{"\\u006eumbers": [1]}',
        '{"\\u006e\\u0075\\u006d\\u0062\\u0065\\u0072\\u0073": [1, "2"]}',
        '{"numbers": ["\\u0031"]}',
        '{"numbers": ["\\ud83d\\ude00"]}',
        '{"numbers": ["\\ud800"]}',
        '{"numbers": ["\\udfff"]}',
        '{"numbers": [1, "\\udc00\\ud800"]}',
        '{"\\ud800": [1]}',
        '{"\\ud800": 1, "numbers": [1]}',
        '"\\udfff"',
        '"\\ud800\\udc00"',
        '{"numbers": ["\u00e9"]}',
        '{"n\u00fcmbers": [1]}',
        '{"numbers": ["\U0001f600"]}',
        '{"numbers": [1], "\u043a\u043b\u044e\u0447": "\u0437\u043d\u0430\u0447"}',
        '{"numbers": ["\u0661"]}',
        '{"numbers": ["\uff11"]}',
    ]:
        cases.append(Case("unicode", raw.encode("utf-8", "surrogatepass")))
    cases.append(Case("unicode-bom", b'\xef\xbb\xbf{"numbers": ["x"]}'))
    cases.append(Case("unicode-bom", b"\xef\xbb\xbf[1]"))
    cases.append(Case("unicode-bom", b"\xef\xbb\xbf"))
    return cases


def _huge() -> list[Case]:
    cases = [Case("huge", _numbers(_arr([value]))) for value in BEYOND]
    cases.append(Case("huge", _numbers(_arr([1, INT64_MAX + 1, 2, INT64_MIN - 1, 3]))))
    cases.append(Case("huge", _numbers(_arr([2**63, '"x"', -(2**63) - 1, "1.5"]))))
    cases.append(Case("huge", _numbers(_arr([2**63, "NaN"]))))
    for digits in (20, 100, 4300, 4301, 5000):
        cases.append(Case("huge-digits", _numbers(_arr(["9" * digits]))))
    cases.append(Case("huge-digits", _numbers(_arr(["-" + "1" * 4300]))))
    for text in [
        '"9223372036854775808"',
        '"-9223372036854775809"',
        '"99999999999999999999"',
        "9223372036854775807.0",
        "9.3e18",
        "-9.3e18",
        "1e30",
        "1e19",
        "-1e19",
        "1.8446744073709552e19",
        "1e308",
        '"' + "9" * 5000 + '"',
    ]:
        cases.append(Case("huge-coerced", _numbers(_arr([0, text]))))
    return cases


def _zeros_and_non_finite() -> list[Case]:
    cases = [Case("negative-zero", b'{"numbers": [-0]}', True)]
    for text in ["-0.0", '"-0"', "-0e0", "0e0", "0.0", "-0.0e-0", "-0E+0"]:
        cases.append(Case("negative-zero", _numbers(_arr([text]))))
    for raw in [
        '{"numbers": [NaN]}',
        '{"numbers": [Infinity]}',
        '{"numbers": [-Infinity]}',
        '{"numbers": [1, NaN, 2, Infinity, -Infinity]}',
        '{"numbers": [1e400]}',
        '{"numbers": [-1e400]}',
        '{"numbers": [1.7976931348623157e308]}',
        '{"numbers": NaN}',
        '{"numbers": [[NaN]]}',
        '{"numbers": [{"x": Infinity}]}',
        '{"x": NaN}',
        "NaN",
        "-Infinity",
        "[NaN]",
    ]:
        cases.append(Case("non-finite", raw.encode()))
    return cases


def _duplicates() -> list[Case]:
    def twice(first: str, second: str) -> bytes:
        return f'{{"numbers": {first}, "numbers": {second}}}'.encode()

    cases = [
        Case("duplicate", twice("[1, 2]", "[3]"), True),
        Case("duplicate", twice("[]", "[7, 8]"), True),
        Case("duplicate", b'{"numbers": [1], "x": 1, "numbers": [2], "numbers": [3, 4]}', True),
    ]
    others = ["[1.5]", '["x"]', '["12"]', "[true]", "null", '"1"', "{}", "[[1]]", f"[{2**63}]"]
    for other in others:
        cases.append(Case("duplicate", twice("[1, 2]", other)))
        cases.append(Case("duplicate", twice(other, "[1, 2]")))
    return cases


def _distinct(cases: list[Case]) -> list[Case]:
    """The first case of each (body, content type): families overlap at their edges."""
    seen: set[tuple[bytes, str]] = set()
    distinct = []
    for case in cases:
        if (case.body, case.content_type) not in seen:
            seen.add((case.body, case.content_type))
            distinct.append(case)
    return distinct


CASES: list[Case] = _distinct(
    [
        *_canonical(),
        *_coercible(),
        *_invalid(),
        *_malformed(),
        *_deep(),
        *_unicode(),
        *_huge(),
        *_zeros_and_non_finite(),
        *_duplicates(),
    ]
)


def test_the_differential_covers_at_least_200_distinct_bodies() -> None:
    assert len({case.body for case in CASES}) >= 200
    assert sum(case.native is True for case in CASES) >= 50


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{i}-{case.family}-{case.body[:24]!r}" for i, case in enumerate(CASES)]
)
def test_gilfree_answers_as_plain_fastapi(
    client: TestClient, plain: TestClient, spy: PathSpy, case: Case
) -> None:
    spy.reset()
    got = post(client, case.body, case.content_type, str(ITERATIONS))
    answered_natively = spy.native
    declined = spy.outcomes == ["not_canonical"]
    expected = post(plain, case.body, case.content_type, str(ITERATIONS))
    compare(case.body, got, expected)
    if case.native is True:
        assert got.status_code == 200
        assert answered_natively, f"the native path did not answer it: {spy}"
    elif case.native is False:
        assert "ok" not in spy.outcomes, "a non-canonical body was answered by the native path"
        if case.family.startswith("coercible") and got.status_code == 200:
            # offered to the native parser, declined, and answered by FastAPI's handler
            assert declined, spy


def test_families_meet_their_expected_answers(client: TestClient) -> None:
    """Spot checks that the families are what their names say, independent of the plain app."""
    for case in CASES:
        status = post(client, case.body, case.content_type, "0").status_code
        if case.family.startswith(("canonical", "coercible")) or case.family == "duplicate":
            if case.native or case.family.startswith("coercible"):
                assert status == 200, case
        elif case.family.startswith(("malformed", "invalid", "deep-array", "non-finite")):
            assert status in (400, 422), case
        elif case.family == "huge":
            assert status == 422, case


def test_canonical_answers_echo_the_reference(client: TestClient) -> None:
    for case in CASES:
        if case.native is not True:
            continue
        payload = json.loads(case.body)
        response = post(client, case.body, case.content_type, "1")
        assert response.json() == {
            "original_count": len(payload["numbers"]),
            "processed_result": reference.process_numbers(payload["numbers"], 1),
        }


# ---------------------------------------------------------------------------------------------
# Hypothesis: random JSON biased toward the `numbers` shape, and raw mutations of it.

_INTS = st.one_of(
    st.integers(INT64_MIN, INT64_MAX),
    st.sampled_from(EDGES + BEYOND),
    st.integers(-(10**40), 10**40),
    st.integers(-1000, 1000),
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    _INTS,
    st.floats(),
    st.floats(-1e20, 1e20).map(float.__floor__).map(float),
    st.text(max_size=6),
    _INTS.map(str),
    st.sampled_from([" 7 ", "1_000", "+5", "0x10", "1e3", "NaN", "-0", "\ud800", "\u0661", "1.0"]),
)
_JSON = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=4), children, max_size=3),
    ),
    max_leaves=8,
)
_ELEMENTS = st.one_of(_INTS, _INTS, _INTS, _JSON)
_SKIPPABLE = st.one_of(st.none(), st.booleans(), _INTS, st.text(max_size=6))
_MUTATION_CHARS = [*',]}[{":-.e0159 \\\x00\tNa\u00e9', "\ud800", "1e400", "true"]


@st.composite
def request_bodies(draw: st.DrawFn) -> bytes:
    """A JSON body: mostly `{"numbers": [...]}` with extra keys, keys in any order and any
    formatting; sometimes another shape; sometimes mutated as text, or random bytes."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.binary(max_size=24))
    if draw(st.integers(0, 4)) == 0:
        payload: Any = draw(_JSON)
    else:
        numbers = st.one_of(st.lists(_INTS, max_size=8), st.lists(_ELEMENTS, max_size=8))
        extra = st.one_of(_SKIPPABLE, _JSON)
        items = [("numbers", draw(numbers))]
        items += draw(st.lists(st.tuples(st.text(max_size=4), extra), max_size=2))
        payload = dict(draw(st.permutations(items)))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",\n", " :\t"), ("\r\n,", ":")]))
    ensure_ascii = draw(st.booleans())
    text = json.dumps(payload, separators=separators, ensure_ascii=ensure_ascii)
    if isinstance(payload, dict) and draw(st.integers(0, 5)) == 0 and text.endswith("}"):
        again = json.dumps(draw(st.lists(_ELEMENTS, max_size=3)))
        text = text[:-1] + f', "numbers": {again}}}'
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        at = draw(st.integers(0, len(text)))
        operation = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "repeat"]))
        char = draw(st.sampled_from(_MUTATION_CHARS))
        if operation == "insert":
            text = text[:at] + char + text[at:]
        elif operation == "delete":
            text = text[:at] + text[at + 1 :]
        elif operation == "replace":
            text = text[:at] + char + text[at + 1 :]
        elif operation == "truncate":
            text = text[:at]
        else:
            text = text[:at] + text[at // 2 : at] + text[at:]
    return text.encode("utf-8", "surrogatepass")


@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=request_bodies(), iterations=st.sampled_from(["0", "1", "3", "03", "+1"]))
def test_random_bodies_answer_as_plain_fastapi(
    client: TestClient, plain: TestClient, body: bytes, iterations: str
) -> None:
    got = post(client, body, JSON_TYPE, iterations)
    expected = post(plain, body, JSON_TYPE, iterations)
    compare(body, got, expected)

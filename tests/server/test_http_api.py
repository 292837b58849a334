"""The HTTP API's answers to good requests: kernels, aliases, health, OpenAPI and offline docs."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import swagger_ui_bundle  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gilfree import INT64_MAX, INT64_MIN, reference

MakeClient = Callable[..., TestClient]  # the make_client fixture (conftest.py)

# docs/semantics.md section 1: input -> {iterations: output}.
VECTORS: dict[int, dict[int, int]] = {
    0: {0: 0, 1: 2, 2: 6, 1000: 376846411, 100000: 215447031},
    1: {0: 1, 1: 4, 2: 10, 1000: 65269614, 100000: 823170551},
    -1: {0: -1, 1: 0, 2: 2, 1000: 688423208, 100000: 607723518},
    -2: {0: -2, 1: -2, 2: -2, 1000: -2, 100000: -2},
    INT64_MAX: {0: INT64_MAX, 1: 0, 2: 2, 1000: 688423208, 100000: 607723518},
    INT64_MIN: {0: INT64_MIN, 1: 2, 2: 6, 1000: 376846411, 100000: 215447031},
    1000000006: {0: 1000000006, 1: 0, 2: 2, 1000: 688423208, 100000: 607723518},
    -1000000006: {
        0: -1000000006,
        1: -1000000003,
        2: -999999997,
        1000: -934730393,
        100000: -176829456,
    },
    -1000000007: {
        0: -1000000007,
        1: -1000000005,
        2: -1000000001,
        1000: -623153596,
        100000: -784552976,
    },
    -500000004: {
        0: -500000004,
        1: -1000000006,
        2: -1000000003,
        1000: -967365201,
        100000: -88414729,
    },
}
PROCESS_PATHS = ["/process-numbers", "/process-numbers-rust"]
SUM_PATHS = ["/sum-squares", "/sum-squares-rust"]


@pytest.mark.parametrize("path", PROCESS_PATHS)
@pytest.mark.parametrize("iterations", [0, 1, 2, 1000, 100000])
def test_process_numbers_matches_the_contract_vectors(
    client: TestClient, path: str, iterations: int
) -> None:
    inputs = list(VECTORS)
    response = client.post(path, params={"iterations": iterations}, json={"numbers": inputs})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "original_count": len(inputs),
        "processed_result": [VECTORS[x][iterations] for x in inputs],
    }


def test_process_numbers_small_example_and_default_iterations(client: TestClient) -> None:
    one = client.post("/process-numbers?iterations=1", json={"numbers": [0, 1, -1]})
    assert one.json() == {"original_count": 3, "processed_result": [2, 4, 0]}
    default = client.post("/process-numbers", json={"numbers": [0]})
    assert default.json() == {"original_count": 1, "processed_result": [376846411]}


def test_process_numbers_empty_and_repeated_inputs(client: TestClient) -> None:
    empty = client.post("/process-numbers", json={"numbers": []})
    assert empty.json() == {"original_count": 0, "processed_result": []}
    many = client.post("/process-numbers?iterations=2", json={"numbers": [-2, 0] * 5000})
    assert many.json() == {"original_count": 10000, "processed_result": [-2, 6] * 5000}


def test_default_iterations_are_capped_by_max_iterations(make_client: MakeClient) -> None:
    client = make_client(max_iterations=2)
    response = client.post("/process-numbers", json={"numbers": [0, 1]})
    assert response.json()["processed_result"] == [6, 10]
    schema = client.get("/openapi.json").json()
    params = schema["paths"]["/process-numbers"]["post"]["parameters"]
    iterations = next(p for p in params if p["name"] == "iterations")
    assert iterations["schema"]["default"] == 2
    assert iterations["schema"]["maximum"] == 2


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    numbers=st.lists(st.integers(INT64_MIN, INT64_MAX), max_size=50),
    iterations=st.integers(0, 40),
)
def test_process_numbers_agrees_with_the_reference(
    client: TestClient, numbers: list[int], iterations: int
) -> None:
    response = client.post(
        "/process-numbers", params={"iterations": iterations}, json={"numbers": numbers}
    )
    assert response.status_code == 200
    assert response.json() == {
        "original_count": len(numbers),
        "processed_result": reference.process_numbers(numbers, iterations),
    }


@pytest.mark.parametrize("path", SUM_PATHS)
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (5, 10, 125),
        (0, 0, 0),
        (-3, 4, 25),
        (INT64_MIN, INT64_MIN, 170141183460469231731687303715884105728),
        (INT64_MAX, INT64_MIN, INT64_MAX**2 + INT64_MIN**2),
        (INT64_MAX, INT64_MAX, 2 * INT64_MAX**2),
    ],
)
def test_sum_squares_is_exact(client: TestClient, path: str, a: int, b: int, expected: int) -> None:
    response = client.get(path, params={"a": a, "b": b})
    assert response.status_code == 200
    assert response.json() == {"a": a, "b": b, "sum_of_squares": expected}
    # An exact JSON integer: the digits themselves, no float exponent or rounding.
    assert f'"sum_of_squares":{expected}' in response.text.replace(" ", "")


@pytest.mark.parametrize("path", SUM_PATHS)
def test_sum_squares_defaults_are_5_and_10(client: TestClient, path: str) -> None:
    assert client.get(path).json() == {"a": 5, "b": 10, "sum_of_squares": 125}


def test_aliases_answer_exactly_as_the_originals(client: TestClient) -> None:
    body = {"numbers": [3, -7, INT64_MAX, "12", 1.0]}
    original = client.post("/process-numbers?iterations=17", json=body)
    alias = client.post("/process-numbers-rust?iterations=17", json=body)
    assert (alias.status_code, alias.content) == (original.status_code, original.content)
    bad = {"numbers": [1, "x"]}
    original = client.post("/process-numbers", json=bad)
    alias = client.post("/process-numbers-rust", json=bad)
    assert (alias.status_code, alias.json()) == (original.status_code, original.json())
    assert alias.status_code == 422
    for query in ("a=-4&b=9", "a=x"):
        original = client.get(f"/sum-squares?{query}")
        alias = client.get(f"/sum-squares-rust?{query}")
        assert (alias.status_code, alias.json()) == (original.status_code, original.json())


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_openapi_lists_the_paths_and_marks_the_aliases_deprecated(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path, method in [
        ("/process-numbers", "post"),
        ("/sum-squares", "get"),
        ("/healthz", "get"),
    ]:
        assert not paths[path][method].get("deprecated", False)
    assert paths["/process-numbers-rust"]["post"]["deprecated"] is True
    assert paths["/sum-squares-rust"]["get"]["deprecated"] is True
    operation = paths["/process-numbers"]["post"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/NumbersResponse"}
    assert {"413", "422", "503", "504"} <= set(operation["responses"])
    # sum-squares runs under the same deadline and admission: a tiny X-Request-Timeout may
    # get 504 (schemathesis found it undocumented once, on Python 3.13).
    for path in ("/sum-squares", "/sum-squares-rust"):
        assert set(paths[path]["get"]["responses"]) == {"200", "422", "503", "504"}
    numbers = schema["components"]["schemas"]["NumbersRequest"]["properties"]["numbers"]
    items = numbers["items"]
    assert (items["type"], items["format"]) == ("integer", "int64")
    # FastAPI alone writes them as floats, and 2.0**63 is one past INT64_MAX
    assert type(items["minimum"]) is int
    assert (items["minimum"], items["maximum"]) == (INT64_MIN, INT64_MAX)
    parameters = paths["/sum-squares"]["get"]["parameters"]
    for param in (p for p in parameters if p["in"] == "query"):
        assert (param["schema"]["minimum"], param["schema"]["maximum"]) == (INT64_MIN, INT64_MAX)
    # Every route on gilfree.fastapi's runner documents the deadline header.
    assert [p["name"] for p in parameters if p["in"] == "header"] == ["x-request-timeout"]
    assert "/docs" not in paths
    assert not any(path.startswith("/docs-static") for path in paths)


def test_docs_work_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert "url: '/openapi.json'" in page.text
    assert '"validatorUrl": null' in page.text  # Swagger UI would post the spec to swagger.io
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(url.endswith(".js") for url in assets)
    assert any(url.endswith(".css") for url in assets)
    for url in assets:
        assert url.startswith("/docs-static/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200
    assert "https://" not in redirect.text
    assert client.get("/redoc").status_code == 404


def test_bundled_swagger_ui_reads_the_openapi_version_served(client: TestClient) -> None:
    # Swagger UI before 5 cannot render OpenAPI 3.1 ("does not specify a valid version field").
    spec_version = client.get("/openapi.json").json()["openapi"]
    ui_version = re.fullmatch(
        r"swagger-ui-(\d+)\.(\d+)\.(\d+)", swagger_ui_bundle.swagger_ui_path.name
    )
    assert ui_version is not None, swagger_ui_bundle.swagger_ui_path
    if spec_version.startswith("3.1"):
        assert int(ui_version.group(1)) >= 5, (spec_version, swagger_ui_bundle.swagger_ui_path.name)

"""HTTP API stage and route selection (Developer Guide, "Routing API requests")."""

from __future__ import annotations

import pytest

from hyperplane_emu.services.apigateway.httproutes import HttpRouteTable, select_stage


def table(*keys: str) -> HttpRouteTable[str]:
    t: HttpRouteTable[str] = HttpRouteTable()
    for key in keys:
        if key == "$default":
            t.add("ANY", key, key)
        else:
            method, path = key.split(" ", 1)
            t.add(method, path, key)
    return t


def picked(t: HttpRouteTable[str], method: str, path: str) -> str | None:
    m = t.match(path, method)
    return None if m is None else m.value


def test_the_guides_example_table() -> None:
    # The Developer Guide's example API, request by request.
    t = table("GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default")
    assert picked(t, "GET", "/pets/dog/1") == "GET /pets/dog/{id}"
    assert picked(t, "GET", "/pets/cat/1") == "GET /pets/{proxy+}"
    assert picked(t, "POST", "/test/5") == "ANY /{proxy+}"
    assert picked(t, "GET", "/") == "$default"  # {proxy+} needs one segment or more


def test_exact_beats_param_beats_greedy_beats_default() -> None:
    t = table("GET /items/special", "GET /items/{id}", "ANY /items/{proxy+}", "$default")
    assert picked(t, "GET", "/items/special") == "GET /items/special"
    assert picked(t, "GET", "/items/42") == "GET /items/{id}"
    assert picked(t, "GET", "/items/42/parts") == "ANY /items/{proxy+}"
    assert picked(t, "GET", "/items") == "$default"
    assert picked(t, "GET", "/other") == "$default"
    m = t.match("/items/a%2Fb/c%20d", "GET")
    assert m is not None and m.raw_params == {"proxy": "a%2Fb/c%20d"}
    assert m.params == {"proxy": "a/b/c d"}


def test_a_named_method_beats_any_and_method_misses_fall_through() -> None:
    t = table("GET /items", "ANY /items", "ANY /{proxy+}")
    assert picked(t, "GET", "/items") == "GET /items"
    assert picked(t, "DELETE", "/items") == "ANY /items"
    t2 = table("GET /items", "ANY /{proxy+}")
    assert picked(t2, "POST", "/items") == "ANY /{proxy+}"
    t3 = table("GET /items")
    assert picked(t3, "POST", "/items") is None  # no $default route: 404
    assert picked(t3, "HEAD", "/items") is None  # HEAD is not derived from GET


def test_literals_compare_decoded_and_empty_segments_are_ignored() -> None:
    t = table("GET /a b/{id}")
    m = t.match("//a%20b//7/", "GET")
    assert m is not None and m.key == "GET /a b/{id}" and m.raw_params == {"id": "7"}


def test_order_of_definition_does_not_matter() -> None:
    keys = ["ANY /{proxy+}", "GET /a/{x}", "GET /a/b", "GET /a/{x}/c", "GET /{p}/b"]
    for rotation in range(len(keys)):
        t = table(*(keys[rotation:] + keys[:rotation]))
        assert picked(t, "GET", "/a/b") == "GET /a/b"
        assert picked(t, "GET", "/a/z") == "GET /a/{x}"
        assert picked(t, "GET", "/a/z/c") == "GET /a/{x}/c"
        assert picked(t, "GET", "/q/b") == "GET /{p}/b"
        assert picked(t, "GET", "/a/z/d") == "ANY /{proxy+}"


def test_bad_and_conflicting_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="last segment"):
        table("GET /{p+}/x")
    with pytest.raises(ValueError, match="conflicts"):
        table("GET /a/{id}", "GET /a/{oid}")
    table("GET /a/{id}", "POST /a/{oid}")  # different methods: fine
    with pytest.raises(ValueError, match="twice"):
        table("$default", "$default")
    with pytest.raises(ValueError, match="starts with /"):
        table("GET items")


def test_stage_selection() -> None:
    both = {"$default", "beta"}
    assert select_stage("/beta/items", both) == ("beta", "/items")
    assert select_stage("/beta", both) == ("beta", "/")
    assert select_stage("/items", both) == ("$default", "/items")
    assert select_stage("/", both) == ("$default", "/")
    assert select_stage("/$default/items", both) == ("$default", "/$default/items")
    assert select_stage("/Beta/items", both) == ("$default", "/Beta/items")  # case-sensitive
    assert select_stage("/items", {"beta"}) is None  # no $default stage: 404
    assert select_stage("/beta/x", {"beta"}) == ("beta", "/x")

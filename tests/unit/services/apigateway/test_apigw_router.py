"""API selection from Host / x-apigw-api-id, stage split, resource and method matching."""

from __future__ import annotations

import pytest

from hyperplane_emu.services.apigateway.router import (
    ResourceTree,
    host_pattern,
    segments,
    select_api,
    split_stage,
    split_target,
    strip_port,
)

RX = host_pattern("us-east-1")


@pytest.mark.parametrize(
    ("host", "header", "want"),
    [
        ("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", None, ("a1b2c3d4e5", None, "host")),
        ("A1B2C3D4E5.Execute-Api.US-EAST-1.amazonaws.com:443", None, ("a1b2c3d4e5", None, "host")),
        ("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com.", None, ("a1b2c3d4e5", None, "host")),
        (
            "a1b2c3d4e5-vpce-0abc123.execute-api.us-east-1.amazonaws.com",
            None,
            ("a1b2c3d4e5", "vpce-0abc123", "vpce-host"),
        ),
        (
            "vpce-0abc-xyz.execute-api.us-east-1.vpce.amazonaws.com",
            "a1b2c3d4e5",
            ("a1b2c3d4e5", None, "header"),
        ),
        ("10.255.0.10", " A1B2C3D4E5 ", ("a1b2c3d4e5", None, "header")),
        # The Host names an API: it wins over the header.
        ("a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "zzzz", ("a1b2c3d4e5", None, "host")),
        ("a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", None, None),
        ("vpce-0abc-xyz.execute-api.us-east-1.vpce.amazonaws.com", None, None),
        (None, None, None),
        ("", "", None),
    ],
)
def test_select_api(
    host: str | None, header: str | None, want: tuple[str, str | None, str] | None
) -> None:
    got = select_api(host, header, RX)
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert (got.api_id, got.vpce_in_host, got.via) == want


def test_strip_port() -> None:
    assert strip_port("Example.com:8443") == "example.com"
    assert strip_port("[::1]:443") == "[::1]"
    assert strip_port("host") == "host"


def test_split_target_and_stage() -> None:
    assert split_target("/prod/a?b=c&d") == ("/prod/a", "b=c&d")
    assert split_target("http://h.example/prod/x?q=1") == ("/prod/x", "q=1")
    assert split_target("http://h.example") == ("/", "")
    assert split_target("/prod/a#frag") == ("/prod/a", "")
    assert split_stage("/prod/orders/1") == ("prod", "/orders/1")
    assert split_stage("/prod") == ("prod", "/")
    assert split_stage("/prod/") == ("prod", "/")
    assert split_stage("/") == ("", "/")
    assert segments("/a//b/") == ["a", "b"]


def tree(*routes: str) -> ResourceTree[str]:
    t: ResourceTree[str] = ResourceTree()
    for r in routes:
        method, path = r.split(" ", 1)
        t.add(path, method, r)
    return t


def test_exact_beats_param_beats_greedy() -> None:
    t = tree("GET /orders/special", "GET /orders/{id}", "ANY /{proxy+}")
    m = t.match("/orders/special", "GET")
    assert m is not None and m.route == "GET /orders/special" and m.params == {}
    m = t.match("/orders/42", "GET")
    assert m is not None and m.route == "GET /orders/{id}" and m.params == {"id": "42"}
    m = t.match("/orders/42/lines", "GET")
    assert m is not None and m.route == "ANY /{proxy+}"
    assert m.params == {"proxy": "orders/42/lines"}
    # Literal subtree dead end: back off to the greedy resource at the root.
    m = t.match("/orders/special/x", "GET")
    assert m is not None and m.route == "ANY /{proxy+}"


def test_method_lookup_on_the_selected_resource_only() -> None:
    t = tree("GET /orders/{id}", "ANY /{proxy+}", "HEAD /h", "ANY /any")
    m = t.match("/orders/1", "POST")
    assert m is not None and m.resource == "/orders/{id}" and m.route is None
    m = t.match("/any", "DELETE")
    assert m is not None and m.route == "ANY /any"
    m = t.match("/h", "HEAD")
    assert m is not None and m.route == "HEAD /h"
    # HEAD is not derived from GET.
    t2 = tree("GET /x")
    m = t2.match("/x", "HEAD")
    assert m is not None and m.route is None


def test_resources_without_methods_do_not_match() -> None:
    t = tree("GET /orders/{id}")
    assert t.match("/orders", "GET") is None
    assert t.match("/", "GET") is None
    t = tree("GET /orders/{id}", "GET /{proxy+}")
    m = t.match("/orders", "GET")
    assert m is not None and m.route == "GET /{proxy+}"


def test_root_resource_and_slashes() -> None:
    t = tree("GET /", "GET /a/b")
    m = t.match("/", "GET")
    assert m is not None and m.route == "GET /" and m.resource == "/"
    for p in ("/a/b/", "//a//b"):
        m = t.match(p, "GET")
        assert m is not None and m.route == "GET /a/b", p


def test_greedy_needs_at_least_one_segment() -> None:
    t = tree("ANY /items/{proxy+}")
    assert t.match("/items", "GET") is None
    assert t.match("/items/", "GET") is None
    m = t.match("/items/a/b/c", "GET")
    assert m is not None and m.raw_params == {"proxy": "a/b/c"}


def test_params_decoded_for_display_raw_for_the_uri() -> None:
    t = tree("GET /files/{name}", "GET /lit/a b")
    m = t.match("/files/a%20b%2Fc", "GET")
    assert m is not None
    assert m.params == {"name": "a b/c"}
    assert m.raw_params == {"name": "a%20b%2Fc"}
    m = t.match("/lit/a%20b", "GET")  # literal segments compare decoded
    assert m is not None and m.route == "GET /lit/a b"


def test_param_values_do_not_leak_between_branches() -> None:
    t = tree("GET /{a}/x", "GET /{a}/{b}/y")
    m = t.match("/1/2/y", "GET")
    assert m is not None and m.params == {"a": "1", "b": "2"}
    t = tree("GET /{a}/x/z", "GET /p/{b}")
    m = t.match("/p/x", "GET")
    assert m is not None and m.route == "GET /p/{b}" and m.params == {"b": "x"}


@pytest.mark.parametrize(
    ("routes", "needle"),
    [
        (["GET /a/{id}", "GET /a/{oid}"], "only one variable"),
        (["GET /a/{id}", "GET /a/{p+}"], "only one variable"),
        (["GET /{p+}/x"], "last segment"),
        (["GET /a", "GET /a"], "defined twice"),
        (["GET /a{b}"], "bad path segment"),
    ],
)
def test_tree_rejects_what_api_gateway_rejects(routes: list[str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        tree(*routes)

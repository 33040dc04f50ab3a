"""Listener rules, sans-IO: wildcards, each condition kind, priority order, default action."""

from __future__ import annotations

import pytest

from hyperplane_emu.plan.model import PlanAlbAction as Action
from hyperplane_emu.plan.model import PlanAlbConditions as Conditions
from hyperplane_emu.plan.model import PlanAlbListener as Listener
from hyperplane_emu.plan.model import PlanAlbRule as Rule
from hyperplane_emu.plan.model import PlanFixedResponse as FixedResponse
from hyperplane_emu.services.alb.rules import Request, conditions_match, evaluate, glob

Headers = list[tuple[bytes, bytes]]


def req(
    path: str = "/", method: str = "GET", host: str | None = "shop.example.com", **headers: str
) -> Request:
    raw: Headers = [(b"Host", host.encode())] if host is not None else []
    raw += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    return Request.from_head(method.encode(), path.encode(), raw)


@pytest.mark.parametrize(
    ("pattern", "value", "ignore_case", "expected"),
    [
        ("/api/*", "/api/", False, True),
        ("/api/*", "/api/v1/orders", False, True),  # * crosses '/'
        ("/api/*", "/api", False, False),
        ("/api/*", "/API/x", False, False),  # paths are case-sensitive
        ("/img/?.png", "/img/a.png", False, True),
        ("/img/?.png", "/img/ab.png", False, False),
        ("/img/?.png", "/img/.png", False, False),
        ("*", "", False, True),
        ("/a.b", "/aXb", False, False),  # '.' is literal, not a regex dot
        ("/a+b", "/a+b", False, True),
        ("/$x", "/$x", False, True),
        ("*.example.com", "shop.example.com", True, True),
        ("*.example.com", "example.com", True, False),  # AWS: *.example.com is not example.com
        ("*.EXAMPLE.com", "Shop.example.COM", True, True),
        ("a*b*c", "aXXbYYc", False, True),
        ("a*b*c", "aXXcYYb", False, False),
        ("/line\nbreak", "/line\nbreak", False, True),
    ],
)
def test_glob(pattern: str, value: str, ignore_case: bool, expected: bool) -> None:
    assert bool(glob(pattern, ignore_case).fullmatch(value)) is expected


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/a/b?x=1", "/a/b"),  # query strings are not matched
        ("/a#frag", "/a"),
        ("http://h.example.com/a/b?q", "/a/b"),  # absolute-form
        ("http://h.example.com", "/"),
        ("", "/"),
        ("/%41", "/%41"),  # matched as written, not decoded
    ],
)
def test_request_path(target: str, path: str) -> None:
    assert req(target).path == path


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("shop.example.com", "shop.example.com"),
        ("shop.example.com:8080", "shop.example.com"),
        ("[::1]:80", "[::1]"),
        ("10.0.1.5:80", "10.0.1.5"),
    ],
)
def test_request_host_drops_the_port(host: str, expected: str) -> None:
    assert req(host=host).host == expected


def test_request_without_host() -> None:
    assert req(host=None).host is None
    assert not conditions_match(Conditions(host=("*",)), req(host=None))


def test_condition_kinds() -> None:
    c = Conditions(path=("/api/*", "/v2/*"))
    assert conditions_match(c, req("/v2/x")) and not conditions_match(c, req("/v3/x"))
    m = Conditions(http_method=("GET", "HEAD"))
    assert conditions_match(m, req(method="HEAD"))
    assert not conditions_match(m, req(method="get"))  # methods are case-sensitive
    assert not conditions_match(m, req(method="POST"))
    h = Conditions(host=("*.example.com",))
    assert conditions_match(h, req(host="API.Example.com:443"))
    assert not conditions_match(h, req(host="example.org"))


def test_header_condition() -> None:
    c = Conditions(http_header={"X-Env": ("prod", "stag*")})
    assert conditions_match(c, req(x_env="prod"))
    assert conditions_match(c, req(x_env="STAGING"))  # values are case-insensitive
    assert conditions_match(c, req(X_ENV="prod"))  # so are names
    assert not conditions_match(c, req(x_env="dev"))
    assert not conditions_match(c, req())  # absent header never matches
    many = Request.from_head(b"GET", b"/", [(b"x-env", b"dev"), (b"X-Env", b" prod ")])
    assert conditions_match(c, many)  # any line of the header


def test_all_kinds_must_match() -> None:
    c = Conditions(
        path=("/api/*",),
        host=("shop.*",),
        http_method=("POST",),
        http_header={"X-A": ("1",), "X-B": ("2",)},
    )
    good = req("/api/x", "POST", "shop.example.com", x_a="1", x_b="2")
    assert conditions_match(c, good)
    assert not conditions_match(c, req("/api/x", "POST", "shop.example.com", x_a="1"))
    assert not conditions_match(c, req("/api/x", "GET", "shop.example.com", x_a="1", x_b="2"))
    assert not conditions_match(c, req("/web/x", "POST", "shop.example.com", x_a="1", x_b="2"))
    assert not conditions_match(c, req("/api/x", "POST", "web.example.com", x_a="1", x_b="2"))


WEB, API, NOPE = (
    Action(forward="web"),
    Action(forward="api"),
    Action(fixed_response=FixedResponse(404)),
)


def listener(*rules: Rule) -> Listener:
    return Listener(80, NOPE, tuple(sorted(rules, key=lambda r: r.priority)))


def test_lowest_priority_wins_and_default_applies_last() -> None:
    li = listener(
        Rule(20, Conditions(path=("/api/*",)), WEB),
        Rule(10, Conditions(path=("/api/v2/*",)), API),
        Rule(30, Conditions(http_method=("GET",)), WEB),
    )
    assert evaluate(li, req("/api/v2/x")).action == API
    verdict = evaluate(li, req("/api/v1/x"))
    assert (verdict.action, verdict.priority, verdict.reason) == (WEB, 20, "rule 20")
    assert evaluate(li, req("/other")).priority == 30
    default = evaluate(li, req("/other", method="DELETE"))
    assert (default.action, default.priority, default.reason) == (NOPE, None, "default action")


def test_listener_without_rules() -> None:
    assert evaluate(listener(), req("/anything")).action == NOPE

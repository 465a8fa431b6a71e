import pytest
from tandem_gateway.domain.origins import normalize_origin, origin_allowed, same_origin

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://shop.example", "https://shop.example"),
        ("https://Shop.Example/", "https://shop.example"),
        ("https://shop.example:443", "https://shop.example"),
        ("http://shop.example:80", "http://shop.example"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://shop.example/path", None),
        ("shop.example", None),
        ("null", None),
        ("ftp://shop.example", None),
        ("https://shop.example:notaport", None),
    ],
)
def test_origins_are_normalised(value: str, expected: str | None) -> None:
    assert normalize_origin(value) == expected


def test_an_exact_origin_is_allowed() -> None:
    assert origin_allowed("https://shop.example", ["https://shop.example"])


def test_hand_written_variants_of_the_same_origin_match() -> None:
    assert origin_allowed("https://shop.example", ["HTTPS://shop.example:443/"])


@pytest.mark.parametrize(
    "origin",
    [
        "http://shop.example",  # other scheme
        "https://shop.example:8443",  # other port
        "https://evil.shop.example",  # subdomain
        "https://shop.example.evil.com",  # suffix trick
        "null",
    ],
)
def test_other_origins_are_refused(origin: str) -> None:
    assert not origin_allowed(origin, ["https://shop.example"])


def test_the_wildcard_allows_every_origin_even_null() -> None:
    assert origin_allowed("https://anything.example", ["*"])
    assert origin_allowed("null", ["https://shop.example", "*"])


def test_no_allowed_origins_refuses_every_browser() -> None:
    assert not origin_allowed("https://shop.example", [])


def test_same_origin_compares_against_the_gateways_own_host() -> None:
    assert same_origin("http://127.0.0.1:8000", scheme="http", host_header="127.0.0.1:8000")
    # A websocket's scope scheme is ws/wss; the page that opened it is http/https.
    assert same_origin("https://gw.example", scheme="wss", host_header="gw.example")
    assert not same_origin("https://evil.example", scheme="https", host_header="gw.example")
    assert not same_origin("http://gw.example", scheme="https", host_header="gw.example")

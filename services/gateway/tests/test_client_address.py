"""The client's address behind trusted proxies (and only those)."""

from __future__ import annotations

import pytest
from tandem_gateway.domain.client_address import TrustedProxies, client_address
from tandem_gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

INGRESS = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # Not a proxy: the peer is the client, whatever it claims.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # A trusted proxy: the address it appended.
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        # A client's forged entry sits left of what the proxy appended: ignored.
        ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
        # Two trusted hops: the first untrusted one from the right.
        ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),
        # Several header lines count in order.
        ("127.0.0.1", ["198.51.100.1", "10.1.2.3"], "198.51.100.1"),
        # Ports and brackets.
        ("127.0.0.1", ["198.51.100.1:4711"], "198.51.100.1"),
        ("127.0.0.1", ["[2001:db8::7]:443"], "2001:db8::7"),
        # Only trusted hops: the left-most.
        ("127.0.0.1", ["10.9.9.9, 10.1.1.1"], "10.9.9.9"),
        # No header: the proxy itself.
        ("127.0.0.1", [], "127.0.0.1"),
        # Garbage is never the client: the last trusted hop is kept.
        ("127.0.0.1", ["not-an-address"], "127.0.0.1"),
        ("127.0.0.1", ["198.51.100.1, <script>, 10.1.1.1"], "10.1.1.1"),
        (None, ["198.51.100.1"], None),
    ],
)
def test_client_address(peer: str | None, forwarded: list[str], client: str | None) -> None:
    assert client_address(peer, forwarded, INGRESS) == client


def test_trusting_everyone_takes_the_proxys_view() -> None:
    everyone = TrustedProxies.parse("*")
    assert everyone.trusts("203.0.113.9")
    assert client_address("203.0.113.9", ["198.51.100.1"], everyone) == "198.51.100.1"


def test_ipv4_mapped_peers_are_matched_as_ipv4() -> None:
    assert INGRESS.trusts("::ffff:127.0.0.1")
    assert not INGRESS.trusts("::1")
    assert not INGRESS.trusts("unix-socket")


def test_a_bad_trusted_proxy_setting_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="neither an IP address nor a network"):
        GatewaySettings(dev_mode=True, forwarded_allow_ips="127.0.0.1, ingress.local")
    assert GatewaySettings(dev_mode=True, forwarded_allow_ips="10.0.0.0/8").trusted_proxies()

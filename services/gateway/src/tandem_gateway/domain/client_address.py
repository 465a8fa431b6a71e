"""Who the client is when proxies stand in between.

The socket peer is the client unless it is one of the configured trusted proxies (the
ingress, a load balancer): only then is ``X-Forwarded-For`` believed, read from the right
(each proxy appends the address it saw), skipping trusted hops, and the first address
that is not a trusted proxy is the client. A client cannot forge its way past this: what
it writes into the header itself sits to the left of what the trusted proxies appended.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_address(value: str) -> _Address | None:
    """An address from a header item: ``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:80``, ``::1``."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        value = value[1:end] if end > 0 else value
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class TrustedProxies:
    """Addresses and networks whose ``X-Forwarded-*`` headers are believed; ``*`` trusts
    every peer (only where nothing but the ingress can reach the gateway)."""

    everyone: bool = False
    networks: tuple[_Network, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, spec: str | Iterable[str]) -> TrustedProxies:
        """From ``"127.0.0.1, 10.0.0.0/8"`` (or a list of such items); bad items refused."""
        items = spec.split(",") if isinstance(spec, str) else list(spec)
        networks: list[_Network] = []
        for raw in items:
            item = raw.strip()
            if not item:
                continue
            if item == "*":
                return cls(everyone=True)
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ValueError(f"{item!r} is neither an IP address nor a network") from exc
        return cls(networks=tuple(networks))

    def trusts(self, address: str | None) -> bool:
        if address is None:
            return False
        if self.everyone:
            return True
        parsed = _parse_address(address)
        if parsed is None:
            return False
        if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped
        return any(parsed in network for network in self.networks)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: TrustedProxies
) -> str | None:
    """The client's address: ``peer`` itself unless it is a trusted proxy; then the
    right-most ``X-Forwarded-For`` hop that is not a trusted proxy (every header line
    counts, in order). An item that is not an address ends the walk at the last trusted
    hop: garbage is never taken for a client."""
    if not trusted.trusts(peer):
        return peer
    hops = [item for line in forwarded_for for item in line.split(",") if item.strip()]
    client = peer
    for hop in reversed(hops):
        parsed = _parse_address(hop)
        if parsed is None:
            return client
        client = str(parsed)
        if not trusted.trusts(client):
            return client
    # Every hop was a trusted proxy: the left-most one is as close to the client as we get.
    return client

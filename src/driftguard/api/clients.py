"""Who is on the other end of the connection.

``X-Forwarded-For`` is believed only when the direct peer is a configured proxy: the client is
the right-most address in the header that is not itself a trusted proxy. Anyone can write the
header; only our own proxies' additions are facts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from pydantic import IPvAnyNetwork
from starlette.types import Scope

Networks = Sequence[IPvAnyNetwork]


def _trusted(address: str, networks: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(scope: Scope, trusted_proxies: Networks) -> str | None:
    """The client's address: the direct peer, or behind trusted proxies the right-most
    ``X-Forwarded-For`` hop that is not one of them."""
    peer = scope.get("client")
    address: str | None = peer[0] if peer else None
    if address is None or not trusted_proxies or not _trusted(address, trusted_proxies):
        return address
    forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
    hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return address  # garbage from outside our proxies: keep the proxy's address
    return hops[0] if hops else address

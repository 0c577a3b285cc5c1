from __future__ import annotations

from ipaddress import ip_network

from starlette.types import Scope

from driftguard.api.clients import client_address

PROXIES = [ip_network("10.0.0.0/24")]


def scope(peer: str, forwarded: str | None = None) -> Scope:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"type": "http", "client": (peer, 5000), "headers": headers}


def test_forwarded_addresses_count_only_from_trusted_proxies() -> None:
    # Straight from the internet: the header is the caller's own claim.
    assert client_address(scope("203.0.113.9", "198.51.100.1"), PROXIES) == "203.0.113.9"
    assert client_address(scope("203.0.113.9", "198.51.100.1"), []) == "203.0.113.9"
    # Through our proxy: the right-most address the proxy saw.
    assert client_address(scope("10.0.0.5", "198.51.100.1"), PROXIES) == "198.51.100.1"
    # A forged left part is ignored; our proxies' hops are skipped.
    spoofed = "1.2.3.4, 198.51.100.1, 10.0.0.6"
    assert client_address(scope("10.0.0.5", spoofed), PROXIES) == "198.51.100.1"
    assert client_address(scope("10.0.0.5", "junk"), PROXIES) == "10.0.0.5"
    assert client_address(scope("10.0.0.5"), PROXIES) == "10.0.0.5"
    assert client_address({"type": "http", "client": None, "headers": []}, PROXIES) is None

"""Where a webhook may point: a public address, unless private targets are allowed.

Checked when an endpoint is saved (literal addresses, in every form the system resolver reads
as one, and ``localhost``) and again when a delivery connects: the host name is resolved once,
every address it resolves to must be public, and the connection goes to one of those checked
addresses (see :mod:`driftguard.webhooks.pinning`), so a webhook cannot reach the server itself
or its internal network, not even through a DNS answer that changes between check and connect.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) -> the addresses it names, as getaddrinfo would answer; a fake in tests.
Resolver = Callable[[str, int], Sequence[str]]

# What inet_aton may read as an IPv4 address: decimal, octal (0177) or hex (0x7f) parts,
# one to four of them ("127.1", "2130706433", "0"). Anything else is a name.
_LEGACY_IPV4 = re.compile(r"[0-9]+|0x[0-9a-f]*", re.IGNORECASE)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class TargetRefusedError(Exception):
    pass


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` names without a DNS lookup, read as the system resolver reads it.

    ``ipaddress`` alone accepts only the canonical forms, while getaddrinfo (through inet_aton)
    also takes ``127.1``, ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and ``0``; they are
    all the same loopback or wildcard address to the socket that connects.
    """
    host = host.strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_LEGACY_IPV4.fullmatch(p) for p in parts):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None  # e.g. "08.0.0.1" (not octal) or a part too large: the resolver's name


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    # IPv6 forms that carry an IPv4 address the packet may end up at.
    found = [address.ipv4_mapped, address.sixtofour, address.teredo and address.teredo[1]]
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` (and any IPv4 address embedded in it) is a global unicast one."""
    addresses: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        addresses.extend(_embedded_ipv4(address))
    return all(a.is_global and not a.is_multicast for a in addresses)


def literal_problem(url: str) -> str | None:
    """Why ``url``'s host is refused without resolving it, or None."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "points at this machine (localhost)"
    address = literal_address(host)
    if address is None or is_public(address):
        return None
    return f"points at a non-public address ({address})"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address getaddrinfo gives for ``host`` (TCP)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def resolve_checked(
    host: str, port: int, *, allow_private: bool, resolve: Resolver = system_resolver
) -> list[IPAddress]:
    """The addresses to connect to for ``host``: resolved once, each one checked.

    Raises :class:`TargetRefusedError` if the host cannot be resolved or, unless
    ``allow_private``, if any address it resolves to is not public.
    """
    literal = literal_address(host)
    if literal is not None:
        addresses: list[IPAddress] = [literal]
    else:
        try:
            addresses = [ipaddress.ip_address(a) for a in resolve(host, port)]
        except (OSError, UnicodeError) as exc:
            raise TargetRefusedError(f"cannot resolve the host: {exc}") from exc
        if not addresses:
            raise TargetRefusedError("cannot resolve the host: no address")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise TargetRefusedError(f"the host resolves to a non-public address ({address})")
    return list(dict.fromkeys(addresses))  # the resolver's order, each address once

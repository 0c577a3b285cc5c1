"""Where a webhook may point: a public address, unless private targets are allowed.

Checked when an endpoint is saved (literal addresses and ``localhost``) and again before each
send (what the host name resolves to), so that a webhook cannot reach the server itself or its
internal network.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class TargetRefusedError(Exception):
    pass


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def literal_problem(url: str) -> str | None:
    """Why ``url``'s host is refused without resolving it, or None."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "points at this machine (localhost)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if _is_public(address) else f"points at a non-public address ({address})"


def check_resolved(url: str) -> None:
    """Raise :class:`TargetRefusedError` if any address the host resolves to is not public."""
    problem = literal_problem(url)
    if problem is not None:
        raise TargetRefusedError(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise TargetRefusedError(f"cannot resolve the host: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not _is_public(address):
            raise TargetRefusedError(f"the host resolves to a non-public address ({address})")

"""Which hosts a webhook may reach, read the way the system resolver reads them."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from driftguard.webhooks.targets import (
    TargetRefusedError,
    is_public,
    literal_address,
    literal_problem,
    resolve_checked,
)

LEGACY_LOOPBACK = ["2130706433", "0x7f000001", "127.1", "0177.0.0.1", "0x7f.1", "127.0.0.1."]


@pytest.mark.parametrize("host", LEGACY_LOOPBACK)
def test_legacy_ipv4_forms_are_the_address_the_resolver_connects_to(host: str) -> None:
    assert literal_address(host) == ipaddress.IPv4Address("127.0.0.1")
    # The same answer as the system resolver, which is what a socket would connect to.
    [info, *_] = socket.getaddrinfo(host.rstrip("."), 80, type=socket.SOCK_STREAM)
    assert info[4][0] == "127.0.0.1"


@pytest.mark.parametrize(
    ("host", "expected"),
    [("0", "0.0.0.0"), ("10.1", "10.0.0.1"), ("[::1]", "::1"), ("1.1.1.1", "1.1.1.1")],  # noqa: S104
)
def test_literal_addresses(host: str, expected: str) -> None:
    assert literal_address(host) == ipaddress.ip_address(expected)


@pytest.mark.parametrize(
    "host", ["hooks.example.com", "08.0.0.1", "1.2.3.4.5", "deadbeef", "0x", "127.0.0.1 x"]
)
def test_names_are_not_addresses(host: str) -> None:
    assert literal_address(host) is None


@pytest.mark.parametrize(
    "url",
    [f"http://{host}/x" for host in [*LEGACY_LOOPBACK, "0", "012.1", "0xa9fea9fe"]]
    + ["http://[::7f00:1]/x", "http://[2002:7f00:1::]/x", "http://[64:ff9b::a00:1]/x"],
)
def test_every_form_of_a_private_address_is_refused_without_resolving(url: str) -> None:
    assert literal_problem(url) is not None


@pytest.mark.parametrize(
    "address", ["1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1", "2002:101:101::"]
)
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


class FakeResolver:
    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        return self.answers.pop(0)


def test_every_address_a_name_resolves_to_must_be_public() -> None:
    resolve = FakeResolver(["1.1.1.1", "10.0.0.7"])
    with pytest.raises(TargetRefusedError, match=r"non-public address \(10\.0\.0\.7\)"):
        resolve_checked("hooks.example.com", 443, allow_private=False, resolve=resolve)


def test_resolved_once_in_the_resolvers_order() -> None:
    resolve = FakeResolver(["1.1.1.1", "1.0.0.1", "1.1.1.1"])
    addresses = resolve_checked("hooks.example.com", 443, allow_private=False, resolve=resolve)
    assert [str(a) for a in addresses] == ["1.1.1.1", "1.0.0.1"]
    assert resolve.asked == [("hooks.example.com", 443)]


def test_a_literal_host_is_not_looked_up() -> None:
    resolve = FakeResolver()
    with pytest.raises(TargetRefusedError, match=r"127\.0\.0\.1"):
        resolve_checked("2130706433", 80, allow_private=False, resolve=resolve)
    assert resolve.asked == []


def test_an_unresolvable_host_is_refused() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(TargetRefusedError, match="cannot resolve"):
        resolve_checked("nowhere.invalid", 443, allow_private=True, resolve=fail)

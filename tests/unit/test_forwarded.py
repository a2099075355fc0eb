"""The client's address behind trusted proxies: only the proxy's own entries are believed."""

from __future__ import annotations

from nodechat.server.forwarded import FORWARDED, X_FORWARDED_FOR, client_address

PROXIES = frozenset({"127.0.0.1", "10.0.0.2"})


def test_an_untrusted_peer_is_its_own_address_whatever_it_claims() -> None:
    assert client_address("198.51.100.1", PROXIES, X_FORWARDED_FOR, ["203.0.113.9"]) == (
        "198.51.100.1"
    )


def test_the_nearest_untrusted_entry_from_the_right_is_the_client() -> None:
    # the client claimed 1.2.3.4 itself; nginx appended what it saw; a second proxy too
    values = ["1.2.3.4, 203.0.113.9", "10.0.0.2"]
    assert client_address("127.0.0.1", PROXIES, X_FORWARDED_FOR, values) == "203.0.113.9"


def test_no_header_or_only_proxies_named() -> None:
    assert client_address("127.0.0.1", PROXIES, X_FORWARDED_FOR, []) == "127.0.0.1"
    assert client_address("127.0.0.1", PROXIES, X_FORWARDED_FOR, ["10.0.0.2"]) == "10.0.0.2"


def test_rfc7239_forwarded_nodes_lose_quotes_brackets_and_ports() -> None:
    values = ['for=1.2.3.4;proto=https, for="[2001:db8::17]:4711";by=10.0.0.2']
    assert client_address("127.0.0.1", PROXIES, FORWARDED, values) == "2001:db8::17"
    values = ["for=192.0.2.60:4711;proto=http"]
    assert client_address("127.0.0.1", PROXIES, FORWARDED, values) == "192.0.2.60"

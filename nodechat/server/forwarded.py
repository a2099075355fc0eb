"""The client's address behind trusted reverse proxies (nginx, a load balancer).

A proxy's connection comes from the proxy, so every client would share its
address and its rate limits (20 failed logins from "127.0.0.1" would block
everyone behind it). A peer listed in ``trusted_proxies`` is believed about
the client it forwards: the address is the nearest one, reading the header
from the right, that is not itself a trusted proxy. Only one header is read
(``X-Forwarded-For`` by default, or RFC 7239 ``Forwarded``), the one the
proxy appends to: a client can send either header itself, so the entries
left of the proxy's own are the client's word and never believed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

X_FORWARDED_FOR = "x-forwarded-for"
FORWARDED = "forwarded"
HEADERS = (X_FORWARDED_FOR, FORWARDED)


def client_address(
    peer: str, trusted_proxies: Collection[str], header: str, values: Sequence[str]
) -> str:
    """The client's address: ``peer``, or behind trusted proxies the address they name.

    ``values`` are the request's values of ``header`` (every occurrence, in order).
    """
    if peer not in trusted_proxies or not values:
        return peer
    chain = _forwarded_for(values) if header == FORWARDED else _x_forwarded_for(values)
    for address in reversed(chain):
        if address not in trusted_proxies:
            return address
    return chain[0] if chain else peer


def _x_forwarded_for(values: Sequence[str]) -> list[str]:
    return [a.strip() for value in values for a in value.split(",") if a.strip()]


def _forwarded_for(values: Sequence[str]) -> list[str]:
    """The ``for=`` nodes of ``Forwarded`` values, without quotes, brackets or ports."""
    out = []
    for value in values:
        for element in value.split(","):
            for pair in element.split(";"):
                name, _, node = pair.strip().partition("=")
                if name.strip().lower() != "for":
                    continue
                node = node.strip().strip('"')
                if node.startswith("["):  # [2001:db8::1]:4711
                    node = node[1:].partition("]")[0]
                elif node.count(":") == 1:  # 192.0.2.1:4711
                    node = node.partition(":")[0]
                if node:
                    out.append(node)
    return out

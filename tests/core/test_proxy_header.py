"""The PROXY protocol header a TCP proxy sends first (HAProxy's v1 and v2):
the client's address is read from it, byte by byte as it arrives, and
anything else at the start of a connection is refused."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from app.core.proxy_header import V2_SIGNATURE, ProxyHeaderError, parse

WEBSOCKET = b"GET /v1 HTTP/1.1\r\n"


def v2(client: str, command: int = 1) -> bytes:
    address = ipaddress.ip_address(client)
    if address.version == 4:
        body = address.packed + bytes(4) + struct.pack("!HH", 50000, 8765)
        family = 0x11
    else:
        body = address.packed + bytes(16) + struct.pack("!HH", 50000, 8765)
        family = 0x21
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(body)) + body


@pytest.mark.parametrize(
    ("header", "client"),
    [
        (b"PROXY TCP4 203.0.113.7 10.0.0.2 50000 8765\r\n", "203.0.113.7"),
        (b"PROXY TCP6 2001:db8::7 2001:db8::1 50000 8765\r\n", "2001:db8::7"),
        (b"PROXY UNKNOWN\r\n", ""),
        (v2("203.0.113.7"), "203.0.113.7"),
        (v2("2001:db8::7"), "2001:db8::7"),
        (v2("203.0.113.7", command=0), ""),  # LOCAL: the proxy's own connection
    ],
)
def test_the_clients_address_is_read_whole_or_in_pieces(header: bytes, client: str) -> None:
    assert parse(header + WEBSOCKET) == (client, len(header))
    for cut in range(len(header)):  # bytes still missing: wait for more
        assert parse(header[:cut]) is None


@pytest.mark.parametrize(
    "start",
    [
        WEBSOCKET,  # a client that went round the proxy
        b"PROXY TCP4 not-an-address 10.0.0.2 1 2\r\n",
        b"PROXY TCP4 2001:db8::7 10.0.0.2 1 2\r\n",  # an IPv6 address said to be IPv4
        b"PROXY TCP4 203.0.113.7\r\n",
        b"PROXY " + b"9" * 200,  # no end within 107 bytes
        b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x0c" + bytes(12),  # version 3
        b"\r\n\r\nX",
    ],
)
def test_anything_else_is_refused(start: bytes) -> None:
    with pytest.raises(ProxyHeaderError):
        parse(start)

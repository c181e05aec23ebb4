"""The PROXY protocol's header (HAProxy's, versions 1 and 2): the client's
address a TCP proxy sends first on each connection it opens to a gateway
(`VIGIL_GATEWAY_PROXY_PROTOCOL`). Behind a proxy every device has the
proxy's address, so the gateway's limits per source address (handshakes in
progress, failed handshakes) held the whole fleet back for one client:
with the header they apply to each client again.

Reference: https://www.haproxy.org/download/3.0/doc/proxy-protocol.txt"""

from __future__ import annotations

import ipaddress

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX = 107  # bytes, CRLF included
V2_MAX = 16 + 216  # the fixed part, and the longest address block a proxy sends us (AF_UNIX)


class ProxyHeaderError(ValueError):
    """Not a PROXY protocol header: the connection did not come through the proxy."""


def parse(data: bytes) -> tuple[str, int] | None:
    """(the client's address, the header's length in bytes) from the start
    of a connection's bytes; None while more bytes are needed. The address is
    "" for a proxy's own connection (v2 LOCAL, v1 UNKNOWN: a health check).
    Raises `ProxyHeaderError` when the bytes cannot begin a header."""
    if data[:1] == b"P":
        return _v1(data)
    if data[:1] == b"\r":
        return _v2(data)
    if data:
        raise ProxyHeaderError("no PROXY protocol header")
    return None


def _v1(data: bytes) -> tuple[str, int] | None:
    if not b"PROXY "[: len(data)] == data[:6]:
        raise ProxyHeaderError("no PROXY protocol header")
    end = data.find(b"\r\n", 0, V1_MAX)
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyHeaderError("PROXY header too long")
        return None
    parts = data[:end].split(b" ")
    if len(parts) >= 2 and parts[1] == b"UNKNOWN":
        return "", end + 2
    if len(parts) != 6 or parts[1] not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError("malformed PROXY header")
    try:
        address = ipaddress.ip_address(parts[2].decode("ascii"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProxyHeaderError("malformed PROXY header address") from exc
    if (address.version == 4) != (parts[1] == b"TCP4"):
        raise ProxyHeaderError("malformed PROXY header address")
    return str(address), end + 2


def _v2(data: bytes) -> tuple[str, int] | None:
    if V2_SIGNATURE[: len(data)] != data[:12]:
        raise ProxyHeaderError("no PROXY protocol header")
    if len(data) < 16:
        return None
    version_command, family, length = data[12], data[13], int.from_bytes(data[14:16], "big")
    if version_command >> 4 != 2 or version_command & 0x0F > 1 or 16 + length > V2_MAX:
        raise ProxyHeaderError("malformed PROXY header")
    if len(data) < 16 + length:
        return None
    if version_command & 0x0F == 0:  # LOCAL: the proxy's own connection
        return "", 16 + length
    body = data[16 : 16 + length]
    if family >> 4 == 1 and length >= 12:  # AF_INET: source, destination, ports
        return str(ipaddress.IPv4Address(body[:4])), 16 + length
    if family >> 4 == 2 and length >= 36:  # AF_INET6
        return str(ipaddress.IPv6Address(body[:16])), 16 + length
    if family >> 4 in (0, 3):  # UNSPEC, AF_UNIX: no client address to go by
        return "", 16 + length
    raise ProxyHeaderError("malformed PROXY header")

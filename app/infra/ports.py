"""The ports a service has bound, reported back to whoever started it.

A service given port 0 (VIGIL_GATEWAY_PORT=0, ...) binds a port the system
chooses; nobody else can know it. With `--ports-file PATH` the service writes
the ports it bound there once it serves, as one JSON object (`{"ws": 40123,
"http": 40124}` for the gateway, `{"web": 40125}` for the worker), atomically:
a reader sees the whole file or none. `vigil up`, the tests and the load tests
start their services on port 0 and `wait()` for that file, instead of picking
a free port and handing it over (a race: another process may take it between).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

GATEWAY_WS = "ws"
GATEWAY_HTTP = "http"
WORKER_WEB = "web"


def bound_port(sockets: Iterable[socket.socket] | None) -> int:
    """The port a server's listening sockets are bound to (0 if it has none)."""
    for sock in sockets or ():
        port: int = sock.getsockname()[1]
        return port
    return 0


def address_port(addresses: Iterable[Any]) -> int:
    """The port of the first of a server's bound addresses (aiohttp's `runner.addresses`)."""
    for address in addresses:
        port: int = address[1]
        return port
    return 0


def write(path: Path, ports: Mapping[str, int]) -> None:
    """Write `ports` to `path` as JSON, atomically (a temporary file renamed over it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(dict(ports)))
    tmp.replace(path)


def read(path: Path) -> dict[str, int] | None:
    """The ports written to `path`, or None while there are none."""
    try:
        data: Any = orjson.loads(Path(path).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    return {str(name): int(port) for name, port in data.items()}


def wait(path: Path, proc: subprocess.Popen[Any], timeout: float = 120.0) -> dict[str, int] | None:
    """The ports `proc` reports in `path`, once it has; None if it exits first.
    `TimeoutError` if neither happens within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = read(path)
        if found is not None:
            return found
        if proc.poll() is not None:
            return read(path)
        time.sleep(0.1)
    raise TimeoutError(f"no ports reported in {path} within {timeout:.0f} s")

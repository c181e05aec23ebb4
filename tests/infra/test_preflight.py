"""Binding a port: taken, or unusable for another reason (`app.infra.preflight.ports_taken`)."""

from __future__ import annotations

import errno
import socket

import pytest

from app.core.errors import SettingsError
from app.infra import preflight


def test_a_taken_port_is_named_and_a_free_one_is_not() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        wanted = [("127.0.0.1", port, "VIGIL_GATEWAY_PORT"), ("127.0.0.1", 0, "VIGIL_WORKER_WEB_PORT")]
        assert preflight.ports_taken(wanted) == [(port, "127.0.0.1", "VIGIL_GATEWAY_PORT")]


def test_a_privileged_port_is_said_to_need_a_privilege_not_to_be_taken(monkeypatch) -> None:
    """Port 80 for a user who may not bind it fails with EACCES: that is no
    process to stop (this test's machine may run as root, so bind is made to
    fail as it would)."""

    def refuse(self: socket.socket, address: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", refuse)
    with pytest.raises(SettingsError) as refused:
        preflight.ports_taken([("127.0.0.1", 80, "VIGIL_GATEWAY_PORT")])
    message = str(refused.value)
    assert "port 80" in message and "choose another with VIGIL_GATEWAY_PORT" in message
    assert "in use" not in message

"""Expected failures of the `vigil` command and their exit codes.

A command raises one of these with a message saying what failed and what to
do; `app.cli.main.main` prints it as one line on stderr (a traceback only with
VIGIL_LOG_LEVEL=debug) and exits with the class's code. The codes are a
public contract, documented in docs/operations.md#exit-codes:

    0  done (a long-running command stopped by Ctrl-C, SIGTERM or SIGHUP too)
    1  failed while running (a child process died, readings left unacknowledged, disk full, ...)
    2  bad usage, settings or input (a bad VIGIL_* value, an unreadable recording, ...)
    3  Kafka unreachable
    4  a port (or the VIGIL_HOME of a running `vigil up`) is already in use
    5  the gateway unreachable (replay, simulate)
  130  interrupted before it could finish (Ctrl-C during a one-shot command)

Messages never carry a patient identifier or a secret.
"""

from __future__ import annotations

OK = 0
RUNTIME = 1
USAGE = 2
KAFKA_UNREACHABLE = 3
PORT_IN_USE = 4
GATEWAY_UNREACHABLE = 5
INTERRUPTED = 130


class Failure(Exception):
    """An expected failure: one line for the user, and an exit code."""

    exit_code = RUNTIME


class BadInput(Failure):
    """Bad usage, settings or input."""

    exit_code = USAGE


class KafkaUnreachable(Failure):
    exit_code = KAFKA_UNREACHABLE


class InUse(Failure):
    """Something Vigil needs for itself is taken by another process."""

    exit_code = PORT_IN_USE


class PortInUse(InUse):
    def __init__(self, port: int, host: str, variable: str, hint: str = "") -> None:
        super().__init__(
            f"port {port} on {host} is already in use{hint}: "
            f"stop what holds it, or choose another with {variable}"
        )
        self.port = port
        self.variable = variable


class GatewayUnreachable(Failure):
    exit_code = GATEWAY_UNREACHABLE

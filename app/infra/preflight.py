"""Checks a command makes before it starts, so that the usual mistakes are
one clear line (`app.core.errors`) instead of a library's traceback: Kafka
reachable, the gateway reachable, the ports a service binds still free."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from aiokafka import TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import KafkaError

from app.core.errors import GatewayUnreachable, KafkaDenied, KafkaUnreachable, PortInUse, SettingsError
from app.infra.kafka_security import aiokafka_options
from app.infra.settings import Settings


class _Heard(logging.Handler):
    """What aiokafka says about its failed connections, kept instead of printed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.append(record.getMessage())


# Per logger name: [probes listening now, the level and propagation they found].
_LISTENING: dict[str, list[Any]] = {}


@contextlib.contextmanager
def quiet(name: str) -> Iterator[logging.Logger]:
    """The logger `name` (and those under it) prints nothing while inside:
    a command that says in its own words what Kafka is doing (`vigil alerts`
    with Kafka gone) keeps aiokafka's lines about it off the terminal.
    Uses may overlap (`vigil alerts` waits for its topic while it watches
    Kafka): the last one out puts the logger back as the first one found it."""
    logger = logging.getLogger(name)
    nothing = logging.NullHandler()  # else logging's last resort prints the warnings
    state = _LISTENING.setdefault(name, [0, logger.level, logger.propagate])
    if state[0] == 0:
        state[1:] = [logger.level, logger.propagate]
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    state[0] += 1
    logger.addHandler(nothing)
    try:
        yield logger
    finally:
        logger.removeHandler(nothing)
        state[0] -= 1
        if state[0] == 0:
            logger.setLevel(state[1])
            logger.propagate = state[2]


@contextlib.contextmanager
def _listening(name: str) -> Iterator[_Heard]:
    """aiokafka logs every refused connection at ERROR; the caller reports the
    outcome once. Its warnings and errors are kept, for `_refusal`."""
    heard = _Heard()
    with quiet(name) as logger:
        logger.addHandler(heard)
        try:
            yield heard
        finally:
            logger.removeHandler(heard)


def _refusal(settings: Settings, heard: list[str]) -> str:
    """Why a broker that answered would not let us in, from aiokafka's
    messages: a SASL login refused, a certificate not trusted; or ""."""
    text = " ".join(heard)
    if "SaslAuthenticationFailed" in text or "Authentication failed" in text:
        return (
            f"Kafka at {settings.bootstrap} refused the SASL login of User:{settings.kafka_sasl_username}: "
            "check VIGIL_KAFKA_SASL_USERNAME, its password and VIGIL_KAFKA_SASL_MECHANISM"
        )
    if "UnsupportedSaslMechanism" in text:
        return (
            f"Kafka at {settings.bootstrap} does not offer the SASL mechanism "
            f"{settings.kafka_sasl_mechanism}: check VIGIL_KAFKA_SASL_MECHANISM"
        )
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return (
            f"the TLS certificate of Kafka at {settings.bootstrap} is not trusted "
            "or does not name that host: check VIGIL_KAFKA_CA"
        )
    return ""


def coordinator_starting(exc: BaseException) -> bool:
    """Is this Kafka's answer while its group coordinator is not ready yet
    (a broker just started: its consumer-offsets partitions are loading)?
    Kafka answers then, so it is not down: asked a few seconds later, the
    same question is answered."""
    from aiokafka.errors import (
        CoordinatorLoadInProgressError,
        CoordinatorNotAvailableError,
        NotCoordinatorError,
    )

    return isinstance(
        exc, CoordinatorLoadInProgressError | CoordinatorNotAvailableError | NotCoordinatorError
    )


def kafka_hint(settings: Settings) -> str:
    if settings.uses_local_kafka:
        return "start it with `vigil up` (or `vigil kafka`), or set VIGIL_KAFKA_BOOTSTRAP to your cluster"
    return "check that the cluster is up and that VIGIL_KAFKA_BOOTSTRAP names it"


def kafka_unreachable(settings: Settings, detail: str = "") -> KafkaUnreachable:
    return KafkaUnreachable(f"cannot reach Kafka at {settings.bootstrap}{detail}: {kafka_hint(settings)}")


def denied(settings: Settings, topic: str, operation: str = "Read") -> KafkaDenied:
    who = f"User:{settings.kafka_sasl_username}" if settings.kafka_sasl_username else "this client"
    return KafkaDenied(
        f"Kafka at {settings.bootstrap} refuses {who} the topic {topic}: "
        f"grant it Describe and {operation} on {topic} (docs/operations.md#kafka-security)"
    )


async def _cluster(settings: Settings, timeout: float, topic: str = "") -> ClusterMetadata | None:
    """Kafka's metadata, or None when no broker at `settings.bootstrap` answers
    within `timeout`. With `topic`: `KafkaDenied` if this principal may not see it."""
    return (await _reach(settings, timeout, topic))[0]


async def _reach(settings: Settings, timeout: float, topic: str = "") -> tuple[ClusterMetadata | None, str]:
    """`_cluster`'s answer, and when there is none, why the broker refused us (or "")."""
    client = AIOKafkaClient(**aiokafka_options(settings), request_timeout_ms=int(timeout * 1000))
    with _listening("aiokafka") as heard:
        try:
            await asyncio.wait_for(client.bootstrap(), timeout)
            cluster = await asyncio.wait_for(client.fetch_all_metadata(), timeout)
            if topic and topic not in cluster.topics():
                # Kafka leaves out of "all topics" those the principal may not
                # describe; asked for by name, it says so.
                await asyncio.wait_for(client.set_topics([topic]), timeout)
                if topic in client.cluster.unauthorized_topics:
                    raise denied(settings, topic)
            return cluster, ""
        except (KafkaError, OSError, TimeoutError):
            return None, _refusal(settings, heard.lines)
        finally:
            await client.close()


async def answers(settings: Settings, timeout: float = 5.0) -> bool:
    """Whether a Kafka broker at `settings.bootstrap` answers a metadata request within `timeout`."""
    return await _cluster(settings, timeout) is not None


KAFKA_SILENT_S = 15.0  # a broker that does not answer this long gets a line
WATCH_EVERY_S = 5.0  # how often `watch` asks


async def watch(
    settings: Settings,
    stop: asyncio.Event,
    silent: Callable[[], None],
    back: Callable[[], None],
    every: float | None = None,
    silent_s: float | None = None,
) -> None:
    """Ask Kafka for metadata every `every` seconds (WATCH_EVERY_S) until
    `stop` (a broker can be alive and not answering, and a client's own
    retries say nothing in its words): `silent()` once it has not answered
    for `silent_s` (KAFKA_SILENT_S), and `back()` when it answers again after that."""
    every = WATCH_EVERY_S if every is None else every
    silent_s = KAFKA_SILENT_S if silent_s is None else silent_s
    silent_since: float | None = None
    said = False
    while not await sleep_or_stop(stop, every):
        if await answers(settings, timeout=min(every, 5.0)):
            if said:
                back()
            silent_since, said = None, False
            continue
        silent_since = silent_since or time.monotonic()
        if not said and time.monotonic() - silent_since >= silent_s:
            said = True
            silent()


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True if `stop` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def topic_exists(settings: Settings, topic: str, timeout: float = 5.0) -> bool:
    cluster = await _cluster(settings, timeout, topic)
    return cluster is not None and topic in cluster.topics()


async def leads(settings: Settings, topic: str, timeout: float = 3.0) -> bool:
    """Does Kafka answer within `timeout` with a leader for every partition
    of `topic`? A broker that took its log directory offline (a full disk)
    may still answer on its port, but leads nothing."""
    cluster = await _cluster(settings, timeout)
    if cluster is None:
        return False
    partitions = cluster.partitions_for_topic(topic)
    return bool(partitions) and all(
        (cluster.leader_for_partition(TopicPartition(topic, p)) or -1) >= 0 for p in partitions
    )


async def group_offsets(
    settings: Settings, topic: str, group: str, partitions: list[int]
) -> dict[int, tuple[int, int, int | None]]:
    """Per partition of `topic` in `partitions`, as Kafka has it: its first
    offset, its end, and `group`'s committed offset (None: nothing
    committed). Raises KafkaError when Kafka refuses; bound it with a
    timeout where waiting matters (`backlog`). `vigil lag` and the
    worker's watchdog read it."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    consumer = AIOKafkaConsumer(**aiokafka_options(settings), enable_auto_commit=False)
    admin = AIOKafkaAdminClient(**aiokafka_options(settings))
    try:
        await consumer.start()
        await admin.start()
        tps = [TopicPartition(topic, p) for p in partitions]
        starts = await consumer.beginning_offsets(tps) if tps else {}
        ends = await consumer.end_offsets(tps) if tps else {}
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        with contextlib.suppress(Exception):
            await admin.close()
        with contextlib.suppress(Exception):
            await consumer.stop()
    # Kafka answers -1 for a partition the group has not committed on.
    committed = {
        tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0
    }
    return {tp.partition: (starts[tp], ends[tp], committed.get(tp.partition)) for tp in tps}


async def backlog(
    settings: Settings, topic: str, group: str, partitions: list[int], timeout: float = 5.0
) -> dict[int, tuple[int, int]] | None:
    """Per partition of `topic` in `partitions`, as Kafka has it: (its end, where `group`
    would resume: its committed offset, or the partition's first offset when
    nothing is committed or retention has removed what it committed). None
    when Kafka does not answer within `timeout`. A client of its own, not
    the worker's consumer: the worker's watchdog asks it (`agents.app`),
    and a stuck consumer would not answer or would answer from a stale view."""
    try:
        found = await asyncio.wait_for(group_offsets(settings, topic, group, partitions), timeout)
    except (KafkaError, OSError, TimeoutError):
        return None
    return {p: (end, max(start, -1 if done is None else done)) for p, (start, end, done) in found.items()}


async def holding_records(
    settings: Settings, topic: str, starts: dict[int, int], timeout: float = 5.0
) -> set[int] | None:
    """Which of these partitions of `topic` hold a record to read at or after
    its offset in `starts`. An end offset past a partition's last record is
    no record to read: a transactional producer's commit marker takes an
    offset, and so does a record retention has deleted. A partition is said
    to hold none only once read to its end; None when Kafka does not answer
    within `timeout`, or has not shown every other partition read to its end
    (a leader moving, a slow fetch). The worker's watchdog asks it before it
    calls records waiting a stall (`agents.app`)."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        **aiokafka_options(settings), enable_auto_commit=False, auto_offset_reset="earliest"
    )  # an offset retention has passed reads from the first record left
    try:
        await asyncio.wait_for(consumer.start(), timeout)
        tps = {TopicPartition(topic, p): offset for p, offset in starts.items()}
        consumer.assign(list(tps))
        for tp, offset in tps.items():
            consumer.seek(tp, offset)
        found: set[int] = set()
        deadline = time.monotonic() + timeout
        read: set[int] = set()  # partitions read to their end with nothing found
        while len(found) + len(read) < len(tps) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=len(tps))
            found.update(tp.partition for tp, records in batches.items() if records)
            for tp in tps:
                if tp.partition in found:
                    consumer.pause(tp)
                elif (end := consumer.highwater(tp)) is not None and await consumer.position(tp) >= end:
                    read.add(tp.partition)
        return found if len(found) + len(read) == len(tps) else None
    except (KafkaError, OSError, TimeoutError):
        return None
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()


async def partition_count(settings: Settings, topic: str, timeout: float = 5.0) -> int | None:
    """How many partitions `topic` has, or None if Kafka does not say."""
    cluster = await _cluster(settings, timeout)
    partitions = cluster.partitions_for_topic(topic) if cluster is not None else None
    return len(partitions) if partitions else None


async def kafka(settings: Settings, within: float = 0.0) -> None:
    """Raise `KafkaUnreachable` unless Kafka answers, trying for `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        cluster, refusal = await _reach(settings, 5.0)
        if cluster is not None:
            return
        if refusal:
            raise KafkaUnreachable(refusal)
        if time.monotonic() >= deadline:
            raise kafka_unreachable(settings)
        await asyncio.sleep(0.5)


def port_free(host: str, port: int) -> bool:
    """Whether a server could bind `port` on `host` now (as servers do, with SO_REUSEADDR)."""
    return _bind_errno(host, port) == 0


def _bind_errno(host: str, port: int) -> int:
    """0 when a server could bind `port` on `host` now (as servers do, with
    SO_REUSEADDR), else the errno binding it failed with."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return 0  # the service reports the bad address itself
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as exc:
            return exc.errno or errno.EADDRINUSE
    return 0


# What listens on the port each setting names, and the setting that names the
# address it listens on (the local Kafka's: 127.0.0.1, no setting).
PORT_OWNERS = {
    "VIGIL_GATEWAY_PORT": ("gateway", "VIGIL_GATEWAY_HOST"),
    "VIGIL_GATEWAY_HTTP_PORT": ("gateway", "VIGIL_GATEWAY_HOST"),
    "VIGIL_WORKER_WEB_PORT": ("worker", "VIGIL_WORKER_WEB_HOST"),
    "VIGIL_LOCAL_KAFKA_PORT": ("Kafka", "its host"),
    "VIGIL_LOCAL_KAFKA_CONTROLLER_PORT": ("Kafka", "its host"),
}


def _unbindable(host: str, port: int, variable: str, code: int) -> SettingsError:
    """A port that cannot be bound for a reason other than being taken: an
    address that is not this machine's was told "port in use"."""
    where = PORT_OWNERS.get(variable, ("", "its host"))[1]
    if code == errno.EADDRNOTAVAIL:
        return SettingsError(
            [
                f"cannot listen on {host} ({where}): it is not an address of this machine; "
                f"set {where} to one of its addresses, or 0.0.0.0 for all of them"
            ]
        )
    if code == errno.EACCES:
        return SettingsError(
            [
                f"cannot listen on port {port} on {host} ({variable}): this user may not "
                f"(ports under 1024 need privileges); choose another with {variable}"
            ]
        )
    return SettingsError(
        [f"cannot listen on port {port} on {host} ({variable}, {where}): {os.strerror(code)}"]
    )


def ports_free(host: str, ports: list[tuple[int, str]], hint: str = "") -> None:
    """Raise `PortInUse` naming every (port, VIGIL_* variable) that is taken;
    port 0 (the system chooses one when binding) is never taken."""
    taken = ports_taken([(host, port, variable) for port, variable in ports])
    if taken:
        raise in_use(taken, hint)


def ports_taken(ports: list[tuple[str, int, str]]) -> list[tuple[int, str, str]]:
    """The (port, host, VIGIL_* variable) of `ports` ((host, port, variable))
    that are taken now; port 0 never is. Raise `SettingsError` for one that
    cannot be bound for another reason (an address not this machine's, a
    port under 1024 without the privilege)."""
    taken = []
    for host, port, variable in ports:
        code = _bind_errno(host, port)  # port 0: never taken, but the host is checked
        if code == errno.EADDRINUSE:
            taken.append((port, host, variable))
        elif code:
            raise _unbindable(host, port, variable, code)
    return taken


def in_use(taken: list[tuple[int, str, str]], hint: str = "") -> PortInUse:
    """One `PortInUse` naming every port of `taken` (`ports_taken`)."""
    (port, host, variable), *others = taken
    return PortInUse(port, host, variable, hint, tuple(others))


def gateway_url(settings: Settings) -> str:
    """Where this host's clients (simulate, replay) reach the gateway."""
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::") else settings.gateway_host
    scheme = "wss" if settings.tls_cert else "ws"
    return f"{scheme}://{host}:{settings.gateway_port}/v1"


async def gateway(settings: Settings, timeout: float = 5.0) -> None:
    """Raise `GatewayUnreachable` unless something accepts connections on the gateway's port."""
    host = "127.0.0.1" if settings.gateway_host in ("0.0.0.0", "::") else settings.gateway_host
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, settings.gateway_port), timeout)
    except (TimeoutError, OSError):
        raise GatewayUnreachable(
            f"cannot reach {gateway_url(settings)}: start the gateway (`vigil up` or `vigil gateway`), "
            "or set VIGIL_GATEWAY_HOST and VIGIL_GATEWAY_PORT to where it listens"
        ) from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()

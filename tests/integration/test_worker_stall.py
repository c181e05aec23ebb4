"""A worker that Kafka answers but that stays not ready without progress stops
itself with exit code 6, for its supervisor to start it again
(`app.core.watchdog`, docs/reliability.md)."""

from __future__ import annotations

import json
import signal
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.records_to_delete import RecordsToDelete

from app.infra import preflight
from app.infra.settings import Settings
from tests.conftest import http_status, new_topic_with, wait_ready

pytestmark = pytest.mark.integration


def test_a_worker_stuck_joining_its_group_exits_with_code_6(vigil, kafka) -> None:
    """A real stall, made with real processes: worker A is frozen (SIGSTOP)
    while a member of the group; worker B joins, and Kafka holds B's join
    until A rejoins or its rebalance timeout (60 s) passes. B is not ready,
    Kafka answers it, and it does nothing: with VIGIL_WORKER_STALL_S=6 (the
    default, 120 s, outlasts a rebalance timeout) B stops itself, saying so
    in one line, and names what its tasks wait on."""
    vigil.env["VIGIL_WORKER_SESSION_TIMEOUT_S"] = "60"  # A stays a member while frozen
    first = vigil.spawn("worker", log_name="worker-a")
    second = None
    try:
        wait_ready(vigil.worker_url + "/readyz", first)
        first.send_signal(signal.SIGSTOP)
        vigil.env.update(VIGIL_WORKER_STALL_S="6", VIGIL_WORKER_DATA=str(vigil.home / "worker-b"))
        second = vigil.spawn("worker", log_name="worker-b")
        url = vigil.worker_url  # B's, once it reports its port
        started = time.monotonic()
        seen_not_ready = False
        while second.poll() is None and time.monotonic() - started < 50:
            seen_not_ready = seen_not_ready or (http_status(url + "/readyz") == 503)
            time.sleep(0.5)
        code = second.wait(10)
        elapsed = time.monotonic() - started
        log = vigil.log("worker-b")
        assert code == 6, log[-3000:]
        assert seen_not_ready, "B was never seen answering /readyz with 503"
        assert elapsed < 45, f"B stopped after {elapsed:.0f} s, not within the rebalance timeout"
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        stalled = [line for line in lines if line.get("event", "").startswith("worker stalled")]
        assert len(stalled) == 1, log[-3000:]
        assert stalled[0]["level"] == "error" and stalled[0]["stalled_s"] >= 6
        assert "exiting with code 6" in stalled[0]["event"]
        tasks = next(line for line in lines if line.get("event") == "stalled worker's tasks")
        # Where it waits: aiokafka's group coordination, in the consumer's thread.
        assert any("group_coordinator.py" in chain for chain in tasks["consumer_tasks"]), tasks
    finally:
        first.send_signal(signal.SIGCONT)
        first.kill()
        first.wait(10)
        if second is not None and second.poll() is None:
            second.kill()
            second.wait(10)


async def test_the_watchdog_reads_the_backlog_from_kafka(kafka) -> None:
    """`preflight.backlog`, which tells the watchdog whether records wait on
    a ready worker's partitions: per partition, Kafka's end and where the
    group resumes (its commit; the first offset when it committed nothing,
    or when retention removed what it committed)."""
    topic, group = f"backlog-{uuid.uuid4().hex[:8]}", f"backlog-group-{uuid.uuid4().hex[:8]}"
    await new_topic_with(kafka.bootstrap, topic, 3, [(b"k", b"v", p) for p in (0, 0, 0, 0, 0, 1, 1, 1)])
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
        await consumer.commit({TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 1})
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 1): RecordsToDelete(2)}, timeout_ms=10_000)
    finally:
        await admin.close()
    settings = Settings.from_env().with_(kafka_bootstrap=kafka.bootstrap)
    backlog = await preflight.backlog(settings, topic, group, [0, 1, 2])
    # 0: 5 written, 3 committed; 1: 3 written, committed 1 but records before 2 deleted; 2: empty.
    assert backlog == {0: (5, 3), 1: (3, 2), 2: (0, 0)}
    nobody = Settings.from_env().with_(kafka_bootstrap="127.0.0.1:9")  # nothing listens on port 9
    assert await preflight.backlog(nobody, topic, group, [0], timeout=2.0) is None


async def test_the_watchdog_asks_kafka_whether_records_wait_to_be_read(kafka) -> None:
    """`preflight.holding_records`, asked before records waiting are called a
    stall: a partition whose end is one past its last record (a transactional
    producer's commit marker, written here by a real one) holds nothing to
    read there; records there, or from an offset retention has passed, are
    something to read."""
    from aiokafka import AIOKafkaProducer

    topic = f"holding-{uuid.uuid4().hex[:8]}"
    await new_topic_with(kafka.bootstrap, topic, 3, [(b"k", b"v", p) for p in (0, 0, 0, 2, 2)])
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, transactional_id=f"t-{topic}")
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"v", key=b"k", partition=1)  # offset 0, its marker 1
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, 2): RecordsToDelete(1)}, timeout_ms=10_000)
    finally:
        await admin.close()
    settings = Settings.from_env().with_(kafka_bootstrap=kafka.bootstrap)
    ends = await preflight.backlog(settings, topic, "nobody", [0, 1, 2])
    assert ends is not None and ends[1][0] == 2  # the record and its commit marker
    # 0 from 1: records 1, 2; 1 from 1: only the marker; 2 from 0: deleted, but record 1 is there
    assert await preflight.holding_records(settings, topic, {0: 1, 1: 1, 2: 0}, timeout=3.0) == {0, 2}
    assert await preflight.holding_records(settings, topic, {0: 3}, timeout=2.0) == set()  # the end
    nobody = Settings.from_env().with_(kafka_bootstrap="127.0.0.1:9")
    assert await preflight.holding_records(nobody, topic, {0: 0}, timeout=2.0) is None

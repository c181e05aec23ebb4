"""Does aiokafka's group consumer alone come back after its broker dies under an
offset commit? (docs/reliability.md, "A worker wedged after a broker restart")

A worker once stayed not ready after a broker restart whose death had been
met by an offset commit. This takes Faust and Vigil out: one plain
AIOKafkaConsumer in a consumer group, with the worker's timeouts, committing
every 10-50 ms (so that a commit is in flight when the broker dies) and
fetching, on a local broker that is SIGKILLed and started again `--cycles`
times, down `--outage` seconds each time. A cycle passes when a commit
succeeds again within 75 s of the broker's return; the first that does not
stops the run and prints where each task of the consumer's loop waits.

    .venv/bin/python load-tests/aiokafka_outage.py --cycles 25

Prints one line per cycle and `wedged N of M`; exit code 1 if one wedged.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

import benchlib  # noqa: F401  (puts the repository root on sys.path)
from aiokafka import AIOKafkaConsumer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from agents.app import _awaiting_chains  # noqa: E402
from app.infra.kafka_local import LocalKafka  # noqa: E402

TOPIC, GROUP = "outage", "outage-group"
BACK_WITHIN_S = 75.0


async def cycles(broker: LocalKafka, count: int, outage_s: float) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 4, 1)])
    finally:
        await admin.close()
    # The worker's consumer settings (agents/app.py: Faust's defaults and VIGIL_WORKER_SESSION_TIMEOUT_S).
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=broker.bootstrap,
        group_id=GROUP,
        enable_auto_commit=False,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
        request_timeout_ms=90_000,
        rebalance_timeout_ms=60_000,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    committed_at = [0.0]
    failed = [0]

    async def commit() -> None:
        n = 0
        while True:
            try:
                if consumer.assignment():
                    n += 1
                    await consumer.commit({tp: n for tp in consumer.assignment()})
                    committed_at[0] = time.monotonic()
            except Exception:  # noqa: BLE001 - the one in flight when the broker dies
                failed[0] += 1
            await asyncio.sleep(random.uniform(0.01, 0.05))

    async def fetch() -> None:
        while True:
            try:
                await consumer.getmany(timeout_ms=500)
            except Exception:  # noqa: BLE001 - while the broker is down
                await asyncio.sleep(0.2)

    tasks = [asyncio.ensure_future(commit()), asyncio.ensure_future(fetch())]
    wedged = done = 0
    try:
        for cycle in range(count):
            started = time.monotonic()
            while time.monotonic() - committed_at[0] > 1 and time.monotonic() - started < 90:
                await asyncio.sleep(0.2)
            await asyncio.sleep(random.uniform(0, 3))
            assert broker.proc is not None
            os.kill(broker.proc.pid, signal.SIGKILL)
            broker.proc.wait()
            await asyncio.sleep(outage_s)
            await asyncio.to_thread(broker.start, timeout=120, quiet=True)
            back = time.monotonic()
            while committed_at[0] < back and time.monotonic() - back < BACK_WITHIN_S:
                await asyncio.sleep(0.5)
            done += 1
            if committed_at[0] < back:
                wedged += 1
                print(f"cycle {cycle + 1}: WEDGED: no commit {BACK_WITHIN_S:.0f} s after the broker's return")
                for chain in _awaiting_chains(asyncio.get_running_loop()):
                    print("   ", chain)
                break
            print(
                f"cycle {cycle + 1}: committing again {committed_at[0] - back:.1f} s after the "
                f"broker's return ({failed[0]} commits failed so far)",
                flush=True,
            )
    finally:
        for task in tasks:
            task.cancel()
        await consumer.stop()
    print(f"wedged {wedged} of {done}")
    return wedged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=25, help="broker deaths (default 25)")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds down each time (default 10)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # aiokafka's errors while the broker is down are expected
    with tempfile.TemporaryDirectory(prefix="vigil-aiokafka-outage-") as tmp:
        broker = LocalKafka(Path(tmp) / "kafka", partitions=4)
        broker.start(quiet=True)
        try:
            wedged = asyncio.run(cycles(broker, args.cycles, args.outage))
        finally:
            broker.stop()
    return 1 if wedged else 0


if __name__ == "__main__":
    sys.exit(main())

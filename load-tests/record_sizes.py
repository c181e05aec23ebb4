"""Bytes per record on each topic a reading touches, for sizing a broker's
disk (docs/capacity.md): measured, not assumed.

What it does: a local Kafka in a temp dir (or --bootstrap) with Vigil's
topics; --readings readings (default 4,000) of --patients patients (default
200) of the evaluation cohort, one reading per Kafka record (a bedside
monitor's frame, encoded and keyed as the gateway does), produced one
record per request (linger 0, each record awaited: a production gateway's
2 ms linger spread over many partitions and gateways batches almost
nothing); one `vigil worker` consumes them (bench_worker.py's scale-out
machinery with one worker). Then every record of `vigil.readings`, the
worker's changelog and `vigil.alerts` is read back with a consumer: records,
key and value bytes; and, on a local broker, the bytes of the topic's log
segments on disk (replication factor 1: multiply by yours).

    .venv/bin/python load-tests/record_sizes.py --json /tmp/sizes.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_worker  # noqa: E402
import benchlib  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # noqa: E402

from app.infra.settings import ALERTS_TOPIC, READINGS_TOPIC  # noqa: E402


async def produce_one_by_one(bootstrap: str, records: list[tuple[bytes, bytes, int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        for key, value, _ in records:
            await producer.send_and_wait(READINGS_TOPIC, value=value, key=key)
    finally:
        await producer.stop()


async def read_sizes(bootstrap: str, topic: str) -> dict[str, Any]:
    """Records, mean key and value bytes of every record now on `topic`."""
    begins, ends = await bench_worker.offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    count = keys = values = 0
    try:
        consumer.assign(list(ends))
        for tp, begin in begins.items():
            consumer.seek(tp, begin)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            for messages in batch.values():
                for m in messages:
                    count += 1
                    keys += m.serialized_key_size if m.serialized_key_size > 0 else 0
                    values += m.serialized_value_size if m.serialized_value_size > 0 else 0
    finally:
        await consumer.stop()
    return {
        "records": count,
        "key_bytes": round(keys / count, 1) if count else None,
        "value_bytes": round(values / count, 1) if count else None,
    }


def disk_bytes(kafka_dir: Path, topic: str) -> int:
    """Bytes of the topic's log segments (*.log, not the indexes) on a local broker."""
    return sum(f.stat().st_size for d in kafka_dir.rglob(f"{topic}-*") if d.is_dir() for f in d.glob("*.log"))


async def measure(args: argparse.Namespace, bootstrap: str, tmp: Path, procs: benchlib.Processes) -> Any:
    args.workers = [1]
    key_hex = secrets.token_hex(32)
    records, devices = bench_worker.build_records(
        bytes.fromhex(key_hex), args.readings, args.patients, 1, args.seed
    )
    ctx = await bench_worker.scale_context(args, bootstrap, tmp, key_hex, records, devices)
    group = f"bench-scale-{ctx['run']}-1-1"
    ctx["produce"] = lambda: produce_one_by_one(bootstrap, records)
    started = time.time()
    run = await bench_worker.run_group(1, args, ctx, 1, procs)
    out: dict[str, Any] = {"worker_run": run, "seconds": round(time.time() - started, 1)}
    await asyncio.sleep(1.0)  # the last alerts' delivery
    topics = {
        "vigil.readings": READINGS_TOPIC,
        "changelog": f"{group}-patients-changelog",
        "vigil.alerts": ALERTS_TOPIC,
    }
    for name, topic in topics.items():
        sizes = await read_sizes(bootstrap, topic)
        if not args.bootstrap:
            on_disk = disk_bytes(tmp / "kafka", topic)
            sizes["disk_bytes"] = on_disk
            count = sizes["records"]
            sizes["disk_bytes_per_record"] = round(on_disk / count, 1) if count else None
        out[name] = sizes
    out["readings"] = args.readings
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--readings", type=int, default=4_000)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--bootstrap", help="use this Kafka cluster (no on-disk figures then)")
    parser.add_argument("--json", type=Path, metavar="FILE")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    benchlib.stop_on_signals()
    out, kafka_desc = benchlib.run_with_kafka(args, "vigil-record-sizes-", measure)
    out["kafka"] = kafka_desc
    for name in ("vigil.readings", "changelog", "vigil.alerts"):
        print(f"{name}: {out[name]}")
    print(
        f"{out['readings']:,} readings, one per record; the worker processed "
        f"{out['worker_run']['readings']:,}; {kafka_desc}"
    )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

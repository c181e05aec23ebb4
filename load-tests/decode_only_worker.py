"""A Faust worker that only decodes each `vigil.readings` record: the
framework's ceiling for bench_worker.py, not part of Vigil.

One agent (concurrency 1, like Vigil's) reads the topic, decodes each record
with `app.core.records.decode_readings`, counts its readings and forwards
nothing: no table, no model, no output topic. Whatever a worker does per
reading on top of this costs throughput; this is what Faust and Kafka alone
allow on this machine. The Faust settings that bear on consumption are
Vigil's (memory store, earliest offset, same partitions, web server on a
chosen port).

Configured by the environment (bench_worker.py sets it):
BENCH_BOOTSTRAP (host:port), BENCH_APP_ID (Faust app id = consumer group),
BENCH_TOPIC (default vigil.readings), BENCH_PARTITIONS (default 4),
BENCH_WEB_PORT (default 6067). Run by hand:

    BENCH_BOOTSTRAP=127.0.0.1:9092 BENCH_APP_ID=decode-only \\
        .venv/bin/python load-tests/decode_only_worker.py worker -l warn

GET http://127.0.0.1:$BENCH_WEB_PORT/bench answers JSON: records and readings
seen, and the wall-clock times (epoch seconds) of the first record's arrival
and of the end of the last record's processing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faust  # noqa: E402
from benchlib import comparison_app  # noqa: E402

from app.core.records import readable_frames  # noqa: E402

stats = {"records": 0, "readings": 0, "first": None, "last": None}
app, readings_topic = comparison_app("bench-decode-only", 6067, stats)
PARTITIONS = app.conf.topic_partitions


@app.agent(readings_topic, concurrency=1)
async def decode(stream: faust.StreamT[bytes]) -> None:
    async for value in stream:
        if stats["first"] is None:
            stats["first"] = time.time()
        stats["records"] += 1
        stats["readings"] += sum(len(batch.readings) for batch in readable_frames(value))
        stats["last"] = time.time()


if __name__ == "__main__":
    app.main()
